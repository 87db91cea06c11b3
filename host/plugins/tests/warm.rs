//! Agent rankings on kept ("warm") instances, with a real component that
//! counts its decisions in its own memory (`stateful-ranker`): when the
//! host keeps an instance, when it drops it, and that every decision still
//! gets its own budgets.

mod common;

use common::*;
use switchyard_plugins::queue_types::{QueueInfo, WaitingCall};
use switchyard_plugins::{HostConfig, Pinned, PluginFailure, PluginHost, TenantRuntime};

fn queue() -> QueueInfo {
    QueueInfo {
        name: "sales".into(),
        waiting: 1,
        agents_logged_in: 2,
    }
}

fn waiting() -> WaitingCall {
    WaitingCall {
        call: call("acme", "+15550100", "600"),
        skills: vec![],
        priority: 0,
        waited_seconds: 3,
        last_agent: None,
        contact: None,
        callback: false,
    }
}

fn ranker(host: &PluginHost, tenant: &str, settings: &[(&str, &str)]) -> (TenantRuntime, Pinned) {
    let t = common::tenant(host, tenant, limits());
    t.install("stateful", wasm("stateful-ranker"), config(settings))
        .unwrap();
    t.set_strategy("ours", "stateful").unwrap();
    let p = t.pin_strategy("ours").unwrap();
    (t, p)
}

async fn rank(t: &TenantRuntime, p: &Pinned) -> Result<Vec<String>, PluginFailure> {
    t.select_agents(p, &queue(), &waiting(), &[agent("a", 0), agent("b", 1)])
        .await
}

/// The `decision N` lines the plugin logged, in order: N is counted in the
/// instance's own memory.
fn decisions(t: &TenantRuntime) -> Vec<u32> {
    t.recent_logs()
        .iter()
        .filter_map(|l| l.message.strip_prefix("decision ")?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranking_instance_serves_the_next_decisions_of_its_version() {
    let host = host();
    let (t, p) = ranker(&host, "acme", &[]);
    assert!(!p.keeps_warm_instance());
    for _ in 0..3 {
        assert_eq!(rank(&t, &p).await.unwrap(), ["a", "b"]);
    }
    assert_eq!(decisions(&t), [1, 2, 3], "one instance made all three");
    assert!(p.keeps_warm_instance());
    assert_eq!(host.warm_instances(), 1);

    // A new version starts from a fresh instance; the old one's stays
    // with it until it is dropped.
    let v2 = t
        .install("stateful", wasm("stateful-ranker"), config(&[]))
        .unwrap();
    t.activate("stateful", v2).unwrap();
    let p2 = t.pin_strategy("ours").unwrap();
    rank(&t, &p2).await.unwrap();
    assert_eq!(decisions(&t), [1, 2, 3, 1]);
    assert_eq!(host.warm_instances(), 2);
    drop((p, p2, t));
    assert_eq!(
        host.warm_instances(),
        0,
        "kept instances go with their version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_trapped_is_not_used_again() {
    let host = host();
    let (t, p) = ranker(&host, "acme", &[("trap-at", "2")]);
    rank(&t, &p).await.unwrap();
    assert!(matches!(rank(&t, &p).await, Err(PluginFailure::Trap(_))));
    assert!(!p.keeps_warm_instance());
    assert_eq!(host.warm_instances(), 0);
    // The next decision runs on a fresh instance: its count starts again
    // (and it does not trap: that instance's second decision is at 2).
    assert_eq!(rank(&t, &p).await.unwrap(), ["a", "b"]);
    assert_eq!(decisions(&t), [1, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_memory_grew_past_the_bound_is_not_kept() {
    let host = PluginHost::new(HostConfig {
        max_instances: 16,
        warm_instance_memory_bytes: 4 << 20,
        ..HostConfig::default()
    })
    .unwrap();
    // 1 MiB leaked per decision: an instance is kept until its memory
    // passes 4 MiB, so no instance makes more than a handful of decisions
    // and the count starts again each time it is dropped.
    let (t, p) = ranker(&host, "acme", &[("leak-kib", "1024")]);
    for _ in 0..12 {
        rank(&t, &p).await.unwrap();
    }
    let counts = decisions(&t);
    assert_eq!(counts.len(), 12);
    let restarts = counts.iter().filter(|&&n| n == 1).count();
    assert!(restarts >= 3, "instances were replaced: {counts:?}");
    assert!(
        counts.iter().all(|&n| n <= 4),
        "none grew far past the bound: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_on_a_kept_instance_gets_the_whole_cpu_budget() {
    let host = host();
    // 50 ms of guest CPU per decision (`limits()`); each decision spins
    // 20 ms. Four on one instance are 80 ms together: they pass only if
    // the budget is counted per decision, as on fresh instances.
    let (t, p) = ranker(&host, "acme", &[("burn-ms", "20")]);
    for _ in 0..4 {
        rank(&t, &p).await.unwrap();
    }
    assert_eq!(decisions(&t), [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_keeps_no_more_instances_than_its_cap() {
    let host = PluginHost::new(HostConfig {
        max_instances: 16,
        max_warm_instances: 1,
        ..HostConfig::default()
    })
    .unwrap();
    let (a, pa) = ranker(&host, "acme", &[]);
    let (b, pb) = ranker(&host, "globex", &[]);
    for _ in 0..2 {
        rank(&a, &pa).await.unwrap();
        rank(&b, &pb).await.unwrap();
    }
    assert_eq!(host.warm_instances(), 1);
    assert_eq!(decisions(&a), [1, 2], "the first tenant's instance is kept");
    assert_eq!(
        decisions(&b),
        [1, 1],
        "the second's is not: the cap is full"
    );
    assert!(pa.keeps_warm_instance() && !pb.keeps_warm_instance());

    let none = PluginHost::new(HostConfig {
        max_instances: 16,
        max_warm_instances: 0,
        ..HostConfig::default()
    })
    .unwrap();
    let (c, pc) = ranker(&none, "acme", &[]);
    rank(&c, &pc).await.unwrap();
    rank(&c, &pc).await.unwrap();
    assert_eq!(
        decisions(&c),
        [1, 1],
        "a cap of 0 instantiates every decision"
    );
}
