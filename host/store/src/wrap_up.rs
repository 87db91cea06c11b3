//! What an agent says about a call once it is over: a disposition code
//! from the tenant's list (`resolved`, `sale`…) and notes. Kept beside the
//! call records, by the call's id, so a wrap-up can be saved while the
//! call is still on (its record is written at its end) and changed later;
//! the call-record API shows it with its record, and the CRM log carries
//! it.

use serde::{Deserialize, Serialize};

use crate::keys::{prefix, validate_tenant_id};
use crate::{Store, StoreError, get_json};

/// Codes a tenant may define.
pub const MAX_DISPOSITION_CODES: usize = 50;
/// Longest code.
pub const MAX_CODE_LEN: usize = 40;
/// Longest notes, in characters.
pub const MAX_NOTES: usize = 2000;

/// The codes of a tenant that never chose its own.
pub fn default_dispositions() -> Vec<String> {
    ["resolved", "follow-up", "sale", "no-sale", "wrong-number"]
        .map(String::from)
        .to_vec()
}

/// One call's wrap-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapUp {
    /// One of the tenant's disposition codes.
    pub code: String,
    #[serde(default)]
    pub notes: String,
    /// The extension that saved it (`None`: an admin or supervisor key
    /// without one).
    pub agent: Option<String>,
    /// When it was saved, ms since the Unix epoch.
    pub at_ms: u64,
}

pub trait WrapUpRepo {
    /// The tenant's disposition codes (never set: [`default_dispositions`]).
    fn dispositions(&self, tenant: &str) -> Result<Vec<String>, StoreError>;
    /// Replace them: 1 to 50 codes, each 1–40 lower-case letters, digits
    /// and `-`, no repeats.
    fn set_dispositions(&self, tenant: &str, codes: &[String]) -> Result<(), StoreError>;
    /// Save (or replace) the wrap-up of call `call_id`; its code must be
    /// one of the tenant's. On disk when this returns.
    fn put_wrap_up(&self, tenant: &str, call_id: &str, w: &WrapUp) -> Result<(), StoreError>;
    fn wrap_up(&self, tenant: &str, call_id: &str) -> Result<Option<WrapUp>, StoreError>;
}

fn valid_code(c: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl WrapUpRepo for Store {
    fn dispositions(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        validate_tenant_id(tenant)?;
        Ok(
            get_json(&self.t().dispositions, &prefix(&[tenant.as_bytes()]))?
                .unwrap_or_else(default_dispositions),
        )
    }

    fn set_dispositions(&self, tenant: &str, codes: &[String]) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        if codes.is_empty() || codes.len() > MAX_DISPOSITION_CODES {
            return Err(StoreError::invalid(
                "codes",
                format!("give 1 to {MAX_DISPOSITION_CODES} codes"),
            ));
        }
        for (i, c) in codes.iter().enumerate() {
            if !valid_code(c) {
                return Err(StoreError::invalid(
                    "codes",
                    format!(
                        "{c:?} is not a code: 1 to {MAX_CODE_LEN} lower-case letters, digits and -"
                    ),
                ));
            }
            if codes[..i].contains(c) {
                return Err(StoreError::invalid(
                    "codes",
                    format!("{c:?} is there twice"),
                ));
            }
        }
        self.require_tenant(tenant)?;
        // Keyed `tenant \0`: the tenant sweep removes it.
        self.put_durable(&self.t().dispositions, prefix(&[tenant.as_bytes()]), &codes)
    }

    fn put_wrap_up(&self, tenant: &str, call_id: &str, w: &WrapUp) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        if call_id.is_empty() || call_id.len() > 128 {
            return Err(StoreError::invalid("call_id", "is not a call id"));
        }
        if !self.dispositions(tenant)?.contains(&w.code) {
            return Err(StoreError::invalid(
                "code",
                format!("{:?} is not one of the tenant's disposition codes", w.code),
            ));
        }
        if w.notes.chars().count() > MAX_NOTES {
            return Err(StoreError::invalid(
                "notes",
                format!("is longer than {MAX_NOTES} characters"),
            ));
        }
        self.require_tenant(tenant)?;
        self.put_durable(
            &self.t().wrap_ups,
            prefix(&[tenant.as_bytes(), call_id.as_bytes()]),
            w,
        )
    }

    fn wrap_up(&self, tenant: &str, call_id: &str) -> Result<Option<WrapUp>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().wrap_ups,
            &prefix(&[tenant.as_bytes(), call_id.as_bytes()]),
        )
    }
}
