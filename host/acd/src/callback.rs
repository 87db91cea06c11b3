//! Callbacks that keep the caller's place.
//!
//! A caller who asks for a callback hangs up, but their entry stays in the
//! queue as a *placeholder* with the same priority and the same join time,
//! so it is served exactly where the caller would have been: after every
//! caller who joined before, before every caller who joined after. When it
//! reaches the front and an agent is chosen, the owner dials the agent and
//! the customer ([`crate::Output::Callback`]); a customer who does not
//! answer is retried later, a limited number of times.
//!
//! Placeholders outlive the process: [`crate::Acd::placeholders`] exports
//! them with the join time as wall-clock milliseconds and
//! [`crate::Acd::restore`] puts them back in a new engine, in place.

use std::time::Instant;

/// How a callback attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Agent and customer are talking: the placeholder becomes a queue
    /// call on the agent ([`crate::Acd::call_ended`] ends it).
    Connected,
    /// The customer did not answer (or the attempt failed).
    NotAnswered,
}

/// A placeholder as stored between runs. As JSON (feature `serde`):
/// kebab-case fields (`joined-ms`, `retry-at-ms`…), `tags` as
/// `[[name, value], …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub struct Placeholder {
    pub call: String,
    pub queue: String,
    pub priority: u8,
    pub skills: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The number to call back.
    pub number: String,
    /// When the original caller joined (ms since the Unix epoch): the place.
    pub joined_ms: u64,
    /// Attempts already made (none answered).
    pub attempts: u32,
    /// No attempt before this time (ms since the Unix epoch).
    pub retry_at_ms: Option<u64>,
}

/// The callback part of a queue entry.
#[derive(Debug, Clone)]
pub(crate) struct CallbackState {
    pub number: String,
    pub attempts: u32,
    /// Waiting between attempts: not offered before this.
    pub retry_at: Option<Instant>,
}
