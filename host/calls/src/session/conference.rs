//! A caller in a conference room (the flow's `conference` action).
//!
//! The room itself — who is in it, moderators, locks, the mix — is the
//! tenant's conference service's (`crate::conference`); this is the
//! caller's side: the host answers, asks for the room's PIN when it has
//! one (three tries, `#` ends one), then asks the service to let the
//! caller in. In the room the caller's keys are `*6` to mute and unmute
//! themselves; anything else is ignored. The call ends when the caller
//! hangs up, is removed (kick) or the room ends (its moderator left).

use std::time::{Duration, Instant};

use switchyard_plugins::flow_types::{Conference, Prompt};

use super::{Command, HangupSide, MediaCommand, Phase, Session};
use crate::calls_in_progress::CallState;

/// Tries a caller gets at the PIN.
const PIN_TRIES: u8 = 3;
/// How long a caller has to key in the PIN after the prompt.
const PIN_TIME: Duration = Duration::from_secs(15);
/// `*` then `6` within this is the mute key.
const MUTE_KEY_GAP: Duration = Duration::from_secs(2);

/// What the session asks the tenant's conference service.
#[derive(Debug, Clone, PartialEq)]
pub enum ConferenceCommand {
    /// The caller wants to join `room` (the flow's action): tell the
    /// session the room's PIN for this caller and whether they moderate
    /// ([`Session::handle_conference_setup`]). `invited`: the host
    /// dialled this party into the room (the API), so no PIN is asked.
    Enter {
        conference: Conference,
        invited: bool,
    },
    /// Let the caller in (PIN right, or none): answer with
    /// [`Session::handle_conference_joined`] or
    /// [`Session::handle_conference_refused`].
    Join {
        room: String,
        moderator: bool,
        muted: bool,
    },
    /// The caller pressed `*6`.
    ToggleMute,
    /// The caller left (hung up).
    Leave,
}

#[derive(Debug)]
pub(super) struct InRoom {
    room: String,
    moderator: bool,
    muted: bool,
    step: Step,
}

#[derive(Debug)]
enum Step {
    /// Waiting for the service's answer to `Enter`.
    Asking,
    /// Keying in the PIN.
    Pin {
        expected: String,
        typed: String,
        tries: u8,
        deadline: Instant,
    },
    /// Waiting for the service to let the caller in.
    Joining,
    /// In the room; `star` is when `*` was pressed last.
    In { star: Option<Instant> },
    /// Refused: the prompt `id` plays, then the call ends.
    Leaving { id: u64 },
}

impl Session {
    /// The flow's `conference` action: answer and ask the service.
    pub(super) fn conference(&mut self, now: Instant, c: Conference) {
        if !self.answer_caller(now) {
            tracing::warn!(call = %self.snapshot.call_id, room = %c.room, "a conference needs anchored media");
            return self.end(now, HangupSide::System);
        }
        self.phase = Phase::Conference(InRoom {
            room: c.room.clone(),
            moderator: c.moderator,
            muted: c.muted,
            step: Step::Asking,
        });
        // The host dialled the first party (its leg is in the record's
        // legs): it was invited.
        let invited = self
            .parties
            .get(&self.caller)
            .is_some_and(|p| p.record.is_some());
        self.commands
            .push_back(Command::Conference(ConferenceCommand::Enter {
                conference: c,
                invited,
            }));
    }

    /// The service's answer to `Enter`: the PIN the caller must key in
    /// (`None`: none) and whether they moderate.
    pub fn handle_conference_setup(&mut self, now: Instant, pin: Option<String>, moderator: bool) {
        let Phase::Conference(r) = &mut self.phase else {
            return;
        };
        r.moderator |= moderator;
        match pin {
            Some(expected) => {
                r.step = Step::Pin {
                    expected,
                    typed: String::new(),
                    tries: 0,
                    deadline: now + PIN_TIME,
                };
                self.ask_pin(now, false);
            }
            None => self.join_room(),
        }
        self.pump(now);
    }

    fn ask_pin(&mut self, now: Instant, again: bool) {
        let mut prompts = Vec::new();
        if again {
            prompts.push(Prompt::File("sy-conf-bad-pin".into()));
        }
        prompts.push(Prompt::File("sy-conf-pin".into()));
        let caller = self.caller;
        self.play(caller, prompts);
        if let Phase::Conference(InRoom {
            step: Step::Pin { deadline, .. },
            ..
        }) = &mut self.phase
        {
            // Counted from the prompt's start: time to hear it and key in.
            *deadline = now + PIN_TIME;
        }
    }

    fn join_room(&mut self) {
        let Phase::Conference(r) = &mut self.phase else {
            return;
        };
        r.step = Step::Joining;
        let join = ConferenceCommand::Join {
            room: r.room.clone(),
            moderator: r.moderator,
            muted: r.muted,
        };
        self.commands.push_back(Command::Conference(join));
    }

    /// The caller is in the room (`muted` as it joined).
    pub fn handle_conference_joined(&mut self, now: Instant, muted: bool) {
        if let Phase::Conference(r) = &mut self.phase {
            r.muted = muted;
            r.step = Step::In { star: None };
            tracing::info!(call = %self.snapshot.call_id, room = %r.room, moderator = r.moderator, muted, "in the conference");
            self.live(CallState::Conference, None);
        }
        self.pump(now);
    }

    /// The room would not take the caller: `prompt` says why, then the
    /// call ends.
    pub fn handle_conference_refused(&mut self, now: Instant, prompt: &str) {
        if !matches!(self.phase, Phase::Conference(_)) {
            return;
        }
        let caller = self.caller;
        let id = self.play(caller, vec![Prompt::File(prompt.into())]);
        if let Phase::Conference(r) = &mut self.phase {
            r.step = Step::Leaving { id };
        }
        self.pump(now);
    }

    /// The caller was removed from the room, or the room ended.
    pub fn handle_conference_ended(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Conference(_)) {
            // The service knows already: no `Leave`.
            self.phase = Phase::Deciding;
            self.end(now, HangupSide::System);
        }
        self.pump(now);
    }

    /// A key of the caller in the conference; true when it was one.
    pub(super) fn conference_digit(&mut self, now: Instant, digit: char) -> bool {
        enum Then {
            Nothing,
            Join,
            WrongPin,
            ToggleMute,
        }
        let Phase::Conference(r) = &mut self.phase else {
            return false;
        };
        let then = match &mut r.step {
            Step::Pin {
                expected,
                typed,
                tries,
                ..
            } => {
                if digit != '#' {
                    typed.push(digit);
                }
                if digit != '#' && typed.len() < expected.len() {
                    Then::Nothing
                } else if typed == expected {
                    Then::Join
                } else {
                    *tries += 1;
                    typed.clear();
                    Then::WrongPin
                }
            }
            Step::In { star } => match digit {
                '*' => {
                    *star = Some(now);
                    Then::Nothing
                }
                '6' if star
                    .take()
                    .is_some_and(|t| now.duration_since(t) <= MUTE_KEY_GAP) =>
                {
                    Then::ToggleMute
                }
                _ => {
                    *star = None;
                    Then::Nothing
                }
            },
            _ => Then::Nothing,
        };
        match then {
            Then::Nothing => {}
            Then::Join => {
                let caller = self.caller;
                self.media(MediaCommand::Stop { leg: caller });
                self.join_room();
            }
            Then::WrongPin => self.pin_failed(now),
            Then::ToggleMute => self
                .commands
                .push_back(Command::Conference(ConferenceCommand::ToggleMute)),
        }
        true
    }

    fn pin_failed(&mut self, now: Instant) {
        let Phase::Conference(InRoom {
            step: Step::Pin { tries, .. },
            room,
            ..
        }) = &self.phase
        else {
            return;
        };
        if *tries >= PIN_TRIES {
            tracing::info!(call = %self.snapshot.call_id, %room, "conference PIN wrong three times");
            self.handle_conference_refused(now, "sy-conf-bad-pin");
        } else {
            self.ask_pin(now, true);
        }
    }

    /// The muted state the service set (by `*6` or the API).
    pub fn handle_conference_muted(&mut self, muted: bool) {
        if let Phase::Conference(r) = &mut self.phase {
            r.muted = muted;
        }
    }

    /// When keying in the PIN runs out.
    pub(super) fn conference_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Conference(InRoom {
                step: Step::Pin { deadline, .. },
                ..
            }) => Some(*deadline),
            _ => None,
        }
    }

    pub(super) fn conference_timeout(&mut self, now: Instant) {
        if let Phase::Conference(InRoom {
            step:
                Step::Pin {
                    deadline,
                    tries,
                    typed,
                    ..
                },
            ..
        }) = &mut self.phase
            && now >= *deadline
        {
            *tries += 1;
            typed.clear();
            self.pin_failed(now);
        }
    }

    /// Prompt `id` ended: a refused caller's goodbye is over.
    pub(super) fn conference_played(&mut self, now: Instant, id: u64) -> bool {
        if let Phase::Conference(InRoom {
            step: Step::Leaving { id: p },
            ..
        }) = &self.phase
            && *p == id
        {
            self.phase = Phase::Deciding;
            self.end(now, HangupSide::System);
            return true;
        }
        false
    }

    /// The call ends: a caller in (or joining) a room leaves it.
    pub(super) fn conference_ending(&mut self) {
        if let Phase::Conference(InRoom {
            step: Step::Joining | Step::In { .. },
            ..
        }) = &self.phase
        {
            self.commands
                .push_back(Command::Conference(ConferenceCommand::Leave));
        }
    }

    /// The room the caller is in (or joining), for the live view.
    pub fn conference_room(&self) -> Option<&str> {
        match &self.phase {
            Phase::Conference(r) => Some(&r.room),
            _ => None,
        }
    }
}
