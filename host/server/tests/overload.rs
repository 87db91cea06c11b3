//! Overload control on the wire: while the host sheds, new INVITEs and
//! REGISTERs are answered 503 with `Retry-After` at once (none left to
//! time out), a quiet source still gets its share beside a flooding one,
//! and a call already in progress carries on (re-INVITE, BYE).
//!
//! How far behind a host must be before it sheds is its `--overload-lag-ms`;
//! here it is zero, so the host sheds from its first window on, exactly
//! as it does when really behind (the gate's decisions themselves are
//! tested on a fake clock in `host/calls/src/overload.rs`; the bench
//! measures it under real overload, `bench/RESULTS.md`).

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::phone::Phone;
use common::*;
use switchyard_calls::overload::OverloadConfig;
use switchyard_sip::message::parse::{Framing, parse};

/// A new request from `sock`: an unauthenticated INVITE to 1002 or a
/// REGISTER of 1003, its own Call-ID and branch (`n`).
fn new_request(sock: &UdpSocket, pbx: SocketAddr, method: &str, n: u32) -> String {
    let me = sock.local_addr().unwrap();
    let call_id = format!("ovl-{}-{n}-{}", me.port(), std::process::id());
    let (uri, to) = match method {
        "INVITE" => ("sip:1002@demo.localhost", "<sip:1002@demo.localhost>"),
        _ => ("sip:demo.localhost", "<sip:1003@demo.localhost>"),
    };
    let from = match method {
        "INVITE" => format!("<sip:1001@demo.localhost>;tag=f{n}"),
        _ => format!("<sip:1003@demo.localhost>;tag=f{n}"),
    };
    let text = format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKovl{n}x{}\r\n\
         Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\nContact: <sip:x@{me}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n",
        me.port()
    );
    sock.send_to(text.as_bytes(), pbx).unwrap();
    call_id
}

/// The final status of each Call-ID answered on `sock` within `wait`,
/// with whether a 503 carried `Retry-After: 2`.
fn finals(sock: &UdpSocket, wait: Duration, want: usize) -> HashMap<String, (u16, bool)> {
    let mut got = HashMap::new();
    let mut buf = [0u8; 8192];
    let until = Instant::now() + wait;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while got.len() < want && Instant::now() < until {
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let m = parse(&buf[..n], Framing::Datagram).expect("a response that parses");
        if m.status() >= 200 {
            let retry = m.headers.get("Retry-After") == Some("2");
            got.entry(m.call_id().to_string())
                .or_insert((m.status(), retry));
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_shedding_new_requests_get_503_and_calls_in_progress_go_on() {
    let pbx = pbx_configured(None, None, |c| {
        c.calls.overload = OverloadConfig {
            high: Duration::ZERO,
            low: Duration::ZERO,
            ..OverloadConfig::default()
        }
    })
    .await;
    let (addr, password) = (pbx.addr(), pbx.password("1001"));
    blocking(move || {
        // A call in progress: 1001 in the IVR. Its INVITEs are new
        // requests too: a phone tries again after a refusal (a new call
        // each time, as after a Retry-After).
        let mut caller = None;
        for k in 0..50 {
            let mut p = Phone::new(addr, 0x1001_0000 + k);
            match p.try_call_as("1001", &password, "700") {
                200 => {
                    caller = Some(p);
                    break;
                }
                503 => std::thread::sleep(Duration::from_millis(150)),
                other => panic!("the call got {other}"),
            }
        }
        let mut caller = caller.expect("a call gets through in its turn");

        // A flood of INVITEs from one source, one every millisecond for
        // 1.5 s; meanwhile a quiet source registers now and then.
        let flooder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let flood = flooder.try_clone().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let sender = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for n in 0..1500 {
                ids.push(new_request(&flood, addr, "INVITE", n));
                std::thread::sleep(Duration::from_millis(1));
            }
            stop.store(true, Ordering::Relaxed);
            ids
        });
        // Another address (all of 127/8 is loopback): shares are per
        // source address.
        let quiet = UdpSocket::bind("127.0.0.2:0").unwrap();
        let mut quiet_tries = Vec::new();
        std::thread::sleep(Duration::from_millis(300));
        for n in 0..5 {
            let id = new_request(&quiet, addr, "REGISTER", n);
            let got = finals(&quiet, Duration::from_secs(5), 1);
            let status = got.get(&id).map(|(s, _)| *s);
            quiet_tries.push(status);
            if status == Some(401) {
                break;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        // The call in progress is served meanwhile: hold and back.
        caller.reinvite("sendonly");
        caller.reinvite("sendrecv");
        let answered = finals(&flooder, Duration::from_secs(20), 1500);
        let sent = sender.join().unwrap();
        assert!(done.load(Ordering::Relaxed));
        caller.bye();

        assert!(
            quiet_tries.contains(&Some(401)),
            "the quiet source is challenged (served) beside the flood: {quiet_tries:?}"
        );
        let unanswered = sent.iter().filter(|id| !answered.contains_key(*id)).count();
        assert_eq!(unanswered, 0, "every new request is answered at once");
        let refused: Vec<_> = answered.values().filter(|(s, _)| *s == 503).collect();
        let challenged = answered.values().filter(|(s, _)| *s == 407).count();
        assert!(
            refused.iter().all(|(_, retry)| *retry),
            "every 503 says when to come back"
        );
        assert!(
            refused.len() > 1000,
            "most of the flood is refused: {} refused, {challenged} challenged",
            refused.len()
        );
        assert!(challenged > 0, "a few still get through, in their turn");
        assert_eq!(refused.len() + challenged, sent.len());
    })
    .await;
    let metrics = pbx.running.pbx.metrics_text();
    assert!(
        metrics.contains("switchyard_sip_overload_refused_total{method=\"INVITE\"}"),
        "{metrics}"
    );
}
