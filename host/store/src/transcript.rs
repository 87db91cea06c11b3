//! Call-flow transcripts a tenant chose to keep (replay before activation):
//! the policy, and each call's recorded decisions per plugin.
//!
//! The store does not read a transcript's steps: it keeps each as the JSON
//! the plugin runtime wrote, under `tenant \0 started (16 hex) \0 call \0
//! plugin`, so a tenant's transcripts are in call order and bounded by
//! count and age in one scan. Steps are written on the call's path, so
//! they are not flushed one by one: sled's background flush (every
//! 500 ms) keeps them, and a crash loses at most the steps of that moment.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys::{prefix, validate_tenant_id};
use crate::{Store, StoreError, get_json};

/// Most calls a tenant may keep transcripts of.
pub const MAX_TRANSCRIPT_CALLS: u32 = 5000;
/// Longest a tenant may keep a transcript, hours (30 days).
pub const MAX_TRANSCRIPT_AGE_HOURS: u32 = 720;
/// Decisions kept of one call's plugin; a flow looping for hours keeps
/// its first ones.
pub const MAX_TRANSCRIPT_STEPS: usize = 200;

/// Whether a tenant keeps transcripts, and how many for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptPolicy {
    pub enabled: bool,
    /// Calls kept (the oldest go first), 1 to 5000.
    pub max_calls: u32,
    /// Hours a call's transcript is kept, 1 to 720.
    pub max_age_hours: u32,
}

impl Default for TranscriptPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            max_calls: 500,
            max_age_hours: 7 * 24,
        }
    }
}

/// One call's recorded decisions of one plugin: `call_id`, `plugin`,
/// `started_ms` and `steps` (the runtime's JSON, oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTranscript {
    pub call_id: String,
    pub plugin: String,
    pub started_ms: u64,
    pub steps: Vec<Value>,
}

pub trait TranscriptRepo {
    /// The tenant's policy (never set: off).
    fn transcript_policy(&self, tenant: &str) -> Result<TranscriptPolicy, StoreError>;
    /// Set the policy; turning it off deletes what was kept.
    fn set_transcript_policy(
        &self,
        tenant: &str,
        policy: &TranscriptPolicy,
    ) -> Result<(), StoreError>;
    /// Appends one decision to the transcript of (`call_id`, `plugin`),
    /// and, when that starts a new transcript, drops those past the
    /// policy's count and age.
    fn append_transcript_step(
        &self,
        tenant: &str,
        policy: &TranscriptPolicy,
        call: (&str, u64),
        plugin: &str,
        step: Value,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// The tenant's most recent transcripts of `plugin` (all plugins when
    /// `None`), newest first, at most `limit`, none older than the policy.
    fn recent_transcripts(
        &self,
        tenant: &str,
        plugin: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<StoredTranscript>, StoreError>;
}

fn transcript_key(tenant: &str, started_ms: u64, call_id: &str, plugin: &str) -> Vec<u8> {
    let started = format!("{started_ms:016x}");
    let mut k = prefix(&[tenant.as_bytes(), started.as_bytes(), call_id.as_bytes()]);
    k.extend_from_slice(plugin.as_bytes());
    k
}

/// The call start encoded in a transcript key (after the tenant's prefix).
fn started_of(key: &[u8], tenant_prefix: &[u8]) -> u64 {
    key.get(tenant_prefix.len()..tenant_prefix.len() + 16)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

fn oldest_kept(policy: &TranscriptPolicy, now_ms: u64) -> u64 {
    now_ms.saturating_sub(u64::from(policy.max_age_hours) * 3_600_000)
}

impl TranscriptRepo for Store {
    fn transcript_policy(&self, tenant: &str) -> Result<TranscriptPolicy, StoreError> {
        validate_tenant_id(tenant)?;
        Ok(
            get_json(&self.t().transcript_policy, &prefix(&[tenant.as_bytes()]))?
                .unwrap_or_default(),
        )
    }

    fn set_transcript_policy(
        &self,
        tenant: &str,
        policy: &TranscriptPolicy,
    ) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        if !(1..=MAX_TRANSCRIPT_CALLS).contains(&policy.max_calls) {
            return Err(StoreError::invalid(
                "max_calls",
                format!("must be 1 to {MAX_TRANSCRIPT_CALLS}"),
            ));
        }
        if !(1..=MAX_TRANSCRIPT_AGE_HOURS).contains(&policy.max_age_hours) {
            return Err(StoreError::invalid(
                "max_age_hours",
                format!("must be 1 to {MAX_TRANSCRIPT_AGE_HOURS}"),
            ));
        }
        self.require_tenant(tenant)?;
        let p = prefix(&[tenant.as_bytes()]);
        if !policy.enabled {
            crate::sweep(&self.t().transcripts, &p)?;
        }
        // Keyed `tenant \0`: the tenant sweep removes both.
        self.put_durable(&self.t().transcript_policy, p, policy)
    }

    fn append_transcript_step(
        &self,
        tenant: &str,
        policy: &TranscriptPolicy,
        (call_id, started_ms): (&str, u64),
        plugin: &str,
        step: Value,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        let tree = &self.t().transcripts;
        let key = transcript_key(tenant, started_ms, call_id, plugin);
        let mut t: StoredTranscript = match get_json(tree, &key)? {
            Some(t) => t,
            None => {
                self.prune_transcripts(tenant, policy, now_ms)?;
                StoredTranscript {
                    call_id: call_id.to_string(),
                    plugin: plugin.to_string(),
                    started_ms,
                    steps: Vec::new(),
                }
            }
        };
        if t.steps.len() >= MAX_TRANSCRIPT_STEPS {
            return Ok(());
        }
        t.steps.push(step);
        tree.insert(key, crate::encode(&t))?;
        Ok(())
    }

    fn recent_transcripts(
        &self,
        tenant: &str,
        plugin: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<StoredTranscript>, StoreError> {
        validate_tenant_id(tenant)?;
        let policy = self.transcript_policy(tenant)?;
        let oldest = oldest_kept(&policy, now_ms);
        let p = prefix(&[tenant.as_bytes()]);
        let mut out = Vec::new();
        for kv in self.t().transcripts.scan_prefix(&p).rev() {
            let (k, v) = kv?;
            if out.len() >= limit || started_of(&k, &p) < oldest {
                break;
            }
            let t: StoredTranscript = crate::decode(&v)?;
            if plugin.is_none_or(|name| t.plugin == name) {
                out.push(t);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Drops the tenant's transcripts older than the policy allows, and the
    /// oldest past its count, leaving room for one more.
    fn prune_transcripts(
        &self,
        tenant: &str,
        policy: &TranscriptPolicy,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let tree = &self.t().transcripts;
        let p = prefix(&[tenant.as_bytes()]);
        let oldest = oldest_kept(policy, now_ms);
        let keys: Vec<sled::IVec> = tree.scan_prefix(&p).keys().collect::<Result<_, _>>()?;
        let room = (policy.max_calls as usize).saturating_sub(1);
        let excess = keys.len().saturating_sub(room);
        let mut batch = sled::Batch::default();
        for (i, k) in keys.iter().enumerate() {
            if i < excess || started_of(k, &p) < oldest {
                batch.remove(k.clone());
            } else {
                break;
            }
        }
        tree.apply_batch(batch)?;
        Ok(())
    }
}
