//! Each tenant's caller rules: block lists and allow lists by the caller's
//! number or a prefix of it, applied to calls from outside before the flow
//! plugin (`switchyard_calls` reads them per call); and each extension's
//! own, which screen the calls that would ring it.
//!
//! Keys: the tenant's list at `tenant \0`, an extension's at
//! `tenant \0 extension` — both under the tenant's prefix, so the tenant
//! sweep removes them. (Before schema 3 the tenant's list was at `tenant`
//! alone, which the sweep missed; [`rekey_tenant_rules`] moves it.)

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_tenant_id};
use crate::{Store, StoreError, get_json};

/// Rules one tenant may have.
pub const MAX_CALLER_RULES: usize = 10_000;

/// What happens to a caller a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum CallerAction {
    /// Refused before an answer: 486 Busy Here, as if busy (or 603 Decline
    /// with `decline`).
    Reject {
        #[serde(default)]
        decline: bool,
    },
    /// Answered, told the tenant's prompt `prompt`, hung up.
    Message { prompt: String },
    /// Straight to the voicemail of `mailbox` (an extension or a shared
    /// mailbox name).
    Voicemail { mailbox: String },
    /// Let through past the IVR: rings extension or ring group `to`, and
    /// when nobody answers, its voicemail.
    Allow { to: String },
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRule {
    /// A caller number as the carrier presents it (`+15550100`), a prefix
    /// ending in `*` (`+1900*`), or `anonymous` (a withheld number).
    pub pattern: String,
    #[serde(flatten)]
    pub action: CallerAction,
}

impl CallerRule {
    /// Whether it matches `caller`, and how specifically: the longer the
    /// better, a whole number above any prefix of the same length.
    pub fn matches(&self, caller: &str) -> Option<usize> {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => caller.starts_with(prefix).then_some(2 * prefix.len()),
            None if self.pattern == "anonymous" => is_anonymous(caller).then_some(usize::MAX),
            None => (self.pattern == caller).then_some(2 * caller.len() + 1),
        }
    }
}

/// A caller who withheld their number, as carriers and phones say it.
pub fn is_anonymous(caller: &str) -> bool {
    let c = caller.to_ascii_lowercase();
    c.is_empty() || c == "anonymous" || c == "restricted" || c == "unavailable"
}

/// The rule that decides `caller`'s call: the most specific match.
pub fn rule_for<'a>(rules: &'a [CallerRule], caller: &str) -> Option<&'a CallerRule> {
    rules
        .iter()
        .filter_map(|r| Some((r.matches(caller)?, r)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    tenant: String,
    rules: Vec<CallerRule>,
}

fn validate(rule: &CallerRule) -> Result<(), StoreError> {
    let p = rule.pattern.as_str();
    let digits = p.strip_suffix('*').unwrap_or(p);
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let ok = p == "anonymous"
        || ((1..=20).contains(&digits.len()) || p.ends_with('*') && digits.len() <= 20)
            && digits.bytes().all(|b| b.is_ascii_digit())
            && p != "+";
    if !ok {
        return Err(StoreError::invalid(
            "pattern",
            format!("{p:?} is not a number ([+]digits), a prefix ending in `*`, or `anonymous`"),
        ));
    }
    match &rule.action {
        CallerAction::Reject { .. } => Ok(()),
        CallerAction::Message { prompt } => validate_name("prompt", prompt),
        CallerAction::Voicemail { mailbox } => validate_name("mailbox", mailbox),
        CallerAction::Allow { to } => validate_name("to", to),
    }
}

pub trait CallerRuleRepo {
    /// Replace the tenant's rules (each pattern once); the tenant must exist.
    fn put_caller_rules(&self, tenant: &str, rules: &[CallerRule]) -> Result<(), StoreError>;
    /// The tenant's rules, as put (none: empty).
    fn caller_rules(&self, tenant: &str) -> Result<Vec<CallerRule>, StoreError>;
    /// Replace extension `ext`'s own rules: `reject` (a block list) and
    /// `allow` (an allow list) only; the extension must exist.
    fn put_extension_rules(
        &self,
        tenant: &str,
        ext: &str,
        rules: &[CallerRule],
    ) -> Result<(), StoreError>;
    /// Extension `ext`'s own rules (none: empty).
    fn extension_rules(&self, tenant: &str, ext: &str) -> Result<Vec<CallerRule>, StoreError>;
}

/// Whether an extension's own rules let `caller` ring it: a matching
/// `reject` rule screens the caller out; with any `allow` rule, only the
/// callers an `allow` rule matches get through (the most specific rule
/// decides, as for the tenant's).
pub fn extension_admits(rules: &[CallerRule], caller: &str) -> bool {
    match rule_for(rules, caller) {
        Some(r) => !matches!(r.action, CallerAction::Reject { .. }),
        None => !rules
            .iter()
            .any(|r| matches!(r.action, CallerAction::Allow { .. })),
    }
}

/// Schema 2 → 3: the tenants' lists move from `tenant` to `tenant \0`
/// (idempotent: keys with a NUL are left alone).
pub(crate) fn rekey_tenant_rules(db: &sled::Db) -> Result<(), StoreError> {
    let tree = db.open_tree("caller_rules")?;
    for kv in tree.iter() {
        let (k, v) = kv?;
        if !k.contains(&0) {
            let mut new = k.to_vec();
            new.push(0);
            tree.insert(new, v)?;
            tree.remove(k)?;
        }
    }
    db.flush()?;
    Ok(())
}

fn validate_list(rules: &[CallerRule]) -> Result<(), StoreError> {
    if rules.len() > MAX_CALLER_RULES {
        return Err(StoreError::invalid(
            "rules",
            format!("more than {MAX_CALLER_RULES}"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for r in rules {
        validate(r)?;
        if !seen.insert(r.pattern.as_str()) {
            return Err(StoreError::invalid(
                "pattern",
                format!("{:?} is listed twice", r.pattern),
            ));
        }
    }
    Ok(())
}

impl CallerRuleRepo for Store {
    fn put_caller_rules(&self, tenant: &str, rules: &[CallerRule]) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        validate_list(rules)?;
        self.require_tenant(tenant)?;
        let stored = Stored {
            tenant: tenant.to_string(),
            rules: rules.to_vec(),
        };
        self.put_durable(
            &self.t().caller_rules,
            prefix(&[tenant.as_bytes()]),
            &stored,
        )
    }

    fn caller_rules(&self, tenant: &str) -> Result<Vec<CallerRule>, StoreError> {
        validate_tenant_id(tenant)?;
        Ok(
            get_json::<Stored>(&self.t().caller_rules, &prefix(&[tenant.as_bytes()]))?
                .map(|s| s.rules)
                .unwrap_or_default(),
        )
    }

    fn put_extension_rules(
        &self,
        tenant: &str,
        ext: &str,
        rules: &[CallerRule],
    ) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        crate::keys::validate_extension(ext)?;
        validate_list(rules)?;
        if let Some(r) = rules.iter().find(|r| {
            !matches!(
                r.action,
                CallerAction::Reject { .. } | CallerAction::Allow { .. }
            )
        }) {
            return Err(StoreError::invalid(
                "action",
                format!(
                    "{:?}: an extension's own rules reject or allow (the tenant's rules play messages and send to voicemail)",
                    r.pattern
                ),
            ));
        }
        self.require_tenant(tenant)?;
        if crate::ExtensionRepo::get_extension(self, tenant, ext)?.is_none() {
            return Err(StoreError::NotFound(format!("extension {ext}")));
        }
        let stored = Stored {
            tenant: tenant.to_string(),
            rules: rules.to_vec(),
        };
        self.put_durable(
            &self.t().caller_rules,
            key(&[tenant.as_bytes(), ext.as_bytes()]),
            &stored,
        )
    }

    fn extension_rules(&self, tenant: &str, ext: &str) -> Result<Vec<CallerRule>, StoreError> {
        validate_tenant_id(tenant)?;
        crate::keys::validate_extension(ext)?;
        Ok(get_json::<Stored>(
            &self.t().caller_rules,
            &key(&[tenant.as_bytes(), ext.as_bytes()]),
        )?
        .map(|s| s.rules)
        .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> CallerRule {
        CallerRule {
            pattern: pattern.into(),
            action: CallerAction::Reject { decline: false },
        }
    }

    #[test]
    fn the_most_specific_rule_decides() {
        let rules = [
            rule("+1900*"),
            rule("+1900555*"),
            rule("+19005550100"),
            rule("anonymous"),
        ];
        let pick = |c: &str| rule_for(&rules, c).map(|r| r.pattern.as_str());
        assert_eq!(pick("+19005550100"), Some("+19005550100"));
        assert_eq!(pick("+19005550199"), Some("+1900555*"));
        assert_eq!(pick("+19001230000"), Some("+1900*"));
        assert_eq!(pick("+15550100"), None);
        assert_eq!(pick("Anonymous"), Some("anonymous"));
        assert_eq!(pick(""), Some("anonymous"));
    }

    #[test]
    fn an_extensions_own_rules_block_or_allow_only_whom_they_name() {
        let allow = |p: &str| CallerRule {
            pattern: p.into(),
            action: CallerAction::Allow { to: String::new() },
        };
        // A block list: everybody but the blocked.
        let block = [rule("+1900*")];
        assert!(!extension_admits(&block, "+19005550100"));
        assert!(extension_admits(&block, "+15550100"));
        assert!(extension_admits(&[], "+19005550100"), "no rules: everybody");
        // An allow list: only those named.
        let vips = [allow("+1555123*")];
        assert!(extension_admits(&vips, "+15551230000"));
        assert!(!extension_admits(&vips, "+15550100"));
        // Both: the most specific rule decides.
        let both = [allow("+1555*"), rule("+1555666*")];
        assert!(extension_admits(&both, "+15551230000"));
        assert!(!extension_admits(&both, "+15556660000"));
        assert!(!extension_admits(&both, "+14150000000"));
    }

    #[test]
    fn patterns_are_numbers_prefixes_or_anonymous() {
        for ok in ["+15550100", "700", "+1900*", "*", "anonymous"] {
            assert!(validate(&rule(ok)).is_ok(), "{ok}");
        }
        for bad in ["+", "15a", "+1 555", "1*2", "sip:x@y", ""] {
            assert!(validate(&rule(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn actions_read_as_json_with_the_pattern() {
        let r: CallerRule = serde_json::from_str(
            r#"{"pattern": "+1900*", "action": "message", "prompt": "no-thanks"}"#,
        )
        .unwrap();
        assert_eq!(
            r.action,
            CallerAction::Message {
                prompt: "no-thanks".into()
            }
        );
        assert!(
            serde_json::from_str::<CallerRule>(r#"{"pattern": "1", "action": "explode"}"#).is_err()
        );
    }
}
