//! Supervision on a fake clock: 1001 called 1002, who answered; 1003's
//! phone dials `*551002` and the driver hands its INVITE to this call.

use super::*;
use crate::session::MonitorMode;

/// 1001 talking with 1002, with anchored media.
fn talking() -> Call {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 200);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    c
}

/// 1003's phone dialling `*551002`: its own INVITE, as a leg.
fn supervisor_leg() -> Leg {
    let invite = msg(
        "INVITE sip:*551002@pbx SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.40:5068;branch=z9hG4bKspy\n\
From: <sip:1003@pbx>;tag=spy\nTo: <sip:*551002@pbx>\nCall-ID: s-leg\nCSeq: 1 INVITE\n\
Contact: <sip:1003@192.0.2.40:5068>\nContent-Type: application/sdp\n\nv=0 supervisor\n",
    );
    Leg::incoming(
        TransactionKey::for_response("z9hG4bKspy", "192.0.2.40:5068", "INVITE"),
        invite,
        peer(5068),
        "<sip:pbx@192.0.2.1>".into(),
        "us3".into(),
        Duration::from_secs(32),
    )
}

/// 1003's phone, dialling `*55` + `agent`, handed to the call.
fn supervise(c: &mut Call, agent: &str, mode: MonitorMode) -> LegId {
    c.s.monitor(c.now, supervisor_leg(), "1003".into(), agent.into(), mode)
}

/// Who hears the supervisor, as the commands set it.
fn heard(cmds: &[Command], sup: LegId) -> Vec<(LegId, bool)> {
    media(cmds)
        .into_iter()
        .filter_map(|m| match m {
            MediaCommand::Hears {
                listener,
                source,
                on,
            } if source == sup => Some((listener, on)),
            _ => None,
        })
        .collect()
}

fn monitoring(cmds: &[Command]) -> Vec<Option<MonitorMode>> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Monitoring { mode, .. } => Some(*mode),
            _ => None,
        })
        .collect()
}

#[test]
fn a_supervisor_listens_then_whispers_to_the_agent_then_barges_and_the_keys_stay_theirs() {
    let mut c = talking();
    let agent = c.leg("1002").0;
    let sup = supervise(&mut c, "1002", MonitorMode::Listen);
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(sup, "200".into())), "{cmds:?}");
    // Joined next to the agent, then nobody hears the supervisor.
    let joined = media(&cmds)
        .iter()
        .position(|m| *m == MediaCommand::Connect { a: agent, b: sup })
        .expect("joins the bridge");
    let first_hears = media(&cmds)
        .iter()
        .position(|m| matches!(m, MediaCommand::Hears { .. }))
        .unwrap();
    assert!(joined < first_hears, "the matrix follows the join");
    assert_eq!(heard(&cmds, sup), [(CALLER, false), (agent, false)]);
    assert_eq!(monitoring(&cmds), [Some(MonitorMode::Listen)]);

    // 5: whisper — the agent hears the supervisor, the caller does not.
    c.s.handle_digit(c.now, sup, '5');
    let cmds = c.take();
    assert_eq!(heard(&cmds, sup), [(CALLER, false), (agent, true)]);
    assert_eq!(monitoring(&cmds), [Some(MonitorMode::Whisper)]);
    assert!(
        decides(&cmds).is_empty(),
        "a supervisor's key is not the flow's"
    );
    // 6: barge — everybody hears everybody.
    c.advance(Duration::from_secs(2));
    c.s.handle_digit(c.now, sup, '6');
    assert_eq!(heard(&c.take(), sup), [(CALLER, true), (agent, true)]);
    // The same mode again, or another key: nothing changes.
    c.s.handle_digit(c.now, sup, '6');
    c.s.handle_digit(c.now, sup, '1');
    assert!(heard(&c.take(), sup).is_empty());
    // 4: back to listening.
    c.s.handle_digit(c.now, sup, '4');
    assert_eq!(heard(&c.take(), sup), [(CALLER, false), (agent, false)]);

    // The caller hangs up: the call ends for the supervisor too, and the
    // record says who monitored, how, for how long.
    c.advance(Duration::from_secs(3));
    c.caller_sends("BYE", 2, "");
    let cmds = c.take();
    let r = record(&cmds);
    assert_eq!(r.monitors.len(), 1);
    let m = &r.monitors[0];
    assert_eq!((m.supervisor.as_str(), m.agent.as_str()), ("1003", "1002"));
    assert_eq!(
        m.modes,
        [
            MonitorMode::Listen,
            MonitorMode::Whisper,
            MonitorMode::Barge,
            MonitorMode::Listen
        ]
    );
    assert_eq!(m.end_time - m.start_time, 5_000);
    c.record_written();
    assert!(sip(&c.take()).contains(&(sup, "BYE".into())));
}

#[test]
fn a_supervisor_who_hangs_up_leaves_the_call_going_with_their_time_stamped() {
    let mut c = talking();
    let sup = supervise(&mut c, "1002", MonitorMode::Whisper);
    c.take();
    c.s.handle_ack(c.now, sup);
    c.advance(Duration::from_secs(4));
    let bye = msg(
        "BYE sip:pbx@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.40:5068;branch=z9hG4bKspybye\n\
From: <sip:1003@pbx>;tag=spy\nTo: <sip:*551002@pbx>;tag=us3\nCall-ID: s-leg\nCSeq: 2 BYE\n\n",
    );
    assert_eq!(c.s.leg_of(&bye), Some(sup));
    c.s.handle_request(c.now, sup, key("z9hG4bKspybye", "BYE"), bye);
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(sup, "200".into())), "{cmds:?}");
    assert!(media(&cmds).contains(&MediaCommand::Close { leg: sup }));
    assert_eq!(monitoring(&cmds), [None]);
    assert!(
        !cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))),
        "the call goes on"
    );
    c.advance(Duration::from_secs(10));
    c.caller_sends("BYE", 2, "");
    let r = record(&c.take());
    assert_eq!(r.monitors[0].end_time - r.monitors[0].start_time, 4_000);
    assert_eq!(r.monitors[0].modes, [MonitorMode::Whisper]);
}

#[test]
fn a_call_the_agent_is_not_in_refuses_the_supervisor_with_480() {
    let mut c = talking();
    let sup = supervise(&mut c, "1009", MonitorMode::Listen);
    assert_eq!(sip(&c.take()), vec![(sup, "480".into())]);
    let mut c = Call::anchored();
    c.take();
    let sup = supervise(&mut c, "1001", MonitorMode::Listen);
    assert_eq!(
        sip(&c.take()),
        vec![(sup, "480".into())],
        "not talking yet: nothing to monitor"
    );
}

#[test]
fn a_party_dialled_in_later_does_not_hear_a_listening_supervisor() {
    let mut c = talking();
    let sup = supervise(&mut c, "1002", MonitorMode::Listen);
    c.take();
    let dev = c.device("1004", 4);
    let l4 = c.s.add_party(c.now, dev).unwrap();
    c.collect();
    c.party_answers("1004", 200);
    let cmds = c.take();
    assert!(heard(&cmds, sup).contains(&(l4, false)), "{cmds:?}");
}

#[test]
fn the_api_rings_the_supervisors_phones_and_the_first_to_answer_listens() {
    let mut c = talking();
    let agent = c.leg("1002").0;
    let devices = vec![c.device("1003", 3), c.device("1003", 4)];
    assert!(c.s.monitor_by_dialling(c.now, devices, "1002".into(), MonitorMode::Listen));
    let cmds = c.take();
    let rung: Vec<LegId> = sip(&cmds)
        .into_iter()
        .filter(|(_, m)| m == "INVITE")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(rung.len(), 2, "{cmds:?}");
    c.party_answers("1003", 200);
    let cmds = c.take();
    let sup = c.leg("1003").0;
    let other = *rung.iter().find(|l| **l != sup).unwrap();
    assert!(sip(&cmds).contains(&(other, "CANCEL".into())), "{cmds:?}");
    assert!(media(&cmds).contains(&MediaCommand::Connect { a: agent, b: sup }));
    assert_eq!(heard(&cmds, sup), [(CALLER, false), (agent, false)]);
    // Not a leg of the record: the call's dial targets stay as they were.
    c.caller_sends("BYE", 2, "");
    let r = record(&c.take());
    assert_eq!(r.legs.len(), 1);
    assert_eq!(r.monitors[0].supervisor, "1003");
}

#[test]
fn a_supervisors_phone_that_rings_out_stops_and_nobody_joins() {
    let mut c = talking();
    let devices = vec![c.device("1003", 3)];
    assert!(c.s.monitor_by_dialling(c.now, devices, "1002".into(), MonitorMode::Barge));
    c.take();
    let ringing = c.leg("1003").0;
    assert!(c.s.poll_timeout().unwrap() <= c.now + Duration::from_secs(30));
    c.advance(Duration::from_secs(30));
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(ringing, "CANCEL".into())), "{cmds:?}");
    assert!(monitoring(&cmds).is_empty());
    // Nobody to monitor, or no phone: nothing rings.
    let devices = vec![c.device("1003", 3)];
    assert!(!c.s.monitor_by_dialling(c.now, devices, "1009".into(), MonitorMode::Listen));
    assert!(!c.s.monitor_by_dialling(c.now, Vec::new(), "1002".into(), MonitorMode::Listen));
}

#[test]
fn a_supervisor_is_hung_up_when_the_agent_they_supervise_transfers_the_caller_away() {
    let mut c = talking();
    let sup = supervise(&mut c, "1002", MonitorMode::Listen);
    c.take();
    c.s.handle_ack(c.now, sup);
    c.advance(Duration::from_secs(2));
    c.s.handle_transfer(
        c.now,
        crate::session::TransferTarget::Extension("1004".into()),
    )
    .expect("a call between the caller and one agent");
    let cmds = c.take();
    assert!(sip(&cmds).contains(&(sup, "BYE".into())), "{cmds:?}");
    assert_eq!(monitoring(&cmds), [None]);
    // The caller is not hung up: the transfer goes on.
    assert!(!sip(&cmds).contains(&(CALLER, "BYE".into())));
}

#[test]
fn when_the_agent_hangs_up_the_supervisors_bye_waits_for_the_record_like_the_callers() {
    let mut c = talking();
    let sup = supervise(&mut c, "1002", MonitorMode::Whisper);
    c.take();
    c.s.handle_ack(c.now, sup);
    c.party_sends("1002", "BYE", 2, "");
    let cmds = c.take();
    assert!(cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));
    assert!(!sip(&cmds).contains(&(sup, "BYE".into())), "held: {cmds:?}");
    c.record_written();
    let sent = sip(&c.take());
    assert!(sent.contains(&(sup, "BYE".into())), "{sent:?}");
    assert!(sent.contains(&(CALLER, "BYE".into())), "{sent:?}");
}
