//! Key layout and identifier validation.
//!
//! Keys are the parts of a record's identity joined by NUL (`tenant \0 id`).
//! No validated part may contain NUL, so the prefix `tenant \0` matches one
//! tenant's records and nothing else: `acme\0` is not a prefix of
//! `acme-2\0…`. The same rules keep identifiers that become file names
//! (tenant, file id) from escaping the data directory.

use crate::StoreError;

/// `parts` joined by NUL.
pub(crate) fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// `parts` joined by NUL, with a trailing NUL: the prefix of every key
/// that starts with exactly these parts.
pub(crate) fn prefix(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = key(parts);
    k.push(0);
    k
}

/// The smallest key greater than every key starting with `prefix` (which
/// ends in NUL): the exclusive upper bound of a prefix range.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    // Prefixes built by `prefix` end in 0, so incrementing never overflows.
    *end.last_mut().expect("non-empty prefix") += 1;
    end
}

/// A tenant id: a slug `[a-z0-9][a-z0-9-]{0,62}`.
pub fn validate_tenant_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "tenant",
            format!("{id:?} is not a slug [a-z0-9][a-z0-9-]{{0,62}}"),
        ))
    }
}

/// An extension number: 2 to 15 digits.
pub fn validate_extension(number: &str) -> Result<(), StoreError> {
    validate_extension_field("extension", number)
}

pub(crate) fn validate_extension_field(
    field: &'static str,
    number: &str,
) -> Result<(), StoreError> {
    if (2..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            format!("{number:?} is not 2 to 15 digits"),
        ))
    }
}

/// A number: `+` and 1–20 digits (a DID in E.164) or 1–20 digits (a
/// tenant-internal number such as `700`).
pub fn validate_number(number: &str) -> Result<(), StoreError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if (1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "number",
            format!("{number:?} is not [+]digits (1 to 20 digits)"),
        ))
    }
}

/// A name or id that is part of a key and may become a file name:
/// 1–128 bytes, no control characters (so no NUL), no `/` or `\`, and not
/// `.` or `..`.
pub(crate) fn validate_name(field: &'static str, name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::invalid(field, format!("{name:?} {why}")));
    if name.is_empty() || name.len() > 128 {
        return bad("must be 1 to 128 bytes");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return bad("must not contain control characters, '/' or '\\'");
    }
    if name == "." || name == ".." {
        return bad("is not a name");
    }
    Ok(())
}

/// Free text stored inside a record (not part of a key): bounded, no NUL.
/// One plain e-mail address, `local@domain`: what the host puts in a
/// message's `To:` (no display name, no list, nothing a header could be
/// smuggled in with).
pub(crate) fn validate_email(field: &'static str, address: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::invalid(field, format!("`{address}` {why}")));
    if address.len() > 254 {
        return bad("is longer than 254 bytes");
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\\\"()[]".contains(c))
    {
        return bad("is not a plain e-mail address (local@domain)");
    }
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => bad("is not an e-mail address (local@domain)"),
    }
}

pub(crate) fn validate_text(field: &'static str, text: &str, max: usize) -> Result<(), StoreError> {
    if text.len() > max {
        return Err(StoreError::invalid(
            field,
            format!("longer than {max} bytes"),
        ));
    }
    if text.contains('\0') {
        return Err(StoreError::invalid(field, "contains NUL"));
    }
    Ok(())
}

/// A SIP domain: 1–253 bytes of letters, digits, `.`, `-` (and `:port`).
pub(crate) fn validate_domain(domain: &str) -> Result<(), StoreError> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "domains",
            format!("{domain:?} is not a domain name"),
        ))
    }
}

/// Lower-case hex of exactly `len` characters.
pub(crate) fn validate_hex(field: &'static str, s: &str, len: usize) -> Result<(), StoreError> {
    if s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            format!("must be {len} lower-case hex characters"),
        ))
    }
}

/// The SRTP policies of extensions and trunks.
pub const SRTP_POLICIES: [&str; 3] = ["off", "optional", "required"];

/// What an extension or trunk stored before SRTP existed says.
pub fn srtp_off() -> String {
    "off".to_string()
}

/// `srtp` is one of [`SRTP_POLICIES`].
pub fn validate_srtp(srtp: &str) -> Result<(), StoreError> {
    if SRTP_POLICIES.contains(&srtp) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "srtp",
            format!("{srtp:?} is not one of \"off\", \"optional\", \"required\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_do_not_overlap_between_tenants() {
        let a = prefix(&[b"acme"]);
        let b = key(&[b"acme-2", b"1001"]);
        assert!(!b.starts_with(&a));
        assert!(key(&[b"acme", b"1001"]).starts_with(&a));
        let end = prefix_end(&a);
        assert!(key(&[b"acme", b"\xff\xff"]) < end);
        assert!(b.as_slice() > a.as_slice() && b.as_slice() > end.as_slice());
    }

    #[test]
    fn validation_names_the_field() {
        assert!(validate_tenant_id("acme-2").is_ok());
        for bad in ["", "-acme", "Acme", "acme_2", "a/b", &"a".repeat(64)] {
            assert!(
                matches!(
                    validate_tenant_id(bad),
                    Err(StoreError::Invalid {
                        field: "tenant",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(validate_extension("1001").is_ok());
        for bad in ["1", "10a1", "1234567890123456", ""] {
            assert!(matches!(
                validate_extension(bad),
                Err(StoreError::Invalid {
                    field: "extension",
                    ..
                })
            ));
        }
        assert!(validate_number("+15550100").is_ok());
        assert!(validate_number("700").is_ok());
        assert!(validate_number("+").is_err());
        assert!(validate_number("+1-555").is_err());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b", "a\nb"] {
            assert!(validate_name("id", bad).is_err(), "{bad:?}");
        }
        assert!(validate_name("id", "greeting.wav").is_ok());
        assert!(validate_domain("Acme.Example:5060").is_ok());
        assert!(validate_domain("acme example").is_err());
    }
}
