//! Queue entries (callers and callback placeholders), their order, and the
//! estimated wait.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::callback::CallbackState;
use crate::config::QueueConfig;

/// Handle times the estimator averages over.
pub(crate) const RECENT_CALLS: usize = 20;
/// The handle time assumed before a queue has answered anything.
pub(crate) const DEFAULT_HANDLE: Duration = Duration::from_secs(180);

/// The live figures of one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStatus {
    pub name: String,
    /// Callers and placeholders in the queue (not yet answered).
    pub waiting: u32,
    /// How long the longest-waiting of them has waited.
    pub longest_wait: Duration,
    pub agents_logged_in: u32,
    pub agents_available: u32,
    pub agents_reserved: u32,
    pub agents_on_call: u32,
    pub agents_on_other_call: u32,
    pub agents_wrap_up: u32,
    pub agents_paused: u32,
    /// Mean wait of calls answered since the engine started or the last
    /// [`crate::Acd::reset_day`].
    pub average_wait: Duration,
    /// Answered within the threshold ÷ answered, over the same span; none
    /// before the first answer.
    pub service_level_today: Option<f64>,
}

/// A queue and what the engine keeps about it.
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    pub cfg: QueueConfig,
    /// Talk + wrap-up of the last [`RECENT_CALLS`] answered calls.
    pub recent: VecDeque<Duration>,
    pub answered_today: u32,
    pub within_today: u32,
    pub wait_today: Duration,
}

impl Queue {
    pub fn new(cfg: QueueConfig) -> Self {
        Queue {
            cfg,
            recent: VecDeque::new(),
            answered_today: 0,
            within_today: 0,
            wait_today: Duration::ZERO,
        }
    }

    pub fn record_handle(&mut self, handle: Duration) {
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(handle);
    }

    /// The estimated wait of the caller at `position` (1 = next):
    ///
    /// `estimate = AHT × position ÷ max(1, staffed)`
    ///
    /// where AHT is the mean talk + wrap-up of the queue's last 20
    /// answered calls (180 s while it has none) and `staffed` the members
    /// logged in and not paused. It assumes every staffed agent takes the
    /// queue's calls one after another — a rough figure for the caller,
    /// not a forecast.
    pub fn estimate(&self, position: u32, staffed: u32) -> Duration {
        let aht = if self.recent.is_empty() {
            DEFAULT_HANDLE
        } else {
            self.recent.iter().sum::<Duration>() / self.recent.len() as u32
        };
        aht * position / staffed.max(1)
    }
}

/// Where a queue entry is in its life.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Wants an agent; the next dispatch asks for a ranking when one is
    /// eligible.
    Waiting,
    /// The strategy was asked; these agents are held for it (no other
    /// call is offered to them) until it answers or `until`.
    Ranking {
        candidates: Vec<std::sync::Arc<str>>,
        until: Instant,
    },
    /// Ringing: `ringing` agents (with their ring deadline) are reserved;
    /// `next` are the strategy's remaining choices, tried in order.
    Offering {
        next: VecDeque<Arc<str>>,
        ringing: BTreeMap<String, Instant>,
    },
    /// A placeholder's callback is being dialled with `agent` reserved;
    /// no report by `until` counts as not answered.
    Dialing { agent: String, until: Instant },
    /// Out of the queue, talking to `agent` since `since`.
    Connected { agent: String, since: Instant },
}

/// A caller (or placeholder) in a queue.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub id: String,
    pub queue: String,
    pub priority: u8,
    pub skills: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The place: wall-clock ms of the (original) join.
    pub joined_ms: u64,
    /// Breaks ties between equal join times: order of arrival here.
    pub seq: u64,
    pub phase: Phase,
    pub next_announce: Option<Instant>,
    pub next_comfort: Option<Instant>,
    pub deadline: Option<Instant>,
    pub callback: Option<CallbackState>,
    pub last_agent: Option<String>,
}

/// Sort key of the queue order: priority high first, then the place.
pub(crate) type OrderKey = (Reverse<u8>, u64, u64);

impl Call {
    pub fn key(&self) -> OrderKey {
        (Reverse(self.priority), self.joined_ms, self.seq)
    }

    /// Still in the queue (not answered or connected).
    pub fn queued(&self) -> bool {
        !matches!(self.phase, Phase::Connected { .. })
    }

    /// Wants an agent now: waiting, and not a placeholder between attempts.
    pub fn wants_agent(&self) -> bool {
        matches!(self.phase, Phase::Waiting)
            && self
                .callback
                .as_ref()
                .is_none_or(|cb| cb.retry_at.is_none())
    }

    /// Stop the caller's timers (a placeholder has no caller on the line).
    pub fn stop_caller_timers(&mut self) {
        self.next_announce = None;
        self.next_comfort = None;
        self.deadline = None;
    }
}
