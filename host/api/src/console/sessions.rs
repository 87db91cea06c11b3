//! The console's sign-in sessions, decided on a clock the caller passes
//! (`now_ms`), so expiry and the sign-in limit are tested without waiting.
//!
//! A session is a random id (the cookie's value, 256 bits) mapped to what
//! it was signed in with. Only the id's SHA-256 is kept, as the API keys'
//! tokens are, so a memory dump does not hand out live cookies. Sessions
//! live in memory: a restart signs everybody out, which loses no data.
//!
//! What a session holds is re-checked on every request by the caller of
//! [`Sessions::get`] (the key is authenticated again, the extension's
//! password hash compared), so revoking a key or changing a password ends
//! its sessions at once.

use std::collections::HashMap;
use std::sync::Mutex;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A session ends after this long without a request…
pub const IDLE_MS: u64 = 60 * 60 * 1000;
/// …and after this long in any case (a shift), however busy.
pub const ABSOLUTE_MS: u64 = 12 * 60 * 60 * 1000;
/// Sessions kept at once, across tenants; signing in beyond it ends the
/// oldest, so a flood of sign-ins cannot grow memory without bound.
pub const MAX_SESSIONS: usize = 20_000;
/// Wrong passwords for one account within [`FAILURE_WINDOW_MS`] before
/// sign-in for it is refused until the window has passed.
pub const MAX_FAILURES: u32 = 10;
pub const FAILURE_WINDOW_MS: u64 = 10 * 60 * 1000;

/// What a session was signed in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The operator token.
    Operator,
    /// A tenant API key's token (authenticated again on every request).
    Key { token: String },
    /// An extension and its SIP password, by the password's HA1 at
    /// sign-in: a new password ends the session.
    Extension {
        tenant: String,
        number: String,
        ha1_md5: String,
    },
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub credential: Credential,
    /// Sent back in `X-CSRF-Token` with every request that changes
    /// something; another site's page cannot read it.
    pub csrf: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

impl Session {
    /// When it ends if nothing else happens.
    pub fn expires_ms(&self) -> u64 {
        (self.last_seen_ms + IDLE_MS).min(self.created_ms + ABSOLUTE_MS)
    }
}

#[derive(Default)]
struct Inner {
    by_hash: HashMap<[u8; 32], Session>,
    /// Account → (failures, window start).
    failures: HashMap<String, (u32, u64)>,
}

/// Every session of the server.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a session: its id (the cookie) and the session.
    pub fn create(&self, credential: Credential, now_ms: u64) -> (String, Session) {
        let id = random_hex(32);
        let session = Session {
            credential,
            csrf: random_hex(24),
            created_ms: now_ms,
            last_seen_ms: now_ms,
        };
        let mut inner = self.lock();
        if inner.by_hash.len() >= MAX_SESSIONS {
            inner.by_hash.retain(|_, s| s.expires_ms() > now_ms);
        }
        if inner.by_hash.len() >= MAX_SESSIONS
            && let Some(oldest) = inner
                .by_hash
                .iter()
                .min_by_key(|(_, s)| s.last_seen_ms)
                .map(|(k, _)| *k)
        {
            inner.by_hash.remove(&oldest);
        }
        inner.by_hash.insert(hash(&id), session.clone());
        (id, session)
    }

    /// The session of cookie `id`, touched, unless it has expired (then it
    /// is gone).
    pub fn get(&self, id: &str, now_ms: u64) -> Option<Session> {
        let key = hash(id);
        let mut inner = self.lock();
        let s = inner.by_hash.get_mut(&key)?;
        if s.expires_ms() <= now_ms {
            inner.by_hash.remove(&key);
            return None;
        }
        s.last_seen_ms = now_ms;
        Some(s.clone())
    }

    /// Sign out.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().by_hash.remove(&hash(id)).is_some()
    }

    /// Sessions alive now (for figures and tests).
    pub fn count(&self, now_ms: u64) -> usize {
        let mut inner = self.lock();
        inner.by_hash.retain(|_, s| s.expires_ms() > now_ms);
        inner.by_hash.len()
    }

    /// Whether `account` may try a password now.
    pub fn may_try(&self, account: &str, now_ms: u64) -> bool {
        let inner = self.lock();
        match inner.failures.get(account) {
            Some(&(n, start)) if now_ms < start + FAILURE_WINDOW_MS => n < MAX_FAILURES,
            _ => true,
        }
    }

    /// A wrong password for `account`.
    pub fn failed(&self, account: &str, now_ms: u64) {
        let mut inner = self.lock();
        if inner.failures.len() > 100_000 {
            inner
                .failures
                .retain(|_, (_, start)| now_ms < *start + FAILURE_WINDOW_MS);
        }
        let e = inner
            .failures
            .entry(account.to_string())
            .or_insert((0, now_ms));
        if now_ms >= e.1 + FAILURE_WINDOW_MS {
            *e = (0, now_ms);
        }
        e.0 += 1;
    }

    /// A right password: the count starts again.
    pub fn succeeded(&self, account: &str) {
        self.lock().failures.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn a_session_is_found_by_its_id_only_and_its_tokens_are_random() {
        let s = Sessions::default();
        let (id, a) = s.create(Credential::Operator, T0);
        let (id2, b) = s.create(Credential::Operator, T0);
        assert_eq!(id.len(), 64);
        assert_ne!(id, id2);
        assert_ne!(a.csrf, b.csrf);
        assert_eq!(s.get(&id, T0 + 1).unwrap().csrf, a.csrf);
        assert!(s.get("0".repeat(64).as_str(), T0).is_none());
        assert!(s.remove(&id));
        assert!(s.get(&id, T0 + 2).is_none());
        assert!(s.get(&id2, T0 + 2).is_some());
    }

    #[test]
    fn a_session_ends_when_idle_and_after_a_shift_however_busy() {
        let s = Sessions::default();
        let (id, _) = s.create(Credential::Operator, T0);
        // Used every 50 minutes: stays…
        let mut now = T0;
        while now + 50 * 60 * 1000 < T0 + ABSOLUTE_MS {
            now += 50 * 60 * 1000;
            assert!(s.get(&id, now).is_some(), "at +{} min", (now - T0) / 60_000);
        }
        // …until 12 hours after sign-in.
        assert!(s.get(&id, T0 + ABSOLUTE_MS).is_none());

        let (idle, _) = s.create(Credential::Operator, T0);
        assert!(s.get(&idle, T0 + IDLE_MS - 1).is_some());
        assert!(s.get(&idle, T0 + IDLE_MS - 1 + IDLE_MS).is_none());
        assert_eq!(s.count(T0 + ABSOLUTE_MS), 0);
    }

    #[test]
    fn ten_wrong_passwords_lock_the_account_for_the_window_and_no_other() {
        let s = Sessions::default();
        for i in 0..MAX_FAILURES {
            assert!(s.may_try("ext:demo:1002", T0 + u64::from(i)));
            s.failed("ext:demo:1002", T0 + u64::from(i));
        }
        assert!(!s.may_try("ext:demo:1002", T0 + 60_000));
        assert!(s.may_try("ext:demo:1003", T0 + 60_000));
        assert!(s.may_try("ext:demo:1002", T0 + FAILURE_WINDOW_MS));
        s.failed("ext:demo:1003", T0);
        s.succeeded("ext:demo:1003");
        assert!(s.may_try("ext:demo:1003", T0));
    }

    #[test]
    fn past_the_cap_the_least_recently_used_session_goes() {
        let s = Sessions::default();
        let (first, _) = s.create(Credential::Operator, T0);
        for i in 1..MAX_SESSIONS as u64 {
            s.create(Credential::Operator, T0 + i);
        }
        // Touch the first: now another is the least recently used.
        assert!(s.get(&first, T0 + MAX_SESSIONS as u64).is_some());
        s.create(Credential::Operator, T0 + MAX_SESSIONS as u64 + 1);
        assert_eq!(s.count(T0 + MAX_SESSIONS as u64 + 2), MAX_SESSIONS);
        assert!(s.get(&first, T0 + MAX_SESSIONS as u64 + 2).is_some());
    }
}
