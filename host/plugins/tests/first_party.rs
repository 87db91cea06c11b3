//! The first-party plugins, built to components by `switchyard-artifacts`,
//! driven through the real runtime with the demo tenant's own configuration
//! (`examples/tenant-demo/tenant.json`) and realistic event sequences.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use serde_json::{Value, json};
use switchyard_plugins::directory::Extension;
use switchyard_plugins::flow_types::{
    Action, Decision, DialOutcome, DialResult, DialTarget, Event, Prompt,
};
use switchyard_plugins::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use switchyard_plugins::types::{CallRecord, Direction, Disposition, Notice, NoticeKind, Party};
use switchyard_plugins::{
    HttpPolicyConfig, InMemoryDirectory, PluginFailure, TenantLimits, TenantRuntime,
};

/// A plugin's settings in the demo tenant (`examples/tenant-demo`).
fn settings(plugin: &str) -> BTreeMap<String, String> {
    switchyard_artifacts::demo_settings(plugin)
}

fn install(t: &TenantRuntime, plugin: &str) {
    t.install(plugin, wasm(plugin), settings(plugin))
        .unwrap_or_else(|e| panic!("install {plugin}: {e}"));
}

/// The demo directory: three registered extensions with voicemail.
fn directory() -> Arc<InMemoryDirectory> {
    let dir = InMemoryDirectory::new();
    for n in ["1001", "1002", "1003"] {
        dir.put_extension(Extension {
            number: n.into(),
            display_name: None,
            registered: true,
            has_voicemail: true,
        });
    }
    dir.put_ring_group("business-broadband", vec!["1002".into(), "1003".into()]);
    Arc::new(dir)
}

fn demo_tenant(host: &switchyard_plugins::PluginHost) -> TenantRuntime {
    tenant_with_directory(host, "demo", limits(), directory())
}

/// The demo tenant with `plugin` (demo settings) serving flow `flow`.
fn flow_tenant(host: &switchyard_plugins::PluginHost, plugin: &str, flow: &str) -> TenantRuntime {
    let t = demo_tenant(host);
    install(&t, plugin);
    t.set_flow(flow, plugin).unwrap();
    t
}

fn dial_finished(outcome: DialOutcome, code: u16) -> Event {
    Event::DialFinished(DialResult {
        outcome,
        answered_by: None,
        sip_code: code,
        talk_seconds: 0,
    })
}

fn gather_prompts(d: &Decision) -> Vec<Prompt> {
    match d.actions.last() {
        Some(Action::Gather(g)) => g.prompts.clone(),
        other => panic!("expected a gather, got {other:?}"),
    }
}

fn dialled_targets(d: &Decision) -> Vec<DialTarget> {
    match &d.actions[..] {
        [.., Action::Dial(dial)] => dial.targets.clone(),
        other => panic!("expected a dial, got {other:?}"),
    }
}

fn operators() -> Vec<DialTarget> {
    vec![DialTarget::RingGroup("operators".into())]
}

#[tokio::test]
async fn ivr_menu_walks_the_classic_menu_to_business_broadband() {
    let host = host();
    let t = flow_tenant(&host, "ivr-menu", "ivr");
    let call = call("demo", "+15550111", "700");

    let d = drive(
        &t,
        "ivr",
        &call,
        &[Event::CallStarted, digits("1"), digits("1"), digits("2")],
    )
    .await;
    assert_eq!(d[0].actions[0], Action::Answer);
    assert_eq!(
        gather_prompts(&d[0]),
        vec![Prompt::File("main-menu".into())]
    );
    assert_eq!(
        gather_prompts(&d[1]),
        vec![Prompt::File("support-menu".into())]
    );
    assert_eq!(
        gather_prompts(&d[2]),
        vec![Prompt::File("broadband-menu".into())]
    );
    assert_eq!(
        dialled_targets(&d[3]),
        vec![DialTarget::RingGroup("business-broadband".into())]
    );

    // Nobody in the ring group answers: a human, then the operators' mailbox.
    let mut events = vec![Event::CallStarted, digits("1"), digits("1"), digits("2")];
    events.push(dial_finished(DialOutcome::NoAnswer, 408));
    events.push(dial_finished(DialOutcome::NoAnswer, 408));
    let d = drive(&t, "ivr", &call, &events).await;
    assert_eq!(dialled_targets(&d[4]), operators());
    match &d[5].actions[..] {
        [Action::Voicemail(v)] => assert_eq!(v.mailbox, "operators"),
        other => panic!("expected voicemail, got {other:?}"),
    }
}

#[tokio::test]
async fn ivr_menu_always_has_a_way_to_a_human() {
    let host = host();
    let t = flow_tenant(&host, "ivr-menu", "ivr");
    let call = call("demo", "+15550111", "700");

    // 0 at level 2 and at level 3.
    let d = drive(
        &t,
        "ivr",
        &call,
        &[Event::CallStarted, digits("1"), digits("0")],
    )
    .await;
    assert_eq!(dialled_targets(&d[2]), operators());
    let d = drive(
        &t,
        "ivr",
        &call,
        &[Event::CallStarted, digits("1"), digits("1"), digits("0")],
    )
    .await;
    assert_eq!(dialled_targets(&d[3]), operators());

    // No input: the menu repeats once, then a human.
    let d = drive(
        &t,
        "ivr",
        &call,
        &[
            Event::CallStarted,
            Event::GatherTimeout,
            Event::GatherTimeout,
        ],
    )
    .await;
    assert_eq!(
        gather_prompts(&d[1]),
        vec![Prompt::File("main-menu".into())]
    );
    assert_eq!(dialled_targets(&d[2]), operators());

    // An invalid digit is announced and the level repeats.
    let d = drive(
        &t,
        "ivr",
        &call,
        &[Event::CallStarted, digits("1"), digits("9")],
    )
    .await;
    assert_eq!(
        d[2].actions[0],
        Action::Play(vec![Prompt::File("invalid-option".into())])
    );
    assert_eq!(
        gather_prompts(&d[2]),
        vec![Prompt::File("support-menu".into())]
    );
}

#[tokio::test]
async fn ivr_menu_with_a_broken_menu_fails_into_the_fallback_with_the_reason_logged() {
    let host = host();
    let t = demo_tenant(&host);
    let mut cfg = settings("ivr-menu");
    cfg.insert(
        "menu".into(),
        r#"{"root": "nowhere", "human": "hangup", "nodes": {}}"#.into(),
    );
    t.install("ivr-menu", wasm("ivr-menu"), cfg).unwrap();
    t.set_flow("ivr", "ivr-menu").unwrap();
    let pinned = t.pin_flow("ivr").unwrap();
    let err = t
        .invoke_flow(
            &pinned,
            &call("demo", "+1555", "700"),
            &Event::CallStarted,
            None,
        )
        .await
        .unwrap_err();
    match err {
        PluginFailure::PluginError(msg) => assert!(msg.contains("root node `nowhere`"), "{msg}"),
        other => panic!("expected the plugin's error, got {other:?}"),
    }
}

#[tokio::test]
async fn router_rings_extensions_and_forwards_unanswered_calls_to_voicemail() {
    let host = host();
    let dir = directory();
    let t = tenant_with_directory(&host, "demo", limits(), dir.clone());
    install(&t, "router");
    t.set_flow("extensions", "router").unwrap();

    let mut c = call("demo", "1001", "1002");
    c.direction = Direction::Internal;
    let d = drive(
        &t,
        "extensions",
        &c,
        &[
            Event::CallStarted,
            dial_finished(DialOutcome::NoAnswer, 408),
        ],
    )
    .await;
    match &d[0].actions[..] {
        [Action::Dial(dial)] => {
            assert_eq!(dial.targets, vec![DialTarget::Extension("1002".into())]);
            assert_eq!(dial.ring_timeout_secs, 20);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&d[1].actions[..], [Action::Voicemail(v)] if v.mailbox == "1002"));

    // Busy is forwarded the same way.
    let d = drive(
        &t,
        "extensions",
        &c,
        &[Event::CallStarted, dial_finished(DialOutcome::Busy, 486)],
    )
    .await;
    assert!(matches!(&d[1].actions[..], [Action::Voicemail(v)] if v.mailbox == "1002"));

    // An extension with no registered phone goes straight to voicemail,
    // as the directory says.
    dir.put_extension(Extension {
        number: "1003".into(),
        display_name: None,
        registered: false,
        has_voicemail: true,
    });
    let c = call("demo", "1001", "1003");
    let d = drive(&t, "extensions", &c, &[Event::CallStarted]).await;
    assert!(matches!(&d[0].actions[..], [Action::Voicemail(v)] if v.mailbox == "1003"));

    // 700 is the IVR; unknown numbers are refused as unavailable.
    let d = drive(
        &t,
        "extensions",
        &call("demo", "1001", "700"),
        &[Event::CallStarted],
    )
    .await;
    assert_eq!(d[0].actions, vec![Action::GotoFlow("ivr".into())]);
    let d = drive(
        &t,
        "extensions",
        &call("demo", "1001", "4242"),
        &[Event::CallStarted],
    )
    .await;
    assert!(matches!(&d[0].actions[..], [Action::Reject(_)]));
}

#[tokio::test]
async fn router_tags_vip_numbers_and_queues_them_first() {
    let host = host();
    let t = flow_tenant(&host, "router", "extensions");
    let d = drive(
        &t,
        "extensions",
        &call("demo", "+14155550123", "+15550199"),
        &[Event::CallStarted],
    )
    .await;
    assert_eq!(d[0].actions[0], Action::SetTag("VIP".into()));
    match &d[0].actions[1] {
        Action::Enqueue(e) => assert_eq!((e.queue.as_str(), e.priority), ("support", 10)),
        other => panic!("{other:?}"),
    }
}

/// Milliseconds of a UTC instant given as RFC 3339 (`2026-11-24T10:00Z`).
fn utc_ms(s: &str) -> u64 {
    let t: jiff::Timestamp = s.parse().expect("an RFC 3339 instant");
    t.as_millisecond() as u64
}

#[tokio::test]
async fn business_hours_opens_the_ivr_by_day_and_announces_reopening_at_night() {
    let host = host();
    let t = flow_tenant(&host, "business-hours", "open-hours");
    let mut c = call("demo", "+14155550123", "+15550100");
    c.time_zone = "Europe/London".into();

    // Tuesday 24 November 2026, 10:00 in London: open.
    c.start_time = utc_ms("2026-11-24T10:00Z");
    let d = drive(&t, "open-hours", &c, &[Event::CallStarted]).await;
    assert_eq!(d[0].actions, vec![Action::GotoFlow("ivr".into())]);

    // 20:00: closed until tomorrow 09:00, then the operators' voicemail.
    c.start_time = utc_ms("2026-11-24T20:00Z");
    let d = drive(&t, "open-hours", &c, &[Event::CallStarted]).await;
    match &d[0].actions[..] {
        [
            Action::SetTag(tag),
            Action::Answer,
            Action::Play(prompts),
            Action::Voicemail(v),
        ] => {
            assert_eq!(tag, "after-hours");
            assert_eq!(prompts[0], Prompt::File("closed".into()));
            assert_eq!(
                prompts[1],
                Prompt::Say("We reopen tomorrow at 09:00.".into())
            );
            assert_eq!(v.mailbox, "operators");
        }
        other => panic!("{other:?}"),
    }

    // Christmas Day 2026 (a Friday): the holiday closes it; Saturday opens at 10.
    c.start_time = utc_ms("2026-12-25T11:00Z");
    let d = drive(&t, "open-hours", &c, &[Event::CallStarted]).await;
    assert!(
        matches!(&d[0].actions[2], Action::Play(p) if p[1] == Prompt::Say("We reopen tomorrow at 10:00.".into()))
    );

    // The same instant in another tenant time zone gives another answer.
    c.start_time = utc_ms("2026-11-24T10:00Z");
    c.time_zone = "America/Los_Angeles".into(); // 02:00 there
    let d = drive(&t, "open-hours", &c, &[Event::CallStarted]).await;
    assert!(
        matches!(&d[0].actions[2], Action::Play(p) if p[1] == Prompt::Say("We reopen today at 09:00.".into()))
    );
}

/// Installs `plugin` as the strategy of `queue` and returns a chooser:
/// (required skills, caller's last agent, candidates) → ordered ids.
async fn choose(
    t: &TenantRuntime,
    queue: &str,
    skills: &[&str],
    last_agent: Option<&str>,
    team: &[AgentCandidate],
) -> Vec<String> {
    let pinned = t.pin_strategy(queue).unwrap();
    let info = QueueInfo {
        name: queue.into(),
        waiting: 1,
        agents_logged_in: team.len() as u32,
    };
    t.select_agents(&pinned, &info, &waiting(skills, last_agent), team)
        .await
        .unwrap()
}

fn candidate(
    id: &str,
    skills: &[&str],
    calls: u32,
    talk: u32,
    last_end: Option<u64>,
    order: u32,
) -> AgentCandidate {
    AgentCandidate {
        id: id.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        calls_today: calls,
        talk_seconds_today: talk,
        last_call_end: last_end,
        order,
        skill_levels: vec![],
        penalty: 0,
        idle_since: last_end.unwrap_or(0),
    }
}

fn waiting(skills: &[&str], last_agent: Option<&str>) -> WaitingCall {
    WaitingCall {
        call: call("demo", "+14155550123", "+15550100"),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        priority: 0,
        waited_seconds: 12,
        last_agent: last_agent.map(Into::into),
        contact: None,
        callback: false,
    }
}

#[tokio::test]
async fn fewest_calls_strategy_orders_agents_and_sticks_to_the_last_agent() {
    let host = host();
    let t = demo_tenant(&host);
    install(&t, "fewest-calls");
    t.set_strategy("sales", "fewest-calls").unwrap();
    let team = vec![
        candidate("1002", &[], 4, 600, Some(10), 0),
        candidate("1003", &[], 1, 900, Some(20), 1),
    ];
    assert_eq!(
        choose(&t, "sales", &[], None, &team).await,
        ["1003", "1002"]
    );
    // The demo sets sticky: the agent this caller spoke to last comes first.
    assert_eq!(
        choose(&t, "sales", &[], Some("1002"), &team).await,
        ["1002", "1003"]
    );
}

#[tokio::test]
async fn round_robin_rotates_across_invocations_through_kv() {
    let host = host();
    let t = demo_tenant(&host);
    let mut cfg = settings("fewest-calls");
    cfg.insert("mode".into(), "round-robin".into());
    cfg.insert("sticky".into(), "false".into());
    t.install("fewest-calls", wasm("fewest-calls"), cfg)
        .unwrap();
    t.set_strategy("sales", "fewest-calls").unwrap();
    let team: Vec<_> = (0..3)
        .map(|i| candidate(&format!("100{}", i + 1), &[], 0, 0, None, i))
        .collect();
    let mut firsts = Vec::new();
    for _ in 0..4 {
        firsts.push(choose(&t, "sales", &[], None, &team).await[0].clone());
    }
    assert_eq!(firsts, ["1001", "1002", "1003", "1001"]);
}

#[tokio::test]
async fn skills_strategy_offers_only_qualified_agents_best_first() {
    let host = host();
    let t = demo_tenant(&host);
    install(&t, "skills");
    t.set_strategy("support", "skills").unwrap();
    let team = vec![
        candidate("1001", &["phone-line"], 0, 0, None, 0),
        candidate("1002", &["broadband", "it"], 6, 0, None, 1),
        candidate("1003", &["broadband", "phone-line"], 1, 0, None, 2),
    ];
    // Broadband: 1002 has level 3 in the demo, 1003 level 1.
    assert_eq!(
        choose(&t, "support", &["broadband"], None, &team).await,
        ["1002", "1003"]
    );
    assert_eq!(
        choose(&t, "support", &["phone-line"], None, &team).await,
        ["1003", "1001"]
    );
    assert!(
        choose(&t, "support", &["spanish"], None, &team)
            .await
            .is_empty()
    );
}

fn record(
    id: &str,
    disposition: Disposition,
    queue: Option<&str>,
    agent: Option<&str>,
) -> CallRecord {
    let start = utc_ms("2026-11-23T09:00Z");
    let answered = disposition == Disposition::Answered;
    CallRecord {
        call_id: id.into(),
        tenant: "demo".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+14155550123".into(),
            display_name: Some("Ada".into()),
        },
        callee: Party {
            number: "+15550100".into(),
            display_name: None,
        },
        dialled: "+15550100".into(),
        start_time: start,
        answer_time: answered.then_some(start + 15_000),
        end_time: start + 195_000,
        disposition,
        hangup_by: None,
        sip_code: if answered { 200 } else { 487 },
        queue: queue.map(Into::into),
        agent: agent.map(Into::into),
        tags: vec!["VIP".into()],
        recording: None,
        flow_plugin: Some("ivr-menu".into()),
        plugin_version: Some(1),
        legs: vec![],
    }
}

fn counter(t: &TenantRuntime, key: &str) -> i64 {
    match t.plugin_kv_get("call-stats", key).unwrap() {
        Some(bytes) => i64::from_le_bytes(bytes.try_into().expect("8-byte counter")),
        None => 0,
    }
}

#[tokio::test]
async fn call_stats_counts_calls_per_day_queue_and_agent() {
    let host = host();
    let t = demo_tenant(&host);
    install(&t, "call-stats");
    t.add_reporter("call-stats").unwrap();
    for r in [
        record("a", Disposition::Answered, Some("sales"), Some("1002")),
        record("b", Disposition::Answered, Some("sales"), Some("1003")),
        record("c", Disposition::Cancelled, Some("sales"), None),
        record("d", Disposition::Voicemail, None, None),
    ] {
        for (plugin, result) in t.report_call_record(&r).await {
            assert!(result.is_ok(), "{plugin}: {result:?}");
        }
    }
    let notice = Notice {
        kind: NoticeKind::CallQueued,
        call_id: "c".into(),
        at: utc_ms("2026-11-23T09:00Z"),
        queue: Some("sales".into()),
        agent: None,
        detail: None,
    };
    t.report_notice(&notice).await;

    let day = "day/2026-11-23";
    assert_eq!(counter(&t, &format!("{day}/calls")), 4);
    assert_eq!(counter(&t, &format!("{day}/answered")), 2);
    assert_eq!(counter(&t, &format!("{day}/missed")), 1);
    assert_eq!(counter(&t, &format!("{day}/voicemail")), 1);
    assert_eq!(counter(&t, &format!("{day}/talk-seconds")), 2 * 180);
    assert_eq!(counter(&t, &format!("{day}/answer-wait-ms")), 2 * 15_000);
    assert_eq!(counter(&t, &format!("{day}/queue/sales/calls")), 3);
    assert_eq!(counter(&t, &format!("{day}/queue/sales/missed")), 1);
    assert_eq!(counter(&t, &format!("{day}/agent/1002/talk-seconds")), 180);
    assert_eq!(counter(&t, &format!("{day}/notices/call-queued")), 1);
}

/// One look-up request the fake CRM received.
struct Lookup {
    uri: String,
    authorization: Option<String>,
    host: Option<String>,
}

/// What the fake CRM saw.
#[derive(Default)]
struct Seen {
    lookups: Vec<Lookup>,
    logged: Vec<Value>,
}

type Shared = Arc<Mutex<Seen>>;

/// A real HTTP server playing a CRM: Ada is known, +1555000500 makes it
/// fail, everybody else is unknown.
async fn crm_server() -> (String, Shared) {
    async fn contacts(
        State(seen): State<Shared>,
        uri: Uri,
        headers: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        seen.lock().unwrap().lookups.push(Lookup {
            uri: uri.to_string(),
            authorization: header("authorization"),
            host: header("host"),
        });
        match q.get("phone").map(String::as_str) {
            Some("+14155550123") => (
                StatusCode::OK,
                Json(json!({"results": [{
                    "id": 42, "name": "Ada Lovelace", "company": "Analytical Engines",
                    "email": "ada@example.com", "owner": "1002",
                    "url": "https://crm.example.com/c/42", "tags": ["vip"], "plan": "gold"
                }]})),
            ),
            Some("+15550005000") => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "db down"})),
            ),
            _ => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))),
        }
    }
    async fn calls(State(seen): State<Shared>, Json(body): Json<Value>) -> StatusCode {
        seen.lock().unwrap().logged.push(body);
        StatusCode::CREATED
    }
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/api/contacts", get(contacts))
        .route("/api/calls", post(calls))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api"), seen)
}

fn crm_tenant(base: &str) -> (switchyard_plugins::PluginHost, TenantRuntime) {
    // The operator allows loopback for this test; the tenant allows the host.
    let host = host_with_http(HttpPolicyConfig {
        allow_private_addresses: true,
        ..HttpPolicyConfig::default()
    });
    let limits = TenantLimits {
        http_allowlist: vec!["localhost".into()],
        ..limits()
    };
    let t = tenant_with_directory(&host, "demo", limits, directory());
    let mut cfg = settings("crm-rest");
    // By name, as a real CRM is reached: the host resolves and checks the
    // address itself.
    cfg.insert("base-url".into(), base.replace("127.0.0.1", "localhost"));
    t.install("crm-rest", wasm("crm-rest"), cfg).unwrap();
    t.set_crm("crm-rest").unwrap();
    (host, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_rest_looks_contacts_up_on_a_real_http_server() {
    let (base, seen) = crm_server().await;
    let (_host, t) = crm_tenant(&base);

    let c = t
        .try_crm_lookup("+14155550123")
        .await
        .unwrap()
        .expect("Ada is known");
    assert_eq!(c.id, "42");
    assert_eq!(c.name, "Ada Lovelace");
    assert_eq!(c.company.as_deref(), Some("Analytical Engines"));
    assert_eq!(c.owner.as_deref(), Some("1002"));
    assert_eq!(c.tags, vec!["vip"]);
    assert_eq!(c.fields, vec![("plan".to_string(), "gold".to_string())]);
    {
        let seen = seen.lock().unwrap();
        let first = &seen.lookups[0];
        assert_eq!(first.uri, "/api/contacts?phone=%2B14155550123");
        assert_eq!(first.authorization.as_deref(), Some("Bearer demo-token"));
        // The host pins the connection to the checked address but keeps the
        // name the plugin used as Host.
        let port = base.rsplit(':').next().unwrap().trim_end_matches("/api");
        assert_eq!(first.host, Some(format!("localhost:{port}")));
    }

    assert_eq!(
        t.try_crm_lookup("+19995550000").await.unwrap(),
        None,
        "404 is unknown"
    );
    match t.try_crm_lookup("+15550005000").await {
        Err(PluginFailure::PluginError(msg)) => assert!(msg.contains("500"), "{msg}"),
        other => panic!("expected the CRM's 500 as an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_rest_logs_finished_calls() {
    let (base, seen) = crm_server().await;
    let (_host, t) = crm_tenant(&base);
    t.crm_log_call(&record(
        "call-7",
        Disposition::Answered,
        Some("sales"),
        Some("1002"),
    ))
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    let body = &seen.logged[0];
    assert_eq!(body["call_id"], "call-7");
    assert_eq!(body["from"], "+14155550123");
    assert_eq!(body["disposition"], "answered");
    assert_eq!(body["agent"], "1002");
    assert_eq!(body["talk_seconds"], 180);
    assert_eq!(body["tags"], json!(["VIP"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_learns_who_is_calling_through_crm_rest() {
    let (base, _seen) = crm_server().await;
    let (_host, t) = crm_tenant(&base);
    t.install("echo-flow", wasm("echo-flow"), BTreeMap::new())
        .unwrap();
    t.set_flow("main", "echo-flow").unwrap();
    let d = drive(
        &t,
        "main",
        &call("demo", "+14155550123", "+15550100"),
        &[digits("who")],
    )
    .await;
    assert_eq!(d[0].actions, vec![Action::SetTag("Ada Lovelace".into())]);
}

#[tokio::test]
async fn crm_rest_cannot_reach_hosts_the_tenant_did_not_allow() {
    let (base, seen) = crm_server().await;
    // Loopback allowed by the operator, but the tenant allowlist is empty.
    let host = host_with_http(HttpPolicyConfig {
        allow_private_addresses: true,
        ..HttpPolicyConfig::default()
    });
    let t = tenant_with_directory(&host, "demo", limits(), directory());
    let mut cfg = settings("crm-rest");
    cfg.insert("base-url".into(), base);
    t.install("crm-rest", wasm("crm-rest"), cfg).unwrap();
    t.set_crm("crm-rest").unwrap();
    match t.try_crm_lookup("+14155550123").await {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(msg.contains("HttpRequestDenied"), "{msg}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        seen.lock().unwrap().lookups.is_empty(),
        "no request left the host"
    );
}

#[tokio::test]
async fn hello_flow_example_greets_and_rings_the_configured_agent() {
    let host = host();
    let t = demo_tenant(&host);
    let mut cfg = BTreeMap::new();
    cfg.insert("agent".to_string(), "1003".to_string());
    t.install("hello-flow", wasm("hello-flow"), cfg).unwrap();
    t.set_flow("main", "hello-flow").unwrap();
    let d = drive(
        &t,
        "main",
        &call("demo", "+14155550123", "+15550100"),
        &[
            Event::CallStarted,
            dial_finished(DialOutcome::NoAnswer, 408),
        ],
    )
    .await;
    assert_eq!(d[0].actions[0], Action::Answer);
    assert_eq!(
        d[0].actions[1],
        Action::Play(vec![Prompt::Say("Hello, connecting you now.".into())])
    );
    assert_eq!(
        dialled_targets(&d[0]),
        vec![DialTarget::Extension("1003".into())]
    );
    assert!(matches!(&d[1].actions[..], [Action::Voicemail(v)] if v.mailbox == "1003"));
}
