//! Operator-level host configuration and per-tenant limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the whole plugin host is sized. One per process.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Component instances that may be alive at once across all tenants
    /// (the pooling allocator reserves this many slots).
    pub max_instances: u32,
    /// Largest linear memory any plugin may have; each tenant's
    /// [`TenantLimits::memory_bytes`] is capped by it.
    pub max_memory_bytes: usize,
    /// Largest table any plugin may have, in elements.
    pub max_table_elements: usize,
    /// Largest component upload accepted by [`crate::PluginHost::load`]
    /// (and the API's upload body cap). 32 MiB by default: a Rust plugin
    /// is a few hundred KiB, but a Python one carries its interpreter
    /// (componentize-py 0.25: 18.6 MB for `examples/crm-connector-py`).
    pub max_component_bytes: usize,
    /// Bytes at the bottom of each linear memory slot that are reset with
    /// `memset` and stay resident between instances, instead of being
    /// returned with `madvise`. Measured on the bench (2 cores, echo-flow):
    /// p50 24 µs → 11 µs, and 2-thread throughput no longer collapses from
    /// TLB shootdowns. Costs up to this much resident memory per warm slot.
    pub keep_resident_bytes: usize,
    /// Idle pool slots kept warm (their module's image mapped, up to
    /// `keep_resident_bytes` of memory plus 128 KiB of table and stack
    /// resident). Bounds idle plugin memory — the pool's floor — at about
    /// `max_warm_slots × (keep_resident_bytes + 128 KiB)`; a plugin that
    /// finds no warm slot of its own maps its image afresh (microseconds).
    pub max_warm_slots: u32,
    /// Components whose linear memory starts at this many bytes or more
    /// (those that carry an interpreter: Python, JavaScript) run in a pool
    /// of their own that keeps a used slot's whole memory resident (see
    /// [`crate::Pool::Large`]); smaller ones in the pool described above.
    pub large_memory_bytes: usize,
    /// Slots of that pool: large components' instances alive at once.
    pub max_large_instances: u32,
    /// Bytes of each large slot's memory copied back from the image and
    /// kept resident when an instance ends; past it, given back. Python's
    /// memory starts at 12.4 MiB, JavaScript's at 9.1 MiB.
    pub large_keep_resident_bytes: usize,
    /// Idle large slots kept warm: with `large_keep_resident_bytes`, bounds
    /// the memory large components hold when nothing runs.
    pub max_large_warm_slots: u32,
    /// Write `/tmp/perf-<pid>.map` as components are compiled or loaded, so
    /// that `perf report` names a plugin's own functions (for profiling;
    /// off by default).
    pub perf_map: bool,
    /// Agent-ranking instances kept between decisions, host-wide (see
    /// `warm.rs`: one per queue-strategy plugin version at most; each
    /// holds a slot of the pool). 0 instantiates every decision afresh.
    pub max_warm_instances: u32,
    /// Call-flow and CRM instances made ahead of the decision or look-up
    /// that will use them, host-wide (see `spare.rs`: a few per version in
    /// use, never used before; each holds a slot of the pool). At most
    /// an eighth of each pool (`max_instances`, `max_large_instances`) is
    /// used. 0 instantiates and drops every
    /// decision's instance on its own path.
    pub max_spare_instances: u32,
    /// A version that no decision has wanted a spare of for this long
    /// gives its spares back when another version needs their places.
    pub spare_idle: Duration,
    /// A ranking instance whose linear memory has grown past this is not
    /// kept. With `max_warm_instances`, bounds what idle rankers hold.
    pub warm_instance_memory_bytes: usize,
    /// Period of the epoch ticker: the unit of CPU accounting.
    pub epoch_tick: Duration,
    /// Directory for compiled components (written and read by this host
    /// only); `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// The sled database holding plugin key-value data; `None` opens a
    /// temporary one (deleted when the host is dropped).
    pub kv_db: Option<sled::Db>,
    /// Operator rules for outbound HTTP.
    pub http: HttpPolicyConfig,
    /// The operator's e-mail relay for reporter plugins' `mail`; `None`:
    /// every `send` is `not-configured`. Here rather than in
    /// [`crate::TenantSettings`] because it is the operator's, one per
    /// process like the HTTP policy: the relay keeps each tenant's hourly
    /// share itself (the runtime names the tenant at every send), and no
    /// place that makes a tenant runtime can forget to pass it on.
    pub mail: Option<Arc<dyn crate::caps::mail::MailRelay>>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            max_instances: 256,
            max_memory_bytes: 64 << 20,
            max_table_elements: 20_000,
            max_component_bytes: 32 << 20,
            keep_resident_bytes: 2 << 20,
            max_warm_slots: 16,
            large_memory_bytes: 4 << 20,
            max_large_instances: 64,
            large_keep_resident_bytes: 16 << 20,
            max_large_warm_slots: 4,
            perf_map: false,
            max_warm_instances: 32,
            max_spare_instances: 64,
            spare_idle: Duration::from_secs(10),
            warm_instance_memory_bytes: 4 << 20,
            epoch_tick: Duration::from_millis(1),
            cache_dir: None,
            kv_db: None,
            http: HttpPolicyConfig::default(),
            mail: None,
        }
    }
}

/// Operator rules for outbound HTTP from crm-connector and reporter plugins.
#[derive(Clone, Debug)]
pub struct HttpPolicyConfig {
    /// Allow private, loopback, link-local and unspecified destination
    /// addresses. Off in production; tests against a local server turn it on.
    pub allow_private_addresses: bool,
    /// Upper bound for the connect timeout (also the default).
    pub connect_timeout: Duration,
    /// Upper bound for the time to the first response byte (also the default).
    pub first_byte_timeout: Duration,
    /// Upper bound for the gap between response body frames (also the default).
    pub between_bytes_timeout: Duration,
    /// Largest response body a plugin may read; more is an error.
    pub max_response_bytes: u64,
}

impl Default for HttpPolicyConfig {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            connect_timeout: Duration::from_secs(2),
            first_byte_timeout: Duration::from_secs(5),
            between_bytes_timeout: Duration::from_secs(2),
            max_response_bytes: 1 << 20,
        }
    }
}

/// What one tenant's plugins may use. Every invocation gets these limits,
/// whole: a fresh store, or a kept ranking instance with its meters reset.
#[derive(Clone, Debug)]
pub struct TenantLimits {
    /// Guest CPU time per invocation (counted in epoch ticks; time spent
    /// blocked in host calls is not counted).
    pub cpu: Duration,
    /// Wall-clock time per invocation, host calls included.
    pub wall_clock: Duration,
    /// Linear memory per instance, bytes (capped by the host's pool size).
    /// A tenant's plugins together hold at most `memory_bytes ×
    /// max_concurrent` of linear memory: each instance's limiter refuses
    /// growth past `memory_bytes`, at most `max_concurrent` instances are
    /// alive, and an instance's memory is returned the moment it ends
    /// (down to the pool's floor, see [`HostConfig::max_warm_slots`]).
    pub memory_bytes: usize,
    /// Bytes a guest may hand to the host in one host call.
    pub hostcall_fuel: usize,
    /// Actions one flow decision may hold.
    pub max_actions: usize,
    /// Size of the opaque flow state blob.
    pub max_state_bytes: usize,
    /// Length of any string in a plugin's output (prompt names, targets…).
    pub max_string_bytes: usize,
    /// Plugin invocations of this tenant running at once; more wait in
    /// line for up to `max_queue_wait`, then are refused as
    /// [`crate::PluginFailure::Overloaded`].
    pub max_concurrent: usize,
    /// How long an invocation may wait for a free place under
    /// `max_concurrent`. A burst of calls then queues for a few
    /// milliseconds instead of failing, while a tenant whose plugins are
    /// stuck still gets a quick, clear refusal.
    pub max_queue_wait: Duration,
    /// Largest value a plugin may store in kv.
    pub kv_max_value_bytes: usize,
    /// Keys one plugin may hold in kv.
    pub kv_max_keys: u64,
    /// Bytes (keys + values) one plugin may hold in kv.
    pub kv_max_bytes: u64,
    /// Longest log line kept (longer ones are cut).
    pub log_line_bytes: usize,
    /// Log lines kept per invocation (more are counted and dropped).
    pub log_lines_per_invocation: u32,
    /// Hosts crm-connector and reporter plugins may call: exact host names
    /// or `*.suffix` (which matches sub-domains only).
    pub http_allowlist: Vec<String>,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            cpu: Duration::from_millis(50),
            wall_clock: Duration::from_secs(2),
            memory_bytes: 32 << 20,
            hostcall_fuel: 1 << 20,
            max_actions: 64,
            max_state_bytes: 16 << 10,
            max_string_bytes: 4 << 10,
            max_concurrent: 64,
            max_queue_wait: Duration::from_millis(500),
            kv_max_value_bytes: 64 << 10,
            kv_max_keys: 10_000,
            kv_max_bytes: 8 << 20,
            log_line_bytes: 1024,
            log_lines_per_invocation: 100,
            http_allowlist: Vec::new(),
        }
    }
}
