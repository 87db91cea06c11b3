//! Wire fuzzing with liveness checks (issue 11, items 1 and 9): thousands
//! of mutated REGISTER, INVITE and OPTIONS requests — digest credentials
//! among them, non-ASCII bytes in `Authorization` included — over UDP and
//! TCP to the running server; then it must still answer an OPTIONS with
//! 200 on both transports, let a phone register with its password, and no
//! task of the server may have panicked.
//!
//! Repeatable: the mutations come from a seeded RNG. The short form (3,000
//! messages) runs with `cargo test`; the long form is
//! `bench/fuzz wire [MESSAGES]` (50,000 by default), or set
//! `WIRE_FUZZ_MESSAGES` and `WIRE_FUZZ_SEED`.
//!
//! Panics are counted by a process-wide panic hook on the runtime's worker
//! threads (`tokio-…`, where the server's tasks run; the test's own assertions run on
//! the test thread). When the server exports a panic counter on
//! `/metrics`, it must read zero too.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

use crate::common::{Pbx, blocking, pbx};

const SHORT_FORM: usize = 3_000;
const DEFAULT_SEED: u64 = 0x5157_0011_f022_0001;
const DEMO: &str = "demo.localhost";

/// Where the attack comes from: loopback addresses other than the phone's
/// (SIPp binds 127.0.0.1), a new one every [`PER_SOURCE`] messages. The
/// failed-authentication limiter rightly blocks a source after a few wrong
/// credentials; from then on its messages stop at the limiter and would no
/// longer reach the credential parser.
fn attacker(i: usize) -> std::net::IpAddr {
    let n = i / PER_SOURCE;
    std::net::Ipv4Addr::new(127, 1, (n / 250 % 250) as u8 + 1, (n % 250) as u8 + 1).into()
}
const PER_SOURCE: usize = 16;

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let worker = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tokio-"));
            if worker {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The requests mutations start from. `{id}` becomes a fresh number per
/// message, so that no two are retransmissions of each other; `{tp}` the
/// transport.
fn seeds() -> Vec<String> {
    let auth = |scheme: &str, extra: &str| {
        format!(
            "{scheme}: Digest {extra}username=\"1001\", realm=\"{DEMO}\", nonce=\"1800000000.0123456789abcdef\", \
uri=\"sip:1002@{DEMO}\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=auth, \
nc=00000001, cnonce=\"c{{id}}\""
        )
    };
    let head = |method: &str, uri: &str, extra: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{{tp}} 127.0.0.1:5999;branch=z9hG4bK-wf{{id}};rport\r\n\
Max-Forwards: 70\r\nFrom: \"Fuzz\" <sip:1001@{DEMO}>;tag=f{{id}}\r\nTo: <sip:1002@{DEMO}>\r\n\
Call-ID: wf-{{id}}@127.0.0.1\r\nCSeq: {{id}} {method}\r\nContact: <sip:1001@127.0.0.1:5999>\r\n{extra}"
        )
    };
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
    let with_body = |h: String, body: &str| {
        format!(
            "{h}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let empty = |h: String| format!("{h}Content-Length: 0\r\n\r\n");
    vec![
        empty(head(
            "REGISTER",
            &format!("sip:{DEMO}"),
            &format!("{}\r\nExpires: 60\r\n", auth("Authorization", "")),
        )),
        empty(head(
            "REGISTER",
            &format!("sip:{DEMO}"),
            "Expires: 3600\r\n",
        )),
        with_body(
            head(
                "INVITE",
                &format!("sip:1002@{DEMO}"),
                &format!("{}\r\n", auth("Proxy-Authorization", "")),
            ),
            sdp,
        ),
        // The reproduction: one non-ASCII character in a parameter
        // name of credentials for the tenant's realm.
        with_body(
            head(
                "INVITE",
                &format!("sip:1002@{DEMO}"),
                &format!("{}\r\n", auth("Proxy-Authorization", "ab€=\"x\", ")),
            ),
            sdp,
        ),
        empty(head(
            "REGISTER",
            &format!("sip:{DEMO}"),
            &format!("{}\r\n", auth("Authorization", "ü=\"ö\", ")),
        )),
        empty(head(
            "OPTIONS",
            &format!("sip:{DEMO}"),
            "Accept: application/sdp\r\n",
        )),
        empty(head(
            "BYE",
            &format!("sip:1002@{DEMO}"),
            &format!("{}\r\n", auth("Proxy-Authorization", "")),
        )),
    ]
}

/// Bytes that matter to SIP's and digest's grammars, and non-ASCII text.
const TOKENS: &[&[u8]] = &[
    "€".as_bytes(),
    "ü".as_bytes(),
    "日本".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\0",
    b"\"",
    b",",
    b"=",
    b";",
    b":",
    b"<",
    b">",
    b"%",
    b"\\",
    b"\r\n",
    b"\r\n ",
    b"\t",
    b" ",
    b"Digest ",
    b"realm=\"demo.localhost\"",
    b"username=",
    b"nonce=\"\"",
    b"qop=auth",
    b"nc=",
    b"99999999999999999999",
    b"-1",
    b"Content-Length: 5\r\n",
];

fn mutate(rng: &mut StdRng, seeds: &[String], msg: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = msg.len();
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                msg[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=len);
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                msg.splice(i..i, t.iter().copied());
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=16).min(len - i);
                msg.drain(i..i + n);
            }
            3 if len > 0 => msg.truncate(rng.random_range(0..len)),
            4 | 5 => {
                // Non-ASCII inside the credentials, where digest_auth broke.
                if let Some(at) = find(msg, b"Digest ") {
                    let end = find(&msg[at..], b"\r\n").map_or(len, |e| at + e);
                    let i = rng.random_range(at + 7..=end.max(at + 7));
                    let t = ["€", "ü", "日", "\u{1F600}", "é\"", "ß="][rng.random_range(0..6)];
                    msg.splice(i..i, t.bytes());
                }
            }
            6 | 7 => {
                // A line (header) from another seed, or this one, repeated
                // or moved.
                let other = &seeds[rng.random_range(0..seeds.len())];
                let lines: Vec<&str> = other.split("\r\n").filter(|l| !l.is_empty()).collect();
                let line = lines[rng.random_range(0..lines.len())];
                if let Some(first) = find(msg, b"\r\n") {
                    let mut l = line.as_bytes().to_vec();
                    l.extend_from_slice(b"\r\n");
                    msg.splice(first + 2..first + 2, l);
                }
            }
            _ => {
                // Widen a number.
                if let Some(i) = msg.iter().position(|b| b.is_ascii_digit()) {
                    let skip = rng.random_range(0..len.max(1));
                    let i = msg[skip..]
                        .iter()
                        .position(u8::is_ascii_digit)
                        .map_or(i, |j| skip + j);
                    msg.splice(i..i, b"4294967296".iter().copied());
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A TCP connection whose answers are read and dropped, so the server's
/// writes never block on us.
struct Conn {
    stream: tokio::net::tcp::OwnedWriteHalf,
    sent: usize,
}

impl Conn {
    async fn open(addr: SocketAddr, from: std::net::IpAddr) -> Option<Conn> {
        let socket = TcpSocket::new_v4().ok()?;
        socket.bind(SocketAddr::new(from, 0)).ok()?;
        let stream = timeout(Duration::from_secs(2), socket.connect(addr))
            .await
            .ok()?
            .ok()?;
        let (mut read, write) = stream.into_split();
        tokio::spawn(async move {
            let mut buf = vec![0; 16 * 1024];
            while let Ok(Ok(n)) = timeout(Duration::from_secs(30), read.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
            }
        });
        Some(Conn {
            stream: write,
            sent: 0,
        })
    }
}

/// An OPTIONS to the demo domain, and whether a 200 came back within 5 s
/// (over UDP, sent again every 500 ms as a client would).
async fn options_udp(target: SocketAddr, id: &str) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let msg = options(id, "UDP");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0; 65536];
    while Instant::now() < deadline {
        sock.send_to(msg.as_bytes(), target).await.expect("send");
        let until = Instant::now() + Duration::from_millis(500);
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(until, sock.recv_from(&mut buf)).await {
            if buf[..n].starts_with(b"SIP/2.0 200") {
                return true;
            }
        }
    }
    false
}

async fn options_tcp(target: SocketAddr, id: &str) -> bool {
    let Ok(Ok(mut s)) = timeout(Duration::from_secs(5), TcpStream::connect(target)).await else {
        return false;
    };
    if s.write_all(options(id, "TCP").as_bytes()).await.is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.starts_with(b"SIP/2.0 200") {
            return true;
        }
    }
    false
}

fn options(id: &str, tp: &str) -> String {
    format!(
        "OPTIONS sip:{DEMO} SIP/2.0\r\nVia: SIP/2.0/{tp} 127.0.0.1:5998;branch=z9hG4bK-live-{id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@{DEMO}>;tag=l{id}\r\nTo: <sip:{DEMO}>\r\nCall-ID: live-{id}\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The value of every sample of a metric family whose name mentions
/// panics, when the server exports one.
async fn panic_metric(pbx: &Pbx) -> Option<f64> {
    let r = &pbx.running;
    let mut s = TcpStream::connect(r.http).await.ok()?;
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        r.http, r.operator_token
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut text = String::new();
    timeout(Duration::from_secs(5), s.read_to_string(&mut text))
        .await
        .ok()?
        .ok()?;
    let samples: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("panic"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

#[tokio::test(flavor = "multi_thread")]
async fn mutated_messages_over_udp_and_tcp_leave_the_server_serving() {
    count_server_panics();
    let total: usize = env_or("WIRE_FUZZ_MESSAGES", SHORT_FORM);
    let seed: u64 = env_or("WIRE_FUZZ_SEED", DEFAULT_SEED);
    let pbx = pbx().await;
    let (udp_addr, tcp_addr) = (pbx.running.sip_udp, pbx.running.sip_tcp);
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(seed);

    let answers = std::sync::Arc::new(AtomicUsize::new(0));
    // The current source's socket, and the task that reads its answers.
    let mut udp: Option<(std::sync::Arc<UdpSocket>, tokio::task::JoinHandle<()>)> = None;
    let mut conn: Option<Conn> = None;
    let (mut over_udp, mut over_tcp, mut connections) = (0, 0, 0);
    let started = Instant::now();
    for i in 0..total {
        let tcp = rng.random_bool(0.4);
        let template = &seeds[rng.random_range(0..seeds.len())];
        let text = template
            .replace("{id}", &i.to_string())
            .replace("{tp}", if tcp { "TCP" } else { "UDP" });
        let mut msg = text.into_bytes();
        mutate(&mut rng, &seeds, &mut msg);
        if tcp {
            // A mutated Content-Length can leave a connection waiting for
            // a body or closed by the server: a fresh connection every few
            // messages keeps the rest reaching the parser.
            if conn.as_ref().is_none_or(|c| c.sent >= 8) {
                conn = Conn::open(tcp_addr, attacker(i)).await;
                connections += 1;
            }
            if let Some(c) = conn.as_mut() {
                if c.stream.write_all(&msg).await.is_err() {
                    conn = None;
                } else {
                    c.sent += 1;
                }
            }
            over_tcp += 1;
        } else {
            if i % PER_SOURCE == 0 || udp.is_none() {
                if let Some((_, drain)) = udp.take() {
                    drain.abort();
                }
                let sock = UdpSocket::bind(SocketAddr::new(attacker(i), 0))
                    .await
                    .expect("bind");
                let sock = std::sync::Arc::new(sock);
                let (reader, answers) = (sock.clone(), answers.clone());
                let drain = tokio::spawn(async move {
                    let mut buf = vec![0; 65536];
                    while reader.recv_from(&mut buf).await.is_ok() {
                        answers.fetch_add(1, Ordering::Relaxed);
                    }
                });
                udp = Some((sock, drain));
            }
            if let Some((sock, _)) = &udp {
                let _ = sock.send_to(&msg, udp_addr).await;
            }
            over_udp += 1;
        }
        // Pace the datagrams so the socket buffer does not drop them all
        // unread: they are meant to reach the parser.
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    drop(conn);
    let sent_in = started.elapsed();
    // What is in flight is handled before the checks.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Some((_, drain)) = udp.take() {
        drain.abort();
    }

    assert!(
        options_udp(udp_addr, "udp").await,
        "no 200 to OPTIONS over UDP after the fuzz"
    );
    assert!(
        options_tcp(tcp_addr, "tcp").await,
        "no 200 to OPTIONS over TCP after the fuzz"
    );
    let phone = {
        let pbx_port = std::net::UdpSocket::bind("127.0.0.1:0").expect("port");
        pbx_port.local_addr().expect("addr").port()
    };
    // `register` asserts SIPp's success: a 401, then 200 with the password.
    let pbx = std::sync::Arc::new(pbx);
    let p = pbx.clone();
    blocking(move || p.register("1001", phone)).await;
    let metric = panic_metric(&pbx).await;

    let panics = PANICS.load(Ordering::SeqCst);
    eprintln!(
        "wire fuzz: seed {seed:#x}, {total} messages ({over_udp} UDP, {over_tcp} TCP on \
{connections} connections) in {sent_in:?}, {} UDP answers; server panics: {panics} \
panic metric: {metric:?}",
        answers.load(Ordering::Relaxed)
    );
    assert_eq!(panics, 0, "server tasks panicked");
    assert_eq!(
        metric,
        Some(0.0),
        "the server's panic counter (switchyard_task_panics) is there and zero"
    );
}
