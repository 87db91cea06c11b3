//! Canary releases with real components: a trapping version 2 of a flow
//! takes half of the callers (the same ones each time) beside a healthy
//! version 1; each version's decisions are counted; once the canary has
//! failed clearly more than the stable version over enough decisions it
//! is stopped, the persistence is told, and every caller gets version 1.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use switchyard_plugins::canary::CanaryPolicy;
use switchyard_plugins::flow_types::Event;
use switchyard_plugins::{NoPersistence, RegistryPersistence, Roles, TenantSettings, VersionInfo};

#[derive(Default)]
struct Stops(Mutex<Vec<(String, u32, String)>>);

impl RegistryPersistence for Stops {
    fn version_added(
        &self,
        _: &str,
        _: &VersionInfo,
        _: &[u8],
        _: &std::collections::BTreeMap<String, String>,
    ) {
    }
    fn activated(&self, _: &str, _: &str, _: u32) {}
    fn roles_changed(&self, _: &str, _: &Roles) {}
    fn canary_stopped(&self, _: &str, plugin: &str, version: u32, reason: &str) {
        self.0
            .lock()
            .unwrap()
            .push((plugin.into(), version, reason.into()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_stopped_and_every_caller_goes_back_to_the_stable_version() {
    let host = host();
    let stops = Arc::new(Stops::default());
    let t = host
        .tenant(
            "acme",
            TenantSettings {
                limits: limits(),
                persistence: stops.clone(),
                ..TenantSettings::default()
            },
        )
        .unwrap();
    t.install("router", wasm("echo-flow"), config(&[])).unwrap();
    t.install("router", wasm("trap-flow"), config(&[])).unwrap();
    assert_eq!(t.active_version("router"), Some(1));
    t.set_flow("main", "router").unwrap();
    // The active version cannot be its own canary; an unknown one neither.
    let policy = |version| CanaryPolicy {
        version,
        percent: 50,
        min_decisions: 10,
        margin_pct: 5.0,
    };
    assert!(t.set_canary("router", Some(policy(1))).is_err());
    assert!(t.set_canary("router", Some(policy(9))).is_err());
    t.set_canary("router", Some(policy(2))).unwrap();

    // Callers split about half and half, each always on the same side.
    let callers: Vec<String> = (0..60).map(|i| format!("+1555000{i:04}")).collect();
    let side = |c: &str| t.pin_flow_for("main", c).unwrap().number;
    let on_canary: Vec<&String> = callers.iter().filter(|c| side(c) == 2).collect();
    assert!((15..=45).contains(&on_canary.len()), "{}", on_canary.len());
    for c in &callers {
        assert_eq!(side(c), side(c));
    }

    // Calls come in; the canary's trap on every decision.
    let mut served = [0u32; 3];
    for c in &callers {
        let pinned = t.pin_flow_for("main", c).unwrap();
        let r = t
            .invoke_flow(&pinned, &call("acme", c, "700"), &Event::CallStarted, None)
            .await;
        assert_eq!(r.is_ok(), pinned.number == 1, "v{}: {r:?}", pinned.number);
        served[pinned.number as usize] += 1;
    }
    // Stopped after its 10th decision: no caller reaches it any more.
    assert_eq!(served[2], 10, "{served:?}");
    assert_eq!(t.canary("router"), None);
    for c in &callers {
        assert_eq!(side(c), 1);
    }
    let figures = host.figures("acme", "router", 2);
    assert_eq!((figures.decisions, figures.failures), (10, 10));
    assert_eq!(host.figures("acme", "router", 1).failures, 0);
    let stops = stops.0.lock().unwrap().clone();
    assert_eq!(stops.len(), 1);
    assert_eq!((stops[0].0.as_str(), stops[0].1), ("router", 2));
    assert!(stops[0].2.contains("100% of its 10"), "{}", stops[0].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_keeps_its_share_until_ended() {
    let host = host();
    let t = host
        .tenant(
            "acme",
            TenantSettings {
                limits: limits(),
                persistence: Arc::new(NoPersistence),
                ..TenantSettings::default()
            },
        )
        .unwrap();
    t.install("router", wasm("echo-flow"), config(&[])).unwrap();
    t.install("router", wasm("echo-flow"), config(&[("v", "2")]))
        .unwrap();
    t.set_flow("main", "router").unwrap();
    t.set_canary(
        "router",
        Some(CanaryPolicy {
            version: 2,
            percent: 30,
            min_decisions: 5,
            margin_pct: 5.0,
        }),
    )
    .unwrap();
    let mut on_canary = 0;
    for i in 0..40 {
        let c = format!("+1444{i:06}");
        let pinned = t.pin_flow_for("main", &c).unwrap();
        t.invoke_flow(&pinned, &call("acme", &c, "700"), &Event::CallStarted, None)
            .await
            .unwrap();
        on_canary += u32::from(pinned.number == 2);
    }
    assert!(on_canary >= 5, "{on_canary}");
    assert!(t.canary("router").is_some(), "never failed: kept");
    t.set_canary("router", None).unwrap();
    assert_eq!(t.pin_flow_for("main", "+14440000001").unwrap().number, 1);
}
