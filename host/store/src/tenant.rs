//! Tenants and the global SIP domain → tenant index.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::keys::{prefix, validate_domain, validate_tenant_id, validate_text};
use crate::{Store, StoreError, all_json, decode, encode, get_json, sweep};

/// What the operator grants a tenant: calls at once and per second, and
/// the budget of each plugin invocation. Stored with the tenant and set
/// through the API; the server turns the plugin part into the plugin
/// sandbox's `switchyard_plugins::TenantLimits` (which has many more
/// fields, all host policy) when it loads the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantQuota {
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    pub plugin_memory_mib: u32,
    pub plugin_cpu_ms: u32,
}

/// Features enabled for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Answered calls are recorded (from the agent's answer, paused during
    /// transfers).
    pub recording: bool,
    /// Recordings mixed to one channel; stereo (caller left, agent right)
    /// otherwise.
    #[serde(default)]
    pub recording_mono: bool,
    pub advanced_ivr: bool,
    pub reporting: bool,
    pub crm: bool,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Slug `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    pub name: String,
    /// SIP domains; each belongs to one tenant at most (case-insensitive).
    pub domains: Vec<String>,
    /// IANA time zone name, e.g. `Europe/Paris`.
    pub time_zone: String,
    pub limits: TenantQuota,
    pub features: Features,
    pub suspended: bool,
    pub created_at_ms: u64,
    /// The reasons an agent may give for a pause (the contact centre adds
    /// `no-answer` itself when it auto-pauses). Stored tenants from before
    /// this field get [`default_pause_reasons`].
    #[serde(default = "default_pause_reasons")]
    pub pause_reasons: Vec<String>,
}

/// `break`, `lunch`, `training`, `no-answer`.
pub fn default_pause_reasons() -> Vec<String> {
    ["break", "lunch", "training", "no-answer"]
        .map(String::from)
        .to_vec()
}

pub trait TenantRepo {
    /// Create or replace a tenant. A domain already owned by another tenant
    /// is a [`StoreError::Conflict`] naming the domain; domains the tenant
    /// no longer lists are released.
    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    /// All tenants, by id.
    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Remove the tenant and everything it owns in every tree, its files
    /// and the plugin blobs no other tenant uses. Whether the tenant
    /// existed. Safe to retry after a crash: the tenant record goes last.
    fn delete_tenant(&self, id: &str) -> Result<bool, StoreError>;
    /// The tenant owning a SIP domain (case-insensitive).
    fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>, StoreError>;
}

fn validate(t: &Tenant) -> Result<BTreeSet<String>, StoreError> {
    validate_tenant_id(&t.id)?;
    validate_text("name", &t.name, 200)?;
    validate_text("time_zone", &t.time_zone, 64)?;
    if t.pause_reasons.len() > 50 {
        return Err(StoreError::invalid("pause_reasons", "more than 50 reasons"));
    }
    for r in &t.pause_reasons {
        if r.is_empty() {
            return Err(StoreError::invalid("pause_reasons", "a reason is empty"));
        }
        validate_text("pause_reasons", r, 64)?;
    }
    let mut domains = BTreeSet::new();
    for d in &t.domains {
        validate_domain(d)?;
        domains.insert(d.to_ascii_lowercase());
    }
    Ok(domains)
}

impl TenantRepo for Store {
    fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let domains = validate(tenant)?;
        let id = tenant.id.as_bytes();
        let value = encode(tenant);
        let t = self.t();
        (&t.tenants, &t.domains).transaction(|(tenants, index)| {
            for d in &domains {
                if let Some(owner) = index.get(d.as_bytes())?
                    && owner.as_ref() != id
                {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict(
                        format!("domain {d} belongs to another tenant"),
                    )));
                }
            }
            if let Some(old) = tenants.get(id)? {
                let old: Tenant = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                for d in old.domains.iter().map(|d| d.to_ascii_lowercase()) {
                    if !domains.contains(&d)
                        && index.get(d.as_bytes())?.is_some_and(|o| o.as_ref() == id)
                    {
                        index.remove(d.as_bytes())?;
                    }
                }
            }
            for d in &domains {
                index.insert(d.as_bytes(), id)?;
            }
            tenants.insert(id, value.as_slice())?;
            Ok(())
        })?;
        self.durable()
    }

    fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        get_json(&self.t().tenants, id.as_bytes())
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        all_json(&self.t().tenants)
    }

    fn delete_tenant(&self, id: &str) -> Result<bool, StoreError> {
        validate_tenant_id(id)?;
        let t = self.t();
        let p = prefix(&[id.as_bytes()]);

        // Plugin blobs this tenant references, to collect afterwards.
        let mut shas = BTreeSet::new();
        for v in crate::list_json::<crate::PluginVersionRecord>(&t.plugin_versions, &p)? {
            shas.insert(v.sha256);
        }

        for tree in [
            &t.extensions,
            &t.bindings,
            &t.trunks,
            &t.ring_groups,
            &t.queues,
            &t.schedules,
            &t.cdrs,
            &t.plugin_versions,
            &t.plugin_active,
            &t.plugin_roles,
            &t.files,
            &t.queue_log,
            &t.callbacks,
            &t.agent_states,
            &t.conferences,
            &t.caller_rules,
        ] {
            sweep(tree, &p)?;
        }
        // Records with a global index go together with their index entry.
        // (The keys are collected first: sled cannot iterate a tree from
        // inside a transaction.)
        let number_keys = keys_under(&t.numbers, &p)?;
        (&t.numbers, &t.dids).transaction(|(numbers, dids)| {
            for k in &number_keys {
                numbers.remove(k.as_slice())?;
                let number = &k[p.len()..];
                if dids
                    .get(number)?
                    .is_some_and(|o| o.as_ref() == id.as_bytes())
                {
                    dids.remove(number)?;
                }
            }
            Ok(())
        })?;
        let api_key_keys = keys_under(&t.api_keys, &p)?;
        (&t.api_keys, &t.api_key_ids).transaction(|(api_keys, ids)| {
            for k in &api_key_keys {
                api_keys.remove(k.as_slice())?;
                ids.remove(&k[p.len()..])?;
            }
            Ok(())
        })?;
        for kind in crate::FILE_KINDS {
            let dir = self.files_dir().join(kind).join(id);
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        self.collect_plugin_blobs(&shas)?;

        // Last: the tenant and its domains, so that an interrupted delete
        // leaves a tenant that can be deleted again.
        let existed = (&t.tenants, &t.domains).transaction(|(tenants, index)| {
            let Some(old) = tenants.remove(id.as_bytes())? else {
                return Ok(false);
            };
            let old: Tenant = decode(&old).map_err(ConflictableTransactionError::Abort)?;
            for d in old.domains.iter().map(|d| d.to_ascii_lowercase()) {
                if index
                    .get(d.as_bytes())?
                    .is_some_and(|o| o.as_ref() == id.as_bytes())
                {
                    index.remove(d.as_bytes())?;
                }
            }
            Ok(true)
        })?;
        self.durable()?;
        Ok(existed)
    }

    fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>, StoreError> {
        let domain = domain.to_ascii_lowercase();
        match self.t().domains.get(domain.as_bytes())? {
            None => Ok(None),
            Some(id) => get_json(&self.t().tenants, &id),
        }
    }
}

fn keys_under(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    tree.scan_prefix(prefix)
        .keys()
        .map(|k| Ok(k?.to_vec()))
        .collect()
}
