//! Many transactions driven as one: a map by [`TransactionKey`], a heap of
//! deadlines, and one queue of outputs tagged with their transaction.
//!
//! At thousands of call setups per second, tens of thousands of
//! transactions are alive at once (each lingers up to 32 s for
//! retransmissions), so the next deadline comes from a min-heap, not a scan.
//! Heap entries are checked lazily: an entry whose transaction has moved its
//! deadline (or ended) is skipped when it surfaces.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use super::{
    ClientInvite, ClientNonInvite, Output, ServerInvite, ServerNonInvite, Transaction,
    TransactionKey,
};

/// Any of the four transaction kinds.
#[derive(Debug)]
pub enum AnyTransaction {
    // The larger ones boxed: the enum is the size of its largest variant,
    // and the table holds one per live transaction — in a registration
    // storm tens of thousands of non-INVITE server transactions lingering
    // for Timer J, which would each carry the INVITE's 248 bytes.
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(Box<ClientNonInvite>),
    ServerInvite(Box<ServerInvite>),
    ServerNonInvite(ServerNonInvite),
}

impl Transaction for AnyTransaction {
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            AnyTransaction::ClientInvite(t) => t.poll_timeout(),
            AnyTransaction::ClientNonInvite(t) => t.poll_timeout(),
            AnyTransaction::ServerInvite(t) => t.poll_timeout(),
            AnyTransaction::ServerNonInvite(t) => t.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            AnyTransaction::ClientInvite(t) => t.handle_timeout(now),
            AnyTransaction::ClientNonInvite(t) => t.handle_timeout(now),
            AnyTransaction::ServerInvite(t) => t.handle_timeout(now),
            AnyTransaction::ServerNonInvite(t) => t.handle_timeout(now),
        }
    }
    fn poll_output(&mut self) -> Option<Output> {
        match self {
            AnyTransaction::ClientInvite(t) => t.poll_output(),
            AnyTransaction::ClientNonInvite(t) => t.poll_output(),
            AnyTransaction::ServerInvite(t) => t.poll_output(),
            AnyTransaction::ServerNonInvite(t) => t.poll_output(),
        }
    }
    fn is_terminated(&self) -> bool {
        match self {
            AnyTransaction::ClientInvite(t) => t.is_terminated(),
            AnyTransaction::ClientNonInvite(t) => t.is_terminated(),
            AnyTransaction::ServerInvite(t) => t.is_terminated(),
            AnyTransaction::ServerNonInvite(t) => t.is_terminated(),
        }
    }
}

/// The live transactions of an endpoint.
#[derive(Debug, Default)]
pub struct TransactionTable {
    live: HashMap<TransactionKey, AnyTransaction>,
    deadlines: BinaryHeap<Reverse<(Instant, TransactionKey)>>,
    out: VecDeque<(TransactionKey, Output)>,
}

impl TransactionTable {
    pub fn new() -> TransactionTable {
        TransactionTable::default()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// True when a transaction with `key` is alive.
    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.live.contains_key(key)
    }

    /// Adds a new transaction (its first outputs are queued at once).
    /// Returns false, and changes nothing, when `key` is already alive.
    pub fn insert(&mut self, key: TransactionKey, tx: AnyTransaction) -> bool {
        if self.live.contains_key(&key) {
            return false;
        }
        self.live.insert(key.clone(), tx);
        self.settle(&key);
        true
    }

    /// Lets `f` act on the transaction `key` (hand it a response, the TU's
    /// answer, a retransmission…), then collects what it wants done.
    pub fn with<R>(
        &mut self,
        key: &TransactionKey,
        f: impl FnOnce(&mut AnyTransaction) -> R,
    ) -> Option<R> {
        let r = f(self.live.get_mut(key)?);
        self.settle(key);
        Some(r)
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.deadlines.peek() {
            match self.live.get(key).and_then(|t| t.poll_timeout()) {
                Some(current) if current == *at => return Some(*at),
                _ => {
                    // Stale entry: the transaction moved on or ended.
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    /// Fires every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(at) = self.poll_timeout() {
            if at > now {
                break;
            }
            let Some(Reverse((_, key))) = self.deadlines.pop() else {
                break;
            };
            if let Some(t) = self.live.get_mut(&key) {
                t.handle_timeout(now);
            }
            self.settle(&key);
        }
    }

    /// The next thing to do, and for which transaction.
    pub fn poll_output(&mut self) -> Option<(TransactionKey, Output)> {
        self.out.pop_front()
    }

    /// Collect a transaction's outputs, re-arm its deadline, forget it
    /// once it ended.
    fn settle(&mut self, key: &TransactionKey) {
        let Some(t) = self.live.get_mut(key) else {
            return;
        };
        while let Some(o) = t.poll_output() {
            self.out.push_back((key.clone(), o));
        }
        if t.is_terminated() {
            self.live.remove(key);
        } else if let Some(at) = t.poll_timeout() {
            self.deadlines.push(Reverse((at, key.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timers::TimerConfig;
    use crate::transaction::Delivery;
    use std::time::Duration;

    fn key(n: u32, method: &str) -> TransactionKey {
        TransactionKey::for_response(&format!("z9hG4bK{n}"), "10.0.0.1:5060", method)
    }

    #[test]
    fn drives_many_transactions_by_their_own_deadlines() {
        let start = Instant::now();
        let cfg = TimerConfig::default();
        let mut table = TransactionTable::new();
        // 1000 OPTIONS over UDP, started 1 ms apart; every other one answered.
        for n in 0..1000u32 {
            let now = start + Duration::from_millis(n as u64);
            let t = ClientNonInvite::new(now, cfg, false);
            assert!(table.insert(
                key(n, "OPTIONS"),
                AnyTransaction::ClientNonInvite(Box::new(t))
            ));
        }
        assert!(!table.insert(
            key(0, "OPTIONS"),
            AnyTransaction::ClientNonInvite(Box::new(ClientNonInvite::new(start, cfg, false)))
        ));
        let sent: Vec<_> = std::iter::from_fn(|| table.poll_output()).collect();
        assert_eq!(sent.len(), 1000);
        assert!(sent.iter().all(|(_, o)| *o == Output::SendRequest));
        for n in (0..1000u32).step_by(2) {
            let d = table.with(&key(n, "OPTIONS"), |t| match t {
                AnyTransaction::ClientNonInvite(t) => t.handle_response(start, 200),
                _ => unreachable!(),
            });
            assert_eq!(d, Some(Delivery::ToTu));
        }
        assert_eq!(
            table.poll_timeout(),
            Some(start + Duration::from_millis(501)),
            "timer E of #1 (#0 was answered)"
        );

        // Run the clock to the end; count what happened to each.
        let mut now = start;
        let (mut retransmits, mut timeouts, mut ended) = (0, 0, 0);
        while let Some(at) = table.poll_timeout() {
            assert!(at >= now);
            now = at;
            table.handle_timeout(now);
            while let Some((k, o)) = table.poll_output() {
                match o {
                    Output::SendRequest => retransmits += 1,
                    Output::TimedOut => timeouts += 1,
                    Output::Terminated => ended += 1,
                    other => panic!("{k:?}: {other:?}"),
                }
            }
        }
        assert!(table.is_empty());
        assert_eq!(timeouts, 500, "the unanswered half timed out (timer F)");
        assert_eq!(ended, 1000);
        assert_eq!(
            retransmits,
            500 * 10,
            "ten retransmissions each before 64·T1"
        );
        assert_eq!(
            now,
            start + Duration::from_millis(999) + Duration::from_secs(32)
        );
    }

    #[test]
    fn unknown_keys_are_left_alone() {
        let mut table = TransactionTable::new();
        assert_eq!(table.with(&key(9, "INVITE"), |_| ()), None);
        assert_eq!(table.poll_timeout(), None);
        assert!(table.poll_output().is_none());
    }
}
