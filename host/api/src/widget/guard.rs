//! What stands between a public web form and a tenant's queue: signed,
//! short-lived, single-use tokens bound to the page's origin, and request
//! counts per visitor address, per tenant and per number called. Sans-IO:
//! every decision takes `now`.
//!
//! Origins only stop other web sites' pages (a browser sends `Origin` and
//! honours CORS); a script can send any header, so the counts are what
//! holds against a flood, and the token makes each request cost a round
//! trip and expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token may be used after it is issued.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// Tokens one address may take a minute.
pub const TOKENS_PER_ADDRESS_PER_MINUTE: u32 = 20;
/// Callbacks one address may ask for in 10 minutes.
pub const CALLBACKS_PER_ADDRESS: u32 = 3;
/// Callbacks one tenant's widgets may take an hour.
pub const CALLBACKS_PER_TENANT_PER_HOUR: u32 = 60;
/// Callbacks one number may be asked for an hour (nobody's phone is rung
/// again and again by strangers).
pub const CALLBACKS_PER_NUMBER_PER_HOUR: u32 = 2;
/// Browser calls ("call us") one address may start in 10 minutes.
pub const CALLS_PER_ADDRESS: u32 = 5;
/// Browser calls one tenant's widgets may start an hour.
pub const CALLS_PER_TENANT_PER_HOUR: u32 = 120;

/// Counts of something per key in fixed windows.
#[derive(Debug, Default)]
pub struct Windows {
    seen: HashMap<String, (Instant, u32)>,
}

impl Windows {
    /// Whether one more under `key` fits `limit` per `window` (and count
    /// it if so).
    pub fn allow(&mut self, key: &str, limit: u32, window: Duration, now: Instant) -> bool {
        if self.seen.len() > 10_000 {
            self.seen
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
        }
        let slot = self.seen.entry(key.to_string()).or_insert((now, 0));
        if now.saturating_duration_since(slot.0) >= window {
            *slot = (now, 0);
        }
        if slot.1 >= limit {
            return false;
        }
        slot.1 += 1;
        true
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    /// Not made by this host for this widget and origin.
    Forged,
    Expired,
    /// Used before.
    Spent,
}

/// Issues and checks the tokens; keeps the counts.
pub struct Guard {
    key: [u8; 32],
    /// Created at (the clock tokens count from).
    epoch: Instant,
    /// Tokens used, until they would have expired anyway.
    spent: HashMap<String, Instant>,
    pub windows: Windows,
}

impl Guard {
    pub fn new(key: [u8; 32], now: Instant) -> Guard {
        Guard {
            key,
            epoch: now,
            spent: HashMap::new(),
            windows: Windows::default(),
        }
    }

    fn mac(&self, scope: &str, origin: &str, expires: u64, nonce: &str) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        for part in [scope, origin, &expires.to_string(), nonce] {
            m.update(part.as_bytes());
            m.update(&[0]);
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// A token for widget `scope` (`tenant/name`) used from `origin`:
    /// `expires.nonce.mac`, `expires` in ms of this guard's clock.
    pub fn issue(&self, scope: &str, origin: &str, nonce: &str, now: Instant) -> String {
        let expires = (now + TOKEN_LIFETIME)
            .saturating_duration_since(self.epoch)
            .as_millis() as u64;
        format!(
            "{expires}.{nonce}.{}",
            self.mac(scope, origin, expires, nonce)
        )
    }

    /// Check `token` for `scope` and `origin` and spend it.
    pub fn spend(
        &mut self,
        token: &str,
        scope: &str,
        origin: &str,
        now: Instant,
    ) -> Result<(), TokenError> {
        let mut parts = token.splitn(3, '.');
        let (Some(expires), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if nonce.is_empty() || nonce.len() > 64 {
            return Err(TokenError::Malformed);
        }
        let want = self.mac(scope, origin, expires, nonce);
        // Equal length hex strings, compared without an early exit.
        let same = want.len() == mac.len()
            && want
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |d, (a, b)| d | (a ^ b))
                == 0;
        if !same {
            return Err(TokenError::Forged);
        }
        let expires_at = self.epoch + Duration::from_millis(expires);
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        self.spent.retain(|_, until| *until > now);
        if self.spent.contains_key(nonce) {
            return Err(TokenError::Spent);
        }
        self.spent.insert(nonce.to_string(), expires_at);
        Ok(())
    }
}

/// A number to call back: `+` and 8 to 15 digits once spaces, dashes,
/// dots and brackets are gone (E.164).
pub fn callback_number(input: &str) -> Option<String> {
    let kept: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = kept.strip_prefix('+')?;
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_once_for_its_widget_and_origin_until_it_expires() {
        let t0 = Instant::now();
        let mut g = Guard::new([7; 32], t0);
        let site = "https://www.example.com";
        let tok = g.issue("demo/site", site, "n1", t0);
        assert_eq!(
            g.spend(&tok, "demo/site", "https://evil.example", t0),
            Err(TokenError::Forged),
            "another origin"
        );
        assert_eq!(
            g.spend(&tok, "demo/other", site, t0),
            Err(TokenError::Forged),
            "another widget"
        );
        let mut bent = tok.clone();
        bent.push('0');
        assert_eq!(
            g.spend(&bent, "demo/site", site, t0),
            Err(TokenError::Forged)
        );
        assert_eq!(
            g.spend("x", "demo/site", site, t0),
            Err(TokenError::Malformed)
        );
        assert_eq!(g.spend(&tok, "demo/site", site, t0), Ok(()));
        assert_eq!(g.spend(&tok, "demo/site", site, t0), Err(TokenError::Spent));
        let late = g.issue("demo/site", site, "n2", t0);
        assert_eq!(
            g.spend(&late, "demo/site", site, t0 + TOKEN_LIFETIME),
            Err(TokenError::Expired)
        );
        // Another host (another key) made it: forged.
        let other = Guard::new([8; 32], t0).issue("demo/site", site, "n3", t0);
        assert_eq!(
            g.spend(&other, "demo/site", site, t0),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn windows_count_per_key_and_start_again() {
        let t0 = Instant::now();
        let mut w = Windows::default();
        let min = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(w.allow("1.2.3.4", 3, min, t0));
        }
        assert!(!w.allow("1.2.3.4", 3, min, t0 + Duration::from_secs(59)));
        assert!(w.allow("5.6.7.8", 3, min, t0), "another key");
        assert!(w.allow("1.2.3.4", 3, min, t0 + min), "a new window");
    }

    #[test]
    fn numbers_are_international() {
        assert_eq!(
            callback_number("+44 20 7946 0000").as_deref(),
            Some("+442079460000")
        );
        assert_eq!(
            callback_number("+1 (555) 010-0142").as_deref(),
            Some("+15550100142")
        );
        for bad in [
            "020 7946 0000",
            "+1",
            "+1555abc0142",
            "+1234567890123456",
            "",
        ] {
            assert_eq!(callback_number(bad), None, "{bad}");
        }
    }
}
