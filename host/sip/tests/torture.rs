//! The message layer against the kinds of trouble RFC 4475 ("SIP Torture
//! Test Messages") describes.
//!
//! The cases — our own messages, one per RFC 4475 case, with what a
//! receiver must do — live in [`cases`] (shared with the server's wire
//! test). Three tests run them: as datagrams through `parse` and
//! `validate`, concatenated as a TCP stream through `framing::frame`, and
//! cut short or with bytes flipped to show that nothing panics.

mod cases;

use cases::{Case, Expect, cases, dblreq_parts, key_of, with_content_length};
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::build::response;
use switchyard_sip::message::framing::{Frame, frame};
use switchyard_sip::message::parse::{Framing, ParseError, parse};
use switchyard_sip::message::validate::{
    Rejection, has_own_branch, validate_request, validate_response,
};

/// Largest message the stream framer is asked to accept here.
const MAX_LEN: usize = 65_535;

// ---- The tests ----

#[test]
fn every_rfc_4475_case_gets_its_answer() {
    let cases = cases();
    assert_eq!(cases.len(), 49, "one case per RFC 4475 message");
    for Case {
        name,
        bytes,
        expect,
    } in &cases
    {
        let parsed = parse(bytes, Framing::Datagram);
        match expect {
            Expect::Valid(check) => {
                let m = parsed.unwrap_or_else(|e| panic!("{name}: does not parse: {e:?}"));
                if m.is_request() {
                    assert_eq!(validate_request(&m), Ok(()), "{name}");
                } else {
                    assert_eq!(validate_response(&m), Ok(()), "{name}");
                }
                check(&m);
            }
            Expect::Unparsable(status) => {
                let e = parsed.expect_err(name);
                assert_eq!(e.status(), Some(*status), "{name}: {e:?}");
                // Enough is kept to answer: the routing headers of a 400.
                let ParseError::Reject {
                    partial: Some(p), ..
                } = &e
                else {
                    panic!("{name}: nothing kept to answer with: {e:?}")
                };
                assert!(p.call_id().starts_with("torture-"), "{name}");
                assert!(p.top_via().is_some(), "{name}");
                let answer = response(p, *status, e.reason(), Some("t1"));
                assert_eq!(answer.status(), *status);
                assert_eq!(answer.call_id(), p.call_id());
            }
            Expect::Refused(status, headers) => {
                let m = parsed.unwrap_or_else(|e| panic!("{name}: does not parse: {e:?}"));
                assert!(m.is_request(), "{name}");
                match validate_request(&m) {
                    Err(Rejection::Respond {
                        status: got,
                        headers: extra,
                        ..
                    }) => {
                        assert_eq!(got, *status, "{name}");
                        let extra: Vec<(&str, &str)> =
                            extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
                        assert_eq!(extra, *headers, "{name}");
                    }
                    other => panic!("{name}: expected {status}, got {other:?}"),
                }
            }
            Expect::Dropped => match parsed {
                Err(ParseError::Drop(_)) => {}
                Ok(m) if !m.is_request() => {
                    assert!(validate_response(&m).is_err(), "{name} must be dropped");
                }
                other => panic!("{name}: expected a drop, got {other:?}"),
            },
        }
    }
}

/// A frame the framer must find at the front of the buffer and, for a
/// message, the datagram it must parse like.
type Expected = (Frame, Option<Vec<u8>>);

/// A case as it arrives on TCP, and the frames it must be cut into.
fn on_a_stream(c: &Case) -> (Vec<u8>, Vec<Expected>) {
    match c.name {
        // Cut at its Content-Length; the keep-alive CRLF and the glued
        // INVITE follow as frames of their own.
        "dblreq-like" => {
            let (register, invite) = dblreq_parts();
            let frames = vec![
                (Frame::Message(register.len()), Some(c.bytes.clone())),
                (Frame::KeepAlive(2), None),
                (Frame::Message(invite.len()), Some(invite)),
            ];
            (c.bytes.clone(), frames)
        }
        // The length cannot be known: the connection must be closed.
        "ncl-like" | "mcl01-like" => (c.bytes.clone(), vec![(Frame::Invalid, None)]),
        // More body announced than sent: wait for the rest.
        "clerr-like" => (c.bytes.clone(), vec![(Frame::Incomplete, None)]),
        _ => {
            let bytes = with_content_length(&c.bytes);
            let frames = vec![(Frame::Message(bytes.len()), Some(c.bytes.clone()))];
            (bytes, frames)
        }
    }
}

/// A parse result to compare, whatever the Content-Length header said
/// (the stream form of `inv2543-like` has one, its datagram not).
fn comparable(r: Result<Message, ParseError>) -> Result<Message, (Option<u16>, &'static str)> {
    r.map(|mut m| {
        m.headers.remove("Content-Length");
        m
    })
    .map_err(|e| (e.status(), e.reason()))
}

#[test]
fn a_tcp_stream_of_all_cases_is_cut_where_each_message_ends() {
    let mut stream = Vec::new();
    let mut expected: Vec<(&str, Expected)> = Vec::new();
    let mut whole_messages = Vec::new();
    let mut stoppers = Vec::new();
    for c in cases() {
        let (bytes, frames) = on_a_stream(&c);
        let framable = frames
            .iter()
            .all(|(f, _)| matches!(f, Frame::Message(_) | Frame::KeepAlive(_)));
        if framable {
            stream.extend_from_slice(&bytes);
            expected.extend(frames.iter().cloned().map(|f| (c.name, f)));
            whole_messages.push((c.name, bytes, frames[0].0));
        } else {
            stoppers.push((c.name, bytes, frames[0].0));
        }
    }
    assert_eq!(stoppers.len(), 3, "ncl, mcl01 and clerr cannot be framed");

    // Walk the stream: every frame where it belongs, and every message cut
    // from it parses as its datagram did.
    let mut pos = 0;
    for (name, (want, datagram)) in &expected {
        let got = frame(&stream[pos..], MAX_LEN);
        assert_eq!(got, *want, "{name} at byte {pos}");
        match got {
            Frame::Message(n) => {
                let cut = parse(&stream[pos..pos + n], Framing::Stream);
                let datagram = parse(datagram.as_ref().unwrap(), Framing::Datagram);
                assert_eq!(comparable(cut), comparable(datagram), "{name}");
                pos += n;
            }
            Frame::KeepAlive(n) => pos += n,
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(pos, stream.len(), "the whole stream was consumed");

    // No message is cut before its end, however the bytes trickle in.
    for (name, bytes, first) in &whole_messages {
        for end in 1..bytes.len() {
            let got = frame(&bytes[..end], MAX_LEN);
            assert!(
                got == Frame::Incomplete || got == *first,
                "{name} cut at {end} bytes: {got:?}"
            );
        }
    }

    // The three that cannot be framed, each after a good stream.
    for (name, bytes, want) in stoppers {
        let mut tail = stream.clone();
        let start = tail.len();
        tail.extend_from_slice(&bytes);
        assert_eq!(frame(&tail[start..], MAX_LEN), want, "{name}");
        // With a cap below the announced length the connection is closed
        // rather than left waiting.
        if want == Frame::Incomplete {
            assert_eq!(frame(&bytes, 1024), Frame::TooLarge, "{name}");
        }
    }
}

/// A tiny deterministic PRNG (xorshift64): the same flips on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Everything the endpoint does with bytes from the network, short of
/// sending: it must never panic, whatever the bytes.
fn exercise(bytes: &[u8]) {
    let _ = frame(bytes, MAX_LEN);
    let _ = frame(bytes, 64);
    match parse(bytes, Framing::Datagram) {
        Ok(m) => {
            if m.is_request() {
                let _ = validate_request(&m);
                let _ = key_of(&m);
                let _ = has_own_branch(&m, "z9hG4bK-sy-");
                let _ = SipUri::parse(m.uri()).map(|u| (u.user_decoded(), u.host_port()));
                let answer = response(&m, 400, "", Some("t"));
                let _ = parse(&answer.to_bytes(), Framing::Datagram);
            } else {
                let _ = validate_response(&m);
            }
            let _ = (m.cseq(), m.branch(), m.from_tag(), m.to_tag());
            for name in ["From", "To", "Contact", "Route", "Record-Route"] {
                for v in m.headers.values(name) {
                    if let Ok(a) = NameAddr::parse(v) {
                        let _ = a.to_string();
                        let _ = a.param("tag");
                        if let Ok(u) = a.sip_uri() {
                            let _ = (u.user_decoded(), u.host_port(), u.to_string());
                        }
                    }
                }
            }
            // What we parsed we can write out and read back.
            let again = m.to_bytes();
            assert!(
                parse(&again, Framing::Stream).is_ok(),
                "re-serialised message does not parse: {:?}",
                String::from_utf8_lossy(&again)
            );
        }
        Err(ParseError::Reject {
            status,
            reason,
            partial: Some(p),
        }) => {
            let answer = response(&p, status, reason, Some("t"));
            let _ = answer.to_bytes();
        }
        Err(_) => {}
    }
}

#[test]
fn truncated_and_corrupted_cases_never_panic() {
    // Bytes that matter to the grammar, and bytes that are not UTF-8.
    const NASTY: &[u8] = b"\r\n \t:;,<>\"\\%@/?=\x00\x7f\x80\xbf\xc3\xe2\xf0\xff";
    let mut rng = Rng(0x5157_4c4f_5455_5245);
    for c in cases() {
        for end in 0..=c.bytes.len() {
            exercise(&c.bytes[..end]);
        }
        for _ in 0..300 {
            let mut bytes = c.bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = if rng.below(2) == 0 {
                    NASTY[rng.below(NASTY.len())]
                } else {
                    rng.next() as u8
                };
            }
            // Sometimes cut it short as well.
            if rng.below(4) == 0 {
                bytes.truncate(rng.below(bytes.len() + 1));
            }
            exercise(&bytes);
        }
    }
}
