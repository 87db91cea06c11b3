//! Non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!  Trying --TU 1xx--> Proceeding --TU 200-699--> Completed --J--> Terminated
//!     \_______________TU 200-699______________/
//! ```
//! Retransmitted requests are dropped in Trying and answered with the
//! latest response afterwards. Timer J (64·T1 over unreliable transports,
//! zero over reliable ones) keeps the final response for retransmissions.

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

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    cfg: TimerConfig,
    reliable: bool,
    state: State,
    timer_j: Timer,
    out: VecDeque<Output>,
}

impl ServerNonInvite {
    /// Created when a non-INVITE request arrives (it goes to the TU).
    pub fn new(_now: Instant, cfg: TimerConfig, reliable: bool) -> ServerNonInvite {
        ServerNonInvite {
            cfg,
            reliable,
            state: State::Trying,
            timer_j: Timer::stopped(),
            out: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The TU answers with `status`.
    pub fn send_response(&mut self, now: Instant, status: u16) {
        match self.state {
            State::Trying | State::Proceeding => {
                self.out.push_back(Output::SendResponse);
                if is_provisional(status) {
                    self.state = State::Proceeding;
                } else {
                    self.state = State::Completed;
                    self.timer_j = Timer::start(now, self.cfg.timer_j(self.reliable));
                    if self.reliable {
                        self.handle_timeout(now);
                    }
                }
            }
            _ => {}
        }
    }

    /// The request arrived again.
    pub fn handle_request_retransmission(&mut self) -> Delivery {
        if matches!(self.state, State::Proceeding | State::Completed) {
            self.out.push_back(Output::SendResponse);
        }
        Delivery::Absorbed
    }
}

impl Transaction for ServerNonInvite {
    fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[&self.timer_j])
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.due(now) {
            self.timer_j.stop();
            self.state = State::Terminated;
            self.out.push_back(Output::Terminated);
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
    fn retransmissions_are_dropped_in_trying_and_answered_after() {
        let mut c = Clock::new();
        let mut t = ServerNonInvite::new(c.now, TimerConfig::default(), false);
        assert_eq!(t.handle_request_retransmission(), Delivery::Absorbed);
        assert!(drain(&mut t).is_empty());
        t.send_response(c.now, 100);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        t.handle_request_retransmission();
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        c.advance(Duration::from_millis(10));
        t.send_response(c.now, 200);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        t.handle_request_retransmission();
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        t.send_response(c.now, 500);
        assert!(drain(&mut t).is_empty(), "only one final response");
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms(), 32_010, "timer J = 64·T1 over UDP");
    }

    #[test]
    fn reliable_transport_ends_with_the_final_response() {
        let c = Clock::new();
        let mut t = ServerNonInvite::new(c.now, TimerConfig::default(), true);
        t.send_response(c.now, 200);
        assert_eq!(drain(&mut t), [Output::SendResponse, Output::Terminated]);
        assert_eq!(t.poll_timeout(), None);
    }
}
