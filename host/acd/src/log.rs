//! The queue log: one event per thing that happened, with a wall-clock
//! stamp. The figures are computed from these alone, so a log replayed
//! from storage gives the same figures as the live engine.

use std::time::Duration;

use crate::agent::AgentStatus;

/// Why a call left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
        wait: Duration,
    },
    /// The caller hung up after `wait`.
    Abandon {
        wait: Duration,
    },
    /// Any other exit (timeout, key, empty, callback chosen or failed).
    Exit {
        reason: ExitReason,
        wait: Duration,
    },
    /// An answered queue call ended after `talk` (from answer to end).
    CallEnded {
        talk: Duration,
    },
    /// The agent's after-call work for `call` ended after `wrap`.
    WrapUpEnded {
        wrap: Duration,
    },
    CallbackRequested,
    /// Attempt number `attempt` (1 first) dials `agent` for the callback.
    CallbackAttempted {
        attempt: u32,
    },
    /// The callback connected after `wait` since the original join.
    CallbackCompleted {
        wait: Duration,
    },
    CallbackFailed,
    /// The agent entered `state`.
    AgentState {
        state: AgentStatus,
        reason: String,
    },
}

/// One line of the queue log.
#[derive(Debug, Clone, PartialEq, Eq)]
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
