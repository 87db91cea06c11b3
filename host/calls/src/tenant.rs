//! A tenant as the call engine sees it: SIP domains, extension
//! credentials, numbers and the flows that answer them, ring groups, and
//! the plugin runtime that decides its calls.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_plugins::TenantRuntime;
use switchyard_sip::auth::StoredCredentials;

use crate::trunk::{CallGate, Trunk};

/// One extension: its credentials (HA1 only) and display name.
#[derive(Debug, Clone)]
pub struct ExtensionAccount {
    pub number: String,
    pub display_name: Option<String>,
    pub credentials: StoredCredentials,
    /// `*8` from this extension takes calls ringing the group's others.
    pub pickup_group: Option<String>,
    /// May supervise the tenant's calls from this phone (`*55` + EXT).
    pub supervisor: bool,
    /// SRTP for the phone's media (off, optional, required).
    pub srtp: switchyard_sdp::SrtpPolicy,
}

/// A tenant of the PBX.
pub struct Tenant {
    pub id: String,
    /// The first is the digest realm.
    pub domains: Vec<String>,
    pub time_zone: String,
    pub extensions: HashMap<String, ExtensionAccount>,
    /// Number (DID or short number such as `700`) → flow name.
    pub numbers: HashMap<String, String>,
    /// The flow for calls that match no number (extension dialling).
    pub default_flow: String,
    pub ring_groups: HashMap<String, Vec<String>>,
    pub runtime: TenantRuntime,
    /// Carrier trunks; outbound calls use the first.
    pub trunks: Vec<Arc<Trunk>>,
    /// Caps on the tenant's calls (0 = none).
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    pub gate: Arc<CallGate>,
    /// A suspended tenant's phones cannot register or call (403).
    pub suspended: bool,
    /// Answered calls are recorded, in this layout.
    pub recording: Option<switchyard_media::Channels>,
    /// Bytes the tenant's recordings may take (0: no cap); past it no new
    /// recording starts ([`Tenant::recording_for`]).
    pub recording_storage_cap: u64,
    /// What its trunk calls cost, and whether a prepaid tenant out of
    /// balance still takes calls from outside.
    pub billing: crate::rating::TenantBilling,
    /// What the tenant's plan grants (the engine checks `conferences`;
    /// the other features shape what the server builds this view from).
    pub features: switchyard_store::Features,
    /// Queues and agents.
    pub contact_centre: crate::queues::ContactCentreSetup,
    /// Conference rooms by name (a room not here is used with the
    /// defaults).
    pub conferences: HashMap<String, switchyard_store::ConferenceRoom>,
}

impl Tenant {
    pub fn realm(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or(&self.id)
    }

    /// A place for one more call under the tenant's caps.
    pub fn admit_call(&self) -> Result<crate::trunk::GateTicket, crate::trunk::OverCap> {
        CallGate::admit(
            &self.gate,
            self.max_concurrent_calls,
            self.max_calls_per_second,
            std::time::Instant::now(),
        )
    }

    /// The layout to record a new call (or room) in: `None` when the
    /// tenant does not record, or its recordings have filled its storage.
    pub fn recording_for(
        &self,
        store: &switchyard_store::Store,
    ) -> Option<switchyard_media::Channels> {
        use switchyard_store::FileRepo;
        let channels = self.recording?;
        if self.recording_storage_cap == 0 {
            return Some(channels);
        }
        match store.stored_bytes(&self.id, "recording") {
            Ok(used) if used < self.recording_storage_cap => Some(channels),
            Ok(used) => {
                tracing::warn!(tenant = %self.id, used, cap = self.recording_storage_cap,
                    "recording storage full: call not recorded");
                None
            }
            Err(e) => {
                // A store that cannot say is not a reason to drop a
                // recording the tenant may be obliged to keep.
                tracing::error!(tenant = %self.id, error = %e, "recording storage unknown: recording");
                Some(channels)
            }
        }
    }

    /// The display name of extension `number`, if it has one.
    pub fn display_name(&self, number: &str) -> Option<String> {
        self.extensions
            .get(number)
            .and_then(|e| e.display_name.clone())
    }

    /// The flow that answers `dialled`.
    pub fn flow_for(&self, dialled: &str) -> &str {
        self.numbers
            .get(dialled)
            .map(String::as_str)
            .unwrap_or(&self.default_flow)
    }
}

/// Every tenant, found by SIP domain.
#[derive(Default, Clone)]
pub struct Tenants {
    by_domain: HashMap<String, Arc<Tenant>>,
    /// DIDs (numbers starting with `+`) → tenant.
    by_did: HashMap<String, Arc<Tenant>>,
    all: Vec<Arc<Tenant>>,
}

impl Tenants {
    pub fn add(&mut self, t: Tenant) {
        let t = Arc::new(t);
        for d in &t.domains {
            self.by_domain.insert(d.to_ascii_lowercase(), t.clone());
        }
        // A DID has one owner (the store refuses a second); should two
        // tenants still name one, the first keeps it, so a tenant reloaded
        // later cannot take a DID over.
        for n in t.numbers.keys().filter(|n| n.starts_with('+')) {
            match self.by_did.get(n) {
                Some(owner) if owner.id != t.id => {
                    tracing::warn!(did = %n, owner = %owner.id, tenant = %t.id,
                        "DID named by two tenants: the first keeps it");
                }
                _ => {
                    self.by_did.insert(n.clone(), t.clone());
                }
            }
        }
        self.all.push(t);
    }

    /// Take tenant `id` out (its domains and DIDs with it).
    pub fn remove(&mut self, id: &str) -> Option<Arc<Tenant>> {
        let pos = self.all.iter().position(|t| t.id == id)?;
        let old = self.all.remove(pos);
        self.by_domain.retain(|_, t| t.id != id);
        self.by_did.retain(|_, t| t.id != id);
        Some(old)
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<Tenant>> {
        self.all.iter().find(|t| t.id == id).cloned()
    }

    pub fn by_domain(&self, domain: &str) -> Option<Arc<Tenant>> {
        self.by_domain.get(&domain.to_ascii_lowercase()).cloned()
    }

    pub fn by_did(&self, did: &str) -> Option<Arc<Tenant>> {
        self.by_did.get(did).cloned()
    }

    /// Every trunk whose inbound addresses match `source`, with its
    /// tenant. An address alone does not make a request a carrier's:
    /// [`crate::resolve::resolve`] decides.
    pub fn trunks_for_source(
        &self,
        source: std::net::SocketAddr,
    ) -> Vec<(Arc<Tenant>, Arc<Trunk>)> {
        self.all
            .iter()
            .flat_map(|t| {
                t.trunks
                    .iter()
                    .filter(move |tr| tr.matches_source(source))
                    .map(move |tr| (t.clone(), tr.clone()))
            })
            .collect()
    }

    pub fn all(&self) -> &[Arc<Tenant>] {
        &self.all
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Mutex, OnceLock};

    use switchyard_plugins::{HostConfig, PluginHost, TenantSettings};
    use switchyard_sip::endpoint::Transport;

    use super::*;
    use crate::trunk::Registration;

    /// One plugin host for the unit tests (its pooling allocator reserves
    /// address space).
    fn host() -> PluginHost {
        static HOST: OnceLock<PluginHost> = OnceLock::new();
        HOST.get_or_init(|| {
            PluginHost::new(HostConfig {
                max_instances: 2,
                ..HostConfig::default()
            })
            .expect("plugin host")
        })
        .clone()
    }

    /// A tenant with `domain`, extensions 1001–1003 and nothing else.
    pub(crate) fn tenant(id: &str, domain: &str) -> Tenant {
        let extensions = ["1001", "1002", "1003"]
            .into_iter()
            .map(|n| {
                let account = ExtensionAccount {
                    number: n.into(),
                    display_name: None,
                    credentials: StoredCredentials::from_password(n, domain, "secret"),
                    pickup_group: None,
                    supervisor: false,
                    srtp: Default::default(),
                };
                (n.to_string(), account)
            })
            .collect();
        Tenant {
            id: id.into(),
            domains: vec![domain.into()],
            time_zone: "UTC".into(),
            extensions,
            numbers: HashMap::new(),
            default_flow: "extensions".into(),
            ring_groups: HashMap::new(),
            runtime: host()
                .tenant(id, TenantSettings::default())
                .expect("tenant runtime"),
            trunks: Vec::new(),
            max_concurrent_calls: 0,
            max_calls_per_second: 0,
            gate: Arc::default(),
            suspended: false,
            recording: None,
            recording_storage_cap: 0,
            billing: Default::default(),
            features: switchyard_store::Features::all(),
            contact_centre: Default::default(),
            conferences: HashMap::new(),
        }
    }

    /// A trunk accepting calls from `inbound`.
    pub(crate) fn trunk(name: &str, inbound: &[&str]) -> Arc<Trunk> {
        Arc::new(Trunk {
            name: name.into(),
            host: "192.0.2.1:5060".into(),
            transport: Transport::Udp,
            username: None,
            password: None,
            register: false,
            register_expires: 300,
            from_domain: None,
            max_concurrent_calls: 0,
            max_calls_per_second: 0,
            caller_id: None,
            allow_caller_id_passthrough: false,
            srtp: Default::default(),
            inbound_addresses: inbound.iter().map(|a| a.to_string()).collect(),
            gate: Arc::default(),
            registration: Mutex::new(Registration::Idle),
            stopped: Default::default(),
        })
    }

    #[test]
    fn a_did_stays_with_its_first_owner() {
        let mut ts = Tenants::default();
        let mut a = tenant("a", "a.example");
        a.numbers.insert("+100".into(), "f".into());
        ts.add(a);
        let mut b = tenant("b", "b.example");
        b.numbers.insert("+100".into(), "f".into());
        ts.add(b);
        assert_eq!(ts.by_did("+100").unwrap().id, "a");
        // Removing the owner releases it (the store refuses a second
        // claimant, so none is waiting).
        ts.remove("a");
        assert!(ts.by_did("+100").is_none());
    }
}
