//! Canary releases of a call-flow plugin: a new version decides a share of
//! new calls — the same callers every time (sticky by the caller's
//! number) — beside the active one, and each version's decisions are
//! counted. When the canary fails clearly more often than the stable
//! version, over enough decisions to tell, it is stopped on its own.
//! Sans-IO: the split is a hash, the verdict a function of two counts.

use std::collections::VecDeque;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A canary: which version, for what share of callers, and when to give
/// up on it.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryPolicy {
    pub version: u32,
    /// Percent of callers (1–99) whose calls the canary decides.
    pub percent: u8,
    /// Decisions the canary must have made before it can be judged.
    pub min_decisions: u64,
    /// How much more often than the stable version, in percentage
    /// points, the canary may fail before it is stopped.
    pub margin_pct: f64,
}

/// Whether `caller`'s calls to `plugin` go to the canary: a stable hash
/// of both, so a caller keeps the same version for the whole canary (and
/// another plugin's canary splits callers differently).
pub fn takes_canary(plugin: &str, caller: &str, percent: u8) -> bool {
    let h = Sha256::new()
        .chain_update(plugin.as_bytes())
        .chain_update([0])
        .chain_update(caller.as_bytes())
        .finalize();
    let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    n % 100 < u64::from(percent)
}

/// Latencies kept per version for its percentiles.
const LATENCY_SAMPLES: usize = 1024;

/// One version's decisions so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub decisions: u64,
    /// Decisions that failed (trap, timeout, nonsense): the call got the
    /// fallback.
    pub failures: u64,
    /// The last [`LATENCY_SAMPLES`] decision times, µs.
    latencies_us: VecDeque<u32>,
}

impl Figures {
    pub fn record(&mut self, ok: bool, took: Duration) {
        self.decisions += 1;
        if !ok {
            self.failures += 1;
        }
        if self.latencies_us.len() == LATENCY_SAMPLES {
            self.latencies_us.pop_front();
        }
        self.latencies_us
            .push_back(took.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// Failures per decision (0 without decisions).
    pub fn failure_rate(&self) -> f64 {
        if self.decisions == 0 {
            0.0
        } else {
            self.failures as f64 / self.decisions as f64
        }
    }

    /// The `p`-th percentile (0–100) of the recent decision times.
    pub fn latency(&self, p: f64) -> Option<Duration> {
        if self.latencies_us.is_empty() {
            return None;
        }
        let mut v: Vec<u32> = self.latencies_us.iter().copied().collect();
        v.sort_unstable();
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        Some(Duration::from_micros(u64::from(v[i.min(v.len() - 1)])))
    }
}

/// What to do with a canary.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Keep,
    /// Stop it; why, for the log and the operator.
    Stop(String),
}

/// Judge a canary by its figures against the stable version's.
pub fn verdict(policy: &CanaryPolicy, stable: &Figures, canary: &Figures) -> Verdict {
    if canary.decisions < policy.min_decisions.max(1) {
        return Verdict::Keep;
    }
    let (c, s) = (canary.failure_rate(), stable.failure_rate());
    if (c - s) * 100.0 > policy.margin_pct {
        Verdict::Stop(format!(
            "version {} failed {:.0}% of its {} decisions, the stable version {:.0}% of {} \
             (margin {} points)",
            policy.version,
            c * 100.0,
            canary.decisions,
            s * 100.0,
            stable.decisions,
            policy.margin_pct
        ))
    } else {
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CanaryPolicy {
        CanaryPolicy {
            version: 2,
            percent: 30,
            min_decisions: 20,
            margin_pct: 5.0,
        }
    }

    fn figures(decisions: u64, failures: u64) -> Figures {
        let mut f = Figures::default();
        for i in 0..decisions {
            f.record(i >= failures, Duration::from_micros(100 + i));
        }
        f
    }

    #[test]
    fn a_caller_keeps_their_side_and_the_share_is_about_the_percent() {
        let callers: Vec<String> = (0..10_000).map(|i| format!("+1555{i:07}")).collect();
        let taken = callers
            .iter()
            .filter(|c| takes_canary("router", c, 30))
            .count();
        assert!((2_700..3_300).contains(&taken), "{taken} of 10000");
        for c in callers.iter().take(100) {
            assert_eq!(takes_canary("router", c, 30), takes_canary("router", c, 30));
        }
        assert!(!callers.iter().any(|c| takes_canary("router", c, 0)));
        // Another plugin splits differently.
        let same = callers
            .iter()
            .filter(|c| takes_canary("router", c, 50) == takes_canary("ivr", c, 50))
            .count();
        assert!(same < 6_000, "{same}");
    }

    #[test]
    fn a_canary_is_judged_only_after_enough_decisions_and_beyond_the_margin() {
        let p = policy();
        let stable = figures(1000, 10); // 1 %
        assert_eq!(
            verdict(&p, &stable, &figures(19, 19)),
            Verdict::Keep,
            "too few"
        );
        assert_eq!(
            verdict(&p, &stable, &figures(100, 5)),
            Verdict::Keep,
            "5 %: within"
        );
        match verdict(&p, &stable, &figures(20, 20)) {
            Verdict::Stop(why) => assert!(why.contains("100% of its 20"), "{why}"),
            v => panic!("{v:?}"),
        }
        // A stable version failing as much does not condemn the canary.
        assert_eq!(
            verdict(&p, &figures(100, 50), &figures(40, 20)),
            Verdict::Keep
        );
    }

    #[test]
    fn percentiles_come_from_the_recent_decisions() {
        let mut f = Figures::default();
        assert_eq!(f.latency(50.0), None);
        for ms in 1..=100u64 {
            f.record(true, Duration::from_millis(ms));
        }
        assert_eq!(f.latency(50.0), Some(Duration::from_millis(51)));
        assert_eq!(f.latency(99.0), Some(Duration::from_millis(99)));
        assert_eq!(f.failure_rate(), 0.0);
    }
}
