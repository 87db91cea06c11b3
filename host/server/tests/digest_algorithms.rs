//! `serve --digest-algorithms` (and its environment variable and config
//! key): the `switchyard` binary offers exactly the digest challenges it
//! is told to, and refuses to start on a name it does not know. Debian's
//! baresip gives up on a SHA-256 challenge; with `md5` alone it registers.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};

/// The binary on free ports; killed on drop.
struct Server {
    child: Child,
    sip: SocketAddr,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(data: &std::path::Path, sip: SocketAddr, http: SocketAddr) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    c.args(["serve", "--data-dir"])
        .arg(data)
        .args(["--sip-listen", &sip.to_string()])
        .args(["--http-listen", &http.to_string()])
        // TLS and HTTPS default to fixed ports: off here, where several
        // servers run at once.
        .args(["--sip-tls-listen", "off", "--https-listen", "off"])
        .env("RUST_LOG", "warn")
        .env_remove("SWITCHYARD_DIGEST_ALGORITHMS")
        .stdout(Stdio::null());
    c
}

fn spawn(configure: impl FnOnce(&mut Command, &std::path::Path)) -> Server {
    let data = tempfile::tempdir().unwrap();
    let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let sip: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut c = command(data.path(), sip, http);
    configure(&mut c, data.path());
    let mut child = c.spawn().expect("switchyard starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(http).is_err() {
        assert!(Instant::now() < deadline, "never listened on {http}");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("switchyard exited at start: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        sip,
        _data: data,
    }
}

/// The `WWW-Authenticate` values of the 401 to an unauthenticated REGISTER
/// of demo extension 1001.
fn challenges(sip: SocketAddr) -> Vec<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = sock.local_addr().unwrap();
    // Short reads: the REGISTER is sent again until answered, as a UDP
    // client does (RFC 3261 timer E), so a host busy with other tests on
    // a loaded machine is waited for, not failed.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut m = Message::request("REGISTER", "sip:demo.localhost");
    m.headers.push(
        "Via",
        format!("SIP/2.0/UDP {local};branch=z9hG4bK-digest-1;rport"),
    );
    m.headers.push("Max-Forwards", "70");
    m.headers.push("From", "<sip:1001@demo.localhost>;tag=dg");
    m.headers.push("To", "<sip:1001@demo.localhost>");
    m.headers.push("Call-ID", "digest-algorithms-1");
    m.headers.push("CSeq", "1 REGISTER");
    m.headers.push("Contact", format!("<sip:1001@{local}>"));
    m.headers.push("Expires", "60");
    let mut buf = vec![0u8; 65_536];
    let deadline = std::time::Instant::now() + Duration::from_secs(32);
    let n = loop {
        sock.send_to(&m.to_bytes(), sip).unwrap();
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => break n,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "no answer to the REGISTER in 32 s (timer F): {e}"
            ),
        }
    };
    let answer = parse(&buf[..n], Framing::Datagram).expect("it parses");
    assert_eq!(answer.status(), 401, "{answer:?}");
    answer
        .headers
        .get_all("WWW-Authenticate")
        .map(str::to_string)
        .collect()
}

#[test]
fn md5_only_offers_exactly_one_challenge() {
    let server = spawn(|c, _| {
        c.args(["--digest-algorithms", "md5"]);
    });
    let got = challenges(server.sip);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("algorithm=MD5"), "{got:?}");
}

#[test]
fn the_environment_and_the_config_file_set_it_too() {
    let server = spawn(|c, _| {
        c.env("SWITCHYARD_DIGEST_ALGORITHMS", "sha-256");
    });
    let got = challenges(server.sip);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("algorithm=SHA-256"), "{got:?}");
    drop(server);

    let server = spawn(|c, data| {
        let file = data.join("switchyard.toml");
        std::fs::write(&file, "digest-algorithms = [\"md5\"]\n").unwrap();
        c.arg("--config").arg(file);
    });
    let got = challenges(server.sip);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("algorithm=MD5"), "{got:?}");
    drop(server);

    // The default: both, MD5 first.
    let server = spawn(|_, _| {});
    let got = challenges(server.sip);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].contains("algorithm=MD5") && got[1].contains("algorithm=SHA-256"));
}

#[test]
fn an_unknown_algorithm_stops_the_start_and_names_the_valid_ones() {
    let data = tempfile::tempdir().unwrap();
    let out = command(
        data.path(),
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .args(["--digest-algorithms", "md5,sha-512"])
    .stderr(Stdio::piped())
    .output()
    .expect("switchyard runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"sha-512\""), "{err}");
    assert!(err.contains("valid values are md5, sha-256"), "{err}");
}
