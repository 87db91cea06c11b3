//! INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026's Accepted).
//!
//! ```text
//!  Calling --1xx--> Proceeding --300-699 (send ACK)--> Completed --D--> Terminated
//!     |  \__________________________2xx______________> Accepted --M--> Terminated
//!     +--B (no answer: timed out)--> Terminated
//! ```
//! Timer A retransmits the INVITE over unreliable transports, doubling
//! each time (no T2 cap for INVITE); Timer B gives up after 64·T1 in
//! Calling. In Accepted (RFC 6026) 2xx retransmissions still go to the TU,
//! which ACKs each of them.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Delivery, Output, Timer, Transaction, earliest, is_provisional, is_success};
use crate::timers::TimerConfig;

/// Where the transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    cfg: TimerConfig,
    reliable: bool,
    state: State,
    timer_a: Timer,
    timer_b: Timer,
    timer_d: Timer,
    timer_m: Timer,
    out: VecDeque<Output>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE goes out at once.
    pub fn new(now: Instant, cfg: TimerConfig, reliable: bool) -> ClientInvite {
        ClientInvite {
            cfg,
            reliable,
            state: State::Calling,
            timer_a: if reliable {
                Timer::stopped()
            } else {
                Timer::start(now, cfg.t1)
            },
            timer_b: Timer::start(now, cfg.transaction_timeout()),
            timer_d: Timer::stopped(),
            timer_m: Timer::stopped(),
            out: VecDeque::from([Output::SendRequest]),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// A response with `status` arrived for this transaction.
    pub fn handle_response(&mut self, now: Instant, status: u16) -> Delivery {
        match self.state {
            State::Calling | State::Proceeding if is_provisional(status) => {
                self.state = State::Proceeding;
                self.timer_a.stop();
                self.timer_b.stop();
                Delivery::ToTu
            }
            State::Calling | State::Proceeding if is_success(status) => {
                self.state = State::Accepted;
                self.timer_a.stop();
                self.timer_b.stop();
                self.timer_m = Timer::start(now, self.cfg.transaction_timeout());
                Delivery::ToTu
            }
            State::Calling | State::Proceeding => {
                self.state = State::Completed;
                self.timer_a.stop();
                self.timer_b.stop();
                self.out.push_back(Output::SendAck);
                self.timer_d = Timer::start(now, self.cfg.timer_d(self.reliable));
                if self.reliable {
                    // Timer D is zero over reliable transports.
                    self.handle_timeout(now);
                }
                Delivery::ToTu
            }
            // A retransmitted final response: ACK it again, the TU saw it.
            State::Completed if status >= 300 => {
                self.out.push_back(Output::SendAck);
                Delivery::Absorbed
            }
            // RFC 6026: every 2xx goes to the TU, which ACKs it.
            State::Accepted if is_success(status) => Delivery::ToTu,
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
        for t in [
            &mut self.timer_a,
            &mut self.timer_b,
            &mut self.timer_d,
            &mut self.timer_m,
        ] {
            t.stop();
        }
        self.out.push_back(Output::Terminated);
    }
}

impl Transaction for ClientInvite {
    fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[&self.timer_a, &self.timer_b, &self.timer_d, &self.timer_m])
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.timer_b.due(now) {
            self.out.push_back(Output::TimedOut);
            self.terminate();
            return;
        }
        if self.timer_a.due(now) {
            self.out.push_back(Output::SendRequest);
            let next = self.timer_a.interval * 2;
            self.timer_a = Timer::start(now, next);
        }
        if self.timer_d.due(now) || self.timer_m.due(now) {
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

    fn udp(clock: &Clock) -> ClientInvite {
        ClientInvite::new(clock.now, TimerConfig::default(), false)
    }

    #[test]
    fn timer_a_doubles_without_cap_until_timer_b_gives_up_at_64_t1() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        assert_eq!(drain(&mut t), [Output::SendRequest]);
        let mut sent_at = Vec::new();
        loop {
            let out = c.fire_next(&mut t);
            if out.contains(&Output::TimedOut) {
                assert_eq!(out, [Output::TimedOut, Output::Terminated]);
                break;
            }
            assert_eq!(out, [Output::SendRequest]);
            sent_at.push(c.ms());
        }
        // 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s: intervals 1, 2, 4, 8, 16 s are
        // not capped at T2 for INVITE.
        assert_eq!(sent_at, [500, 1_500, 3_500, 7_500, 15_500, 31_500]);
        assert_eq!(c.ms(), 32_000, "timer B = 64·T1");
        assert!(t.is_terminated());
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn provisional_response_stops_retransmissions_and_timer_b() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        drain(&mut t);
        c.advance(Duration::from_millis(100));
        assert_eq!(t.handle_response(c.now, 180), Delivery::ToTu);
        assert_eq!(t.state(), State::Proceeding);
        assert_eq!(
            t.poll_timeout(),
            None,
            "no timer in Proceeding: the TU cancels"
        );
        assert_eq!(t.handle_response(c.now, 183), Delivery::ToTu);
    }

    #[test]
    fn error_response_is_acked_and_absorbed_for_timer_d() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        drain(&mut t);
        assert_eq!(t.handle_response(c.now, 486), Delivery::ToTu);
        assert_eq!(drain(&mut t), [Output::SendAck]);
        assert_eq!(t.state(), State::Completed);
        c.advance(Duration::from_secs(1));
        assert_eq!(t.handle_response(c.now, 486), Delivery::Absorbed);
        assert_eq!(drain(&mut t), [Output::SendAck], "retransmission re-ACKed");
        let start = c.ms() - 1_000;
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms() - start, 32_000, "timer D ≥ 32 s over UDP");
    }

    #[test]
    fn success_enters_accepted_and_passes_every_2xx_until_timer_m() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        drain(&mut t);
        assert_eq!(t.handle_response(c.now, 100), Delivery::ToTu);
        assert_eq!(t.handle_response(c.now, 200), Delivery::ToTu);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(t.handle_response(c.now, 200), Delivery::ToTu);
        assert_eq!(t.handle_response(c.now, 180), Delivery::Absorbed);
        assert!(
            drain(&mut t).is_empty(),
            "the TU ACKs 2xx, not the transaction"
        );
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms(), 32_000, "timer M = 64·T1");
    }

    #[test]
    fn reliable_transport_never_retransmits_and_ends_at_once_after_an_error() {
        let mut c = Clock::new();
        let mut t = ClientInvite::new(c.now, TimerConfig::default(), true);
        assert_eq!(drain(&mut t), [Output::SendRequest]);
        assert_eq!(t.poll_timeout(), Some(c.now + Duration::from_secs(32)));
        assert_eq!(t.handle_response(c.now, 503), Delivery::ToTu);
        assert_eq!(drain(&mut t), [Output::SendAck, Output::Terminated]);
        // And with no answer at all: only timer B.
        let mut t = ClientInvite::new(c.now, TimerConfig::default(), true);
        drain(&mut t);
        assert_eq!(c.fire_next(&mut t), [Output::TimedOut, Output::Terminated]);
    }

    #[test]
    fn configured_t1_scales_every_timer() {
        let mut c = Clock::new();
        let cfg = TimerConfig {
            t1: Duration::from_millis(100),
            ..TimerConfig::default()
        };
        let mut t = ClientInvite::new(c.now, cfg, false);
        drain(&mut t);
        assert_eq!(c.fire_next(&mut t), [Output::SendRequest]);
        assert_eq!(c.ms(), 100);
        while !t.is_terminated() {
            c.fire_next(&mut t);
        }
        assert_eq!(c.ms(), 6_400);
    }

    #[test]
    fn transport_error_ends_the_transaction() {
        let c = Clock::new();
        let mut t = udp(&c);
        drain(&mut t);
        t.handle_transport_error();
        assert_eq!(drain(&mut t), [Output::TimedOut, Output::Terminated]);
        assert_eq!(t.poll_timeout(), None);
    }
}
