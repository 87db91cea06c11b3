//! Who a tenant wants told about its calls beyond each extension's own
//! e-mail: a group address for every missed call from outside, and one for
//! every call that came in after hours (a flow tagged it `after-hours`).

use serde::{Deserialize, Serialize};

use crate::keys::{prefix, validate_email, validate_tenant_id};
use crate::{Store, StoreError, get_json};

/// Addresses one notice may go to.
pub const MAX_NOTICE_ADDRESSES: usize = 20;

/// A tenant's notice addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantNotices {
    /// Told about every call from outside that nobody answered (no
    /// answer, busy, the caller gave up), whoever it rang.
    #[serde(default)]
    pub missed_calls: Vec<String>,
    /// Told about every call a flow tagged `after-hours` (the
    /// `business-hours` plugin does when closed), with how it ended.
    #[serde(default)]
    pub after_hours: Vec<String>,
}

pub trait NoticeRepo {
    /// Replace the tenant's notice addresses; the tenant must exist.
    fn put_notices(&self, tenant: &str, notices: &TenantNotices) -> Result<(), StoreError>;
    /// The tenant's notice addresses (none set: empty).
    fn notices(&self, tenant: &str) -> Result<TenantNotices, StoreError>;
}

fn validate(field: &'static str, list: &[String]) -> Result<(), StoreError> {
    if list.len() > MAX_NOTICE_ADDRESSES {
        return Err(StoreError::invalid(
            field,
            format!("more than {MAX_NOTICE_ADDRESSES} addresses"),
        ));
    }
    list.iter().try_for_each(|a| validate_email(field, a))
}

impl NoticeRepo for Store {
    fn put_notices(&self, tenant: &str, notices: &TenantNotices) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        validate("missed_calls", &notices.missed_calls)?;
        validate("after_hours", &notices.after_hours)?;
        self.require_tenant(tenant)?;
        // Keyed `tenant \0`: the tenant sweep removes it.
        self.put_durable(&self.t().notices, prefix(&[tenant.as_bytes()]), notices)
    }

    fn notices(&self, tenant: &str) -> Result<TenantNotices, StoreError> {
        validate_tenant_id(tenant)?;
        Ok(get_json(&self.t().notices, &prefix(&[tenant.as_bytes()]))?.unwrap_or_default())
    }
}
