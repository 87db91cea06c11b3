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

/// How many agents ring at once for one caller (the engine's
/// `switchyard_acd::RingMode`). JSON: `"one-at-a-time"`, `"all"`,
/// `{"first-n": 3}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingMode {
    /// One agent at a time, in the strategy's order.
    #[default]
    OneAtATime,
    /// Every eligible agent at once.
    All,
    /// Up to this many at once (at least 1).
    FirstN(u32),
}

/// Whether a caller may join a queue where nobody could answer
/// (`switchyard_acd::JoinEmpty`). JSON: `"wait"` or `"never"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JoinEmpty {
    /// Join anyway and wait for a login (or the timeout).
    #[default]
    Wait,
    /// Refused when no member is logged in and unpaused.
    Never,
}

/// A call queue.
///
/// The contact-centre settings (from `ring_mode` on) were added after the
/// first queues were stored: each has a serde default, so a record
/// without them loads with the defaults of [`Queue::new`].
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
    #[serde(default)]
    pub ring_mode: RingMode,
    /// Seconds one agent's phone rings before the offer moves on (15).
    #[serde(default = "d_ring_timeout")]
    pub ring_timeout_secs: u32,
    /// After-call work after each queue call, in seconds (10).
    #[serde(default = "d_wrap_up")]
    pub wrap_up_secs: u32,
    /// Answered (or abandoned) within this many seconds counts for SL and
    /// SL2 (20).
    #[serde(default = "d_service_level")]
    pub service_level_secs: u32,
    /// Announce position and estimated wait this often; `None`: never.
    #[serde(default)]
    pub announce_every_secs: Option<u32>,
    /// Play `comfort_prompt` this often; `None`: never.
    #[serde(default)]
    pub comfort_every_secs: Option<u32>,
    /// The comfort message: a prompt name.
    #[serde(default)]
    pub comfort_prompt: Option<String>,
    /// Played to the agent who answers, before the caller is connected
    /// (a prompt name, e.g. the queue's name spoken); a VIP caller's
    /// whisper also says "VIP caller".
    #[serde(default)]
    pub whisper_prompt: Option<String>,
    /// Unanswered offers in a row after which an agent is paused with
    /// reason `no-answer` (2); 0 turns auto-pause off.
    #[serde(default = "d_auto_pause")]
    pub auto_pause_after: u32,
    /// The digit (`0`-`9`, `*`, `#`) with which a caller asks to be called
    /// back; `None`: no callbacks.
    #[serde(default)]
    pub callback_key: Option<char>,
    /// The digit with which a caller leaves the queue; `None`: no key.
    #[serde(default)]
    pub leave_key: Option<char>,
    #[serde(default)]
    pub join_empty: JoinEmpty,
    /// When the last member logs out, waiting callers leave (false).
    #[serde(default)]
    pub leave_when_empty: bool,
    /// Seconds between callback attempts the customer did not answer (300).
    #[serde(default = "d_callback_retry")]
    pub callback_retry_secs: u32,
    /// Callback attempts at most (3).
    #[serde(default = "d_callback_attempts")]
    pub callback_max_attempts: u32,
    /// A caller who hangs up after waiting this many seconds is called
    /// back automatically and keeps the place; `None`: off.
    #[serde(default)]
    pub callback_on_abandon_secs: Option<u32>,
    /// The number agents blind-transfer a caller to (REFER from a phone)
    /// to put them into this queue; `None`: none.
    #[serde(default)]
    pub extension: Option<String>,
}

fn d_ring_timeout() -> u32 {
    15
}
fn d_wrap_up() -> u32 {
    10
}
fn d_service_level() -> u32 {
    20
}
fn d_auto_pause() -> u32 {
    2
}
fn d_callback_retry() -> u32 {
    300
}
fn d_callback_attempts() -> u32 {
    3
}

impl Queue {
    /// A queue with no agents and the defaults: 20 callers at most, 300 s
    /// timeout, no music on hold, one agent at a time, 15 s ring, 10 s
    /// wrap-up, 20 s service level, no announcements or comfort message,
    /// auto-pause after 2 unanswered offers, no callback or leave key,
    /// callers join an empty queue and stay, callbacks retried every 300 s
    /// up to 3 times.
    pub fn new(tenant: impl Into<String>, name: impl Into<String>) -> Queue {
        Queue {
            tenant: tenant.into(),
            name: name.into(),
            strategy_plugin: None,
            agents: Vec::new(),
            max_waiting: 20,
            timeout_secs: 300,
            moh: None,
            ring_mode: RingMode::default(),
            ring_timeout_secs: d_ring_timeout(),
            wrap_up_secs: d_wrap_up(),
            service_level_secs: d_service_level(),
            announce_every_secs: None,
            comfort_every_secs: None,
            comfort_prompt: None,
            whisper_prompt: None,
            auto_pause_after: d_auto_pause(),
            callback_key: None,
            leave_key: None,
            join_empty: JoinEmpty::default(),
            leave_when_empty: false,
            callback_retry_secs: d_callback_retry(),
            callback_max_attempts: d_callback_attempts(),
            callback_on_abandon_secs: None,
            extension: None,
        }
    }
}

/// An agent of a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub extension: String,
    /// Skill name and level.
    pub skills: Vec<(String, u8)>,
    pub logged_in: bool,
    /// Lower is tried first by the default ordering (0).
    #[serde(default)]
    pub penalty: u32,
}

/// Whether `c` may be a queue key: a DTMF digit `0`-`9`, `*` or `#`.
pub fn is_queue_key(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

/// The rules of a queue's contact-centre settings, each refusal naming
/// its field.
fn validate_queue_settings(q: &Queue) -> Result<(), StoreError> {
    let at_least_1 = |field: &'static str, v: u32| {
        if v == 0 {
            Err(StoreError::invalid(field, "must be at least 1"))
        } else {
            Ok(())
        }
    };
    if q.ring_mode == RingMode::FirstN(0) {
        return Err(StoreError::invalid(
            "ring_mode",
            "first-n needs n of at least 1",
        ));
    }
    at_least_1("ring_timeout_secs", q.ring_timeout_secs)?;
    if let Some(e) = &q.extension {
        crate::keys::validate_extension_field("extension", e)?;
    }
    at_least_1("callback_retry_secs", q.callback_retry_secs)?;
    at_least_1("callback_max_attempts", q.callback_max_attempts)?;
    for (field, every) in [
        ("announce_every_secs", q.announce_every_secs),
        ("comfort_every_secs", q.comfort_every_secs),
        ("callback_on_abandon_secs", q.callback_on_abandon_secs),
    ] {
        if every == Some(0) {
            return Err(StoreError::invalid(
                field,
                "must be at least 1 (leave it out to turn it off)",
            ));
        }
    }
    for (field, key) in [("callback_key", q.callback_key), ("leave_key", q.leave_key)] {
        if let Some(k) = key
            && !is_queue_key(k)
        {
            return Err(StoreError::invalid(
                field,
                format!("{k:?} is not a key: one of 0-9, * or #"),
            ));
        }
    }
    if q.callback_key.is_some() && q.callback_key == q.leave_key {
        return Err(StoreError::invalid(
            "leave_key",
            "is the same key as callback_key; a key can do one thing",
        ));
    }
    if let Some(p) = &q.whisper_prompt {
        validate_name("whisper_prompt", p)?;
    }
    if let Some(p) = &q.comfort_prompt {
        validate_name("comfort_prompt", p)?;
    }
    Ok(())
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
        validate_queue_settings(q)?;
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
