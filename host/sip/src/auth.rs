//! Digest authentication for SIP (RFC 3261 §22, RFC 7616 algorithms as
//! RFC 8760 brings them to SIP): challenges, nonces, verification against
//! stored HA1 values, the client side that answers a carrier's challenge,
//! and the failed-attempt limiter.
//!
//! Headers are read by [`params`], this crate's own parser: the
//! `digest_auth` crate used before panicked on non-ASCII input (issue 11)
//! and was replaced rather than patched, since the parser is small and sits
//! on the unauthenticated path. A registrar must not keep passwords, so the
//! server side computes the expected response from the stored
//! `HA1 = H(user:realm:password)`.
//!
//! Nonces carry their issue time and an HMAC of it under a per-process key,
//! so a forged or old one is recognised without a table; an old one is
//! answered with `stale=true`, which makes phones retry with the new nonce
//! instead of asking their user for a password. What a table is needed for
//! is replay: [`ledger`] remembers each nonce's uses (`nc` must grow), and
//! the credentials' `uri` must be the request's own Request-URI, so a
//! captured header cannot be pasted into another request.

pub mod ledger;
pub mod params;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::message::addr::SipUri;
use ledger::NonceLedger;
use params::quote;

/// The digest algorithms Switchyard offers, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Md5,
}

impl DigestAlgorithm {
    /// The name in `algorithm=` parameters.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }

    /// The algorithm an `algorithm=` value names (absent means MD5);
    /// `-sess` variants and others are not supported.
    pub fn from_param(value: Option<&str>) -> Option<DigestAlgorithm> {
        match value {
            None => Some(DigestAlgorithm::Md5),
            Some(v) if v.eq_ignore_ascii_case("MD5") => Some(DigestAlgorithm::Md5),
            Some(v) if v.eq_ignore_ascii_case("SHA-256") => Some(DigestAlgorithm::Sha256),
            Some(_) => None,
        }
    }

    /// Lowercase hex of the hash of `s`.
    pub fn hash_hex(self, s: &str) -> String {
        match self {
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(s.as_bytes())),
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(s.as_bytes())),
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
            ha1_md5: DigestAlgorithm::Md5.hash_hex(&a1),
            ha1_sha256: DigestAlgorithm::Sha256.hash_hex(&a1),
        }
    }

    fn ha1(&self, algorithm: DigestAlgorithm) -> &str {
        match algorithm {
            DigestAlgorithm::Md5 => &self.ha1_md5,
            DigestAlgorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Issues and checks nonces, `hex(issued-at seconds).hex(salt).hex(mac)`, and
/// remembers their uses.
pub struct Nonces {
    key: Vec<u8>,
    lifetime: Duration,
    ledger: Mutex<NonceLedger>,
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
            ledger: Mutex::new(NonceLedger::default()),
        }
    }

    fn mac(&self, issued: u64, salt: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&issued.to_be_bytes());
        mac.update(&salt.to_be_bytes());
        mac
    }

    /// A nonce issued at `now_unix` (seconds since the epoch). A random
    /// salt makes every challenge's nonce its own: two phones challenged
    /// in the same second must not share one, or the second's first use
    /// would look like a replay of the first's.
    pub fn issue(&self, now_unix: u64) -> String {
        self.issue_salted(now_unix, rand::random())
    }

    fn issue_salted(&self, now_unix: u64, salt: u64) -> String {
        let mac = self.mac(now_unix, salt).finalize().into_bytes();
        format!("{now_unix:x}.{salt:016x}.{}", hex::encode(&mac[..16]))
    }

    /// The issue time and salt of a well-formed nonce.
    fn parts(nonce: &str) -> Option<(u64, u64, &str)> {
        let mut it = nonce.split('.');
        let (issued, salt, mac) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let hex_num = |s: &str, max: usize| {
            (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(s, 16).ok())
                .flatten()
        };
        Some((hex_num(issued, 16)?, hex_num(salt, 16)?, mac))
    }

    /// Check a nonce a client sent back at `now_unix`.
    pub fn check(&self, nonce: &str, now_unix: u64) -> NonceCheck {
        let Some((issued, salt, mac)) = Nonces::parts(nonce) else {
            return NonceCheck::Forged;
        };
        let Ok(mac) = hex::decode(mac) else {
            return NonceCheck::Forged;
        };
        if mac.len() != 16 || self.mac(issued, salt).verify_truncated_left(&mac).is_err() {
            return NonceCheck::Forged;
        }
        if issued > now_unix || now_unix - issued > self.lifetime.as_secs() {
            NonceCheck::Stale
        } else {
            NonceCheck::Fresh
        }
    }

    /// Record an authenticated use of a fresh nonce; false for a replay.
    fn record_use(&self, nonce: &str, nc: Option<u32>, now_unix: u64) -> bool {
        let issued = Nonces::parts(nonce).map_or(now_unix, |(issued, _, _)| issued);
        let expires = issued
            .saturating_add(self.lifetime.as_secs())
            .saturating_add(1);
        self.ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(nonce, nc, expires, now_unix)
    }
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` value.
pub fn challenge(realm: &str, nonce: &str, algorithm: DigestAlgorithm, stale: bool) -> String {
    let mut h = format!(
        "Digest realm={}, nonce={}, algorithm={}, qop=\"auth\"",
        quote(realm),
        quote(nonce),
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
    /// Right password, but a nonce that is too old or not one this
    /// process issued (a phone still using one from before a restart):
    /// challenge again with `stale=true`.
    Stale,
    /// Right password for this request, but the nonce was already used
    /// with this `nc` (a captured header sent again): challenge again.
    Replayed,
    /// Wrong password, unknown user, forged nonce, wrong realm, or
    /// credentials made for another Request-URI.
    Rejected(&'static str),
    /// The header could not be read: 400.
    Malformed(String),
}

/// The digest credentials of an `Authorization` value.
struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Option<DigestAlgorithm>,
    /// `Some((nc, cnonce))` with `qop=auth`.
    qop: Option<(u32, String)>,
}

fn credentials(value: &str) -> Result<Credentials, String> {
    let p = params::parse(value).map_err(|e| format!("Authorization: {e}"))?;
    if !p.is_digest() {
        return Err("Authorization: not a Digest scheme".into());
    }
    let need = |n: &str| {
        p.get(n)
            .map(str::to_string)
            .ok_or_else(|| format!("Authorization: no {n}"))
    };
    let qop = match p.get("qop") {
        None => None,
        Some(q) if q.eq_ignore_ascii_case("auth") => {
            let nc = p.get("nc").ok_or("Authorization: qop without nc")?;
            if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("Authorization: nc is not 8 hex digits".into());
            }
            let nc = u32::from_str_radix(nc, 16).map_err(|_| "Authorization: bad nc")?;
            Some((nc, need("cnonce")?))
        }
        Some(_) => return Err("Authorization: unsupported qop".into()),
    };
    Ok(Credentials {
        username: need("username")?,
        realm: need("realm")?,
        nonce: need("nonce")?,
        uri: need("uri")?,
        response: need("response")?,
        algorithm: DigestAlgorithm::from_param(p.get("algorithm")),
        qop,
    })
}

/// Does the credentials' `uri` name the Request-URI (RFC 3261 §22.4)? The
/// same text, or the same scheme, user, host and port.
fn same_request_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (SipUri::parse(digest_uri), SipUri::parse(request_uri)) {
        (Ok(a), Ok(b)) => {
            a.scheme == b.scheme
                && a.user_decoded() == b.user_decoded()
                && a.host.eq_ignore_ascii_case(&b.host)
                && a.port == b.port
        }
        _ => false,
    }
}

/// Check `authorization` (the header value) for a request with `method`
/// and `request_uri`. `lookup` finds the stored credentials of a username
/// in `realm`.
pub fn verify(
    method: &str,
    request_uri: &str,
    authorization: &str,
    realm: &str,
    nonces: &Nonces,
    now_unix: u64,
    lookup: impl Fn(&str) -> Option<StoredCredentials>,
) -> Verdict {
    let c = match credentials(authorization) {
        Ok(c) => c,
        Err(e) => return Verdict::Malformed(e),
    };
    if c.realm != realm {
        return Verdict::Rejected("wrong realm");
    }
    let Some(algorithm) = c.algorithm else {
        return Verdict::Rejected("unsupported algorithm");
    };
    if !same_request_uri(&c.uri, request_uri) {
        return Verdict::Rejected("uri does not match the Request-URI");
    }
    let Some(stored) = lookup(&c.username) else {
        return Verdict::Rejected("unknown user");
    };
    let nonce_state = nonces.check(&c.nonce, now_unix);
    let ha2 = algorithm.hash_hex(&format!("{method}:{}", c.uri));
    let ha1 = stored.ha1(algorithm);
    let expected = match &c.qop {
        Some((nc, cnonce)) => {
            algorithm.hash_hex(&format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.nonce))
        }
        None => algorithm.hash_hex(&format!("{ha1}:{}:{ha2}", c.nonce)),
    };
    if !constant_time_eq(
        expected.as_bytes(),
        c.response.to_ascii_lowercase().as_bytes(),
    ) {
        return Verdict::Rejected(if nonce_state == NonceCheck::Forged {
            "forged nonce"
        } else {
            "wrong password"
        });
    }
    // A nonce we cannot vouch for, answered with the right password: one
    // issued before this process started (the key is per process), which
    // a phone keeps using across our restart. The replay ledger did not
    // see it, so it must not authenticate; challenging again with
    // `stale=true` lets the phone in at once instead of counting its
    // attempts as failures until its address is blocked.
    if nonce_state != NonceCheck::Fresh {
        return Verdict::Stale;
    }
    if !nonces.record_use(&c.nonce, c.qop.as_ref().map(|(nc, _)| *nc), now_unix) {
        return Verdict::Replayed;
    }
    Verdict::Authenticated {
        username: c.username,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Authorization` value a client (a trunk registration, an outbound
/// call) sends to answer `challenge` (a `WWW-Authenticate` or
/// `Proxy-Authenticate` value): `qop=auth` when offered, with a random
/// cnonce and `nc=00000001` (each challenge is answered once).
pub fn answer_challenge(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let p = params::parse(challenge).map_err(|e| format!("challenge not understood: {e}"))?;
    if !p.is_digest() {
        return Err("challenge not understood: not a Digest scheme".into());
    }
    let realm = p.get("realm").ok_or("challenge not understood: no realm")?;
    let nonce = p.get("nonce").ok_or("challenge not understood: no nonce")?;
    let algorithm = DigestAlgorithm::from_param(p.get("algorithm"))
        .ok_or("cannot answer the challenge: unsupported algorithm")?;
    let offers_auth = match p.get("qop") {
        None => false,
        Some(q) => {
            let auth = q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth"));
            if !auth {
                return Err("cannot answer the challenge: qop auth not offered".into());
            }
            true
        }
    };
    let ha1 = algorithm.hash_hex(&format!("{username}:{realm}:{password}"));
    let ha2 = algorithm.hash_hex(&format!("{method}:{uri}"));
    let mut h = format!(
        "Digest username={}, realm={}, nonce={}, uri={}",
        quote(username),
        quote(realm),
        quote(nonce),
        quote(uri)
    );
    if offers_auth {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let nc = "00000001";
        let response = algorithm.hash_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        h.push_str(&format!(
            ", response=\"{response}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
            algorithm.name()
        ));
    } else {
        let response = algorithm.hash_hex(&format!("{ha1}:{nonce}:{ha2}"));
        h.push_str(&format!(
            ", response=\"{response}\", algorithm={}",
            algorithm.name()
        ));
    }
    if let Some(opaque) = p.get("opaque") {
        h.push_str(&format!(", opaque={}", quote(opaque)));
    }
    Ok(h)
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
    const RURI: &str = "sip:acme.example";
    const NOW: u64 = 1_795_392_000;

    fn nonces() -> Nonces {
        Nonces::new(b"test key, not secret", Duration::from_secs(300))
    }

    fn alice() -> Option<StoredCredentials> {
        Some(StoredCredentials::from_password("1001", REALM, "s3cret"))
    }

    /// What a phone sends back to a REGISTER challenge.
    fn phone_answer(algorithm: DigestAlgorithm, nonce: &str, password: &str) -> String {
        let ch = challenge(REALM, nonce, algorithm, false);
        answer_challenge(&ch, "REGISTER", RURI, "1001", password).unwrap()
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
    fn a_response_computed_elsewhere_is_accepted() {
        // Nonce and response computed with Python's hmac and hashlib from
        // the same key, time, password and cnonce.
        let n = nonces();
        let nonce = n.issue_salted(NOW, 0x0123_4567_89ab_cdef);
        assert_eq!(
            nonce,
            "6b038200.0123456789abcdef.32e74b246b828a5a7daa0937b1d130d8"
        );
        let auth = format!(
            "Digest username=\"1001\", realm=\"acme.example\", nonce=\"{nonce}\", uri=\"sip:1002@acme.example\", response=\"589b4e9c26a8ea89e6ee1c31ca5879d1\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        );
        let v = verify(
            "INVITE",
            "sip:1002@acme.example",
            &auth,
            REALM,
            &n,
            NOW,
            |_| alice(),
        );
        assert_eq!(
            v,
            Verdict::Authenticated {
                username: "1001".into()
            }
        );
    }

    #[test]
    fn the_client_side_answers_the_rfc_2617_example() {
        // RFC 2617 §3.5: the response for a known cnonce. Our client picks a
        // random cnonce, so recompute with the one it chose.
        let ch = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let a = answer_challenge(ch, "GET", "/dir/index.html", "Mufasa", "Circle Of Life").unwrap();
        let p = params::parse(&a).unwrap();
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("opaque"), Some("5ccc069c403ebaf9f0171e9517f40e41"));
        let ha1 = DigestAlgorithm::Md5.hash_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = DigestAlgorithm::Md5.hash_hex("GET:/dir/index.html");
        let cnonce = p.get("cnonce").unwrap();
        let expected = DigestAlgorithm::Md5.hash_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:{cnonce}:auth:{ha2}"
        ));
        assert_eq!(p.get("response"), Some(expected.as_str()));
        // With the RFC's own cnonce the same formula gives the RFC's answer.
        assert_eq!(
            DigestAlgorithm::Md5.hash_hex(&format!(
                "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
            )),
            "6629fae49393a05397450978507c4ef1"
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
            let v = verify("REGISTER", RURI, &auth, REALM, &n, NOW + 10, |_| alice());
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
            verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("wrong password")
        );
        let auth = phone_answer(DigestAlgorithm::Sha256, &nonce, "s3cret");
        assert_eq!(
            verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| None),
            Verdict::Rejected("unknown user")
        );
        assert_eq!(
            verify("INVITE", RURI, &auth, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("wrong password"),
            "the method is part of the digest"
        );
        assert_eq!(
            verify(
                "REGISTER",
                RURI,
                &auth,
                "other.example",
                &n,
                NOW,
                |_| alice()
            ),
            Verdict::Rejected("wrong realm")
        );
    }

    #[test]
    fn credentials_for_one_request_uri_do_not_open_another() {
        // Issue 11: a header captured for a call to 1002, pasted into an
        // INVITE to an international number.
        let n = nonces();
        let nonce = n.issue(NOW);
        let ch = challenge(REALM, &nonce, DigestAlgorithm::Md5, false);
        let auth =
            answer_challenge(&ch, "INVITE", "sip:1002@acme.example", "1001", "s3cret").unwrap();
        assert_eq!(
            verify(
                "INVITE",
                "sip:90044207946000@acme.example",
                &auth,
                REALM,
                &n,
                NOW,
                |_| alice()
            ),
            Verdict::Rejected("uri does not match the Request-URI")
        );
        // The same URI written another way is the same URI.
        assert_eq!(
            verify(
                "INVITE",
                "sip:1002@ACME.example",
                &auth,
                REALM,
                &n,
                NOW,
                |_| alice()
            ),
            Verdict::Authenticated {
                username: "1001".into()
            }
        );
    }

    #[test]
    fn a_captured_header_sent_again_is_challenged_again() {
        let n = nonces();
        let nonce = n.issue(NOW);
        let auth = phone_answer(DigestAlgorithm::Md5, &nonce, "s3cret");
        let ok = Verdict::Authenticated {
            username: "1001".into(),
        };
        assert_eq!(
            verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| alice()),
            ok
        );
        assert_eq!(
            verify("REGISTER", RURI, &auth, REALM, &n, NOW + 1, |_| alice()),
            Verdict::Replayed
        );
        // The phone itself reuses the nonce with the next nc: fine.
        let next = auth.replace("nc=00000001", "nc=00000002");
        let p = params::parse(&next).unwrap();
        let ha1 = alice().unwrap().ha1_md5;
        let ha2 = DigestAlgorithm::Md5.hash_hex(&format!("REGISTER:{RURI}"));
        let response = DigestAlgorithm::Md5.hash_hex(&format!(
            "{ha1}:{nonce}:00000002:{}:auth:{ha2}",
            p.get("cnonce").unwrap()
        ));
        let old = p.get("response").unwrap().to_string();
        let next = next.replace(&old, &response);
        assert_eq!(
            verify("REGISTER", RURI, &next, REALM, &n, NOW + 2, |_| alice()),
            ok
        );
        assert_eq!(
            verify("REGISTER", RURI, &next, REALM, &n, NOW + 3, |_| alice()),
            Verdict::Replayed
        );
        // A client without qop gets one request per nonce.
        let nonce = n.issue(NOW);
        let plain = format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\"");
        let auth = answer_challenge(&plain, "REGISTER", RURI, "1001", "s3cret").unwrap();
        assert!(!auth.contains("qop"), "{auth}");
        assert_eq!(
            verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| alice()),
            ok
        );
        assert_eq!(
            verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| alice()),
            Verdict::Replayed
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
            verify("REGISTER", RURI, &auth, REALM, &n, NOW + 600, |_| alice()),
            Verdict::Stale
        );
        // Another key, a tampered time, garbage: forged.
        let other = Nonces::new(b"another key", Duration::from_secs(300));
        assert_eq!(other.check(&nonce, NOW), NonceCheck::Forged);
        let tampered = format!("{:x}{}", NOW + 1000, &nonce[nonce.find('.').unwrap()..]);
        assert_eq!(n.check(&tampered, NOW + 1000), NonceCheck::Forged);
        let resalted = format!(
            "{:x}.{:016x}{}",
            NOW,
            7,
            &nonce[nonce.rfind('.').unwrap()..]
        );
        assert_eq!(n.check(&resalted, NOW), NonceCheck::Forged);
        assert_eq!(n.check(&tampered, NOW), NonceCheck::Forged);
        for junk in [
            "hello",
            "zz.zz",
            "+1.00",
            ".",
            "1.",
            "€.€",
            "ffffffffffffffffff.00",
            "1.2.3.4",
            "1..00",
            "1.+2.00",
        ] {
            assert_eq!(n.check(junk, NOW), NonceCheck::Forged, "{junk:?}");
        }
        let forged = phone_answer(DigestAlgorithm::Md5, "1.2.00", "s3cret1");
        assert_eq!(
            verify("REGISTER", RURI, &forged, REALM, &n, NOW, |_| alice()),
            Verdict::Rejected("forged nonce")
        );
    }

    #[test]
    fn a_nonce_from_before_a_restart_is_stale_for_the_right_password_only() {
        // The process that issued it is gone; this one has another key.
        let before = Nonces::new(b"the key before the restart", Duration::from_secs(300));
        let now = nonces();
        let nonce = before.issue(NOW);
        assert_eq!(now.check(&nonce, NOW + 5), NonceCheck::Forged);
        let right = phone_answer(DigestAlgorithm::Md5, &nonce, "s3cret");
        assert_eq!(
            verify("REGISTER", RURI, &right, REALM, &now, NOW + 5, |_| alice()),
            Verdict::Stale,
            "the phone is challenged again, not counted as failing"
        );
        // Sending it again changes nothing: never authenticated.
        assert_eq!(
            verify("REGISTER", RURI, &right, REALM, &now, NOW + 6, |_| alice()),
            Verdict::Stale
        );
        let wrong = phone_answer(DigestAlgorithm::Md5, &nonce, "guess");
        assert_eq!(
            verify("REGISTER", RURI, &wrong, REALM, &now, NOW + 5, |_| alice()),
            Verdict::Rejected("forged nonce")
        );
    }

    #[test]
    fn every_challenge_gets_its_own_nonce() {
        let n = nonces();
        assert_ne!(n.issue(NOW), n.issue(NOW));
        // Two phones challenged in the same second both get in.
        let ok = Verdict::Authenticated {
            username: "1001".into(),
        };
        for _ in 0..2 {
            let auth = phone_answer(DigestAlgorithm::Md5, &n.issue(NOW), "s3cret");
            assert_eq!(
                verify("REGISTER", RURI, &auth, REALM, &n, NOW, |_| alice()),
                ok
            );
        }
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
            // The header that panicked digest_auth 0.3.1 (issue 11).
            "Digest ab€=\"x\", username=\"1001\", realm=\"acme.example\", nonce=\"1.2\", uri=\"sip:acme.example\", response=\"00\"",
            "Digest username=\"1001\", realm=\"acme.example\", nonce=\"1.2\", uri=\"sip:acme.example\", response=\"00\", qop=auth, nc=+0000001, cnonce=\"c\"",
            "Digest username=\"1001\", realm=\"acme.example\", nonce=\"1.2\", uri=\"sip:acme.example\", response=\"00\", qop=auth-int, nc=00000001, cnonce=\"c\"",
        ] {
            let v = verify("REGISTER", RURI, junk, REALM, &n, NOW, |_| alice());
            assert!(
                matches!(v, Verdict::Malformed(_) | Verdict::Rejected(_)),
                "{junk:?}: {v:?}"
            );
        }
        for junk in [
            "",
            "Digest €",
            "Digest realm=\"€\"",
            "Digest realm=r, nonce=n, algorithm=MD5-sess",
        ] {
            assert!(
                answer_challenge(junk, "INVITE", "sip:x", "u", "p").is_err(),
                "{junk:?}"
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
