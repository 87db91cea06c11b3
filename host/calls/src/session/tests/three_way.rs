//! Three-way calling on a fake clock: 1001 talks with 1002, who keys
//! `*3 1003 #`; the driver's device lookup is played by hand.

use super::*;

fn talking() -> (Call, LegId) {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![dial(&["1002"], DialMode::Simultaneous)]);
    c.devices(&["1002"]);
    c.party_answers("1002", 200);
    c.s.handle_ack(c.now, CALLER);
    c.take();
    let agent = c.leg("1002").0;
    (c, agent)
}

fn added(cmds: &[Command]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::AddParty { target } => Some(target.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_agent_keys_star_three_and_a_number_and_the_first_device_to_answer_joins() {
    let (mut c, agent) = talking();
    for k in "*31003#".chars() {
        c.s.handle_digit(c.now, agent, k);
    }
    assert_eq!(added(&c.take()), ["1003"]);
    // Too slow between keys: it starts over.
    c.s.handle_digit(c.now, agent, '*');
    c.s.handle_digit(c.now, agent, '3');
    c.advance(Duration::from_secs(11));
    c.s.handle_digit(c.now, agent, '5');
    c.s.handle_digit(c.now, agent, '#');
    assert!(added(&c.take()).is_empty());

    let devices = vec![c.device("1003", 3), c.device("1003", 4)];
    assert!(c.s.add_parties(c.now, devices));
    let cmds = c.take();
    let rung: Vec<LegId> = sip(&cmds)
        .into_iter()
        .filter(|(_, m)| m == "INVITE")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(rung.len(), 2);
    c.party_answers("1003", 200);
    let cmds = c.take();
    let third = c.leg("1003").0;
    let other = *rung.iter().find(|l| **l != third).unwrap();
    assert!(sip(&cmds).contains(&(other, "CANCEL".into())), "{cmds:?}");
    assert!(media(&cmds).contains(&MediaCommand::Connect {
        a: CALLER,
        b: third
    }));
    assert!(
        cmds.contains(&Command::Joined {
            label: "1003".into()
        }),
        "the driver hears who joined (busy for its queues)"
    );
    // The agent drops out: the caller and 1003 go on.
    c.party_sends("1002", "BYE", 2, "");
    let cmds = c.take();
    assert!(!cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));
    assert!(cmds.contains(&Command::Media(MediaCommand::Disconnect { leg: agent })));
}

#[test]
fn nothing_to_ring_or_no_bridge_adds_nobody() {
    let (mut c, _) = talking();
    assert!(!c.s.add_parties(c.now, Vec::new()));
    let mut c2 = Call::anchored();
    let dev = c2.device("1003", 3);
    assert!(!c2.s.add_parties(c2.now, vec![dev]));
    let _ = c.take();
}
