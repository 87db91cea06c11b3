//! Attended transfer on a fake clock: the keeper (the caller 1001's call
//! with agent 1002) and the donor (1002's consultation call to 1003) are
//! two sessions; the driver's hand-over between them is played by hand.

use super::*;

/// Anchored media for these tests: in the keeper the agent has put the
/// caller on hold (`holding`); a party that comes with its own endpoint (a
/// browser's, here a string) is adopted and then already sends and
/// receives, so there is nothing to offer it again; in a consultation
/// whose consulted party is a browser (`browser_leaves`), its endpoint
/// leaves with it.
#[derive(Default)]
struct Media {
    holding: bool,
    browser_leaves: bool,
    adopted: Vec<(LegId, String)>,
}

impl Negotiator for Media {
    fn answer_caller(&mut self) -> Option<Vec<u8>> {
        Anchored.answer_caller()
    }
    fn offer_to(&mut self, leg: LegId, s: &CallSnapshot) -> Option<Vec<u8>> {
        Anchored.offer_to(leg, s)
    }
    fn remote_answer(&mut self, leg: LegId, body: &[u8]) -> Result<(), u16> {
        Anchored.remote_answer(leg, body)
    }
    fn caller_answer_for(&mut self, leg: LegId) -> Option<Vec<u8>> {
        Anchored.caller_answer_for(leg)
    }
    fn reoffer(&mut self, l: LegId, o: Option<LegId>, b: &[u8]) -> Result<Renegotiation, u16> {
        Anchored.reoffer(l, o, b)
    }
    fn reanswered(&mut self, f: LegId, t: LegId, b: &[u8]) -> Result<Vec<u8>, u16> {
        Anchored.reanswered(f, t, b)
    }
    fn holds(&self, leg: LegId) -> bool {
        self.holding && !self.adopted.iter().any(|(l, _)| *l == leg)
    }
    fn anchored(&self) -> bool {
        true
    }
    fn offer_again(&mut self, leg: LegId) -> Option<Vec<u8>> {
        if self.adopted.iter().any(|(l, _)| *l == leg) {
            return None;
        }
        Anchored.offer_again(leg)
    }
    fn release(&mut self, leg: LegId) -> Option<Endpoint> {
        self.browser_leaves
            .then(|| Endpoint::new(format!("endpoint of leg {}", leg.0)))
    }
    fn adopt(&mut self, leg: LegId, endpoint: Endpoint) -> bool {
        let Some(e) = endpoint.take::<String>() else {
            return false;
        };
        self.adopted.push((leg, e));
        true
    }
}

/// Call 1: 1001 called 1002, who answered and holds 1001.
fn keeper() -> Call {
    let mut c = Call::negotiated(
        SessionConfig::default(),
        Box::new(Media {
            holding: true,
            ..Media::default()
        }),
    );
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 200);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    c
}

/// Call 2, the consultation: 1002 called 1003, who answered. 1002's
/// dialog with us: Call-ID `consult`, its tag `a2`, ours `us`.
fn consultation() -> Call {
    consultation_with(Box::new(Anchored))
}

/// [`consultation`] on media `sdp`.
fn consultation_with(sdp: Box<dyn Negotiator + Send>) -> Call {
    let invite = msg(
        "INVITE sip:1003@pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch=z9hG4bKc\n\
From: <sip:1002@pbx>;tag=a2\nTo: <sip:1003@pbx>\nCall-ID: consult\nCSeq: 1 INVITE\n\
Contact: <sip:1002@192.0.2.20:5064>\nContent-Type: application/sdp\n\nv=0 agent\n",
    );
    let mut snap = snapshot();
    snap.call_id = "consult".into();
    snap.caller.number = "1002".into();
    snap.callee.number = "1003".into();
    snap.dialled = "1003".into();
    let mut c = Call::incoming(SessionConfig::default(), sdp, invite, snap);
    c.take();
    c.decide(vec![dial(&["1003"], DialMode::Simultaneous)]);
    c.devices(&["1003"]);
    c.party_answers("1003", 200);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    c
}

fn consult_dialog() -> Replaces {
    Replaces {
        call_id: "consult".into(),
        to_tag: "us".into(),
        from_tag: "a2".into(),
    }
}

const REFER_TO: &str = "<sip:1003@pbx?Replaces=consult%3Bto-tag%3Dus%3Bfrom-tag%3Da2>";

/// The `Replace` command among `cmds`.
fn replace(cmds: &[Command]) -> Option<(LegId, Replaces, String)> {
    cmds.iter().find_map(|c| match c {
        Command::Replace {
            leg,
            replaces,
            referrer,
        } => Some((*leg, replaces.clone(), referrer.clone())),
        _ => None,
    })
}

/// Our re-INVITE on `leg` among `cmds`: its request id and message.
fn reinvite(cmds: &[Command], to: LegId) -> Option<(ReqId, Message)> {
    cmds.iter().find_map(|c| match c {
        Command::Sip {
            leg,
            out:
                Out {
                    transmit: Transmit::Request { id, msg, .. },
                    ..
                },
        } if *leg == to && msg.method() == "INVITE" => Some((*id, msg.clone())),
        _ => None,
    })
}

#[test]
fn an_attended_transfer_connects_the_held_caller_to_the_consulted_party() {
    let mut k = keeper();
    let mut d = consultation();
    let (a1, ..) = k.leg("1002");
    // 1002 refers call 1 to 1003, replacing its consultation dialog.
    k.party_refers_to("1002", REFER_TO);
    let cmds = k.take();
    assert!(sip(&cmds).contains(&(a1, "202".into())));
    assert_eq!(
        notify_bodies(&cmds),
        vec!["SIP/2.0 100 Trying\r\n".to_string()]
    );
    let (leg, named, referrer) = replace(&cmds).expect("the other call is asked");
    assert_eq!(
        (leg, &named, referrer.as_str()),
        (a1, &consult_dialog(), "1002")
    );

    // The consultation gives 1003 up and ends: 1002's leg there is hung up.
    let Ok(HandOver::Given(moved)) = d.s.hand_over(d.now, &named, &referrer) else {
        panic!("handed over")
    };
    assert_eq!(moved.label, "1003");
    assert_eq!(moved.leg.call_id(), d.leg("1003").2.call_id());
    assert!(moved.endpoint.is_none(), "a phone's endpoint stays");
    let cmds = d.take();
    let r = record(&cmds);
    assert_eq!(r.hangup_by, Some(HangupSide::Caller));
    assert!(r.legs.iter().all(|l| l.end_time > 0), "{:?}", r.legs);
    d.record_written();
    let s = sip(&d.take());
    assert!(
        s.contains(&(CALLER, "BYE".into())),
        "1002's consultation leg ends: {s:?}"
    );
    assert!(
        s.iter().all(|(l, _)| *l == CALLER),
        "1003 hears nothing from the donor: {s:?}"
    );

    // Call 1 takes 1003 in with its own media, and 1002 leaves.
    k.now += Duration::from_secs(1);
    let b = k.s.take_over(k.now, a1, *moved);
    let cmds = k.take();
    let (id, offer) = reinvite(&cmds, b).expect("1003 is re-offered our endpoint");
    assert_eq!(offer.body, b"v=0 host offer\r\n");
    assert!(
        reinvite(&cmds, CALLER).is_some(),
        "the held caller is taken off hold"
    );
    assert_eq!(notify_bodies(&cmds), vec!["SIP/2.0 200 OK\r\n".to_string()]);
    assert!(sip(&cmds).contains(&(a1, "BYE".into())));
    let m = media(&cmds);
    assert!(m.contains(&MediaCommand::Connect { a: CALLER, b }));
    assert!(
        m.contains(&MediaCommand::PauseRecording(false)),
        "the recording resumes: {m:?}"
    );
    assert!(
        !m.iter()
            .any(|x| matches!(x, MediaCommand::StartRecording { .. })),
        "same file"
    );
    assert!(cmds.contains(&Command::Live {
        state: CallState::Answered,
        agent: Some("1003".into())
    }));

    // 1003 answers the re-INVITE: it is ACKed, nothing is passed on.
    let ok = msg(&format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\nFrom: {}\nTo: {}\nCall-ID: {}\n\
CSeq: {}\nContact: <sip:1003@192.0.2.20:5064>\n\nv=0 agent\n",
        offer.headers.get("From").unwrap(),
        offer.headers.get("To").unwrap(),
        offer.call_id(),
        offer.headers.get("CSeq").unwrap(),
    ));
    k.s.handle_response(k.now, b, id, ok);
    assert_eq!(sip(&k.take()), vec![(b, "ACK".into())]);

    // 1002's own BYE after the NOTIFY ends only its leg.
    k.party_sends("1002", "BYE", 3, "");
    let cmds = k.take();
    assert!(!cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));

    // The caller and 1003 talk until the caller hangs up: the record
    // shows the transfer.
    k.caller_sends("BYE", 2, "");
    let r = record(&k.take());
    assert_eq!(r.agent.as_deref(), Some("1003"));
    assert_eq!(r.disposition, Disposition::Answered);
    let targets: Vec<&str> = r.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, vec!["1002", "1003"]);
    assert!(r.legs[1].answer_time.is_some());
}

#[test]
fn a_dialog_that_is_not_the_referrers_is_not_handed_over() {
    let mut d = consultation();
    // Somebody else (1005) names 1002's consultation.
    assert_eq!(
        d.s.hand_over(d.now, &consult_dialog(), "1005").err(),
        Some(403)
    );
    // Tags that do not match: no such dialog.
    let wrong = Replaces {
        from_tag: "guess".into(),
        ..consult_dialog()
    };
    assert_eq!(d.s.hand_over(d.now, &wrong, "1002").err(), Some(481));
    // Nothing changed: no SIP, no record, the call goes on.
    let cmds = d.take();
    assert!(sip(&cmds).is_empty(), "{cmds:?}");
    assert!(!cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));
    assert!(d.s.hand_over(d.now, &consult_dialog(), "1002").is_ok());
}

/// The consulted party is a browser: a new endpoint's offer would be
/// refused (its DTLS and ICE are its endpoint's), so the endpoint moves
/// with the dialog, the keeper adopts it and asks the browser nothing;
/// the held caller is taken off hold and bridged to it as to a phone.
#[test]
fn a_browsers_endpoint_moves_with_it_and_it_is_asked_nothing() {
    let mut k = keeper();
    let mut d = consultation_with(Box::new(Media {
        browser_leaves: true,
        ..Media::default()
    }));
    let (a1, ..) = k.leg("1002");
    let (consulted, consulted_req, consulted_invite) = d.leg("1003");
    k.party_refers_to("1002", REFER_TO);
    let (_, named, referrer) = replace(&k.take()).expect("asked");
    let Ok(HandOver::Given(moved)) = d.s.hand_over(d.now, &named, &referrer) else {
        panic!("handed over")
    };
    assert!(
        moved.endpoint.is_some(),
        "the browser's endpoint leaves too"
    );
    let cmds = d.take();
    assert!(
        media(&cmds).contains(&MediaCommand::Close { leg: consulted }),
        "whatever is left of it in the consultation is closed"
    );
    let b = k.s.take_over(k.now, a1, *moved);
    let cmds = k.take();
    assert!(
        reinvite(&cmds, b).is_none(),
        "the browser keeps its endpoint: no re-INVITE"
    );
    assert!(reinvite(&cmds, CALLER).is_some(), "the caller is off hold");
    assert!(sip(&cmds).contains(&(a1, "BYE".into())));
    assert_eq!(notify_bodies(&cmds), vec!["SIP/2.0 200 OK\r\n".to_string()]);
    assert!(media(&cmds).contains(&MediaCommand::Connect { a: CALLER, b }));
    assert!(cmds.contains(&Command::Live {
        state: CallState::Answered,
        agent: Some("1003".into())
    }));
    // 1003 hangs up from the browser (its dialog as the consultation
    // made it): the call ends with it as the agent.
    k.invites.push((b, consulted_req, consulted_invite));
    k.party_sends("1003", "BYE", 2, "");
    let r = record(&k.take());
    assert_eq!(r.agent.as_deref(), Some("1003"));
}

#[test]
fn a_refused_hand_over_is_notified_and_the_call_goes_on() {
    let mut k = keeper();
    let (a1, ..) = k.leg("1002");
    k.party_refers_to("1002", REFER_TO);
    k.take();
    k.s.handle_replace_failed(k.now, a1, 481);
    let cmds = k.take();
    assert_eq!(
        notify_bodies(&cmds),
        vec!["SIP/2.0 481 Call/Transaction Does Not Exist\r\n".to_string()]
    );
    assert!(
        !sip(&cmds).iter().any(|(_, m)| m == "BYE"),
        "nobody is hung up"
    );
    // The agent may try again later; the call is still 1001 with 1002.
    k.party_sends("1002", "BYE", 3, "");
    let r = record(&k.take());
    assert_eq!(r.agent.as_deref(), Some("1002"));
}

#[test]
fn replaces_naming_the_same_call_or_from_the_caller_is_refused() {
    let mut k = keeper();
    let (a1, _, inv) = k.leg("1002");
    // The REFER names the very dialog it came on.
    let own = format!(
        "<sip:1003@pbx?Replaces={}%3Bto-tag%3Dphone-1002%3Bfrom-tag%3D{}>",
        inv.call_id(),
        inv.from_tag().unwrap()
    );
    k.party_refers_to("1002", &own);
    let cmds = k.take();
    assert!(sip(&cmds).contains(&(a1, "400".into())), "{:?}", sip(&cmds));
    assert!(replace(&cmds).is_none());
    // Without anchored media nothing can be moved in.
    let mut p = bridged();
    let (l2, ..) = p.leg("1002");
    p.party_refers_to("1002", REFER_TO);
    let cmds = p.take();
    assert!(sip(&cmds).contains(&(l2, "501".into())));
    assert!(replace(&cmds).is_none());
}

#[test]
fn a_queue_call_transferred_ends_the_agents_queue_call_once_and_stays_the_queues() {
    let mut k = queued();
    k.take();
    let device = k.device("1002", 0);
    k.s.handle_queue_offer(k.now, "1002".into(), vec![device], Vec::new());
    k.collect();
    k.party_answers("1002", 200);
    k.take();
    let (a1, ..) = k.leg("1002");
    let mut d = consultation();
    k.party_refers_to("1002", REFER_TO);
    let (_, named, referrer) = replace(&k.take()).expect("asked");
    let Ok(HandOver::Given(moved)) = d.s.hand_over(d.now, &named, &referrer) else {
        panic!("handed over")
    };
    // The consultation was no queue call: its engine hears nothing.
    assert!(queue_cmds(&d.take()).is_empty());
    k.s.take_over(k.now, a1, *moved);
    let cmds = k.take();
    assert_eq!(
        queue_cmds(&cmds),
        vec![QueueCommand::Ended],
        "1002's queue call ends (its wrap-up starts); 1003 is reserved for nothing"
    );
    k.party_sends("1003", "BYE", 2, "");
    let cmds = k.take();
    assert!(
        queue_cmds(&cmds).is_empty(),
        "told once: {:?}",
        queue_cmds(&cmds)
    );
    let r = record(&cmds);
    assert_eq!(r.queue.as_deref(), Some("support"));
    assert_eq!(r.agent.as_deref(), Some("1003"));
}

#[test]
fn a_refer_on_the_consultation_moves_the_consulted_party_into_the_original_call() {
    let mut k = keeper();
    let mut d = consultation();
    let (a1, _, inv) = k.leg("1002");
    // 1002 sends the REFER on its consultation, naming call 1's dialog.
    let refer_to = format!(
        "<sip:1001@pbx?Replaces={}%3Bto-tag%3Dphone-1002%3Bfrom-tag%3D{}>",
        inv.call_id(),
        inv.from_tag().unwrap()
    );
    let refer = msg(&format!(
        "REFER sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch=z9hG4bKa2refer\n\
From: <sip:1002@pbx>;tag=a2\nTo: <sip:1003@pbx>;tag=us\nCall-ID: consult\nCSeq: 2 REFER\n\
Contact: <sip:1002@192.0.2.20:5064>\nRefer-To: {refer_to}\n\n"
    ));
    let leg = d.s.leg_of(&refer).expect("1002's consultation dialog");
    d.s.handle_request(d.now, leg, key("z9hG4bKa2refer", "REFER"), refer);
    let cmds = d.take();
    assert!(sip(&cmds).contains(&(CALLER, "202".into())));
    let (referrer_leg, named, referrer) = replace(&cmds).expect("call 1 is asked");
    // Call 1 keeps its caller: it wants the consultation's party instead.
    let Ok(HandOver::Wanted(replaced)) = k.s.hand_over(k.now, &named, &referrer) else {
        panic!("call 1 wants 1003")
    };
    assert_eq!(replaced, a1);
    assert!(sip(&k.take()).is_empty(), "nothing changes in call 1 yet");
    let moved = d.s.give_up(d.now, referrer_leg).expect("1003 given up");
    let cmds = d.take();
    assert_eq!(notify_bodies(&cmds), vec!["SIP/2.0 200 OK\r\n".to_string()]);
    d.record_written();
    assert!(sip(&d.take()).contains(&(CALLER, "BYE".into())));
    // 1003 replaces 1002 in call 1.
    let b = k.s.take_over(k.now, a1, moved);
    let cmds = k.take();
    assert!(reinvite(&cmds, b).is_some());
    assert!(reinvite(&cmds, CALLER).is_some(), "off hold");
    assert!(sip(&cmds).contains(&(a1, "BYE".into())));
    assert!(
        notify_bodies(&cmds).is_empty(),
        "no REFER came on this dialog"
    );
    assert!(media(&cmds).contains(&MediaCommand::Connect { a: CALLER, b }));
}
