//! Components built against `switchyard:plugin@0.1.0` and `@0.2.0` (the
//! fixtures in `tests/fixtures/`, never rebuilt) keep loading and working
//! next to components built with the current SDK (0.2.2), through real
//! wasmtime.

mod common;

use std::sync::Arc;

use common::*;
use switchyard_plugins::directory::Extension;
use switchyard_plugins::flow_types::{Action, Decision, Event, QueueExit, QueueResult};
use switchyard_plugins::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use switchyard_plugins::types::Contact;
use switchyard_plugins::{InMemoryDirectory, InterfaceVersion, TenantRuntime, World};

const ECHO_0_1: &[u8] = include_bytes!("fixtures/event-echo-flow-0.1.0.wasm");
const ROUTER_0_1: &[u8] = include_bytes!("fixtures/router-0.1.0.wasm");
const FEWEST_CALLS_0_1: &[u8] = include_bytes!("fixtures/fewest-calls-0.1.0.wasm");

fn finished(reason: QueueExit) -> Event {
    Event::QueueFinished(QueueResult {
        queue: "support".into(),
        reason,
        waited_seconds: 95,
        key: (reason == QueueExit::Key).then(|| "5".into()),
    })
}

/// Installs `bytes` as `plugin` serving flow `main` and runs `event`.
async fn flow_decides(t: &TenantRuntime, event: &Event, state: Option<Vec<u8>>) -> Decision {
    let pinned = t.pin_flow("main").unwrap();
    t.invoke_flow(&pinned, &call("acme", "+15550100", "100"), event, state)
        .await
        .unwrap_or_else(|f| panic!("{event:?}: {f}; logs: {:?}", t.recent_logs()))
}

fn flow_tenant(plugin: &str, bytes: &[u8], settings: &[(&str, &str)]) -> TenantRuntime {
    let dir = InMemoryDirectory::new();
    dir.put_extension(Extension {
        number: "1001".into(),
        display_name: None,
        registered: true,
        has_voicemail: true,
    });
    let t = tenant_with_directory(&host(), "acme", limits(), Arc::new(dir));
    t.install(plugin, bytes, config(settings)).unwrap();
    t.set_flow("main", plugin).unwrap();
    t
}

#[test]
fn both_fixtures_load_as_0_1_components_and_current_ones_as_0_2() {
    let host = host();
    let echo = host.load(ECHO_0_1).unwrap();
    assert_eq!(echo.world(), World::CallFlow);
    assert_eq!(echo.interface_version(), InterfaceVersion::V0_1);
    let router = host.load(ROUTER_0_1).unwrap();
    assert_eq!(router.world(), World::CallFlow);
    assert_eq!(router.interface_version(), InterfaceVersion::V0_1);
    let strategy = host.load(FEWEST_CALLS_0_1).unwrap();
    assert_eq!(strategy.world(), World::QueueStrategy);
    assert_eq!(strategy.interface_version(), InterfaceVersion::V0_1);
    for name in ["event-echo", "router", "fewest-calls", "inspect-strategy"] {
        let c = host.load(wasm(name)).unwrap();
        assert_eq!(c.interface_version(), InterfaceVersion::V0_2, "{name}");
    }
}

/// 0.2.2's `account-events` (and `billing-reporter`) is an addition: the
/// components built before it load as the same worlds and versions, and a
/// tenant whose roles they fill has no one to tell an account notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_built_before_account_events_load_as_before() {
    let host = host();
    for (bytes, world, version) in [
        (ECHO_0_1, World::CallFlow, InterfaceVersion::V0_1),
        (ROUTER_0_1, World::CallFlow, InterfaceVersion::V0_1),
        (
            FEWEST_CALLS_0_1,
            World::QueueStrategy,
            InterfaceVersion::V0_1,
        ),
        (
            FEWEST_CALLS_0_2_0,
            World::QueueStrategy,
            InterfaceVersion::V0_2,
        ),
    ] {
        let c = host.load(bytes).unwrap();
        assert_eq!((c.world(), c.interface_version()), (world, version));
    }
    let t = strategy_tenant(FEWEST_CALLS_0_2_0, &[]);
    let notice = switchyard_plugins::account_types::AccountNotice {
        kind: switchyard_plugins::account_types::AccountNoticeKind::LowBalance,
        balance: "0.9".into(),
        threshold: "1".into(),
        currency: "EUR".into(),
        at: 0,
    };
    assert!(t.report_account_notice(&notice).await.is_empty());
    assert!(!rank(&t, &waiting(None, None)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_flow_decides_on_call_started() {
    let t = flow_tenant("echo", ECHO_0_1, &[]);
    let d = flow_decides(&t, &Event::CallStarted, None).await;
    assert_eq!(
        d.actions,
        vec![Action::Answer, Action::SetTag("Event::CallStarted".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_flow_gets_queue_finished_as_the_event_it_knew() {
    let t = flow_tenant("echo", ECHO_0_1, &[]);
    let d = flow_decides(&t, &finished(QueueExit::Timeout), None).await;
    assert_eq!(tags(&d.actions), ["Event::QueueTimeout(\"support\")"]);
    for reason in [
        QueueExit::Full,
        QueueExit::NoAgents,
        QueueExit::Empty,
        QueueExit::Key,
    ] {
        let d = flow_decides(&t, &finished(reason), None).await;
        assert_eq!(
            tags(&d.actions),
            ["Event::QueueOverflow(\"support\")"],
            "{reason:?}"
        );
    }
    // No 0.1.0 counterpart: the flow is not asked and its state is kept.
    let d = flow_decides(&t, &finished(QueueExit::Answered), Some(vec![7])).await;
    assert_eq!(
        d,
        Decision {
            actions: vec![],
            state: Some(vec![7])
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0_1_router_still_routes_and_forwards_when_the_queue_gives_up() {
    let routes = r#"{"rules": [
        {"match": "100", "go": {"queue": "support"}, "no-answer": {"voicemail": "1001"}}]}"#;
    let t = flow_tenant("router", ROUTER_0_1, &[("routes", routes)]);
    let started = flow_decides(&t, &Event::CallStarted, None).await;
    assert!(
        matches!(&started.actions[..], [Action::Enqueue(e)] if e.queue == "support"),
        "{started:?}"
    );
    let d = flow_decides(&t, &finished(QueueExit::NoAgents), started.state).await;
    assert!(
        matches!(&d.actions[..], [Action::Voicemail(v)] if v.mailbox == "1001"),
        "{d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_flow_gets_queue_finished_with_every_field() {
    let t = flow_tenant("echo", wasm("event-echo"), &[]);
    let d = flow_decides(&t, &finished(QueueExit::Key), None).await;
    assert_eq!(
        tags(&d.actions),
        [
            "Event::QueueFinished(QueueResult { queue: \"support\", reason: QueueExit::Key, waited-seconds: 95, key: Some(\"5\") })"
        ]
    );
    let d = flow_decides(&t, &finished(QueueExit::Timeout), None).await;
    assert_eq!(
        tags(&d.actions),
        [
            "Event::QueueFinished(QueueResult { queue: \"support\", reason: QueueExit::Timeout, waited-seconds: 95, key: None })"
        ]
    );
}

fn candidate(id: &str, calls: u32, idle_since: u64, order: u32) -> AgentCandidate {
    AgentCandidate {
        id: id.into(),
        skills: vec!["broadband".into()],
        calls_today: calls,
        talk_seconds_today: 60 * calls,
        last_call_end: Some(idle_since),
        order,
        skill_levels: vec![("broadband".into(), 70 + order as u8)],
        penalty: order,
        idle_since,
    }
}

fn team() -> Vec<AgentCandidate> {
    vec![
        candidate("1001", 5, 1_000, 0),
        candidate("1002", 1, 3_000, 1),
        candidate("1003", 3, 2_000, 2),
    ]
}

fn queue() -> QueueInfo {
    QueueInfo {
        name: "support".into(),
        waiting: 2,
        agents_logged_in: 4,
    }
}

fn waiting(last_agent: Option<&str>, owner: Option<&str>) -> WaitingCall {
    WaitingCall {
        call: call("acme", "+15550100", "100"),
        skills: vec!["broadband".into()],
        priority: 5,
        waited_seconds: 30,
        last_agent: last_agent.map(Into::into),
        contact: owner.map(|o| Contact {
            id: "crm-42".into(),
            name: "Ada Lovelace".into(),
            company: None,
            email: None,
            owner: Some(o.into()),
            url: None,
            tags: vec!["vip".into()],
            fields: vec![],
        }),
        callback: true,
    }
}

async fn rank(t: &TenantRuntime, call: &WaitingCall) -> Vec<String> {
    let pinned = t.pin_strategy("support").unwrap();
    t.select_agents(&pinned, &queue(), call, &team())
        .await
        .unwrap_or_else(|f| panic!("{f}; logs: {:?}", t.recent_logs()))
}

fn strategy_tenant(bytes: &[u8], settings: &[(&str, &str)]) -> TenantRuntime {
    let t = tenant(&host(), "acme", limits());
    t.install("strategy", bytes, config(settings)).unwrap();
    t.set_strategy("support", "strategy").unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_strategy_ranks_candidates_given_with_the_new_fields() {
    let t = strategy_tenant(FEWEST_CALLS_0_1, &[("sticky", "true")]);
    // Fewest calls today first.
    assert_eq!(
        rank(&t, &waiting(None, Some("1001"))).await,
        ["1002", "1003", "1001"]
    );
    // Sticky to the last agent, which 0.1.0 knew.
    assert_eq!(
        rank(&t, &waiting(Some("1003"), None)).await,
        ["1003", "1002", "1001"]
    );
    // Round robin keeps its place in kv (kv@0.1.0 is served).
    let t = strategy_tenant(
        FEWEST_CALLS_0_1,
        &[("mode", "round-robin"), ("sticky", "false")],
    );
    let mut firsts = Vec::new();
    for _ in 0..4 {
        firsts.push(rank(&t, &waiting(None, None)).await[0].clone());
    }
    assert_eq!(firsts, ["1001", "1002", "1003", "1001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_strategy_sees_the_new_fields() {
    let t = strategy_tenant(wasm("inspect-strategy"), &[]);
    // Ranked by idle-since, earliest first.
    assert_eq!(
        rank(&t, &waiting(Some("1002"), Some("1003"))).await,
        ["1001", "1003", "1002"]
    );
    let logs: Vec<String> = t.recent_logs().into_iter().map(|l| l.message).collect();
    assert_eq!(
        logs,
        [
            "queue=support logged-in=4 callback=true contact=crm-42/1003",
            "agent=1001 levels=[(\"broadband\", 70)] penalty=0 idle-since=1000",
            "agent=1002 levels=[(\"broadband\", 71)] penalty=1 idle-since=3000",
            "agent=1003 levels=[(\"broadband\", 72)] penalty=2 idle-since=2000",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_fewest_calls_sticks_to_the_contact_owner() {
    let t = strategy_tenant(wasm("fewest-calls"), &[("sticky", "true")]);
    assert_eq!(
        rank(&t, &waiting(None, Some("1001"))).await,
        ["1001", "1002", "1003"]
    );
    assert_eq!(
        rank(&t, &waiting(Some("1003"), Some("1001"))).await,
        ["1003", "1002", "1001"]
    );
}

const FEWEST_CALLS_0_2_0: &[u8] = include_bytes!("fixtures/fewest-calls-0.2.0.wasm");

/// The `switchyard:plugin` interfaces a component exports.
fn exports(bytes: &[u8]) -> Vec<String> {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, bytes).unwrap();
    component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .filter(|n| n.starts_with("switchyard:plugin/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_0_strategy_is_served_through_select_and_ranks_as_the_current_ranker() {
    // Built before 0.2.1: it exports `strategy@0.2.0` and imports 0.2.0
    // names, which the host's 0.2.x bindings match by semver.
    assert_eq!(
        exports(FEWEST_CALLS_0_2_0),
        ["switchyard:plugin/strategy@0.2.0"]
    );
    // Today's SDK builds the same plugin as a ranker (columns in,
    // positions out).
    assert_eq!(
        exports(wasm("fewest-calls")),
        ["switchyard:plugin/ranking@0.2.2"]
    );
    let old = strategy_tenant(FEWEST_CALLS_0_2_0, &[("sticky", "true")]);
    let new = strategy_tenant(wasm("fewest-calls"), &[("sticky", "true")]);
    for (last, owner) in [
        (None, None),
        (None, Some("1001")),
        (Some("1003"), Some("1001")),
        (Some("1009"), Some("1002")),
    ] {
        let call = waiting(last, owner);
        let by_select = rank(&old, &call).await;
        assert_eq!(by_select.len(), 3, "{last:?} {owner:?}");
        assert_eq!(rank(&new, &call).await, by_select, "{last:?} {owner:?}");
    }
    for mode in ["least-talk-time", "longest-idle", "round-robin"] {
        let old = strategy_tenant(FEWEST_CALLS_0_2_0, &[("mode", mode)]);
        let new = strategy_tenant(wasm("fewest-calls"), &[("mode", mode)]);
        for _ in 0..3 {
            let call = waiting(None, None);
            assert_eq!(rank(&new, &call).await, rank(&old, &call).await, "{mode}");
        }
    }
}

/// `rank_agents` (columns in, positions out; what the queue service calls)
/// over `team()`, answered as ids.
async fn rank_columns(t: &TenantRuntime, call: &WaitingCall, takes_records: bool) -> Vec<String> {
    let pinned = t.pin_strategy("support").unwrap();
    let team = team();
    let columns = switchyard_plugins::candidate_columns(
        team.iter().map(switchyard_plugins::CandidateRef::from),
    );
    let mut asked_for_records = false;
    let order = t
        .rank_agents(&pinned, &queue(), call, &columns, || {
            asked_for_records = true;
            team.clone()
        })
        .await
        .unwrap_or_else(|f| panic!("{f}; logs: {:?}", t.recent_logs()));
    // Only a strategy that takes records is given them.
    assert_eq!(asked_for_records, takes_records);
    order
        .into_iter()
        .map(|p| team[p as usize].id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_reach_rankers_as_they_are_and_record_strategies_as_records() {
    for (bytes, takes_records) in [
        (FEWEST_CALLS_0_1, true),
        (FEWEST_CALLS_0_2_0, true),
        (wasm("fewest-calls"), false),
    ] {
        let t = strategy_tenant(bytes, &[("sticky", "true")]);
        for (last, owner) in [(None, None), (Some("1003"), None), (None, Some("1001"))] {
            let call = waiting(last, owner);
            let by_columns = rank_columns(&t, &call, takes_records).await;
            assert_eq!(by_columns.len(), 3);
            assert_eq!(by_columns, rank(&t, &call).await);
        }
    }
}

/// A reporter as built by the 0.2.2 SDK (`fixtures/call-stats-0.2.2.wasm`,
/// never rebuilt): it loads as a 0.2 reporter and counts a call record in
/// its kv as the day it was built. When the interface moves on, this is
/// what proves today's reporters keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporter_built_by_the_0_2_2_sdk_keeps_counting() {
    use switchyard_plugins::types::{CallRecord, Direction, Disposition, Party};
    const CALL_STATS_0_2_2: &[u8] = include_bytes!("fixtures/call-stats-0.2.2.wasm");
    let host = host();
    let c = host.load(CALL_STATS_0_2_2).unwrap();
    assert_eq!(
        (c.world(), c.interface_version()),
        (World::Reporter, InterfaceVersion::V0_2)
    );
    let t = tenant(&host, "acme", limits());
    t.install("call-stats", CALL_STATS_0_2_2, config(&[]))
        .unwrap();
    t.add_reporter("call-stats").unwrap();
    let party = |n: &str| Party {
        number: n.into(),
        display_name: None,
    };
    let start = 1_795_424_400_000; // 2026-11-23T09:00Z
    let record = CallRecord {
        call_id: "c1".into(),
        tenant: "acme".into(),
        direction: Direction::Inbound,
        caller: party("+14155550123"),
        callee: party("+15550100"),
        dialled: "+15550100".into(),
        start_time: start,
        answer_time: Some(start + 10_000),
        end_time: start + 70_000,
        disposition: Disposition::Answered,
        hangup_by: None,
        sip_code: 200,
        queue: None,
        agent: None,
        tags: vec![],
        recording: None,
        flow_plugin: None,
        plugin_version: None,
        legs: vec![],
    };
    for (plugin, r) in t.report_call_record(&record).await {
        assert!(r.is_ok(), "{plugin}: {r:?}");
    }
    let answered = t
        .plugin_kv_get("call-stats", "day/2026-11-23/answered")
        .unwrap()
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()));
    assert_eq!(answered, Some(1));
}
