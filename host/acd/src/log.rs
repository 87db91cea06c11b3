//! The queue log: one event per thing that happened, with a wall-clock
//! stamp. The figures are computed from these alone, so a log replayed
//! from storage gives the same figures as the live engine.
//!
//! # JSON (feature `serde`)
//!
//! Names are kebab-case. An event is
//! `{"at-ms": 1700000000000, "queue": "support", "call": "c1", "agent": "201",
//! "kind": {"type": "answer", "wait-ms": 5000}}`: `kind` is tagged by
//! `type` (`join`, `offer`, `offer-failed`, `ring-no-answer`, `answer`,
//! `abandon`, `exit`, `call-ended`, `wrap-up-ended`, `callback-requested`,
//! `callback-attempted`, `callback-completed`, `callback-failed`,
//! `agent-state`, `monitored`) and its durations are whole milliseconds in fields
//! named `<field>-ms` (`wait-ms`, `talk-ms`, `wrap-ms`, `duration-ms`; sub-millisecond
//! parts are dropped); `callback-requested` has `automatic` (the caller
//! hung up after the queue's `callback_on_abandon_after`). Exit reasons and agent statuses are kebab-case
//! strings (`callback-chosen`, `on-other-call`…). Absent `queue`, `call`
//! and `agent` are `null`.

use std::time::Duration;

use crate::agent::AgentStatus;

/// Why a call left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum ExitReason {
    /// An agent answered (or a callback connected).
    Answered,
    /// The caller hung up.
    Abandoned,
    /// The caller waited `max_wait`.
    Timeout,
    /// The last member logged out and the queue has `leave_when_empty`.
    Empty,
    /// The caller pressed the queue's leave key.
    Key,
    /// The caller chose a callback and may hang up; a placeholder keeps
    /// the place.
    CallbackChosen,
    /// A placeholder ran out of callback attempts.
    CallbackFailed,
}

/// What an event records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(
        tag = "type",
        rename_all = "kebab-case",
        rename_all_fields = "kebab-case"
    )
)]
pub enum EventKind {
    Join {
        priority: u8,
    },
    /// The call was offered to `agent` (its phone rings).
    Offer,
    /// An offer failed at once (busy, declined, error).
    OfferFailed,
    /// The agent's phone rang for the whole ring timeout.
    RingNoAnswer,
    /// An agent answered after `wait` in the queue.
    Answer {
        #[cfg_attr(feature = "serde", serde(rename = "wait-ms", with = "crate::millis"))]
        wait: Duration,
    },
    /// The caller hung up after `wait`.
    Abandon {
        #[cfg_attr(feature = "serde", serde(rename = "wait-ms", with = "crate::millis"))]
        wait: Duration,
    },
    /// Any other exit (timeout, key, empty, callback chosen or failed).
    Exit {
        reason: ExitReason,
        #[cfg_attr(feature = "serde", serde(rename = "wait-ms", with = "crate::millis"))]
        wait: Duration,
    },
    /// An answered queue call ended after `talk` (from answer to end).
    CallEnded {
        #[cfg_attr(feature = "serde", serde(rename = "talk-ms", with = "crate::millis"))]
        talk: Duration,
    },
    /// The agent's after-call work for `call` ended after `wrap`.
    WrapUpEnded {
        #[cfg_attr(feature = "serde", serde(rename = "wrap-ms", with = "crate::millis"))]
        wrap: Duration,
    },
    /// The caller asked for a callback, or (`automatic`) hung up after
    /// the queue's `callback_on_abandon_after` and is called back anyway.
    CallbackRequested {
        #[cfg_attr(feature = "serde", serde(default))]
        automatic: bool,
    },
    /// Attempt number `attempt` (1 first) dials `agent` for the callback.
    CallbackAttempted {
        attempt: u32,
    },
    /// The callback connected after `wait` since the original join.
    CallbackCompleted {
        #[cfg_attr(feature = "serde", serde(rename = "wait-ms", with = "crate::millis"))]
        wait: Duration,
    },
    CallbackFailed,
    /// The agent entered `state`.
    AgentState {
        state: AgentStatus,
        reason: String,
    },
    /// `supervisor` monitored the agent on the answered call for
    /// `duration`, in `modes` (`listen`, `whisper`, `barge`, in the order
    /// used).
    Monitored {
        supervisor: String,
        modes: Vec<String>,
        #[cfg_attr(
            feature = "serde",
            serde(rename = "duration-ms", with = "crate::millis")
        )]
        duration: Duration,
    },
}

/// One line of the queue log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub struct QueueEvent {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The queue, absent for agent state changes (an agent may serve
    /// several queues).
    pub queue: Option<String>,
    pub call: Option<String>,
    pub agent: Option<String>,
    pub kind: EventKind,
}
