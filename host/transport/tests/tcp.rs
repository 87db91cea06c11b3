//! The TCP driver on real sockets: messages cut by Content-Length however
//! they arrive, and a peer that never finishes a message is cut off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use switchyard_sip::message::build::response;
use switchyard_transport::{Incoming, SipStack, StackConfig};

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp{n}\r\n\
From: <sip:a@b>;tag=a\r\nTo: <sip:pbx@b>\r\nCall-ID: tcp-{n}\r\nCSeq: {n} OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn answering_stack(partial: Duration) -> SipStack {
    let mut cfg = StackConfig::on("127.0.0.1:0".parse().unwrap());
    cfg.tcp_limits.message_timeout = partial;
    let (stack, mut incoming) = SipStack::bind(cfg).await.unwrap();
    let s = stack.clone();
    // A TU that answers every request 200.
    tokio::spawn(async move {
        while let Some(i) = incoming.recv().await {
            if let Incoming::Request { key, request, .. } = i {
                s.respond(&key, response(&request, 200, "", Some("t")));
            }
        }
    });
    stack
}

/// Read until `n` responses arrived (or the deadline).
fn read_responses(conn: &mut TcpStream, n: usize) -> String {
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.matches("SIP/2.0 200").count() < n && Instant::now() < deadline {
        if let Ok(k) = conn.read(&mut buf) {
            text.push_str(&String::from_utf8_lossy(&buf[..k]));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_cut_however_the_bytes_arrive() {
    let stack = answering_stack(Duration::from_secs(30)).await;
    let addr = stack.local_addr(switchyard_sip::endpoint::Transport::Tcp);
    let text = tokio::task::spawn_blocking(move || {
        let mut conn = TcpStream::connect(addr).unwrap();
        // Two messages in one write, then one split across three writes
        // with a keep-alive in front.
        conn.write_all(format!("{}{}", options(1), options(2)).as_bytes())
            .unwrap();
        let third = format!("\r\n\r\n{}", options(3));
        for part in [&third[..10], &third[10..60], &third[60..]] {
            conn.write_all(part.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
        read_responses(&mut conn, 3)
    })
    .await
    .unwrap();
    for n in 1..=3 {
        assert!(text.contains(&format!("Call-ID: tcp-{n}")), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_finishes_a_message_is_cut_off() {
    let stack = answering_stack(Duration::from_millis(300)).await;
    let addr = stack.local_addr(switchyard_sip::endpoint::Transport::Tcp);
    tokio::task::spawn_blocking(move || {
        let mut conn = TcpStream::connect(addr).unwrap();
        let msg = options(9);
        conn.write_all(&msg.as_bytes()[..40]).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        // The server closes: read returns 0 (or an error), well before 5 s.
        let r = conn.read(&mut buf);
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // A connection that finishes its message in time is served.
        let mut good = TcpStream::connect(addr).unwrap();
        good.write_all(options(10).as_bytes()).unwrap();
        assert!(read_responses(&mut good, 1).contains("tcp-10"));
    })
    .await
    .unwrap();
}
