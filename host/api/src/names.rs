//! The one rule for names a client chooses that become store keys or file
//! names: prompts, plugins, trunks, ring groups, queues, schedules.
//!
//! The store only refuses what would break its keys or leave the data
//! directory (NUL, `/`, `..`); this rule is narrower so that a name means
//! the same thing wherever it travels — a URL path segment (decoded once
//! by the router, so `%252e` would otherwise arrive as the literal `%2e`
//! and be stored as such), a file name, a header, a log line — and so a
//! name can never be decoded a second time into something else.

use axum::http::StatusCode;

use crate::error::{ApiError, ApiResult};

/// The rule, as clients are told it (and as the README documents it).
pub const NAME_RULE: &str = "1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-', \
     starting with a letter or a digit, without '..' \
     ([A-Za-z0-9][A-Za-z0-9._-]{0,63})";

/// Whether `name` follows [`NAME_RULE`].
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
        && !name.contains("..")
}

/// 422 naming the rule when `name` (the value of `field`) breaks it.
pub fn check_name(field: &str, name: &str) -> ApiResult<()> {
    if valid_name(name) {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        kind: "validation",
        message: format!("{field}: {name:?} is not a valid name: use {NAME_RULE}"),
        field: Some(field.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_follow_the_documented_rule() {
        for ok in [
            "a",
            "greeting",
            "greeting-1001",
            "Main_IVR.v2",
            "0",
            &"x".repeat(64),
        ] {
            assert!(valid_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            ".hidden",
            "-x",
            "_x",
            "a..b",
            "..",
            "a/b",
            "a\\b",
            "%2e%2e%2f",
            "%252e%252e%252f",
            "a b",
            "é",
            "a\0b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
