//! Schedules end to end: a schedule made through the API decides where the
//! running demo tenant's `open-hours` flow (the business-hours plugin,
//! `schedule-ref: office`) sends a call, and changing the schedule changes
//! the routing at once, without a new plugin version.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugins::flow_types::{Action, Event};
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_server::{Config, Running, start};

/// The test's HTTP client: (status, JSON body or Null).
fn http(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        ("PUT", Some(b)) => agent.put(url).header("Authorization", &auth).send_json(&b),
        (_, Some(b)) => agent.post(url).header("Authorization", &auth).send_json(&b),
        (_, None) => agent.post(url).header("Authorization", &auth).send_empty(),
    };
    let mut resp = resp.expect("HTTP request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `method url body` as the operator, in a blocking task; the body of a
/// 2xx answer.
async fn api(running: &Running, method: &'static str, path: &str, body: Option<Value>) -> Value {
    let url = format!("http://{}{path}", running.http);
    let token = running.operator_token.clone();
    let (status, v) = tokio::task::spawn_blocking(move || http(method, &url, &token, body))
        .await
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

/// Milliseconds of a UTC instant (`2026-11-24T10:00Z`).
fn utc_ms(s: &str) -> u64 {
    let t: jiff::Timestamp = s.parse().unwrap();
    t.as_millisecond() as u64
}

/// Where the running demo tenant's `open-hours` flow sends a call made at
/// `at`: the first action when open (`goto-flow ivr`), the last when
/// closed (the operators' voicemail).
async fn route_at(running: &Running, at: &str) -> Action {
    let tenant = running.pbx.tenants().by_id("demo").expect("demo tenant");
    let call = CallSnapshot {
        call_id: format!("call-{at}"),
        tenant: "demo".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+14155550123".into(),
            display_name: None,
        },
        callee: Party {
            number: "+15550101".into(),
            display_name: None,
        },
        dialled: "+15550101".into(),
        tags: vec![],
        start_time: utc_ms(at),
        answer_time: None,
        time_zone: tenant.time_zone.clone(),
        flow: "open-hours".into(),
        plugin_version: 0,
    };
    let rt = &tenant.runtime;
    let pinned = rt.pin_flow("open-hours").expect("open-hours flow");
    let d = rt
        .invoke_flow(&pinned, &call, &Event::CallStarted, None)
        .await
        .unwrap_or_else(|f| panic!("open-hours at {at}: {f}; logs {:?}", rt.recent_logs()));
    match &d.actions[..] {
        [only] => only.clone(),
        [Action::SetTag(tag), Action::Answer, Action::Play(_), last] if tag == "after-hours" => {
            last.clone()
        }
        other => panic!("open-hours at {at}: {other:?}"),
    }
}

fn is_open(a: &Action) -> bool {
    match a {
        Action::GotoFlow(f) if f == "ivr" => true,
        Action::Voicemail(v) if v.mailbox == "operators" => false,
        other => panic!("neither open-go nor closed-go: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_schedule_decides_the_business_hours_flow_and_changes_without_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        data_dir: dir.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    assert_eq!(
        running.pbx.tenants().by_id("demo").unwrap().time_zone,
        "Europe/London"
    );
    // Tuesday 24 November 2026; London is on UTC in November. The demo's
    // own hours (09:00-17:30) are open at 10:00 and closed at 02:30.
    let (night, day) = ("2026-11-24T02:30Z", "2026-11-24T10:00Z");
    assert!(is_open(&route_at(&running, day).await));
    assert!(!is_open(&route_at(&running, night).await));

    // A night-shift schedule, and the plugin pointed at it: the plugin's
    // own JSON keeps only where calls go.
    api(
        &running,
        "POST",
        "/api/tenants/demo/schedules",
        Some(json!({"name": "office", "open": {"tuesday": ["02:00-03:00"]}})),
    )
    .await;
    let routing = json!({"open-go": {"flow": "ivr"}, "closed-go": {"voicemail": "operators"}});
    let v = api(
        &running,
        "PUT",
        "/api/tenants/demo/plugins/business-hours/config",
        Some(json!({"schedule-ref": "office", "schedule": routing.to_string()})),
    )
    .await;
    let version = v["number"].as_u64().expect("a version number");
    let versions = |p: &Value| p["versions"].as_array().map(Vec::len);
    let before = api(
        &running,
        "GET",
        "/api/tenants/demo/plugins/business-hours",
        None,
    )
    .await;
    assert!(is_open(&route_at(&running, night).await), "stored hours");
    assert!(!is_open(&route_at(&running, day).await), "stored hours");

    // Office hours again, then a holiday: the flow follows each change,
    // and the plugin's active version stays the same.
    api(
        &running,
        "PUT",
        "/api/tenants/demo/schedules/office",
        Some(json!({"open": {"tuesday": ["09:00-17:30"]}})),
    )
    .await;
    assert!(is_open(&route_at(&running, day).await));
    assert!(!is_open(&route_at(&running, night).await));
    api(
        &running,
        "PUT",
        "/api/tenants/demo/schedules/office",
        Some(json!({"open": {"tuesday": ["09:00-17:30"]},
            "holidays": [{"date": "2025-11-24", "name": "Founders' Day", "yearly": true}]})),
    )
    .await;
    assert!(!is_open(&route_at(&running, day).await), "yearly holiday");
    let plugin = api(
        &running,
        "GET",
        "/api/tenants/demo/plugins/business-hours",
        None,
    )
    .await;
    assert_eq!(plugin["active"].as_u64(), Some(version), "{plugin}");
    assert_eq!(versions(&plugin), versions(&before), "{plugin}");

    // The schedule deleted: the reference names nothing, the plugin keeps
    // its own JSON, which has no hours, so it is closed.
    api(
        &running,
        "DELETE",
        "/api/tenants/demo/schedules/office",
        None,
    )
    .await;
    assert!(!is_open(&route_at(&running, day).await));
    assert!(!is_open(&route_at(&running, night).await));
}
