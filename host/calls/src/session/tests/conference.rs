//! A caller on the way into (and in) a conference room, on a fake clock;
//! the conference service's answers are played by hand.

use super::*;
use crate::session::ConferenceCommand;
use switchyard_plugins::flow_types::Conference;

fn conference_cmds(cmds: &[Command]) -> Vec<ConferenceCommand> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Conference(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

fn played(cmds: &[Command]) -> Vec<(u64, Vec<Prompt>)> {
    media(cmds)
        .into_iter()
        .filter_map(|m| match m {
            MediaCommand::Play { prompts, id, .. } => Some((id, prompts)),
            _ => None,
        })
        .collect()
}

/// The flow sends the caller to `board`; the host answers and asks.
fn entering() -> Call {
    let mut c = Call::anchored();
    c.take();
    c.decide(vec![Action::Conference(Conference {
        room: "board".into(),
        moderator: false,
        muted: false,
    })]);
    let cmds = c.take();
    assert!(
        sip(&cmds).contains(&(CALLER, "200".into())),
        "answered: {cmds:?}"
    );
    assert!(matches!(
        conference_cmds(&cmds)[..],
        [ConferenceCommand::Enter { conference: Conference { ref room, .. }, invited: false }]
            if room == "board"
    ));
    c.s.handle_ack(c.now, CALLER);
    c
}

fn join_of(cmds: &[Command]) -> Option<(String, bool)> {
    conference_cmds(cmds).into_iter().find_map(|x| match x {
        ConferenceCommand::Join {
            room, moderator, ..
        } => Some((room, moderator)),
        _ => None,
    })
}

#[test]
fn the_pin_is_asked_until_right_and_then_the_caller_joins() {
    let mut c = entering();
    c.s.handle_conference_setup(c.now, Some("1234".into()), false);
    let cmds = c.take();
    assert_eq!(played(&cmds)[0].1, [Prompt::File("sy-conf-pin".into())]);
    for d in "1111".chars() {
        c.s.handle_digit(c.now, CALLER, d);
    }
    let cmds = c.take();
    assert_eq!(
        played(&cmds)[0].1,
        [
            Prompt::File("sy-conf-bad-pin".into()),
            Prompt::File("sy-conf-pin".into())
        ]
    );
    assert_eq!(join_of(&cmds), None);
    // `#` ends a try early; the right PIN stops the prompt and joins.
    for d in "12#".chars() {
        c.s.handle_digit(c.now, CALLER, d);
    }
    assert_eq!(join_of(&c.take()), None, "12 is wrong too");
    for d in "1234".chars() {
        c.s.handle_digit(c.now, CALLER, d);
    }
    let cmds = c.take();
    assert!(media(&cmds).contains(&MediaCommand::Stop { leg: CALLER }));
    assert_eq!(join_of(&cmds), Some(("board".into(), false)));
    c.s.handle_conference_joined(c.now, false);
    c.take();
    // *6 within two seconds toggles the mute; 6 alone, or late, does not.
    c.s.handle_digit(c.now, CALLER, '6');
    c.s.handle_digit(c.now, CALLER, '*');
    c.advance(Duration::from_secs(3));
    c.s.handle_digit(c.now, CALLER, '6');
    assert!(conference_cmds(&c.take()).is_empty());
    c.s.handle_digit(c.now, CALLER, '*');
    c.s.handle_digit(c.now, CALLER, '6');
    assert_eq!(conference_cmds(&c.take()), [ConferenceCommand::ToggleMute]);
    // Hanging up leaves the room.
    c.caller_sends("BYE", 2, "");
    let cmds = c.take();
    assert_eq!(conference_cmds(&cmds), [ConferenceCommand::Leave]);
    assert!(cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));
}

#[test]
fn three_wrong_pins_or_no_pin_in_time_end_the_call_after_saying_so() {
    let mut c = entering();
    c.s.handle_conference_setup(c.now, Some("1234".into()), false);
    c.take();
    // Two tries run out of time, the third is wrong.
    c.advance(Duration::from_secs(15));
    c.advance(Duration::from_secs(15));
    c.take();
    for d in "9999".chars() {
        c.s.handle_digit(c.now, CALLER, d);
    }
    let cmds = c.take();
    let (id, prompts) = played(&cmds).pop().unwrap();
    assert_eq!(prompts, [Prompt::File("sy-conf-bad-pin".into())]);
    assert!(!cmds.iter().any(|x| matches!(x, Command::WriteRecord(_))));
    c.s.handle_played(c.now, id);
    let cmds = c.take();
    assert!(conference_cmds(&cmds).is_empty(), "never in: no leave");
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "BYE".into())));
}

#[test]
fn a_moderator_joins_without_a_pin_and_a_full_room_is_said_so() {
    let mut c = entering();
    c.s.handle_conference_setup(c.now, None, true);
    assert_eq!(join_of(&c.take()), Some(("board".into(), true)));
    c.s.handle_conference_refused(c.now, "sy-conf-full");
    let (id, prompts) = played(&c.take()).pop().unwrap();
    assert_eq!(prompts, [Prompt::File("sy-conf-full".into())]);
    c.s.handle_played(c.now, id);
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "BYE".into())));
}

#[test]
fn a_kicked_participant_is_hung_up_without_leaving_again() {
    let mut c = entering();
    c.s.handle_conference_setup(c.now, None, false);
    c.s.handle_conference_joined(c.now, true);
    c.take();
    c.s.handle_conference_ended(c.now);
    let cmds = c.take();
    assert!(conference_cmds(&cmds).is_empty());
    c.record_written();
    assert!(sip(&c.take()).contains(&(CALLER, "BYE".into())));
}
