//! Tenants and the global SIP domain → tenant index.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::keys::{prefix, validate_domain, validate_tenant_id, validate_text};
use crate::{Store, StoreError, all_json, decode, encode, get_json, sweep};

/// What the operator grants a tenant: calls at once and per second, how
/// many extensions and numbers, storage for recordings, and the budget of
/// each plugin invocation. Part of a [`crate::Plan`], or set on a tenant
/// that has none; the server turns the plugin part into the plugin
/// sandbox's `switchyard_plugins::TenantLimits` (which has many more
/// fields, all host policy) when it loads the tenant.
///
/// The caps added after the first release (`max_extensions`,
/// `max_numbers`, `recording_storage_mib`) read as 0 — no cap — in
/// records written before them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantQuota {
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    pub plugin_memory_mib: u32,
    pub plugin_cpu_ms: u32,
    /// Extensions the tenant may have (0: no cap).
    #[serde(default)]
    pub max_extensions: u32,
    /// Numbers (DIDs and short numbers) the tenant may have (0: no cap).
    #[serde(default)]
    pub max_numbers: u32,
    /// Disk the tenant's recordings may take, MiB (0: no cap). Past it,
    /// calls are no longer recorded until recordings are deleted.
    #[serde(default)]
    pub recording_storage_mib: u32,
}

impl TenantQuota {
    /// Whether `count` more of something capped at `cap` (0: no cap) fit
    /// beside `have`.
    pub fn fits(cap: u32, have: usize, count: usize) -> bool {
        cap == 0 || have + count <= cap as usize
    }
}

fn on() -> bool {
    true
}

/// Features enabled for a tenant.
///
/// `queues`, `conferences` and `browser_phones` came with plans; a tenant
/// stored before them had queues and conferences, so in such a record they
/// read as on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Answered calls are recorded (from the agent's answer, paused during
    /// transfers), and conference rooms may be recorded.
    pub recording: bool,
    /// Recordings mixed to one channel; stereo (caller left, agent right)
    /// otherwise. A setting of the recording feature.
    #[serde(default)]
    pub recording_mono: bool,
    /// Call flows beyond extension dialling: numbers and menus served by
    /// flow plugins other than the tenant's `extensions` flow (IVR menus,
    /// business hours).
    pub advanced_ivr: bool,
    /// Queue and agent reports, and reporter plugins.
    pub reporting: bool,
    /// A CRM connector: caller look-up (screen pop) and call logging.
    pub crm: bool,
    /// Call queues and agents.
    #[serde(default = "on")]
    pub queues: bool,
    /// Conference rooms.
    #[serde(default = "on")]
    pub conferences: bool,
    /// Phones in a web browser (WebRTC).
    #[serde(default = "on")]
    pub browser_phones: bool,
}

impl Default for Features {
    /// Nothing beyond extensions, ring groups, voicemail and trunks.
    fn default() -> Features {
        Features {
            recording: false,
            recording_mono: false,
            advanced_ivr: false,
            reporting: false,
            crm: false,
            queues: false,
            conferences: false,
            browser_phones: false,
        }
    }
}

/// The flow every tenant has, whatever its plan: extension dialling and
/// the short numbers its `extensions` plugin routes. Numbers served by
/// any other flow are the advanced IVR feature.
pub const BASIC_FLOW: &str = "extensions";

/// A feature a plan may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Recording,
    AdvancedIvr,
    Reporting,
    Crm,
    Queues,
    Conferences,
    BrowserPhones,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::Recording,
        Feature::AdvancedIvr,
        Feature::Reporting,
        Feature::Crm,
        Feature::Queues,
        Feature::Conferences,
        Feature::BrowserPhones,
    ];

    /// Its name in the API (the field of `features`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Recording => "recording",
            Feature::AdvancedIvr => "advanced_ivr",
            Feature::Reporting => "reporting",
            Feature::Crm => "crm",
            Feature::Queues => "queues",
            Feature::Conferences => "conferences",
            Feature::BrowserPhones => "browser_phones",
        }
    }
}

impl Features {
    pub fn has(&self, f: Feature) -> bool {
        match f {
            Feature::Recording => self.recording,
            Feature::AdvancedIvr => self.advanced_ivr,
            Feature::Reporting => self.reporting,
            Feature::Crm => self.crm,
            Feature::Queues => self.queues,
            Feature::Conferences => self.conferences,
            Feature::BrowserPhones => self.browser_phones,
        }
    }

    /// Every feature.
    pub fn all() -> Features {
        Features {
            recording: true,
            recording_mono: false,
            advanced_ivr: true,
            reporting: true,
            crm: true,
            queues: true,
            conferences: true,
            browser_phones: true,
        }
    }
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
    /// The operator's plan this tenant is on: when set, the plan's
    /// features and limits apply and `features` and `limits` above are
    /// kept only for the day the tenant leaves the plan
    /// ([`crate::PlanRepo::entitlements`]).
    #[serde(default)]
    pub plan: Option<String>,
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
        if let Some(plan) = &tenant.plan
            && !self.t().plans.contains_key(plan.as_bytes())?
        {
            return Err(StoreError::invalid(
                "plan",
                format!("there is no plan {plan:?}"),
            ));
        }
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
            &t.file_bytes,
            &t.ledger,
            &t.ledger_ids,
            &t.accounts,
            &t.notices,
            &t.widgets,
            &t.plugin_canary,
            &t.transcript_policy,
            &t.transcripts,
            &t.dispositions,
            &t.wrap_ups,
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
