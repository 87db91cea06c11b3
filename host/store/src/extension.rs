//! Extensions: SIP users of a tenant, with digest HA1 hashes only.

use serde::{Deserialize, Serialize};

use crate::keys::{
    key, prefix, validate_email, validate_extension, validate_hex, validate_name,
    validate_tenant_id, validate_text,
};
use crate::{Store, StoreError, get_json, list_json};

/// An extension. The SIP password is never stored: the caller computes
/// the digest HA1 hashes (`H(user:realm:password)`, MD5 and SHA-256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    pub tenant: String,
    /// 2–15 digits.
    pub number: String,
    pub display_name: Option<String>,
    /// 32 lower-case hex characters.
    pub ha1_md5: String,
    /// 64 lower-case hex characters.
    pub ha1_sha256: String,
    pub voicemail: bool,
    pub created_at_ms: u64,
    /// The pickup group (`*8` takes a call ringing another member of the
    /// same group); `None`: the ring groups the extension is in serve
    /// instead. Added later: older records load without one.
    #[serde(default)]
    pub pickup_group: Option<String>,
    /// May listen to, whisper to and barge into the tenant's calls from
    /// this phone (`*55` + an extension). Added later: older records
    /// load without it.
    #[serde(default)]
    pub supervisor: bool,
    /// Where voicemail left in this extension's mailbox (or in a group's
    /// it is a member of) is e-mailed, the message attached; and missed
    /// calls, when `missed_call_email`. Added later: older records load
    /// without it.
    #[serde(default)]
    pub email: Option<String>,
    /// E-mail a call to this extension that ended unanswered (not one that
    /// left a voicemail: that has its own e-mail).
    #[serde(default)]
    pub missed_call_email: bool,
    /// SRTP for the phone's media (SDES, `RTP/SAVP`): `off` (plain RTP),
    /// `optional` (SRTP when the phone offers it) or `required` (only
    /// SRTP; plain media is refused with 488). Added later: older records
    /// load as `off`.
    #[serde(default = "crate::keys::srtp_off")]
    pub srtp: String,
}

pub trait ExtensionRepo {
    /// Create or replace; the tenant must exist.
    fn put_extension(&self, ext: &Extension) -> Result<(), StoreError>;
    fn get_extension(&self, tenant: &str, number: &str) -> Result<Option<Extension>, StoreError>;
    /// One tenant's extensions, ordered by number (as strings).
    fn list_extensions(&self, tenant: &str) -> Result<Vec<Extension>, StoreError>;
    /// Whether it existed.
    fn delete_extension(&self, tenant: &str, number: &str) -> Result<bool, StoreError>;
}

impl ExtensionRepo for Store {
    fn put_extension(&self, ext: &Extension) -> Result<(), StoreError> {
        validate_extension(&ext.number)?;
        validate_hex("ha1_md5", &ext.ha1_md5, 32)?;
        validate_hex("ha1_sha256", &ext.ha1_sha256, 64)?;
        if let Some(name) = &ext.display_name {
            validate_text("display_name", name, 200)?;
        }
        if let Some(group) = &ext.pickup_group {
            validate_name("pickup_group", group)?;
        }
        if let Some(email) = &ext.email {
            validate_email("email", email)?;
        }
        crate::keys::validate_srtp(&ext.srtp)?;
        self.require_tenant(&ext.tenant)?;
        let k = key(&[ext.tenant.as_bytes(), ext.number.as_bytes()]);
        self.put_durable(&self.t().extensions, k, ext)
    }

    fn get_extension(&self, tenant: &str, number: &str) -> Result<Option<Extension>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().extensions,
            &key(&[tenant.as_bytes(), number.as_bytes()]),
        )
    }

    fn list_extensions(&self, tenant: &str) -> Result<Vec<Extension>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().extensions, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_extension(&self, tenant: &str, number: &str) -> Result<bool, StoreError> {
        validate_extension(number)?;
        validate_tenant_id(tenant)?;
        let k = key(&[tenant.as_bytes(), number.as_bytes()]);
        // Its own caller rules go with it (a new extension of the same
        // number starts with none).
        self.t().caller_rules.remove(&k)?;
        self.delete_durable(&self.t().extensions, k)
    }
}
