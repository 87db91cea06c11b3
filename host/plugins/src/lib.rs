//! The Switchyard plugin runtime: tenants' WebAssembly components (wasip2,
//! component model) run sandboxed through the `switchyard:plugin` WIT.
//!
//! # Shape
//! Three lifetimes, longest first:
//! * **Process** — [`PluginHost`] (`host`): two wasmtime `Engine`s, one
//!   per [`Pool`] (`engine`: pooling allocator, CoW images, epoch ticker;
//!   small plugins in one, components that carry an interpreter in the
//!   other, whose slots keep their memory), the compiled component cache
//!   (`cache`, checked by `validate`, which picks the pool), the kv
//!   database, and per pool one linker per [`World`] with that world's
//!   capabilities only.
//! * **Tenant** — [`TenantRuntime`] (`tenant`): limits, directory, HTTP
//!   allowlist, recent-log ring, concurrency cap, and the `registry` of
//!   versions and roles. `invoke` runs one call: a fresh store, limits,
//!   failure mapping (`failure`), output checks (`output`); agent rankings
//!   may run on an instance kept from the previous one (`warm`); a flow
//!   decision or a CRM look-up takes a never-used instance made ahead of
//!   it when one is ready (`spare`).
//! * **Invocation** — the `Store` data, `state::PluginState`: WASI context
//!   and resource table, memory and CPU meters, the invocation's log, and
//!   one state per capability the component imports (`Option<KvState>`,
//!   `Option<HttpState>`…). The tenant runtime builds them per store.
//!
//! Each module of [`caps`] (`log`, `kv`, `config`, `directory`, `contacts`,
//! `http`) is one capability: its state holds exactly the handles it needs,
//! its host functions run on a view of that state, and its
//! `add_to_linker` takes a getter from the store data (as wasmtime's
//! `wasi-config` does). Capabilities never see the tenant runtime, the
//! registry or `PluginState`, so imports run one way: invoke → tenant →
//! host/registry → state → caps → bindings/limits/validate.
//!
//! Interface versions: the host's types are those of
//! `switchyard:plugin@0.2.2` (0.2.0 and 0.2.1 components match them by semver); components built against 0.1.0 are detected
//! at load (`validate`), linked to the same capabilities under their 0.1.0
//! names (`caps`) and called through `bindings::v0_1` with converted types
//! (`compat`). See the crate README.
//!
//! Tests: `tests/sandbox.rs` (hostile components from `tests/hostile/*`),
//! `tests/compat.rs` (0.1.0 components from `tests/fixtures/` next to
//! current ones),
//! `tests/caps.rs` (HTTP policy, contacts, directory), `tests/registry.rs`,
//! `tests/roles.rs` (strategy, reporter, CRM), `tests/account_events.rs`
//! (reporters that hear account notices), `tests/engine.rs`,
//! `tests/ticker.rs`, `tests/spare.rs` (decisions on instances made
//! ahead). Benchmark: `cargo run --release -p switchyard-bench --
//! plugins`.
//!
//! # Use
//! ```no_run
//! # async fn demo(bytes: &[u8], call: switchyard_plugins::types::CallSnapshot) -> anyhow::Result<()> {
//! use switchyard_plugins::{HostConfig, PluginHost, TenantSettings, flow_types::Event};
//! let host = PluginHost::new(HostConfig::default())?;
//! let acme = host.tenant("acme", TenantSettings::default())?;
//! acme.install("router", bytes, Default::default())?; // version 1, active
//! acme.set_flow("main", "router")?;
//! let pinned = acme.pin_flow("main")?; // keep it for the whole call
//! let decision = match acme.invoke_flow(&pinned, &call, &Event::CallStarted, None).await {
//!     Ok(d) => d,
//!     Err(_) => acme.fallback_decision(),
//! };
//! # let _ = decision; Ok(()) }
//! ```

mod bindings;
mod cache;
pub mod canary;
pub mod caps;
mod columns;
mod compat;
mod engine;
mod failure;
mod host;
mod invoke;
pub mod limits;
mod output;
mod registry;
mod spare;
mod state;
mod tenant;
pub mod transcript;
mod validate;
mod warm;

pub use bindings::{
    account_events, account_types, config, contacts, directory, flow, flow_types, kv, log, mail,
    queue_types, ranking, ranking_types, reporting, strategy, types,
};
pub use cache::LoadedComponent;
pub use caps::directory::{Directory, InMemoryDirectory};
pub use caps::log::{LogLevel, LogLine};
pub use caps::mail::{MailFuture, MailRelay};
pub use columns::{CandidateRef, candidate_columns};
pub use engine::Pool;
pub use failure::PluginFailure;
pub use host::{HostError, PluginHost, SpareStats};
pub use limits::{HostConfig, HttpPolicyConfig, TenantLimits};
pub use registry::{
    NoPersistence, Pinned, PluginVersion, RegistryError, RegistryPersistence, Roles, VersionInfo,
};
pub use tenant::{TenantRuntime, TenantSettings, fallback_decision};
pub use validate::{InterfaceVersion, LoadError, World, check_memory_fits, initial_memory_bytes};
