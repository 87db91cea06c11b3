//! Who may point a trunk where. A trunk's inbound addresses are trusted as
//! that tenant's carrier (calls from them skip digest authentication), and
//! its host is where the PBX sends REGISTERs and INVITEs; so a tenant must
//! not be able to
//! * name an address where another tenant's phones are registered (the
//!   store refuses one that another tenant's trunk already names), or
//! * point the PBX at, or claim traffic from, loopback, private,
//!   link-local or unspecified addresses — the operator's own network —
//!   unless the operator allows it (`allow-private-trunks`), or the operator
//!   configures the trunk itself.
//!
//! Only literal addresses (and `localhost`) are classified here; a DNS name
//! is not resolved at configuration time.

use std::net::{IpAddr, SocketAddr};

use switchyard_plugins::caps::http::is_non_public;
use switchyard_store::{RegistrationRepo, Store, Trunk, addresses_overlap};

use crate::error::{ApiError, ApiResult};

/// The IP of a trunk `host` (`host`, `host:port`, `[v6]:port`) when it is
/// a literal address; `localhost` names count as loopback.
fn literal_ip(host: &str) -> Option<IpAddr> {
    if let Ok(sa) = host.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip);
    }
    let name = host
        .rsplit_once(':')
        .map_or(host, |(name, _port)| name)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost")).then_some(IpAddr::from([127, 0, 0, 1]))
}

/// The IP of an inbound address (`ip` or `ip:port`).
fn inbound_ip(a: &str) -> Option<IpAddr> {
    a.parse::<SocketAddr>()
        .map(|sa| sa.ip())
        .or_else(|_| a.parse::<IpAddr>())
        .ok()
}

/// Refuse (403) a non-public host or inbound address in `new`, unless
/// `allowed` (the operator's setting, or the operator calling) or `old`
/// (the trunk as stored, which the operator may have set up) already had
/// it.
pub(crate) fn check_private(new: &Trunk, old: Option<&Trunk>, allowed: bool) -> ApiResult<()> {
    if allowed {
        return Ok(());
    }
    let refuse = |field: &str, value: &str| {
        Err(ApiError::forbidden(format!(
            "{field}: {value} is a loopback, private, link-local or unspecified address; \
             only the operator may use one (or allow it with allow-private-trunks)"
        )))
    };
    let host_kept = old.is_some_and(|o| o.host == new.host);
    if !host_kept && literal_ip(&new.host).is_some_and(is_non_public) {
        return refuse("host", &new.host);
    }
    for a in &new.inbound_addresses {
        let kept = old.is_some_and(|o| o.inbound_addresses.contains(a));
        if !kept && inbound_ip(a).is_some_and(is_non_public) {
            return refuse("inbound_addresses", a);
        }
    }
    Ok(())
}

/// Refuse (409) an inbound address from which a phone of another tenant
/// is registered now: calls from it would otherwise be this tenant's
/// carrier traffic.
pub(crate) fn check_registered(store: &Store, new: &Trunk, now_ms: u64) -> ApiResult<()> {
    if new.inbound_addresses.is_empty() {
        return Ok(());
    }
    for b in store.all_bindings()? {
        if b.tenant == new.tenant || b.expires_at_ms <= now_ms {
            continue;
        }
        if let Some(a) = new
            .inbound_addresses
            .iter()
            .find(|a| addresses_overlap(a, &b.source))
        {
            return Err(ApiError::conflict(format!(
                "inbound address {a} is used by a registered phone of another tenant"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::literal_ip;

    #[test]
    fn literal_hosts() {
        for (host, ip) in [
            ("127.0.0.1:9", Some("127.0.0.1")),
            ("10.1.2.3", Some("10.1.2.3")),
            ("[::1]:5060", Some("::1")),
            ("::1", Some("::1")),
            ("localhost:5060", Some("127.0.0.1")),
            ("pbx.LOCALHOST.", Some("127.0.0.1")),
            ("sip.carrier.example:5060", None),
            ("sip.carrier.example", None),
        ] {
            assert_eq!(literal_ip(host), ip.map(|i| i.parse().unwrap()), "{host}");
        }
    }
}
