//! Serving components built against `switchyard:plugin@0.1.0`: the host's
//! types are the 0.2.0 ones; these functions convert what a 0.1.0 component
//! is given (events, queue data) and what it answers (decisions).
//!
//! * Events: `queue-finished` did not exist in 0.1.0. A 0.1.0 flow gets the
//!   event it knew instead: reason `timeout` → `queue-timeout(queue)`;
//!   `full`, `no-agents`, `empty`, `key` → `queue-overflow(queue)`. The other
//!   reasons (`answered`, `abandoned`, `callback-*`) are never sent to a
//!   flow (the WIT says so); should one be, a 0.1.0 flow is not asked and
//!   its state is kept ([`event_v0_1`] returns `None`).
//! * Queue data: the fields added in 0.2.0 are dropped.
//! * Decisions: `decision` is the same in both versions; converted case by
//!   case so that a change to it in a later version fails to compile here.

use crate::bindings::v0_1::{flow_types as old, queue_types as old_queue};
use crate::bindings::{flow_types as now, queue_types as now_queue};

/// The 0.1.0 event for `e`, or `None` when 0.1.0 has none (see the module
/// docs).
pub(crate) fn event_v0_1(e: &now::Event) -> Option<old::Event> {
    Some(match e {
        now::Event::CallStarted => old::Event::CallStarted,
        now::Event::Digits(g) => old::Event::Digits(old::Gathered {
            digits: g.digits.clone(),
            finished_by_key: g.finished_by_key,
        }),
        now::Event::GatherTimeout => old::Event::GatherTimeout,
        now::Event::DialFinished(r) => old::Event::DialFinished(old::DialResult {
            outcome: match r.outcome {
                now::DialOutcome::Answered => old::DialOutcome::Answered,
                now::DialOutcome::Busy => old::DialOutcome::Busy,
                now::DialOutcome::NoAnswer => old::DialOutcome::NoAnswer,
                now::DialOutcome::Failed => old::DialOutcome::Failed,
                now::DialOutcome::Cancelled => old::DialOutcome::Cancelled,
            },
            answered_by: r.answered_by.clone(),
            sip_code: r.sip_code,
            talk_seconds: r.talk_seconds,
        }),
        now::Event::PlayFinished => old::Event::PlayFinished,
        now::Event::RecordFinished(r) => old::Event::RecordFinished(old::Recording {
            id: r.id.clone(),
            duration_ms: r.duration_ms,
            finished_by_key: r.finished_by_key.clone(),
        }),
        now::Event::QueueTimeout(q) => old::Event::QueueTimeout(q.clone()),
        now::Event::QueueOverflow(q) => old::Event::QueueOverflow(q.clone()),
        now::Event::TransferResult(t) => old::Event::TransferResult(old::TransferResult {
            outcome: match t.outcome {
                now::TransferOutcome::Completed => old::TransferOutcome::Completed,
                now::TransferOutcome::Failed => old::TransferOutcome::Failed,
            },
            sip_code: t.sip_code,
        }),
        now::Event::Hangup(h) => old::Event::Hangup(old::HangupInfo {
            by: match h.by {
                now::HangupBy::Caller => old::HangupBy::Caller,
                now::HangupBy::Callee => old::HangupBy::Callee,
                now::HangupBy::System => old::HangupBy::System,
            },
            at: h.at,
            sip_code: h.sip_code,
        }),
        now::Event::QueueFinished(r) => match r.reason {
            now::QueueExit::Timeout => old::Event::QueueTimeout(r.queue.clone()),
            now::QueueExit::Full
            | now::QueueExit::NoAgents
            | now::QueueExit::Empty
            | now::QueueExit::Key => old::Event::QueueOverflow(r.queue.clone()),
            now::QueueExit::Answered
            | now::QueueExit::Abandoned
            | now::QueueExit::CallbackChosen
            | now::QueueExit::CallbackFailed => return None,
        },
    })
}

fn prompt(p: old::Prompt) -> now::Prompt {
    match p {
        old::Prompt::File(f) => now::Prompt::File(f),
        old::Prompt::Tone(t) => now::Prompt::Tone(match t {
            old::Tone::Ringback => now::Tone::Ringback,
            old::Tone::Busy => now::Tone::Busy,
            old::Tone::Beep => now::Tone::Beep,
            old::Tone::Congestion => now::Tone::Congestion,
        }),
        old::Prompt::Say(s) => now::Prompt::Say(s),
        old::Prompt::Silence(ms) => now::Prompt::Silence(ms),
    }
}

fn prompts(p: Vec<old::Prompt>) -> Vec<now::Prompt> {
    p.into_iter().map(prompt).collect()
}

fn target(t: old::DialTarget) -> now::DialTarget {
    match t {
        old::DialTarget::Extension(s) => now::DialTarget::Extension(s),
        old::DialTarget::RingGroup(s) => now::DialTarget::RingGroup(s),
        old::DialTarget::Number(s) => now::DialTarget::Number(s),
        old::DialTarget::SipUri(s) => now::DialTarget::SipUri(s),
    }
}

fn action(a: old::Action) -> now::Action {
    match a {
        old::Action::Answer => now::Action::Answer,
        old::Action::Play(p) => now::Action::Play(prompts(p)),
        old::Action::Gather(g) => now::Action::Gather(now::Gather {
            prompts: prompts(g.prompts),
            max_digits: g.max_digits,
            finish_on_key: g.finish_on_key,
            first_digit_timeout_ms: g.first_digit_timeout_ms,
            inter_digit_timeout_ms: g.inter_digit_timeout_ms,
        }),
        old::Action::Dial(d) => now::Action::Dial(now::Dial {
            targets: d.targets.into_iter().map(target).collect(),
            mode: match d.mode {
                old::DialMode::Simultaneous => now::DialMode::Simultaneous,
                old::DialMode::Sequential => now::DialMode::Sequential,
            },
            ring_timeout_secs: d.ring_timeout_secs,
            caller_id: d.caller_id,
        }),
        old::Action::Enqueue(e) => now::Action::Enqueue(now::Enqueue {
            queue: e.queue,
            priority: e.priority,
            skills: e.skills,
            timeout_secs: e.timeout_secs,
        }),
        old::Action::Voicemail(v) => now::Action::Voicemail(now::Voicemail {
            mailbox: v.mailbox,
            greeting: v.greeting.map(prompt),
        }),
        old::Action::RecordAudio(r) => now::Action::RecordAudio(now::RecordAudio {
            max_seconds: r.max_seconds,
            finish_on_key: r.finish_on_key,
            beep: r.beep,
        }),
        old::Action::Conference(c) => now::Action::Conference(now::Conference {
            room: c.room,
            moderator: c.moderator,
            muted: c.muted,
        }),
        old::Action::Transfer(t) => now::Action::Transfer(now::Transfer {
            target: target(t.target),
        }),
        old::Action::SetTag(t) => now::Action::SetTag(t),
        old::Action::Pause(ms) => now::Action::Pause(ms),
        old::Action::Reject(r) => now::Action::Reject(match r {
            old::RejectReason::Busy => now::RejectReason::Busy,
            old::RejectReason::Decline => now::RejectReason::Decline,
            old::RejectReason::Unavailable => now::RejectReason::Unavailable,
        }),
        old::Action::Hangup => now::Action::Hangup,
        old::Action::GotoFlow(f) => now::Action::GotoFlow(f),
    }
}

/// A 0.1.0 flow's decision as the host's type.
pub(crate) fn decision(d: old::Decision) -> now::Decision {
    now::Decision {
        actions: d.actions.into_iter().map(action).collect(),
        state: d.state,
    }
}

/// The queue as a 0.1.0 strategy sees it (`agents-logged-in` dropped).
pub(crate) fn queue_info(q: &now_queue::QueueInfo) -> old_queue::QueueInfo {
    old_queue::QueueInfo {
        name: q.name.clone(),
        waiting: q.waiting,
    }
}

/// The waiting call as a 0.1.0 strategy sees it (`contact` and `callback`
/// dropped).
pub(crate) fn waiting_call(c: &now_queue::WaitingCall) -> old_queue::WaitingCall {
    old_queue::WaitingCall {
        call: c.call.clone(),
        skills: c.skills.clone(),
        priority: c.priority,
        waited_seconds: c.waited_seconds,
        last_agent: c.last_agent.clone(),
    }
}

/// A candidate as a 0.1.0 strategy sees it (`skill-levels`, `penalty` and
/// `idle-since` dropped).
pub(crate) fn candidate(a: &now_queue::AgentCandidate) -> old_queue::AgentCandidate {
    old_queue::AgentCandidate {
        id: a.id.clone(),
        skills: a.skills.clone(),
        calls_today: a.calls_today,
        talk_seconds_today: a.talk_seconds_today,
        last_call_end: a.last_call_end,
        order: a.order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(reason: now::QueueExit) -> now::Event {
        now::Event::QueueFinished(now::QueueResult {
            queue: "support".into(),
            reason,
            waited_seconds: 42,
            key: None,
        })
    }

    #[test]
    fn queue_finished_becomes_the_event_a_0_1_flow_knew() {
        use now::QueueExit as X;
        let timeout = old::Event::QueueTimeout("support".into());
        let overflow = old::Event::QueueOverflow("support".into());
        assert_eq!(event_v0_1(&finished(X::Timeout)), Some(timeout));
        for r in [X::Full, X::NoAgents, X::Empty, X::Key] {
            assert_eq!(event_v0_1(&finished(r)), Some(overflow.clone()), "{r:?}");
        }
        for r in [
            X::Answered,
            X::Abandoned,
            X::CallbackChosen,
            X::CallbackFailed,
        ] {
            assert_eq!(event_v0_1(&finished(r)), None, "{r:?}");
        }
    }

    #[test]
    fn other_events_pass_unchanged() {
        let e = now::Event::DialFinished(now::DialResult {
            outcome: now::DialOutcome::Busy,
            answered_by: None,
            sip_code: 486,
            talk_seconds: 0,
        });
        assert_eq!(
            event_v0_1(&e),
            Some(old::Event::DialFinished(old::DialResult {
                outcome: old::DialOutcome::Busy,
                answered_by: None,
                sip_code: 486,
                talk_seconds: 0,
            }))
        );
        assert_eq!(
            event_v0_1(&now::Event::CallStarted),
            Some(old::Event::CallStarted)
        );
    }

    #[test]
    fn decisions_convert_case_by_case() {
        let d = old::Decision {
            actions: vec![
                old::Action::Answer,
                old::Action::Play(vec![old::Prompt::Tone(old::Tone::Beep)]),
                old::Action::Dial(old::Dial {
                    targets: vec![old::DialTarget::Extension("1001".into())],
                    mode: old::DialMode::Sequential,
                    ring_timeout_secs: 20,
                    caller_id: None,
                }),
                old::Action::Reject(old::RejectReason::Decline),
            ],
            state: Some(vec![1, 2]),
        };
        assert_eq!(
            decision(d),
            now::Decision {
                actions: vec![
                    now::Action::Answer,
                    now::Action::Play(vec![now::Prompt::Tone(now::Tone::Beep)]),
                    now::Action::Dial(now::Dial {
                        targets: vec![now::DialTarget::Extension("1001".into())],
                        mode: now::DialMode::Sequential,
                        ring_timeout_secs: 20,
                        caller_id: None,
                    }),
                    now::Action::Reject(now::RejectReason::Decline),
                ],
                state: Some(vec![1, 2]),
            }
        );
    }
}
