//! Prepaid credit during calls: what a prepaid tenant's calls in progress
//! have spent so far, and which of them must end. A call's trunk minutes
//! are charged when it ends ([`crate::rating`]), so a single long call
//! would otherwise talk its tenant's balance far below zero. Every few
//! seconds the host adds up what the tenant's live trunk calls have cost
//! so far, as they would be rated; once that reaches the balance, each of
//! them gets `grace` more and is then hung up — unless a top-up came in
//! between. Sans-IO: [`CreditWatch::check`] takes `now` and returns the
//! calls to end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use switchyard_store::{CallSide, RateCard};

/// A part of a live call that uses the trunk, from its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePart {
    pub side: CallSide,
    pub number: String,
    pub answered_ms: u64,
    /// The part ended (a forward's leg hung up) while the call goes on.
    pub ended_ms: Option<u64>,
}

/// What `parts` have cost by `now_ms`, as they would be rated.
pub fn spent(rates: &RateCard, parts: &[LivePart], now_ms: u64) -> Decimal {
    parts
        .iter()
        .map(|p| {
            let end = p.ended_ms.unwrap_or(now_ms);
            let secs = end.saturating_sub(p.answered_ms).div_ceil(1000);
            rates.rate(p.side, &p.number, secs).amount
        })
        .sum()
}

/// One tenant's live trunk calls and the deadlines given to them.
#[derive(Debug, Default)]
pub struct CreditWatch {
    calls: HashMap<String, LiveCall>,
}

#[derive(Debug)]
struct LiveCall {
    parts: Vec<LivePart>,
    /// Hang up at this instant (the grace ran out).
    deadline: Option<Instant>,
}

impl CreditWatch {
    /// The call's trunk parts now (replacing what was known of it).
    pub fn update(&mut self, call_id: &str, parts: Vec<LivePart>) {
        match self.calls.get_mut(call_id) {
            Some(c) => c.parts = parts,
            None => {
                self.calls.insert(
                    call_id.to_string(),
                    LiveCall {
                        parts,
                        deadline: None,
                    },
                );
            }
        }
    }

    /// The call ended: its minutes are charged by then.
    pub fn remove(&mut self, call_id: &str) {
        self.calls.remove(call_id);
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// With a prepaid `balance`: when the live calls have spent it, give
    /// each a deadline `grace` from now; return the calls whose deadline
    /// has passed (to hang up now). A balance that covers them again (a
    /// top-up) lifts the deadlines.
    pub fn check(
        &mut self,
        rates: &RateCard,
        balance: Decimal,
        grace: Duration,
        now: Instant,
        now_ms: u64,
    ) -> Vec<String> {
        let all: Vec<LivePart> = self
            .calls
            .values()
            .flat_map(|c| c.parts.iter().cloned())
            .collect();
        let out = balance - spent(rates, &all, now_ms) <= Decimal::ZERO;
        let mut end = Vec::new();
        for (id, c) in &mut self.calls {
            if c.parts.is_empty() {
                continue;
            }
            if !out {
                c.deadline = None;
                continue;
            }
            let deadline = *c.deadline.get_or_insert(now + grace);
            if now >= deadline {
                end.push(id.clone());
            }
        }
        end.sort();
        end
    }
}

#[cfg(test)]
mod tests {
    use switchyard_store::MinuteRate;

    use super::*;

    fn rates() -> RateCard {
        RateCard {
            minutes: vec![MinuteRate {
                direction: CallSide::Outbound,
                prefix: String::new(),
                per_minute: "0.60".parse().unwrap(),
                increment: "1/1".parse().unwrap(),
            }],
            ..RateCard::default()
        }
    }

    fn out(answered_ms: u64) -> LivePart {
        LivePart {
            side: CallSide::Outbound,
            number: "+15550142".into(),
            answered_ms,
            ended_ms: None,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn spent_is_what_the_parts_would_be_rated_now() {
        let r = rates();
        // 10 s at 0.01 a second, and an ended leg of 5 s.
        let parts = [
            out(0),
            LivePart {
                ended_ms: Some(5_000),
                ..out(0)
            },
        ];
        assert_eq!(spent(&r, &parts, 10_000), d("0.15"));
        // Inbound calls are free on this card.
        let inbound = LivePart {
            side: CallSide::Inbound,
            ..out(0)
        };
        assert_eq!(spent(&r, &[inbound], 60_000), Decimal::ZERO);
    }

    #[test]
    fn calls_get_the_grace_once_the_balance_is_spent_then_end() {
        let r = rates();
        let t0 = Instant::now();
        let grace = Duration::from_secs(30);
        let mut w = CreditWatch::default();
        w.update("a", vec![out(0)]);
        w.update("b", vec![out(0)]);
        w.update("ringing", vec![]);
        // 0.10 affords 10 s of one call: two calls spend it in 5 s.
        let balance = d("0.10");
        let at = |s: u64| (t0 + Duration::from_secs(s), s * 1000);
        let (now, ms) = at(4);
        assert!(w.check(&r, balance, grace, now, ms).is_empty());
        let (now, ms) = at(5);
        assert!(
            w.check(&r, balance, grace, now, ms).is_empty(),
            "grace starts"
        );
        let (now, ms) = at(34);
        assert!(w.check(&r, balance, grace, now, ms).is_empty());
        let (now, ms) = at(35);
        assert_eq!(w.check(&r, balance, grace, now, ms), ["a", "b"]);
    }

    #[test]
    fn a_top_up_in_the_grace_lifts_it() {
        let r = rates();
        let t0 = Instant::now();
        let grace = Duration::from_secs(30);
        let mut w = CreditWatch::default();
        w.update("a", vec![out(0)]);
        let at = |s: u64| (t0 + Duration::from_secs(s), s * 1000);
        let (now, ms) = at(10);
        assert!(w.check(&r, d("0.10"), grace, now, ms).is_empty());
        // Topped up by 5.00 during the grace: no deadline any more.
        let (now, ms) = at(20);
        assert!(w.check(&r, d("5.10"), grace, now, ms).is_empty());
        let (now, ms) = at(45);
        assert!(w.check(&r, d("5.10"), grace, now, ms).is_empty());
        // Spent again at 510 s: a new grace from then.
        let (now, ms) = at(510);
        assert!(w.check(&r, d("5.10"), grace, now, ms).is_empty());
        let (now, ms) = at(540);
        assert_eq!(w.check(&r, d("5.10"), grace, now, ms), ["a"]);
        w.remove("a");
        assert!(w.is_empty());
    }
}
