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
}

impl Tenant {
    pub fn realm(&self) -> &str {
        self.domains.first().map(String::as_str).unwrap_or(&self.id)
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
        for n in t.numbers.keys().filter(|n| n.starts_with('+')) {
            self.by_did.insert(n.clone(), t.clone());
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

    /// The tenant and trunk a request from `source` belongs to, when it
    /// comes from a carrier.
    pub fn trunk_for_source(
        &self,
        source: std::net::SocketAddr,
    ) -> Option<(Arc<Tenant>, Arc<Trunk>)> {
        self.all.iter().find_map(|t| {
            t.trunks
                .iter()
                .find(|tr| tr.matches_source(source))
                .map(|tr| (t.clone(), tr.clone()))
        })
    }

    pub fn all(&self) -> &[Arc<Tenant>] {
        &self.all
    }
}
