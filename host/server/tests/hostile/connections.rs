//! Slow and many peers on the SIP TCP port (issue 11, item 4): a peer that
//! drips a message a byte at a time is cut off when the whole-message
//! deadline passes, and one source address cannot take more than its cap
//! of connections while another address still gets served.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_server::{Config, start};
use switchyard_transport::TcpLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Far above any deadline here: only a server that never closes hits it.
const PATIENCE: Duration = Duration::from_secs(60);

async fn pbx(limits: TcpLimits) -> (switchyard_server::Running, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let running = start(Config {
        data_dir: tmp.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        tcp: limits,
        ..Config::default()
    })
    .await
    .expect("server starts");
    (running, tmp)
}

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:demo.localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKconn{n}\r\n\
From: <sip:probe@demo.localhost>;tag=p{n}\r\nTo: <sip:demo.localhost>\r\nCall-ID: conn-{n}\r\n\
CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A connection to `to` from the loopback address `from` (all of
/// 127/8 is loopback on Linux, so each is another source address).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{from}:0").parse().unwrap()).unwrap();
    s.connect(to).await.expect("connect")
}

/// Read until the peer closes (`true`) or `patience` passes (`false`).
async fn closed_within(conn: &mut TcpStream, patience: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(patience, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Send OPTIONS `n` and read its 200.
async fn answered(conn: &mut TcpStream, n: u32) -> bool {
    if conn.write_all(options(n).as_bytes()).await.is_err() {
        return false;
    }
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let got = tokio::time::timeout(PATIENCE, async {
        while !text.contains(&format!("conn-{n}")) {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => text.push_str(&String::from_utf8_lossy(&buf[..k])),
            }
        }
        true
    })
    .await;
    got == Ok(true) && text.starts_with("SIP/2.0 200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_dripped_byte_by_byte_is_cut_off_at_the_whole_message_deadline() {
    let deadline = Duration::from_secs(2);
    let (pbx, _dir) = pbx(TcpLimits {
        message_timeout: deadline,
        ..TcpLimits::default()
    })
    .await;
    let conn = connect_from("127.0.0.1", pbx.sip_tcp).await;
    let (mut rd, mut wr) = conn.into_split();
    let started = Instant::now();
    // One byte every 200 ms: each is well inside any per-read timeout, and
    // the message (without its last CRLF) is never finished.
    let msg = options(1);
    let drip = tokio::spawn(async move {
        let mut sent = 0;
        for b in msg.as_bytes()[..msg.len() - 2].iter() {
            if wr.write_all(&[*b]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sent
    });
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(PATIENCE, rd.read(&mut buf)).await;
    let took = started.elapsed();
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the dripping connection was not closed within {PATIENCE:?}: {closed:?}"
    );
    // Closed by the whole-message deadline, not by running out of bytes:
    // the message is far longer than the deadline's worth of drips.
    assert!(took >= deadline, "closed after {took:?}");
    drip.abort();
    let m = pbx.pbx.metrics_text();
    assert!(
        m.contains("switchyard_tcp_connections_closed_total{reason=\"message_timeout\"} 1"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_more_than_its_cap_while_others_are_served() {
    let (pbx, _dir) = pbx(TcpLimits {
        max_connections_per_ip: 8,
        ..TcpLimits::default()
    })
    .await;
    let addr = pbx.sip_tcp;
    // Eight idle connections from one address are let in (each answers
    // an OPTIONS, so each is surely accepted before the next)…
    let mut held = Vec::new();
    for n in 0..8 {
        let mut c = connect_from("127.0.0.1", addr).await;
        assert!(answered(&mut c, 100 + n).await, "connection {n}");
        held.push(c);
    }
    // …the ninth is closed at once, however long it waits.
    let mut ninth = connect_from("127.0.0.1", addr).await;
    assert!(
        closed_within(&mut ninth, PATIENCE).await,
        "the ninth connection from one address stayed open"
    );
    // Another address is served meanwhile, and the API answers.
    let mut phone = connect_from("127.0.0.2", addr).await;
    assert!(answered(&mut phone, 200).await, "another address is served");
    let m = pbx.pbx.metrics_text();
    assert!(
        m.contains("switchyard_tcp_connections_refused_total{cap=\"per_ip\"} 1"),
        "{m}"
    );
    let http = pbx.http;
    let token = pbx.operator_token.clone();
    let status = tokio::task::spawn_blocking(move || {
        ureq::get(&format!("http://{http}/metrics"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map(|r| r.status().as_u16())
    })
    .await
    .unwrap()
    .expect("the API answers");
    assert_eq!(status, 200);
    // A held connection that closes gives its place back.
    drop(held.pop());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut again = connect_from("127.0.0.1", addr).await;
        if answered(&mut again, 300).await {
            break;
        }
        // The server sees the close asynchronously; retry until it has.
        assert!(
            Instant::now() < deadline,
            "the freed place was not given back"
        );
        tokio::task::yield_now().await;
    }
    drop(held);
}
