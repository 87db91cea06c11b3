//! What the contact centre keeps between runs: the queue log (the source
//! of every report), callback placeholders (callers' kept places) and the
//! agents' login/pause state.
//!
//! Queue log key: `tenant \0 at_ms (u64 big-endian) seq (u64 big-endian)`,
//! where `seq` is sled's monotonic id generator: a tenant's events sort by
//! time, and events of the same millisecond keep the order in which they
//! were appended (within a batch and across batches). A time window is a
//! key range.

use serde::{Deserialize, Serialize};
use switchyard_acd::{Placeholder, QueueEvent};

use crate::keys::{key, prefix, validate_extension, validate_name, validate_tenant_id};
use crate::{Store, StoreError, decode, encode, get_json, list_json};

/// An agent's persisted state: logged in or not, and the pause reason
/// when paused. What a restart restores (the rest of the agent state is
/// live: ringing, on a call, wrap-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateRecord {
    pub logged_in: bool,
    /// The pause reason, when paused.
    pub paused: Option<String>,
}

pub trait QueueLogRepo {
    /// Append events to the tenant's queue log; on disk (one flush for the
    /// whole batch) when this returns. The tenant must exist.
    fn append_queue_events(&self, tenant: &str, events: &[QueueEvent]) -> Result<(), StoreError>;
    /// The tenant's events with `from_ms <= at_ms < to_ms`, oldest first
    /// (same-millisecond events in the order appended).
    fn queue_events(
        &self,
        tenant: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<QueueEvent>, StoreError>;
}

pub trait CallbackRepo {
    /// Store (or replace) the placeholder of `p.call`; the tenant must
    /// exist.
    fn put_callback(&self, tenant: &str, p: &Placeholder) -> Result<(), StoreError>;
    /// Whether it existed.
    fn delete_callback(&self, tenant: &str, call: &str) -> Result<bool, StoreError>;
    /// The tenant's placeholders, by call id.
    fn list_callbacks(&self, tenant: &str) -> Result<Vec<Placeholder>, StoreError>;
}

pub trait AgentStateRepo {
    /// Record agent `extension`'s state; the tenant must exist.
    fn put_agent_state(
        &self,
        tenant: &str,
        extension: &str,
        state: &AgentStateRecord,
    ) -> Result<(), StoreError>;
    fn get_agent_state(
        &self,
        tenant: &str,
        extension: &str,
    ) -> Result<Option<AgentStateRecord>, StoreError>;
    /// Every recorded agent of the tenant, by extension.
    fn list_agent_states(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, AgentStateRecord)>, StoreError>;
}

fn log_key(tenant: &str, at_ms: u64, seq: u64) -> Vec<u8> {
    let mut k = prefix(&[tenant.as_bytes()]);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl QueueLogRepo for Store {
    fn append_queue_events(&self, tenant: &str, events: &[QueueEvent]) -> Result<(), StoreError> {
        self.require_tenant(tenant)?;
        if events.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for e in events {
            let seq = self.inner.db.generate_id()?;
            batch.insert(log_key(tenant, e.at_ms, seq), encode(e));
        }
        self.t().queue_log.apply_batch(batch)?;
        self.durable()
    }

    fn queue_events(
        &self,
        tenant: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        validate_tenant_id(tenant)?;
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let lo = log_key(tenant, from_ms, 0);
        let hi = log_key(tenant, to_ms, 0);
        self.t()
            .queue_log
            .range(lo..hi)
            .map(|kv| decode(&kv?.1))
            .collect()
    }
}

impl CallbackRepo for Store {
    fn put_callback(&self, tenant: &str, p: &Placeholder) -> Result<(), StoreError> {
        validate_name("call", &p.call)?;
        self.require_tenant(tenant)?;
        let k = key(&[tenant.as_bytes(), p.call.as_bytes()]);
        self.put_durable(&self.t().callbacks, k, p)
    }

    fn delete_callback(&self, tenant: &str, call: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("call", call)?;
        self.delete_durable(
            &self.t().callbacks,
            key(&[tenant.as_bytes(), call.as_bytes()]),
        )
    }

    fn list_callbacks(&self, tenant: &str) -> Result<Vec<Placeholder>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().callbacks, &prefix(&[tenant.as_bytes()]))
    }
}

impl AgentStateRepo for Store {
    fn put_agent_state(
        &self,
        tenant: &str,
        extension: &str,
        state: &AgentStateRecord,
    ) -> Result<(), StoreError> {
        validate_extension(extension)?;
        if let Some(r) = &state.paused {
            crate::keys::validate_text("paused", r, 64)?;
        }
        self.require_tenant(tenant)?;
        let k = key(&[tenant.as_bytes(), extension.as_bytes()]);
        self.put_durable(&self.t().agent_states, k, state)
    }

    fn get_agent_state(
        &self,
        tenant: &str,
        extension: &str,
    ) -> Result<Option<AgentStateRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().agent_states,
            &key(&[tenant.as_bytes(), extension.as_bytes()]),
        )
    }

    fn list_agent_states(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, AgentStateRecord)>, StoreError> {
        validate_tenant_id(tenant)?;
        let p = prefix(&[tenant.as_bytes()]);
        self.t()
            .agent_states
            .scan_prefix(&p)
            .map(|kv| {
                let (k, v) = kv?;
                let ext = String::from_utf8_lossy(&k[p.len()..]).into_owned();
                Ok((ext, decode(&v)?))
            })
            .collect()
    }
}
