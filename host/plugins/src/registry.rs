//! Per-tenant plugin registry: plugins by name, their versions, the active
//! version, rollback, and the tenant's roles (which plugin does what).
//!
//! In memory. The seam for persistence is [`RegistryPersistence`]: every
//! change is reported to it, and [`crate::TenantRuntime::restore_version`]
//! re-installs a stored version with its original number and date.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{ComponentExportIndex, InstancePre};

use crate::bindings::{account_events, flow, ranking, reporting, strategy, v0_1};
use crate::cache::LoadedComponent;
use crate::spare::SpareSlot;
use crate::state::PluginState;
use crate::validate::{LoadError, World};
use crate::warm::WarmSlot;

/// One installed version of a plugin: immutable, shared by every call that
/// pinned it.
pub struct PluginVersion {
    /// Plugin name (unique within the tenant).
    pub name: String,
    /// Version number, 1, 2, 3… per plugin.
    pub number: u32,
    /// When it was installed, ms since the Unix epoch.
    pub created_at_ms: u64,
    pub(crate) loaded: Arc<LoadedComponent>,
    pub(crate) config: Arc<BTreeMap<String, String>>,
    pub(crate) pre: InstancePre<PluginState>,
    pub(crate) exports: RoleExports,
    /// The instance kept between rankings (queue strategies only).
    pub(crate) warm: WarmSlot,
    /// Never-used instances made for the next flow decisions (call flows)
    /// or contact look-ups (CRM connectors).
    pub(crate) spare: SpareSlot,
}

impl PluginVersion {
    /// Its world.
    pub fn world(&self) -> World {
        self.loaded.world()
    }
    /// Plain description.
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            name: self.name.clone(),
            number: self.number,
            world: self.world(),
            sha256: self.loaded.sha256_hex(),
            size: self.loaded.size(),
            created_at_ms: self.created_at_ms,
        }
    }
    /// Whether an instance is kept warm for its next ranking.
    pub fn keeps_warm_instance(&self) -> bool {
        self.warm.is_kept()
    }
    /// Spare instances ready for its next flow decisions or look-ups.
    pub fn spare_instances(&self) -> usize {
        self.spare.ready()
    }
    /// Its flow decisions or look-ups that ran on a spare instance.
    pub fn decisions_on_spares(&self) -> u64 {
        self.spare.taken()
    }
    /// The settings given at install.
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }
}

impl std::fmt::Debug for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.info().fmt(f)
    }
}

/// A version a call started with; it stays usable after newer versions are
/// activated.
pub type Pinned = Arc<PluginVersion>;

/// Plain data about a version (for listings and persistence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Plugin name.
    pub name: String,
    /// Version number.
    pub number: u32,
    /// World.
    pub world: World,
    /// sha256 of the component, hex.
    pub sha256: String,
    /// Component size, bytes.
    pub size: usize,
    /// Install time, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// Export indices of the one interface the component serves, looked up once
/// at install; `…V0_1` for a component built against
/// `switchyard:plugin@0.1.0` (called through [`crate::compat`]). A
/// crm-connector's interface is the same in both versions: its functions are
/// found by name whatever the version.
pub(crate) enum RoleExports {
    Flow(flow::GuestIndices),
    FlowV0_1(v0_1::flow::GuestIndices),
    Strategy(strategy::GuestIndices),
    /// A strategy that takes its candidates as columns (`ranking`, 0.2.1).
    Ranking(ranking::GuestIndices),
    StrategyV0_1(v0_1::strategy::GuestIndices),
    Crm {
        lookup: ComponentExportIndex,
        log_call: ComponentExportIndex,
    },
    /// A reporter; `account_events` when it also exports `account-events`
    /// (world `billing-reporter`, 0.2.2): the same role, told account
    /// notices too.
    Reporter {
        reporting: reporting::GuestIndices,
        account_events: Option<account_events::GuestIndices>,
    },
    ReporterV0_1(v0_1::reporting::GuestIndices),
}

/// Where registry changes go to be stored. The default keeps nothing.
pub trait RegistryPersistence: Send + Sync {
    /// A version was installed (the bytes and config to restore it).
    fn version_added(
        &self,
        tenant: &str,
        info: &VersionInfo,
        bytes: &[u8],
        config: &BTreeMap<String, String>,
    );
    /// The active version of `plugin` changed.
    fn activated(&self, tenant: &str, plugin: &str, version: u32);
    /// The tenant's roles changed.
    fn roles_changed(&self, tenant: &str, roles: &Roles);
    /// The canary of `plugin` (`version`) was stopped by the host, for
    /// `reason` (its failures): it must not come back at the next start.
    fn canary_stopped(&self, tenant: &str, plugin: &str, version: u32, reason: &str) {
        let _ = (tenant, plugin, version, reason);
    }
}

/// Keeps nothing.
pub struct NoPersistence;

impl RegistryPersistence for NoPersistence {
    fn version_added(&self, _: &str, _: &VersionInfo, _: &[u8], _: &BTreeMap<String, String>) {}
    fn activated(&self, _: &str, _: &str, _: u32) {}
    fn roles_changed(&self, _: &str, _: &Roles) {}
}

/// Which plugin plays which part for a tenant (plugin names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// Flow name (what a number routes to) → call-flow plugin.
    pub flows: BTreeMap<String, String>,
    /// The tenant's crm-connector.
    pub crm: Option<String>,
    /// Reporters, all called for every record / notice.
    pub reporters: Vec<String>,
    /// Queue strategy name → queue-strategy plugin.
    pub strategies: BTreeMap<String, String>,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The upload was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Bad plugin name.
    #[error("invalid plugin name {0:?}: use 1 to 64 characters from a-z, 0-9, '-', '_', '.'")]
    InvalidName(String),
    /// Unknown plugin.
    #[error("no plugin named {0:?}")]
    NoSuchPlugin(String),
    /// Unknown version.
    #[error("plugin {name:?} has no version {version}")]
    NoSuchVersion {
        /// Plugin.
        name: String,
        /// Version asked for.
        version: u32,
    },
    /// No earlier active version.
    #[error("plugin {0:?} has no previously active version to roll back to")]
    NothingToRollBack(String),
    /// A role given a plugin of the wrong world.
    #[error("plugin {name:?} is a {world} plugin; this role needs a {wanted} plugin")]
    WrongWorld {
        /// Plugin.
        name: String,
        /// Its world.
        world: World,
        /// Needed world.
        wanted: World,
    },
    /// The host could not prepare the component.
    #[error("could not prepare the plugin: {0}")]
    Host(String),
}

/// Plugin names are path- and key-safe: no `\0`, no separators.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

struct Entry {
    versions: BTreeMap<u32, Arc<PluginVersion>>,
    active: Option<u32>,
    /// Previously active versions, most recent last (for rollback).
    history: Vec<u32>,
    /// A version deciding a share of new calls beside the active one.
    canary: Option<crate::canary::CanaryPolicy>,
}

/// One tenant's plugins.
#[derive(Default)]
pub(crate) struct Registry {
    plugins: BTreeMap<String, Entry>,
    pub(crate) roles: Roles,
}

impl Registry {
    pub(crate) fn next_number(&self, name: &str) -> u32 {
        self.plugins
            .get(name)
            .and_then(|e| e.versions.keys().next_back())
            .map_or(1, |n| n + 1)
    }

    /// Adds a version; with `activate_first`, the first version of a plugin
    /// becomes active. Returns whether it was activated.
    pub(crate) fn add(&mut self, v: Arc<PluginVersion>, activate_first: bool) -> bool {
        let e = self.plugins.entry(v.name.clone()).or_insert_with(|| Entry {
            versions: BTreeMap::new(),
            active: None,
            history: Vec::new(),
            canary: None,
        });
        let n = v.number;
        e.versions.insert(n, v);
        if activate_first && e.active.is_none() {
            e.active = Some(n);
            return true;
        }
        false
    }

    pub(crate) fn activate(&mut self, name: &str, version: u32) -> Result<(), RegistryError> {
        let e = self
            .plugins
            .get_mut(name)
            .ok_or_else(|| RegistryError::NoSuchPlugin(name.into()))?;
        if !e.versions.contains_key(&version) {
            return Err(RegistryError::NoSuchVersion {
                name: name.into(),
                version,
            });
        }
        if let Some(prev) = e.active
            && prev != version
        {
            e.history.push(prev);
        }
        e.active = Some(version);
        Ok(())
    }

    pub(crate) fn rollback(&mut self, name: &str) -> Result<u32, RegistryError> {
        let e = self
            .plugins
            .get_mut(name)
            .ok_or_else(|| RegistryError::NoSuchPlugin(name.into()))?;
        let prev = e
            .history
            .pop()
            .ok_or_else(|| RegistryError::NothingToRollBack(name.into()))?;
        e.active = Some(prev);
        Ok(prev)
    }

    pub(crate) fn pin(&self, name: &str) -> Option<Pinned> {
        let e = self.plugins.get(name)?;
        e.versions.get(&e.active?).cloned()
    }

    /// The version `caller`'s new call gets: the canary's for its share of
    /// callers, the active one otherwise.
    pub(crate) fn pin_for(&self, name: &str, caller: &str) -> Option<Pinned> {
        let e = self.plugins.get(name)?;
        if let Some(c) = &e.canary
            && crate::canary::takes_canary(name, caller, c.percent)
            && let Some(v) = e.versions.get(&c.version)
        {
            return Some(v.clone());
        }
        self.pin(name)
    }

    /// Start (or replace) `name`'s canary; `None` ends it. The canary must
    /// be an installed version other than the active one.
    pub(crate) fn set_canary(
        &mut self,
        name: &str,
        canary: Option<crate::canary::CanaryPolicy>,
    ) -> Result<(), RegistryError> {
        let e = self
            .plugins
            .get_mut(name)
            .ok_or_else(|| RegistryError::NoSuchPlugin(name.into()))?;
        if let Some(c) = &canary
            && (!e.versions.contains_key(&c.version) || e.active == Some(c.version))
        {
            return Err(RegistryError::NoSuchVersion {
                name: name.into(),
                version: c.version,
            });
        }
        e.canary = canary;
        Ok(())
    }

    pub(crate) fn canary(&self, name: &str) -> Option<crate::canary::CanaryPolicy> {
        self.plugins.get(name)?.canary.clone()
    }

    pub(crate) fn version(&self, name: &str, version: u32) -> Option<Pinned> {
        self.plugins.get(name)?.versions.get(&version).cloned()
    }

    pub(crate) fn active(&self, name: &str) -> Option<u32> {
        self.plugins.get(name)?.active
    }

    pub(crate) fn versions(&self, name: &str) -> Vec<VersionInfo> {
        self.plugins
            .get(name)
            .map(|e| e.versions.values().map(|v| v.info()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn world_of(&self, name: &str) -> Option<World> {
        self.pin(name).map(|v| v.world()).or_else(|| {
            self.plugins
                .get(name)?
                .versions
                .values()
                .next()
                .map(|v| v.world())
        })
    }
}
