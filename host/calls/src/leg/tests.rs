//! The leg scripted from both sides on a fake clock: what the peer sends
//! is parsed from wire text, what the leg sends is read off its queues.

use super::*;
use switchyard_sip::endpoint::Transport;
use switchyard_sip::message::parse::{Framing, parse};

const CONTACT: &str = "<sip:pbx@192.0.2.1:5060>";
const H: Duration = Duration::from_secs(32);

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "192.0.2.10:5062".parse().unwrap(),
    }
}

fn msg(text: &str) -> Message {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    parse(text.as_bytes(), Framing::Datagram).expect("test message parses")
}

fn key(branch: &str, method: &str) -> TransactionKey {
    TransactionKey::for_response(branch, "192.0.2.10:5062", method)
}

/// The caller's INVITE; `extra` adds header lines.
fn caller_invite(extra: &str) -> Message {
    msg(&format!(
        "INVITE sip:1002@pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinv\n\
From: <sip:1001@pbx>;tag=caller\nTo: <sip:1002@pbx>\nCall-ID: a-leg\nCSeq: 1 INVITE\n\
Contact: <sip:1001@192.0.2.10:5062>\n{extra}Content-Type: application/sdp\n\nv=0\n"
    ))
}

/// A request from the caller inside its dialog (we tagged it `us`).
fn from_caller(method: &str, cseq: u32, branch: &str, body: &str) -> Message {
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\n".to_string()
    };
    msg(&format!(
        "{method} sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\n\
From: <sip:1001@pbx>;tag=caller\nTo: <sip:1002@pbx>;tag=us\nCall-ID: a-leg\nCSeq: {cseq} {method}\n\
Contact: <sip:1001@192.0.2.10:5062>\n{ct}\n{body}"
    ))
}

/// The caller's leg, not answered yet.
fn caller_leg(extra: &str) -> Leg {
    Leg::incoming(
        key("z9hG4bKinv", "INVITE"),
        caller_invite(extra),
        peer(),
        CONTACT.into(),
        "us".into(),
        H,
    )
}

/// The first 200 the leg sent.
fn ok_of(outs: &[Out]) -> &Message {
    outs.iter()
        .find_map(|o| match &o.transmit {
            Transmit::Respond { msg, .. } if msg.status() == 200 => Some(msg),
            _ => None,
        })
        .expect("a 200")
}

fn answered_caller(now: Instant) -> Leg {
    let mut leg = caller_leg("");
    leg.answer(now, Some(b"v=0 ours\r\n".to_vec()));
    drain(&mut leg);
    leg.handle_ack();
    leg
}

/// Our INVITE to an agent's phone.
fn our_invite() -> Message {
    msg(
        "INVITE sip:1002@192.0.2.20:5064 SIP/2.0\nFrom: <sip:1001@pbx>;tag=ours\n\
To: <sip:1002@pbx>\nCall-ID: b-leg\nCSeq: 1 INVITE\nContact: <sip:pbx@192.0.2.1>\n\
Content-Type: application/sdp\n\nv=0 offer\n",
    )
}

/// The agent's answer to our request with CSeq `cseq`.
fn agent_response(status: u16, cseq: &str, to_tag: &str, body: &str) -> Message {
    msg(&format!(
        "SIP/2.0 {status} X\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKb\nFrom: <sip:1001@pbx>;tag=ours\n\
To: <sip:1002@pbx>;tag={to_tag}\nCall-ID: b-leg\nCSeq: {cseq}\nContact: <sip:1002@192.0.2.20:5064>\n\n{body}"
    ))
}

fn dialing() -> (Leg, ReqId) {
    let mut leg = Leg::outgoing(our_invite(), peer(), CONTACT.into());
    let out = leg.poll_transmit().expect("the INVITE goes out");
    let Transmit::Request { id, msg, .. } = out.transmit else {
        panic!("not a request: {out:?}")
    };
    assert_eq!(msg.method(), "INVITE");
    (leg, id)
}

fn answered_agent(now: Instant) -> Leg {
    let (mut leg, id) = dialing();
    leg.handle_response(
        now,
        id,
        agent_response(200, "1 INVITE", "agent", "v=0 a\r\n"),
    );
    drain(&mut leg);
    while leg.poll_event().is_some() {}
    leg
}

fn drain(leg: &mut Leg) -> Vec<Out> {
    std::iter::from_fn(|| leg.poll_transmit()).collect()
}

fn events(leg: &mut Leg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

fn responses(outs: &[Out]) -> Vec<(u16, bool)> {
    outs.iter()
        .filter_map(|o| match &o.transmit {
            Transmit::Respond { msg, .. } => Some((msg.status(), o.ends_call)),
            _ => None,
        })
        .collect()
}

fn requests(outs: &[Out]) -> Vec<(ReqId, Message)> {
    outs.iter()
        .filter_map(|o| match &o.transmit {
            Transmit::Request { id, msg, .. } => Some((*id, msg.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_callers_answer_carries_contact_allow_and_our_sdp() {
    let now = Instant::now();
    let mut leg = caller_leg("");
    leg.progress(180, None);
    leg.answer(now, Some(b"v=0 ours\r\n".to_vec()));
    let outs = drain(&mut leg);
    assert_eq!(responses(&outs), vec![(180, false), (200, false)]);
    let Transmit::Respond { msg: ok, .. } = &outs[1].transmit else {
        unreachable!()
    };
    assert_eq!(ok.to_tag(), Some("us"));
    assert_eq!(ok.headers.get("Contact"), Some(CONTACT));
    assert!(ok.headers.get("Allow").unwrap().contains("REFER"));
    assert_eq!(ok.body, b"v=0 ours\r\n");
    assert!(leg.is_confirmed());
    // A second answer is not sent.
    leg.answer(now, None);
    assert!(drain(&mut leg).is_empty());
}

#[test]
fn a_caller_that_never_acks_is_hung_up_at_timer_h() {
    let now = Instant::now();
    let mut leg = caller_leg("");
    leg.answer(now, None);
    drain(&mut leg);
    assert_eq!(leg.poll_timeout(), Some(now + H));
    leg.handle_timeout(now + H - Duration::from_millis(1));
    assert!(drain(&mut leg).is_empty());
    leg.handle_timeout(now + H);
    let outs = drain(&mut leg);
    let reqs = requests(&outs);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1.method(), "BYE");
    assert!(outs[0].ends_call, "the BYE waits for the call record");
    assert_eq!(events(&mut leg), vec![LegEvent::AckTimeout]);
    leg.handle_response(
        now + H,
        reqs[0].0,
        agent_response(200, "1 BYE", "caller", ""),
    );
    assert_eq!(events(&mut leg), vec![LegEvent::Closed]);
    assert!(leg.is_done());
}

#[test]
fn the_ack_stops_timer_h() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    assert_eq!(leg.poll_timeout(), None);
    leg.handle_timeout(now + H * 2);
    assert!(drain(&mut leg).is_empty());
}

#[test]
fn a_cancelled_caller_gets_487_which_waits_for_the_record() {
    let mut leg = caller_leg("");
    leg.progress(180, None);
    leg.handle_cancel();
    let outs = drain(&mut leg);
    assert_eq!(responses(&outs), vec![(180, false), (487, true)]);
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Cancelled, LegEvent::Closed]
    );
    // A CANCEL after the answer changes nothing (RFC 3261 §9.2).
    let mut up = answered_caller(Instant::now());
    up.handle_cancel();
    assert!(drain(&mut up).is_empty() && up.is_confirmed());
}

#[test]
fn a_dialled_party_rings_then_answers_and_is_acked() {
    let now = Instant::now();
    let (mut leg, id) = dialing();
    leg.handle_response(now, id, agent_response(100, "1 INVITE", "", ""));
    leg.handle_response(now, id, agent_response(180, "1 INVITE", "agent", ""));
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Progress {
            status: 180,
            sdp: None
        }]
    );
    leg.handle_response(
        now,
        id,
        agent_response(200, "1 INVITE", "agent", "v=0 a\r\n"),
    );
    let outs = drain(&mut leg);
    let Transmit::Ack { msg: ack, .. } = &outs[0].transmit else {
        panic!("an ACK: {outs:?}")
    };
    assert_eq!(ack.uri(), "sip:1002@192.0.2.20:5064");
    assert_eq!(ack.cseq(), Some((1, "ACK")));
    assert_eq!(ack.to_tag(), Some("agent"));
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Answered {
            sdp: Some(b"v=0 a\r\n".to_vec())
        }]
    );
    // The 2xx again (our ACK was lost): ACKed again, nothing else.
    leg.handle_response(
        now,
        id,
        agent_response(200, "1 INVITE", "agent", "v=0 a\r\n"),
    );
    let outs = drain(&mut leg);
    assert_eq!(outs.len(), 1);
    assert!(matches!(outs[0].transmit, Transmit::Ack { .. }));
    assert!(events(&mut leg).is_empty());
}

#[test]
fn a_busy_party_fails_with_its_status() {
    let (mut leg, id) = dialing();
    leg.handle_response(
        Instant::now(),
        id,
        agent_response(486, "1 INVITE", "agent", ""),
    );
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Failed { status: 486 }, LegEvent::Closed]
    );
}

#[test]
fn a_party_that_never_answers_fails_408() {
    let (mut leg, id) = dialing();
    leg.handle_request_timeout(id);
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Failed { status: 408 }, LegEvent::Closed]
    );
}

#[test]
fn hanging_up_a_ringing_party_cancels_it() {
    let (mut leg, id) = dialing();
    leg.hang_up("");
    let outs = drain(&mut leg);
    assert_eq!(outs[0].transmit, Transmit::Cancel { id });
    leg.hang_up("");
    assert!(drain(&mut leg).is_empty(), "one CANCEL");
    leg.handle_response(
        Instant::now(),
        id,
        agent_response(487, "1 INVITE", "agent", ""),
    );
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Failed { status: 487 }, LegEvent::Closed]
    );
}

#[test]
fn an_answer_that_crosses_our_cancel_is_acked_and_hung_up() {
    // Two agents pick up at once: the one we cancelled answers anyway.
    let now = Instant::now();
    let (mut leg, id) = dialing();
    leg.hang_up("");
    drain(&mut leg);
    leg.handle_response(now, id, agent_response(200, "1 INVITE", "agent", "v=0\r\n"));
    let outs = drain(&mut leg);
    assert!(matches!(outs[0].transmit, Transmit::Ack { .. }));
    let reqs = requests(&outs);
    assert_eq!(reqs[0].1.method(), "BYE");
    assert_eq!(reqs[0].1.to_tag(), Some("agent"));
    assert_eq!(events(&mut leg), vec![LegEvent::Failed { status: 487 }]);
    leg.handle_response(now, reqs[0].0, agent_response(200, "2 BYE", "agent", ""));
    assert_eq!(events(&mut leg), vec![LegEvent::Closed]);
}

#[test]
fn a_challenge_is_answered_by_a_retry_with_credentials() {
    let now = Instant::now();
    let (mut leg, id) = dialing();
    leg.handle_response(now, id, agent_response(407, "1 INVITE", "carrier", ""));
    let ev = events(&mut leg);
    assert!(matches!(ev[..], [LegEvent::Challenged { .. }]), "{ev:?}");
    let mut again = our_invite();
    again.headers.set("CSeq", "2 INVITE");
    again.headers.push("Proxy-Authorization", "Digest x");
    leg.retry(again);
    let reqs = requests(&drain(&mut leg));
    assert_eq!(reqs[0].1.cseq(), Some((2, "INVITE")));
    // The first transaction's late answers no longer count.
    leg.handle_response(now, id, agent_response(200, "1 INVITE", "carrier", ""));
    assert!(events(&mut leg).is_empty());
    leg.handle_response(
        now,
        reqs[0].0,
        agent_response(200, "2 INVITE", "carrier", ""),
    );
    let outs = drain(&mut leg);
    let Transmit::Ack { msg: ack, .. } = &outs[0].transmit else {
        panic!("{outs:?}")
    };
    assert_eq!(ack.cseq(), Some((2, "ACK")));
}

#[test]
fn the_callers_bye_is_answered_200_held_for_the_record() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    leg.handle_request(
        now,
        key("z9hG4bKbye", "BYE"),
        from_caller("BYE", 2, "z9hG4bKbye", ""),
    );
    assert_eq!(responses(&drain(&mut leg)), vec![(200, true)]);
    assert_eq!(events(&mut leg), vec![LegEvent::HungUp, LegEvent::Closed]);
    // Anything later in the dialog: 481.
    leg.handle_request(
        now,
        key("z9hG4bKi", "INFO"),
        from_caller("INFO", 3, "z9hG4bKi", ""),
    );
    assert_eq!(responses(&drain(&mut leg)), vec![(481, false)]);
}

#[test]
fn only_requests_of_the_legs_dialog_are_its_own() {
    let leg = answered_caller(Instant::now());
    assert!(leg.owns(&from_caller("BYE", 2, "z9hG4bK1", "")));
    let mut other_tag = from_caller("BYE", 2, "z9hG4bK1", "");
    other_tag
        .headers
        .set("To", "<sip:1002@pbx>;tag=someone-else");
    assert!(!leg.owns(&other_tag));
    let mut other_call = from_caller("BYE", 2, "z9hG4bK1", "");
    other_call.headers.set("Call-ID", "another");
    assert!(!leg.owns(&other_call));
}

#[test]
fn an_out_of_order_cseq_gets_500() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    leg.handle_request(
        now,
        key("z9hG4bK1", "INFO"),
        from_caller("INFO", 5, "z9hG4bK1", ""),
    );
    leg.handle_request(
        now,
        key("z9hG4bK2", "INFO"),
        from_caller("INFO", 4, "z9hG4bK2", ""),
    );
    assert_eq!(
        responses(&drain(&mut leg)),
        vec![(200, false), (500, false)]
    );
}

#[test]
fn hold_is_an_offer_the_session_answers() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    leg.handle_request(
        now,
        key("z9hG4bKhold", "INVITE"),
        from_caller("INVITE", 2, "z9hG4bKhold", "v=0 sendonly\r\n"),
    );
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Offer {
            method: OfferMethod::Invite,
            sdp: b"v=0 sendonly\r\n".to_vec()
        }]
    );
    assert!(
        drain(&mut leg).is_empty(),
        "nothing until the session answers"
    );
    // A second offer meanwhile: 500 with Retry-After (RFC 3261 §14.2).
    leg.handle_request(
        now,
        key("z9hG4bKx", "UPDATE"),
        from_caller("UPDATE", 3, "z9hG4bKx", "v=0 x\r\n"),
    );
    let outs = drain(&mut leg);
    assert_eq!(responses(&outs), vec![(500, false)]);
    leg.answer_offer(now, Some(b"v=0 recvonly\r\n".to_vec()));
    let outs = drain(&mut leg);
    assert_eq!(responses(&outs), vec![(200, false)]);
    let ok = ok_of(&outs);
    assert_eq!(ok.body, b"v=0 recvonly\r\n");
    assert_eq!(ok.cseq(), Some((2, "INVITE")));
}

#[test]
fn a_dialled_party_answered_on_a_reinvite_has_timer_h_to_ack() {
    // The agent (a leg we dialled) puts the caller on hold; our 200 to
    // its re-INVITE waits Timer H for the ACK like any 2xx of ours.
    let now = Instant::now();
    let mut leg = answered_agent(now);
    let mut hold = msg(
        "INVITE sip:pbx@192.0.2.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch=z9hG4bKah\n\
From: <sip:1002@pbx>;tag=agent\nTo: <sip:1001@pbx>;tag=ours\nCall-ID: b-leg\nCSeq: 7 INVITE\n\
Contact: <sip:1002@192.0.2.20:5064>\nContent-Type: application/sdp\n\nv=0 sendonly\n",
    );
    hold.headers.set("Max-Forwards", "70");
    leg.handle_request(now, key("z9hG4bKah", "INVITE"), hold);
    assert!(matches!(&events(&mut leg)[..], [LegEvent::Offer { .. }]));
    leg.answer_offer(now, Some(b"v=0 recvonly\r\n".to_vec()));
    assert_eq!(responses(&drain(&mut leg)), vec![(200, false)]);
    let soon = now + Duration::from_secs(1);
    leg.handle_timeout(soon);
    assert!(
        events(&mut leg).is_empty(),
        "no ACK after 1 s is no reason to end"
    );
    assert!(drain(&mut leg).is_empty());
    leg.handle_timeout(now + H);
    assert_eq!(events(&mut leg), vec![LegEvent::AckTimeout]);
}

#[test]
fn a_bye_while_their_offer_is_open_ends_the_offer_487() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    leg.handle_request(
        now,
        key("z9hG4bKhold", "INVITE"),
        from_caller("INVITE", 2, "z9hG4bKhold", "v=0 sendonly\r\n"),
    );
    events(&mut leg);
    leg.handle_request(
        now,
        key("z9hG4bKbye", "BYE"),
        from_caller("BYE", 3, "z9hG4bKbye", ""),
    );
    assert_eq!(responses(&drain(&mut leg)), vec![(487, false), (200, true)]);
    assert_eq!(events(&mut leg), vec![LegEvent::HungUp, LegEvent::Closed]);
    // The session answering late changes nothing.
    leg.answer_offer(now, Some(b"v=0\r\n".to_vec()));
    assert!(drain(&mut leg).is_empty());
}

#[test]
fn a_bye_crossing_our_reinvite_ends_the_leg() {
    let now = Instant::now();
    let mut leg = answered_agent(now);
    leg.offer(b"v=0 hold\r\n".to_vec());
    let reqs = requests(&drain(&mut leg));
    assert_eq!(reqs[0].1.method(), "INVITE");
    assert_eq!(reqs[0].1.cseq(), Some((2, "INVITE")));
    let bye = msg(
        "BYE sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch=z9hG4bKab\n\
From: <sip:1002@pbx>;tag=agent\nTo: <sip:1001@pbx>;tag=ours\nCall-ID: b-leg\nCSeq: 7 BYE\n\n",
    );
    assert!(leg.owns(&bye));
    leg.handle_request(now, key("z9hG4bKab", "BYE"), bye);
    assert_eq!(responses(&drain(&mut leg)), vec![(200, true)]);
    assert_eq!(events(&mut leg), vec![LegEvent::HungUp, LegEvent::Closed]);
    // The re-INVITE's own answer (481) after that is ignored.
    leg.handle_response(now, reqs[0].0, agent_response(481, "2 INVITE", "agent", ""));
    assert!(events(&mut leg).is_empty() && drain(&mut leg).is_empty());
}

#[test]
fn glare_is_491_and_our_offer_is_retried_after_the_owner_wait() {
    let now = Instant::now();
    let mut leg = answered_agent(now);
    leg.offer(b"v=0 hold\r\n".to_vec());
    let ours = requests(&drain(&mut leg));
    // Theirs crosses ours: 491.
    let theirs = msg(
        "INVITE sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch=z9hG4bKg\n\
From: <sip:1002@pbx>;tag=agent\nTo: <sip:1001@pbx>;tag=ours\nCall-ID: b-leg\nCSeq: 7 INVITE\n\
Content-Type: application/sdp\n\nv=0 theirs\n",
    );
    leg.handle_request(now, key("z9hG4bKg", "INVITE"), theirs);
    assert_eq!(responses(&drain(&mut leg)), vec![(491, false)]);
    assert!(events(&mut leg).is_empty());
    // Ours is refused 491 too: we own the Call-ID, so we wait 2.1–4 s.
    leg.handle_response(now, ours[0].0, agent_response(491, "2 INVITE", "agent", ""));
    let at = leg.poll_timeout().expect("a retry is scheduled");
    assert!(at >= now + Duration::from_millis(2100) && at <= now + Duration::from_secs(4));
    leg.handle_timeout(at - Duration::from_millis(1));
    assert!(drain(&mut leg).is_empty());
    leg.handle_timeout(at);
    let again = requests(&drain(&mut leg));
    assert_eq!(again[0].1.cseq(), Some((3, "INVITE")));
    assert_eq!(again[0].1.body, b"v=0 hold\r\n");
    leg.handle_response(
        at,
        again[0].0,
        agent_response(200, "3 INVITE", "agent", "v=0 held\r\n"),
    );
    let outs = drain(&mut leg);
    let Transmit::Ack { msg: ack, .. } = &outs[0].transmit else {
        panic!("{outs:?}")
    };
    assert_eq!(ack.cseq(), Some((3, "ACK")));
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::OfferAnswered {
            sdp: Some(b"v=0 held\r\n".to_vec())
        }]
    );
}

#[test]
fn the_callee_side_of_glare_waits_under_two_seconds() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    leg.offer(b"v=0 hold\r\n".to_vec());
    let ours = requests(&drain(&mut leg));
    leg.handle_response(
        now,
        ours[0].0,
        agent_response(491, "1 INVITE", "caller", ""),
    );
    let at = leg.poll_timeout().expect("a retry");
    assert!(at <= now + Duration::from_secs(2));
}

#[test]
fn an_offer_made_while_one_is_open_goes_out_when_it_closes() {
    let now = Instant::now();
    let mut leg = answered_agent(now);
    leg.offer(b"v=0 one\r\n".to_vec());
    let first = requests(&drain(&mut leg));
    leg.offer(b"v=0 two\r\n".to_vec());
    leg.offer(b"v=0 three\r\n".to_vec());
    assert!(drain(&mut leg).is_empty());
    leg.handle_response(
        now,
        first[0].0,
        agent_response(200, "2 INVITE", "agent", "v=0\r\n"),
    );
    let outs = drain(&mut leg);
    let reqs = requests(&outs);
    assert_eq!(reqs.len(), 1, "only the newest: {outs:?}");
    assert_eq!(reqs[0].1.body, b"v=0 three\r\n");
}

#[test]
fn a_reinvite_that_is_never_answered_ends_the_dialog() {
    let now = Instant::now();
    let mut leg = answered_agent(now);
    leg.offer(b"v=0 hold\r\n".to_vec());
    let ours = requests(&drain(&mut leg));
    leg.handle_request_timeout(ours[0].0);
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::OfferFailed { status: 408 }]
    );
    let reqs = requests(&drain(&mut leg));
    assert_eq!(reqs[0].1.method(), "BYE");
}

#[test]
fn refer_is_accepted_and_progress_is_notified_as_it_happens() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    let mut refer = from_caller("REFER", 2, "z9hG4bKr", "");
    refer.headers.push("Refer-To", "<sip:1003@pbx>");
    leg.handle_request(now, key("z9hG4bKr", "REFER"), refer);
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Refer {
            target: "1003".into(),
            replaces: None,
        }]
    );
    leg.accept_refer();
    let outs = drain(&mut leg);
    assert_eq!(responses(&outs), vec![(202, false)]);
    let notify = &requests(&outs)[0].1;
    assert_eq!(notify.method(), "NOTIFY");
    assert_eq!(notify.body, b"SIP/2.0 100 Trying\r\n");
    assert!(
        notify
            .headers
            .get("Subscription-State")
            .unwrap()
            .starts_with("active")
    );
    leg.notify_refer("SIP/2.0 200 OK", true);
    let notify = &requests(&drain(&mut leg))[0].1;
    assert_eq!(notify.body, b"SIP/2.0 200 OK\r\n");
    assert!(
        notify
            .headers
            .get("Subscription-State")
            .unwrap()
            .starts_with("terminated")
    );
    // The subscription is over: no more NOTIFYs.
    leg.notify_refer("SIP/2.0 486 Busy Here", true);
    assert!(drain(&mut leg).is_empty());
}

#[test]
fn a_refer_without_a_user_is_400() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    let mut refer = from_caller("REFER", 2, "z9hG4bKr", "");
    refer.headers.push("Refer-To", "<sip:pbx>");
    leg.handle_request(now, key("z9hG4bKr", "REFER"), refer);
    assert_eq!(responses(&drain(&mut leg)), vec![(400, false)]);
    assert!(events(&mut leg).is_empty());
}

#[test]
fn info_digits_are_reported() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    let mut info = from_caller("INFO", 2, "z9hG4bKi", "");
    info.headers.push("Content-Type", "application/dtmf-relay");
    info.body = b"Signal=5\r\nDuration=160\r\n".to_vec();
    leg.handle_request(now, key("z9hG4bKi", "INFO"), info);
    assert_eq!(responses(&drain(&mut leg)), vec![(200, false)]);
    assert_eq!(events(&mut leg), vec![LegEvent::Digit('5')]);
}

#[test]
fn a_session_timer_the_caller_asked_for_is_granted_and_enforced() {
    let now = Instant::now();
    let mut leg = caller_leg("Supported: timer\nSession-Expires: 120\n");
    leg.answer(now, None);
    let outs = drain(&mut leg);
    let ok = ok_of(&outs);
    assert_eq!(ok.headers.get("Session-Expires"), Some("120;refresher=uac"));
    assert_eq!(ok.headers.get("Require"), Some("timer"));
    leg.handle_ack();
    // A refresh (UPDATE without SDP) at 100 s is answered by the leg.
    let t = now + Duration::from_secs(100);
    leg.handle_request(
        t,
        key("z9hG4bKu", "UPDATE"),
        from_caller("UPDATE", 2, "z9hG4bKu", ""),
    );
    assert_eq!(responses(&drain(&mut leg)), vec![(200, false)]);
    assert!(events(&mut leg).is_empty());
    leg.handle_timeout(now + Duration::from_secs(150));
    assert!(
        drain(&mut leg).is_empty(),
        "refreshed: not expired at 150 s"
    );
    assert_eq!(leg.poll_timeout(), Some(t + Duration::from_secs(120)));
    leg.handle_timeout(t + Duration::from_secs(120));
    assert_eq!(events(&mut leg), vec![LegEvent::SessionExpired]);
    assert_eq!(requests(&drain(&mut leg))[0].1.method(), "BYE");
}

#[test]
fn a_tiny_session_interval_is_raised_to_min_se() {
    let now = Instant::now();
    let mut leg = caller_leg("Supported: timer\nSession-Expires: 5\n");
    leg.answer(now, None);
    let outs = drain(&mut leg);
    let ok = ok_of(&outs);
    assert_eq!(ok.headers.get("Session-Expires"), Some("90;refresher=uac"));
}

#[test]
fn without_supported_timer_no_session_timer_is_run() {
    let now = Instant::now();
    let mut leg = caller_leg("Session-Expires: 120\n");
    leg.answer(now, None);
    let outs = drain(&mut leg);
    let ok = ok_of(&outs);
    assert_eq!(ok.headers.get("Session-Expires"), None);
}

#[test]
fn a_refer_with_replaces_names_the_dialog_in_either_tag_order() {
    let now = Instant::now();
    let mut leg = answered_caller(now);
    let mut refer = from_caller("REFER", 2, "z9hG4bKr", "");
    refer.headers.push(
        "Refer-To",
        "<sip:1003@pbx?Replaces=consult%40a.example%3Bto-tag%3Dhost1%3Bfrom-tag%3Dphone2>",
    );
    leg.handle_request(now, key("z9hG4bKr", "REFER"), refer);
    let named = Replaces {
        call_id: "consult@a.example".into(),
        to_tag: "host1".into(),
        from_tag: "phone2".into(),
    };
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Refer {
            target: "1003".into(),
            replaces: Some(named),
        }]
    );
    // This leg's own dialog matches its Call-ID and tags in either order.
    let d = leg.dialog.clone().unwrap();
    let mine = Replaces {
        call_id: d.call_id.clone(),
        to_tag: d.remote_tag.clone(),
        from_tag: d.local_tag.clone(),
    };
    assert!(leg.is_named_by(&mine));
    let swapped = Replaces {
        to_tag: mine.from_tag.clone(),
        from_tag: mine.to_tag.clone(),
        ..mine.clone()
    };
    assert!(leg.is_named_by(&swapped));
    let wrong = Replaces {
        to_tag: "other".into(),
        ..mine
    };
    assert!(!leg.is_named_by(&wrong));
}
