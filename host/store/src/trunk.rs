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
    /// SRTP for the carrier's media (SDES, `RTP/SAVP`): `off`,
    /// `optional` or `required`, as for an extension. Added later: older
    /// records load as `off`.
    #[serde(default = "crate::keys::srtp_off")]
    pub srtp: String,
}

pub trait TrunkRepo {
    /// Create or replace; the tenant must exist. An inbound address that
    /// overlaps one of another tenant's trunks is a
    /// [`StoreError::Conflict`]: calls from an address are trusted as one
    /// tenant's carrier, so no two tenants may claim it.
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
        crate::keys::validate_srtp(&tr.srtp)?;
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
        let _serial = self
            .inner
            .trunk_writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for other in all_json::<Trunk>(&self.t().trunks)? {
            if other.tenant == tr.tenant {
                continue;
            }
            for mine in &tr.inbound_addresses {
                if other
                    .inbound_addresses
                    .iter()
                    .any(|theirs| addresses_overlap(mine, theirs))
                {
                    return Err(StoreError::Conflict(format!(
                        "inbound address {mine} is already used by another tenant's trunk"
                    )));
                }
            }
        }
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

/// An inbound address as `(ip, port)`; no port means every port.
fn parse_inbound(a: &str) -> Option<(std::net::IpAddr, Option<u16>)> {
    if let Ok(sa) = a.parse::<std::net::SocketAddr>() {
        return Some((sa.ip().to_canonical(), Some(sa.port())));
    }
    a.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| (ip.to_canonical(), None))
}

/// Whether some source address would match both inbound addresses: the
/// same IP, and the same port or no port on either side.
pub fn addresses_overlap(a: &str, b: &str) -> bool {
    match (parse_inbound(a), parse_inbound(b)) {
        (Some((ip_a, port_a)), Some((ip_b, port_b))) => {
            ip_a == ip_b && (port_a.is_none() || port_b.is_none() || port_a == port_b)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::addresses_overlap;

    #[test]
    fn overlapping_inbound_addresses() {
        assert!(addresses_overlap("192.0.2.1", "192.0.2.1"));
        assert!(addresses_overlap("192.0.2.1", "192.0.2.1:5060"));
        assert!(addresses_overlap("192.0.2.1:5060", "192.0.2.1"));
        assert!(addresses_overlap("::ffff:192.0.2.1", "192.0.2.1:5060"));
        assert!(!addresses_overlap("192.0.2.1:5060", "192.0.2.1:5061"));
        assert!(!addresses_overlap("192.0.2.1", "192.0.2.2"));
        assert!(!addresses_overlap("junk", "junk"));
    }
}
