//! Flow decisions on spare instances (made ahead, off the decision's path,
//! by the host's spare maker): each decision still runs in an instance no
//! decision used before, gets its whole budget, and spares go with their
//! tenant. The maker runs on its own thread, woken by the epoch ticker, so
//! these tests wait for spares with a generous deadline rather than a
//! fixed sleep.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard_plugins::flow_types::Event;
use switchyard_plugins::{HostConfig, Pinned, PluginFailure, PluginHost, TenantLimits};

/// Waits until `ready` holds; fails the test after 20 s.
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn spares_ready(p: &Pinned) {
    eventually("the version's spares are made", || p.spare_instances() > 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_runs_in_an_instance_no_decision_used_before() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let p = t.pin("echo").unwrap();
    let call = call("acme", "+15550100", "100");
    // The first decision finds no spare; each after it asks for more.
    for i in 0..12 {
        if i % 3 == 1 {
            spares_ready(&p).await;
        }
        let d = t
            .invoke_flow(&p, &call, &digits("memory"), None)
            .await
            .unwrap();
        // The component counts these events in its own memory: an
        // instance that had served a decision before would say 2.
        assert_eq!(tags(&d.actions), ["memory=1"], "decision {i}");
    }
    assert!(
        p.decisions_on_spares() >= 4,
        "decisions on spares: {}",
        p.decisions_on_spares()
    );
    assert!(host.spare_instances() as usize >= p.spare_instances());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_decision_on_a_spare_is_stopped_by_its_cpu_budget() {
    let host = host();
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            cpu: Duration::from_millis(20),
            ..limits()
        },
    );
    t.install("spin", wasm("spin-flow"), config(&[])).unwrap();
    let p = t.pin("spin").unwrap();
    let call = call("acme", "1", "2");
    let r = t.invoke_flow(&p, &call, &Event::CallStarted, None).await;
    assert_eq!(r, Err(PluginFailure::CpuBudgetExceeded), "inline");
    for _ in 0..3 {
        spares_ready(&p).await;
        let before = p.decisions_on_spares();
        let r = t.invoke_flow(&p, &call, &Event::CallStarted, None).await;
        assert_eq!(r, Err(PluginFailure::CpuBudgetExceeded));
        assert_eq!(p.decisions_on_spares(), before + 1, "ran on a spare");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_go_with_their_version_and_tenant() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    // echo-flow imports `contacts`, whose state refers back to its tenant.
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let p = t.pin("echo").unwrap();
    t.invoke_flow(&p, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await
        .unwrap();
    spares_ready(&p).await;
    eventually("the host counts the version's spares", || {
        host.spare_instances() > 0
    })
    .await;
    drop((p, t));
    eventually("the spares are dropped with the tenant", || {
        host.spare_instances() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_stay_within_their_share_of_the_pool_and_can_be_turned_off() {
    // 16 instances: an eighth, 2, may be spares.
    let host = host();
    let t = tenant(&host, "acme", limits());
    for name in ["a", "b", "c"] {
        t.install(name, wasm("echo-flow"), config(&[])).unwrap();
        let p = t.pin(name).unwrap();
        t.invoke_flow(&p, &call("acme", "1", "2"), &digits("memory"), None)
            .await
            .unwrap();
    }
    eventually("two spares are made", || host.spare_instances() == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(host.spare_instances(), 2, "no more than the share");

    let none = PluginHost::new(HostConfig {
        max_instances: 16,
        max_spare_instances: 0,
        ..HostConfig::default()
    })
    .unwrap();
    let t = tenant(&none, "acme", limits());
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let p = t.pin("echo").unwrap();
    for _ in 0..3 {
        let d = t
            .invoke_flow(&p, &call("acme", "1", "2"), &digits("memory"), None)
            .await
            .unwrap();
        assert_eq!(tags(&d.actions), ["memory=1"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(none.spare_instances(), 0);
    assert_eq!(p.decisions_on_spares(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_version_gives_its_spares_to_one_that_decides() {
    // 16 instances: 2 spares host-wide.
    let host = PluginHost::new(HostConfig {
        max_instances: 16,
        spare_idle: Duration::from_millis(100),
        ..HostConfig::default()
    })
    .unwrap();
    let t = tenant(&host, "acme", limits());
    t.install("old", wasm("echo-flow"), config(&[])).unwrap();
    t.install("new", wasm("echo-flow"), config(&[])).unwrap();
    let (old, new) = (t.pin("old").unwrap(), t.pin("new").unwrap());
    let memory = digits("memory");
    let call = call("acme", "1", "2");
    t.invoke_flow(&old, &call, &memory, None).await.unwrap();
    eventually("the old version holds the host's two spares", || {
        old.spare_instances() == 2
    })
    .await;
    // Within the idle time the old version keeps them.
    t.invoke_flow(&new, &call, &memory, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(old.spare_instances() + new.spare_instances(), 2);
    // Past it, the version that decides gets them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    t.invoke_flow(&new, &call, &memory, None).await.unwrap();
    eventually("the new version's spares are made", || {
        new.spare_instances() == 2
    })
    .await;
    assert_eq!(old.spare_instances(), 0);
}
