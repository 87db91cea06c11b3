//! Transcripts of call-flow decisions, and their replay against another
//! version before it goes live.
//!
//! When a tenant keeps transcripts, every decision of a call's flow plugin
//! is written down as a [`Step`]: what the plugin was given (the call, the
//! event, its state), every question it asked the host and the answer it
//! got ([`HostCall`]: kv, directory, contact look-ups — whose answers come
//! from the CRM's HTTP responses), and what it decided or how it failed.
//! The runtime hands each step to the tenant's [`TranscriptSink`], which
//! keeps them per call (the server's sink bounds them by count and age).
//!
//! [`crate::TenantRuntime::replay`] runs a candidate version through the
//! kept calls: it is given each recorded event with the recorded call, its
//! own state from its previous step, and the recorded answer to each
//! question it asks — it reaches neither the live kv nor the directory nor
//! the CRM, so a replay changes nothing — and its actions are compared with
//! what happened. The first step where they differ ends that call's replay:
//! after it, the recorded events (digits pressed, the dial's outcome…)
//! answered the recorded actions, not the candidate's.
//!
//! The [`Tape`] is the per-invocation side of this: off, recording the
//! host calls, or answering them from a recorded step.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::bindings::directory::{Extension, QueueStatus};
use crate::bindings::flow_types::{Decision, Event};
use crate::bindings::kv;
use crate::bindings::types::{CallSnapshot, Contact};

/// A question a plugin asked the host during one decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "kebab-case")]
pub enum Ask {
    KvGet { key: String },
    KvSet { key: String, value: Vec<u8> },
    KvDelete { key: String },
    KvIncrement { key: String, delta: i64 },
    KvListKeys { prefix: String, limit: u32 },
    Extension { number: String },
    RingGroup { name: String },
    QueueStatus { name: String },
    Contact { number: String },
}

/// The host's answer to an [`Ask`] of the same kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", content = "value", rename_all = "kebab-case")]
pub enum Answer {
    Value(Result<Option<Vec<u8>>, kv::Error>),
    Done(Result<(), kv::Error>),
    Counter(Result<i64, kv::Error>),
    Keys(Result<Vec<String>, kv::Error>),
    Extension(Option<Extension>),
    Members(Option<Vec<String>>),
    Queue(Option<QueueStatus>),
    Contact(Option<Contact>),
}

impl Ask {
    /// What a replayed plugin is told when it asks something the recorded
    /// decision never asked: nothing stored, nothing found, writes done.
    fn neutral_answer(&self) -> Answer {
        match self {
            Ask::KvGet { .. } => Answer::Value(Ok(None)),
            Ask::KvSet { .. } | Ask::KvDelete { .. } => Answer::Done(Ok(())),
            Ask::KvIncrement { delta, .. } => Answer::Counter(Ok(*delta)),
            Ask::KvListKeys { .. } => Answer::Keys(Ok(Vec::new())),
            Ask::Extension { .. } => Answer::Extension(None),
            Ask::RingGroup { .. } => Answer::Members(None),
            Ask::QueueStatus { .. } => Answer::Queue(None),
            Ask::Contact { .. } => Answer::Contact(None),
        }
    }
}

/// One question and its answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostCall {
    #[serde(flatten)]
    pub ask: Ask,
    pub answer: Answer,
}

/// How a recorded decision ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The plugin decided; the call did this.
    Decided(Decision),
    /// The plugin failed (the text says how) and the call took the
    /// tenant's fallback.
    Failed(String),
}

/// One decision of a call's flow plugin, as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// When it was asked, ms since the Unix epoch.
    pub at_ms: u64,
    /// The plugin version that decided.
    pub version: u32,
    pub call: CallSnapshot,
    pub event: Event,
    /// The state the plugin was given with the event.
    pub state: Option<Vec<u8>>,
    /// What it asked the host, in order.
    pub host_calls: Vec<HostCall>,
    pub outcome: Outcome,
}

/// Every recorded decision of one plugin in one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub call_id: String,
    pub plugin: String,
    /// When the call arrived (its snapshot's start time).
    pub started_ms: u64,
    pub steps: Vec<Step>,
}

/// Where a tenant's runtime hands each recorded step. Set in
/// [`crate::TenantSettings::transcripts`] only for a tenant that keeps
/// transcripts; it is called on the call's path, after the decision, so it
/// must be quick (a local store write).
pub trait TranscriptSink: Send + Sync {
    fn record(&self, plugin: &str, step: Step);
}

/// The host-call side of one invocation.
#[derive(Debug, Default)]
pub(crate) enum Tape {
    /// Neither kept nor replayed (the usual case).
    #[default]
    Off,
    /// Host calls are made for real and written down.
    Recording(Vec<HostCall>),
    /// Host calls are answered from a recorded step and never made.
    Replaying {
        recorded: VecDeque<HostCall>,
        /// Questions the recording never asked, answered neutrally.
        unrecorded: Vec<Ask>,
    },
}

impl Tape {
    pub(crate) fn replaying(recorded: Vec<HostCall>) -> Self {
        Tape::Replaying {
            recorded: recorded.into(),
            unrecorded: Vec::new(),
        }
    }

    /// Whether a host call must go through [`Tape::replayed`] and
    /// [`Tape::record`] (so the question is built only then).
    pub(crate) fn on(&self) -> bool {
        !matches!(self, Tape::Off)
    }

    /// In a replay, the answer the recording got to the same question
    /// (the first not used yet), else a neutral one, noted; `None` when
    /// not replaying: ask the host.
    pub(crate) fn replayed(&mut self, ask: &Ask) -> Option<Answer> {
        let Tape::Replaying {
            recorded,
            unrecorded,
        } = self
        else {
            return None;
        };
        match recorded.iter().position(|c| &c.ask == ask) {
            Some(i) => recorded.remove(i).map(|c| c.answer),
            None => {
                unrecorded.push(ask.clone());
                Some(ask.neutral_answer())
            }
        }
    }

    /// Writes down a question the host answered, when recording.
    pub(crate) fn record(&mut self, ask: Ask, answer: Answer) {
        if let Tape::Recording(calls) = self {
            calls.push(HostCall { ask, answer });
        }
    }
}

/// The answer to `ask` in a host function of a [`crate::caps::Granted`]
/// capability: from the tape in a replay, else from `live` (written down
/// when recording). Found by its question, a replayed answer is of the
/// question's kind; one that is not is a trap.
macro_rules! taped {
    ($granted:ident, $ask:expr, $kind:path, $live:expr) => {{
        if !$granted.tape.on() {
            $live
        } else {
            let ask = $ask;
            match $granted.tape.replayed(&ask) {
                Some($kind(answer)) => answer,
                Some(other) => {
                    return Err(wasmtime::format_err!(
                        "replayed answer {other:?} does not fit {ask:?}"
                    ));
                }
                None => {
                    let answer = $live;
                    $granted.tape.record(ask, $kind(answer.clone()));
                    answer
                }
            }
        }
    }};
}
pub(crate) use taped;

/// The replay of one call against a candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallReplay {
    pub call_id: String,
    pub started_ms: u64,
    /// The caller's number and what was dialled, to find the call again.
    pub caller: String,
    pub dialled: String,
    /// Recorded steps replayed, up to and including the first difference.
    pub steps_replayed: usize,
    pub steps_recorded: usize,
    /// The first step whose actions differ; `None`: the candidate did what
    /// happened at every step.
    pub difference: Option<Difference>,
}

/// Where a candidate first decided otherwise than the recorded version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// 1-based index of the step in the call.
    pub step: usize,
    pub event: Event,
    /// The recorded version's actions, or how it failed.
    pub recorded: Outcome,
    /// The candidate's actions, or how it failed.
    pub candidate: Outcome,
    /// Host calls the candidate made that the recorded step did not (they
    /// were answered "nothing stored / found"): often why it differs.
    pub unrecorded_host_calls: Vec<Ask>,
}

/// What a replay found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub plugin: String,
    pub candidate_version: u32,
    /// Calls replayed (those with at least one step).
    pub calls: usize,
    /// Calls where the candidate did what happened at every step.
    pub same: usize,
    /// Calls where it did not.
    pub differing: usize,
    /// Every call, newest first.
    pub replays: Vec<CallReplay>,
}

/// Whether two outcomes count as the same for a replay: the same actions
/// (the state is the plugin's own business and may change shape between
/// versions), or both failed.
pub(crate) fn same_outcome(recorded: &Outcome, candidate: &Outcome) -> bool {
    match (recorded, candidate) {
        (Outcome::Decided(a), Outcome::Decided(b)) => a.actions == b.actions,
        (Outcome::Failed(_), Outcome::Failed(_)) => true,
        _ => false,
    }
}

/// The outcome of a decision as a step records it.
pub(crate) fn outcome(r: &Result<Decision, crate::PluginFailure>) -> Outcome {
    match r {
        Ok(d) => Outcome::Decided(d.clone()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::flow_types::Action;

    fn call(ask: Ask, answer: Answer) -> HostCall {
        HostCall { ask, answer }
    }

    #[test]
    fn a_replay_answers_each_question_from_the_recording_in_order_then_neutrally() {
        let key = |k: &str| Ask::KvGet { key: k.into() };
        let mut tape = Tape::replaying(vec![
            call(key("a"), Answer::Value(Ok(Some(b"1".to_vec())))),
            call(key("a"), Answer::Value(Ok(Some(b"2".to_vec())))),
            call(
                Ask::Contact {
                    number: "+1555".into(),
                },
                Answer::Contact(None),
            ),
        ]);
        assert!(tape.on());
        // Found by the question, not by position.
        assert_eq!(
            tape.replayed(&Ask::Contact {
                number: "+1555".into()
            }),
            Some(Answer::Contact(None))
        );
        assert_eq!(
            tape.replayed(&key("a")),
            Some(Answer::Value(Ok(Some(b"1".to_vec()))))
        );
        assert_eq!(
            tape.replayed(&key("a")),
            Some(Answer::Value(Ok(Some(b"2".to_vec()))))
        );
        // Asked a third time, or something never asked: nothing stored,
        // and noted.
        assert_eq!(tape.replayed(&key("a")), Some(Answer::Value(Ok(None))));
        assert_eq!(
            tape.replayed(&Ask::KvIncrement {
                key: "n".into(),
                delta: 3
            }),
            Some(Answer::Counter(Ok(3)))
        );
        let Tape::Replaying { unrecorded, .. } = tape else {
            panic!("still replaying")
        };
        assert_eq!(unrecorded.len(), 2);
    }

    #[test]
    fn recording_writes_down_questions_and_answers_and_off_keeps_nothing() {
        let mut off = Tape::Off;
        assert!(!off.on());
        assert_eq!(off.replayed(&Ask::KvGet { key: "a".into() }), None);
        off.record(Ask::KvGet { key: "a".into() }, Answer::Value(Ok(None)));
        assert!(matches!(off, Tape::Off));

        let mut rec = Tape::Recording(Vec::new());
        assert_eq!(rec.replayed(&Ask::KvGet { key: "a".into() }), None);
        rec.record(
            Ask::Extension {
                number: "1001".into(),
            },
            Answer::Extension(None),
        );
        let Tape::Recording(calls) = rec else {
            panic!("recording")
        };
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn outcomes_compare_actions_not_state() {
        let d = |state: Option<Vec<u8>>| {
            Outcome::Decided(Decision {
                actions: vec![Action::Hangup],
                state,
            })
        };
        assert!(same_outcome(&d(Some(vec![1])), &d(Some(vec![2]))));
        assert!(same_outcome(
            &Outcome::Failed("trap".into()),
            &Outcome::Failed("timeout".into())
        ));
        assert!(!same_outcome(&d(None), &Outcome::Failed("trap".into())));
        assert!(!same_outcome(
            &d(None),
            &Outcome::Decided(Decision {
                actions: vec![],
                state: None
            })
        ));
    }

    #[test]
    fn a_step_survives_json() {
        let step = HostCall {
            ask: Ask::KvIncrement {
                key: "calls".into(),
                delta: 1,
            },
            answer: Answer::Counter(Err(kv::Error::Unavailable("disk".into()))),
        };
        let text = serde_json::to_string(&step).unwrap();
        assert!(text.contains("\"ask\":\"kv-increment\""), "{text}");
        assert_eq!(serde_json::from_str::<HostCall>(&text).unwrap(), step);
    }
}
