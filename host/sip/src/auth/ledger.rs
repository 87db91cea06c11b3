//! Which nonces have been used, so that captured credentials cannot be
//! sent again (issue 11: a `Proxy-Authorization` pasted into a new INVITE
//! was accepted without a challenge).
//!
//! With `qop=auth` a client may reuse a nonce, counting requests in `nc`
//! (RFC 7616 §3.4): each use must carry a higher `nc` than the last. A
//! nonce used without `qop` is good for one request. Only uses that carried
//! the right password are recorded, so unauthenticated traffic cannot fill
//! the ledger; an entry lives until its nonce has expired anyway (the
//! nonce's own time check then refuses it), so the ledger holds at most
//! the nonces of one lifetime. When it is full, new uses are refused (the
//! client is challenged again) rather than older entries forgotten, which
//! would let their replays through.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

/// What the ledger keeps of a nonce: 16 bytes of its SHA-256 instead of
/// its ~58 characters twice (a registration storm keeps one per
/// registration for a nonce lifetime). Two nonces that collided would
/// make a fresh one look used — the client is then challenged again —
/// never the other way round, and at 128 bits they do not.
type NonceId = [u8; 16];

fn id(nonce: &str) -> NonceId {
    let digest = Sha256::digest(nonce.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// Entries at most: a million nonces in use within one lifetime is far
/// beyond one node's authenticated request rate.
const DEFAULT_CAPACITY: usize = 1 << 20;

pub struct NonceLedger {
    /// Nonce → the highest `nc` used with it (`None`: used without qop).
    uses: HashMap<NonceId, Option<u32>>,
    /// (expiry, nonce) in the order recorded; expiries only grow.
    expiries: VecDeque<(u64, NonceId)>,
    capacity: usize,
}

impl Default for NonceLedger {
    fn default() -> Self {
        NonceLedger::with_capacity(DEFAULT_CAPACITY)
    }
}

impl NonceLedger {
    pub fn with_capacity(capacity: usize) -> NonceLedger {
        NonceLedger {
            uses: HashMap::new(),
            expiries: VecDeque::new(),
            capacity,
        }
    }

    /// Record a use of `nonce` with `nc` (None when the client sent no
    /// qop) at `now_unix`; the nonce is worthless from `expires_unix` on.
    /// False when this use is a replay (or the ledger is full).
    pub fn record(
        &mut self,
        nonce: &str,
        nc: Option<u32>,
        expires_unix: u64,
        now_unix: u64,
    ) -> bool {
        self.forget_expired(now_unix);
        let nonce = id(nonce);
        match self.uses.get_mut(&nonce) {
            Some(last) => match (*last, nc) {
                (Some(prev), Some(n)) if n > prev => {
                    *last = Some(n);
                    true
                }
                _ => false,
            },
            None => {
                if self.uses.len() >= self.capacity {
                    return false;
                }
                self.uses.insert(nonce, nc);
                // Nonces of one lifetime expire in the order they were
                // issued, near enough: a later-recorded, earlier-expiring
                // entry only stays a little longer than needed.
                let expires = self
                    .expiries
                    .back()
                    .map_or(expires_unix, |(e, _)| (*e).max(expires_unix));
                self.expiries.push_back((expires, nonce));
                true
            }
        }
    }

    fn forget_expired(&mut self, now_unix: u64) {
        while let Some((e, _)) = self.expiries.front() {
            if *e > now_unix {
                break;
            }
            if let Some((_, n)) = self.expiries.pop_front() {
                self.uses.remove(&n);
            }
        }
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.uses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nc_must_grow_per_nonce() {
        let mut l = NonceLedger::default();
        assert!(l.record("n1", Some(1), 100, 10));
        assert!(!l.record("n1", Some(1), 100, 11), "the same nc again");
        assert!(l.record("n1", Some(2), 100, 12));
        assert!(l.record("n1", Some(7), 100, 13), "gaps are fine");
        assert!(!l.record("n1", Some(3), 100, 14), "going back is not");
        assert!(!l.record("n1", None, 100, 14), "dropping qop is not");
        assert!(
            l.record("n2", Some(1), 100, 14),
            "other nonces are separate"
        );
    }

    #[test]
    fn without_qop_a_nonce_is_good_once() {
        let mut l = NonceLedger::default();
        assert!(l.record("n", None, 100, 10));
        assert!(!l.record("n", None, 100, 11));
        assert!(!l.record("n", Some(5), 100, 11));
    }

    #[test]
    fn entries_go_when_their_nonce_expires() {
        let mut l = NonceLedger::default();
        assert!(l.record("a", Some(1), 50, 10));
        assert!(l.record("b", Some(1), 60, 20));
        assert_eq!(l.len(), 2);
        l.forget_expired(55);
        assert_eq!(l.len(), 1);
        l.forget_expired(60);
        assert!(l.is_empty());
    }

    #[test]
    fn a_full_ledger_refuses_instead_of_forgetting() {
        let mut l = NonceLedger::with_capacity(2);
        assert!(l.record("a", Some(1), 100, 10));
        assert!(l.record("b", Some(1), 100, 10));
        assert!(!l.record("c", Some(1), 100, 10));
        assert!(!l.record("a", Some(1), 100, 10), "a is still remembered");
        assert!(l.record("c", Some(1), 200, 100), "room again after expiry");
    }
}
