//! Overload control: when the host falls behind, new INVITEs and REGISTERs
//! are refused at once with `503 Service Unavailable` and `Retry-After`,
//! before any of their expensive work (digest, flow plugin, media ports,
//! store), while everything of calls already in progress carries on.
//!
//! Without it an overloaded host takes every new request on, answers each
//! later than the peer's retransmission timer, is sent it again (doubling
//! the load) and recovers long after the load has gone: the call-setup
//! bench saw 6.7 % of the calls fail over 20 s at the sustainable rate
//! right after the overloaded steps.
//!
//! How far behind the host is comes from lag samples: how long each
//! request waited between the transport and the dispatcher, and how late a
//! probe's timer fires on the runtime (both grow when the workers cannot
//! keep up). The decision is taken per window of time ([`OverloadConfig::window`]):
//!
//! * [`ENTER_WINDOWS`] windows in a row whose worst lag passes `high`
//!   start shedding (a stall of a loaded machine is not an overload),
//!   with a budget of new requests per window a quarter below the most
//!   that was admitted in one of them;
//! * while shedding, every window still over `high` cuts the budget by a
//!   quarter (multiplicative decrease), every window under `low` raises it
//!   by a tenth (additive increase), so it settles at what the host can
//!   take;
//! * shedding ends after [`CALM_WINDOWS`] windows in a row under `low` in
//!   which fewer requests came than the budget allowed.
//!
//! The budget is shared fairly: each source address may use its share of
//! it (the budget over the sources that asked in the last second), so a
//! peer that floods the host cannot take the places of the others.
//!
//! Sans-IO: the caller passes `now` and the lag it measured.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Windows in a row under `low`, with room in the budget, after which
/// shedding stops.
pub const CALM_WINDOWS: u32 = 10;

/// Windows in a row behind before shedding starts.
pub const ENTER_WINDOWS: u32 = 3;

/// How long a source that asked counts towards the budget's shares.
const RECENT: Duration = Duration::from_secs(1);

/// Sources remembered for the shares at most (a flood from spoofed
/// addresses cannot grow the table further; the shares then just get
/// smaller for newcomers).
const RECENT_CAP: usize = 10_000;

/// The thresholds of [`OverloadGate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadConfig {
    /// A window whose worst lag is above this is behind.
    pub high: Duration,
    /// A window whose worst lag is below this is calm.
    pub low: Duration,
    /// How long one window is.
    pub window: Duration,
    /// Fewest new requests admitted per window while shedding (calls keep
    /// starting, however slowly).
    pub min_budget: u32,
    /// The `Retry-After` of a refusal, in seconds.
    pub retry_after_secs: u32,
    /// `false`: nothing is ever refused.
    pub enabled: bool,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            // Well below the 500 ms after which a UDP peer retransmits
            // (T1), well above what a busy host that keeps up shows: at
            // 800 call setups a second (1.3 of 2 cores) the bench saw
            // stalls of 160 ms, which a 50 ms threshold took for an
            // overload and refused a tenth of the calls of a step that
            // then ran on time.
            high: Duration::from_millis(200),
            low: Duration::from_millis(40),
            window: Duration::from_millis(100),
            min_budget: 2,
            retry_after_secs: 2,
            enabled: true,
        }
    }
}

/// What to do with a new INVITE or REGISTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Answer `503` with `Retry-After: retry_after_secs`.
    Refuse {
        retry_after_secs: u32,
    },
}

/// The gate's state; see the module's comment.
#[derive(Debug)]
pub struct OverloadGate {
    config: OverloadConfig,
    window_start: Instant,
    /// The worst lag seen in this window.
    worst: Duration,
    /// New requests this window, admitted or not.
    arrivals: u32,
    admitted: u32,
    /// Admitted this window, per source.
    per_source: HashMap<IpAddr, u32>,
    /// Sources that asked in the last [`RECENT`], and when they last did:
    /// the budget's divisor.
    recent: HashMap<IpAddr, Instant>,
    /// `Some(n)`: shedding, admitting `n` per window.
    budget: Option<u32>,
    calm: u32,
    /// Windows in a row behind while not shedding, and the most admitted
    /// in one of them.
    behind: u32,
    peak: u32,
    /// Refusals so far.
    refused: u64,
}

impl OverloadGate {
    pub fn new(now: Instant, config: OverloadConfig) -> OverloadGate {
        OverloadGate {
            config,
            window_start: now,
            worst: Duration::ZERO,
            arrivals: 0,
            admitted: 0,
            per_source: HashMap::new(),
            recent: HashMap::new(),
            budget: None,
            calm: 0,
            behind: 0,
            peak: 0,
            refused: 0,
        }
    }

    /// A lag measured at `now`.
    pub fn observe(&mut self, now: Instant, lag: Duration) {
        self.roll(now);
        self.worst = self.worst.max(lag);
    }

    /// A new INVITE or REGISTER from `source` at `now`.
    pub fn admit(&mut self, now: Instant, source: IpAddr) -> Admission {
        self.roll(now);
        self.arrivals += 1;
        if self.recent.len() < RECENT_CAP || self.recent.contains_key(&source) {
            self.recent.insert(source, now);
        }
        if let Some(budget) = self.budget.filter(|_| self.config.enabled) {
            let sources = u32::try_from(self.recent.len()).unwrap_or(u32::MAX).max(1);
            let share = (budget / sources).max(1);
            let used = self.per_source.get(&source).copied().unwrap_or(0);
            if self.admitted >= budget || used >= share {
                self.refused += 1;
                return Admission::Refuse {
                    retry_after_secs: self.config.retry_after_secs,
                };
            }
        }
        self.admitted += 1;
        *self.per_source.entry(source).or_default() += 1;
        Admission::Admit
    }

    /// Whether new requests are being shed.
    pub fn shedding(&self) -> bool {
        self.budget.is_some()
    }

    /// The budget per window while shedding.
    pub fn budget(&self) -> Option<u32> {
        self.budget
    }

    /// Refusals so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Close every window that ended by `now`.
    fn roll(&mut self, now: Instant) {
        let window = self.config.window;
        if now < self.window_start + window {
            return;
        }
        self.end_window(now);
        // Windows with nothing in them (a quiet host) count as calm.
        let idle = now.duration_since(self.window_start).as_nanos() / window.as_nanos().max(1) - 1;
        for _ in 0..idle.min(u128::from(CALM_WINDOWS)) {
            self.end_window(now);
        }
        let skipped = u32::try_from(idle + 1).unwrap_or(u32::MAX);
        self.window_start += window.saturating_mul(skipped);
    }

    fn end_window(&mut self, now: Instant) {
        let c = &self.config;
        let behind = self.worst > c.high;
        let calm = self.worst < c.low;
        self.budget = match self.budget {
            None if behind => {
                self.behind += 1;
                self.peak = self.peak.max(self.admitted);
                if self.behind < ENTER_WINDOWS {
                    None
                } else {
                    tracing::warn!(
                        lag_ms = self.worst.as_millis() as u64,
                        admitted = self.peak,
                        "the host is behind: shedding new INVITEs and REGISTERs"
                    );
                    self.behind = 0;
                    Some(quarter_less(std::mem::take(&mut self.peak)).max(c.min_budget))
                }
            }
            None => {
                self.behind = 0;
                self.peak = 0;
                None
            }
            Some(b) if behind => {
                self.calm = 0;
                Some(quarter_less(b).max(c.min_budget))
            }
            Some(b) if calm => {
                self.calm = if self.arrivals <= b { self.calm + 1 } else { 0 };
                if self.calm >= CALM_WINDOWS {
                    tracing::info!(
                        budget = b,
                        "the host caught up: admitting every new request"
                    );
                    self.calm = 0;
                    None
                } else {
                    Some(b + (b / 10).max(1))
                }
            }
            held => held,
        };
        self.recent
            .retain(|_, at| now.saturating_duration_since(*at) < RECENT);
        self.worst = Duration::ZERO;
        self.arrivals = 0;
        self.admitted = 0;
        self.per_source.clear();
    }
}

fn quarter_less(n: u32) -> u32 {
    n - n / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    /// Lags over the default `high`, between `low` and `high`.
    const BEHIND: Duration = Duration::from_millis(300);
    const BETWEEN: Duration = Duration::from_millis(100);

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    fn gate() -> (OverloadGate, Instant) {
        let now = Instant::now();
        (OverloadGate::new(now, OverloadConfig::default()), now)
    }

    /// [`ENTER_WINDOWS`] windows behind from `at`, with `n` requests from
    /// `source` in each, the last one closed: shedding from then on. The
    /// start of the next window.
    fn fall_behind(g: &mut OverloadGate, at: Instant, source: IpAddr, n: u32) -> Instant {
        let mut at = at;
        for _ in 0..ENTER_WINDOWS {
            assert!(!g.shedding());
            window(g, at, source, n, BEHIND);
            at += 100 * MS;
        }
        g.observe(at, Duration::ZERO);
        assert!(g.shedding());
        at
    }

    /// `n` requests from `source` spread over one window starting at
    /// `at`, each after a lag sample of `lag`: how many were admitted.
    fn window(g: &mut OverloadGate, at: Instant, source: IpAddr, n: u32, lag: Duration) -> u32 {
        let mut admitted = 0;
        for k in 0..n {
            let now = at + 99 * MS * k / n.max(1);
            g.observe(now, lag);
            if g.admit(now, source) == Admission::Admit {
                admitted += 1;
            }
        }
        admitted
    }

    #[test]
    fn a_host_that_keeps_up_admits_everything() {
        let (mut g, t0) = gate();
        for w in 0..50 {
            let at = t0 + 100 * MS * w;
            assert_eq!(window(&mut g, at, ip(1), 200, 5 * MS), 200);
        }
        assert!(!g.shedding());
        assert_eq!(g.refused(), 0);
    }

    #[test]
    fn a_host_behind_refuses_with_retry_after_and_settles_at_what_it_can_take() {
        let (mut g, t0) = gate();
        // One window behind is a stall, not an overload.
        window(&mut g, t0, ip(1), 100, BEHIND);
        g.observe(t0 + 100 * MS, Duration::ZERO);
        assert!(!g.shedding());
        window(&mut g, t0 + 100 * MS, ip(1), 100, 5 * MS);
        // 100 a window admitted while the lag stays past `high`.
        let at = fall_behind(&mut g, t0 + 200 * MS, ip(1), 100);
        assert_eq!(g.budget(), Some(75));
        assert_eq!(g.admit(at, ip(1)), Admission::Admit, "within the budget");
        // Still behind: the budget falls each window…
        let mut at = at + 100 * MS;
        let mut budgets = Vec::new();
        for _ in 0..3 {
            window(&mut g, at, ip(1), 300, BEHIND);
            at += 100 * MS;
            // The next window's first sample closes this one.
            g.observe(at, Duration::ZERO);
            budgets.push(g.budget().unwrap());
        }
        assert!(budgets.windows(2).all(|w| w[1] < w[0]), "{budgets:?}");
        // …and what is over it is refused with Retry-After.
        let b = g.budget().unwrap();
        assert_eq!(window(&mut g, at, ip(1), 300, BETWEEN), b);
        assert_eq!(
            g.admit(at + 99 * MS, ip(1)),
            Admission::Refuse {
                retry_after_secs: 2
            }
        );
        // Between low and high: the budget holds.
        g.observe(at + 100 * MS, BETWEEN);
        assert_eq!(g.budget(), Some(b));
    }

    #[test]
    fn the_budget_grows_back_and_shedding_ends_once_the_load_fits() {
        let (mut g, t0) = gate();
        let mut at = fall_behind(&mut g, t0, ip(1), 100);
        let first = g.budget().unwrap();
        // Calm windows with more arrivals than the budget: it grows, and
        // shedding goes on.
        for _ in 0..20 {
            window(&mut g, at, ip(1), 500, 2 * MS);
            at += 100 * MS;
        }
        g.observe(at, Duration::ZERO);
        let grown = g
            .budget()
            .expect("still shedding: more came than it allowed");
        assert!(grown > first, "{first} → {grown}");
        // The load falls under the budget: CALM_WINDOWS later, no more
        // shedding.
        for _ in 0..CALM_WINDOWS {
            assert!(g.shedding());
            window(&mut g, at, ip(1), 10, 2 * MS);
            at += 100 * MS;
        }
        g.observe(at, Duration::ZERO);
        assert!(!g.shedding());
        assert_eq!(window(&mut g, at, ip(1), 400, 2 * MS), 400);
    }

    #[test]
    fn a_quiet_spell_ends_shedding() {
        let (mut g, t0) = gate();
        let at = fall_behind(&mut g, t0, ip(1), 100);
        // Nothing for two seconds: every empty window was calm.
        assert_eq!(g.admit(at + 2_000 * MS, ip(1)), Admission::Admit);
        g.observe(at + 2_100 * MS, Duration::ZERO);
        assert!(!g.shedding());
    }

    #[test]
    fn a_flooding_source_does_not_take_the_others_places() {
        let (mut g, t0) = gate();
        let mut at = fall_behind(&mut g, t0, ip(1), 100);
        // The flooder asks 400 times a window, always first; a quiet
        // phone asks once every 300 ms. The first time it is new and the
        // flooder has taken the window's places; from then on it counts
        // for half of them, and is served every time.
        let mut quiet = Vec::new();
        for w in 0..12 {
            for k in 0..400u32 {
                let now = at + 99 * MS * k / 400;
                g.admit(now, ip(1));
                if w % 3 == 0 && k == 200 {
                    quiet.push(g.admit(now, ip(2)) == Admission::Admit);
                }
            }
            at += 100 * MS;
            g.observe(at, BETWEEN);
        }
        assert_eq!(quiet, [false, true, true, true], "budget {:?}", g.budget());
        // Gone for a second, it no longer holds a share.
        for _ in 0..11 {
            window(&mut g, at, ip(1), 400, BETWEEN);
            at += 100 * MS;
        }
        let b = g.budget().unwrap();
        assert_eq!(window(&mut g, at, ip(1), 400, BETWEEN), b);
    }

    #[test]
    fn disabled_it_refuses_nothing() {
        let now = Instant::now();
        let mut g = OverloadGate::new(
            now,
            OverloadConfig {
                enabled: false,
                ..OverloadConfig::default()
            },
        );
        window(&mut g, now, ip(1), 100, 900 * MS);
        let mut at = now + 100 * MS;
        for _ in 0..5 {
            assert_eq!(window(&mut g, at, ip(1), 300, 900 * MS), 300);
            at += 100 * MS;
        }
    }
}
