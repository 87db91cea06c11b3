//! Versions, activation, rollback, pinning and roles, with real components.

mod common;

use common::*;
use switchyard_plugins::flow_types::{Action, Event, Prompt};
use switchyard_plugins::{Pinned, PluginFailure, RegistryError, TenantRuntime, World};

async fn greeting(t: &TenantRuntime, pinned: &Pinned) -> String {
    let d = t
        .invoke_flow(pinned, &call(t.id(), "1", "2"), &Event::CallStarted, None)
        .await
        .unwrap();
    match &d.actions[1] {
        Action::Play(p) => match &p[0] {
            Prompt::File(f) => f.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_rollback_and_pinning() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    assert_eq!(
        t.install("router", wasm("echo-flow"), config(&[("greeting", "one")]))
            .unwrap(),
        1
    );
    assert_eq!(
        t.install("router", wasm("echo-flow"), config(&[("greeting", "two")]))
            .unwrap(),
        2
    );
    // The first version is active; a new one waits for activation.
    assert_eq!(t.active_version("router"), Some(1));
    let versions = t.versions("router");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].number, 2);
    assert_eq!(versions[1].world, World::CallFlow);
    assert_eq!(versions[0].sha256, versions[1].sha256);

    t.set_flow("main", "router").unwrap();
    let call_one = t.pin_flow("main").unwrap();
    assert_eq!(call_one.number, 1);

    t.activate("router", 2).unwrap();
    let call_two = t.pin_flow("main").unwrap();
    assert_eq!(call_two.number, 2);
    // A call in flight keeps the version it started with.
    assert_eq!(greeting(&t, &call_one).await, "one");
    assert_eq!(greeting(&t, &call_two).await, "two");

    assert_eq!(t.rollback("router").unwrap(), 1);
    assert_eq!(greeting(&t, &t.pin("router").unwrap()).await, "one");
    assert!(matches!(
        t.rollback("router"),
        Err(RegistryError::NothingToRollBack(_))
    ));
    // The pin taken before rollback still runs version 2.
    assert_eq!(greeting(&t, &call_two).await, "two");

    assert!(matches!(
        t.activate("router", 9),
        Err(RegistryError::NoSuchVersion { version: 9, .. })
    ));
    assert!(matches!(
        t.activate("nope", 1),
        Err(RegistryError::NoSuchPlugin(_))
    ));
    assert!(matches!(t.pin("nope"), Err(PluginFailure::NotInstalled(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_check_worlds_and_names() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("router", wasm("echo-flow"), config(&[])).unwrap();
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();

    let e = t.set_crm("router").unwrap_err();
    assert_eq!(
        e.to_string(),
        "plugin \"router\" is a call-flow plugin; this role needs a crm-connector plugin"
    );
    t.set_crm("crm").unwrap();
    assert!(t.set_flow("main", "crm").is_err());
    t.set_flow("main", "router").unwrap();
    assert!(t.add_reporter("router").is_err());
    assert!(t.set_strategy("rr", "router").is_err());
    assert!(matches!(
        t.pin_strategy("rr"),
        Err(PluginFailure::NotInstalled(_))
    ));

    let roles = t.roles();
    assert_eq!(roles.crm.as_deref(), Some("crm"));
    assert_eq!(roles.flows.get("main").map(String::as_str), Some("router"));

    // A new version must keep the plugin's world.
    let e = t
        .install("router", wasm("http-crm"), config(&[]))
        .unwrap_err();
    assert!(matches!(e, RegistryError::WrongWorld { .. }), "{e}");
    // Names are scope-safe.
    assert!(matches!(
        t.install("a\0b", wasm("echo-flow"), config(&[])),
        Err(RegistryError::InvalidName(_))
    ));
    assert!(host.tenant("bad\0tenant", Default::default()).is_err());

    // Invoking a plugin in the wrong role is a typed failure, not a panic.
    let crm = t.pin("crm").unwrap();
    let r = t
        .invoke_flow(&crm, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert!(matches!(r, Err(PluginFailure::WrongWorld { .. })), "{r:?}");
}

/// A stored version: what, the component bytes, its settings.
type StoredVersion = (
    switchyard_plugins::VersionInfo,
    Vec<u8>,
    std::collections::BTreeMap<String, String>,
);

/// What a persistence layer would store, kept in memory.
#[derive(Default)]
struct Recorder {
    versions: std::sync::Mutex<Vec<StoredVersion>>,
    active: std::sync::Mutex<Vec<(String, u32)>>,
    roles: std::sync::Mutex<Option<switchyard_plugins::Roles>>,
}

impl switchyard_plugins::RegistryPersistence for Recorder {
    fn version_added(
        &self,
        tenant: &str,
        info: &switchyard_plugins::VersionInfo,
        bytes: &[u8],
        config: &std::collections::BTreeMap<String, String>,
    ) {
        assert_eq!(tenant, "acme");
        self.versions
            .lock()
            .unwrap()
            .push((info.clone(), bytes.to_vec(), config.clone()));
    }
    fn activated(&self, _: &str, plugin: &str, version: u32) {
        self.active.lock().unwrap().push((plugin.into(), version));
    }
    fn roles_changed(&self, _: &str, roles: &switchyard_plugins::Roles) {
        *self.roles.lock().unwrap() = Some(roles.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_changes_reach_persistence_and_can_be_restored() {
    let host = host();
    let rec = std::sync::Arc::new(Recorder::default());
    let t = host
        .tenant(
            "acme",
            switchyard_plugins::TenantSettings {
                limits: limits(),
                persistence: rec.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    t.install("router", wasm("echo-flow"), config(&[("greeting", "one")]))
        .unwrap();
    t.install("router", wasm("echo-flow"), config(&[("greeting", "two")]))
        .unwrap();
    t.activate("router", 2).unwrap();
    t.set_flow("main", "router").unwrap();
    assert_eq!(
        *rec.active.lock().unwrap(),
        vec![("router".to_string(), 1), ("router".to_string(), 2)]
    );

    // A restarted host rebuilds the tenant from what was stored.
    let host2 = common::host();
    let t2 = tenant(&host2, "acme", limits());
    for (info, bytes, config) in rec.versions.lock().unwrap().iter() {
        t2.restore_version(
            &info.name,
            info.number,
            info.created_at_ms,
            bytes,
            config.clone(),
        )
        .unwrap();
    }
    let (plugin, version) = rec.active.lock().unwrap().last().cloned().unwrap();
    t2.activate(&plugin, version).unwrap();
    let roles = rec.roles.lock().unwrap().clone().unwrap();
    for (flow, plugin) in &roles.flows {
        t2.set_flow(flow, plugin).unwrap();
    }
    assert_eq!(t2.versions("router"), t.versions("router"));
    assert_eq!(greeting(&t2, &t2.pin_flow("main").unwrap()).await, "two");
}
