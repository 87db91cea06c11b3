//! Sessions scripted on a fake clock: the caller and every dialled party
//! are played from wire text, the flow's decisions are given by hand, and
//! what the session commands is read back.

use super::*;
use crate::leg::Transmit;
use switchyard_plugins::flow_types::Prompt;
use switchyard_plugins::types::{Direction, Party};
use switchyard_sip::endpoint::Transport;
use switchyard_sip::message::parse::{Framing, parse};

fn msg(text: &str) -> Message {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    parse(text.as_bytes(), Framing::Datagram).expect("test message parses")
}

fn peer(port: u16) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: format!("192.0.2.10:{port}").parse().unwrap(),
    }
}

fn key(branch: &str, method: &str) -> TransactionKey {
    TransactionKey::for_response(branch, "192.0.2.10:5062", method)
}

fn snapshot() -> CallSnapshot {
    CallSnapshot {
        call_id: "a-leg".into(),
        tenant: "demo".into(),
        direction: Direction::Internal,
        caller: Party {
            number: "1001".into(),
            display_name: None,
        },
        callee: Party {
            number: "1002".into(),
            display_name: None,
        },
        dialled: "1002".into(),
        tags: Vec::new(),
        start_time: 1_000_000,
        answer_time: None,
        time_zone: "UTC".into(),
        flow: "main".into(),
        plugin_version: 1,
    }
}

/// A call and everything it commanded so far.
struct Call {
    s: Session,
    now: Instant,
    cmds: Vec<Command>,
    /// Our INVITE to each dialled leg: (leg, request id, INVITE).
    invites: Vec<(LegId, ReqId, Message)>,
    /// Our INVITE to the first leg of an outgoing session.
    first: Option<(LegId, ReqId, Message)>,
}

impl Call {
    fn new() -> Call {
        Call::with(SessionConfig::default())
    }

    fn with(config: SessionConfig) -> Call {
        Call::negotiated(
            config,
            Box::new(PassThrough::new(b"v=0 caller\r\n".to_vec())),
        )
    }

    /// A call whose media the host anchors: it can answer the caller
    /// itself (IVR, voicemail).
    fn anchored() -> Call {
        Call::negotiated(SessionConfig::default(), Box::new(Anchored))
    }

    fn negotiated(config: SessionConfig, sdp: Box<dyn Negotiator + Send>) -> Call {
        let invite = msg(
            "INVITE sip:1002@pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinv\n\
From: <sip:1001@pbx>;tag=caller\nTo: <sip:1002@pbx>\nCall-ID: a-leg\nCSeq: 1 INVITE\n\
Contact: <sip:1001@192.0.2.10:5062>\nContent-Type: application/sdp\n\nv=0 caller\n",
        );
        Call::incoming(config, sdp, invite, snapshot())
    }

    /// A call of `invite` (its Via branch names the transaction; our tag
    /// is `us`) that `snapshot` describes.
    fn incoming(
        config: SessionConfig,
        sdp: Box<dyn Negotiator + Send>,
        invite: Message,
        snapshot: CallSnapshot,
    ) -> Call {
        let now = Instant::now();
        let branch = invite
            .headers
            .get("Via")
            .unwrap()
            .split("branch=")
            .nth(1)
            .unwrap()
            .to_string();
        let caller = Leg::incoming(
            key(&branch, "INVITE"),
            invite,
            peer(5062),
            "<sip:pbx@192.0.2.1>".into(),
            "us".into(),
            Duration::from_secs(32),
        );
        let s = Session::incoming(now, 1_000_000, caller, snapshot, sdp, config);
        Call::from_session(s, now)
    }

    fn from_session(s: Session, now: Instant) -> Call {
        let mut c = Call {
            s,
            now,
            cmds: Vec::new(),
            invites: Vec::new(),
            first: None,
        };
        c.collect();
        c
    }

    fn collect(&mut self) {
        while let Some(cmd) = self.s.poll_command() {
            if let Command::Sip {
                leg,
                out:
                    Out {
                        transmit: Transmit::Request { id, msg, .. },
                        ..
                    },
            } = &cmd
                && msg.method() == "INVITE"
                && *leg != self.s.caller()
                && !self.invites.iter().any(|(l, _, _)| l == leg)
            {
                self.invites.push((*leg, *id, msg.clone()));
            }
            if let Command::Sip {
                leg,
                out:
                    Out {
                        transmit: Transmit::Request { id, msg, .. },
                        ..
                    },
            } = &cmd
                && msg.method() == "INVITE"
                && *leg == self.s.caller()
                && self.first.is_none()
            {
                self.first = Some((*leg, *id, msg.clone()));
            }
            self.cmds.push(cmd);
        }
    }

    /// Commands since the last call, and forget them.
    fn take(&mut self) -> Vec<Command> {
        self.collect();
        std::mem::take(&mut self.cmds)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.s.handle_timeout(self.now);
        self.collect();
    }

    fn decide(&mut self, actions: Vec<Action>) {
        self.s.handle_decision(
            self.now,
            Decision {
                actions,
                state: None,
            },
        );
        self.collect();
    }

    fn device(&self, label: &str, i: usize) -> Device {
        Device {
            label: label.to_string(),
            invite: msg(&format!(
                "INVITE sip:{label}@192.0.2.2{i}:5064 SIP/2.0\nFrom: <sip:1001@pbx>;tag=t{label}\n\
To: <sip:{label}@pbx>\nCall-ID: b-{label}-{}\nCSeq: 1 INVITE\nContact: <sip:pbx@192.0.2.1>\n\n",
                self.invites.len()
            )),
            peer: peer(6000 + i as u16),
            contact: "<sip:pbx@192.0.2.1>".into(),
            srtp: Default::default(),
        }
    }

    /// Answer the pending Resolve with one device per label.
    fn devices(&mut self, labels: &[&str]) {
        let devices = labels
            .iter()
            .enumerate()
            .map(|(i, l)| self.device(l, i))
            .collect();
        self.s.handle_devices(self.now, devices);
        self.collect();
    }

    /// The leg dialled for `label` (the latest one).
    fn leg(&self, label: &str) -> (LegId, ReqId, Message) {
        self.invites
            .iter()
            .rev()
            .find(|(_, _, m)| m.uri().starts_with(&format!("sip:{label}@")))
            .cloned()
            .unwrap_or_else(|| panic!("{label} was not dialled"))
    }

    /// `label`'s phone answers our INVITE with `status`.
    fn party_answers(&mut self, label: &str, status: u16) {
        let (leg, id, inv) = self.leg(label);
        let body = if status == 200 { "v=0 agent\n" } else { "" };
        let resp = msg(&format!(
            "SIP/2.0 {status} X\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKb\nFrom: {}\n\
To: <sip:{label}@pbx>;tag=phone-{label}\nCall-ID: {}\nCSeq: 1 INVITE\n\
Contact: <sip:{label}@192.0.2.20:5064>\n\n{body}",
            inv.headers.get("From").unwrap(),
            inv.call_id()
        ));
        self.s.handle_response(self.now, leg, id, resp);
        self.collect();
    }

    /// An in-dialog request from `label`'s phone (after it answered).
    fn party_sends(&mut self, label: &str, method: &str, cseq: u32, body: &str) {
        let (leg, _, inv) = self.leg(label);
        let branch = format!("z9hG4bK{label}{method}{cseq}");
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\n"
        };
        let req = msg(&format!(
            "{method} sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch={branch}\n\
From: <sip:{label}@pbx>;tag=phone-{label}\nTo: {}\nCall-ID: {}\nCSeq: {cseq} {method}\n\
Contact: <sip:{label}@192.0.2.20:5064>\n{ct}\n{body}",
            inv.headers.get("From").unwrap(),
            inv.call_id()
        ));
        assert_eq!(self.s.leg_of(&req), Some(leg), "routed to {label}'s leg");
        self.s
            .handle_request(self.now, leg, key(&branch, method), req);
        self.collect();
    }

    /// An in-dialog request from the caller (after we answered).
    fn caller_sends(&mut self, method: &str, cseq: u32, body: &str) -> Message {
        let branch = format!("z9hG4bKcaller{method}{cseq}");
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\n"
        };
        let req = msg(&format!(
            "{method} sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\n\
From: <sip:1001@pbx>;tag=caller\nTo: <sip:1002@pbx>;tag=us\nCall-ID: a-leg\nCSeq: {cseq} {method}\n\
Contact: <sip:1001@192.0.2.10:5062>\n{ct}\n{body}"
        ));
        let leg = self.s.leg_of(&req).expect("the caller's dialog");
        self.s
            .handle_request(self.now, leg, key(&branch, method), req.clone());
        self.collect();
        req
    }

    fn record_written(&mut self) {
        self.s.handle_record_written(self.now);
        self.collect();
    }
}

fn dial(targets: &[&str], mode: DialMode) -> Action {
    Action::Dial(Dial {
        targets: targets
            .iter()
            .map(|t| DialTarget::Extension(t.to_string()))
            .collect(),
        mode,
        ring_timeout_secs: 20,
        caller_id: None,
    })
}

/// (leg, method or status) of every SIP command.
fn sip(cmds: &[Command]) -> Vec<(LegId, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Sip { leg, out } => Some((
                *leg,
                match &out.transmit {
                    Transmit::Request { msg, .. } => msg.method().to_string(),
                    Transmit::Respond { msg, .. } => msg.status().to_string(),
                    Transmit::Ack { .. } => "ACK".into(),
                    Transmit::Cancel { .. } => "CANCEL".into(),
                },
            )),
            _ => None,
        })
        .collect()
}

fn record(cmds: &[Command]) -> Record {
    cmds.iter()
        .find_map(|c| match c {
            Command::WriteRecord(r) => Some((**r).clone()),
            _ => None,
        })
        .expect("a record is written")
}

fn decides(cmds: &[Command]) -> Vec<Event> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Decide { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

const CALLER: LegId = LegId(0);

#[test]
fn the_first_command_asks_the_flow_about_the_call() {
    let mut c = Call::new();
    let cmds = c.take();
    assert_eq!(decides(&cmds), vec![Event::CallStarted]);
    assert!(sip(&cmds).is_empty(), "nothing is answered before the flow");
}

#[test]
fn caller_cancels_while_two_agents_ring() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002", "1003"], DialMode::Simultaneous)]);
    c.devices(&["1002", "1003"]);
    c.party_answers("1002", 180);
    let cmds = c.take();
    assert_eq!(sip(&cmds).iter().filter(|(_, m)| m == "INVITE").count(), 2);
    assert!(sip(&cmds).contains(&(CALLER, "180".into())));
    c.s.handle_cancel(c.now);
    let cmds = c.take();
    let s = sip(&cmds);
    let (l2, ..) = c.leg("1002");
    let (l3, ..) = c.leg("1003");
    assert!(s.contains(&(l2, "CANCEL".into())) && s.contains(&(l3, "CANCEL".into())));
    assert!(
        !s.contains(&(CALLER, "487".into())),
        "the 487 waits for the record"
    );
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::Cancelled);
    assert_eq!(r.hangup_by, Some(HangupSide::Caller));
    assert_eq!(r.legs.len(), 2);
    assert!(r.legs.iter().all(|l| l.sip_code == 487));
    c.record_written();
    let cmds = c.take();
    assert_eq!(sip(&cmds), vec![(CALLER, "487".into())]);
    assert!(cmds.contains(&Command::Finished));
    assert!(decides(&cmds).is_empty(), "no flow decision after the end");
}

#[test]
fn an_answer_crossing_the_cancel_after_the_call_ended_is_acked_and_hung_up() {
    // The caller cancels; the call ends and its record is written while
    // 1002's 200 is already on its way. The driver keeps serving the leg
    // while it is dialing, and the late 200 gets its ACK and a BYE.
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.take();
    c.s.handle_cancel(c.now);
    c.take();
    c.record_written();
    let cmds = c.take();
    assert!(cmds.contains(&Command::Finished));
    assert!(c.s.legs_dialing(), "1002 has not answered the CANCEL yet");
    c.party_answers("1002", 200);
    let (l2, ..) = c.leg("1002");
    assert_eq!(
        sip(&c.take()),
        vec![(l2, "ACK".into()), (l2, "BYE".into())],
        "at once: nothing waits for a record any more"
    );
    assert!(!c.s.legs_dialing());
}

#[test]
fn two_agents_answer_at_once_one_is_hung_up() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002", "1003"], DialMode::Simultaneous)]);
    c.devices(&["1002", "1003"]);
    c.party_answers("1002", 200);
    let cmds = c.take();
    let (l2, ..) = c.leg("1002");
    let (l3, ..) = c.leg("1003");
    let s = sip(&cmds);
    assert!(s.contains(&(l2, "ACK".into())));
    assert!(s.contains(&(l3, "CANCEL".into())));
    assert!(s.contains(&(CALLER, "200".into())));
    assert!(cmds.contains(&Command::Media(MediaCommand::Connect { a: CALLER, b: l2 })));
    // 1003 answered too, crossing our CANCEL: ACKed and hung up, and the
    // caller hears nothing more.
    c.party_answers("1003", 200);
    let s = sip(&c.take());
    assert_eq!(s, vec![(l3, "ACK".into()), (l3, "BYE".into())]);
}

#[test]
fn sequential_dial_busy_first_then_the_second_answers() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002", "1003"], DialMode::Sequential)]);
    let cmds = c.take();
    assert!(matches!(&cmds[..], [Command::Resolve { targets, .. }] if targets.len() == 1));
    c.devices(&["1002"]);
    c.take();
    c.party_answers("1002", 486);
    let cmds = c.take();
    let resolves: Vec<_> = cmds
        .iter()
        .filter_map(|x| match x {
            Command::Resolve { targets, .. } => Some(targets.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(resolves, vec![vec![DialTarget::Extension("1003".into())]]);
    assert!(
        decides(&cmds).is_empty(),
        "the flow hears of the dial at its end"
    );
    c.devices(&["1003"]);
    c.party_answers("1003", 200);
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(CALLER, "200".into())));
    assert!(
        decides(&cmds).is_empty(),
        "the flow is not asked until the call ends"
    );
    c.party_sends("1003", "BYE", 2, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::Answered);
    assert_eq!(r.agent.as_deref(), Some("1003"));
    assert_eq!(r.hangup_by, Some(HangupSide::Callee));
    assert_eq!(
        r.legs.iter().map(|l| l.sip_code).collect::<Vec<_>>(),
        vec![486, 200]
    );
}

#[test]
fn everyone_busy_tells_the_flow_and_the_flow_goes_on() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 486);
    let cmds = c.take();
    let ev = decides(&cmds);
    assert!(
        matches!(&ev[..], [Event::DialFinished(r)] if r.outcome == DialOutcome::Busy && r.sip_code == 486),
        "{ev:?}"
    );
    c.decide(vec![Action::Reject(RejectReason::Busy)]);
    let cmds = c.take();
    assert_eq!(record(&cmds).sip_code, 486);
    c.record_written();
    assert_eq!(sip(&c.take()), vec![(CALLER, "486".into())]);
}

#[test]
fn ring_timeout_cancels_and_reports_no_answer() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.take();
    c.advance(Duration::from_secs(19));
    assert!(c.take().is_empty());
    c.advance(Duration::from_secs(1));
    let cmds = c.take();
    let (l2, ..) = c.leg("1002");
    assert!(sip(&cmds).contains(&(l2, "CANCEL".into())));
    let ev = decides(&cmds);
    assert!(matches!(&ev[..], [Event::DialFinished(r)] if r.outcome == DialOutcome::NoAnswer));
}

#[test]
fn nobody_to_ring_fails_the_dial_at_once() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1009"], DialMode::Simultaneous)]);
    c.devices(&[]);
    let ev = decides(&c.take());
    assert!(
        matches!(&ev[..], [Event::DialFinished(r)] if r.outcome == DialOutcome::NoAnswer && r.sip_code == 480),
        "{ev:?}"
    );
}

/// A call bridged between the caller and 1002.
fn bridged() -> Call {
    let mut c = Call::new();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 200);
    c.take();
    c.s.handle_ack(c.now, CALLER);
    c
}

#[test]
fn a_bye_crossing_a_reinvite_ends_the_call_for_both() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    // The caller holds; the offer goes on to 1002…
    c.caller_sends("INVITE", 2, "v=0 sendonly\n");
    let s = sip(&c.take());
    assert_eq!(s, vec![(l2, "INVITE".into())]);
    // …and 1002 hangs up instead of answering it.
    c.party_sends("1002", "BYE", 2, "");
    let cmds = c.take();
    let s = sip(&cmds);
    assert!(
        s.contains(&(CALLER, "487".into())),
        "the caller's re-INVITE ends: {s:?}"
    );
    let r = record(&cmds);
    assert_eq!(r.hangup_by, Some(HangupSide::Callee));
    c.record_written();
    let s = sip(&c.take());
    assert!(
        s.contains(&(l2, "200".into())) && s.contains(&(CALLER, "BYE".into())),
        "{s:?}"
    );
}

#[test]
fn a_reinvite_never_answered_does_not_stop_the_callers_bye() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    c.caller_sends("INVITE", 2, "v=0 sendonly\n");
    c.take();
    // 1002 never answers; the caller gives up and hangs up.
    c.advance(Duration::from_secs(10));
    c.caller_sends("BYE", 3, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.hangup_by, Some(HangupSide::Caller));
    assert_eq!(r.disposition, Disposition::Answered);
    c.record_written();
    let s = sip(&c.take());
    assert!(
        s.contains(&(CALLER, "200".into())) && s.contains(&(l2, "BYE".into())),
        "{s:?}"
    );
}

#[test]
fn hold_passes_through_and_the_answer_comes_back() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    c.caller_sends("INVITE", 2, "v=0 sendonly\n");
    let cmds = c.take();
    let (id, reinvite) = cmds
        .iter()
        .find_map(|cmd| match cmd {
            Command::Sip {
                leg,
                out:
                    Out {
                        transmit: Transmit::Request { id, msg, .. },
                        ..
                    },
            } if *leg == l2 => Some((*id, msg.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(reinvite.body, b"v=0 sendonly\r\n");
    let ok = msg(&format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\nFrom: {}\nTo: {}\nCall-ID: {}\n\
CSeq: 2 INVITE\nContact: <sip:1002@192.0.2.20:5064>\n\nv=0 recvonly\n",
        reinvite.headers.get("From").unwrap(),
        reinvite.headers.get("To").unwrap(),
        reinvite.call_id()
    ));
    c.s.handle_response(c.now, l2, id, ok);
    let s = sip(&c.take());
    assert_eq!(s, vec![(l2, "ACK".into()), (CALLER, "200".into())]);
}

#[test]
fn hold_by_one_while_the_other_hangs_up() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    c.party_sends("1002", "INVITE", 2, "v=0 sendonly\n");
    let s = sip(&c.take());
    assert_eq!(s, vec![(CALLER, "INVITE".into())]);
    c.caller_sends("BYE", 2, "");
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(l2, "487".into())), "1002's hold ends");
    assert_eq!(record(&cmds).hangup_by, Some(HangupSide::Caller));
}

#[test]
fn rtp_timeout_on_a_leg_ends_the_call() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    c.s.handle_end(c.now, EndReason::RtpTimeout(l2));
    let cmds = c.take();
    assert_eq!(record(&cmds).hangup_by, Some(HangupSide::System));
    c.record_written();
    let s = sip(&c.take());
    assert!(s.contains(&(l2, "BYE".into())) && s.contains(&(CALLER, "BYE".into())));
}

#[test]
fn the_maximum_duration_ends_a_bridged_call() {
    let mut c = Call::with(SessionConfig {
        max_duration: Some(Duration::from_secs(3600)),
        ..SessionConfig::default()
    });
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 200);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    assert_eq!(c.s.poll_timeout(), Some(c.now + Duration::from_secs(3600)));
    c.advance(Duration::from_secs(3600));
    let cmds = c.take();
    assert_eq!(record(&cmds).hangup_by, Some(HangupSide::System));
}

#[test]
fn a_plugin_that_fails_mid_call_falls_back_without_being_asked_again() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Gather(Gather {
        prompts: vec![Prompt::File("menu".into())],
        max_digits: 1,
        finish_on_key: None,
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 3000,
    })]);
    let cmds = c.take();
    assert!(
        sip(&cmds).contains(&(CALLER, "200".into())),
        "gather answers the call"
    );
    let play = cmds
        .iter()
        .find_map(|x| match x {
            Command::Media(MediaCommand::Play { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap();
    c.s.handle_played(c.now, play);
    c.s.handle_digit(c.now, CALLER, '1');
    assert_eq!(
        decides(&c.take()),
        vec![Event::Digits(Gathered {
            digits: "1".into(),
            finished_by_key: false
        })]
    );
    // The plugin traps on this event: the tenant's fallback runs.
    c.s.handle_plugin_failed(c.now, switchyard_plugins::fallback_decision());
    let cmds = c.take();
    let id = cmds
        .iter()
        .find_map(|x| match x {
            Command::Media(MediaCommand::Play { id, prompts, .. })
                if prompts == &vec![Prompt::File("please-try-later".into())] =>
            {
                Some(*id)
            }
            _ => None,
        })
        .expect("the fallback prompt plays");
    c.s.handle_played(c.now, id);
    let cmds = c.take();
    assert!(
        decides(&cmds).is_empty(),
        "the failed plugin is not asked again"
    );
    let r = record(&cmds);
    assert_eq!(r.hangup_by, Some(HangupSide::System));
    c.record_written();
    assert_eq!(sip(&c.take()), vec![(CALLER, "BYE".into())]);
}

#[test]
fn a_flow_looping_between_goto_flows_is_cut_off() {
    let mut c = Call::with(SessionConfig {
        max_decisions: 8,
        ..SessionConfig::default()
    });
    c.take();
    let mut asked = 1;
    for _ in 0..20 {
        c.decide(vec![Action::GotoFlow("other".into())]);
        let cmds = c.take();
        asked += decides(&cmds).len();
        if cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))) {
            break;
        }
    }
    assert_eq!(asked, 8);
    c.record_written();
    assert_eq!(sip(&c.take()), vec![(CALLER, "480".into())]);
}

#[test]
fn gather_collects_digits_until_the_finish_key() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Gather(Gather {
        prompts: Vec::new(),
        max_digits: 10,
        finish_on_key: Some('#'),
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 3000,
    })]);
    c.take();
    for d in ['4', '2', '#'] {
        c.s.handle_digit(c.now, CALLER, d);
    }
    assert_eq!(
        decides(&c.take()),
        vec![Event::Digits(Gathered {
            digits: "42".into(),
            finished_by_key: true
        })]
    );
}

#[test]
fn gather_times_out_without_a_digit() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Gather(Gather {
        prompts: Vec::new(),
        max_digits: 1,
        finish_on_key: None,
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 3000,
    })]);
    c.take();
    c.advance(Duration::from_millis(4999));
    assert!(decides(&c.take()).is_empty());
    c.advance(Duration::from_millis(1));
    assert_eq!(decides(&c.take()), vec![Event::GatherTimeout]);
}

#[test]
fn without_media_the_host_does_not_answer_and_media_actions_end_at_once() {
    // No anchoring: the host has no SDP of its own, and a 200 without
    // one would not answer the caller's offer.
    let mut c = Call::new();
    c.take();
    c.decide(vec![
        Action::Answer,
        Action::Play(vec![Prompt::Silence(500)]),
    ]);
    let cmds = c.take();
    assert!(!sip(&cmds).iter().any(|(_, s)| s == "200"), "{cmds:?}");
    assert_eq!(decides(&cmds), vec![Event::PlayFinished]);
    c.decide(vec![Action::Gather(Gather {
        prompts: Vec::new(),
        max_digits: 1,
        finish_on_key: None,
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 3000,
    })]);
    assert_eq!(decides(&c.take()), vec![Event::GatherTimeout]);
    // A voicemail cannot be taken: the caller gets 480.
    c.decide(vec![Action::Voicemail(
        switchyard_plugins::flow_types::Voicemail {
            mailbox: "1002".into(),
            greeting: None,
        },
    )]);
    let r = record(&c.take());
    assert_eq!(r.sip_code, 480);
    assert_eq!(r.disposition, Disposition::Failed);
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "480".into())));
}

#[test]
fn a_blind_transfer_leaves_the_transferors_late_bye_to_its_own_leg() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    // 1002 transfers the caller to 1003.
    c.party_refers("1002", "1003");
    let cmds = c.take();
    let s = sip(&cmds);
    assert!(s.contains(&(l2, "202".into())));
    assert!(s.contains(&(l2, "NOTIFY".into())), "100 Trying is notified");
    let trying = notify_bodies(&cmds);
    assert_eq!(trying, vec!["SIP/2.0 100 Trying\r\n".to_string()]);
    assert!(matches!(
        cmds.iter().find(|x| matches!(x, Command::Resolve { .. })),
        Some(Command::Resolve { .. })
    ));
    c.devices(&["1003"]);
    c.take();
    c.party_answers("1003", 200);
    let cmds = c.take();
    let (l3, ..) = c.leg("1003");
    assert_eq!(
        notify_bodies(&cmds),
        vec!["SIP/2.0 200 OK\r\n".to_string()],
        "success is told when the target answered"
    );
    assert!(cmds.contains(&Command::Media(MediaCommand::Connect { a: CALLER, b: l3 })));
    assert!(
        sip(&cmds).contains(&(l2, "BYE".into())),
        "the transferor's leg is ended at once, not when the call ends"
    );
    // 1002's own BYE crosses ours, as phones send it after the NOTIFY:
    // it ends 1002's leg only.
    c.party_sends("1002", "BYE", 3, "");
    let cmds = c.take();
    assert!(
        !cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))),
        "the call goes on between the caller and 1003: {cmds:?}"
    );
    assert_eq!(
        sip(&cmds),
        vec![(l2, "200".into())],
        "1002 hears at once, nobody else hears"
    );
    // Now the caller and 1003 talk until 1003 hangs up.
    c.party_sends("1003", "BYE", 2, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.agent.as_deref(), Some("1003"));
    assert_eq!(r.hangup_by, Some(HangupSide::Callee));
}

#[test]
fn a_transfer_nobody_takes_is_reported_to_the_transferor_and_the_flow() {
    let mut c = bridged();
    c.party_refers("1002", "1003");
    c.take();
    c.devices(&["1003"]);
    c.party_answers("1003", 486);
    let cmds = c.take();
    assert_eq!(
        notify_bodies(&cmds),
        vec!["SIP/2.0 486 Busy Here\r\n".to_string()]
    );
    let ev = decides(&cmds);
    assert!(
        matches!(&ev[..], [Event::TransferResult(r)] if r.outcome == TransferOutcome::Failed && r.sip_code == 486),
        "{ev:?}"
    );
}

#[test]
fn a_blind_transfer_to_a_queues_extension_puts_the_caller_back_in_the_queue() {
    let config = SessionConfig {
        queue_extensions: std::sync::Arc::new([("600".to_string(), "support".to_string())].into()),
        ..SessionConfig::default()
    };
    let mut c = Call::negotiated(config, Box::new(Anchored));
    c.take();
    c.decide(vec![enqueue("support", 10, None)]);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    let device = c.device("1002", 0);
    c.s.handle_queue_offer(c.now, "1002".into(), vec![device], Vec::new());
    c.collect();
    c.party_answers("1002", 200);
    c.take();
    let (l2, ..) = c.leg("1002");
    c.party_refers("1002", "600");
    let cmds = c.take();
    let s = sip(&cmds);
    assert!(s.contains(&(l2, "202".into())), "{s:?}");
    assert_eq!(
        notify_bodies(&cmds),
        vec![
            "SIP/2.0 100 Trying\r\n".to_string(),
            "SIP/2.0 200 OK\r\n".to_string()
        ]
    );
    assert!(s.contains(&(l2, "BYE".into())), "the agent is hung up");
    let q = queue_cmds(&cmds);
    assert!(
        q.contains(&QueueCommand::Ended),
        "the agent's wrap-up starts: {q:?}"
    );
    assert!(
        q.iter().any(
            |x| matches!(x, QueueCommand::Join { queue, priority: 10, .. } if queue == "support")
        ),
        "the caller joins again with the call's priority: {q:?}"
    );
}

#[test]
fn a_request_of_no_leg_is_not_routed() {
    let c = bridged();
    let stray = msg(
        "BYE sip:pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKs\n\
From: <sip:x@pbx>;tag=nobody\nTo: <sip:y@pbx>;tag=us\nCall-ID: a-leg\nCSeq: 9 BYE\n\n",
    );
    assert_eq!(c.s.leg_of(&stray), None);
}

fn notify_bodies(cmds: &[Command]) -> Vec<String> {
    cmds.iter()
        .filter_map(|x| match x {
            Command::Sip {
                out:
                    Out {
                        transmit: Transmit::Request { msg, .. },
                        ..
                    },
                ..
            } if msg.method() == "NOTIFY" => Some(String::from_utf8_lossy(&msg.body).into_owned()),
            _ => None,
        })
        .collect()
}

impl Call {
    fn party_refers(&mut self, label: &str, target: &str) {
        self.party_refers_to(label, &format!("<sip:{target}@pbx>"));
    }

    fn party_refers_to(&mut self, label: &str, refer_to: &str) {
        let (leg, _, inv) = self.leg(label);
        let branch = format!("z9hG4bK{label}refer");
        let req = msg(&format!(
            "REFER sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5064;branch={branch}\n\
From: <sip:{label}@pbx>;tag=phone-{label}\nTo: {}\nCall-ID: {}\nCSeq: 2 REFER\n\
Contact: <sip:{label}@192.0.2.20:5064>\nRefer-To: {refer_to}\n\n",
            inv.headers.get("From").unwrap(),
            inv.call_id()
        ));
        self.s
            .handle_request(self.now, leg, key(&branch, "REFER"), req);
        self.collect();
    }
}

#[test]
fn a_three_party_bridge_goes_on_when_one_leaves() {
    let mut c = bridged();
    let (l2, ..) = c.leg("1002");
    let dev = c.device("1003", 3);
    let l3 =
        c.s.add_party(c.now, dev)
            .expect("bridged calls take a party");
    c.collect();
    c.party_answers("1003", 200);
    let cmds = c.take();
    assert!(cmds.contains(&Command::Media(MediaCommand::Connect { a: CALLER, b: l3 })));
    // 1002 leaves: the caller and 1003 keep talking.
    c.party_sends("1002", "BYE", 2, "");
    let cmds = c.take();
    assert!(
        !cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))),
        "{cmds:?}"
    );
    assert!(cmds.contains(&Command::Media(MediaCommand::Disconnect { leg: l2 })));
    assert_eq!(
        sip(&cmds),
        vec![(l2, "200".into())],
        "1002's BYE is answered at once"
    );
    // 1003 leaves too: the caller is alone and is hung up.
    c.party_sends("1003", "BYE", 2, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.hangup_by, Some(HangupSide::Callee));
    assert_eq!(r.legs.len(), 2);
    assert!(
        r.legs
            .iter()
            .all(|l| l.answer_time.is_some() && l.end_time > 0)
    );
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "BYE".into())));
}

#[test]
fn only_a_bridged_call_takes_a_party() {
    let mut c = Call::new();
    let dev = c.device("1003", 3);
    assert_eq!(c.s.add_party(c.now, dev), None);
}

fn started_message(cmds: &[Command]) -> Option<MessageKind> {
    cmds.iter().find_map(|x| match x {
        Command::Media(MediaCommand::StartMessage { kind, .. }) => Some(kind.clone()),
        _ => None,
    })
}

fn greeting(cmds: &[Command]) -> u64 {
    cmds.iter()
        .find_map(|x| match x {
            Command::Media(MediaCommand::PlayGreeting { id, mailbox, .. }) if mailbox == "1002" => {
                Some(*id)
            }
            _ => None,
        })
        .expect("the greeting plays")
}

fn recording(id: &str) -> switchyard_plugins::flow_types::Recording {
    switchyard_plugins::flow_types::Recording {
        id: id.into(),
        duration_ms: 4000,
        finished_by_key: Some("#".into()),
    }
}

#[test]
fn a_voicemail_is_greeted_recorded_and_the_host_hangs_up() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Voicemail(
        switchyard_plugins::flow_types::Voicemail {
            mailbox: "1002".into(),
            greeting: None,
        },
    )]);
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(CALLER, "200".into())));
    let id = greeting(&cmds);
    assert_eq!(
        started_message(&cmds),
        None,
        "the message starts after the beep"
    );
    c.s.handle_played(c.now, id);
    let cmds = c.take();
    assert_eq!(
        started_message(&cmds),
        Some(MessageKind::Voicemail {
            mailbox: "1002".into()
        })
    );
    c.s.handle_message_ended(c.now, recording("vm1"));
    let cmds = c.take();
    assert!(decides(&cmds).is_empty());
    assert!(!cmds.contains(&Command::Media(MediaCommand::StopMessage { leg: CALLER })));
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::Voicemail);
    assert_eq!(r.hangup_by, Some(HangupSide::System));
    c.record_written();
    assert_eq!(sip(&c.take()), vec![(CALLER, "BYE".into())]);
}

#[test]
fn a_caller_hanging_up_mid_message_has_left_a_voicemail() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Voicemail(
        switchyard_plugins::flow_types::Voicemail {
            mailbox: "1002".into(),
            greeting: None,
        },
    )]);
    let id = greeting(&c.take());
    c.s.handle_played(c.now, id);
    c.take();
    c.s.handle_ack(c.now, CALLER);
    c.caller_sends("BYE", 2, "");
    let cmds = c.take();
    let stop = cmds
        .iter()
        .position(|x| x == &Command::Media(MediaCommand::StopMessage { leg: CALLER }))
        .expect("what was said is kept");
    let write = cmds
        .iter()
        .position(|x| matches!(x, Command::WriteRecord(_)))
        .unwrap();
    assert!(stop < write, "the message is kept before the record");
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::Voicemail);
    assert_eq!(r.hangup_by, Some(HangupSide::Caller));
}

#[test]
fn record_audio_beeps_first_and_hands_the_recording_to_the_flow() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::RecordAudio(
        switchyard_plugins::flow_types::RecordAudio {
            max_seconds: 30,
            finish_on_key: Some('#'),
            beep: true,
        },
    )]);
    let cmds = c.take();
    let beep = cmds
        .iter()
        .find_map(|x| match x {
            Command::Media(MediaCommand::Play { id, prompts, .. })
                if prompts == &vec![Prompt::Tone(switchyard_plugins::flow_types::Tone::Beep)] =>
            {
                Some(*id)
            }
            _ => None,
        })
        .expect("a beep");
    c.s.handle_played(c.now, beep);
    assert_eq!(started_message(&c.take()), Some(MessageKind::RecordAudio));
    c.s.handle_message_ended(c.now, recording("r1"));
    assert_eq!(
        decides(&c.take()),
        vec![Event::RecordFinished(recording("r1"))]
    );
}

/// An SDP negotiator that always has media of its own: the anchored
/// negotiator's behaviour reduced to fixed bodies (the session's control
/// logic is what these tests check, not SDP).
struct Anchored;

impl Negotiator for Anchored {
    fn answer_caller(&mut self) -> Option<Vec<u8>> {
        Some(b"v=0 host answer\r\n".to_vec())
    }
    fn offer_to(&mut self, _leg: LegId, _s: &CallSnapshot) -> Option<Vec<u8>> {
        Some(b"v=0 host offer\r\n".to_vec())
    }
    fn remote_answer(&mut self, _leg: LegId, _body: &[u8]) -> Result<(), u16> {
        Ok(())
    }
    fn caller_answer_for(&mut self, _leg: LegId) -> Option<Vec<u8>> {
        Some(b"v=0 host answer\r\n".to_vec())
    }
    fn reoffer(&mut self, _leg: LegId, _o: Option<LegId>, _b: &[u8]) -> Result<Renegotiation, u16> {
        Ok(Renegotiation::Answer(b"v=0 host answer\r\n".to_vec()))
    }
    fn reanswered(&mut self, _f: LegId, _t: LegId, _b: &[u8]) -> Result<Vec<u8>, u16> {
        Ok(b"v=0 host answer\r\n".to_vec())
    }
    fn holds(&self, _leg: LegId) -> bool {
        false
    }
    fn answer_offer(&mut self, _leg: LegId, _offer: &[u8]) -> Result<Vec<u8>, u16> {
        Ok(b"v=0 host answer\r\n".to_vec())
    }
    fn anchored(&self) -> bool {
        true
    }
    fn offer_again(&mut self, _leg: LegId) -> Option<Vec<u8>> {
        Some(b"v=0 host offer again\r\n".to_vec())
    }
}

/// Click-to-call: the agent's phone 1001 rings first, then the customer.
fn click_to_call() -> Call {
    let now = Instant::now();
    let first = Device {
        label: "1001".into(),
        invite: msg(
            "INVITE sip:1001@192.0.2.21:5064 SIP/2.0\nFrom: <sip:+442079460000@pbx>;tag=tc2c\n\
To: <sip:1001@pbx>\nCall-ID: c2c-1\nCSeq: 1 INVITE\nContact: <sip:pbx@192.0.2.1>\n\n",
        ),
        peer: peer(6001),
        contact: "<sip:pbx@192.0.2.1>".into(),
        srtp: Default::default(),
    };
    let s = Session::outgoing(
        now,
        1_000_000,
        first,
        Duration::from_secs(30),
        snapshot(),
        Box::new(Anchored),
        SessionConfig::default(),
        vec![Action::Dial(Dial {
            targets: vec![DialTarget::Number("+442079460000".into())],
            mode: DialMode::Simultaneous,
            ring_timeout_secs: 40,
            caller_id: None,
        })],
    );
    Call::from_session(s, now)
}

#[test]
fn click_to_call_rings_the_agent_then_dials_the_customer() {
    let mut c = click_to_call();
    let cmds = c.take();
    let s = sip(&cmds);
    assert_eq!(
        s,
        vec![(CALLER, "INVITE".into())],
        "the agent's phone rings first"
    );
    assert!(
        decides(&cmds).is_empty(),
        "no flow plugin for a scripted call"
    );
    // The agent answers: we ACK, and dial the customer.
    let (_, id, inv) = c.first.clone().expect("our INVITE to the agent");
    assert_eq!(
        inv.body, b"v=0 host offer\r\n",
        "an anchored offer, not a late one"
    );
    let ok = msg(&format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\nFrom: {}\nTo: <sip:1001@pbx>;tag=agent\n\
Call-ID: {}\nCSeq: 1 INVITE\nContact: <sip:1001@192.0.2.21:5064>\n\nv=0 agent\n",
        inv.headers.get("From").unwrap(),
        inv.call_id()
    ));
    c.s.handle_response(c.now, CALLER, id, ok);
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(CALLER, "ACK".into())));
    let targets: Vec<_> = cmds
        .iter()
        .filter_map(|x| match x {
            Command::Resolve { targets, .. } => Some(targets.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        vec![vec![DialTarget::Number("+442079460000".into())]]
    );
    c.devices(&["+442079460000"]);
    let cmds = c.take();
    assert!(
        cmds.contains(&Command::Media(MediaCommand::Ringback { leg: CALLER })),
        "the agent hears ringback"
    );
    c.party_answers("+442079460000", 200);
    let cmds = c.take();
    let (lc, ..) = c.leg("+442079460000");
    assert!(cmds.contains(&Command::Media(MediaCommand::Connect { a: CALLER, b: lc })));
    assert!(
        !sip(&cmds).iter().any(|(l, m)| *l == CALLER && m == "200"),
        "no answer to send the agent"
    );
    c.party_sends("+442079460000", "BYE", 2, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::Answered);
    assert_eq!(r.agent.as_deref(), Some("1001"));
    assert_eq!(r.hangup_by, Some(HangupSide::Callee));
    assert_eq!(r.legs.len(), 2, "both legs are in the record");
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "BYE".into())));
}

#[test]
fn click_to_call_whose_agent_never_answers_is_no_answer() {
    let mut c = click_to_call();
    c.take();
    c.advance(Duration::from_secs(30));
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(CALLER, "CANCEL".into())));
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::NoAnswer);
    assert!(
        cmds.iter().all(|x| !matches!(x, Command::Resolve { .. })),
        "the customer is not dialled"
    );
}

// ---- queues ---------------------------------------------------------------

fn enqueue(queue: &str, priority: u8, timeout: Option<u32>) -> Action {
    Action::Enqueue(switchyard_plugins::flow_types::Enqueue {
        queue: queue.into(),
        priority,
        skills: vec!["it".into()],
        timeout_secs: timeout,
    })
}

fn queue_cmds(cmds: &[Command]) -> Vec<QueueCommand> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Queue(q) => Some(q.clone()),
            _ => None,
        })
        .collect()
}

fn media(cmds: &[Command]) -> Vec<MediaCommand> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Media(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// A caller the flow put in `support`, answered by the host and hearing
/// the queue's music.
fn queued() -> Call {
    let mut c = Call::anchored();
    c.take();
    c.s.snapshot.tags.push("VIP".into());
    c.decide(vec![enqueue("support", 10, Some(120))]);
    c.s.handle_ack(c.now, CALLER);
    c
}

#[test]
fn an_enqueued_caller_is_answered_joins_with_the_callback_number_and_hears_the_music() {
    let mut c = queued();
    let cmds = c.take();
    assert_eq!(sip(&cmds), vec![(CALLER, "200".into())]);
    assert_eq!(
        queue_cmds(&cmds),
        vec![QueueCommand::Join {
            queue: "support".into(),
            priority: 10,
            skills: vec!["it".into()],
            tags: vec![
                ("VIP".into(), String::new()),
                ("callback-number".into(), "1001".into())
            ],
            max_wait: Some(Duration::from_secs(120)),
        }]
    );
    assert!(media(&cmds).contains(&MediaCommand::QueueMusic {
        leg: CALLER,
        queue: "support".into()
    }));
}

#[test]
fn the_offered_agent_answers_and_is_connected_recorded_and_told_to_the_engine() {
    let mut c = queued();
    c.take();
    let device = c.device("1002", 0);
    c.s.handle_queue_offer(c.now, "1002".into(), vec![device], Vec::new());
    c.collect();
    assert_eq!(c.invites.len(), 1, "the agent's phone rings");
    c.advance(Duration::from_secs(4));
    c.party_answers("1002", 200);
    let cmds = c.take();
    let agent = c.leg("1002").0;
    assert_eq!(
        queue_cmds(&cmds),
        vec![QueueCommand::Answered {
            agent: "1002".into()
        }]
    );
    let m = media(&cmds);
    assert!(m.contains(&MediaCommand::Connect {
        a: CALLER,
        b: agent
    }));
    assert!(m.contains(&MediaCommand::StartRecording { leg: CALLER }));
    // The agent hangs up: the engine hears the queue call ended once.
    c.party_sends("1002", "BYE", 2, "");
    let cmds = c.take();
    assert_eq!(queue_cmds(&cmds), vec![QueueCommand::Ended]);
    c.record_written();
    let r = record(&cmds);
    assert_eq!(r.agent.as_deref(), Some("1002"));
    assert_eq!(r.queue.as_deref(), Some("support"));
    assert_eq!(r.disposition, Disposition::Answered);
}

#[test]
fn an_agent_phone_that_fails_is_reported_once_and_a_cancelled_offer_is_hung_up() {
    let mut c = queued();
    c.take();
    let (d1, d2) = (c.device("1002", 0), c.device("1003", 1));
    c.s.handle_queue_offer(c.now, "1002".into(), vec![d1], Vec::new());
    c.s.handle_queue_offer(c.now, "1003".into(), vec![d2], Vec::new());
    c.collect();
    c.take();
    c.party_answers("1002", 486);
    assert_eq!(
        queue_cmds(&c.take()),
        vec![QueueCommand::OfferFailed {
            agent: "1002".into()
        }]
    );
    c.s.handle_queue_cancel(c.now, &["1003".to_string()]);
    let cmds = c.take();
    let agent = c.leg("1003").0;
    assert!(sip(&cmds).contains(&(agent, "CANCEL".into())));
    assert!(queue_cmds(&cmds).is_empty(), "a cancel is the engine's own");
}

#[test]
fn an_agent_with_no_device_fails_the_offer_at_once() {
    let mut c = queued();
    c.take();
    c.s.handle_queue_offer(c.now, "1003".into(), Vec::new(), Vec::new());
    assert_eq!(
        queue_cmds(&c.take()),
        vec![QueueCommand::OfferFailed {
            agent: "1003".into()
        }]
    );
}

#[test]
fn a_caller_who_hangs_up_while_waiting_is_abandoned_and_not_answered() {
    let mut c = queued();
    c.take();
    c.caller_sends("BYE", 2, "");
    let cmds = c.take();
    assert_eq!(queue_cmds(&cmds), vec![QueueCommand::Abandoned]);
    let r = record(&cmds);
    assert_eq!(r.disposition, Disposition::NoAnswer);
    assert_eq!(r.agent, None);
}

#[test]
fn keys_go_to_the_engine_and_an_announcement_plays_over_the_music() {
    let mut c = queued();
    c.take();
    c.s.handle_digit(c.now, CALLER, '1');
    assert_eq!(queue_cmds(&c.take()), vec![QueueCommand::Key('1')]);
    c.s.handle_queue_announce(c.now, vec![Prompt::File("sy-queue-next".into())]);
    let m = media(&c.take());
    assert_eq!(m[0], MediaCommand::Stop { leg: CALLER });
    let MediaCommand::Play { id, .. } = &m[1] else {
        panic!("the announcement plays: {m:?}");
    };
    c.s.handle_played(c.now, *id);
    assert_eq!(
        media(&c.take()),
        vec![MediaCommand::QueueMusic {
            leg: CALLER,
            queue: "support".into()
        }]
    );
}

#[test]
fn a_timeout_goes_back_to_the_flow_and_a_chosen_callback_says_goodbye() {
    let mut c = queued();
    c.take();
    c.advance(Duration::from_secs(120));
    c.take();
    c.s.handle_queue_exit(c.now, QueueExit::Timeout, Vec::new());
    assert_eq!(
        decides(&c.take()),
        vec![Event::QueueFinished(
            switchyard_plugins::flow_types::QueueResult {
                queue: "support".into(),
                reason: switchyard_plugins::flow_types::QueueExit::Timeout,
                waited_seconds: 120,
                key: None,
            }
        )]
    );
    // The leave key: the flow hears which key.
    let mut c = queued();
    c.take();
    c.s.handle_digit(c.now, CALLER, '0');
    c.s.handle_queue_exit(c.now, QueueExit::Key, Vec::new());
    let e = decides(&c.take());
    assert!(
        matches!(&e[..], [Event::QueueFinished(r)] if r.key.as_deref() == Some("0")),
        "{e:?}"
    );

    let mut c = queued();
    c.take();
    c.s.handle_queue_exit(
        c.now,
        QueueExit::CallbackChosen,
        vec![Prompt::File("sy-callback-confirmed".into())],
    );
    let cmds = c.take();
    assert!(decides(&cmds).is_empty(), "the flow is not asked");
    let id = media(&cmds)
        .iter()
        .find_map(|m| match m {
            MediaCommand::Play { id, .. } => Some(*id),
            _ => None,
        })
        .expect("the confirmation plays");
    c.s.handle_played(c.now, id);
    let cmds = c.take();
    assert!(
        queue_cmds(&cmds).is_empty(),
        "not abandoned: a placeholder waits"
    );
    assert_eq!(record(&cmds).disposition, Disposition::NoAnswer);
}

/// A caller whose number cannot be dialled (here `anonymous`).
fn queued_anonymous() -> Call {
    let mut c = Call::anchored();
    c.take();
    c.s.snapshot.caller.number = "anonymous".into();
    c.decide(vec![enqueue("support", 0, None)]);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    c
}

#[test]
fn a_caller_without_a_number_keys_one_in_for_the_callback() {
    let mut c = queued_anonymous();
    assert_eq!(c.s.callback_number(), None);
    let ask = vec![Prompt::File("sy-callback-enter-number".into())];
    c.s.handle_callback_number_wanted(c.now, ask.clone());
    let cmds = c.take();
    let m = media(&cmds);
    assert_eq!(m[0], MediaCommand::Stop { leg: CALLER }, "the music stops");
    let asked = match &m[1] {
        MediaCommand::Play { prompts, id, .. } if *prompts == ask => *id,
        other => panic!("expected the request, got {other:?}"),
    };
    c.s.handle_played(c.now, asked);
    assert!(media(&c.take()).is_empty(), "silence while keying in");
    // An announcement due meanwhile does not talk over the keying.
    c.s.handle_queue_announce(c.now, vec![Prompt::File("sy-queue-next".into())]);
    assert!(media(&c.take()).is_empty());
    for d in "+15550123".chars().filter(char::is_ascii_digit) {
        c.s.handle_digit(c.now, CALLER, d);
    }
    assert!(
        queue_cmds(&c.take()).is_empty(),
        "digits are not queue keys"
    );
    c.s.handle_digit(c.now, CALLER, '#');
    assert_eq!(
        queue_cmds(&c.take()),
        vec![QueueCommand::CallbackNumber("15550123".into())]
    );
    assert_eq!(c.s.callback_number().as_deref(), Some("15550123"));
}

#[test]
fn keying_in_gives_up_on_star_on_a_pause_and_on_no_digits() {
    let music = MediaCommand::QueueMusic {
        leg: CALLER,
        queue: "support".into(),
    };
    // `*`: back to the music, and keys are queue keys again.
    let mut c = queued_anonymous();
    c.s.handle_callback_number_wanted(c.now, Vec::new());
    c.take();
    c.s.handle_digit(c.now, CALLER, '5');
    c.s.handle_digit(c.now, CALLER, '*');
    assert!(media(&c.take()).contains(&music));
    c.s.handle_digit(c.now, CALLER, '1');
    assert_eq!(queue_cmds(&c.take()), vec![QueueCommand::Key('1')]);
    // `#` with nothing dialable keyed.
    let mut c = queued_anonymous();
    c.s.handle_callback_number_wanted(c.now, Vec::new());
    c.take();
    c.s.handle_digit(c.now, CALLER, '7');
    c.s.handle_digit(c.now, CALLER, '#');
    let cmds = c.take();
    assert!(queue_cmds(&cmds).is_empty());
    assert!(media(&cmds).contains(&music));
    // A pause of 15 s after the last key.
    let mut c = queued_anonymous();
    c.s.handle_callback_number_wanted(c.now, Vec::new());
    c.take();
    c.advance(Duration::from_secs(10));
    c.s.handle_digit(c.now, CALLER, '4');
    c.advance(Duration::from_secs(14));
    assert!(
        !media(&c.take()).contains(&music),
        "each key gives 15 s more"
    );
    c.advance(Duration::from_secs(1));
    assert!(media(&c.take()).contains(&music));
}

#[test]
fn an_anonymous_caller_joins_without_a_callback_number() {
    let mut c = Call::anchored();
    c.take();
    c.s.snapshot.caller.number = "anonymous".into();
    c.decide(vec![enqueue("support", 0, None)]);
    let joins = queue_cmds(&c.take());
    assert!(
        matches!(&joins[..], [QueueCommand::Join { tags, .. }] if tags.is_empty()),
        "{joins:?}"
    );
}

#[test]
fn without_media_a_queue_cannot_hold_the_caller_and_the_flow_hears_overflow() {
    let mut c = Call::new();
    c.take();
    c.decide(vec![enqueue("support", 0, None)]);
    let cmds = c.take();
    assert!(queue_cmds(&cmds).is_empty());
    assert!(matches!(
        &decides(&cmds)[..],
        [Event::QueueFinished(r)] if r.reason == switchyard_plugins::flow_types::QueueExit::NoAgents
    ));
}

#[test]
fn the_agent_hears_the_whisper_before_the_caller_is_connected() {
    let mut c = queued();
    c.take();
    let device = c.device("1002", 0);
    let whisper = vec![Prompt::File("sy-vip".into())];
    c.s.handle_queue_offer(c.now, "1002".into(), vec![device], whisper.clone());
    c.collect();
    c.party_answers("1002", 200);
    let agent = c.leg("1002").0;
    let m = media(&c.take());
    let Some(MediaCommand::Play { leg, prompts, id }) = m
        .iter()
        .find(|m| matches!(m, MediaCommand::Play { .. }))
        .cloned()
    else {
        panic!("a whisper plays: {m:?}");
    };
    assert_eq!((leg, prompts), (agent, whisper));
    assert!(
        !m.iter().any(|m| matches!(m, MediaCommand::Connect { .. })),
        "not connected during the whisper"
    );
    c.s.handle_played(c.now, id);
    let m = media(&c.take());
    assert!(m.contains(&MediaCommand::Connect {
        a: CALLER,
        b: agent
    }));
    assert!(m.contains(&MediaCommand::StartRecording { leg: CALLER }));
}

#[test]
fn an_agent_who_hangs_up_during_the_whisper_sends_the_caller_back_to_the_queue() {
    let mut c = queued();
    c.take();
    let device = c.device("1002", 0);
    c.s.handle_queue_offer(
        c.now,
        "1002".into(),
        vec![device],
        vec![Prompt::Silence(500)],
    );
    c.collect();
    c.party_answers("1002", 200);
    c.take();
    c.party_sends("1002", "BYE", 2, "");
    let q = queue_cmds(&c.take());
    assert_eq!(q[0], QueueCommand::Ended);
    assert!(
        matches!(&q[1], QueueCommand::Join { queue, .. } if queue == "support"),
        "{q:?}"
    );
}

// ---- pickup ---------------------------------------------------------------

/// 1002's phone picking the call up: its own INVITE, as a leg.
fn picker_leg() -> Leg {
    let invite = msg(
        "INVITE sip:**1003@pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.30:5066;branch=z9hG4bKpick\n\
From: <sip:1002@pbx>;tag=picker\nTo: <sip:**1003@pbx>\nCall-ID: p-leg\nCSeq: 1 INVITE\n\
Contact: <sip:1002@192.0.2.30:5066>\nContent-Type: application/sdp\n\nv=0 picker\n",
    );
    Leg::incoming(
        TransactionKey::for_response("z9hG4bKpick", "192.0.2.30:5066", "INVITE"),
        invite,
        peer(5066),
        "<sip:pbx@192.0.2.1>".into(),
        "us2".into(),
        Duration::from_secs(32),
    )
}

#[test]
fn a_pickup_answers_the_picker_stops_the_ringing_phone_and_connects_the_caller() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![dial(&["1003"], DialMode::Simultaneous)]);
    c.devices(&["1003"]);
    assert_eq!(c.s.ringing_labels(), ["1003"]);
    c.take();
    let picker = c.s.adopt(c.now, picker_leg(), "1002".into());
    let cmds = c.take();
    let ringing = c.leg("1003").0;
    let sent = sip(&cmds);
    assert!(sent.contains(&(picker, "200".into())), "{sent:?}");
    assert!(sent.contains(&(ringing, "CANCEL".into())), "{sent:?}");
    assert!(sent.contains(&(CALLER, "200".into())), "{sent:?}");
    assert!(media(&cmds).contains(&MediaCommand::Connect {
        a: CALLER,
        b: picker
    }));
    assert!(c.s.ringing_labels().is_empty());
}

#[test]
fn a_pickup_of_a_queue_offer_answers_it_for_the_agent_and_connects_the_caller() {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![enqueue("support", 0, None)]);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    let device = c.device("1002", 0);
    c.s.handle_queue_offer(c.now, "1002".into(), vec![device], Vec::new());
    c.collect();
    assert_eq!(c.s.ringing_labels(), ["1002"]);
    let ringing = c.leg("1002").0;
    let picker = c.s.adopt(c.now, picker_leg(), "1001".into());
    let cmds = c.take();
    let sent = sip(&cmds);
    assert!(sent.contains(&(picker, "200".into())), "{sent:?}");
    assert!(sent.contains(&(ringing, "CANCEL".into())), "{sent:?}");
    assert_eq!(
        queue_cmds(&cmds),
        vec![QueueCommand::Answered {
            agent: "1002".into()
        }],
        "the engine hears the offer answered, not failed"
    );
    assert!(media(&cmds).contains(&MediaCommand::Connect {
        a: CALLER,
        b: picker
    }));
    assert!(c.s.ringing_labels().is_empty());
}

#[test]
fn a_call_that_no_longer_rings_refuses_the_picker_with_480() {
    let mut c = Call::anchored();
    c.take();
    let picker = c.s.adopt(c.now, picker_leg(), "1002".into());
    assert_eq!(sip(&c.take()), vec![(picker, "480".into())]);
}

mod attended;
mod conference;
mod monitor;
mod three_way;
