//! What a tenant configures: queues and the agents who serve them.

use std::time::Duration;

/// How many agents ring at once for one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// One agent at a time, in the strategy's order.
    OneAtATime,
    /// Every eligible agent the strategy returned, at once.
    All,
    /// Up to this many at once; when one fails the next in order is added.
    FirstN(u32),
}

/// Whether a caller may join a queue in which nobody could answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinEmpty {
    /// Refused with [`crate::Refusal::NoAgents`] when no member is logged
    /// in and unpaused.
    Never,
    /// Joins anyway and waits (for a login, or its `max_wait`).
    Wait,
}

/// One queue of the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    pub name: String,
    pub ring_mode: RingMode,
    /// How long one agent's phone rings before the offer counts as not
    /// answered and moves on.
    pub ring_timeout: Duration,
    /// Callers (and callback placeholders) the queue holds at most.
    pub max_len: Option<u32>,
    /// A caller waiting this long leaves with [`crate::ExitReason::Timeout`].
    pub max_wait: Option<Duration>,
    pub join_empty: JoinEmpty,
    /// When the last member logs out, every waiting caller leaves with
    /// [`crate::ExitReason::Empty`] (placeholders stay: nobody is on the line).
    pub leave_when_empty: bool,
    /// After-call work an agent gets after each queue call.
    pub wrap_up: Duration,
    /// Answered (or abandoned) within this counts for SL and SL2.
    pub service_level_threshold: Duration,
    /// Announce position and estimated wait this often (first one after
    /// one period).
    pub announce_every: Option<Duration>,
    /// Play the comfort message this often.
    pub comfort_every: Option<Duration>,
    /// Unanswered offers in a row after which an agent is paused with
    /// reason `no-answer`; 0 turns auto-pause off.
    pub auto_pause_after: u32,
    /// The digit with which a caller asks to be called back.
    pub callback_key: Option<char>,
    /// The digit with which a caller leaves the queue (back to the flow).
    pub leave_key: Option<char>,
    /// Wait after a callback the customer did not answer before retrying.
    pub callback_retry_interval: Duration,
    /// Callback attempts at most; then the placeholder exits with
    /// [`crate::ExitReason::CallbackFailed`].
    pub callback_max_attempts: u32,
    /// A caller who hangs up after waiting at least this long is called
    /// back automatically (to the join's callback number) and keeps the
    /// place, instead of being lost as abandoned; `None`: off.
    pub callback_on_abandon_after: Option<Duration>,
}

impl QueueConfig {
    /// A queue with the defaults: one agent at a time, 15 s ring, 10 s
    /// wrap-up, 20 s service-level threshold, auto-pause after 2 unanswered
    /// offers, callbacks retried every 5 minutes up to 3 times.
    pub fn new(name: impl Into<String>) -> Self {
        QueueConfig {
            name: name.into(),
            ring_mode: RingMode::OneAtATime,
            ring_timeout: Duration::from_secs(15),
            max_len: None,
            max_wait: None,
            join_empty: JoinEmpty::Wait,
            leave_when_empty: false,
            wrap_up: Duration::from_secs(10),
            service_level_threshold: Duration::from_secs(20),
            announce_every: None,
            comfort_every: None,
            auto_pause_after: 2,
            callback_key: None,
            leave_key: None,
            callback_retry_interval: Duration::from_secs(300),
            callback_max_attempts: 3,
            callback_on_abandon_after: None,
        }
    }
}

/// An agent's place in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub queue: String,
    /// Lower is tried first by the fallback ordering (Asterisk's penalty);
    /// passed to the strategy as is.
    pub penalty: u32,
    /// Skill names with a level (1–255; the engine only asks "has it").
    pub skills: Vec<(String, u8)>,
    /// Position in the queue's configured member order (0 first).
    pub order: u32,
}

/// An agent: their extension and the queues they serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The agent's extension number.
    pub id: String,
    pub memberships: Vec<Membership>,
    /// Offer queue calls while the agent is on another call.
    pub ring_in_use: bool,
}

impl AgentConfig {
    pub fn new(id: impl Into<String>, memberships: Vec<Membership>) -> Self {
        AgentConfig {
            id: id.into(),
            memberships,
            ring_in_use: false,
        }
    }

    pub(crate) fn membership(&self, queue: &str) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.queue == queue)
    }
}
