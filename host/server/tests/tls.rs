//! SIP over TLS on the host's TLS port, with the development certificate
//! `serve` makes.
//!
//! Debian's SIPp is built without TLS, so the SIPp phones here talk TCP to
//! a real TLS client in front of them — stunnel (OpenSSL), verifying the
//! host's certificate and name — and the host sees TLS connections. A
//! phone registered over TLS is reached down its own connection (nobody
//! dials a TLS phone's Contact): a small rustls phone checks that.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::phone::{Phone, sdp};
use common::{LIMIT, blocking, pbx_configured};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_sipp::Sipp;
use switchyard_sipp::Transport::Tcp;
use switchyard_store::RegistrationRepo as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// stunnel as a TLS client: TCP on `accept`, TLS to `connect`, trusting
/// `ca` and checking the name `localhost`.
struct Stunnel {
    child: Child,
    accept: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Stunnel {
    fn start(connect: SocketAddr, ca: &Path) -> Stunnel {
        let dir = tempfile::tempdir().unwrap();
        let port = switchyard_sipp::ports::free_sip_port();
        let accept: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let conf = dir.path().join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\nsyslog = no\ndebug = 4\n\n[sip]\nclient = yes\n\
                 accept = {accept}\nconnect = {connect}\nCAfile = {}\nverifyChain = yes\n\
                 checkHost = localhost\n",
                ca.display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel runs (scripts/test installs Debian's stunnel4)");
        let deadline = Instant::now() + LIMIT;
        while std::net::TcpStream::connect(accept).is_err() {
            assert!(Instant::now() < deadline, "stunnel did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Stunnel {
            child,
            accept,
            _dir: dir,
        }
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIPp phones over TLS: one registers, one calls a UDP phone; the host
/// keeps the binding as TLS and the call is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_and_calls_over_tls() {
    let pbx = Arc::new(
        pbx_configured(None, None, |c| {
            c.sip_tls_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .await,
    );
    let tls = pbx.running.sip_tls.expect("TLS served");
    let cert = pbx.running.certificate.clone().expect("a certificate");
    let p = pbx.clone();
    let (register, caller, callee) = blocking(move || {
        let tunnel = Stunnel::start(tls, &cert.cert);
        let register = Sipp::new("register")
            .remote(tunnel.accept)
            .transport(Tcp)
            .user("1003")
            .auth("1003", &p.password("1003"))
            .timeout(LIMIT)
            .run();
        let callee = p.phone("1002", "uas_answer", &[]);
        let tunnel = Stunnel::start(tls, &cert.cert);
        let caller = Sipp::new("uac_call")
            .remote(tunnel.accept)
            .transport(Tcp)
            .user("1002")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "200")
            .timeout(LIMIT)
            .run();
        (register, caller, callee.wait())
    })
    .await;
    register.assert_ok();
    caller.assert_ok();
    callee.assert_ok();
    let bindings = pbx.running.store.bindings("demo", "1003", 0).unwrap();
    assert!(
        bindings.iter().any(|b| b.transport == "TLS"),
        "registered over TLS: {bindings:?}"
    );
    let cdrs = pbx.cdrs(1).await;
    assert_eq!(
        cdrs[0].disposition,
        switchyard_store::Disposition::Answered,
        "{cdrs:?}"
    );
}

/// A phone registered over TLS gets its calls down that connection, and
/// a client that does not trust the host's certificate gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_tls_phone_goes_down_its_connection() {
    let pbx = pbx_configured(None, None, |c| {
        c.sip_tls_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let tls = pbx.running.sip_tls.expect("TLS served");
    let cert = std::fs::read(&pbx.running.certificate.as_ref().unwrap().cert).unwrap();

    // Trusting some other certificate: the handshake fails, saying why.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let err = connect(tls, other.cert.pem().as_bytes())
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let mut phone = TlsPhone {
        stream: connect(tls, &cert).await.expect("TLS to the host"),
        buf: Vec::new(),
    };
    phone.register("1001", &pbx.password("1001")).await;

    let sip = pbx.addr();
    let password = pbx.password("1002");
    let caller = tokio::task::spawn_blocking(move || {
        let mut p = Phone::new(sip, 0x2002);
        p.call_as("1002", &password, "1001");
        p
    });
    let invite = loop {
        let m = phone.recv().await;
        if m.method() == "INVITE" {
            break m;
        }
    };
    assert!(
        invite
            .headers
            .get("Via")
            .unwrap()
            .starts_with("SIP/2.0/TLS "),
        "{:?}",
        invite.headers.get("Via")
    );
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut ok = switchyard_sip::message::build::response(&invite, 200, "", Some("tlstag"));
    ok.headers
        .push("Contact", "<sip:1001@127.0.0.1:5999;transport=tls>");
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = sdp(rtp.local_addr().unwrap().port(), "sendrecv").into_bytes();
    phone.send(&ok.to_bytes()).await;
    let ack = phone.recv().await;
    assert_eq!(ack.method(), "ACK");
    let mut caller = caller.await.unwrap();
    let hangup = tokio::task::spawn_blocking(move || caller.bye());
    let bye = phone.recv().await;
    assert_eq!(bye.method(), "BYE");
    let ok = switchyard_sip::message::build::response(&bye, 200, "", None);
    phone.send(&ok.to_bytes()).await;
    hangup.await.unwrap();
}

async fn connect(addr: SocketAddr, trusted_pem: &[u8]) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(trusted_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A phone over one TLS connection, messages framed by Content-Length.
struct TlsPhone {
    stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
}

impl TlsPhone {
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn recv(&mut self) -> Message {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            if let switchyard_sip::message::framing::Frame::Message(n) =
                switchyard_sip::message::framing::frame(&self.buf, 65_536)
            {
                let m = parse(&self.buf[..n], Framing::Stream).expect("it parses");
                self.buf.drain(..n);
                return m;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("a message in time")
                .unwrap();
            assert!(n > 0, "the host closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn register(&mut self, ext: &str, password: &str) {
        let uri = "sip:demo.localhost";
        let aor = format!("<sip:{ext}@demo.localhost>");
        let mut auth = String::new();
        for cseq in 1..=2 {
            let text = format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/TLS 10.9.9.9:5061;branch=z9hG4bKtls{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: {aor};tag=t{cseq}\r\nTo: {aor}\r\nCall-ID: tls-reg-{ext}\r\n\
                 CSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@10.9.9.9:5061;transport=tls>\r\n\
                 Expires: 300\r\n{auth}Content-Length: 0\r\n\r\n"
            );
            self.send(text.as_bytes()).await;
            let m = self.recv().await;
            match m.status() {
                200 => return,
                401 => {
                    let challenge = m.headers.get("WWW-Authenticate").unwrap();
                    let answer = switchyard_sip::auth::answer_challenge(
                        challenge, "REGISTER", uri, ext, password,
                    )
                    .unwrap();
                    auth = format!("Authorization: {answer}\r\n");
                }
                other => panic!("REGISTER over TLS got {other}"),
            }
        }
        panic!("not registered");
    }
}
