//! The timer task on real sockets: a request sent to a silent peer is
//! retransmitted on its own schedule, also when another transaction has
//! the timer task asleep until a later deadline.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_transport::{SipStack, StackConfig};

fn options(n: u32) -> switchyard_sip::message::Message {
    let text = format!(
        "OPTIONS sip:silent@127.0.0.1 SIP/2.0\r\nFrom: <sip:pbx@b>;tag=t{n}\r\n\
To: <sip:silent@127.0.0.1>\r\nCall-ID: timers-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    parse(text.as_bytes(), Framing::Datagram).unwrap()
}

/// Wait for the next copy of a request; which one it is (its Call-ID).
fn next_copy(peer: &UdpSocket) -> (String, Instant) {
    let mut buf = [0u8; 4096];
    let n = peer.recv(&mut buf).expect("a retransmission within 10 s");
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let call_id = text
        .lines()
        .find_map(|l| l.strip_prefix("Call-ID: "))
        .unwrap()
        .to_string();
    (call_id, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_transaction_is_retransmitted_on_time_while_the_timer_sleeps_for_a_later_one() {
    let (stack, _incoming) = SipStack::bind(StackConfig::on("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let peer = Peer {
        transport: Transport::Udp,
        addr: silent.local_addr().unwrap(),
    };
    let result = tokio::task::spawn_blocking(move || {
        // A: sent, then again after T1 (0.5 s), then after 2·T1 more.
        let _a = stack.send_request(options(1), peer);
        let (id, a0) = next_copy(&silent);
        assert_eq!(id, "timers-1");
        let (id, a1) = next_copy(&silent);
        assert_eq!(id, "timers-1");
        assert!(a1 - a0 >= Duration::from_millis(400), "T1 is 500 ms");
        let (id, a2) = next_copy(&silent);
        assert_eq!(id, "timers-1");
        // Now the timer task sleeps until A's next copy, 2 s away. B, sent
        // now, must be repeated after its own 0.5 s, not at A's deadline.
        let _b = stack.send_request(options(2), peer);
        let (id, b0) = next_copy(&silent);
        assert_eq!(id, "timers-2");
        let (id, b1) = next_copy(&silent);
        (id, b1 - b0, b0 - a2)
    })
    .await
    .unwrap();
    let (id, b_gap, _) = result;
    assert_eq!(
        id, "timers-2",
        "B's retransmission comes before A's next copy"
    );
    assert!(
        b_gap < Duration::from_millis(1500),
        "B repeated after {b_gap:?}, not at A's deadline 2 s on"
    );
}
