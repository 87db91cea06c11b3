//! Non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!  Trying --1xx--> Proceeding --200-699--> Completed --K--> Terminated
//!     \________________200-699_____________/
//!  Trying/Proceeding --F (64·T1)--> timed out, Terminated
//! ```
//! Timer E retransmits over unreliable transports: doubling from T1 up to
//! T2 in Trying, every T2 in Proceeding. Timer K (T4, or zero over reliable
//! transports) absorbs retransmitted final responses.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Delivery, Output, Timer, Transaction, earliest, is_provisional};
use crate::timers::TimerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction (REGISTER, OPTIONS, BYE, CANCEL…).
#[derive(Debug)]
pub struct ClientNonInvite {
    cfg: TimerConfig,
    reliable: bool,
    state: State,
    timer_e: Timer,
    timer_f: Timer,
    timer_k: Timer,
    out: VecDeque<Output>,
}

impl ClientNonInvite {
    /// Starts the transaction: the request goes out at once.
    pub fn new(now: Instant, cfg: TimerConfig, reliable: bool) -> ClientNonInvite {
        ClientNonInvite {
            cfg,
            reliable,
            state: State::Trying,
            timer_e: if reliable {
                Timer::stopped()
            } else {
                Timer::start(now, cfg.t1)
            },
            timer_f: Timer::start(now, cfg.transaction_timeout()),
            timer_k: Timer::stopped(),
            out: VecDeque::from([Output::SendRequest]),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// A response with `status` arrived for this transaction.
    pub fn handle_response(&mut self, now: Instant, status: u16) -> Delivery {
        match self.state {
            State::Trying | State::Proceeding if is_provisional(status) => {
                self.state = State::Proceeding;
                Delivery::ToTu
            }
            State::Trying | State::Proceeding => {
                self.state = State::Completed;
                self.timer_e.stop();
                self.timer_f.stop();
                self.timer_k = Timer::start(now, self.cfg.wait_t4(self.reliable));
                if self.reliable {
                    self.handle_timeout(now);
                }
                Delivery::ToTu
            }
            _ => Delivery::Absorbed,
        }
    }

    /// The transport failed to send: the transaction ends at once.
    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.out.push_back(Output::TimedOut);
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_e.stop();
        self.timer_f.stop();
        self.timer_k.stop();
        self.out.push_back(Output::Terminated);
    }
}

impl Transaction for ClientNonInvite {
    fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[&self.timer_e, &self.timer_f, &self.timer_k])
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.timer_f.due(now) {
            self.out.push_back(Output::TimedOut);
            self.terminate();
            return;
        }
        if self.timer_e.due(now) {
            self.out.push_back(Output::SendRequest);
            let next = match self.state {
                State::Proceeding => self.cfg.t2,
                _ => self.cfg.backoff_capped(self.timer_e.interval),
            };
            self.timer_e = Timer::start(now, next);
        }
        if self.timer_k.due(now) {
            self.terminate();
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_clock::{Clock, drain};
    use std::time::Duration;

    #[test]
    fn timer_e_doubles_up_to_t2_and_timer_f_gives_up_at_64_t1() {
        let mut c = Clock::new();
        let mut t = ClientNonInvite::new(c.now, TimerConfig::default(), false);
        assert_eq!(drain(&mut t), [Output::SendRequest]);
        let mut sent_at = Vec::new();
        loop {
            let out = c.fire_next(&mut t);
            if out.contains(&Output::TimedOut) {
                break;
            }
            sent_at.push(c.ms());
        }
        // Intervals 0.5, 1, 2, 4, 4, 4… s.
        assert_eq!(
            sent_at,
            [
                500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(c.ms(), 32_000, "timer F = 64·T1");
        assert!(t.is_terminated());
    }

    #[test]
    fn in_proceeding_timer_e_runs_every_t2() {
        let mut c = Clock::new();
        let mut t = ClientNonInvite::new(c.now, TimerConfig::default(), false);
        drain(&mut t);
        assert_eq!(t.handle_response(c.now, 100), Delivery::ToTu);
        assert_eq!(c.fire_next(&mut t), [Output::SendRequest]);
        assert_eq!(c.ms(), 500, "the already-armed timer E fires first");
        assert_eq!(c.fire_next(&mut t), [Output::SendRequest]);
        assert_eq!(c.ms(), 4_500, "then every T2");
    }

    #[test]
    fn final_response_goes_to_the_tu_once_then_timer_k_ends_it() {
        let mut c = Clock::new();
        let mut t = ClientNonInvite::new(c.now, TimerConfig::default(), false);
        drain(&mut t);
        c.advance(Duration::from_millis(50));
        assert_eq!(t.handle_response(c.now, 200), Delivery::ToTu);
        assert_eq!(t.handle_response(c.now, 200), Delivery::Absorbed);
        assert_eq!(t.state(), State::Completed);
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms(), 5_050, "timer K = T4");
    }

    #[test]
    fn reliable_transport_no_retransmissions_and_no_wait() {
        let c = Clock::new();
        let mut t = ClientNonInvite::new(c.now, TimerConfig::default(), true);
        assert_eq!(drain(&mut t), [Output::SendRequest]);
        assert_eq!(t.poll_timeout(), Some(c.now + Duration::from_secs(32)));
        assert_eq!(t.handle_response(c.now, 401), Delivery::ToTu);
        assert_eq!(drain(&mut t), [Output::Terminated]);
    }
}
