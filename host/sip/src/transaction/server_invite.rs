//! INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026's Accepted).
//!
//! ```text
//!  Proceeding --TU 2xx--> Accepted --L--> Terminated
//!      |  --TU 300-699--> Completed --ACK--> Confirmed --I--> Terminated
//!      |                      +--H (no ACK: timed out)--> Terminated
//! ```
//! The transaction sends `100 Trying` itself when the TU has not answered
//! within 200 ms. In Completed, Timer G retransmits the final response over
//! unreliable transports (doubling up to T2) until the ACK arrives or Timer
//! H (64·T1) gives up. Retransmitted INVITEs get the latest response again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Delivery, Output, Timer, Transaction, earliest, is_provisional, is_success};
use crate::timers::TimerConfig;

/// How long the TU has before the transaction sends `100 Trying` itself.
pub const TRYING_AFTER: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    cfg: TimerConfig,
    reliable: bool,
    state: State,
    /// True once any response (ours or the TU's) has been sent.
    responded: bool,
    trying: Timer,
    timer_g: Timer,
    timer_h: Timer,
    timer_i: Timer,
    timer_l: Timer,
    out: VecDeque<Output>,
}

impl ServerInvite {
    /// Created when an INVITE arrives (it goes to the TU).
    pub fn new(now: Instant, cfg: TimerConfig, reliable: bool) -> ServerInvite {
        ServerInvite {
            cfg,
            reliable,
            state: State::Proceeding,
            responded: false,
            trying: Timer::start(now, TRYING_AFTER),
            timer_g: Timer::stopped(),
            timer_h: Timer::stopped(),
            timer_i: Timer::stopped(),
            timer_l: Timer::stopped(),
            out: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The TU answers with `status`; the layer keeps that response as the
    /// one to (re)send.
    pub fn send_response(&mut self, now: Instant, status: u16) {
        if self.state != State::Proceeding {
            return;
        }
        self.responded = true;
        self.trying.stop();
        self.out.push_back(Output::SendResponse);
        if is_provisional(status) {
            return;
        }
        if is_success(status) {
            self.state = State::Accepted;
            self.timer_l = Timer::start(now, self.cfg.transaction_timeout());
        } else {
            self.state = State::Completed;
            if !self.reliable {
                self.timer_g = Timer::start(now, self.cfg.t1);
            }
            self.timer_h = Timer::start(now, self.cfg.transaction_timeout());
        }
    }

    /// The INVITE arrived again.
    pub fn handle_request_retransmission(&mut self) -> Delivery {
        match self.state {
            State::Proceeding | State::Completed if self.responded => {
                self.out.push_back(Output::SendResponse);
            }
            _ => {}
        }
        Delivery::Absorbed
    }

    /// An ACK matched this transaction (a non-2xx ACK; the ACK for a 2xx is
    /// its own transaction and goes to the TU — RFC 6026 passes it up while
    /// Accepted).
    pub fn handle_ack(&mut self, now: Instant) -> Delivery {
        match self.state {
            State::Completed => {
                self.state = State::Confirmed;
                self.timer_g.stop();
                self.timer_h.stop();
                self.timer_i = Timer::start(now, self.cfg.wait_t4(self.reliable));
                if self.reliable {
                    self.handle_timeout(now);
                }
                Delivery::Absorbed
            }
            State::Accepted => Delivery::ToTu,
            _ => Delivery::Absorbed,
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        for t in [
            &mut self.trying,
            &mut self.timer_g,
            &mut self.timer_h,
            &mut self.timer_i,
            &mut self.timer_l,
        ] {
            t.stop();
        }
        self.out.push_back(Output::Terminated);
    }
}

impl Transaction for ServerInvite {
    fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[
            &self.trying,
            &self.timer_g,
            &self.timer_h,
            &self.timer_i,
            &self.timer_l,
        ])
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.trying.due(now) {
            self.trying.stop();
            self.responded = true;
            self.out.push_back(Output::SendTrying);
        }
        if self.timer_h.due(now) {
            self.out.push_back(Output::TimedOut);
            self.terminate();
            return;
        }
        if self.timer_g.due(now) {
            self.out.push_back(Output::SendResponse);
            let next = self.cfg.backoff_capped(self.timer_g.interval);
            self.timer_g = Timer::start(now, next);
        }
        if self.timer_i.due(now) || self.timer_l.due(now) {
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

    fn udp(c: &Clock) -> ServerInvite {
        ServerInvite::new(c.now, TimerConfig::default(), false)
    }

    #[test]
    fn sends_100_trying_when_the_tu_is_silent_for_200_ms() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        assert!(drain(&mut t).is_empty());
        assert_eq!(c.fire_next(&mut t), [Output::SendTrying]);
        assert_eq!(c.ms(), 200);
        // A retransmitted INVITE now gets the 100 again.
        assert_eq!(t.handle_request_retransmission(), Delivery::Absorbed);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
    }

    #[test]
    fn a_quick_tu_answer_suppresses_the_100() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        c.advance(Duration::from_millis(50));
        t.send_response(c.now, 180);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        assert_eq!(t.poll_timeout(), None, "no 100 Trying timer any more");
        // Before any response a retransmission is simply absorbed.
        let mut t2 = udp(&c);
        assert_eq!(t2.handle_request_retransmission(), Delivery::Absorbed);
        assert!(drain(&mut t2).is_empty());
    }

    #[test]
    fn error_response_is_retransmitted_by_timer_g_until_timer_h() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        t.send_response(c.now, 486);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        assert_eq!(t.state(), State::Completed);
        let mut sent_at = Vec::new();
        loop {
            let out = c.fire_next(&mut t);
            if out.contains(&Output::TimedOut) {
                assert_eq!(out, [Output::TimedOut, Output::Terminated]);
                break;
            }
            assert_eq!(out, [Output::SendResponse]);
            sent_at.push(c.ms());
        }
        assert_eq!(
            sent_at,
            [
                500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(c.ms(), 32_000, "timer H = 64·T1");
    }

    #[test]
    fn ack_confirms_and_timer_i_ends_it() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        t.send_response(c.now, 404);
        drain(&mut t);
        c.advance(Duration::from_millis(300));
        assert_eq!(t.handle_request_retransmission(), Delivery::Absorbed);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        assert_eq!(t.handle_ack(c.now), Delivery::Absorbed);
        assert_eq!(t.state(), State::Confirmed);
        assert_eq!(
            t.handle_ack(c.now),
            Delivery::Absorbed,
            "ACK retransmissions absorbed"
        );
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms(), 5_300, "timer I = T4");
    }

    #[test]
    fn success_is_accepted_acks_go_up_and_timer_l_ends_it() {
        let mut c = Clock::new();
        let mut t = udp(&c);
        t.send_response(c.now, 200);
        assert_eq!(drain(&mut t), [Output::SendResponse]);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(t.handle_request_retransmission(), Delivery::Absorbed);
        assert!(
            drain(&mut t).is_empty(),
            "the TU retransmits its 2xx itself"
        );
        assert_eq!(t.handle_ack(c.now), Delivery::ToTu);
        assert_eq!(c.fire_next(&mut t), [Output::Terminated]);
        assert_eq!(c.ms(), 32_000, "timer L = 64·T1");
    }

    #[test]
    fn reliable_transport_no_timer_g_and_no_wait_after_ack() {
        let c = Clock::new();
        let mut t = ServerInvite::new(c.now, TimerConfig::default(), true);
        t.send_response(c.now, 603);
        drain(&mut t);
        assert_eq!(
            t.poll_timeout(),
            Some(c.now + Duration::from_secs(32)),
            "only H"
        );
        t.handle_ack(c.now);
        assert_eq!(drain(&mut t), [Output::Terminated]);
    }
}
