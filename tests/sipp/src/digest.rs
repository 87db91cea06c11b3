//! Checking MD5 digest credentials (RFC 2617 / RFC 3261 §22.4) that a
//! scenario logged.
//!
//! sipp's own `verifyauth` only reads an `Authorization` header, so the
//! `Proxy-Authorization` an outbound trunk sends to `carrier_uas_challenge`
//! is checked here instead, from the scenario's log.

use md5::{Digest as _, Md5};

/// Parameters of a `Digest` credentials or challenge value, in order;
/// names lower-cased, quotes and backslash escapes removed.
pub fn params(value: &str) -> Result<Vec<(String, String)>, String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(format!("scheme is {scheme:?}, not Digest"));
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',') {
            name.push(c);
        }
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            return Err(format!("parameter {name:?} has no value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut val = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => val.extend(chars.next()),
                    Some(c) => val.push(c),
                    None => return Err(format!("unterminated quoted value of {name:?}")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                val.push(c);
            }
            val = val.trim().to_owned();
        }
        out.push((name, val));
    }
    Ok(out)
}

fn md5_hex(input: &str) -> String {
    Md5::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `Digest` credentials (the value of an `Authorization` or
/// `Proxy-Authorization` header) against `user` and `password` for a
/// request of `method`. Algorithm MD5 with no qop or `qop=auth`; the realm,
/// nonce and uri are taken from the credentials themselves.
pub fn verify(credentials: &str, method: &str, user: &str, password: &str) -> Result<(), String> {
    let params = params(credentials)?;
    let get = |name: &str| -> Option<&str> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &str| get(name).ok_or_else(|| format!("no {name} parameter"));
    let username = need("username")?;
    if username != user {
        return Err(format!("username is {username:?}, expected {user:?}"));
    }
    if let Some(algorithm) = get("algorithm")
        && !algorithm.eq_ignore_ascii_case("MD5")
    {
        return Err(format!("algorithm {algorithm:?} is not supported here"));
    }
    let realm = need("realm")?;
    let nonce = need("nonce")?;
    let uri = need("uri")?;
    let response = need("response")?;
    let ha1 = md5_hex(&format!("{username}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let expected = match get("qop") {
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = need("nc")?;
            let cnonce = need("cnonce")?;
            md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        }
        Some(qop) => return Err(format!("qop {qop:?} is not supported here")),
    };
    if response.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(format!("response {response} does not match the password"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2617 §3.5's example (qop=auth).
    const RFC2617: &str = r#"Digest username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        qop=auth,
        nc=00000001,
        cnonce="0a4f113b",
        response="6629fae49393a05397450978507c4ef1",
        opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn rfc2617_example_verifies() {
        assert_eq!(verify(RFC2617, "GET", "Mufasa", "Circle Of Life"), Ok(()));
    }

    #[test]
    fn wrong_password_user_or_method_fails() {
        assert!(verify(RFC2617, "GET", "Mufasa", "circle of life").is_err());
        assert!(verify(RFC2617, "GET", "Simba", "Circle Of Life").is_err());
        assert!(verify(RFC2617, "POST", "Mufasa", "Circle Of Life").is_err());
    }

    #[test]
    fn without_qop() {
        // Computed for this test: HA1 = md5("alice:carrier.test:pw"),
        // HA2 = md5("INVITE:sip:1@carrier.test"), response = md5(HA1:n:HA2).
        let ha1 = md5_hex("alice:carrier.test:pw");
        let ha2 = md5_hex("INVITE:sip:1@carrier.test");
        let response = md5_hex(&format!("{ha1}:abc:{ha2}"));
        let creds = format!(
            "Digest username=\"alice\",realm=\"carrier.test\",uri=\"sip:1@carrier.test\",\
             nonce=\"abc\",response=\"{response}\",algorithm=MD5"
        );
        assert_eq!(verify(&creds, "INVITE", "alice", "pw"), Ok(()));
        assert!(verify(&creds, "INVITE", "alice", "pw2").is_err());
    }

    #[test]
    fn parses_quotes_escapes_and_tokens() {
        let p = params(r#"Digest realm="a,b", nonce="x\"y", algorithm=MD5"#).unwrap();
        assert_eq!(
            p,
            [
                ("realm".to_owned(), "a,b".to_owned()),
                ("nonce".to_owned(), "x\"y".to_owned()),
                ("algorithm".to_owned(), "MD5".to_owned()),
            ]
        );
        assert!(params("Basic abc").is_err());
        assert!(params(r#"Digest realm="open"#).is_err());
    }

    #[test]
    fn other_algorithms_are_refused() {
        let creds = RFC2617.replace("qop=auth", "qop=auth, algorithm=SHA-256");
        assert!(verify(&creds, "GET", "Mufasa", "Circle Of Life").is_err());
    }
}
