//! The JavaScript call flow (`examples/call-flow-js`, built with the SDK in
//! `sdk/js` by componentize-js) driven through the real runtime: its menu,
//! the way to a human, business hours by the event's time, state between
//! events, kv and config, and a bad configuration failing clearly.
//!
//! The component is built by `scripts/build-js-plugins` (npm, outside
//! cargo) to `$CARGO_TARGET_DIR/polyglot/call-flow-js.wasm`; these tests
//! fail, naming that script, when it is missing.
//!
//! A JavaScript component is the SpiderMonkey engine with the flow's code
//! snapshotted into it: ~12 MB, with a linear memory of 9 MiB at its start
//! (145 pages), so its tenant gets more memory than the Rust plugins'
//! tests give theirs (`js_limits`).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use serde_json::{Value, json};
use switchyard_plugins::flow_types::{
    Action, Decision, DialOutcome, DialResult, DialTarget, Event, Prompt, QueueExit, QueueResult,
    RejectReason,
};
use switchyard_plugins::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use switchyard_plugins::types::CallSnapshot;
use switchyard_plugins::{
    HostConfig, HttpPolicyConfig, InMemoryDirectory, PluginFailure, PluginHost, TenantLimits,
    TenantRuntime,
};

const PLUGIN: &str = "call-flow-js";
const MIB: usize = 1 << 20;

/// Where `scripts/build-js-plugins` puts the component: beside the test
/// binary's profile directory (`<target>/debug/deps/javascript-…` →
/// `<target>/polyglot/`), unless `SWITCHYARD_JS_FLOW` names another file.
fn component_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SWITCHYARD_JS_FLOW") {
        return p.into();
    }
    polyglot("call-flow-js")
}

/// `<target>/polyglot/<name>.wasm`.
fn polyglot(name: &str) -> PathBuf {
    polyglot_dir().join(format!("{name}.wasm"))
}

/// `<target>/polyglot`, where `scripts/build-js-plugins` writes.
fn polyglot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .find(|d| d.join("polyglot").is_dir())
        .or_else(|| exe.ancestors().nth(3))
        .expect("target directory");
    target.join("polyglot")
}

fn component() -> Vec<u8> {
    read_built(component_path())
}

fn read_built(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the JavaScript component is not built ({}: {e}); run `scripts/build-js-plugins` \
             (with the same CARGO_TARGET_DIR) before these tests — scripts/test does",
            path.display()
        )
    })
}

/// The host: the default upload cap (16 MiB) takes the ~12 MB component.
/// Compiled components come from `compiled_cache()`.
fn js_host() -> PluginHost {
    PluginHost::new(HostConfig {
        max_instances: 16,
        cache_dir: Some(compiled_cache()),
        ..HostConfig::default()
    })
    .expect("plugin host")
}

/// Compiling a JavaScript component takes ~20 s in the test profile (a
/// Rust plugin: 0.4 s), so it is compiled once per run: the first test
/// to get here compiles every built one into `<target>/polyglot/compiled`
/// (the host's own on-disk cache; `scripts/build-js-plugins` empties it
/// when it rebuilds), while the others wait; every test's host then loads
/// them from there (~2 s). A component that is missing is left to the
/// test, which says how to build it.
fn compiled_cache() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = polyglot_dir().join("compiled");
        let host = PluginHost::new(HostConfig {
            max_instances: 1,
            cache_dir: Some(dir.clone()),
            ..HostConfig::default()
        })
        .expect("plugin host");
        for path in [
            component_path(),
            polyglot("crm-connector-js"),
            polyglot("queue-ranker-js"),
        ] {
            if let Ok(bytes) = std::fs::read(&path) {
                let _ = host.load(&bytes);
            }
        }
        dir
    })
    .clone()
}

/// The Rust plugins' test limits with 32 MiB of linear memory: the engine
/// starts at 9 MiB and grows while it runs (`switchyard-bench polyglot`).
fn js_limits() -> TenantLimits {
    TenantLimits {
        memory_bytes: 32 * MIB,
        ..limits()
    }
}

/// The IVR of `example-config.json`: Paris hours, Monday–Thursday
/// 09:00–12:30 and 13:30–18:00, Friday 09:00–17:00.
fn example_config() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/call-flow-js/example-config.json"
    ))
    .expect("example-config.json")
}

fn js_tenant(host: &PluginHost, ivr: &str) -> TenantRuntime {
    js_tenant_named(host, "acme", ivr)
}

fn js_tenant_named(host: &PluginHost, id: &str, ivr: &str) -> TenantRuntime {
    let t = tenant_with_directory(host, id, js_limits(), Arc::new(InMemoryDirectory::new()));
    t.install(PLUGIN, &component(), config(&[("ivr", ivr)]))
        .unwrap_or_else(|e| panic!("install {PLUGIN}: {e}"));
    t.set_flow("ivr", PLUGIN).unwrap();
    t
}

/// Milliseconds of a UTC instant given as RFC 3339 (`2026-11-24T10:00Z`).
fn utc_ms(s: &str) -> u64 {
    let t: jiff::Timestamp = s.parse().expect("an RFC 3339 instant");
    t.as_millisecond() as u64
}

/// A call to the IVR at `utc` (the tenant's zone: Paris).
fn call_at(utc: &str) -> CallSnapshot {
    let mut c = call("acme", "+33155501234", "+33100000000");
    c.start_time = utc_ms(utc);
    c
}

/// Tuesday 24 November 2026, 10:00 in Paris: open.
const OPEN: &str = "2026-11-24T09:00Z";

fn no_answer() -> Event {
    Event::DialFinished(DialResult {
        outcome: DialOutcome::NoAnswer,
        answered_by: None,
        sip_code: 408,
        talk_seconds: 0,
    })
}

fn left_queue(reason: QueueExit) -> Event {
    Event::QueueFinished(QueueResult {
        queue: "support".into(),
        reason,
        waited_seconds: 120,
        key: None,
    })
}

fn menu_prompts() -> Vec<Prompt> {
    vec![
        Prompt::File("welcome".into()),
        Prompt::Say(
            "For sales press 1, for support press 2, for accounts press 3, or 0 for an operator."
                .into(),
        ),
    ]
}

fn gathered_prompts(d: &Decision) -> Vec<Prompt> {
    match d.actions.last() {
        Some(Action::Gather(g)) => {
            assert_eq!(g.max_digits, 1);
            g.prompts.clone()
        }
        other => panic!("expected a gather, got {other:?}"),
    }
}

fn dialled(d: &Decision) -> Vec<DialTarget> {
    match &d.actions[..] {
        [Action::Dial(dial)] => dial.targets.clone(),
        other => panic!("expected one dial, got {other:?}"),
    }
}

fn operator() -> Vec<DialTarget> {
    vec![DialTarget::Extension("1001".into())]
}

/// A kv counter as the plugin wrote it (8-byte little-endian).
fn counter(t: &TenantRuntime, key: &str) -> i64 {
    match t.plugin_kv_get(PLUGIN, key).expect("kv") {
        Some(b) => i64::from_le_bytes(b.try_into().expect("an 8-byte counter")),
        None => 0,
    }
}

#[tokio::test]
async fn js_ivr_answers_with_the_menu_and_routes_each_digit() {
    let host = js_host();
    let t = js_tenant(&host, &example_config());
    let c = call_at(OPEN);

    let d = drive(&t, "ivr", &c, &[Event::CallStarted]).await;
    assert_eq!(d[0].actions[0], Action::Answer);
    assert_eq!(gathered_prompts(&d[0]), menu_prompts());

    let d = drive(&t, "ivr", &c, &[Event::CallStarted, digits("1")]).await;
    assert_eq!(dialled(&d[1]), vec![DialTarget::RingGroup("sales".into())]);
    let d = drive(&t, "ivr", &c, &[Event::CallStarted, digits("3")]).await;
    assert_eq!(dialled(&d[1]), vec![DialTarget::Extension("1003".into())]);
    match &d[1].actions[..] {
        [Action::Dial(dial)] => assert_eq!(dial.ring_timeout_secs, 20),
        other => panic!("{other:?}"),
    }
    let d = drive(&t, "ivr", &c, &[Event::CallStarted, digits("2")]).await;
    match &d[1].actions[..] {
        [Action::Enqueue(e)] => {
            assert_eq!(e.queue, "support");
            assert_eq!(e.timeout_secs, Some(120));
        }
        other => panic!("expected the support queue, got {other:?}"),
    }
    // An answered dial ends the flow's part.
    let d = drive(
        &t,
        "ivr",
        &c,
        &[
            Event::CallStarted,
            digits("1"),
            Event::DialFinished(DialResult {
                outcome: DialOutcome::Answered,
                answered_by: Some("1002".into()),
                sip_code: 200,
                talk_seconds: 42,
            }),
        ],
    )
    .await;
    assert_eq!(d[2].actions, vec![Action::Hangup]);
}

#[tokio::test]
async fn js_ivr_always_has_a_way_to_a_human() {
    let host = js_host();
    let t = js_tenant(&host, &example_config());
    let c = call_at(OPEN);

    // 0 at the menu.
    let d = drive(&t, "ivr", &c, &[Event::CallStarted, digits("0")]).await;
    assert_eq!(dialled(&d[1]), operator());

    // No input: the menu once more, then the operator.
    let d = drive(
        &t,
        "ivr",
        &c,
        &[
            Event::CallStarted,
            Event::GatherTimeout,
            Event::GatherTimeout,
        ],
    )
    .await;
    assert_eq!(gathered_prompts(&d[1]), menu_prompts());
    assert_eq!(dialled(&d[2]), operator());

    // A wrong digit is announced and the menu repeats; a second one: the
    // operator.
    let d = drive(
        &t,
        "ivr",
        &c,
        &[Event::CallStarted, digits("7"), digits("8")],
    )
    .await;
    assert_eq!(
        d[1].actions[0],
        Action::Play(vec![Prompt::File("invalid-option".into())])
    );
    assert_eq!(gathered_prompts(&d[1]), menu_prompts());
    assert_eq!(dialled(&d[2]), operator());

    // Sales do not answer: the operator; the operator does not answer:
    // the mailbox; then the call ends.
    let d = drive(
        &t,
        "ivr",
        &c,
        &[
            Event::CallStarted,
            digits("1"),
            no_answer(),
            no_answer(),
            no_answer(),
        ],
    )
    .await;
    assert_eq!(dialled(&d[2]), operator());
    match &d[3].actions[..] {
        [Action::Voicemail(v)] => assert_eq!(v.mailbox, "1001"),
        other => panic!("expected the operator's mailbox, got {other:?}"),
    }
    assert_eq!(d[4].actions, vec![Action::Hangup]);

    // A queue that gives up counts as not answered; the queue's exit key
    // is back at the menu.
    for reason in [QueueExit::Timeout, QueueExit::NoAgents, QueueExit::Full] {
        let d = drive(
            &t,
            "ivr",
            &c,
            &[Event::CallStarted, digits("2"), left_queue(reason)],
        )
        .await;
        assert_eq!(dialled(&d[2]), operator(), "{reason:?}");
    }
    let d = drive(
        &t,
        "ivr",
        &c,
        &[Event::CallStarted, digits("2"), left_queue(QueueExit::Key)],
    )
    .await;
    assert_eq!(gathered_prompts(&d[2]), menu_prompts());
}

#[tokio::test]
async fn js_ivr_is_open_or_closed_by_the_calls_time_in_the_configured_zone() {
    let host = js_host();
    let t = js_tenant(&host, &example_config());
    let closed = |d: &Decision| match &d.actions[..] {
        [
            Action::SetTag(tag),
            Action::Answer,
            Action::Play(prompts),
            Action::Voicemail(v),
        ] => {
            assert_eq!(tag, "after-hours");
            assert_eq!(prompts, &vec![Prompt::File("closed".into())]);
            assert_eq!(v.mailbox, "1001");
        }
        other => panic!("expected the closed message and voicemail, got {other:?}"),
    };
    let open = |d: &Decision| assert_eq!(gathered_prompts(d), menu_prompts());

    for (utc, is_open) in [
        // Tuesday 24 November 2026 (CET, UTC+1).
        ("2026-11-24T07:59Z", false), // 08:59
        ("2026-11-24T08:00Z", true),  // 09:00
        ("2026-11-24T11:45Z", false), // 12:45, lunch
        ("2026-11-24T16:59Z", true),  // 17:59
        ("2026-11-24T17:00Z", false), // 18:00
        // Friday closes at 17:00; Saturday and Sunday are closed.
        ("2026-11-27T15:30Z", true),  // 16:30
        ("2026-11-27T16:30Z", false), // 17:30
        ("2026-11-28T10:00Z", false), // Saturday 11:00
        // Monday 30 March 2026, the day after clocks went forward (CEST,
        // UTC+2): 09:00 local is 07:00 UTC.
        ("2026-03-30T06:59Z", false),
        ("2026-03-30T07:00Z", true),
    ] {
        let d = drive(&t, "ivr", &call_at(utc), &[Event::CallStarted]).await;
        if is_open { open(&d[0]) } else { closed(&d[0]) }
    }

    // Without a configured zone the tenant's (the call's) applies: the
    // same instant, 10:00 in Paris, is 04:00 in New York.
    let mut cfg: serde_json::Value = serde_json::from_str(&example_config()).unwrap();
    cfg.as_object_mut().unwrap().remove("time-zone");
    let t = js_tenant(&host, &cfg.to_string());
    let mut c = call_at(OPEN);
    open(&drive(&t, "ivr", &c, &[Event::CallStarted]).await[0]);
    c.time_zone = "America/New_York".into();
    closed(&drive(&t, "ivr", &c, &[Event::CallStarted]).await[0]);
}

#[tokio::test]
async fn js_ivr_keeps_its_state_between_events() {
    let host = js_host();
    let t = js_tenant(&host, &example_config());
    let c = call_at(OPEN);
    let d = drive(
        &t,
        "ivr",
        &c,
        &[Event::CallStarted, Event::GatherTimeout, digits("1")],
    )
    .await;
    let state = |d: &Decision| -> serde_json::Value {
        serde_json::from_slice(d.state.as_deref().expect("a state")).expect("JSON state")
    };
    assert_eq!(
        state(&d[0]),
        serde_json::json!({"step": "menu", "retries": 0})
    );
    assert_eq!(
        state(&d[1]),
        serde_json::json!({"step": "menu", "retries": 1})
    );
    assert_eq!(
        state(&d[2]),
        serde_json::json!({"step": "sent", "retries": 1})
    );

    // The state is what tells an unanswered destination (→ the operator)
    // from an unanswered operator (→ the mailbox).
    let pinned = t.pin_flow("ivr").unwrap();
    let after_operator = t
        .invoke_flow(&pinned, &c, &no_answer(), d[2].state.clone())
        .await
        .unwrap();
    assert_eq!(dialled(&after_operator), operator());
    let then = t
        .invoke_flow(&pinned, &c, &no_answer(), after_operator.state.clone())
        .await
        .unwrap();
    assert!(matches!(&then.actions[..], [Action::Voicemail(v)] if v.mailbox == "1001"));
    // One retry already used: the next silence goes to the operator.
    let d2 = t
        .invoke_flow(&pinned, &c, &Event::GatherTimeout, d[1].state.clone())
        .await
        .unwrap();
    assert_eq!(dialled(&d2), operator());
}

#[tokio::test]
async fn js_ivr_counts_in_kv_and_routes_by_its_config() {
    let host = js_host();
    let t = js_tenant(&host, &example_config());
    // Three calls while open (keys 2, 2, 1), one while closed.
    for (at, keys) in [
        (OPEN, "2"),
        (OPEN, "2"),
        (OPEN, "1"),
        ("2026-11-28T10:00Z", ""),
    ] {
        let mut events = vec![Event::CallStarted];
        if !keys.is_empty() {
            events.push(digits(keys));
        }
        drive(&t, "ivr", &call_at(at), &events).await;
    }
    assert_eq!(counter(&t, "calls.open"), 3);
    assert_eq!(counter(&t, "calls.closed"), 1);
    assert_eq!(counter(&t, "choice.2"), 2);
    assert_eq!(counter(&t, "choice.1"), 1);
    assert!(
        t.recent_logs().iter().any(|l| l
            .message
            .contains("closed: +33155501234 goes to voicemail 1001")),
        "{:?}",
        t.recent_logs()
    );

    // Another tenant's configuration: other options, another operator.
    let t = js_tenant_named(
        &host,
        "beta",
        r#"{"open": {"tuesday": ["00:00-24:00"]}, "menu": [{"say": "Hello"}],
            "options": {"5": {"extension": "2005"}}, "operator": {"ring-group": "desk"},
            "mailbox": "desk", "max-retries": 0}"#,
    );
    let c = call_at(OPEN);
    let d = drive(&t, "ivr", &c, &[Event::CallStarted, digits("5")]).await;
    assert_eq!(gathered_prompts(&d[0]), vec![Prompt::Say("Hello".into())]);
    assert_eq!(dialled(&d[1]), vec![DialTarget::Extension("2005".into())]);
    let d = drive(&t, "ivr", &c, &[Event::CallStarted, Event::GatherTimeout]).await;
    assert_eq!(dialled(&d[1]), vec![DialTarget::RingGroup("desk".into())]);
    assert_eq!(counter(&t, "calls.open"), 2, "kv is per tenant");
}

#[tokio::test]
async fn js_ivr_with_a_bad_config_fails_with_the_reason_and_the_call_falls_back() {
    let host = js_host();
    for (ivr, reason) in [
        (
            r#"{"open": {"funday": ["09:00-17:00"]}, "operator": "hangup", "mailbox": "x"}"#,
            "`funday` is not a weekday name",
        ),
        (
            r#"{"open": {"monday": ["9-5"]}, "operator": "hangup", "mailbox": "x"}"#,
            "monday: `9` is not HH:MM",
        ),
        (
            r#"{"time-zone": "Mars/Olympus", "operator": "hangup", "mailbox": "x"}"#,
            "time zone `Mars/Olympus` is not known",
        ),
        (r#"{"open": {}, "mailbox": "x"}"#, "`operator` is required"),
        (
            r#"{"options": {"1": {"teleport": "x"}}, "operator": "hangup", "mailbox": "x"}"#,
            "option 1",
        ),
        ("{not json", "setting `ivr` is not valid JSON"),
    ] {
        let t = js_tenant(&host, ivr);
        let pinned = t.pin_flow("ivr").unwrap();
        let err = t
            .invoke_flow(&pinned, &call_at(OPEN), &Event::CallStarted, None)
            .await
            .unwrap_err();
        match err {
            PluginFailure::PluginError(msg) => assert!(msg.contains(reason), "{ivr}: {msg}"),
            other => panic!("{ivr}: expected the plugin's error, got {other:?}"),
        }
        // What the call engine then does: the tenant's fallback.
        assert_eq!(
            t.fallback_decision().actions,
            vec![
                Action::Play(vec![Prompt::File("please-try-later".into())]),
                Action::Reject(RejectReason::Unavailable),
            ]
        );
    }
    // No setting at all.
    let t = tenant(&host, "bare", js_limits());
    t.install(PLUGIN, &component(), Default::default()).unwrap();
    t.set_flow("ivr", PLUGIN).unwrap();
    let pinned = t.pin_flow("ivr").unwrap();
    match t
        .invoke_flow(&pinned, &call_at(OPEN), &Event::CallStarted, None)
        .await
    {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(msg.contains("setting `ivr` is not set"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

/// A CRM's REST API on loopback: `/api/contacts?phone=` (Ada's number is
/// known, one number fails with 500, others are 404) and `POST /api/calls`.
async fn crm_server() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    type Seen = Arc<Mutex<Vec<(String, Value)>>>;
    async fn contacts(
        State(seen): State<Seen>,
        headers: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        seen.lock()
            .unwrap()
            .push((auth, json!({"phone": q.get("phone")})));
        match q.get("phone").map(String::as_str) {
            Some("+14155550123") => (
                StatusCode::OK,
                Json(
                    json!({"id": 42, "name": "Ada Lovelace", "company": "Analytical Engines",
                    "owner": "1002", "tags": ["vip"], "extra": {"plan": "gold"}}),
                ),
            ),
            Some("+15550005000") => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!("db down"))),
            _ => (StatusCode::NOT_FOUND, Json(json!("not found"))),
        }
    }
    async fn calls(
        State(seen): State<Seen>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> StatusCode {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        seen.lock().unwrap().push((auth, body));
        StatusCode::CREATED
    }
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/api/contacts", get(contacts))
        .route("/api/calls", post(calls))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://localhost:{}/api", addr.port()), seen)
}

/// The SDK's other worlds: a crm-connector in JavaScript (`sdk/js/test/
/// components/crm-connector.js`) looks contacts up and logs calls over the
/// SDK's HTTP client, under the host's HTTP policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_crm_connector_talks_to_a_real_http_server() {
    let (base, seen) = crm_server().await;
    // The operator allows loopback for this test; the tenant allows the host.
    let host = PluginHost::new(HostConfig {
        max_instances: 16,
        cache_dir: Some(compiled_cache()),
        http: HttpPolicyConfig {
            allow_private_addresses: true,
            ..HttpPolicyConfig::default()
        },
        ..HostConfig::default()
    })
    .expect("plugin host");
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            http_allowlist: vec!["localhost".into()],
            ..js_limits()
        },
    );
    t.install(
        "crm-js",
        &read_built(polyglot("crm-connector-js")),
        config(&[("base-url", &base), ("token", "s3cret")]),
    )
    .unwrap_or_else(|e| panic!("install crm-js: {e}"));
    t.set_crm("crm-js").unwrap();

    let c = t
        .try_crm_lookup("+14155550123")
        .await
        .unwrap_or_else(|e| panic!("{e}; logs: {:?}", t.recent_logs()))
        .expect("Ada is known");
    assert_eq!((c.id.as_str(), c.name.as_str()), ("42", "Ada Lovelace"));
    assert_eq!(c.company.as_deref(), Some("Analytical Engines"));
    assert_eq!(c.owner.as_deref(), Some("1002"));
    assert_eq!(c.tags, vec!["vip"]);
    assert_eq!(c.fields, vec![("plan".to_string(), "gold".to_string())]);
    assert_eq!(seen.lock().unwrap()[0].0, "Bearer s3cret");
    assert_eq!(t.try_crm_lookup("+19995550000").await.unwrap(), None, "404");
    match t.try_crm_lookup("+15550005000").await {
        Err(PluginFailure::PluginError(msg)) => assert!(msg.contains("CRM answered 500"), "{msg}"),
        other => panic!("expected the CRM's 500 as the plugin's error, got {other:?}"),
    }

    let mut record = switchyard_plugins::types::CallRecord {
        call_id: "call-7".into(),
        tenant: "acme".into(),
        direction: switchyard_plugins::types::Direction::Inbound,
        caller: switchyard_plugins::types::Party {
            number: "+14155550123".into(),
            display_name: None,
        },
        callee: switchyard_plugins::types::Party {
            number: "700".into(),
            display_name: None,
        },
        dialled: "700".into(),
        start_time: 1_700_000_000_000,
        answer_time: None,
        end_time: 1_700_000_060_000,
        disposition: switchyard_plugins::types::Disposition::Answered,
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
    t.crm_log_call(&record).await.unwrap();
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.1,
        json!({"call": "call-7", "from": "+14155550123", "disposition": "answered",
            "end": 1_700_000_060_000u64})
    );
    // A host the tenant did not allow is refused by the host, and the
    // plugin says so.
    record.call_id = "call-8".into();
    let t2 = tenant(&host, "other", js_limits());
    t2.install(
        "crm-js",
        &read_built(polyglot("crm-connector-js")),
        config(&[("base-url", &base), ("token", "s3cret")]),
    )
    .unwrap();
    t2.set_crm("crm-js").unwrap();
    match t2.try_crm_lookup("+14155550123").await {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(msg.contains("HTTP request failed"), "{msg}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A queue-ranker in JavaScript (`sdk/js/test/components/queue-ranker.js`):
/// the candidates reach it as columns and its positions come back as the
/// order the host offers the call in.
#[tokio::test]
async fn js_queue_ranker_orders_candidates_from_columns() {
    let host = js_host();
    let t = tenant(&host, "acme", js_limits());
    t.install(
        "ranker-js",
        &read_built(polyglot("queue-ranker-js")),
        Default::default(),
    )
    .unwrap_or_else(|e| panic!("install ranker-js: {e}"));
    t.set_strategy("support", "ranker-js").unwrap();
    let pinned = t.pin_strategy("support").unwrap();
    let who = |id: &str, calls: u32, skills: &[(&str, u8)], order: u32| AgentCandidate {
        calls_today: calls,
        skills: skills.iter().map(|(s, _)| s.to_string()).collect(),
        skill_levels: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
        ..agent(id, order)
    };
    let team = vec![
        who("1002", 5, &[("it", 3)], 0),
        who("1003", 1, &[("it", 1), ("fr", 2)], 1),
        who("1004", 0, &[("fr", 5)], 2),
        who("1005", 1, &[("IT", 9)], 3),
    ];
    let queue = QueueInfo {
        name: "support".into(),
        waiting: 1,
        agents_logged_in: 4,
    };
    let waiting = |skills: &[&str], last: Option<&str>| WaitingCall {
        call: call("acme", "+14155550123", "+15550100"),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        priority: 0,
        waited_seconds: 3,
        last_agent: last.map(Into::into),
        contact: None,
        callback: false,
    };
    let order = t
        .select_agents(&pinned, &queue, &waiting(&["it"], None), &team)
        .await
        .unwrap_or_else(|e| panic!("{e}; logs: {:?}", t.recent_logs()));
    assert_eq!(
        order,
        ["1003", "1005", "1002"],
        "skill `it`, fewest calls, order"
    );
    let order = t
        .select_agents(&pinned, &queue, &waiting(&[], Some("1002")), &team)
        .await
        .unwrap();
    assert_eq!(
        order,
        ["1002", "1004", "1003", "1005"],
        "the last agent first"
    );
    assert_eq!(
        t.plugin_kv_get("ranker-js", "decisions").unwrap(),
        Some(2i64.to_le_bytes().to_vec())
    );
}
