//! The endpoint core on a fake clock: what it sends, when, and what the TU
//! hears.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_sip::endpoint::{EndpointConfig, EndpointCore, Event, Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_sip::message::parse::{Framing, parse};

fn phone(transport: Transport) -> Peer {
    Peer {
        transport,
        addr: "10.0.0.1:5062".parse::<SocketAddr>().unwrap(),
    }
}

fn core() -> EndpointCore {
    let mut c = EndpointCore::new(EndpointConfig {
        branch_prefix: "z9hG4bK-test-".into(),
        ..EndpointConfig::default()
    });
    c.set_local(Transport::Udp, "10.0.0.9:5060");
    c.set_local(Transport::Tcp, "10.0.0.9:5060");
    c
}

fn invite(branch: &str) -> String {
    format!(
        "INVITE sip:1002@demo.localhost SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch={branch}\r\n\
From: <sip:1001@demo.localhost>;tag=a\r\nTo: <sip:1002@demo.localhost>\r\nCall-ID: call-1\r\n\
CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:1001@10.0.0.1:5062>\r\nContent-Length: 0\r\n\r\n"
    )
}

fn sent(c: &mut EndpointCore) -> Vec<Message> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| parse(&t.bytes, Framing::Datagram).expect("we send parseable messages"))
        .collect()
}

fn events(c: &mut EndpointCore) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn statuses(msgs: &[Message]) -> Vec<u16> {
    msgs.iter().map(Message::status).collect()
}

#[test]
fn an_invite_reaches_the_tu_once_and_gets_100_trying_when_it_is_slow() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_message(t0, invite("z9hG4bKx1").as_bytes(), phone(Transport::Udp));
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [Event::Request { request, .. }] if request.method() == "INVITE"));
    // A retransmission before any answer is absorbed.
    c.handle_message(t0, invite("z9hG4bKx1").as_bytes(), phone(Transport::Udp));
    assert!(events(&mut c).is_empty());
    assert!(sent(&mut c).is_empty());
    let at = c.poll_timeout().unwrap();
    assert_eq!(at - t0, Duration::from_millis(200));
    c.handle_timeout(at);
    assert_eq!(statuses(&sent(&mut c)), vec![100]);
}

#[test]
fn a_2xx_is_retransmitted_until_the_ack_and_the_ack_reaches_the_tu() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_message(t0, invite("z9hG4bKx2").as_bytes(), phone(Transport::Udp));
    let Some(Event::Request { key, request, .. }) = c.poll_event() else {
        panic!()
    };
    c.respond(t0, &key, response(&request, 180, "", Some("b")));
    c.respond(t0, &key, response(&request, 200, "", Some("b")));
    assert_eq!(statuses(&sent(&mut c)), vec![180, 200]);
    let mut now = t0;
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let at = c.poll_timeout().unwrap();
        gaps.push((at - now).as_millis());
        now = at;
        c.handle_timeout(now);
        assert_eq!(statuses(&sent(&mut c)), vec![200]);
    }
    assert_eq!(gaps, vec![500, 1000, 2000]);
    let ack = "ACK sip:1002@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKack\r\n\
From: <sip:1001@demo.localhost>;tag=a\r\nTo: <sip:1002@demo.localhost>;tag=b\r\nCall-ID: call-1\r\n\
CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    c.handle_message(now, ack.as_bytes(), phone(Transport::Udp));
    assert!(matches!(&events(&mut c)[..], [Event::Ack { .. }]));
    // No more 2xx after the ACK.
    now += Duration::from_secs(10);
    c.handle_timeout(now);
    assert!(sent(&mut c).is_empty());
}

#[test]
fn an_unacknowledged_2xx_gives_up_after_64_t1() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_message(t0, invite("z9hG4bKx3").as_bytes(), phone(Transport::Udp));
    let Some(Event::Request { key, request, .. }) = c.poll_event() else {
        panic!()
    };
    c.respond(t0, &key, response(&request, 200, "", Some("b")));
    while let Some(now) = c.poll_timeout() {
        c.handle_timeout(now);
        if let Some(Event::AckTimeout { call_id, cseq }) = c.poll_event() {
            assert_eq!((call_id.as_str(), cseq), ("call-1", 1));
            assert_eq!(now - t0, Duration::from_secs(32));
            return;
        }
    }
    panic!("no AckTimeout");
}

#[test]
fn cancel_gets_200_and_the_tu_answers_487_whose_ack_is_absorbed() {
    let mut c = core();
    let t0 = Instant::now();
    c.handle_message(t0, invite("z9hG4bKx4").as_bytes(), phone(Transport::Udp));
    let Some(Event::Request { key, request, .. }) = c.poll_event() else {
        panic!()
    };
    let cancel = invite("z9hG4bKx4")
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    c.handle_message(t0, cancel.as_bytes(), phone(Transport::Udp));
    let ev = events(&mut c);
    assert!(matches!(&ev[..], [Event::Cancel { invite, .. }] if *invite == key));
    let out = sent(&mut c);
    assert_eq!(statuses(&out), vec![200]);
    assert_eq!(out[0].cseq().unwrap().1, "CANCEL");
    c.respond(t0, &key, response(&request, 487, "", Some("b")));
    assert_eq!(statuses(&sent(&mut c)), vec![487]);
    let ack = invite("z9hG4bKx4")
        .replacen("INVITE sip", "ACK sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(
            "<sip:1002@demo.localhost>\r\n",
            "<sip:1002@demo.localhost>;tag=b\r\n",
        );
    c.handle_message(t0, ack.as_bytes(), phone(Transport::Udp));
    assert!(
        events(&mut c).is_empty(),
        "the non-2xx ACK stays in the transaction"
    );
    // A CANCEL for nothing gets 481.
    let stray = cancel.replace("z9hG4bKx4", "z9hG4bKnone");
    c.handle_message(t0, stray.as_bytes(), phone(Transport::Udp));
    assert_eq!(statuses(&sent(&mut c)), vec![481]);
}

#[test]
fn our_invite_is_retransmitted_over_udp_and_a_486_is_acked_for_us() {
    let mut c = core();
    let t0 = Instant::now();
    let mut req = Message::request("INVITE", "sip:1002@10.0.0.1:5062");
    req.headers.push("From", "<sip:1001@demo.localhost>;tag=me");
    req.headers.push("To", "<sip:1002@demo.localhost>");
    req.headers.push("Call-ID", "out-1");
    req.headers.push("CSeq", "7 INVITE");
    let key = c.send_request(t0, req, phone(Transport::Udp));
    let first = sent(&mut c);
    assert_eq!(first.len(), 1);
    let via = first[0].top_via().unwrap().to_string();
    assert!(
        via.starts_with("SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-test-"),
        "{via}"
    );
    c.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(sent(&mut c).len(), 1, "timer A retransmission");
    let mut busy = response(&first[0], 486, "", Some("callee"));
    busy.headers.set("Via", via);
    c.handle_message(
        t0 + Duration::from_millis(600),
        &busy.to_bytes(),
        phone(Transport::Udp),
    );
    let ev = events(&mut c);
    assert!(
        matches!(&ev[..], [Event::Response { key: k, response }] if *k == key && response.status() == 486)
    );
    let ack = sent(&mut c);
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].method(), "ACK");
    assert_eq!(ack[0].to_tag(), Some("callee"));
    assert_eq!(ack[0].cseq(), Some((7, "ACK")));
    assert_eq!(
        ack[0].branch(),
        first[0].branch(),
        "non-2xx ACK reuses the branch"
    );
}

#[test]
fn a_retransmitted_2xx_gets_the_same_ack_and_no_new_event() {
    let mut c = core();
    let t0 = Instant::now();
    let mut req = Message::request("INVITE", "sip:1002@10.0.0.1:5062");
    req.headers.push("From", "<sip:1001@demo.localhost>;tag=me");
    req.headers.push("To", "<sip:1002@demo.localhost>");
    req.headers.push("Call-ID", "out-2");
    req.headers.push("CSeq", "1 INVITE");
    c.send_request(t0, req, phone(Transport::Udp));
    let inv = sent(&mut c).remove(0);
    let ok = response(&inv, 200, "", Some("callee"));
    c.handle_message(t0, &ok.to_bytes(), phone(Transport::Udp));
    assert_eq!(events(&mut c).len(), 1);
    let mut ack = Message::request("ACK", "sip:1002@10.0.0.1:5062");
    ack.headers.push("From", "<sip:1001@demo.localhost>;tag=me");
    ack.headers
        .push("To", "<sip:1002@demo.localhost>;tag=callee");
    ack.headers.push("Call-ID", "out-2");
    ack.headers.push("CSeq", "1 ACK");
    c.send_ack(t0, ack, phone(Transport::Udp));
    let first_ack = sent(&mut c);
    c.handle_message(t0, &ok.to_bytes(), phone(Transport::Udp));
    assert!(events(&mut c).is_empty());
    assert_eq!(sent(&mut c), first_ack);
}

#[test]
fn timer_b_tells_the_tu_and_tcp_never_retransmits() {
    let mut c = core();
    let t0 = Instant::now();
    let mut req = Message::request("OPTIONS", "sip:x@10.0.0.1:5062");
    req.headers.push("From", "<sip:s@demo.localhost>;tag=me");
    req.headers.push("To", "<sip:x@demo.localhost>");
    req.headers.push("Call-ID", "o-1");
    req.headers.push("CSeq", "1 OPTIONS");
    let key = c.send_request(t0, req, phone(Transport::Tcp));
    assert_eq!(sent(&mut c).len(), 1);
    let at = c.poll_timeout().unwrap();
    assert_eq!(at - t0, Duration::from_secs(32));
    c.handle_timeout(at);
    assert!(sent(&mut c).is_empty());
    assert!(matches!(&events(&mut c)[..], [Event::Timeout { key: k }] if *k == key));
    assert_eq!(c.transactions(), 0);
}

#[test]
fn bad_requests_are_answered_statelessly_with_the_right_code() {
    let mut c = core();
    let t0 = Instant::now();
    let p = phone(Transport::Udp);
    // Missing Call-ID → 400.
    c.handle_message(
        t0,
        invite("z9hG4bKb1")
            .replace("Call-ID: call-1\r\n", "")
            .as_bytes(),
        p,
    );
    // Version 3.0 → 505.
    c.handle_message(
        t0,
        invite("z9hG4bKb2")
            .replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia")
            .as_bytes(),
        p,
    );
    // Our own branch in a Via → 482.
    let looped = invite("z9hG4bKb3").replace(
        "Max-Forwards",
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-test-1\r\nMax-Forwards",
    );
    c.handle_message(t0, looped.as_bytes(), p);
    // Over the size cap → 513.
    let big = invite("z9hG4bKb4").replace(
        "Max-Forwards",
        &format!("X-Pad: {}\r\nMax-Forwards", "a".repeat(20_000)),
    );
    c.handle_message(t0, big.as_bytes(), p);
    assert_eq!(statuses(&sent(&mut c)), vec![400, 505, 482, 513]);
    // Garbage and a broken response are dropped silently.
    c.handle_message(t0, b"\x00\x01garbage", p);
    c.handle_message(t0, b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKq\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\n\r\n", p);
    assert!(sent(&mut c).is_empty());
    let refused = events(&mut c)
        .into_iter()
        .filter(|e| matches!(e, Event::Refused { .. }))
        .count();
    assert_eq!(refused, 6);
    // Nothing was left behind.
    assert_eq!(c.transactions(), 0);
}

#[test]
fn a_sent_ack_is_forgotten_after_64_t1() {
    let mut c = core();
    let t0 = Instant::now();
    let mut req = Message::request("INVITE", "sip:1002@10.0.0.1:5062");
    req.headers.push("From", "<sip:1001@demo.localhost>;tag=me");
    req.headers.push("To", "<sip:1002@demo.localhost>");
    req.headers.push("Call-ID", "out-3");
    req.headers.push("CSeq", "1 INVITE");
    c.send_request(t0, req, phone(Transport::Udp));
    let inv = sent(&mut c).remove(0);
    let ok = response(&inv, 200, "", Some("callee"));
    c.handle_message(t0, &ok.to_bytes(), phone(Transport::Udp));
    let _ = events(&mut c);
    let mut ack = Message::request("ACK", "sip:1002@10.0.0.1:5062");
    ack.headers.push("From", "<sip:1001@demo.localhost>;tag=me");
    ack.headers
        .push("To", "<sip:1002@demo.localhost>;tag=callee");
    ack.headers.push("Call-ID", "out-3");
    ack.headers.push("CSeq", "1 ACK");
    c.send_ack(t0, ack, phone(Transport::Udp));
    let _ = sent(&mut c);
    // Drive every timer to the end: the ACK's 32 s pass.
    let mut now = t0;
    while let Some(at) = c.poll_timeout() {
        now = at;
        c.handle_timeout(now);
    }
    assert!(now - t0 >= Duration::from_secs(32));
    // A late 2xx no longer gets the old ACK: nothing knows it any more.
    c.handle_message(now, &ok.to_bytes(), phone(Transport::Udp));
    assert!(sent(&mut c).is_empty());
    assert!(matches!(&events(&mut c)[..], [Event::Refused { .. }]));
}

fn register(via_params: &str) -> String {
    format!(
        "REGISTER sip:demo.localhost SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.20:5062{via_params}\r\n\
From: <sip:1001@demo.localhost>;tag=a\r\nTo: <sip:1001@demo.localhost>\r\nCall-ID: reg-1\r\n\
CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContact: <sip:1001@192.168.1.20:5062>\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Answer the one request the TU got with `status`; what went out.
fn answer(c: &mut EndpointCore, status: u16) -> Vec<Message> {
    let t0 = Instant::now();
    let Some(Event::Request { key, request, .. }) = c.poll_event() else {
        panic!("no request reached the TU")
    };
    c.respond(t0, &key, response(&request, status, "", Some("b")));
    sent(c)
}

#[test]
fn an_empty_rport_is_filled_with_the_source_port_and_received_is_added() {
    // RFC 3581 §4: rport without a value gets the source port, and received
    // gets the source address even when the sent-by host is that address.
    for (sent_by, source) in [
        ("192.168.1.20:5062", "10.0.0.1:40123"),
        ("10.0.0.1:5062", "10.0.0.1:40123"),
    ] {
        let mut c = core();
        let req = register(";branch=z9hG4bKr1;rport").replace("192.168.1.20:5062", sent_by);
        let peer = Peer {
            transport: Transport::Udp,
            addr: source.parse().unwrap(),
        };
        c.handle_message(Instant::now(), req.as_bytes(), peer);
        let out = answer(&mut c, 200);
        let via = out[0].top_via().unwrap();
        assert_eq!(
            via,
            format!("SIP/2.0/UDP {sent_by};branch=z9hG4bKr1;rport=40123;received=10.0.0.1"),
        );
    }
    // The TU sees the stamped Via too, and so do stateless answers.
    let mut c = core();
    let bad = register(";rport;branch=z9hG4bKr2").replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE");
    c.handle_message(Instant::now(), bad.as_bytes(), phone(Transport::Udp));
    let out = sent(&mut c);
    assert_eq!(statuses(&out), vec![400]);
    assert_eq!(
        out[0].top_via(),
        Some("SIP/2.0/UDP 192.168.1.20:5062;rport=5062;branch=z9hG4bKr2;received=10.0.0.1")
    );
}

#[test]
fn received_is_added_when_the_sent_by_host_is_not_the_source() {
    // RFC 3261 §18.2.1; without rport, a matching host is left alone.
    let mut c = core();
    c.handle_message(
        Instant::now(),
        register(";branch=z9hG4bKr3").as_bytes(),
        phone(Transport::Udp),
    );
    let out = answer(&mut c, 200);
    assert_eq!(
        out[0].top_via(),
        Some("SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKr3;received=10.0.0.1")
    );
    let mut c = core();
    let req = register(";branch=z9hG4bKr4").replace("192.168.1.20", "10.0.0.1");
    c.handle_message(Instant::now(), req.as_bytes(), phone(Transport::Udp));
    let out = answer(&mut c, 200);
    assert_eq!(
        out[0].top_via(),
        Some("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKr4")
    );
    // An rport that already has a value is kept.
    let mut c = core();
    let req = register(";branch=z9hG4bKr5;rport=7;received=1.2.3.4");
    c.handle_message(Instant::now(), req.as_bytes(), phone(Transport::Udp));
    let out = answer(&mut c, 200);
    assert_eq!(
        out[0].top_via(),
        Some("SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKr5;rport=7;received=10.0.0.1")
    );
}
