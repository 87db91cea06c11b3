//! Digest authentication on the wire with a small raw UDP client: SHA-256
//! (which SIPp cannot do), stale nonces, Min-Expires, `Contact: *`, and a
//! brute force from one address that gets blocked — and logged — while
//! another address is still served.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_calls::CallSettings;
use switchyard_server::{Config, Running, start};
use switchyard_sip::auth::answer_challenge;
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};

/// Everything the server logs, for the assertion that a block is logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let c = Captured::default();
        let writer = c.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_env_filter("info")
            .init();
        c
    })
}

async fn server(settings: CallSettings) -> (Running, tempfile::TempDir) {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        data_dir: dir.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        calls: settings,
        ..Config::default()
    })
    .await
    .unwrap();
    (running, dir)
}

/// A phone with one UDP socket.
struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    ext: String,
    cseq: u32,
    call_id: String,
}

impl Phone {
    fn new(ip: &str, server: SocketAddr, ext: &str) -> Phone {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        Phone {
            sock,
            server,
            ext: ext.into(),
            cseq: 0,
            call_id: format!("auth-{}-{ext}", rand_suffix()),
        }
    }

    fn register(&mut self, expires: &str, contact: &str, auth: Option<String>) -> Message {
        self.cseq += 1;
        let local = self.sock.local_addr().unwrap();
        let contact = if contact.is_empty() {
            format!("<sip:{}@{local}>", self.ext)
        } else {
            contact.to_string()
        };
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let msg = format!(
            "REGISTER sip:demo.localhost SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{}-{}\r\n\
Max-Forwards: 70\r\nFrom: <sip:{ext}@demo.localhost>;tag=t{ext}\r\nTo: <sip:{ext}@demo.localhost>\r\n\
Call-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
            self.call_id,
            self.cseq,
            ext = self.ext,
            cid = self.call_id,
            cseq = self.cseq,
        );
        self.sock.send_to(msg.as_bytes(), self.server).unwrap();
        self.recv()
    }

    fn recv(&self) -> Message {
        let mut buf = [0u8; 8192];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).expect("an answer in time");
            let m = parse(&buf[..n], Framing::Datagram).unwrap();
            if m.status() >= 200 {
                return m;
            }
        }
    }

    /// REGISTER, answer the challenge whose algorithm is `alg` with
    /// `password`; the final answer.
    fn register_with(
        &mut self,
        password: &str,
        alg: &str,
        expires: &str,
        contact: &str,
    ) -> Message {
        let challenge = self.register(expires, contact, None);
        assert_eq!(challenge.status(), 401, "{challenge:?}");
        let c = challenge
            .headers
            .get_all("WWW-Authenticate")
            .find(|c| c.contains(&format!("algorithm={alg}")))
            .unwrap_or_else(|| panic!("no {alg} challenge"))
            .to_string();
        let auth =
            answer_challenge(&c, "REGISTER", "sip:demo.localhost", &self.ext, password).unwrap();
        self.register(expires, contact, Some(auth))
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn password(r: &Running, ext: &str) -> String {
    r.demo_credentials
        .iter()
        .find(|(n, _)| n == ext)
        .unwrap()
        .1
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha256_and_md5_both_register_and_contacts_are_listed() {
    let (r, _dir) = server(CallSettings::default()).await;
    let pw = password(&r, "1001");
    let addr = r.sip_udp;
    tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new("127.0.0.1", addr, "1001");
        let ok = phone.register_with(&pw, "SHA-256", "600", "<sip:1001@127.0.0.1:7001>");
        assert_eq!(ok.status(), 200);
        let ok = phone.register_with(&pw, "MD5", "600", "<sip:1001@127.0.0.1:7002>");
        assert_eq!(ok.status(), 200);
        // Both devices of the extension are bound.
        assert_eq!(ok.headers.values("Contact").len(), 2, "{ok:?}");
        // Too short: 423 with Min-Expires.
        let brief = phone.register_with(&pw, "MD5", "5", "<sip:1001@127.0.0.1:7003>");
        assert_eq!(brief.status(), 423);
        assert_eq!(brief.headers.get("Min-Expires"), Some("60"));
        // `Contact: *` with Expires 0 removes every binding.
        let gone = phone.register_with(&pw, "MD5", "0", "*");
        assert_eq!(gone.status(), 200);
        assert_eq!(gone.headers.values("Contact").len(), 0, "{gone:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_nonce_gets_a_stale_challenge() {
    let (r, _dir) = server(CallSettings {
        nonce_lifetime: Duration::from_secs(1),
        ..CallSettings::default()
    })
    .await;
    let pw = password(&r, "1002");
    let addr = r.sip_udp;
    tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new("127.0.0.1", addr, "1002");
        let challenge = phone.register("600", "", None);
        let c = challenge
            .headers
            .get("WWW-Authenticate")
            .unwrap()
            .to_string();
        std::thread::sleep(Duration::from_millis(2100));
        let auth = answer_challenge(&c, "REGISTER", "sip:demo.localhost", "1002", &pw).unwrap();
        let again = phone.register("600", "", Some(auth));
        assert_eq!(again.status(), 401);
        assert!(
            again
                .headers
                .get("WWW-Authenticate")
                .unwrap()
                .contains("stale=true"),
            "{again:?}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brute_force_from_one_address_is_blocked_and_logged_others_still_served() {
    let (r, _dir) = server(CallSettings {
        auth_failures: 3,
        auth_block: Duration::from_secs(60),
        ..CallSettings::default()
    })
    .await;
    let pw = password(&r, "1003");
    let addr = r.sip_udp;
    tokio::task::spawn_blocking(move || {
        let mut attacker = Phone::new("127.0.0.3", addr, "1003");
        for _ in 0..3 {
            let no = attacker.register_with("guess", "MD5", "600", "");
            assert_eq!(no.status(), 403);
        }
        // Even the right password is refused from that address now,
        // without a challenge.
        let blocked = attacker.register("600", "", None);
        assert_eq!(blocked.status(), 403);
        assert_eq!(
            blocked.start,
            switchyard_sip::message::StartLine::Response {
                status: 403,
                reason: "Too Many Failed Attempts".into()
            }
        );
        // Another address is served as usual.
        let mut owner = Phone::new("127.0.0.4", addr, "1003");
        assert_eq!(owner.register_with(&pw, "MD5", "600", "").status(), 200);
    })
    .await
    .unwrap();
    let text = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("address blocked") && l.contains("127.0.0.3")),
        "no block in the log:\n{text}"
    );
}
