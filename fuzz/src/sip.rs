//! SIP: the endpoint's whole receive path, and the message layer alone.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_sip::endpoint::{
    EndpointConfig, EndpointCore, Event, Peer, Transport, request_key, via_sent_by,
};
use switchyard_sip::message::addr::{NameAddr, SipUri, header_param, percent_decode};
use switchyard_sip::message::build::response;
use switchyard_sip::message::framing::{Frame, frame};
use switchyard_sip::message::parse::{Framing, ParseError, parse};
use switchyard_sip::message::validate::{has_own_branch, validate_request, validate_response};
use switchyard_sip::message::{Message, canonical_name, split_list};

/// Largest message the server accepts (its default `max_message_size`).
const MAX: usize = 16 * 1024;

/// Separates the datagrams of one UDP input, so that one input can hold a
/// request and its retransmission, CANCEL or ACK and reach transaction
/// states a single message cannot.
pub const DATAGRAM_SEPARATOR: &[u8] = b"\0\0\0\0";

/// `EndpointCore::handle_message`, as the transports drive it.
///
/// The first byte picks the transport and how the TU answers (bit 0: UDP
/// or TCP; bits 1–2: no answer, 100+180, 200, 486). A UDP input is split
/// into datagrams at [`DATAGRAM_SEPARATOR`]; a TCP input is one stream cut
/// by `frame` as the TCP reader does, an unframable rest answered with
/// `reject_unframed`. Timers then run until nothing is pending. Everything
/// the endpoint sends must parse again.
pub fn sip_endpoint(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    // Bits 0 and 3: UDP, TCP, WebSocket (one message per frame, but
    // reliable: no retransmissions) or TLS (a stream, as TCP).
    let transport = match (first & 1, first & 8) {
        (0, 0) => Transport::Udp,
        (0, _) => Transport::Ws,
        (_, 0) => Transport::Tcp,
        _ => Transport::Tls,
    };
    let answer = (first >> 1) & 3;
    let mut core = EndpointCore::new(EndpointConfig {
        branch_prefix: "z9hG4bK-fuzz-".into(),
        ..EndpointConfig::default()
    });
    core.set_local(Transport::Udp, "192.0.2.1:5060");
    core.set_local(Transport::Tcp, "192.0.2.1:5060");
    core.set_local(Transport::Tls, "192.0.2.1:5061");
    core.set_local(Transport::Ws, "192.0.2.1:8080");
    let peer = Peer {
        transport,
        addr: "198.51.100.7:5062".parse::<SocketAddr>().expect("address"),
    };
    let t0 = Instant::now();
    let mut now = t0;
    match transport {
        Transport::Udp | Transport::Ws | Transport::Wss => {
            for datagram in split(rest, DATAGRAM_SEPARATOR) {
                core.handle_message(now, datagram, peer);
                drive(&mut core, now, answer);
                now += Duration::from_millis(10);
            }
        }
        Transport::Tcp | Transport::Tls => {
            let mut buf = rest;
            loop {
                match frame(buf, MAX) {
                    Frame::KeepAlive(n) => buf = &buf[n..],
                    Frame::Message(n) => {
                        core.handle_message(now, &buf[..n], peer);
                        drive(&mut core, now, answer);
                        buf = &buf[n..];
                        now += Duration::from_millis(10);
                    }
                    Frame::Incomplete => break,
                    bad @ (Frame::TooLarge | Frame::Invalid) => {
                        let status = if bad == Frame::TooLarge { 513 } else { 400 };
                        let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
                        let head = &buf[..head_end.map_or(buf.len().min(MAX), |e| e + 4)];
                        core.reject_unframed(head, status, peer);
                        drive(&mut core, now, answer);
                        break;
                    }
                }
            }
        }
    }
    // Let every timer fire: retransmissions, Timer H, the ends of
    // transactions. Bounded, in case a timer keeps re-arming.
    for _ in 0..200 {
        let Some(at) = core.poll_timeout() else { break };
        now = now.max(at);
        core.handle_timeout(now);
        drive(&mut core, now, answer);
    }
}

fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Acts as the TU would, then checks what went out.
fn drive(core: &mut EndpointCore, now: Instant, answer: u8) {
    while let Some(ev) = core.poll_event() {
        if let Event::Request { key, request, .. } = ev {
            let statuses: &[u16] = match answer {
                0 => &[],
                1 => &[100, 180],
                2 => &[200],
                _ => &[486],
            };
            for &status in statuses {
                core.respond(now, &key, response(&request, status, "", Some("fz")));
            }
        }
    }
    while let Some(t) = core.poll_transmit() {
        if let Err(e) = parse(&t.bytes, Framing::Datagram) {
            panic!(
                "we sent a message we cannot parse ({e:?}):\n{}",
                String::from_utf8_lossy(&t.bytes)
            );
        }
    }
}

/// The message layer alone: the parser, validation, and every header
/// grammar the server reads (addresses, URIs, Via, parameters), on
/// whatever parses — and the same grammars on the raw input as text.
pub fn sip_message(data: &[u8]) {
    let _ = frame(data, MAX);
    match parse(data, Framing::Datagram) {
        Ok(m) => {
            inspect(&m);
            // What we parsed we can write, and what we write parses.
            let bytes = m.to_bytes();
            if let Err(e) = parse(&bytes, Framing::Datagram) {
                panic!(
                    "a parsed message written back does not parse ({e:?}):\n{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        Err(ParseError::Reject {
            partial: Some(m), ..
        }) => inspect(&m),
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(data);
    grammars(&text);
}

fn inspect(m: &Message) {
    if m.is_request() {
        let _ = validate_request(m);
        let _ = m.method();
        if let Ok(u) = SipUri::parse(m.uri()) {
            uri(&u);
        }
        if m.top_via().is_some() {
            let _ = request_key(m);
        }
    } else {
        let _ = validate_response(m);
        let _ = m.status();
    }
    let _ = (m.call_id(), m.cseq(), m.branch(), m.from_tag(), m.to_tag());
    let _ = has_own_branch(m, "z9hG4bK-fuzz-");
    if let Some(via) = m.top_via() {
        let _ = via_sent_by(via);
        let _ = header_param(via, "received");
        let _ = header_param(via, "rport");
    }
    for name in ["From", "To", "Contact", "Route", "Record-Route", "Refer-To"] {
        for value in m.headers.get_all(name) {
            for item in split_list(value) {
                if let Ok(na) = NameAddr::parse(item) {
                    let _ = na.to_string();
                    let _ = na.param("tag");
                    let _ = na.param("expires");
                    if let Ok(u) = na.sip_uri() {
                        uri(&u);
                    }
                }
            }
        }
    }
    for h in &m.headers.0 {
        let _ = canonical_name(&h.name);
    }
}

fn uri(u: &SipUri) {
    let _ = u.user_decoded();
    let _ = u.host_port();
    let _ = u.param("transport");
    let _ = u.param("lr");
    let _ = u.to_string();
}

fn grammars(text: &str) {
    if let Ok(u) = SipUri::parse(text) {
        uri(&u);
    }
    if let Ok(na) = NameAddr::parse(text) {
        let _ = na.to_string();
        let _ = na.sip_uri();
    }
    let _ = percent_decode(text);
    let _ = split_list(text);
    let _ = via_sent_by(text);
    let _ = header_param(text, "branch");
    let _ = canonical_name(text);
}
