//! Calls from a tenant's web site: a visitor presses "call us" on the
//! tenant's widget and their browser calls one chosen number of the
//! tenant over SIP WebSocket, with no account.
//!
//! The API hands the visitor's page a ticket (after the widget's own
//! checks: allowed origin, page token, counts); the browser's INVITE
//! carries it in `X-Switchyard-Ticket`. A ticket is good once, for
//! [`TICKET_LIFETIME`], for that number only, and only over WebSocket: it
//! stands in for the digest an extension would answer. Sans-IO: every
//! decision takes `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The header a web visitor's INVITE carries its ticket in.
pub const TICKET_HEADER: &str = "X-Switchyard-Ticket";

/// How long a ticket may wait for its INVITE: the page asks for it and
/// calls at once.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(120);

/// Tickets waiting at most (older ones go first when it is full).
const MAX_TICKETS: usize = 10_000;

/// What a ticket lets its bearer do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebCall {
    pub tenant: String,
    /// The widget that asked for it (for the call's tags and logs).
    pub widget: String,
    /// The tenant's number the call is for (the INVITE's Request-URI
    /// user must be this one).
    pub number: String,
}

/// Why a ticket was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not one this host issued, used already, or too old.
    Unknown,
    /// Issued for another number.
    OtherNumber,
}

/// The tickets issued and not yet used.
#[derive(Debug, Default)]
pub struct WebCallTickets {
    waiting: HashMap<String, (WebCall, Instant)>,
}

impl WebCallTickets {
    /// A new ticket for `call`, good until `now` + [`TICKET_LIFETIME`].
    pub fn issue(&mut self, call: WebCall, now: Instant) -> String {
        self.waiting.retain(|_, (_, expires)| *expires > now);
        if self.waiting.len() >= MAX_TICKETS
            && let Some(oldest) = self
                .waiting
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(k, _)| k.clone())
        {
            self.waiting.remove(&oldest);
        }
        let ticket = hex::encode(rand::random::<[u8; 24]>());
        self.waiting
            .insert(ticket.clone(), (call, now + TICKET_LIFETIME));
        ticket
    }

    /// Use `ticket` for a call to `number`: the call it allows. A ticket
    /// is spent by any attempt, right or wrong.
    pub fn redeem(&mut self, ticket: &str, number: &str, now: Instant) -> Result<WebCall, Refused> {
        let (call, expires) = self.waiting.remove(ticket.trim()).ok_or(Refused::Unknown)?;
        if expires <= now {
            return Err(Refused::Unknown);
        }
        if call.number != number {
            return Err(Refused::OtherNumber);
        }
        Ok(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> WebCall {
        WebCall {
            tenant: "acme".into(),
            widget: "site".into(),
            number: "+15550100".into(),
        }
    }

    #[test]
    fn a_ticket_is_good_once_for_its_number_until_it_expires() {
        let t0 = Instant::now();
        let mut book = WebCallTickets::default();
        let a = book.issue(call(), t0);
        assert_eq!(
            book.redeem(&a, "+15550100", t0 + Duration::from_secs(5)),
            Ok(call())
        );
        assert_eq!(
            book.redeem(&a, "+15550100", t0 + Duration::from_secs(6)),
            Err(Refused::Unknown),
            "spent"
        );
        let b = book.issue(call(), t0);
        assert_eq!(
            book.redeem(&b, "1001", t0),
            Err(Refused::OtherNumber),
            "a ticket for the IVR does not ring an extension"
        );
        assert_eq!(
            book.redeem(&b, "+15550100", t0),
            Err(Refused::Unknown),
            "spent by the wrong try"
        );
        let c = book.issue(call(), t0);
        assert_eq!(
            book.redeem(&c, "+15550100", t0 + TICKET_LIFETIME),
            Err(Refused::Unknown),
            "expired"
        );
        assert_eq!(
            book.redeem("made-up", "+15550100", t0),
            Err(Refused::Unknown)
        );
    }

    #[test]
    fn the_book_stays_bounded() {
        let t0 = Instant::now();
        let mut book = WebCallTickets::default();
        let first = book.issue(call(), t0);
        for i in 0..MAX_TICKETS {
            book.issue(call(), t0 + Duration::from_millis(i as u64 + 1));
        }
        assert!(book.waiting.len() <= MAX_TICKETS);
        assert_eq!(
            book.redeem(&first, "+15550100", t0),
            Err(Refused::Unknown),
            "the oldest went first"
        );
    }
}
