//! Switchyard's embedded store, on sled 0.34.
//!
//! # Layout
//!
//! [`Store::open`]`(dir)` keeps the database in `<dir>/db` and blobs under
//! `<dir>/files/`:
//! * `<dir>/files/plugins/<sha256>.wasm`: plugin components,
//!   content-addressed (the same bytes uploaded twice are stored once);
//! * `<dir>/files/<kind>/<tenant>/<id>`: prompts, recordings and voicemails
//!   (`kind` is `prompt`, `recording` or `voicemail`).
//!
//! Every entity has its own sled tree. Keys are tenant-prefixed,
//! `tenant \0 id`, and no validated identifier contains NUL, so a prefix
//! scan of `tenant \0` lists one tenant's records and nothing else (even
//! when one tenant id is a prefix of another, as `acme` and `acme-2`).
//! Values are JSON (serde_json). Global indexes map a SIP domain, a DID or
//! an API key id to its tenant; they are updated in the same sled
//! transaction as the record they index.
//!
//! # Repositories
//!
//! The repositories are traits owned by this crate ([`TenantRepo`],
//! [`ExtensionRepo`], [`RegistrationRepo`], [`NumberRepo`], [`TrunkRepo`],
//! [`RingGroupRepo`], [`QueueRepo`], [`ScheduleRepo`], [`CdrRepo`],
//! [`PluginRepo`], [`ApiKeyRepo`], [`FileRepo`], [`PlanRepo`], and for the contact
//! centre [`QueueLogRepo`], [`CallbackRepo`], [`AgentStateRepo`]) so that
//! a distributed backend can be added later; [`Store`] implements them all
//! on sled.
//!
//! # Durability: what is flushed when
//!
//! * **Configuration** (tenants, extensions, numbers, trunks, ring groups,
//!   queues, schedules, plugin versions/activation/roles, API keys, files),
//!   **call records**, the **queue log** (one flush per appended batch),
//!   **callback placeholders** and **agents' login/pause state**: every
//!   write returns only after a `db.flush()` (an fsync) that started after it has finished; writers at the same
//!   moment share one flush (group commit, `group_commit.rs`). Blobs are
//!   written to a temporary file, fsync'd, renamed into place and the
//!   directory fsync'd, before their record is written. A write that
//!   returned `Ok` survives a crash of the process right after.
//! * **Registration bindings**: written at once but not flushed per write.
//!   sled flushes every 500 ms (`flush_every_ms(Some(500))`), and
//!   [`Store::close`] / dropping the last handle flushes. A crash can lose
//!   the last half second of registrations; phones refresh them anyway,
//!   and registrations are the hot write path.
//!
//! # Secrets
//!
//! SIP passwords of extensions are never stored: only the digest HA1
//! hashes, computed by the caller. API key tokens are stored as their
//! SHA-256 only. Trunk passwords **are** stored as given, because the host
//! has to answer the carrier's digest challenge with them; protect the data
//! directory accordingly.
//!
//! # Schema
//!
//! The `meta` tree holds `schema_version`; see [`schema`] for migrations.

mod apikey;
mod billing;
mod caller_rules;
mod catalogue;
mod cdr;
mod conference;
mod contact_centre;
mod error;
mod extension;
mod file;
mod group_commit;
mod groups;
mod keys;
mod notices;
mod number;
mod plan;
mod plugin;
mod registration;
mod schedule;
pub mod schema;
mod tenant;
mod transcript;
mod trunk;
mod widget;
mod wrap_up;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use apikey::{ApiKey, ApiKeyRepo, Role};
pub use billing::{
    Account, BillingRepo, CallSide, Increment, LedgerEntry, MinuteRate, MinutesLine, Posted,
    Posting, RateCard, Rated, UsageSummary, summarize,
};
pub use caller_rules::{CallerAction, CallerRule, CallerRuleRepo, extension_admits, rule_for};
pub use catalogue::{CatalogueEntry, CatalogueRepo};
pub use cdr::{
    Cdr, CdrFilter, CdrLeg, CdrMonitor, CdrPage, CdrRepo, Disposition, cdrs_to_csv, push_csv_row,
};
pub use conference::{ConferenceRepo, ConferenceRoom};
pub use contact_centre::{AgentStateRecord, AgentStateRepo, CallbackRepo, QueueLogRepo};
pub use error::StoreError;
pub use extension::{Extension, ExtensionRepo};
pub use file::{FILE_KINDS, FileRecord, FileRepo};
pub use groups::{
    Agent, JoinEmpty, Queue, QueueRepo, RingGroup, RingGroupRepo, RingMode, RingStrategy,
    is_queue_key,
};
pub use keys::{SRTP_POLICIES, validate_extension, validate_number, validate_tenant_id};
pub use notices::{MAX_NOTICE_ADDRESSES, NoticeRepo, TenantNotices};
pub use number::{Number, NumberRepo};
pub use plan::{Entitlements, Plan, PlanRepo, default_grace};
pub use plugin::{CanaryRecord, PluginRepo, PluginVersionRecord};
pub use registration::{Binding, RegistrationRepo};
pub use schedule::{Holiday, Schedule, ScheduleRepo, validate_schedule};
pub use schema::{CURRENT_SCHEMA, Migration};
pub use tenant::{
    BASIC_FLOW, Feature, Features, Tenant, TenantQuota, TenantRepo, default_pause_reasons,
};
pub use transcript::{
    MAX_TRANSCRIPT_AGE_HOURS, MAX_TRANSCRIPT_CALLS, MAX_TRANSCRIPT_STEPS, StoredTranscript,
    TranscriptPolicy, TranscriptRepo,
};
pub use trunk::{Trunk, TrunkRepo, addresses_overlap};
pub use widget::{MAX_WIDGET_ORIGINS, Widget, WidgetRepo, validate_origin};
pub use wrap_up::{MAX_DISPOSITION_CODES, MAX_NOTES, WrapUp, WrapUpRepo, default_dispositions};

/// The sled store. Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    t: Trees,
    /// Durable writes share their flushes.
    commits: group_commit::GroupCommit<sled::Error>,
    /// Held across a trunk's check-then-write: inbound addresses are
    /// unique across tenants, and sled transactions cannot scan.
    trunk_writes: std::sync::Mutex<()>,
}

/// One tree per entity, plus the global indexes.
struct Trees {
    tenants: sled::Tree,
    /// lower-case domain → tenant id.
    domains: sled::Tree,
    extensions: sled::Tree,
    bindings: sled::Tree,
    numbers: sled::Tree,
    /// DID (`+…`) → tenant id.
    dids: sled::Tree,
    trunks: sled::Tree,
    ring_groups: sled::Tree,
    queues: sled::Tree,
    schedules: sled::Tree,
    cdrs: sled::Tree,
    plugin_versions: sled::Tree,
    plugin_active: sled::Tree,
    plugin_roles: sled::Tree,
    api_keys: sled::Tree,
    /// API key id → tenant id.
    api_key_ids: sled::Tree,
    files: sled::Tree,
    /// The contact centre's queue log: `tenant \0 at_ms \0 seq`.
    queue_log: sled::Tree,
    /// Callback placeholders: `tenant \0 call`.
    callbacks: sled::Tree,
    /// Agents' login and pause state: `tenant \0 extension`.
    agent_states: sled::Tree,
    /// Conference rooms: `tenant \0 name`.
    conferences: sled::Tree,
    caller_rules: sled::Tree,
    /// The operator's plans, by name.
    plans: sled::Tree,
    /// Bytes of files per `tenant \0 kind` ([`FileRepo::stored_bytes`]).
    file_bytes: sled::Tree,
    /// Each tenant's account: `tenant`.
    accounts: sled::Tree,
    /// Each tenant's charges and top-ups: `tenant \0 at_ms \0 id`.
    ledger: sled::Tree,
    /// Ledger line ids: `tenant \0 id` → at_ms (a posting is made once).
    ledger_ids: sled::Tree,
    /// Each tenant's notice addresses: `tenant \0`.
    notices: sled::Tree,
    /// Web widgets: `tenant \0 name`.
    widgets: sled::Tree,
    /// Plugins' canary releases: `tenant \0 name`.
    plugin_canary: sled::Tree,
    transcript_policy: sled::Tree,
    transcripts: sled::Tree,
    dispositions: sled::Tree,
    wrap_ups: sled::Tree,
    /// The operator's catalogue: `name \0 version`.
    catalogue: sled::Tree,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is going: write out what the periodic flush has
        // not yet (registrations). Nothing to report an error to here.
        let _ = self.db.flush();
    }
}

impl Store {
    /// Open (or create) the store in `dir`: the database in `<dir>/db`,
    /// blobs in `<dir>/files/`. Runs the schema migrations; refuses a store
    /// written by a newer schema ([`StoreError::SchemaTooNew`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(dir.join("files"))?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .flush_every_ms(Some(500))
            .open()?;
        schema::migrate(&db, CURRENT_SCHEMA, schema::MIGRATIONS)?;
        let t = Trees {
            tenants: db.open_tree("tenants")?,
            domains: db.open_tree("domains")?,
            extensions: db.open_tree("extensions")?,
            bindings: db.open_tree("bindings")?,
            numbers: db.open_tree("numbers")?,
            dids: db.open_tree("dids")?,
            trunks: db.open_tree("trunks")?,
            ring_groups: db.open_tree("ring_groups")?,
            schedules: db.open_tree("schedules")?,
            queues: db.open_tree("queues")?,
            cdrs: db.open_tree("cdrs")?,
            plugin_versions: db.open_tree("plugin_versions")?,
            plugin_active: db.open_tree("plugin_active")?,
            plugin_roles: db.open_tree("plugin_roles")?,
            api_keys: db.open_tree("api_keys")?,
            api_key_ids: db.open_tree("api_key_ids")?,
            files: db.open_tree("files")?,
            queue_log: db.open_tree("queue_log")?,
            callbacks: db.open_tree("callbacks")?,
            agent_states: db.open_tree("agent_states")?,
            conferences: db.open_tree("conferences")?,
            caller_rules: db.open_tree("caller_rules")?,
            plans: db.open_tree("plans")?,
            file_bytes: db.open_tree("file_bytes")?,
            accounts: db.open_tree("accounts")?,
            ledger: db.open_tree("ledger")?,
            ledger_ids: db.open_tree("ledger_ids")?,
            notices: db.open_tree("notices")?,
            widgets: db.open_tree("widgets")?,
            plugin_canary: db.open_tree("plugin_canary")?,
            transcript_policy: db.open_tree("transcript_policy")?,
            transcripts: db.open_tree("transcripts")?,
            dispositions: db.open_tree("dispositions")?,
            wrap_ups: db.open_tree("wrap_ups")?,
            catalogue: db.open_tree("catalogue")?,
        };
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db,
                t,
                commits: Default::default(),
                trunk_writes: Default::default(),
            }),
        })
    }

    /// Flush everything (registrations included) and drop this handle.
    /// Other clones stay usable.
    pub fn close(self) -> Result<(), StoreError> {
        self.flush()
    }

    /// Flush everything written so far to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// The data directory this store was opened on.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn t(&self) -> &Trees {
        &self.inner.t
    }

    fn files_dir(&self) -> PathBuf {
        self.inner.dir.join("files")
    }

    /// Return once everything this thread wrote is on disk; concurrent
    /// writers share the flush ([`group_commit`]).
    fn durable(&self) -> Result<(), StoreError> {
        self.inner
            .commits
            .commit(|| self.inner.db.flush().map(|_| ()))?;
        Ok(())
    }

    /// Insert a record and flush.
    fn put_durable<T: Serialize>(
        &self,
        tree: &sled::Tree,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError> {
        tree.insert(key, encode(value))?;
        self.durable()
    }

    /// Remove a record and flush; whether it existed.
    fn delete_durable(&self, tree: &sled::Tree, key: Vec<u8>) -> Result<bool, StoreError> {
        let existed = tree.remove(key)?.is_some();
        self.durable()?;
        Ok(existed)
    }

    /// Fail with `NotFound` unless `tenant` exists: configuration is only
    /// written for known tenants, so nothing is left orphaned.
    fn require_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        keys::validate_tenant_id(tenant)?;
        if self.t().tenants.contains_key(tenant.as_bytes())? {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("tenant {tenant}")))
        }
    }
}

fn get_json<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|v| decode(&v)).transpose()
}

fn list_json<T: DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
    tree.scan_prefix(prefix).map(|kv| decode(&kv?.1)).collect()
}

fn all_json<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter().map(|kv| decode(&kv?.1)).collect()
}

/// Remove every key under `prefix` in one atomic batch; how many.
fn sweep(tree: &sled::Tree, prefix: &[u8]) -> Result<usize, StoreError> {
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for kv in tree.scan_prefix(prefix) {
        batch.remove(kv?.0);
        n += 1;
    }
    tree.apply_batch(batch)?;
    Ok(n)
}

fn decode<T: DeserializeOwned>(v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // The records are plain structs of strings, numbers and maps with
    // string keys: serialising them cannot fail.
    serde_json::to_vec(v).expect("records serialise to JSON")
}

/// Write `bytes` to `path` so that a crash leaves either the old file or
/// the complete new one: temporary file in the same directory, fsync,
/// rename, fsync of the directory.
fn write_file_durable(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().expect("blob paths have a parent");
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .expect("blob paths have a file name")
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::Store;

    #[test]
    fn store_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Store>();
    }
}
