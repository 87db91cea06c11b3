//! Whose call is a new INVITE: an extension of a served SIP domain, or a
//! carrier on one of a tenant's trunks. Sans-IO: the facts of the request
//! and the tenant table in, the decision out.
//!
//! The order matters because a trunk is trusted by its source address
//! alone, and an address is a weak claim in a multi-tenant PBX (one tenant
//! could name another tenant's phones as its "carrier"). So, as Asterisk
//! does when an endpoint is identified by authentication rather than by
//! `identify` address, and as a Kamailio config that authenticates served
//! domains before its `allow_source_address` check does:
//!
//! 1. A request for a served domain that carries credentials for that
//!    domain's realm is an extension of that domain's tenant (and is
//!    authenticated as such) whatever its source address.
//! 2. Otherwise a request from a trunk's address is that carrier's only if
//!    it is for a DID (`+…`) the trunk's own tenant owns, and names no
//!    served domain of another tenant.
//! 3. Otherwise a request for a served domain is an extension of that
//!    domain's tenant: it is challenged, never routed on the address.

use std::net::SocketAddr;
use std::sync::Arc;

use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};

use crate::tenant::{Tenant, Tenants};
use crate::trunk::Trunk;

/// What the resolution needs to know about a request.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// Where it came from.
    pub source: Option<SocketAddr>,
    /// Hosts it names, most specific first: the Request-URI's, the To's,
    /// the From's (a phone that dials `sip:1002@192.0.2.1` still says its
    /// domain in From).
    pub hosts: Vec<String>,
    /// Its `Proxy-Authorization` header values.
    pub proxy_authorizations: Vec<String>,
    /// The Request-URI's user part: the number dialled.
    pub dialled: String,
}

impl RequestFacts {
    /// The facts of `req`, received from `source`.
    pub fn of(req: &Message, source: SocketAddr) -> RequestFacts {
        let uri_of = |v: Option<&str>| {
            v.and_then(|v| NameAddr::parse(v).ok())
                .and_then(|a| SipUri::parse(&a.uri).ok())
        };
        let ruri = SipUri::parse(req.uri()).ok();
        let dialled = ruri
            .as_ref()
            .and_then(|u| u.user_decoded())
            .unwrap_or_default();
        let hosts = [
            ruri,
            uri_of(req.headers.get("To")),
            uri_of(req.headers.get("From")),
        ]
        .into_iter()
        .flatten()
        .map(|u| u.host)
        .collect();
        RequestFacts {
            source: Some(source),
            hosts,
            proxy_authorizations: req
                .headers
                .get_all("Proxy-Authorization")
                .map(str::to_string)
                .collect(),
            dialled,
        }
    }

    /// Whether it carries a Digest answer for `realm` (checked later by
    /// the authenticator; here only its presence counts). The same test
    /// as the authenticator's, so that what is routed as an extension is
    /// what gets authenticated rather than challenged.
    fn has_credentials_for(&self, realm: &str) -> bool {
        let needle = format!("realm=\"{realm}\"");
        self.proxy_authorizations.iter().any(|v| {
            v.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
                && v.contains(&needle)
        })
    }
}

/// Whose a new INVITE is.
#[derive(Clone)]
pub enum Resolution {
    /// An extension of this tenant: authenticate it (challenge when it
    /// has no credentials).
    Extension(Arc<Tenant>),
    /// Carrier traffic on this trunk of this tenant, for one of its DIDs.
    Trunk(Arc<Tenant>, Arc<Trunk>),
    /// From a trunk's address, for no DID of the trunk's tenant and no
    /// served domain: 404.
    UnknownNumber,
    /// For no served domain and from no trunk: 404.
    UnknownDomain,
    /// A visitor of this tenant's web site with a ticket for one of its
    /// numbers (`crate::web_calls`); never the outcome of [`resolve`].
    WebVisitor(Arc<Tenant>),
}

impl std::fmt::Debug for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolution::Extension(t) => write!(f, "Extension({})", t.id),
            Resolution::Trunk(t, tr) => write!(f, "Trunk({}, {})", t.id, tr.name),
            Resolution::UnknownNumber => f.write_str("UnknownNumber"),
            Resolution::UnknownDomain => f.write_str("UnknownDomain"),
            Resolution::WebVisitor(t) => write!(f, "WebVisitor({})", t.id),
        }
    }
}

/// The tenant whose served domain the request names first, if any.
pub fn domain_tenant(tenants: &Tenants, facts: &RequestFacts) -> Option<Arc<Tenant>> {
    facts.hosts.iter().find_map(|h| tenants.by_domain(h))
}

/// Decide whose a new INVITE is (see the module docs for the order).
pub fn resolve(tenants: &Tenants, facts: &RequestFacts) -> Resolution {
    let served = domain_tenant(tenants, facts);
    if let Some(t) = &served
        && facts.has_credentials_for(t.realm())
    {
        return Resolution::Extension(t.clone());
    }
    let from_trunks = facts
        .source
        .map(|s| tenants.trunks_for_source(s))
        .unwrap_or_default();
    // Several matches only with data written before trunk addresses were
    // unique across tenants; the DID (unique) then picks the carrier.
    let did_owner = tenants.by_did(&facts.dialled);
    let carrier = from_trunks.iter().find(|(t, _)| {
        did_owner.as_ref().is_some_and(|o| o.id == t.id)
            && served.as_ref().is_none_or(|s| s.id == t.id)
    });
    if let Some((t, tr)) = carrier {
        return Resolution::Trunk(t.clone(), tr.clone());
    }
    match served {
        Some(t) => Resolution::Extension(t),
        None if !from_trunks.is_empty() => Resolution::UnknownNumber,
        None => Resolution::UnknownDomain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::tests::{tenant, trunk};

    fn facts(source: &str, host: &str, dialled: &str, realm: Option<&str>) -> RequestFacts {
        RequestFacts {
            source: Some(source.parse().unwrap()),
            hosts: vec![host.into(), host.into(), host.into()],
            proxy_authorizations: realm
                .map(|r| {
                    format!(
                        "Digest username=\"1003\", realm=\"{r}\", nonce=\"n\", \
                         uri=\"sip:{dialled}@{host}\", response=\"00\""
                    )
                })
                .into_iter()
                .collect(),
            dialled: dialled.into(),
        }
    }

    /// demo serves demo.localhost with extensions and owns +15550100 on a
    /// carrier at 192.0.2.10; acme has a trunk whose inbound address is
    /// 127.0.0.11 (where a demo phone sits) and claims `1002` and
    /// `+15550199` as its numbers.
    fn table() -> Tenants {
        let mut ts = Tenants::default();
        let mut demo = tenant("demo", "demo.localhost");
        demo.numbers.insert("+15550100".into(), "extensions".into());
        demo.trunks.push(trunk("carrier", &["192.0.2.10"]));
        ts.add(demo);
        let mut acme = tenant("acme", "acme.example");
        acme.numbers.insert("1002".into(), "extensions".into());
        acme.numbers.insert("+15550199".into(), "extensions".into());
        acme.trunks.push(trunk("grab", &["127.0.0.11"]));
        ts.add(acme);
        ts
    }

    fn is_extension_of(r: &Resolution, id: &str) -> bool {
        matches!(r, Resolution::Extension(t) if t.id == id)
    }

    fn is_trunk_of(r: &Resolution, id: &str, name: &str) -> bool {
        matches!(r, Resolution::Trunk(t, tr) if t.id == id && tr.name == name)
    }

    #[test]
    fn a_served_domain_with_credentials_wins_over_another_tenants_trunk_address() {
        let r = resolve(
            &table(),
            &facts(
                "127.0.0.11:5060",
                "demo.localhost",
                "1002",
                Some("demo.localhost"),
            ),
        );
        assert!(is_extension_of(&r, "demo"), "{r:?}");
    }

    #[test]
    fn without_credentials_a_served_domain_is_challenged_not_taken_by_the_trunk() {
        // The first INVITE of every phone has no credentials: it must get
        // the domain's challenge, not acme's 404 or acme's flow.
        let r = resolve(
            &table(),
            &facts("127.0.0.11:5060", "demo.localhost", "1002", None),
        );
        assert!(is_extension_of(&r, "demo"), "{r:?}");
    }

    #[test]
    fn a_did_of_the_trunks_tenant_is_not_reached_through_another_tenants_domain() {
        // acme owns +15550199, but the request is for demo's domain.
        let r = resolve(
            &table(),
            &facts("127.0.0.11:5060", "demo.localhost", "+15550199", None),
        );
        assert!(is_extension_of(&r, "demo"), "{r:?}");
    }

    #[test]
    fn credentials_for_another_realm_do_not_make_an_extension() {
        let r = resolve(
            &table(),
            &facts(
                "127.0.0.11:5060",
                "demo.localhost",
                "1002",
                Some("acme.example"),
            ),
        );
        assert!(is_extension_of(&r, "demo"), "{r:?}");
    }

    #[test]
    fn a_carrier_reaches_its_own_tenants_did() {
        let ts = table();
        // Carriers address the PBX by IP, not by a tenant's domain.
        let r = resolve(
            &ts,
            &facts("192.0.2.10:5060", "198.51.100.1", "+15550100", None),
        );
        assert!(is_trunk_of(&r, "demo", "carrier"), "{r:?}");
        // …or by the tenant's own domain.
        let r = resolve(
            &ts,
            &facts("192.0.2.10:5060", "demo.localhost", "+15550100", None),
        );
        assert!(is_trunk_of(&r, "demo", "carrier"), "{r:?}");
    }

    #[test]
    fn a_carrier_reaches_no_short_number_and_no_other_tenants_did() {
        let ts = table();
        // acme's `1002` is a short number, not a DID.
        let r = resolve(&ts, &facts("127.0.0.11:5060", "198.51.100.1", "1002", None));
        assert!(matches!(r, Resolution::UnknownNumber), "{r:?}");
        // demo's DID from acme's trunk.
        let r = resolve(
            &ts,
            &facts("127.0.0.11:5060", "198.51.100.1", "+15550100", None),
        );
        assert!(matches!(r, Resolution::UnknownNumber), "{r:?}");
    }

    #[test]
    fn no_domain_and_no_trunk_is_an_unknown_domain() {
        let r = resolve(
            &table(),
            &facts("203.0.113.5:5060", "example.net", "1002", None),
        );
        assert!(matches!(r, Resolution::UnknownDomain), "{r:?}");
    }

    #[test]
    fn with_two_tenants_on_one_address_the_did_picks_the_carrier() {
        // Data from before addresses were unique across tenants.
        let mut ts = Tenants::default();
        let mut a = tenant("a", "a.example");
        a.numbers.insert("+100".into(), "f".into());
        a.trunks.push(trunk("t", &["192.0.2.10"]));
        ts.add(a);
        let mut b = tenant("b", "b.example");
        b.numbers.insert("+200".into(), "f".into());
        b.trunks.push(trunk("t", &["192.0.2.10"]));
        ts.add(b);
        let r = resolve(&ts, &facts("192.0.2.10:5060", "198.51.100.1", "+200", None));
        assert!(is_trunk_of(&r, "b", "t"), "{r:?}");
    }

    #[test]
    fn a_scheme_other_than_digest_is_not_credentials() {
        let mut f = facts("127.0.0.11:5060", "demo.localhost", "1002", None);
        f.proxy_authorizations = vec!["Basic realm=\"demo.localhost\"".into(), "Dig€".into()];
        assert!(!f.has_credentials_for("demo.localhost"));
        f.proxy_authorizations = vec!["digest realm=\"demo.localhost\"".into()];
        assert!(f.has_credentials_for("demo.localhost"));
    }
}
