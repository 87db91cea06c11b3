//! When a call ends whatever its parties do (issue 11, item 6), decided
//! without I/O or a clock: the call task tells [`Deadlines`] what happened
//! and at what `now`, sleeps until [`Deadlines::next`], and asks
//! [`Deadlines::expired`] what, if anything, ran out.
//!
//! * **Timer H** (RFC 3261 §13.3.1.4): a 2xx we sent to the caller's
//!   INVITE that is not ACKed within 64·T1 means the dialog never came up
//!   on the caller's side: the UAS sends BYE. The SIP stack reports this
//!   too (`AckTimeout`), but only for 2xx it retransmits (UDP); the call
//!   keeps its own deadline so a TCP caller that never ACKs ends the same
//!   way.
//! * **Maximum call duration**: nothing else ends a call whose parties
//!   have gone quiet on hold (`a=inactive` switches the RTP timeout off)
//!   or vanished without BYE while their RTP is not anchored. Counted from
//!   the INVITE, so ringing and IVR time count too.

use std::time::{Duration, Instant};

/// Why a call must end now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The caller never ACKed our 2xx.
    AckTimeout,
    /// The call reached the configured maximum duration.
    MaxDuration,
}

impl Expiry {
    pub fn as_str(self) -> &'static str {
        match self {
            Expiry::AckTimeout => "2xx never acknowledged (Timer H)",
            Expiry::MaxDuration => "maximum call duration reached",
        }
    }
}

/// A call's deadlines.
#[derive(Debug, Clone)]
pub struct Deadlines {
    ack_timeout: Duration,
    /// The ACK for our latest 2xx to the caller is due by then.
    ack_due: Option<Instant>,
    /// The call ends then at the latest.
    hard_stop: Option<Instant>,
}

impl Deadlines {
    /// A call that started at `now`: it may last `max_duration` (`None`:
    /// no limit); a 2xx must be ACKed within `ack_timeout` (64·T1).
    pub fn new(now: Instant, max_duration: Option<Duration>, ack_timeout: Duration) -> Deadlines {
        Deadlines {
            ack_timeout,
            ack_due: None,
            hard_stop: max_duration.and_then(|d| now.checked_add(d)),
        }
    }

    /// We sent the caller a 2xx to an INVITE at `now` (the answer, or the
    /// answer to its re-INVITE). A 2xx before an earlier one was ACKed
    /// keeps the earlier deadline: retransmitting is no excuse.
    pub fn answered(&mut self, now: Instant) {
        if self.ack_due.is_none() {
            self.ack_due = Some(now + self.ack_timeout);
        }
    }

    /// The caller's ACK arrived.
    pub fn acked(&mut self) {
        self.ack_due = None;
    }

    /// When to look again (`None`: nothing will expire).
    pub fn next(&self) -> Option<Instant> {
        match (self.ack_due, self.hard_stop) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What ran out by `now`, if anything; it does not fire again. The
    /// maximum duration wins when both did: it is the one an operator
    /// configured and looks for.
    pub fn expired(&mut self, now: Instant) -> Option<Expiry> {
        if self.hard_stop.is_some_and(|t| t <= now) {
            self.hard_stop = None;
            self.ack_due = None;
            return Some(Expiry::MaxDuration);
        }
        if self.ack_due.is_some_and(|t| t <= now) {
            self.ack_due = None;
            return Some(Expiry::AckTimeout);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(32);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn an_unacked_2xx_expires_at_timer_h_and_only_once() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(t0, None, H);
        assert_eq!(d.next(), None, "nothing to wait for before an answer");
        d.answered(t0 + Duration::from_secs(5));
        let due = t0 + Duration::from_secs(37);
        assert_eq!(d.next(), Some(due));
        assert_eq!(d.expired(due - Duration::from_millis(1)), None);
        assert_eq!(d.expired(due), Some(Expiry::AckTimeout));
        assert_eq!(d.expired(due + H), None, "it fires once");
        assert_eq!(d.next(), None);
    }

    #[test]
    fn the_ack_clears_the_deadline_and_a_later_2xx_sets_a_new_one() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(t0, None, H);
        d.answered(t0);
        d.acked();
        assert_eq!(d.next(), None);
        assert_eq!(d.expired(t0 + 10 * H), None);
        // A re-INVITE answered an hour later.
        d.answered(t0 + HOUR);
        assert_eq!(d.next(), Some(t0 + HOUR + H));
        assert_eq!(d.expired(t0 + HOUR + H), Some(Expiry::AckTimeout));
    }

    #[test]
    fn a_second_2xx_before_the_ack_does_not_push_the_deadline() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(t0, None, H);
        d.answered(t0);
        d.answered(t0 + Duration::from_secs(20));
        assert_eq!(d.next(), Some(t0 + H));
    }

    #[test]
    fn a_call_on_hold_for_ever_ends_at_the_maximum() {
        let t0 = Instant::now();
        let max = 4 * HOUR;
        let mut d = Deadlines::new(t0, Some(max), H);
        d.answered(t0 + Duration::from_secs(3));
        d.acked();
        assert_eq!(d.next(), Some(t0 + max));
        assert_eq!(d.expired(t0 + max - Duration::from_secs(1)), None);
        assert_eq!(d.expired(t0 + max), Some(Expiry::MaxDuration));
        assert_eq!(d.next(), None);
        assert_eq!(d.expired(t0 + 2 * max), None);
    }

    #[test]
    fn the_earlier_deadline_is_next_and_the_maximum_wins_a_tie() {
        let t0 = Instant::now();
        let mut d = Deadlines::new(t0, Some(Duration::from_secs(10)), H);
        d.answered(t0);
        assert_eq!(d.next(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(d.expired(t0 + 2 * H), Some(Expiry::MaxDuration));
        assert_eq!(d.expired(t0 + 2 * H), None, "the call ends once");
    }

    #[test]
    fn no_maximum_means_no_deadline_and_a_huge_one_does_not_overflow() {
        let t0 = Instant::now();
        assert_eq!(Deadlines::new(t0, None, H).next(), None);
        let d = Deadlines::new(t0, Some(Duration::MAX), H);
        assert_eq!(d.next(), None, "a maximum past the clock's range is none");
    }
}
