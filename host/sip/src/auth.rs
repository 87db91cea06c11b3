//! Digest authentication for SIP (RFC 3261 §22, RFC 7616 algorithms as
//! RFC 8760 brings them to SIP): challenges, stateless nonces, verification
//! against stored HA1 values, and the failed-attempt limiter.
//!
//! Header parsing and the client side (answering a trunk's 401/407) use the
//! `digest_auth` crate. It computes responses from a password only, and a
//! registrar must not keep passwords, so the server side computes the
//! expected response from the stored `HA1 = H(user:realm:password)` with the
//! same crate's hash functions.
//!
//! Nonces carry their issue time and an HMAC of it under a per-process key:
//! any node holding the key can check them without remembering them, and an
//! old one is answered with `stale=true`, which makes phones retry with the
//! new nonce instead of asking their user for a password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use digest_auth::{Algorithm, AlgorithmType, AuthorizationHeader};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The digest algorithms Switchyard offers, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Md5,
}

impl DigestAlgorithm {
    fn inner(self) -> Algorithm {
        match self {
            DigestAlgorithm::Sha256 => Algorithm::new(AlgorithmType::SHA2_256, false),
            DigestAlgorithm::Md5 => Algorithm::new(AlgorithmType::MD5, false),
        }
    }

    /// The name in `algorithm=` parameters.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }
}

/// What a registrar stores for an extension: HA1 per algorithm, never the
/// password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    pub username: String,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl StoredCredentials {
    /// Derive the stored values from a password (at creation or change).
    pub fn from_password(username: &str, realm: &str, password: &str) -> StoredCredentials {
        let a1 = format!("{username}:{realm}:{password}");
        StoredCredentials {
            username: username.to_string(),
            realm: realm.to_string(),
            ha1_md5: DigestAlgorithm::Md5.inner().hash_str(&a1),
            ha1_sha256: DigestAlgorithm::Sha256.inner().hash_str(&a1),
        }
    }

    fn ha1(&self, algorithm: DigestAlgorithm) -> &str {
        match algorithm {
            DigestAlgorithm::Md5 => &self.ha1_md5,
            DigestAlgorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Issues and checks stateless nonces: `hex(issued-at seconds) . hex(mac)`.
pub struct Nonces {
    key: Vec<u8>,
    lifetime: Duration,
}

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    /// Genuine but older than its lifetime: challenge again with stale=true.
    Stale,
    /// Not one of ours.
    Forged,
}

type HmacSha256 = Hmac<Sha256>;

impl Nonces {
    /// `key` must be secret and the same on every node that checks nonces.
    pub fn new(key: &[u8], lifetime: Duration) -> Nonces {
        Nonces {
            key: key.to_vec(),
            lifetime,
        }
    }

    fn mac(&self, issued: u64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&issued.to_be_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A nonce issued at `now_unix` (seconds since the epoch).
    pub fn issue(&self, now_unix: u64) -> String {
        format!("{:x}.{}", now_unix, self.mac(now_unix))
    }

    /// Check a nonce a client sent back at `now_unix`.
    pub fn check(&self, nonce: &str, now_unix: u64) -> NonceCheck {
        let Some((issued, mac)) = nonce.split_once('.') else {
            return NonceCheck::Forged;
        };
        let Ok(issued) = u64::from_str_radix(issued, 16) else {
            return NonceCheck::Forged;
        };
        let mut expected = HmacSha256::new_from_slice(&self.key).expect("any key length");
        expected.update(&issued.to_be_bytes());
        let Ok(mac) = hex::decode(mac) else {
            return NonceCheck::Forged;
        };
        if expected.verify_truncated_left(&mac).is_err() || mac.len() != 16 {
            return NonceCheck::Forged;
        }
        if issued > now_unix || now_unix - issued > self.lifetime.as_secs() {
            NonceCheck::Stale
        } else {
            NonceCheck::Fresh
        }
    }
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` value.
pub fn challenge(realm: &str, nonce: &str, algorithm: DigestAlgorithm, stale: bool) -> String {
    let mut h = format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
        algorithm.name()
    );
    if stale {
        h.push_str(", stale=true");
    }
    h
}

/// The outcome of checking an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right: this user is authenticated.
    Authenticated { username: String },
    /// Right password, old nonce: challenge again with `stale=true`.
    Stale,
    /// Wrong password, unknown user, forged nonce or wrong realm.
    Rejected(&'static str),
    /// The header could not be read: 400.
    Malformed(String),
}

/// Check `authorization` (the header value) for a request with `method`.
/// `lookup` finds the stored credentials of a username in `realm`.
pub fn verify(
    method: &str,
    authorization: &str,
    realm: &str,
    nonces: &Nonces,
    now_unix: u64,
    lookup: impl Fn(&str) -> Option<StoredCredentials>,
) -> Verdict {
    let header = match AuthorizationHeader::parse(authorization) {
        Ok(h) => h,
        Err(e) => return Verdict::Malformed(format!("Authorization: {e}")),
    };
    if header.realm != realm {
        return Verdict::Rejected("wrong realm");
    }
    let algorithm = match header.algorithm.algo {
        AlgorithmType::MD5 if !header.algorithm.sess => DigestAlgorithm::Md5,
        AlgorithmType::SHA2_256 if !header.algorithm.sess => DigestAlgorithm::Sha256,
        _ => return Verdict::Rejected("unsupported algorithm"),
    };
    let Some(stored) = lookup(&header.username) else {
        return Verdict::Rejected("unknown user");
    };
    let nonce_state = nonces.check(&header.nonce, now_unix);
    if nonce_state == NonceCheck::Forged {
        return Verdict::Rejected("forged nonce");
    }
    let h = |s: &str| algorithm.inner().hash_str(s);
    let ha2 = h(&format!("{method}:{}", header.uri));
    let expected = match (&header.qop, &header.cnonce) {
        (Some(_), Some(cnonce)) => h(&format!(
            "{}:{}:{:08x}:{}:auth:{}",
            stored.ha1(algorithm),
            header.nonce,
            header.nc,
            cnonce,
            ha2
        )),
        (Some(_), None) => return Verdict::Malformed("qop without cnonce".into()),
        (None, _) => h(&format!(
            "{}:{}:{}",
            stored.ha1(algorithm),
            header.nonce,
            ha2
        )),
    };
    if !constant_time_eq(
        expected.as_bytes(),
        header.response.to_ascii_lowercase().as_bytes(),
    ) {
        return Verdict::Rejected("wrong password");
    }
    match nonce_state {
        NonceCheck::Fresh => Verdict::Authenticated {
            username: header.username,
        },
        _ => Verdict::Stale,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Authorization` value a client (a trunk registration, an outbound
/// call) sends to answer `challenge` (a `WWW-Authenticate` or
/// `Proxy-Authenticate` value).
pub fn answer_challenge(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let mut prompt =
        digest_auth::parse(challenge).map_err(|e| format!("challenge not understood: {e}"))?;
    let ctx = digest_auth::AuthContext::new_with_method(
        username,
        password,
        uri,
        Option::<&[u8]>::None,
        digest_auth::HttpMethod::from(method.to_string()),
    );
    prompt
        .respond(&ctx)
        .map(|h| h.to_header_string())
        .map_err(|e| format!("cannot answer the challenge: {e}"))
}

/// Blocks source addresses that fail authentication too often: `max`
/// failures within `window` block the address for `block_for`.
pub struct FailedAuthLimiter {
    max: u32,
    window: Duration,
    block_for: Duration,
    by_source: HashMap<IpAddr, Failures>,
}

struct Failures {
    first: Instant,
    count: u32,
    blocked_until: Option<Instant>,
}

impl FailedAuthLimiter {
    pub fn new(max: u32, window: Duration, block_for: Duration) -> FailedAuthLimiter {
        FailedAuthLimiter {
            max,
            window,
            block_for,
            by_source: HashMap::new(),
        }
    }

    /// Is `source` blocked at `now`? Blocked sources get no challenge at all.
    pub fn is_blocked(&self, source: IpAddr, now: Instant) -> bool {
        self.by_source
            .get(&source)
            .and_then(|f| f.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Count a failure; returns the end of the block when this failure
    /// starts one (the caller logs it).
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) -> Option<Instant> {
        let f = self.by_source.entry(source).or_insert(Failures {
            first: now,
            count: 0,
            blocked_until: None,
        });
        if now.duration_since(f.first) > self.window
            || f.blocked_until.is_some_and(|until| now >= until)
        {
            *f = Failures {
                first: now,
                count: 0,
                blocked_until: None,
            };
        }
        f.count += 1;
        if f.count >= self.max && f.blocked_until.is_none() {
            let until = now + self.block_for;
            f.blocked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A success forgets the source's failures.
    pub fn record_success(&mut self, source: IpAddr) {
        self.by_source.remove(&source);
    }

    /// Forget entries that no longer matter (call now and then).
    pub fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.by_source.retain(|_, f| {
            f.blocked_until.is_some_and(|u| now < u) || now.duration_since(f.first) <= window
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "acme.example";
    const NOW: u64 = 1_795_392_000;

    fn nonces() -> Nonces {
        Nonces::new(b"test key, not secret", Duration::from_secs(300))
    }

    fn alice() -> Option<StoredCredentials> {
        Some(StoredCredentials::from_password("1001", REALM, "s3cret"))
    }

    /// What a phone sends back: computed by the `digest_auth` client side.
    fn phone_answer(algorithm: DigestAlgorithm, nonce: &str, password: &str) -> String {
        let ch = challenge(REALM, nonce, algorithm, false);
        answer_challenge(&ch, "REGISTER", "sip:acme.example", "1001", password).unwrap()
    }

    #[test]
    fn ha1_is_what_rfc_2617_defines() {
        // H("1001:acme.example:s3cret"), computed independently (Python's
        // hashlib).
        let c = alice().unwrap();
        assert_eq!(c.ha1_md5, "b0ec7810fd030ec4753023b1823afa74");
        assert_eq!(
            c.ha1_sha256,
            "c95731d798adc616af62867c57474d4b032ed92adbe0d2f52b28989c7b600a60"
        );
        assert_ne!(
            c.ha1_md5,
            StoredCredentials::from_password("1001", REALM, "other").ha1_md5
        );
    }

    #[test]
    fn right_password_authenticates_with_md5_and_sha256() {
        let n = nonces();
        for alg in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
            let nonce = n.issue(NOW);
            let auth = phone_answer(alg, &nonce, "s3cret");
            assert!(
                auth.contains(&format!("algorithm={}", alg.name())),
                "{auth}"
            );
            let v = verify("REGISTER", &auth, REALM, &n, NOW + 10, |_| alice());
            assert_eq!(
                v,
                Verdict::Authenticated {
                    username: "1001".into()
                },
                "{alg:?}"
            );
        }
    }

    #[test]
    fn wrong_password_unknown_user_and_wrong_method_are_rejected() {
        let n = nonces();
        let nonce = n.issue(NOW);
        let auth = phone_answer(DigestAlgorithm::Sha256, &nonce, "guess");
        assert_eq!(
            verify("REGISTER", &auth, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("wrong password")
        );
        let auth = phone_answer(DigestAlgorithm::Sha256, &nonce, "s3cret");
        assert_eq!(
            verify("REGISTER", &auth, REALM, &n, NOW, |_| None),
            Verdict::Rejected("unknown user")
        );
        assert_eq!(
            verify("INVITE", &auth, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("wrong password"),
            "the method is part of the digest"
        );
        assert_eq!(
            verify("REGISTER", &auth, "other.example", &n, NOW, |_| alice()),
            Verdict::Rejected("wrong realm")
        );
    }

    #[test]
    fn old_nonces_are_stale_and_forged_ones_rejected() {
        let n = nonces();
        let nonce = n.issue(NOW);
        assert_eq!(n.check(&nonce, NOW + 300), NonceCheck::Fresh);
        assert_eq!(n.check(&nonce, NOW + 301), NonceCheck::Stale);
        let auth = phone_answer(DigestAlgorithm::Md5, &nonce, "s3cret");
        assert_eq!(
            verify("REGISTER", &auth, REALM, &n, NOW + 600, |_| alice()),
            Verdict::Stale
        );
        // Another key, a tampered time, garbage: forged.
        let other = Nonces::new(b"another key", Duration::from_secs(300));
        assert_eq!(other.check(&nonce, NOW), NonceCheck::Forged);
        let tampered = format!("{:x}{}", NOW + 1000, &nonce[nonce.find('.').unwrap()..]);
        assert_eq!(n.check(&tampered, NOW), NonceCheck::Forged);
        assert_eq!(n.check("hello", NOW), NonceCheck::Forged);
        assert_eq!(n.check("zz.zz", NOW), NonceCheck::Forged);
        let forged = phone_answer(DigestAlgorithm::Md5, "1.00", "s3cret");
        assert_eq!(
            verify("REGISTER", &forged, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("forged nonce")
        );
    }

    #[test]
    fn challenges_say_stale_when_asked() {
        let c = challenge(REALM, "abc", DigestAlgorithm::Sha256, true);
        assert_eq!(
            c,
            "Digest realm=\"acme.example\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
    }

    #[test]
    fn garbage_headers_are_malformed_not_a_panic() {
        let n = nonces();
        for junk in [
            "",
            "Digest",
            "Basic Zm9vOmJhcg==",
            "Digest username=\"x\"",
            "\u{0}\u{1}",
        ] {
            let v = verify("REGISTER", junk, REALM, &n, NOW, |_| alice());
            assert!(
                matches!(v, Verdict::Malformed(_) | Verdict::Rejected(_)),
                "{junk:?}: {v:?}"
            );
        }
    }

    #[test]
    fn brute_force_from_one_address_is_blocked_for_a_while() {
        let start = Instant::now();
        let mut l = FailedAuthLimiter::new(5, Duration::from_secs(60), Duration::from_secs(300));
        let attacker: IpAddr = "192.0.2.7".parse().unwrap();
        let phone: IpAddr = "198.51.100.9".parse().unwrap();
        for i in 0..4 {
            assert_eq!(
                l.record_failure(attacker, start + Duration::from_secs(i)),
                None
            );
        }
        let until = l.record_failure(attacker, start + Duration::from_secs(4));
        assert_eq!(until, Some(start + Duration::from_secs(304)));
        assert!(l.is_blocked(attacker, start + Duration::from_secs(100)));
        assert!(
            !l.is_blocked(phone, start + Duration::from_secs(100)),
            "others unaffected"
        );
        assert!(
            !l.is_blocked(attacker, start + Duration::from_secs(304)),
            "block expires"
        );
        // Failures spread wider than the window never block.
        for i in 0..10 {
            assert_eq!(
                l.record_failure(phone, start + Duration::from_secs(i * 61)),
                None
            );
        }
        l.record_success(phone);
        l.prune(start + Duration::from_secs(10_000));
        assert!(l.by_source.is_empty());
    }
}
