//! Registration bindings: where an extension can be reached.
//!
//! The hot write path: bindings are not flushed per write (see the crate
//! docs); sled's periodic flush and [`crate::Store::close`] persist them.

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_extension, validate_tenant_id, validate_text};
use crate::{Store, StoreError, all_json, decode, encode};

/// One registered contact of an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub tenant: String,
    pub extension: String,
    /// The Contact URI as registered.
    pub contact: String,
    pub expires_at_ms: u64,
    /// The Contact's `q` preference, when given.
    pub q: Option<f32>,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from (`ip:port`): requests to this contact
    /// go there (NAT-friendly, like `rport`).
    pub source: String,
    /// `UDP`, `TCP`, `TLS`, `WS`…
    pub transport: String,
    pub user_agent: Option<String>,
}

pub trait RegistrationRepo {
    /// Add or refresh the binding of (tenant, extension, contact).
    fn put_binding(&self, binding: &Binding) -> Result<(), StoreError>;
    fn remove_binding(&self, tenant: &str, ext: &str, contact: &str) -> Result<(), StoreError>;
    /// Remove every binding of an extension (`Contact: *`); how many.
    fn remove_all_bindings(&self, tenant: &str, ext: &str) -> Result<usize, StoreError>;
    /// The bindings of one extension that are unexpired at `now_ms`.
    fn bindings(&self, tenant: &str, ext: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError>;
    /// Every stored binding of every tenant, expired or not (until
    /// [`RegistrationRepo::purge_expired`] removes them).
    fn all_bindings(&self) -> Result<Vec<Binding>, StoreError>;
    /// Remove the bindings expired at `now_ms`; the ones removed.
    fn purge_expired(&self, now_ms: u64) -> Result<Vec<Binding>, StoreError>;
}

impl RegistrationRepo for Store {
    fn put_binding(&self, b: &Binding) -> Result<(), StoreError> {
        validate_tenant_id(&b.tenant)?;
        validate_extension(&b.extension)?;
        validate_text("contact", &b.contact, 1024)?;
        if b.contact.is_empty() {
            return Err(StoreError::invalid("contact", "is empty"));
        }
        self.t().bindings.insert(
            key(&[
                b.tenant.as_bytes(),
                b.extension.as_bytes(),
                b.contact.as_bytes(),
            ]),
            encode(b),
        )?;
        Ok(())
    }

    fn remove_binding(&self, tenant: &str, ext: &str, contact: &str) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        self.t().bindings.remove(key(&[
            tenant.as_bytes(),
            ext.as_bytes(),
            contact.as_bytes(),
        ]))?;
        Ok(())
    }

    fn remove_all_bindings(&self, tenant: &str, ext: &str) -> Result<usize, StoreError> {
        validate_tenant_id(tenant)?;
        validate_extension(ext)?;
        crate::sweep(
            &self.t().bindings,
            &prefix(&[tenant.as_bytes(), ext.as_bytes()]),
        )
    }

    fn bindings(&self, tenant: &str, ext: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_extension(ext)?;
        let mut out = Vec::new();
        for kv in self
            .t()
            .bindings
            .scan_prefix(prefix(&[tenant.as_bytes(), ext.as_bytes()]))
        {
            let b: Binding = decode(&kv?.1)?;
            if b.expires_at_ms > now_ms {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn all_bindings(&self) -> Result<Vec<Binding>, StoreError> {
        all_json(&self.t().bindings)
    }

    fn purge_expired(&self, now_ms: u64) -> Result<Vec<Binding>, StoreError> {
        let tree = &self.t().bindings;
        let mut gone = Vec::new();
        for kv in tree.iter() {
            let (k, v) = kv?;
            let b: Binding = decode(&v)?;
            // Compare-and-swap: a binding refreshed since it was read here
            // is kept.
            if b.expires_at_ms <= now_ms
                && tree
                    .compare_and_swap(&k, Some(&v), None as Option<&[u8]>)?
                    .is_ok()
            {
                gone.push(b);
            }
        }
        Ok(gone)
    }
}
