//! Numbers of a tenant and the global DID → tenant index.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::keys::{key, prefix, validate_number, validate_tenant_id, validate_text};
use crate::{Store, StoreError, encode, get_json, list_json};

/// A number and the flow that answers it. Numbers starting with `+` are
/// DIDs (E.164, reached from trunks) and belong to one tenant at most;
/// others (`700`) are internal to the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Number {
    pub tenant: String,
    pub number: String,
    /// The flow (plugin) that answers calls to this number.
    pub flow: String,
}

impl Number {
    /// Whether this is a DID, unique across tenants.
    pub fn is_did(&self) -> bool {
        self.number.starts_with('+')
    }
}

pub trait NumberRepo {
    /// Create or replace; the tenant must exist. A DID owned by another
    /// tenant is a [`StoreError::Conflict`].
    fn put_number(&self, number: &Number) -> Result<(), StoreError>;
    fn get_number(&self, tenant: &str, number: &str) -> Result<Option<Number>, StoreError>;
    fn list_numbers(&self, tenant: &str) -> Result<Vec<Number>, StoreError>;
    /// Whether it existed; a DID is released.
    fn delete_number(&self, tenant: &str, number: &str) -> Result<bool, StoreError>;
    /// The number record of a DID, whichever tenant owns it.
    fn find_did(&self, number: &str) -> Result<Option<Number>, StoreError>;
}

impl NumberRepo for Store {
    fn put_number(&self, n: &Number) -> Result<(), StoreError> {
        validate_number(&n.number)?;
        validate_text("flow", &n.flow, 128)?;
        if n.flow.is_empty() {
            return Err(StoreError::invalid("flow", "is empty"));
        }
        self.require_tenant(&n.tenant)?;
        let k = key(&[n.tenant.as_bytes(), n.number.as_bytes()]);
        let value = encode(n);
        let t = self.t();
        let (tenant, number, did) = (n.tenant.as_bytes(), n.number.as_bytes(), n.is_did());
        (&t.numbers, &t.dids).transaction(|(numbers, dids)| {
            if did {
                if let Some(owner) = dids.get(number)?
                    && owner.as_ref() != tenant
                {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict(
                        format!("number {} belongs to another tenant", n.number),
                    )));
                }
                dids.insert(number, tenant)?;
            }
            numbers.insert(k.as_slice(), value.as_slice())?;
            Ok(())
        })?;
        self.durable()
    }

    fn get_number(&self, tenant: &str, number: &str) -> Result<Option<Number>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().numbers,
            &key(&[tenant.as_bytes(), number.as_bytes()]),
        )
    }

    fn list_numbers(&self, tenant: &str) -> Result<Vec<Number>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().numbers, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_number(&self, tenant: &str, number: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_number(number)?;
        let k = key(&[tenant.as_bytes(), number.as_bytes()]);
        let t = self.t();
        let existed = (&t.numbers, &t.dids).transaction(|(numbers, dids)| {
            let existed = numbers.remove(k.as_slice())?.is_some();
            if dids
                .get(number.as_bytes())?
                .is_some_and(|o| o.as_ref() == tenant.as_bytes())
            {
                dids.remove(number.as_bytes())?;
            }
            Ok(existed)
        })?;
        self.durable()?;
        Ok(existed)
    }

    fn find_did(&self, number: &str) -> Result<Option<Number>, StoreError> {
        if !number.starts_with('+') {
            return Ok(None);
        }
        match self.t().dids.get(number.as_bytes())? {
            None => Ok(None),
            Some(tenant) => self.get_number(
                std::str::from_utf8(&tenant)
                    .map_err(|_| StoreError::Corrupt("DID index: tenant not UTF-8".into()))?,
                number,
            ),
        }
    }
}
