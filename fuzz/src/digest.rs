//! Digest credentials from phones (`auth::verify`, the path every
//! REGISTER and INVITE with `Authorization` / `Proxy-Authorization` takes)
//! and challenges from carriers (`auth::answer_challenge`).

use std::time::Duration;

use switchyard_sip::auth::{
    DigestAlgorithm, Nonces, StoredCredentials, Verdict, answer_challenge, challenge, verify,
};

/// The realm, user and clock the seeds were made for: a seed with a nonce
/// issued at [`NOW`] and the right response reaches `Authenticated`.
pub const REALM: &str = "demo.localhost";
pub const USER: &str = "1001";
pub const PASSWORD: &str = "fuzz-secret";
pub const NONCE_KEY: &[u8] = b"switchyard-fuzz-nonce-key";
pub const NOW: u64 = 1_800_000_000;

pub fn nonces() -> Nonces {
    Nonces::new(NONCE_KEY, Duration::from_secs(300))
}

/// The input as a header value (a header value is text once the message
/// parser has it; invalid UTF-8 is replaced, as non-ASCII text is still
/// the interesting case), checked as credentials and answered as a
/// challenge.
/// The Request-URI the credentials are checked against.
const REQUEST_URI: &str = "sip:1002@demo.localhost";

pub fn digest(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let nonces = nonces();
    let lookup = |user: &str| {
        (user == USER).then(|| StoredCredentials::from_password(USER, REALM, PASSWORD))
    };
    for method in ["REGISTER", "INVITE"] {
        if let Verdict::Authenticated { username } =
            verify(method, REQUEST_URI, &value, REALM, &nonces, NOW, lookup)
        {
            assert_eq!(
                username, USER,
                "authenticated as a user that has no password"
            );
        }
    }
    if let Ok(answer) = answer_challenge(&value, "REGISTER", "sip:carrier.example", "u", "p")
        // The message parser cuts lines at LF, so no header value holds one;
        // a bare CR it keeps (fuzz/known/digest/bare-cr-*).
        && !value.contains('\n')
    {
        // Our answer goes out in a header: it must be one line.
        assert!(
            !answer.contains(['\r', '\n']),
            "answer to a challenge spans lines: {answer:?}"
        );
    }
    let _ = challenge(REALM, &nonces.issue(NOW), DigestAlgorithm::Md5, false);
}
