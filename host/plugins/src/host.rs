//! [`PluginHost`]: the process-wide engine, linkers, component cache and kv
//! store, from which tenants' runtimes are made.

use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::switchyard::plugin as sp;
use crate::cache::{ComponentCache, LoadError, LoadedComponent};
use crate::caps::kv::KvStore;
use crate::engine::{EpochTicker, build_engine};
use crate::limits::HostConfig;
use crate::state::PluginState;
use crate::tenant::{TenantRuntime, TenantSettings};

/// Why the host or a tenant could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// wasmtime refused the configuration or a linker definition.
    #[error("plugin engine: {0}")]
    Engine(String),
    /// The cache directory or the ticker thread failed.
    #[error("plugin host I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The kv database failed.
    #[error("plugin kv store: {0}")]
    Kv(#[from] sled::Error),
    /// A tenant id that cannot be used as a scope.
    #[error("invalid tenant id {0:?}: use 1 to 64 characters from a-z, 0-9, '-', '_', '.'")]
    InvalidTenant(String),
}

fn engine_err(e: wasmtime::Error) -> HostError {
    HostError::Engine(format!("{e:#}"))
}

/// The plugin host. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    config: HostConfig,
    engine: Engine,
    cache: ComponentCache,
    /// Every import but wasi:http.
    linker: Linker<PluginState>,
    /// The same plus wasi:http, for crm-connector and reporter plugins.
    http_linker: Linker<PluginState>,
    kv: KvStore,
    // Dropped with the host: stops the epoch thread.
    _ticker: EpochTicker,
}

impl PluginHost {
    /// Builds the engine (pooling allocator, epoch interruption, CoW memory
    /// images), the linkers and the kv store, and starts the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let engine = build_engine(&config).map_err(engine_err)?;
        let linker = base_linker(&engine).map_err(engine_err)?;
        let mut http_linker = base_linker(&engine).map_err(engine_err)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut http_linker)
            .map_err(engine_err)?;
        let db = match &config.kv_db {
            Some(db) => db.clone(),
            None => sled::Config::new().temporary(true).open()?,
        };
        let kv = KvStore::open(&db)?;
        let cache = ComponentCache::new(
            engine.clone(),
            config.max_component_bytes,
            config.cache_dir.as_deref(),
        )?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        Ok(Self {
            inner: Arc::new(HostInner {
                config,
                engine,
                cache,
                linker,
                http_linker,
                kv,
                _ticker: ticker,
            }),
        })
    }

    /// Validates and compiles a component (cached by content hash).
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedComponent>, LoadError> {
        self.inner.cache.load(bytes)
    }

    /// A runtime for `tenant_id` with its limits and directory. Keep it:
    /// the registry of installed plugins lives in it.
    pub fn tenant(
        &self,
        tenant_id: &str,
        settings: TenantSettings,
    ) -> Result<TenantRuntime, HostError> {
        if !crate::registry::valid_name(tenant_id) {
            return Err(HostError::InvalidTenant(tenant_id.into()));
        }
        Ok(TenantRuntime::new(
            self.clone(),
            tenant_id.to_string(),
            settings,
        ))
    }

    /// The operator configuration.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn kv(&self) -> &KvStore {
        &self.inner.kv
    }

    pub(crate) fn linker_for(&self, world: crate::World) -> &Linker<PluginState> {
        if world.allows_http() {
            &self.inner.http_linker
        } else {
            &self.inner.linker
        }
    }
}

/// WASI p2 (locked down by the context) and the Switchyard interfaces.
/// `wasi:sockets` is linked by `add_to_linker_async` but unreachable: the
/// context allows no network, and [`crate::validate`] refuses components
/// that import it.
fn base_linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut l = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    type Me = HasSelf<PluginState>;
    sp::types::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::flow_types::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::queue_types::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::log::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::kv::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::config::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::directory::add_to_linker::<_, Me>(&mut l, |s| s)?;
    sp::contacts::add_to_linker::<_, Me>(&mut l, |s| s)?;
    Ok(l)
}
