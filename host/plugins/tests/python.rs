//! The Python SDK's example CRM connector (`examples/crm-connector-py`),
//! built by `scripts/build-python-plugins` with componentize-py, driven
//! through the real runtime against a local HTTP server playing a CRM.
//!
//! The component is not built by cargo: `scripts/test` runs the build
//! script first. Without it these tests fail, naming the script.

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
    Action, DialOutcome, DialResult, DialTarget, Event, Gathered, Prompt,
};
use switchyard_plugins::types::{CallRecord, Direction, Disposition, Party};
use switchyard_plugins::{
    HostConfig, HttpPolicyConfig, InMemoryDirectory, LoadError, PluginFailure, PluginHost,
    RegistryError, TenantLimits, TenantRuntime,
};

/// `<target dir>/polyglot/<file>`, found from this test binary
/// (`<target dir>/debug/deps/python-…`), which is where
/// `scripts/build-python-plugins` writes it for the same
/// `CARGO_TARGET_DIR`.
fn component_path(file: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .map(|dir| dir.join("polyglot").join(file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            let target = exe.ancestors().nth(3).unwrap_or(&exe);
            target.join("polyglot").join(file)
        })
}

/// A Python example component; fails the test when it was not built.
fn polyglot(file: &str) -> Vec<u8> {
    let path = component_path(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the Python example component {} is missing ({e}): build it with \
             `scripts/build-python-plugins` (with the same CARGO_TARGET_DIR; \
             `scripts/test` runs it before cargo)",
            path.display()
        )
    })
}

/// `examples/crm-connector-py`.
fn python_crm() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| polyglot("crm-connector-py.wasm"))
}

/// `examples/hello-flow-py`.
fn python_flow() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| polyglot("hello-flow-py.wasm"))
}

/// What the fake CRM saw.
#[derive(Default)]
struct Seen {
    lookups: Vec<(String, Option<String>)>,
    logged: Vec<Value>,
}

type Shared = Arc<Mutex<Seen>>;

/// A CRM whose contacts look like HubSpot's: the name, company and link
/// are nested, under keys the connector only finds through its `fields`
/// setting. +14155550123 is Ada, +15550005000 makes it fail,
/// +15550006666 gets an answer no JSON parser can take (nested 100 000
/// deep), everybody else is unknown (404).
async fn crm_server() -> (String, Shared) {
    async fn contacts(
        State(seen): State<Shared>,
        headers: HeaderMap,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> (StatusCode, String) {
        let phone = q.get("phone").cloned().unwrap_or_default();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        seen.lock().unwrap().lookups.push((phone.clone(), auth));
        match phone.as_str() {
            "+14155550123" => (
                StatusCode::OK,
                json!({"total": 1, "items": [{
                    "uid": "c-42",
                    "properties": {"fullname": "Ada Lovelace", "mail": "ada@example.com"},
                    "org": {"name": "Analytical Engines"},
                    "assigned_to": 1002,
                    "links": {"self": "https://crm.example.com/c/42"},
                    "labels": "vip, engineer",
                    "plan": "gold",
                    "active": true
                }]})
                .to_string(),
            ),
            "+15550005000" => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "db down"}).to_string(),
            ),
            "+15550006666" => (
                StatusCode::OK,
                format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                json!({"error": "not found"}).to_string(),
            ),
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
    (format!("http://localhost:{}/api", addr.port()), seen)
}

/// The connector's settings for the fake CRM.
fn settings(base: &str) -> BTreeMap<String, String> {
    config(&[
        ("base-url", base),
        ("token", "py-token"),
        (
            "fields",
            r#"{"id": "uid", "name": "properties.fullname", "email": "properties.mail",
                "company": "org.name", "owner": "assigned_to", "url": "links.self",
                "tags": "labels"}"#,
        ),
    ])
}

/// A host whose operator lets plugins reach loopback (the fake CRM).
fn loopback_host() -> PluginHost {
    host_with_http(HttpPolicyConfig {
        allow_private_addresses: true,
        ..HttpPolicyConfig::default()
    })
}

/// One such host for every test: compiling a Python component takes
/// seconds, and the host keeps it compiled (tenants stay apart, each
/// with its own limits).
fn shared_host() -> PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(loopback_host).clone()
}

/// Test limits with `localhost` allowed (or not).
fn crm_limits(allow: bool) -> TenantLimits {
    TenantLimits {
        http_allowlist: if allow {
            vec!["localhost".into()]
        } else {
            vec![]
        },
        ..limits()
    }
}

/// A tenant with the Python connector as its CRM, configured with `cfg`.
fn crm_tenant(
    host: &PluginHost,
    limits: TenantLimits,
    cfg: BTreeMap<String, String>,
) -> TenantRuntime {
    let t = tenant_with_directory(host, "demo", limits, Arc::new(InMemoryDirectory::new()));
    t.install("crm-py", python_crm(), cfg)
        .unwrap_or_else(|e| panic!("install the Python connector: {e}"));
    t.set_crm("crm-py").unwrap();
    t
}

fn record(id: &str) -> CallRecord {
    let start = 1_700_000_000_000;
    CallRecord {
        call_id: id.into(),
        tenant: "demo".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+14155550123".into(),
            display_name: Some("Ada Lovelace".into()),
        },
        callee: Party {
            number: "+15550100".into(),
            display_name: None,
        },
        dialled: "+15550100".into(),
        start_time: start,
        answer_time: Some(start + 15_000),
        end_time: start + 195_000,
        disposition: Disposition::Answered,
        hangup_by: None,
        sip_code: 200,
        queue: Some("sales".into()),
        agent: Some("1002".into()),
        tags: vec!["VIP".into()],
        recording: None,
        flow_plugin: None,
        plugin_version: None,
        legs: vec![],
    }
}

/// echo-flow (Rust) answering `who` with the caller's CRM name, or
/// `unknown`: what a flow sees of the connector.
async fn flow_asks_who(t: &TenantRuntime, caller: &str) -> Vec<Action> {
    t.install("echo-flow", wasm("echo-flow"), BTreeMap::new())
        .unwrap();
    t.set_flow("main", "echo-flow").unwrap();
    let event = Event::Digits(Gathered {
        digits: "who".into(),
        finished_by_key: false,
    });
    let pinned = t.pin_flow("main").expect("flow is installed");
    t.invoke_flow(
        &pinned,
        &call("demo", caller, "+15550100"),
        &event,
        Some(vec![1]),
    )
    .await
    .unwrap_or_else(|f| panic!("echo-flow failed: {f}; logs: {:?}", t.recent_logs()))
    .actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connector_maps_the_crm_fields_to_the_contact() {
    let (base, seen) = crm_server().await;
    let host = shared_host();
    let t = crm_tenant(&host, crm_limits(true), settings(&base));

    let c = t
        .try_crm_lookup("+14155550123")
        .await
        .expect("look-up")
        .expect("Ada is known");
    assert_eq!(c.id, "c-42");
    assert_eq!(c.name, "Ada Lovelace");
    assert_eq!(c.company.as_deref(), Some("Analytical Engines"));
    assert_eq!(c.email.as_deref(), Some("ada@example.com"));
    assert_eq!(c.owner.as_deref(), Some("1002"));
    assert_eq!(c.url.as_deref(), Some("https://crm.example.com/c/42"));
    assert_eq!(c.tags, vec!["vip", "engineer"]);
    assert_eq!(
        c.fields,
        vec![
            ("active".to_string(), "true".to_string()),
            ("plan".to_string(), "gold".to_string())
        ],
        "plain values the mapping does not use are extra fields, in the CRM's order"
    );
    assert_eq!(
        seen.lock().unwrap().lookups[0],
        (
            "+14155550123".to_string(),
            Some("Bearer py-token".to_string())
        )
    );

    assert_eq!(
        t.try_crm_lookup("+19995550000").await.unwrap(),
        None,
        "404 is unknown"
    );
    match t.try_crm_lookup("+15550005000").await {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(
                msg.contains("CRM answered 500") && msg.contains("db down"),
                "{msg}"
            )
        }
        other => panic!("expected the CRM's 500 as the plugin's error, got {other:?}"),
    }
    // What a call flow gets: the name.
    assert_eq!(
        flow_asks_who(&t, "+14155550123").await,
        vec![Action::SetTag("Ada Lovelace".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connector_logs_finished_calls_to_the_crm() {
    let (base, seen) = crm_server().await;
    let host = shared_host();
    let t = crm_tenant(&host, crm_limits(true), settings(&base));
    t.crm_log_call(&record("call-7")).await.expect("logged");
    let seen = seen.lock().unwrap();
    let body = &seen.logged[0];
    assert_eq!(body["call_id"], "call-7");
    assert_eq!(body["direction"], "inbound");
    assert_eq!(body["from"], "+14155550123");
    assert_eq!(body["from_name"], "Ada Lovelace");
    assert_eq!(body["disposition"], "answered");
    assert_eq!(body["agent"], "1002");
    assert_eq!(body["queue"], "sales");
    assert_eq!(body["duration_seconds"], 195);
    assert_eq!(body["talk_seconds"], 180);
    assert_eq!(body["tags"], json!(["VIP"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connector_cannot_reach_hosts_the_tenant_did_not_allow() {
    let (base, seen) = crm_server().await;
    let host = shared_host();
    // Loopback allowed by the operator, but not by the tenant.
    let t = crm_tenant(&host, crm_limits(false), settings(&base));
    match t.try_crm_lookup("+14155550123").await {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(msg.contains("HttpRequestDenied"), "{msg}");
            assert!(
                msg.contains("localhost"),
                "the message names the URL: {msg}"
            );
        }
        other => panic!("expected the host's refusal as the plugin's error, got {other:?}"),
    }
    match t.crm_log_call(&record("call-8")).await {
        Err(PluginFailure::PluginError(msg)) => assert!(msg.contains("HttpRequestDenied"), "{msg}"),
        other => panic!("expected the host's refusal as the plugin's error, got {other:?}"),
    }
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen.lookups.is_empty() && seen.logged.is_empty(),
            "no request left the host"
        );
    }
    // The plugin copes (an error, not a trap), and a flow goes on.
    assert_eq!(
        flow_asks_who(&t, "+14155550123").await,
        vec![Action::SetTag("unknown".into())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connector_says_what_is_wrong_with_its_settings() {
    let (base, seen) = crm_server().await;
    let host = shared_host();
    let cases: [(&str, Option<&str>, &str); 5] = [
        (
            "fields",
            Some("{not json"),
            "setting `fields` is not valid JSON",
        ),
        (
            "fields",
            Some(r#"{"nmae": "fullname"}"#),
            "unknown contact field(s) nmae",
        ),
        (
            "fields",
            Some(r#"["name"]"#),
            "setting `fields` must be a JSON object",
        ),
        ("base-url", None, "setting `base-url` is not set"),
        (
            "timeout-ms",
            Some("soon"),
            "setting `timeout-ms`: 'soon' is not an integer",
        ),
    ];
    for (key, value, expected) in cases {
        let mut cfg = settings(&base);
        match value {
            Some(v) => cfg.insert(key.into(), v.into()),
            None => cfg.remove(key),
        };
        let t = crm_tenant(&host, crm_limits(true), cfg);
        match t.try_crm_lookup("+14155550123").await {
            Err(PluginFailure::PluginError(msg)) => {
                assert!(msg.contains(expected), "{key}={value:?}: {msg}")
            }
            other => panic!("{key}={value:?}: expected a clear error, got {other:?}"),
        }
    }
    assert!(
        seen.lock().unwrap().lookups.is_empty(),
        "a bad setting is found before any request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_python_connector_leaves_the_call_to_its_fallback() {
    let (base, _seen) = crm_server().await;
    let host = shared_host();
    let t = crm_tenant(&host, crm_limits(true), settings(&base));
    // An answer nested 100 000 deep: Python's JSON parser fails with an
    // exception the connector does not expect (not a PluginError), so
    // componentize-py traps.
    let failure = t.try_crm_lookup("+15550006666").await;
    assert!(
        matches!(failure, Err(PluginFailure::Trap(_))),
        "expected a trap, got {failure:?}"
    );
    // The flow asking for that caller gets no contact and goes on.
    assert_eq!(
        flow_asks_who(&t, "+15550006666").await,
        vec![Action::SetTag("unknown".into())]
    );
    // The next look-up gets a fresh instance and works.
    assert!(t.try_crm_lookup("+14155550123").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_flow_greets_the_caller_by_crm_name_and_keeps_its_agent_in_state() {
    let (base, _seen) = crm_server().await;
    let host = shared_host();
    let t = crm_tenant(&host, crm_limits(true), settings(&base));
    t.install("hello-py", python_flow(), config(&[("agent", "1003")]))
        .unwrap_or_else(|e| panic!("install the Python flow: {e}"));
    t.set_flow("main", "hello-py").unwrap();
    let pinned = t.pin_flow("main").unwrap();
    let caller = call("demo", "+14155550123", "+15550100");
    let run = |event: Event, state: Option<Vec<u8>>| {
        let (t, pinned, caller) = (t.clone(), pinned.clone(), caller.clone());
        async move {
            t.invoke_flow(&pinned, &caller, &event, state)
                .await
                .unwrap_or_else(|f| panic!("hello-py failed: {f}; logs: {:?}", t.recent_logs()))
        }
    };

    let first = run(Event::CallStarted, None).await;
    assert_eq!(first.actions[0], Action::Answer);
    assert_eq!(
        first.actions[1],
        Action::Play(vec![Prompt::Say(
            "Hello Ada Lovelace, connecting you now.".into()
        )])
    );
    assert_eq!(first.actions[2], Action::SetTag("call-1".into()));
    match &first.actions[3] {
        Action::Dial(d) => {
            assert_eq!(d.targets, vec![DialTarget::Extension("1003".into())]);
            assert_eq!(d.ring_timeout_secs, 20);
        }
        other => panic!("expected a dial, got {other:?}"),
    }
    assert_eq!(first.state.as_deref(), Some(&br#"{"agent":"1003"}"#[..]));

    let no_answer = Event::DialFinished(DialResult {
        outcome: DialOutcome::NoAnswer,
        answered_by: None,
        sip_code: 408,
        talk_seconds: 0,
    });
    let second = run(no_answer, first.state.clone()).await;
    assert!(
        matches!(&second.actions[..], [Action::Voicemail(v)] if v.mailbox == "1003"),
        "{:?}",
        second.actions
    );
    // kv outlives the call: the next call is call 2.
    let again = run(Event::CallStarted, None).await;
    assert_eq!(again.actions[2], Action::SetTag("call-2".into()));
}

#[test]
fn a_component_that_cannot_start_in_the_tenants_memory_is_refused_at_install() {
    let host = shared_host();
    let loaded = host.load(python_crm()).expect("the Python connector loads");
    let needed = loaded.initial_memory_bytes();
    assert!(
        needed > 8 << 20,
        "a Python component snapshots its interpreter into its memory: {needed} bytes"
    );
    // So its instances come from the pool whose slots keep their memory.
    assert_eq!(loaded.pool(), switchyard_plugins::Pool::Large);
    let small = TenantLimits {
        memory_bytes: 8 << 20,
        ..limits()
    };
    let t = tenant(&host, "small", small);
    match t.install("crm-py", python_crm(), BTreeMap::new()) {
        Err(RegistryError::Load(e @ LoadError::NeedsMoreMemory { .. })) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("({needed} bytes)")), "{msg}");
            assert!(msg.contains("8 MiB (8388608 bytes)"), "{msg}");
            assert!(msg.contains("plugin-memory-mib"), "{msg}");
        }
        other => panic!("expected a refusal naming both sizes, got {other:?}"),
    }
    // The host's defaults fit it.
    let t = tenant(&host, "roomy", TenantLimits::default());
    t.install("crm-py", python_crm(), BTreeMap::new())
        .expect("a default tenant takes a Python component");
    assert!(python_crm().len() <= HostConfig::default().max_component_bytes);
}
