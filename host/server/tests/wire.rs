//! The whole server, over real sockets, against the project's own
//! RFC 4475-style messages (issue #3): every case gets, end to end, what
//! the PBX must answer — the endpoint's 400/416/420/415/406/505, the
//! dispatcher's real answer for the valid requests, silence for the
//! responses sent to us — over UDP and TCP; nothing crashes or hangs, and
//! the server keeps serving afterwards.
//!
//! The cases are those of `host/sip/tests/torture.rs` (one table, shared).
//! Each test starts its own server: the same case sent twice to one
//! server would be a retransmission of the first (same branch and sent-by)
//! and get the first one's answer, at the first one's address.

#[path = "../../sip/tests/cases/mod.rs"]
mod cases;

use std::net::SocketAddr;
use std::time::Duration;

use cases::{Case, Expect, cases, dblreq_parts, with_content_length};
use switchyard_server::{Config, Running, start};
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_sip::message::framing::{Frame, frame};
use switchyard_sip::message::parse::{Framing, ParseError, parse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

/// How long to listen for the answers to one message (and for answers
/// that must not come). Every answer here is sent at once by the endpoint
/// or the dispatcher; 300 ms is ample even for a debug build.
const WINDOW: Duration = Duration::from_millis(300);

/// How long an answer that was acknowledged must stay quiet: past the
/// first Timer G retransmission (T1 = 500 ms after the answer).
const AFTER_ACK: Duration = Duration::from_millis(700);

/// Upper bound for answers we know are coming (read stops at the last).
const PATIENCE: Duration = Duration::from_secs(5);

/// The domain of the demo tenant.
const DEMO: &str = "demo.localhost";

// ---- A server per test ----

struct Server {
    running: Running,
    _data: tempfile::TempDir,
}

async fn server() -> Server {
    let data = tempfile::tempdir().expect("temp dir");
    let running = start(Config {
        data_dir: data.path().join("data"),
        sip_listen: "127.0.0.1:0".parse().expect("address"),
        http_listen: "127.0.0.1:0".parse().expect("address"),
        ..Default::default()
    })
    .await
    .expect("server starts");
    Server {
        running,
        _data: data,
    }
}

// ---- What the PBX must answer ----

/// A header an answer must carry.
#[derive(Debug, Clone, Copy)]
enum Header {
    Is(&'static str, &'static str),
    Contains(&'static str, &'static str),
}

/// One final answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<Header>,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
    }
}

fn with(status: u16, headers: &[Header]) -> Reply {
    Reply {
        status,
        headers: headers.to_vec(),
    }
}

/// OPTIONS to the PBX: 200 with what it can do, whatever the domain.
fn options_ok() -> Reply {
    with(
        200,
        &[
            Header::Is("Allow", switchyard_calls::ALLOW),
            Header::Is("Accept", "application/sdp"),
        ],
    )
}

/// A REGISTER: challenged in the demo domain (with any Authorization that
/// is not a Digest answer for it — regaut01), 404 in a domain the PBX does
/// not serve.
fn register_answer(demo: bool) -> Reply {
    if demo {
        with(
            401,
            &[Header::Contains(
                "WWW-Authenticate",
                "Digest realm=\"demo.localhost\"",
            )],
        )
    } else {
        reply(404)
    }
}

/// A new INVITE: the caller is authenticated first (407) in the demo
/// domain; 404 in a domain the PBX does not serve.
fn invite_answer(demo: bool) -> Reply {
    if demo {
        with(
            407,
            &[Header::Contains(
                "Proxy-Authenticate",
                "Digest realm=\"demo.localhost\"",
            )],
        )
    } else {
        reply(404)
    }
}

/// The final answers the PBX must send for `case` as one datagram (empty:
/// none at all). `demo`: the case is addressed to the demo tenant.
fn want(case: &Case, demo: bool) -> Vec<Reply> {
    match &case.expect {
        Expect::Unparsable(status) => vec![reply(*status)],
        Expect::Refused(status, headers) => {
            let headers: Vec<Header> = headers.iter().map(|&(n, v)| Header::Is(n, v)).collect();
            vec![with(*status, &headers)]
        }
        Expect::Dropped => vec![],
        Expect::Valid(_) => match case.name {
            // Responses that match nothing of ours.
            "unreason-like" | "noreason-like" | "bcast-like" => vec![],
            // zeromf: Max-Forwards 0 only stops what would be forwarded;
            // an OPTIONS to the PBX itself is answered.
            "lwsdisp-like" | "semiuri-like" | "transports-like" | "badbranch-like"
            | "zeromf-like" => vec![options_ok()],
            // An unknown method (esc02: an escaped REGISTER is not one).
            "intmeth-like" | "esc02-like" => vec![reply(501)],
            // Known, but not something the PBX does.
            "mpart01-like" => vec![with(405, &[Header::Is("Allow", switchyard_calls::ALLOW)])],
            // A To tag: a request inside a dialog the PBX does not have.
            "wsinv-like" => vec![reply(481)],
            "esc01-like" | "longreq-like" | "baddate-like" | "inv2543-like" => {
                vec![invite_answer(demo)]
            }
            // dblreq as a datagram is its REGISTER only.
            "escnull-like" | "dblreq-like" | "regbadct-like" | "regaut01-like"
            | "cparam01-like" | "cparam02-like" | "regescrt-like" => vec![register_answer(demo)],
            other => panic!("no answer decided for {other}"),
        },
    }
}

/// A request and the final answers it must get.
type Owed = (Option<Message>, Vec<Reply>);

/// The messages `case` is on a TCP connection, each with its answers.
fn on_a_stream(case: &Case) -> Vec<Owed> {
    match case.name {
        // The INVITE glued after the REGISTER is a message of its own.
        "dblreq-like" => {
            let (register, invite) = dblreq_parts();
            vec![
                (request_of(&register), vec![register_answer(false)]),
                (request_of(&invite), vec![invite_answer(false)]),
            ]
        }
        // More body announced than sent: the connection waits for the
        // rest; nothing to answer yet.
        "clerr-like" => vec![(request_of(&case.bytes), vec![])],
        _ => vec![(request_of(&case.bytes), want(case, false))],
    }
}

/// What is wrong with `got`, the answers on a connection to the messages
/// of `case`. Answers to different messages are told apart by Call-ID:
/// SIP does not order the answers of different transactions (the
/// registrar may answer dblreq's REGISTER after the call task answered
/// its INVITE).
fn stream_problems(case: &Case, owed: &[Owed], got: &[Message]) -> Vec<String> {
    if let [(sent, want)] = owed {
        return problems(case.name, sent.as_ref(), want, got);
    }
    let mut out = Vec::new();
    for (sent, want) in owed {
        let id = sent.as_ref().map_or("", |m| m.call_id());
        let mine: Vec<Message> = got.iter().filter(|m| m.call_id() == id).cloned().collect();
        out.extend(problems(case.name, sent.as_ref(), want, &mine));
    }
    let known = |m: &&Message| {
        owed.iter()
            .any(|(s, _)| s.as_ref().is_some_and(|s| s.call_id() == m.call_id()))
    };
    for m in got.iter().filter(|m| !known(m)) {
        out.push(format!("{}: answer to nothing sent: {m:?}", case.name));
    }
    out
}

/// The ACKs owed on a connection for the answers to `case`.
fn stream_acks(case: &Case, owed: &[Owed], got: &[Message]) -> Vec<Vec<u8>> {
    owed.iter()
        .flat_map(|(sent, _)| acks(&case.expect, sent.as_ref(), got))
        .collect()
}

/// How many final answers `owed` holds.
fn finals_owed(owed: &[Owed]) -> usize {
    owed.iter().map(|(_, w)| w.len()).sum()
}

/// The cases whose length cannot be known on a stream: 400, then the
/// connection is closed.
fn breaks_framing(case: &Case) -> bool {
    matches!(case.name, "ncl-like" | "mcl01-like")
}

/// The case addressed to the demo tenant. Only heads hold the old name
/// (dblreq's glued INVITE, which a datagram ignores, aside), so every
/// Content-Length stays right.
fn for_demo(case: &Case) -> Case {
    let text = String::from_utf8_lossy(&case.bytes);
    assert!(
        !text.contains(DEMO),
        "{}: already for the demo tenant",
        case.name
    );
    let bytes = replace_bytes(&case.bytes, b"switchyard.test", DEMO.as_bytes());
    Case {
        name: case.name,
        bytes,
        expect: case.expect,
    }
}

fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The request as the server reads it (None for a response or when it
/// does not parse): for its Call-ID and, for an INVITE, the ACK.
fn request_of(bytes: &[u8]) -> Option<Message> {
    match parse(bytes, Framing::Datagram) {
        Ok(m) if m.is_request() => Some(m),
        Err(ParseError::Reject {
            partial: Some(p), ..
        }) if p.is_request() => Some(*p),
        _ => None,
    }
}

/// What is wrong with the answers `got` to `sent`, given `want`. A
/// `100 Trying` may come before an INVITE's final answer (the transaction
/// sends it when the answer takes over 200 ms).
fn problems(name: &str, sent: Option<&Message>, want: &[Reply], got: &[Message]) -> Vec<String> {
    let mut out = Vec::new();
    let is_invite = sent.is_some_and(|m| m.method() == "INVITE");
    let finals: Vec<&Message> = got
        .iter()
        .filter(|m| !(is_invite && m.status() == 100))
        .collect();
    let statuses: Vec<u16> = finals.iter().map(|m| m.status()).collect();
    let wanted: Vec<u16> = want.iter().map(|r| r.status).collect();
    if statuses != wanted {
        out.push(format!("{name}: wanted {wanted:?}, got {statuses:?}"));
        return out;
    }
    for (m, r) in finals.iter().zip(want) {
        for h in &r.headers {
            let ok = match *h {
                Header::Is(n, v) => m.headers.get(n) == Some(v),
                Header::Contains(n, v) => m.headers.get_all(n).any(|x| x.contains(v)),
            };
            if !ok {
                let (Header::Is(n, _) | Header::Contains(n, _)) = *h;
                let values: Vec<&str> = m.headers.get_all(n).collect();
                out.push(format!(
                    "{name}: {} wants {h:?}, has {values:?}",
                    m.status()
                ));
            }
        }
        // An answer is for what was sent: its Call-ID, CSeq and top Via
        // (RFC 3261 §8.2.6.2), the Via as stamped on arrival (§18.2.1,
        // RFC 3581): every peer here is on 127.0.0.1 and no case names it.
        if let Some(req) = sent {
            let id = |x: &Message| {
                (
                    x.call_id().to_string(),
                    x.cseq().map(|(n, _)| n),
                    x.top_via().map(str::to_string),
                )
            };
            let stamped = |via: &str| {
                let mut v = format!("{via};received=127.0.0.1");
                if let Some(i) = v.find(";rport;") {
                    v.replace_range(i..i + 7, ";rport=PORT;");
                }
                v
            };
            let mut want_id = id(req);
            want_id.2 = want_id.2.as_deref().map(stamped);
            let mut got_id = id(m);
            if let (Some(got), Some(i)) = (
                got_id.2.as_mut(),
                want_id.2.as_deref().and_then(|w| w.find(";rport=PORT;")),
            ) {
                // The source port is the test's own; any number will do.
                let end = got[i + 7..].find(';').map_or(got.len(), |e| i + 7 + e);
                if got[i + 7..end].parse::<u16>().is_ok() {
                    got.replace_range(i + 7..end, "PORT");
                }
            }
            if got_id != want_id {
                out.push(format!("{name}: answer for {got_id:?}, wanted {want_id:?}"));
            }
        }
    }
    out
}

/// The ACK for a non-2xx final answer to an INVITE (RFC 3261 §17.1.1.3):
/// it ends the server transaction, which would otherwise resend the
/// answer for 32 s.
fn ack_for(invite: &Message, answer: &Message) -> Vec<u8> {
    let mut ack = Message::request("ACK", invite.uri());
    if let Some(via) = invite.top_via() {
        ack.headers.push("Via", via);
    }
    for name in ["From", "Call-ID"] {
        if let Some(v) = invite.headers.get(name) {
            ack.headers.push(name, v);
        }
    }
    ack.headers
        .push("To", answer.headers.get("To").unwrap_or_default());
    let n = invite.cseq().map_or(1, |c| c.0);
    ack.headers.push("CSeq", format!("{n} ACK"));
    ack.headers.push("Max-Forwards", "70");
    ack.to_bytes()
}

/// The ACKs owed for `got`: only answers from a transaction (a valid
/// INVITE) are resent until acknowledged.
fn acks(expect: &Expect, sent: Option<&Message>, got: &[Message]) -> Vec<Vec<u8>> {
    match (sent, expect) {
        (Some(invite), Expect::Valid(_)) if invite.method() == "INVITE" => got
            .iter()
            .filter(|m| m.status() >= 300 && m.call_id() == invite.call_id())
            .map(|m| ack_for(invite, m))
            .collect(),
        _ => vec![],
    }
}

// ---- UDP ----

/// Every datagram that reaches `sock` within `window`, parsed.
async fn udp_answers(sock: &UdpSocket, from: SocketAddr, window: Duration) -> Vec<Message> {
    let deadline = Instant::now() + window;
    let mut buf = vec![0u8; 65_536];
    let mut got = Vec::new();
    while let Ok(r) = timeout_at(deadline, sock.recv_from(&mut buf)).await {
        let (n, src) = r.expect("udp recv");
        assert_eq!(src, from, "an answer from somewhere else");
        got.push(parse(&buf[..n], Framing::Datagram).expect("the PBX sends what it can parse"));
    }
    got
}

/// Send `case` from a fresh socket; what is wrong with what comes back.
async fn udp_case(pbx: SocketAddr, case: Case, want: Vec<Reply>) -> Vec<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(&case.bytes, pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let sent = request_of(&case.bytes);
    let mut out = problems(case.name, sent.as_ref(), &want, &got);
    let owed = acks(&case.expect, sent.as_ref(), &got);
    for ack in &owed {
        sock.send_to(ack, pbx).await.expect("send ACK");
    }
    // The ACK ends the transaction: no retransmission of the answer when
    // Timer G (T1 = 500 ms after it) would have fired.
    if !owed.is_empty() {
        let again = udp_answers(&sock, pbx, AFTER_ACK).await;
        if !again.is_empty() {
            let statuses: Vec<u16> = again.iter().map(Message::status).collect();
            out.push(format!("{}: resent after the ACK: {statuses:?}", case.name));
        }
    }
    out
}

/// The response `case` with every Via sent-by replaced by `to`: a host
/// that acted on a response's Vias (answered it, or forwarded it as a
/// proxy would) would send to `to`.
fn vias_pointing_at(case: &Case, to: SocketAddr) -> Vec<u8> {
    let text = String::from_utf8_lossy(&case.bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let mut changed = 0;
    let lines: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            let Some(value) = line.strip_prefix("Via: ") else {
                return line.to_string();
            };
            // `SIP/2.0/UDP host;params`: keep the protocol and params.
            let (protocol, rest) = value.split_once(' ').expect("Via: protocol sent-by");
            let params = rest.find(';').map_or("", |i| &rest[i..]);
            changed += 1;
            format!("Via: {protocol} {to}{params}")
        })
        .collect();
    assert!(changed > 0, "{}: no Via to point elsewhere", case.name);
    format!("{}\r\n\r\n{body}", lines.join("\r\n")).into_bytes()
}

/// The answers to every case over UDP, all cases at once (each from its
/// own socket), then the server still serves.
async fn every_case_over_udp(demo: bool) {
    let server = server().await;
    let pbx = server.running.sip_udp;
    let mut tasks = JoinSet::new();
    for case in cases() {
        let case = if demo { for_demo(&case) } else { case };
        let want = want(&case, demo);
        tasks.spawn(udp_case(pbx, case, want));
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        failures.extend(r.expect("a case task panicked"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_over_udp_gets_its_answer() {
    every_case_over_udp(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_for_the_demo_tenant_over_udp_gets_its_answer() {
    every_case_over_udp(true).await;
}

/// RFC 4475 bcast (and every other response case): a response that
/// matches nothing of ours is dropped — no answer to us, and nothing sent
/// to any address its Vias name.
#[tokio::test(flavor = "multi_thread")]
async fn responses_are_never_sent_on_to_their_vias() {
    let server = server().await;
    let pbx = server.running.sip_udp;
    // The witness listens on UDP and TCP at one address.
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let witness = tcp.local_addr().expect("addr");
    let udp = UdpSocket::bind(witness).await.expect("bind the same port");
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let responses: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.bytes.starts_with(b"SIP/2.0 "))
        .collect();
    let names: Vec<&str> = responses.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "unreason-like",
            "noreason-like",
            "scalarlg-like",
            "bigcode-like",
            "bcast-like"
        ]
    );
    for case in &responses {
        sock.send_to(&case.bytes, pbx).await.expect("send");
        sock.send_to(&vias_pointing_at(case, witness), pbx)
            .await
            .expect("send");
    }
    let mut buf = [0u8; 2048];
    let to_witness = async {
        tokio::select! {
            r = udp.recv_from(&mut buf) => format!("UDP from {:?}", r.map(|(_, a)| a)),
            r = tcp.accept() => format!("TCP from {:?}", r.map(|(_, a)| a)),
        }
    };
    if let Ok(what) = timeout(WINDOW, to_witness).await {
        panic!("the PBX sent something to a Via address: {what}");
    }
    let got = udp_answers(&sock, pbx, Duration::ZERO).await;
    assert!(got.is_empty(), "responses were answered: {got:?}");
    still_serving(&server).await;
}

// ---- TCP ----

/// A client connection, with what it received but has not yet cut into
/// messages.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    async fn open(pbx: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(pbx).await.expect("connect"),
            buf: Vec::new(),
            closed: false,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Messages until `deadline`, end of stream, or `enough` says so.
    async fn read_until(
        &mut self,
        deadline: Instant,
        enough: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let mut got = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            loop {
                match frame(&self.buf, 1 << 20) {
                    Frame::Message(n) => {
                        let m = parse(&self.buf[..n], Framing::Stream)
                            .expect("the PBX sends what it can parse");
                        self.buf.drain(..n);
                        got.push(m);
                    }
                    Frame::KeepAlive(n) => {
                        self.buf.drain(..n);
                    }
                    Frame::Incomplete => break,
                    other => panic!("the PBX sent something unframable: {other:?}"),
                }
            }
            if self.closed || enough(&got) {
                return got;
            }
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return got,
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Everything within `window`.
    async fn read_for(&mut self, window: Duration) -> Vec<Message> {
        self.read_until(Instant::now() + window, |_| false).await
    }

    /// `count` final answers (100 Trying not counted), plus anything that
    /// came with them.
    async fn finals(&mut self, count: usize) -> Vec<Message> {
        self.read_until(Instant::now() + PATIENCE, |got| {
            got.iter().filter(|m| m.status() >= 200).count() >= count
        })
        .await
    }

    /// An OPTIONS on this connection gets its 200: the connection works.
    async fn still_works(&mut self, tag: &str) -> Result<(), String> {
        let options = options_to_demo(&format!("alive-{tag}"), 0);
        self.send(&options).await;
        let got = self.finals(1).await;
        match got.as_slice() {
            [m] if m.status() == 200 && m.call_id() == format!("wire-alive-{tag}") => Ok(()),
            other => Err(format!("{tag}: after it an OPTIONS got {other:?}")),
        }
    }
}

/// One connection for `case`: its answers, ACKs for them, then either the
/// connection is closed (framing impossible) or it still works.
async fn tcp_case(pbx: SocketAddr, case: Case) -> Vec<String> {
    let owed = on_a_stream(&case);
    let mut conn = Conn::open(pbx).await;
    conn.send(&with_content_length(&case.bytes)).await;
    let got = if breaks_framing(&case) {
        conn.read_until(Instant::now() + PATIENCE, |_| false).await
    } else {
        conn.read_for(WINDOW).await
    };
    let mut out = stream_problems(&case, &owed, &got);
    for ack in stream_acks(&case, &owed, &got) {
        conn.send(&ack).await;
    }
    if breaks_framing(&case) {
        if !conn.closed {
            out.push(format!("{}: the connection stayed open", case.name));
        }
    } else if conn.closed {
        out.push(format!("{}: the connection was closed", case.name));
    } else if case.name != "clerr-like" {
        // clerr: the PBX is still reading its announced body; anything
        // sent now is that body.
        out.extend(conn.still_works(case.name).await.err());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_over_tcp_gets_its_answer() {
    let server = server().await;
    let pbx = server.running.sip_tcp;
    let mut tasks = JoinSet::new();
    for case in cases() {
        tasks.spawn(tcp_case(pbx, case));
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        failures.extend(r.expect("a case task panicked"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    still_serving(&server).await;
}

/// All cases back to back on ONE connection, each sent once the answers
/// to the one before are in: they arrive in order and the connection
/// survives every case it can frame. Then a negative Content-Length gets
/// its 400 and the connection is closed.
#[tokio::test(flavor = "multi_thread")]
async fn one_connection_takes_every_case_in_turn() {
    let server = server().await;
    let mut conn = Conn::open(server.running.sip_tcp).await;
    let mut failures = Vec::new();
    let (mut sent_cases, mut last) = (0, None);
    for case in cases() {
        if breaks_framing(&case) {
            last.get_or_insert(case);
            continue;
        }
        // It would take the next cases as its body.
        if case.name == "clerr-like" {
            continue;
        }
        let owed = on_a_stream(&case);
        conn.send(&with_content_length(&case.bytes)).await;
        let got = match finals_owed(&owed) {
            0 => conn.read_for(WINDOW).await,
            n => conn.finals(n).await,
        };
        failures.extend(stream_problems(&case, &owed, &got));
        for ack in stream_acks(&case, &owed, &got) {
            conn.send(&ack).await;
        }
        assert!(!conn.closed, "closed after {}", case.name);
        sent_cases += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(sent_cases, 46, "every case but clerr, ncl and mcl01");
    conn.still_works("after-all").await.expect("alive");

    let ncl = last.expect("ncl-like");
    assert_eq!(ncl.name, "ncl-like");
    conn.send(&ncl.bytes).await;
    let got = conn.read_until(Instant::now() + PATIENCE, |_| false).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [400]);
    assert!(conn.closed, "the connection stays open after ncl-like");
    still_serving(&server).await;
}

/// All cases in one write: the PBX cuts them apart and answers each (SIP
/// does not order answers on a connection — a TU's answer may come after
/// the endpoint's answer to the next message — so they are matched by
/// Call-ID).
#[tokio::test(flavor = "multi_thread")]
async fn one_write_of_every_case_is_cut_apart_and_answered() {
    let server = server().await;
    let mut conn = Conn::open(server.running.sip_tcp).await;
    let mut stream = Vec::new();
    let mut sent: Vec<(Case, Vec<Owed>)> = Vec::new();
    for case in cases() {
        if breaks_framing(&case) || case.name == "clerr-like" {
            continue;
        }
        stream.extend(with_content_length(&case.bytes));
        let owed = on_a_stream(&case);
        sent.push((case, owed));
    }
    conn.send(&stream).await;
    let total: usize = sent.iter().map(|(_, owed)| finals_owed(owed)).sum();
    let mut got = conn.finals(total).await;
    // And anything beyond what is owed.
    got.extend(conn.read_for(WINDOW).await);
    assert!(!conn.closed, "the connection was closed");
    let mut failures = Vec::new();
    let mut matched = 0;
    for (case, owed) in &sent {
        let ids: Vec<&str> = owed
            .iter()
            .filter_map(|(req, _)| req.as_ref().map(Message::call_id))
            .collect();
        let mine: Vec<Message> = got
            .iter()
            .filter(|m| ids.contains(&m.call_id()))
            .cloned()
            .collect();
        matched += mine.len();
        failures.extend(stream_problems(case, owed, &mine));
        for ack in stream_acks(case, owed, &mine) {
            conn.send(&ack).await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(matched, got.len(), "answers to nothing sent: {got:?}");
    conn.still_works("after-one-write").await.expect("alive");
    still_serving(&server).await;
}

// ---- After the cases ----

/// An OPTIONS to the demo domain (`Call-ID: wire-<id>`), padded with
/// `padding` bytes of an extension header.
fn options_to_demo(id: &str, padding: usize) -> Vec<u8> {
    let mut m = Message::request("OPTIONS", "sip:demo.localhost");
    m.headers.push(
        "Via",
        format!("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-wire-{id};rport"),
    );
    m.headers.push("Max-Forwards", "70");
    m.headers
        .push("From", format!("<sip:1001@{DEMO}>;tag=w{id}"));
    m.headers.push("To", format!("<sip:{DEMO}>"));
    m.headers.push("Call-ID", format!("wire-{id}"));
    m.headers.push("CSeq", "1 OPTIONS");
    if padding > 0 {
        m.headers.push("X-Padding", "p".repeat(padding));
    }
    m.to_bytes()
}

/// The server still answers over UDP and TCP, refuses a datagram over the
/// size cap with 513, and every call task has finished.
async fn still_serving(server: &Server) {
    let r = &server.running;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(&options_to_demo("udp-alive", 0), r.sip_udp)
        .await
        .expect("send");
    let got = udp_answers(&sock, r.sip_udp, WINDOW).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [200], "OPTIONS over UDP after the cases");

    let mut conn = Conn::open(r.sip_tcp).await;
    conn.still_works("tcp-alive")
        .await
        .expect("OPTIONS over TCP");

    // 16 KiB is the default cap; a datagram over it is refused whole.
    let big = options_to_demo("too-big", 17 * 1024);
    sock.send_to(&big, r.sip_udp).await.expect("send");
    let got = udp_answers(&sock, r.sip_udp, WINDOW).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [513], "a datagram over the cap");

    // No call task is left behind (each INVITE here was answered at once).
    let deadline = Instant::now() + PATIENCE;
    while r.pbx.active_calls() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(r.pbx.active_calls(), 0, "call tasks left running");
}

/// On a stream, a message announcing a body over the cap gets 513 and the
/// connection is closed (its end cannot be waited for). Only the head is
/// sent, so the PBX has read all there is when it hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_message_over_the_cap_gets_513_and_the_connection_closes() {
    let server = server().await;
    let mut conn = Conn::open(server.running.sip_tcp).await;
    let head = String::from_utf8(options_to_demo("tcp-too-big", 0)).expect("text");
    let head = head.replace("Content-Length: 0", "Content-Length: 20000");
    conn.send(head.as_bytes()).await;
    let got = conn.read_until(Instant::now() + PATIENCE, |_| false).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [513]);
    assert!(conn.closed);
    still_serving(&server).await;
}

// ---- Max-Forwards and loops ----

/// An INVITE from extension 1001 to 1002 in the demo domain.
fn invite_from_1001(call_id: &str, cseq: u32, branch: &str, local: SocketAddr) -> Message {
    let mut m = Message::request("INVITE", &format!("sip:1002@{DEMO}"));
    m.headers.push(
        "Via",
        format!("SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport"),
    );
    m.headers.push("Max-Forwards", "70");
    m.headers.push(
        "From",
        format!("\"Desk 1001\" <sip:1001@{DEMO}>;tag=mf{cseq}"),
    );
    m.headers.push("To", format!("<sip:1002@{DEMO}>"));
    m.headers.push("Call-ID", call_id);
    m.headers.push("CSeq", format!("{cseq} INVITE"));
    m.headers.push("Contact", format!("<sip:1001@{local}>"));
    m
}

/// RFC 4475 zeromf for an INVITE the PBX would forward: the caller is
/// authenticated first (the PBX learns nothing about a call, Max-Forwards
/// included, for someone it does not know), so the first answer is 407;
/// with the demo password of 1001 the same INVITE gets 483.
#[tokio::test(flavor = "multi_thread")]
async fn an_invite_with_max_forwards_0_is_challenged_then_gets_483() {
    let server = server().await;
    let pbx = server.running.sip_udp;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = sock.local_addr().expect("addr");

    let mut invite = invite_from_1001("wire-zeromf-invite", 1, "mf0a", local);
    invite.headers.set("Max-Forwards", "0");
    sock.send_to(&invite.to_bytes(), pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let challenge = got
        .iter()
        .find(|m| m.status() == 407)
        .unwrap_or_else(|| panic!("407 first: {got:?}"));
    assert!(got.iter().all(|m| [100, 407].contains(&m.status())));
    sock.send_to(&ack_for(&invite, challenge), pbx)
        .await
        .expect("ACK");

    // The same INVITE again (next CSeq, new branch) with credentials.
    let password = &server
        .running
        .demo_credentials
        .iter()
        .find(|(n, _)| n == "1001")
        .expect("1001 has a password")
        .1;
    let prompt = challenge
        .headers
        .get("Proxy-Authenticate")
        .expect("a challenge");
    let mut again = invite_from_1001("wire-zeromf-invite", 2, "mf0b", local);
    again.headers.set("Max-Forwards", "0");
    let answer =
        switchyard_sip::auth::answer_challenge(prompt, "INVITE", again.uri(), "1001", password)
            .expect("answer the challenge");
    again.headers.push("Proxy-Authorization", answer);
    sock.send_to(&again.to_bytes(), pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let finals: Vec<u16> = got
        .iter()
        .map(Message::status)
        .filter(|&s| s != 100)
        .collect();
    assert_eq!(finals, [483], "{got:?}");
    let hops = got.iter().find(|m| m.status() == 483).expect("483");
    sock.send_to(&ack_for(&again, hops), pbx)
        .await
        .expect("ACK");
    still_serving(&server).await;
}

/// A request that already went through this server (a Via with one of
/// its branches) is a loop: 482, before any TU work. The branch prefix is
/// random per process and never shown to a peer that only sends requests,
/// so the test has the stack send a request of its own to learn it, as a
/// phone ringing through the PBX would.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_carrying_one_of_our_branches_is_a_loop() {
    let server = server().await;
    let pbx = server.running.sip_udp;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = sock.local_addr().expect("addr");

    let mut probe = Message::request("OPTIONS", &format!("sip:probe@{local}"));
    probe
        .headers
        .push("From", format!("<sip:pbx@{DEMO}>;tag=probe"));
    probe.headers.push("To", format!("<sip:probe@{local}>"));
    probe.headers.push("Call-ID", "wire-probe");
    probe.headers.push("CSeq", "1 OPTIONS");
    let (_key, mut answers) = server.running.stack.send_request(
        probe,
        Peer {
            transport: Transport::Udp,
            addr: local,
        },
    );
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(PATIENCE, sock.recv_from(&mut buf))
        .await
        .expect("the probe arrives")
        .expect("recv");
    let ours = parse(&buf[..n], Framing::Datagram).expect("the probe parses");
    let branch = ours.branch().expect("a branch").to_string();
    // `z9hG4bK-sy<8 hex>-<counter>`: the prefix ends at the last dash.
    let prefix = &branch[..=branch.rfind('-').expect("prefix-counter")];
    assert!(prefix.starts_with("z9hG4bK-sy"), "{branch}");
    // Answer the probe so its transaction ends.
    sock.send_to(&response(&ours, 200, "", Some("p")).to_bytes(), pbx)
        .await
        .expect("send");
    let answered = timeout(PATIENCE, answers.recv()).await.expect("answer");
    assert!(answered.is_some());

    let mut invite = invite_from_1001("wire-loop", 1, "loop1", local);
    invite.headers.push(
        "Via",
        format!("SIP/2.0/UDP {pbx};branch={prefix}looped;rport"),
    );
    sock.send_to(&invite.to_bytes(), pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [482], "{got:?}");

    // Without that Via the same INVITE is an ordinary call: challenged.
    let invite = invite_from_1001("wire-not-a-loop", 1, "loop2", local);
    sock.send_to(&invite.to_bytes(), pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let statuses: Vec<u16> = got.iter().map(Message::status).collect();
    assert_eq!(statuses, [407], "{got:?}");
    sock.send_to(&ack_for(&invite, &got[0]), pbx)
        .await
        .expect("ACK");
    still_serving(&server).await;
}

// ---- rport (RFC 3581) ----

/// A phone behind NAT (its Via names a private address) that asks for
/// `rport` learns, from the Via of any answer, the address and port the
/// PBX sees it from: `rport=<source port>;received=<source ip>`.
#[tokio::test(flavor = "multi_thread")]
async fn a_register_with_rport_learns_its_public_address_and_port() {
    let server = server().await;
    let pbx = server.running.sip_udp;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = sock.local_addr().expect("addr").port();

    let mut m = Message::request("REGISTER", &format!("sip:{DEMO}"));
    m.headers.push(
        "Via",
        "SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bK-wire-rport;rport",
    );
    m.headers.push("Max-Forwards", "70");
    m.headers.push("From", format!("<sip:1001@{DEMO}>;tag=rp"));
    m.headers.push("To", format!("<sip:1001@{DEMO}>"));
    m.headers.push("Call-ID", "wire-rport");
    m.headers.push("CSeq", "1 REGISTER");
    m.headers.push("Contact", "<sip:1001@192.168.1.20:5062>");
    m.headers.push("Expires", "60");
    sock.send_to(&m.to_bytes(), pbx).await.expect("send");
    let got = udp_answers(&sock, pbx, WINDOW).await;
    let answer = got
        .iter()
        .find(|m| m.status() == 401)
        .unwrap_or_else(|| panic!("a 401: {got:?}"));
    assert_eq!(
        answer.top_via(),
        Some(
            format!(
                "SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bK-wire-rport;rport={port};received=127.0.0.1"
            )
            .as_str()
        ),
        "{answer:?}"
    );
}
