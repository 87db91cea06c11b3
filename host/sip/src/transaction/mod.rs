//! The four transaction state machines of RFC 3261 §17.
//!
//! A transaction knows nothing of message bytes: the transaction layer keeps
//! the request (client) or the latest response (server) and sends it again
//! whenever a state machine asks with [`Output`]. Inputs are the status code
//! of a response, the arrival of a request retransmission or an ACK, the
//! TU's responses, and the time.
//!
//! Timers are absolute deadlines; [`Transaction::poll_timeout`] gives the
//! earliest, and [`Transaction::handle_timeout`] fires every timer due at
//! `now`, in deadline order.

mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod table;

use std::time::{Duration, Instant};

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use key::{MAGIC_COOKIE, RequestParts, Rfc2543Key, TransactionKey};
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;
pub use table::{AnyTransaction, TransactionTable};

/// Something a transaction wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Client: send (again) the request the transaction was created for.
    SendRequest,
    /// Client INVITE: send the ACK for the non-2xx final response received.
    SendAck,
    /// Server: send (again) the latest response the TU gave.
    SendResponse,
    /// Server INVITE: send `100 Trying` (the TU did not answer in 200 ms).
    SendTrying,
    /// The transaction gave up waiting (timer B, F or H): tell the TU.
    TimedOut,
    /// The transaction is over; the layer may forget it.
    Terminated,
}

/// What to do with a message that reached a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Hand it to the transaction user.
    ToTu,
    /// A retransmission the transaction took care of: drop it.
    Absorbed,
}

/// The common driving interface.
pub trait Transaction {
    /// The earliest instant at which [`Transaction::handle_timeout`] must be
    /// called; `None` when no timer runs.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fire every timer due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next thing to do, if any.
    fn poll_output(&mut self) -> Option<Output>;
    /// True once the transaction has ended.
    fn is_terminated(&self) -> bool;
}

/// One named timer: an optional deadline and the interval used to re-arm it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timer {
    pub at: Option<Instant>,
    pub interval: Duration,
}

impl Timer {
    pub fn start(now: Instant, interval: Duration) -> Timer {
        Timer {
            at: Some(now + interval),
            interval,
        }
    }
    pub fn stopped() -> Timer {
        Timer::default()
    }
    pub fn due(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| at <= now)
    }
    pub fn stop(&mut self) {
        self.at = None;
    }
}

/// The earliest deadline among `timers`.
pub(crate) fn earliest(timers: &[&Timer]) -> Option<Instant> {
    timers.iter().filter_map(|t| t.at).min()
}

/// What class a response status code is.
pub(crate) fn is_provisional(status: u16) -> bool {
    (100..200).contains(&status)
}

pub(crate) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
pub(crate) mod test_clock {
    //! A fake clock: tests move time by hand and drive the timers.
    use super::{Output, Transaction};
    use std::time::{Duration, Instant};

    pub struct Clock {
        pub start: Instant,
        pub now: Instant,
    }

    impl Clock {
        pub fn new() -> Clock {
            let start = Instant::now();
            Clock { start, now: start }
        }
        /// Milliseconds since the test started.
        pub fn ms(&self) -> u128 {
            (self.now - self.start).as_millis()
        }
        /// Jump to the transaction's next deadline and fire it; returns the
        /// outputs. Panics when no timer runs.
        pub fn fire_next(&mut self, t: &mut impl Transaction) -> Vec<Output> {
            let at = t.poll_timeout().expect("a timer should be running");
            assert!(at >= self.now, "timers never go back in time");
            self.now = at;
            t.handle_timeout(self.now);
            drain(t)
        }
        pub fn advance(&mut self, d: Duration) {
            self.now += d;
        }
    }

    pub fn drain(t: &mut impl Transaction) -> Vec<Output> {
        std::iter::from_fn(|| t.poll_output()).collect()
    }
}
