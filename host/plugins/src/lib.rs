//! The Switchyard plugin runtime: tenants' WebAssembly components (wasip2,
//! component model) run sandboxed through the `switchyard:plugin` WIT.
//!
//! # Module map
//! * `engine` — the one wasmtime `Engine` (pooling
//!   allocator, CoW memory images, epoch interruption) and its ticker.
//! * `bindings` — the single `bindgen!`; its types are re-exported as
//!   [`types`], [`flow_types`], [`queue_types`], [`reporting`]…
//! * `validate` — world detection and the imports each world may use.
//! * `cache` — [`PluginHost::load`]: header checks, compilation, the
//!   compiled-component cache (memory + optional directory).
//! * `host` — [`PluginHost`]: engine, linkers, cache, kv database.
//! * `tenant` — [`TenantRuntime`]: limits, registry operations, roles.
//! * `registry` — versions, activation, rollback, pinning, roles.
//! * `invoke` — one invocation: fresh store, limits, failure mapping.
//! * `output` — checks on what plugins return.
//! * `state` — the store data (WASI ctx, meters, scope).
//! * [`caps`] — host capabilities: `log`, `kv`, `config`, `directory`,
//!   `contacts`, `http` (plus the bounded stdout/stderr capture).
//!
//! Tests: `tests/sandbox.rs` (hostile components from `tests/hostile/*`),
//! `tests/caps.rs` (HTTP policy, contacts, directory), `tests/registry.rs`,
//! `tests/roles.rs` (strategy, reporter, CRM), `tests/engine.rs`,
//! `tests/ticker.rs`. Benchmark: `cargo run --release -p switchyard-bench --
//! plugins`.
//! * [`limits`] — [`HostConfig`], [`TenantLimits`].
//! * `failure` — [`PluginFailure`].
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
pub mod caps;
mod engine;
mod failure;
mod host;
mod invoke;
pub mod limits;
mod output;
mod registry;
mod state;
mod tenant;
mod validate;

pub use bindings::{
    config, contacts, directory, flow, flow_types, kv, log, queue_types, reporting, strategy, types,
};
pub use cache::LoadedComponent;
pub use caps::directory::{Directory, InMemoryDirectory};
pub use caps::log::{LogLevel, LogLine};
pub use failure::PluginFailure;
pub use host::{HostError, PluginHost};
pub use limits::{HostConfig, HttpPolicyConfig, TenantLimits};
pub use registry::{
    NoPersistence, Pinned, PluginVersion, RegistryError, RegistryPersistence, Roles, VersionInfo,
};
pub use tenant::{TenantRuntime, TenantSettings, fallback_decision};
pub use validate::{LoadError, World};
