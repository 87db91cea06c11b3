//! [`TenantRuntime`]: one tenant's limits, directory, plugin registry,
//! concurrency cap and recent plugin log; and the store data of each of its
//! invocations, built with the capability states the plugin imports.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;

use crate::bindings::flow_types::{Action, Decision, Prompt, RejectReason};
use crate::bindings::types::Contact;
use crate::bindings::{account_events, flow, ranking, reporting, strategy, v0_1};
use crate::caps::config::ConfigState;
use crate::caps::contacts::{ContactLookup, ContactsState};
use crate::caps::directory::{Directory, DirectoryState, InMemoryDirectory};
use crate::caps::http::HttpState;
use crate::caps::kv::{KvQuota, KvState};
use crate::caps::log::{LogLine, LogRing, LogState};
use crate::caps::mail::MailState;
use crate::failure::PluginFailure;
use crate::host::{HostError, PluginHost};
use crate::limits::TenantLimits;
use crate::registry::{
    NoPersistence, Pinned, PluginVersion, Registry, RegistryError, RegistryPersistence,
    RoleExports, Roles, VersionInfo, valid_name,
};
use crate::state::PluginState;
use crate::transcript::TranscriptSink;
use crate::validate::{Capability, InterfaceVersion, World};
use switchyard_clock::unix_ms;

/// What a tenant runtime is made with.
pub struct TenantSettings {
    /// Limits for every invocation.
    pub limits: TenantLimits,
    /// The tenant's directory, for `directory` imports.
    pub directory: Arc<dyn Directory>,
    /// What a call does when its flow plugin fails; `None` uses
    /// [`fallback_decision`].
    pub fallback: Option<Decision>,
    /// Where registry changes are stored.
    pub persistence: Arc<dyn RegistryPersistence>,
    /// Where each call-flow decision is written down, for a tenant that
    /// keeps transcripts (replay before activation); `None` keeps none.
    pub transcripts: Option<Arc<dyn TranscriptSink>>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            limits: TenantLimits::default(),
            directory: Arc::new(InMemoryDirectory::new()),
            fallback: None,
            persistence: Arc::new(NoPersistence),
            transcripts: None,
        }
    }
}

/// The default safe answer for a call whose flow failed: a "please try
/// later" prompt, then 480 Temporarily Unavailable.
pub fn fallback_decision() -> Decision {
    Decision {
        actions: vec![
            Action::Play(vec![Prompt::File("please-try-later".into())]),
            Action::Reject(RejectReason::Unavailable),
        ],
        state: None,
    }
}

/// One tenant's plugin runtime. Cheap to clone.
#[derive(Clone)]
pub struct TenantRuntime {
    inner: Arc<TenantInner>,
}

struct TenantInner {
    id: Arc<str>,
    host: PluginHost,
    limits: TenantLimits,
    /// `limits.http_allowlist`, lower-cased and shared by every invocation.
    http_allowlist: Arc<Vec<String>>,
    directory: Arc<dyn Directory>,
    fallback: Decision,
    persistence: Arc<dyn RegistryPersistence>,
    transcripts: Option<Arc<dyn TranscriptSink>>,
    registry: Mutex<Registry>,
    permits: Arc<Semaphore>,
    logs: LogRing,
}

impl PluginHost {
    /// A runtime for `tenant_id` with its limits and directory. Keep it:
    /// the registry of installed plugins lives in it.
    pub fn tenant(
        &self,
        tenant_id: &str,
        settings: TenantSettings,
    ) -> Result<TenantRuntime, HostError> {
        if !valid_name(tenant_id) {
            return Err(HostError::InvalidTenant(tenant_id.into()));
        }
        Ok(TenantRuntime::new(self.clone(), tenant_id.into(), settings))
    }
}

impl TenantRuntime {
    fn new(host: PluginHost, id: Arc<str>, s: TenantSettings) -> Self {
        let mut limits = s.limits;
        limits.memory_bytes = limits.memory_bytes.min(host.config().max_memory_bytes);
        Self {
            inner: Arc::new(TenantInner {
                id,
                host,
                permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
                http_allowlist: Arc::new(
                    limits
                        .http_allowlist
                        .iter()
                        .map(|h| h.to_ascii_lowercase())
                        .collect(),
                ),
                limits,
                directory: s.directory,
                fallback: s.fallback.unwrap_or_else(fallback_decision),
                persistence: s.persistence,
                transcripts: s.transcripts,
                registry: Mutex::new(Registry::default()),
                logs: LogRing::default(),
            }),
        }
    }

    /// The tenant id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    /// The tenant's limits.
    pub fn limits(&self) -> &TenantLimits {
        &self.inner.limits
    }
    /// The host this tenant runs on.
    pub fn host(&self) -> &PluginHost {
        &self.inner.host
    }
    pub(crate) fn transcripts(&self) -> Option<&Arc<dyn TranscriptSink>> {
        self.inner.transcripts.as_ref()
    }
    pub(crate) fn permits(&self) -> &Arc<Semaphore> {
        &self.inner.permits
    }
    /// The answer to use when a flow plugin fails.
    pub fn fallback_decision(&self) -> Decision {
        self.inner.fallback.clone()
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant's most recent plugin log lines (log calls and captured
    /// stdout/stderr), oldest first.
    pub fn recent_logs(&self) -> Vec<LogLine> {
        self.inner.logs.lines()
    }

    /// Reads a plugin's kv value as the plugin would (for the tenant admin's
    /// tools and for tests).
    pub fn plugin_kv_get(
        &self,
        plugin: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, crate::bindings::kv::Error> {
        self.host()
            .kv()
            .scope(self.id(), plugin, KvQuota::of(self.limits()))
            .get(key)
    }

    /// The store data of one invocation of `v`: WASI, the meters, the log,
    /// and a state for each capability the component imports, each holding
    /// only what that capability reaches.
    pub(crate) fn plugin_state(&self, v: &PluginVersion, cpu_ticks: u64) -> PluginState {
        let limits = self.limits();
        let host = self.host();
        let log = LogState::new(
            self.inner.id.clone(),
            v.name.clone(),
            v.number,
            limits,
            self.inner.logs.clone(),
        );
        let mut state = PluginState::new(
            limits.memory_bytes,
            host.config().max_table_elements,
            cpu_ticks,
            log,
        );
        let imports = v.loaded.capabilities();
        if imports.has(Capability::Kv) {
            let scope = host.kv().scope(self.id(), &v.name, KvQuota::of(limits));
            state.kv = Some(KvState::new(scope));
        }
        if imports.has(Capability::Config) {
            state.config = Some(ConfigState::new(v.config.clone()));
        }
        if imports.has(Capability::Directory) {
            state.directory = Some(DirectoryState::new(self.inner.directory.clone()));
        }
        if imports.has(Capability::Contacts) {
            state.contacts = Some(ContactsState::new(Box::new(TenantContacts(
                Arc::downgrade(&self.inner),
            ))));
        }
        if imports.has(Capability::Http) {
            state.http = Some(HttpState::new(
                host.config().http.clone(),
                self.inner.http_allowlist.clone(),
            ));
        }
        if imports.has(Capability::Mail) {
            state.mail = Some(MailState::new(
                host.config().mail.clone(),
                self.inner.id.clone(),
            ));
        }
        state
    }

    /// Validates, compiles and installs `bytes` as the next version of
    /// plugin `name`, with its settings. The first version of a plugin is
    /// activated; later ones wait for [`Self::activate`]. A component
    /// whose initial linear memory exceeds the tenant's
    /// [`TenantLimits::memory_bytes`] is refused
    /// ([`crate::LoadError::NeedsMoreMemory`]): no instance of it could
    /// start. (Restored versions are not: they were accepted once, and
    /// fail at instantiation like any plugin over its memory.)
    pub fn install(
        &self,
        name: &str,
        bytes: &[u8],
        config: BTreeMap<String, String>,
    ) -> Result<u32, RegistryError> {
        let number = self.registry().next_number(name);
        self.install_as(name, number, unix_ms(), bytes, config, true)
    }

    /// Re-installs a stored version with its original number and date (for
    /// the persistence layer on start-up). Does not activate it, and does
    /// not report it to the persistence layer (it came from there).
    pub fn restore_version(
        &self,
        name: &str,
        number: u32,
        created_at_ms: u64,
        bytes: &[u8],
        config: BTreeMap<String, String>,
    ) -> Result<(), RegistryError> {
        self.install_as(name, number, created_at_ms, bytes, config, false)
            .map(|_| ())
    }

    fn install_as(
        &self,
        name: &str,
        number: u32,
        created_at_ms: u64,
        bytes: &[u8],
        config: BTreeMap<String, String>,
        activate_first: bool,
    ) -> Result<u32, RegistryError> {
        if !valid_name(name) {
            return Err(RegistryError::InvalidName(name.into()));
        }
        if let Some(existing) = self.registry().world_of(name) {
            let loaded = self.host().load(bytes)?;
            if loaded.world() != existing {
                return Err(RegistryError::WrongWorld {
                    name: name.into(),
                    world: loaded.world(),
                    wanted: existing,
                });
            }
        }
        let loaded = self.host().load(bytes)?;
        if activate_first {
            // A new upload, not a restored one.
            loaded.check_fits(self.limits().memory_bytes)?;
        }
        let host_err = |e: wasmtime::Error| RegistryError::Host(format!("{e:#}"));
        let pre = self
            .host()
            .linker_for(loaded.pool(), loaded.world())
            .instantiate_pre(&loaded.component)
            .map_err(host_err)?;
        let exports =
            role_exports(loaded.world(), loaded.interface_version(), &pre).map_err(host_err)?;
        let version = Arc::new(PluginVersion {
            name: name.into(),
            number,
            created_at_ms,
            loaded,
            config: Arc::new(config),
            pre,
            exports,
            warm: Default::default(),
            spare: Default::default(),
        });
        let info = version.info();
        let restoring = !activate_first;
        let activated = {
            let mut reg = self.registry();
            if reg.version(name, number).is_some() {
                return Err(RegistryError::Host(format!(
                    "plugin {name:?} already has version {number}"
                )));
            }
            reg.add(version.clone(), activate_first)
        };
        if !restoring {
            self.inner
                .persistence
                .version_added(self.id(), &info, bytes, &version.config);
        }
        if activated {
            self.inner.persistence.activated(self.id(), name, number);
        }
        Ok(number)
    }

    /// Makes `version` the one new calls get.
    pub fn activate(&self, name: &str, version: u32) -> Result<(), RegistryError> {
        self.registry().activate(name, version)?;
        self.inner.persistence.activated(self.id(), name, version);
        Ok(())
    }

    /// Goes back to the previously active version; returns its number.
    pub fn rollback(&self, name: &str) -> Result<u32, RegistryError> {
        let v = self.registry().rollback(name)?;
        self.inner.persistence.activated(self.id(), name, v);
        Ok(v)
    }

    /// Start (or replace) `name`'s canary: `canary.version` decides the
    /// calls of `canary.percent` % of callers. `None` ends it.
    pub fn set_canary(
        &self,
        name: &str,
        canary: Option<crate::canary::CanaryPolicy>,
    ) -> Result<(), RegistryError> {
        self.registry().set_canary(name, canary)
    }

    /// `name`'s canary, if one runs.
    pub fn canary(&self, name: &str) -> Option<crate::canary::CanaryPolicy> {
        self.registry().canary(name)
    }

    /// After a decision of `pinned`: when it is `name`'s canary and has
    /// now failed clearly more than the active version, stop it (and tell
    /// the persistence, so it stays stopped).
    pub(crate) fn judge_canary(&self, pinned: &Pinned) {
        let (active, canary) = {
            let reg = self.registry();
            match (reg.active(&pinned.name), reg.canary(&pinned.name)) {
                (Some(a), Some(c)) if c.version == pinned.number => (a, c),
                _ => return,
            }
        };
        let host = &self.inner.host;
        let stable = host.figures(self.id(), &pinned.name, active);
        let tried = host.figures(self.id(), &pinned.name, canary.version);
        if let crate::canary::Verdict::Stop(why) = crate::canary::verdict(&canary, &stable, &tried)
        {
            let stopped = {
                let mut reg = self.registry();
                // Only if it is still the same canary (no race with an
                // operator's change).
                reg.canary(&pinned.name).as_ref() == Some(&canary)
                    && reg.set_canary(&pinned.name, None).is_ok()
            };
            if stopped {
                tracing::warn!(tenant = %self.id(), plugin = %pinned.name, version = canary.version,
                    %why, "canary stopped: new calls go to the active version");
                self.inner.persistence.canary_stopped(
                    self.id(),
                    &pinned.name,
                    canary.version,
                    &why,
                );
            }
        }
    }

    /// The active version of `name`, for one call to keep.
    pub fn pin(&self, name: &str) -> Result<Pinned, PluginFailure> {
        self.registry()
            .pin(name)
            .ok_or_else(|| PluginFailure::NotInstalled(name.into()))
    }

    /// Version `version` of `name`, installed or not yet active.
    pub fn pin_version(&self, name: &str, version: u32) -> Result<Pinned, PluginFailure> {
        self.registry()
            .version(name, version)
            .ok_or_else(|| PluginFailure::NotInstalled(format!("{name} v{version}")))
    }

    /// The active version number of `name`.
    pub fn active_version(&self, name: &str) -> Option<u32> {
        self.registry().active(name)
    }

    /// Every version of `name`.
    pub fn versions(&self, name: &str) -> Vec<VersionInfo> {
        self.registry().versions(name)
    }

    /// The tenant's roles.
    pub fn roles(&self) -> Roles {
        self.registry().roles.clone()
    }

    fn set_role(
        &self,
        plugin: &str,
        wanted: World,
        f: impl FnOnce(&mut Roles),
    ) -> Result<(), RegistryError> {
        let roles = {
            let mut reg = self.registry();
            let world = reg
                .world_of(plugin)
                .ok_or_else(|| RegistryError::NoSuchPlugin(plugin.into()))?;
            if world != wanted {
                return Err(RegistryError::WrongWorld {
                    name: plugin.into(),
                    world,
                    wanted,
                });
            }
            f(&mut reg.roles);
            reg.roles.clone()
        };
        self.inner.persistence.roles_changed(self.id(), &roles);
        Ok(())
    }

    /// Flow `flow` (what numbers route to) is served by call-flow `plugin`.
    pub fn set_flow(&self, flow: &str, plugin: &str) -> Result<(), RegistryError> {
        self.set_role(plugin, World::CallFlow, |r| {
            r.flows.insert(flow.into(), plugin.into());
        })
    }

    /// The active version of the plugin serving flow `flow`.
    pub fn pin_flow(&self, flow: &str) -> Result<Pinned, PluginFailure> {
        let plugin = self
            .registry()
            .roles
            .flows
            .get(flow)
            .cloned()
            .ok_or_else(|| PluginFailure::NotInstalled(format!("flow {flow}")))?;
        self.pin(&plugin)
    }

    /// The version of the plugin serving flow `flow` that a new call from
    /// `caller` gets: its canary's for the canary's share of callers
    /// (always the same callers), the active one otherwise.
    pub fn pin_flow_for(&self, flow: &str, caller: &str) -> Result<Pinned, PluginFailure> {
        let reg = self.registry();
        let plugin = reg
            .roles
            .flows
            .get(flow)
            .ok_or_else(|| PluginFailure::NotInstalled(format!("flow {flow}")))?;
        reg.pin_for(plugin, caller)
            .ok_or_else(|| PluginFailure::NotInstalled(plugin.clone()))
    }

    /// The tenant's crm-connector.
    pub fn set_crm(&self, plugin: &str) -> Result<(), RegistryError> {
        self.set_role(plugin, World::CrmConnector, |r| r.crm = Some(plugin.into()))
    }

    /// Adds a reporter (called for every record and notice).
    pub fn add_reporter(&self, plugin: &str) -> Result<(), RegistryError> {
        self.set_role(plugin, World::Reporter, |r| {
            if !r.reporters.iter().any(|p| p == plugin) {
                r.reporters.push(plugin.into());
            }
        })
    }

    /// Queue strategy `name` is served by queue-strategy `plugin`.
    pub fn set_strategy(&self, name: &str, plugin: &str) -> Result<(), RegistryError> {
        self.set_role(plugin, World::QueueStrategy, |r| {
            r.strategies.insert(name.into(), plugin.into());
        })
    }

    /// The active version of the plugin serving strategy `name`.
    pub fn pin_strategy(&self, name: &str) -> Result<Pinned, PluginFailure> {
        let plugin = self
            .registry()
            .roles
            .strategies
            .get(name)
            .cloned()
            .ok_or_else(|| PluginFailure::NotInstalled(format!("strategy {name}")))?;
        self.pin(&plugin)
    }

    pub(crate) fn crm_plugin(&self) -> Option<Pinned> {
        let reg = self.registry();
        reg.pin(reg.roles.crm.as_deref()?)
    }

    pub(crate) fn reporter_plugins(&self) -> Vec<Pinned> {
        let reg = self.registry();
        reg.roles
            .reporters
            .iter()
            .filter_map(|p| reg.pin(p))
            .collect()
    }
}

/// `contacts` asks the tenant's crm-connector. The store holds its tenant
/// weakly: a spare instance's store lives in the tenant's registry (see
/// [`crate::spare`]), and a strong handle there would keep the tenant alive
/// for ever. A store outliving its tenant finds no contact.
struct TenantContacts(std::sync::Weak<TenantInner>);

impl ContactLookup for TenantContacts {
    fn lookup(&self, number: String) -> Pin<Box<dyn Future<Output = Option<Contact>> + Send>> {
        let tenant = self.0.upgrade().map(|inner| TenantRuntime { inner });
        Box::pin(async move {
            match tenant {
                Some(tenant) => tenant.crm_lookup(&number).await,
                None => None,
            }
        })
    }
}

fn role_exports(
    world: World,
    version: InterfaceVersion,
    pre: &wasmtime::component::InstancePre<PluginState>,
) -> wasmtime::Result<RoleExports> {
    use InterfaceVersion::{V0_1, V0_2};
    Ok(match (world, version) {
        (World::CallFlow, V0_2) => RoleExports::Flow(flow::GuestIndices::new(pre)?),
        (World::CallFlow, V0_1) => RoleExports::FlowV0_1(v0_1::flow::GuestIndices::new(pre)?),
        // A ranker (0.2.1) is asked through `ranking`, the cheaper shape,
        // even when it also exports `strategy`.
        (World::QueueStrategy, V0_2) => match ranking::GuestIndices::new(pre) {
            Ok(idx) => RoleExports::Ranking(idx),
            Err(_) => RoleExports::Strategy(strategy::GuestIndices::new(pre)?),
        },
        (World::QueueStrategy, V0_1) => {
            RoleExports::StrategyV0_1(v0_1::strategy::GuestIndices::new(pre)?)
        }
        // `account-events` is optional for a reporter (world
        // `billing-reporter`, 0.2.2). One that names it must serve it as
        // this host knows it: a mismatch refuses the install rather than
        // leave the reporter deaf to account notices without a word.
        (World::Reporter, V0_2) => RoleExports::Reporter {
            reporting: reporting::GuestIndices::new(pre)?,
            account_events: if exports_interface(pre, "account-events") {
                Some(account_events::GuestIndices::new(pre)?)
            } else {
                None
            },
        },
        (World::Reporter, V0_1) => {
            RoleExports::ReporterV0_1(v0_1::reporting::GuestIndices::new(pre)?)
        }
        (World::CrmConnector, _) => {
            let component = pre.component();
            let name =
                export_named(pre, "crm").ok_or_else(|| wasmtime::format_err!("no crm export"))?;
            let iface = component
                .get_export_index(None, &name)
                .ok_or_else(|| wasmtime::format_err!("no exported instance {name}"))?;
            let func = |f: &str| {
                component
                    .get_export_index(Some(&iface), f)
                    .ok_or_else(|| wasmtime::format_err!("{name} does not export {f}"))
            };
            RoleExports::Crm {
                lookup: func("lookup")?,
                log_call: func("log-call")?,
            }
        }
    })
}

/// The full name of the component's export of `switchyard:plugin/<iface>`
/// (whatever its version), if it has one.
fn export_named(
    pre: &wasmtime::component::InstancePre<PluginState>,
    iface: &str,
) -> Option<String> {
    let component = pre.component();
    let prefix = format!("switchyard:plugin/{iface}@");
    component
        .component_type()
        .exports(component.engine())
        .map(|(n, _)| n.to_string())
        .find(|n| n.starts_with(&prefix))
}

fn exports_interface(pre: &wasmtime::component::InstancePre<PluginState>, iface: &str) -> bool {
    export_named(pre, iface).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::HostConfig;

    fn wasm(name: &str) -> &'static [u8] {
        switchyard_artifacts::get(name).unwrap_or_else(|| panic!("component {name} was not built"))
    }

    fn state_of(t: &TenantRuntime, name: &str) -> PluginState {
        t.install(name, wasm(name), BTreeMap::new()).unwrap();
        t.plugin_state(&t.pin(name).unwrap(), 1)
    }

    /// An invocation gets the capabilities its component imports, and no
    /// others; a world's linker links only the capabilities of that world.
    #[test]
    fn invocations_get_only_the_capabilities_they_import() {
        let host = PluginHost::new(HostConfig {
            max_instances: 4,
            ..HostConfig::default()
        })
        .unwrap();
        let t = host.tenant("acme", TenantSettings::default()).unwrap();

        // Imports nothing but WASI.
        let s = state_of(&t, "reverse-strategy");
        assert!(s.kv.is_none() && s.config.is_none() && s.http.is_none());
        assert!(s.directory.is_none() && s.contacts.is_none());

        // log, kv, config, directory and contacts; no HTTP in its world.
        let s = state_of(&t, "echo-flow");
        assert!(s.kv.is_some() && s.config.is_some());
        assert!(s.directory.is_some() && s.contacts.is_some());
        assert!(s.http.is_none());

        // HTTP, and nothing of the call-flow world.
        let s = state_of(&t, "http-crm");
        assert!(s.http.is_some());
        assert!(s.directory.is_none() && s.contacts.is_none());

        // The queue-strategy linker has no `directory` or `contacts`.
        let flow = host.load(wasm("echo-flow")).unwrap();
        let err = host
            .linker_for(flow.pool(), World::QueueStrategy)
            .instantiate_pre(&flow.component)
            .err()
            .expect("a call-flow component does not link as a queue strategy");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("directory") || msg.contains("contacts"),
            "{msg}"
        );
    }
}
