//! [`PluginHost`]: the process-wide engines (one per pool), linkers,
//! component cache and kv store, from which tenants' runtimes are made
//! (see [`PluginHost::tenant`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::cache::{ComponentCache, LoadedComponent};
use crate::caps::kv::KvStore;
use crate::engine::{EpochTicker, Pool, build_engine};
use crate::limits::HostConfig;
use crate::spare::SpareMaker;
use crate::state::{self, PluginState};
use crate::validate::{LoadError, World};
use crate::warm::WarmBudget;

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

/// See [`PluginHost::spare_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpareStats {
    /// Spare instances ready now (or being made).
    pub ready: u32,
    /// Flow decisions and CRM look-ups that ran on a spare.
    pub taken: u64,
    /// Those that found none and made their instance on their own path.
    pub missed: u64,
}

/// The plugin host. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    config: HostConfig,
    /// One engine per [`Pool`]: small plugins', and large components'.
    engines: PerPool<Engine>,
    cache: ComponentCache,
    /// One per world, each with the capabilities of its world only; per
    /// pool, since a linker belongs to one engine.
    linkers: PerPool<Linkers>,
    kv: KvStore,
    /// Ranking instances kept between decisions, against their cap.
    warm: WarmBudget,
    /// Spare call-flow and CRM instances, against each pool's cap, and
    /// the thread that makes them.
    spares: PerPool<WarmBudget>,
    spare_maker: SpareMaker,
    /// Flow decisions and CRM look-ups that found a spare, and that did not.
    spares_taken: AtomicU64,
    spares_missed: AtomicU64,
    /// Each (tenant, plugin, version)'s flow decisions, kept across the
    /// rebuilds of a tenant's runtime (canary figures).
    figures:
        std::sync::Mutex<std::collections::HashMap<(String, String, u32), crate::canary::Figures>>,
    // Dropped with the host: stops the epoch thread.
    _ticker: EpochTicker,
}

impl PluginHost {
    /// Builds the engines (one per [`Pool`]: pooling allocator, epoch
    /// interruption, CoW memory images), the linkers and the kv store, and
    /// starts the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let engines = PerPool {
            small: build_engine(&config, Pool::Small).map_err(engine_err)?,
            large: build_engine(&config, Pool::Large).map_err(engine_err)?,
        };
        let linkers = PerPool {
            small: Linkers::new(&engines.small).map_err(engine_err)?,
            large: Linkers::new(&engines.large).map_err(engine_err)?,
        };
        let db = match &config.kv_db {
            Some(db) => db.clone(),
            None => sled::Config::new().temporary(true).open()?,
        };
        let kv = KvStore::open(&db)?;
        let cache = ComponentCache::new(
            [engines.small.clone(), engines.large.clone()],
            config.large_memory_bytes,
            config.max_component_bytes,
            config.cache_dir.as_deref(),
        )?;
        // Spares, and used instances waiting for the maker, may each hold
        // at most an eighth of a pool: decisions always find slots.
        let share = |slots: u32| config.max_spare_instances.min(slots / 8);
        let spares = PerPool {
            small: WarmBudget::new(share(config.max_instances), usize::MAX),
            large: WarmBudget::new(share(config.max_large_instances), usize::MAX),
        };
        let waiting = share(config.max_instances) + share(config.max_large_instances);
        let spare_maker = SpareMaker::start(waiting as usize, config.spare_idle)?;
        let ticker = EpochTicker::start(
            vec![engines.small.clone(), engines.large.clone()],
            config.epoch_tick,
            spare_maker.waker(),
        )?;
        let warm = WarmBudget::new(config.max_warm_instances, config.warm_instance_memory_bytes);
        Ok(Self {
            inner: Arc::new(HostInner {
                config,
                engines,
                cache,
                linkers,
                kv,
                warm,
                spares,
                spare_maker,
                spares_taken: AtomicU64::new(0),
                spares_missed: AtomicU64::new(0),
                figures: Default::default(),
                _ticker: ticker,
            }),
        })
    }

    /// Validates and compiles a component (cached by content hash).
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedComponent>, LoadError> {
        self.inner.cache.load(bytes)
    }

    /// The operator configuration.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Count one flow decision of `tenant`'s `plugin` `version`; the
    /// figures after it.
    pub(crate) fn record_decision(
        &self,
        tenant: &str,
        plugin: &str,
        version: u32,
        ok: bool,
        took: std::time::Duration,
    ) {
        let mut all = self.inner.figures.lock().unwrap_or_else(|e| e.into_inner());
        all.entry((tenant.to_string(), plugin.to_string(), version))
            .or_default()
            .record(ok, took);
    }

    /// The decisions of `tenant`'s `plugin` `version` since the host
    /// started (none yet: zero).
    pub fn figures(&self, tenant: &str, plugin: &str, version: u32) -> crate::canary::Figures {
        self.inner
            .figures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant.to_string(), plugin.to_string(), version))
            .cloned()
            .unwrap_or_default()
    }

    /// The engine of a pool (its allocator's figures: see
    /// `Engine::pooling_allocator_metrics`).
    pub fn engine(&self, pool: Pool) -> &Engine {
        self.inner.engines.get(pool)
    }

    pub(crate) fn warm(&self) -> &WarmBudget {
        &self.inner.warm
    }

    /// Spare call-flow and CRM instances ready now (or being made),
    /// host-wide.
    pub fn spare_instances(&self) -> u32 {
        self.inner.spares.small.held() + self.inner.spares.large.held()
    }

    /// The spares' cap in `pool`.
    pub(crate) fn spares(&self, pool: Pool) -> &WarmBudget {
        self.inner.spares.get(pool)
    }

    pub(crate) fn spare_maker(&self) -> &SpareMaker {
        &self.inner.spare_maker
    }

    /// Counts a decision or look-up that found a spare (`true`) or made
    /// its instance on its own path.
    pub(crate) fn count_spare(&self, found: bool) {
        let c = if found {
            &self.inner.spares_taken
        } else {
            &self.inner.spares_missed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Spare instances host-wide: ready now, and the decisions and
    /// look-ups so far that found one or did not.
    pub fn spare_stats(&self) -> SpareStats {
        SpareStats {
            ready: self.spare_instances(),
            taken: self.inner.spares_taken.load(Ordering::Relaxed),
            missed: self.inner.spares_missed.load(Ordering::Relaxed),
        }
    }

    /// Ranking instances kept between decisions now, host-wide.
    pub fn warm_instances(&self) -> u32 {
        self.inner.warm.held()
    }

    pub(crate) fn kv(&self) -> &KvStore {
        &self.inner.kv
    }

    /// The linker for `world`'s components compiled for `pool`'s engine.
    pub(crate) fn linker_for(&self, pool: Pool, world: World) -> &Linker<PluginState> {
        let l = self.inner.linkers.get(pool);
        match world {
            World::CallFlow => &l.call_flow,
            World::QueueStrategy => &l.queue_strategy,
            World::CrmConnector => &l.crm_connector,
            World::Reporter => &l.reporter,
        }
    }
}

/// One of each for the small and the large pool.
struct PerPool<T> {
    small: T,
    large: T,
}

impl<T> PerPool<T> {
    fn get(&self, pool: Pool) -> &T {
        match pool {
            Pool::Small => &self.small,
            Pool::Large => &self.large,
        }
    }
}

struct Linkers {
    call_flow: Linker<PluginState>,
    queue_strategy: Linker<PluginState>,
    crm_connector: Linker<PluginState>,
    reporter: Linker<PluginState>,
}

impl Linkers {
    fn new(engine: &Engine) -> wasmtime::Result<Self> {
        Ok(Self {
            call_flow: state::linker(engine, World::CallFlow)?,
            queue_strategy: state::linker(engine, World::QueueStrategy)?,
            crm_connector: state::linker(engine, World::CrmConnector)?,
            reporter: state::linker(engine, World::Reporter)?,
        })
    }
}
