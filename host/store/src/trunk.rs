//! SIP trunks to carriers.

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_number, validate_tenant_id, validate_text};
use crate::{Store, StoreError, all_json, get_json, list_json};

/// A trunk to a carrier. The password is stored as given (not hashed):
/// the host answers the carrier's digest challenge with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trunk {
    pub tenant: String,
    pub name: String,
    /// `host:port` of the carrier.
    pub host: String,
    pub transport: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Whether the host registers to the carrier.
    pub register: bool,
    pub register_expires: u32,
    pub from_domain: Option<String>,
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    /// The number presented on outbound calls.
    pub caller_id: Option<String>,
    /// Whether a caller's own number may be presented instead.
    pub allow_caller_id_passthrough: bool,
    /// IP addresses allowed to send inbound calls on this trunk.
    pub inbound_addresses: Vec<String>,
}

pub trait TrunkRepo {
    /// Create or replace; the tenant must exist.
    fn put_trunk(&self, trunk: &Trunk) -> Result<(), StoreError>;
    fn get_trunk(&self, tenant: &str, name: &str) -> Result<Option<Trunk>, StoreError>;
    fn list_trunks(&self, tenant: &str) -> Result<Vec<Trunk>, StoreError>;
    fn delete_trunk(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
    /// Every tenant's trunks (for the registration client).
    fn all_trunks(&self) -> Result<Vec<Trunk>, StoreError>;
}

impl TrunkRepo for Store {
    fn put_trunk(&self, tr: &Trunk) -> Result<(), StoreError> {
        validate_name("name", &tr.name)?;
        validate_text("host", &tr.host, 256)?;
        if tr.host.is_empty() {
            return Err(StoreError::invalid("host", "is empty"));
        }
        validate_text("transport", &tr.transport, 16)?;
        for (field, v) in [
            ("username", &tr.username),
            ("password", &tr.password),
            ("from_domain", &tr.from_domain),
        ] {
            if let Some(v) = v {
                validate_text(field, v, 256)?;
            }
        }
        if let Some(cid) = &tr.caller_id {
            validate_number(cid).map_err(|_| {
                StoreError::invalid("caller_id", format!("{cid:?} is not a number"))
            })?;
        }
        // An IP, or `ip:port` when one host runs several carriers' peers
        // (and in tests, where everything is 127.0.0.1).
        for a in &tr.inbound_addresses {
            let ok =
                a.parse::<std::net::IpAddr>().is_ok() || a.parse::<std::net::SocketAddr>().is_ok();
            if !ok {
                return Err(StoreError::invalid(
                    "inbound_addresses",
                    format!("{a:?} is not an IP address or IP:port"),
                ));
            }
        }
        self.require_tenant(&tr.tenant)?;
        let k = key(&[tr.tenant.as_bytes(), tr.name.as_bytes()]);
        self.put_durable(&self.t().trunks, k, tr)
    }

    fn get_trunk(&self, tenant: &str, name: &str) -> Result<Option<Trunk>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().trunks,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_trunks(&self, tenant: &str) -> Result<Vec<Trunk>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().trunks, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_trunk(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(&self.t().trunks, key(&[tenant.as_bytes(), name.as_bytes()]))
    }

    fn all_trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        all_json(&self.t().trunks)
    }
}
