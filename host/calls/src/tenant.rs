//! A tenant as the call engine sees it: SIP domains, extension
//! credentials, numbers and the flows that answer them, ring groups, and
//! the plugin runtime that decides its calls.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_plugins::TenantRuntime;
use switchyard_sip::auth::StoredCredentials;

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
}

impl Tenants {
    pub fn add(&mut self, t: Tenant) {
        let t = Arc::new(t);
        for d in &t.domains {
            self.by_domain.insert(d.to_ascii_lowercase(), t.clone());
        }
    }

    pub fn by_domain(&self, domain: &str) -> Option<Arc<Tenant>> {
        self.by_domain.get(&domain.to_ascii_lowercase()).cloned()
    }
}
