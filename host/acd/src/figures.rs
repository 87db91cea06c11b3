//! Contact-centre figures, computed from the queue log alone (pure
//! functions over a slice of [`QueueEvent`]), so the live engine and a log
//! read back from storage give the same numbers.
//!
//! An interval is `[from_ms, to_ms)` in wall-clock milliseconds; an event
//! belongs to it when its `at_ms` does. "Within the threshold" means a
//! wait `<=` the threshold.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::agent::AgentStatus;
use crate::log::{EventKind, ExitReason, QueueEvent};

/// The figures of one queue over one interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFigures {
    /// Calls that joined the queue (`Join` events).
    pub offered: u32,
    /// Calls an agent answered (`Answer` events; connected callbacks are
    /// counted apart, in `callbacks_completed`).
    pub answered: u32,
    /// Callers who hung up before an answer (`Abandon` events).
    pub abandoned: u32,
    /// Mean wait of the abandoned calls before they hung up.
    pub abandon_mean_wait: Option<Duration>,
    /// `abandoned ÷ offered`.
    pub abandonment_rate: Option<f64>,
    /// Exits other than answer and abandon, by reason (timeout, key,
    /// empty, callback chosen, callback failed).
    pub exits: BTreeMap<ExitReason, u32>,
    pub callbacks_requested: u32,
    pub callbacks_completed: u32,
    pub callbacks_failed: u32,
    /// ASA: mean wait of the answered calls (join to answer).
    pub asa: Option<Duration>,
    /// AHT: mean of talk + wrap-up over the calls that ended (`CallEnded`)
    /// in the interval, talk from `CallEnded` and wrap-up from the call's
    /// `WrapUpEnded` (anywhere in the slice; none counts 0). Hold is part
    /// of talk: the engine does not see holds.
    pub aht: Option<Duration>,
    /// SL: answered within the threshold ÷ answered.
    pub service_level: Option<f64>,
    /// SL2: (answered within + abandoned within the threshold) ÷
    /// (answered + abandoned).
    pub service_level_2: Option<f64>,
}

fn mean(total: Duration, n: u32) -> Option<Duration> {
    (n > 0).then(|| total / n)
}

fn ratio(a: u32, b: u32) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The figures of `queue` over `[from_ms, to_ms)`, with the queue's
/// service-level `threshold`.
pub fn queue_figures(
    events: &[QueueEvent],
    queue: &str,
    from_ms: u64,
    to_ms: u64,
    threshold: Duration,
) -> QueueFigures {
    let mut f = QueueFigures::default();
    let (mut answer_wait, mut abandon_wait) = (Duration::ZERO, Duration::ZERO);
    let (mut answered_within, mut abandoned_within) = (0, 0);
    let (mut handle, mut handled) = (Duration::ZERO, 0);
    let in_queue = |e: &&QueueEvent| e.queue.as_deref() == Some(queue);
    // Wrap-up of each call, wherever it falls in the slice.
    let wraps: HashMap<&str, Duration> = events
        .iter()
        .filter(in_queue)
        .filter_map(|e| match (&e.kind, e.call.as_deref()) {
            (EventKind::WrapUpEnded { wrap }, Some(call)) => Some((call, *wrap)),
            _ => None,
        })
        .collect();
    for e in events
        .iter()
        .filter(in_queue)
        .filter(|e| (from_ms..to_ms).contains(&e.at_ms))
    {
        match &e.kind {
            EventKind::Join { .. } => f.offered += 1,
            EventKind::Answer { wait } => {
                f.answered += 1;
                answer_wait += *wait;
                answered_within += u32::from(*wait <= threshold);
            }
            EventKind::Abandon { wait } => {
                f.abandoned += 1;
                abandon_wait += *wait;
                abandoned_within += u32::from(*wait <= threshold);
            }
            EventKind::Exit { reason, .. } => *f.exits.entry(*reason).or_default() += 1,
            EventKind::CallbackRequested { .. } => f.callbacks_requested += 1,
            EventKind::CallbackCompleted { .. } => f.callbacks_completed += 1,
            EventKind::CallbackFailed => f.callbacks_failed += 1,
            EventKind::CallEnded { talk } => {
                let wrap = e
                    .call
                    .as_deref()
                    .and_then(|c| wraps.get(c))
                    .copied()
                    .unwrap_or_default();
                handle += *talk + wrap;
                handled += 1;
            }
            _ => {}
        }
    }
    f.abandon_mean_wait = mean(abandon_wait, f.abandoned);
    f.abandonment_rate = ratio(f.abandoned, f.offered);
    f.asa = mean(answer_wait, f.answered);
    f.aht = mean(handle, handled);
    f.service_level = ratio(answered_within, f.answered);
    f.service_level_2 = ratio(answered_within + abandoned_within, f.answered + f.abandoned);
    f
}

/// The figures of one agent over one interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFigures {
    /// Queue calls answered and callbacks connected by the agent.
    pub calls: u32,
    /// Sum of `CallEnded` talk of the agent's calls.
    pub talk: Duration,
    /// Offers to the agent that rang out (`RingNoAnswer`).
    pub missed_offers: u32,
    /// Offers that failed at once (busy, declined, error).
    pub failed_offers: u32,
    /// Time paused, by pause reason.
    pub pause_by_reason: BTreeMap<String, Duration>,
    /// Time in any state but LoggedOut.
    pub logged_in: Duration,
    /// Time logged in and not paused.
    pub staffed: Duration,
    /// Time OnCall, OnOtherCall or WrapUp.
    pub busy: Duration,
    /// Occupancy: `busy ÷ staffed` — time on calls (queue or other) and
    /// wrap-up ÷ time logged in and not paused.
    pub occupancy: Option<f64>,
}

/// The figures of `agent` over `[from_ms, to_ms)`. State time comes from
/// the agent's `AgentState` events: the state in force at `from_ms` is the
/// last one logged before it (LoggedOut if none), each state lasts until
/// the next event, the last one until `to_ms`.
pub fn agent_figures(events: &[QueueEvent], agent: &str, from_ms: u64, to_ms: u64) -> AgentFigures {
    let mut f = AgentFigures::default();
    let mine: Vec<&QueueEvent> = events
        .iter()
        .filter(|e| e.agent.as_deref() == Some(agent))
        .collect();
    for e in mine.iter().filter(|e| (from_ms..to_ms).contains(&e.at_ms)) {
        match &e.kind {
            EventKind::Answer { .. } | EventKind::CallbackCompleted { .. } => f.calls += 1,
            EventKind::CallEnded { talk } => f.talk += *talk,
            EventKind::RingNoAnswer => f.missed_offers += 1,
            EventKind::OfferFailed => f.failed_offers += 1,
            _ => {}
        }
    }
    let mut states: Vec<(u64, AgentStatus, &str)> = mine
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentState { state, reason } => Some((e.at_ms, *state, reason.as_str())),
            _ => None,
        })
        .collect();
    states.sort_by_key(|s| s.0);
    let mut current = (from_ms, AgentStatus::LoggedOut, "");
    let mut spans: Vec<(u64, u64, AgentStatus, &str)> = Vec::new();
    for (at, state, reason) in states {
        if at > current.0 && at > from_ms {
            spans.push((current.0.max(from_ms), at.min(to_ms), current.1, current.2));
        }
        current = (at.max(from_ms), state, reason);
        if at >= to_ms {
            break;
        }
    }
    if current.0 < to_ms {
        spans.push((current.0, to_ms, current.1, current.2));
    }
    for (a, b, state, reason) in spans {
        if b <= a {
            continue;
        }
        let d = Duration::from_millis(b - a);
        if state != AgentStatus::LoggedOut {
            f.logged_in += d;
        }
        match state {
            AgentStatus::LoggedOut => {}
            AgentStatus::Paused => *f.pause_by_reason.entry(reason.to_owned()).or_default() += d,
            AgentStatus::OnCall | AgentStatus::OnOtherCall | AgentStatus::WrapUp => {
                f.busy += d;
                f.staffed += d;
            }
            AgentStatus::Available | AgentStatus::Reserved => f.staffed += d,
        }
    }
    f.occupancy = (!f.staffed.is_zero()).then(|| f.busy.as_secs_f64() / f.staffed.as_secs_f64());
    f
}
