//! Ring groups and queues.

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_extension_field, validate_name, validate_tenant_id};
use crate::{Store, StoreError, get_json, list_json};

/// How a ring group rings its members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RingStrategy {
    /// All at once; the first to answer takes the call.
    #[default]
    Simultaneous,
    /// One after the other, in the listed order.
    Sequential,
}

impl RingStrategy {
    /// The name stored and shown: `simultaneous` or `sequential`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RingStrategy::Simultaneous => "simultaneous",
            RingStrategy::Sequential => "sequential",
        }
    }
}

impl std::fmt::Display for RingStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RingStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<RingStrategy, String> {
        match s {
            "simultaneous" => Ok(RingStrategy::Simultaneous),
            "sequential" => Ok(RingStrategy::Sequential),
            _ => Err(format!("{s:?} is not simultaneous or sequential")),
        }
    }
}

/// Extensions rung together or one after the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroup {
    pub tenant: String,
    pub name: String,
    /// Extension numbers.
    pub members: Vec<String>,
    pub strategy: RingStrategy,
    pub ring_timeout_secs: u32,
}

/// A call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub tenant: String,
    pub name: String,
    /// The queue-strategy plugin ordering agents; `None`: the default.
    pub strategy_plugin: Option<String>,
    pub agents: Vec<Agent>,
    pub max_waiting: u32,
    pub timeout_secs: u32,
    /// Music on hold: a prompt id.
    pub moh: Option<String>,
}

/// An agent of a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub extension: String,
    /// Skill name and level.
    pub skills: Vec<(String, u8)>,
    pub logged_in: bool,
}

pub trait RingGroupRepo {
    /// Create or replace; the tenant must exist.
    fn put_ring_group(&self, group: &RingGroup) -> Result<(), StoreError>;
    fn get_ring_group(&self, tenant: &str, name: &str) -> Result<Option<RingGroup>, StoreError>;
    fn list_ring_groups(&self, tenant: &str) -> Result<Vec<RingGroup>, StoreError>;
    fn delete_ring_group(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

pub trait QueueRepo {
    /// Create or replace; the tenant must exist.
    fn put_queue(&self, queue: &Queue) -> Result<(), StoreError>;
    fn get_queue(&self, tenant: &str, name: &str) -> Result<Option<Queue>, StoreError>;
    fn list_queues(&self, tenant: &str) -> Result<Vec<Queue>, StoreError>;
    fn delete_queue(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

impl RingGroupRepo for Store {
    fn put_ring_group(&self, g: &RingGroup) -> Result<(), StoreError> {
        validate_name("name", &g.name)?;
        for m in &g.members {
            validate_extension_field("members", m)?;
        }
        self.require_tenant(&g.tenant)?;
        let k = key(&[g.tenant.as_bytes(), g.name.as_bytes()]);
        self.put_durable(&self.t().ring_groups, k, g)
    }

    fn get_ring_group(&self, tenant: &str, name: &str) -> Result<Option<RingGroup>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().ring_groups,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_ring_groups(&self, tenant: &str) -> Result<Vec<RingGroup>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().ring_groups, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_ring_group(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(
            &self.t().ring_groups,
            key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }
}

impl QueueRepo for Store {
    fn put_queue(&self, q: &Queue) -> Result<(), StoreError> {
        validate_name("name", &q.name)?;
        if let Some(p) = &q.strategy_plugin {
            validate_name("strategy_plugin", p)?;
        }
        if let Some(m) = &q.moh {
            validate_name("moh", m)?;
        }
        for a in &q.agents {
            validate_extension_field("agents", &a.extension)?;
        }
        self.require_tenant(&q.tenant)?;
        let k = key(&[q.tenant.as_bytes(), q.name.as_bytes()]);
        self.put_durable(&self.t().queues, k, q)
    }

    fn get_queue(&self, tenant: &str, name: &str) -> Result<Option<Queue>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().queues,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_queues(&self, tenant: &str) -> Result<Vec<Queue>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().queues, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_queue(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(&self.t().queues, key(&[tenant.as_bytes(), name.as_bytes()]))
    }
}
