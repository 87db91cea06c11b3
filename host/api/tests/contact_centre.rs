//! The contact-centre routes: queue settings, agents and their state,
//! a queue's live view, and the reports computed from a queue log written
//! through the store, checked against hand-computed figures.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR};
use serde_json::{Value, json};
use switchyard_acd::{AgentStatus, EventKind, ExitReason, QueueEvent};
use switchyard_api::{AgentChange, ApiState, NoChanges, NoContactCentre, NoLiveCalls, app};
use switchyard_store::{QueueLogRepo, Store, TenantRepo};
use tower::ServiceExt;

const H: u64 = 3_600_000;
/// An hour boundary (10:00 UTC on 1 January 1970).
const T0: u64 = 10 * H;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ev(at_ms: u64, call: &str, agent: Option<&str>, kind: EventKind) -> QueueEvent {
    QueueEvent {
        at_ms,
        queue: Some("support".into()),
        call: Some(call.into()),
        agent: agent.map(String::from),
        kind,
    }
}

fn state(at_ms: u64, agent: &str, state: AgentStatus, reason: &str) -> QueueEvent {
    QueueEvent {
        at_ms,
        queue: None,
        call: None,
        agent: Some(agent.into()),
        kind: EventKind::AgentState {
            state,
            reason: reason.into(),
        },
    }
}

/// Two hours of queue `support` in acme, and an event in bolt.
///
/// Hour 1 `[T0, T0+H)`: c1 answered by 1002 after 5 s (60 s talk, 10 s
/// wrap-up), c2 answered by 1001 after 30 s (90 s talk, no wrap-up), c3
/// abandoned after 10 s, c4 timed out after 300 s; 1002 missed one offer.
/// Hour 2: c5 chose a callback after 5 s, which connected later; c6
/// answered by 1002 after 1 s, talked until 1 s before the end of the hour
/// and wrapped up for 10 s, the end of which is after the hour.
///
/// Agent 1002: available from 30 min before T0, on c1, wrap-up, available,
/// paused for lunch from T0+H/2 to T0+H, then on c6 and its wrap-up.
fn log(env: &Env) {
    use EventKind::*;
    let events = vec![
        state(T0 - H / 2, "1002", AgentStatus::Available, ""),
        ev(T0 + 1_000, "c1", None, Join { priority: 0 }),
        ev(T0 + 2_000, "c2", None, Join { priority: 0 }),
        ev(T0 + 3_000, "c3", None, Join { priority: 0 }),
        ev(T0 + 4_000, "c4", None, Join { priority: 0 }),
        ev(T0 + 6_000, "c1", Some("1002"), Answer { wait: secs(5) }),
        state(T0 + 6_000, "1002", AgentStatus::OnCall, ""),
        ev(T0 + 13_000, "c3", None, Abandon { wait: secs(10) }),
        ev(T0 + 17_000, "c2", Some("1002"), RingNoAnswer),
        ev(T0 + 32_000, "c2", Some("1001"), Answer { wait: secs(30) }),
        ev(
            T0 + 66_000,
            "c1",
            Some("1002"),
            CallEnded { talk: secs(60) },
        ),
        state(T0 + 66_000, "1002", AgentStatus::WrapUp, ""),
        ev(
            T0 + 76_000,
            "c1",
            Some("1002"),
            WrapUpEnded { wrap: secs(10) },
        ),
        state(T0 + 76_000, "1002", AgentStatus::Available, ""),
        ev(
            T0 + 122_000,
            "c2",
            Some("1001"),
            CallEnded { talk: secs(90) },
        ),
        ev(
            T0 + 304_000,
            "c4",
            None,
            Exit {
                reason: ExitReason::Timeout,
                wait: secs(300),
            },
        ),
        state(T0 + H / 2, "1002", AgentStatus::Paused, "lunch"),
        state(T0 + H, "1002", AgentStatus::Available, ""),
        ev(T0 + H + 1_000, "c5", None, Join { priority: 0 }),
        ev(T0 + H + 2_000, "c6", None, Join { priority: 0 }),
        ev(T0 + H + 3_000, "c6", Some("1002"), Answer { wait: secs(1) }),
        state(T0 + H + 3_000, "1002", AgentStatus::OnCall, ""),
        ev(
            T0 + H + 6_000,
            "c5",
            None,
            CallbackRequested { automatic: false },
        ),
        ev(
            T0 + H + 6_000,
            "c5",
            None,
            Exit {
                reason: ExitReason::CallbackChosen,
                wait: secs(5),
            },
        ),
        ev(
            T0 + H + 600_000,
            "c5",
            Some("1001"),
            CallbackCompleted { wait: secs(599) },
        ),
        ev(
            T0 + 2 * H - 1_000,
            "c6",
            Some("1002"),
            CallEnded {
                talk: Duration::from_millis(H - 4_000),
            },
        ),
        state(T0 + 2 * H - 1_000, "1002", AgentStatus::WrapUp, ""),
        ev(
            T0 + 2 * H + 9_000,
            "c6",
            Some("1002"),
            WrapUpEnded { wrap: secs(10) },
        ),
    ];
    env.store.append_queue_events("acme", &events).unwrap();
    env.store
        .append_queue_events("bolt", &[ev(T0 + 5, "b1", None, Join { priority: 0 })])
        .unwrap();
}

/// Agent 1001 joins queue `support` (1002 is already a member).
async fn add_1001(env: &Env) {
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/queues/support/agents/1001",
            OPERATOR,
            json!({"penalty": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn queue_settings_round_trip_and_are_validated() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let base = "/api/tenants/acme/queues";
    let full = json!({
        "name": "sales", "ring_mode": "first-n", "ring_n": 2, "ring_timeout_secs": 12,
        "wrap_up_secs": 30, "service_level_secs": 15, "announce_every_secs": 60,
        "comfort_every_secs": 45, "comfort_prompt": "welcome", "auto_pause_after": 0,
        "callback_key": "*", "leave_key": "#", "join_empty": "never",
        "leave_when_empty": true, "callback_retry_secs": 120, "callback_max_attempts": 5,
        "callback_on_abandon_secs": 90, "extension": "650",
        "agents": [{"extension": "1001", "penalty": 3}]
    });
    let (s, created) = env.json(Method::POST, base, &admin, full.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (s, read) = env.get(&format!("{base}/sales"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read, created);
    for (k, v) in full.as_object().unwrap() {
        if k != "agents" {
            assert_eq!(&read[k], v, "{k}");
        }
    }
    assert_eq!(read["agents"][0]["penalty"], 3);

    // Defaults of a queue created with a name only.
    let (_, v) = env
        .json(Method::POST, base, &admin, json!({"name": "plain"}))
        .await;
    for (k, want) in [
        ("ring_mode", json!("one-at-a-time")),
        ("ring_n", Value::Null),
        ("ring_timeout_secs", json!(15)),
        ("wrap_up_secs", json!(10)),
        ("service_level_secs", json!(20)),
        ("announce_every_secs", Value::Null),
        ("comfort_every_secs", Value::Null),
        ("comfort_prompt", Value::Null),
        ("auto_pause_after", json!(2)),
        ("callback_key", Value::Null),
        ("leave_key", Value::Null),
        ("join_empty", json!("wait")),
        ("leave_when_empty", json!(false)),
        ("callback_retry_secs", json!(300)),
        ("callback_max_attempts", json!(3)),
        ("callback_on_abandon_secs", Value::Null),
        ("extension", Value::Null),
    ] {
        assert_eq!(v[k], want, "{k}");
    }

    // Refusals name the field and say what is expected.
    for (body, field, message) in [
        (
            json!({"callback_key": "a"}),
            "callback_key",
            "callback_key: \"a\" is not one key: 0-9, * or #",
        ),
        (
            json!({"leave_key": "12"}),
            "leave_key",
            "leave_key: \"12\" is not one key: 0-9, * or #",
        ),
        (
            json!({"callback_key": "#", "leave_key": "#"}),
            "leave_key",
            "leave_key: is the same key as callback_key; a key can do one thing",
        ),
        (
            json!({"ring_mode": "first-n"}),
            "ring_n",
            "ring_n: ring_mode first-n needs ring_n of at least 1",
        ),
        (
            json!({"ring_mode": "first-n", "ring_n": 0}),
            "ring_n",
            "ring_n: ring_mode first-n needs ring_n of at least 1",
        ),
        (
            json!({"ring_mode": "all", "ring_n": 2}),
            "ring_n",
            "ring_n: is only for ring_mode first-n",
        ),
        (
            json!({"ring_mode": "random"}),
            "ring_mode",
            "ring_mode: \"random\" is not one-at-a-time, all or first-n",
        ),
        (
            json!({"join_empty": "sometimes"}),
            "join_empty",
            "join_empty: \"sometimes\" is not wait or never",
        ),
        (
            json!({"announce_every_secs": 0}),
            "announce_every_secs",
            "announce_every_secs: must be at least 1 (leave it out to turn it off)",
        ),
        (
            json!({"extension": "6x"}),
            "extension",
            "extension: \"6x\" is not 2 to 15 digits",
        ),
        (
            json!({"callback_on_abandon_secs": 0}),
            "callback_on_abandon_secs",
            "callback_on_abandon_secs: must be at least 1 (leave it out to turn it off)",
        ),
        (
            json!({"ring_timeout_secs": 0}),
            "ring_timeout_secs",
            "ring_timeout_secs: must be at least 1",
        ),
        (
            json!({"callback_max_attempts": 0}),
            "callback_max_attempts",
            "callback_max_attempts: must be at least 1",
        ),
    ] {
        let (s, v) = env
            .json(Method::PUT, &format!("{base}/sales"), &admin, body.clone())
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
        assert_eq!(v["message"], message, "{body}");
    }
    // Nothing refused was stored.
    assert_eq!(env.get(&format!("{base}/sales"), &admin).await.1, created);
}

/// `open`'s database once the one open before has let go of its file
/// lock: sled's flusher thread holds it a moment after the last handle
/// is dropped.
fn unlocked<T, E: std::fmt::Display>(open: impl Fn() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open() {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("lock") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn a_queue_stored_before_the_settings_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let t: switchyard_store::Tenant = serde_json::from_value(json!({
            "id": "old", "name": "Old", "domains": ["old.example"], "time_zone": "UTC",
            "limits": {"max_concurrent_calls": 1, "max_calls_per_second": 1,
                "plugin_memory_mib": 1, "plugin_cpu_ms": 1},
            "features": {"recording": false, "advanced_ivr": false, "reporting": false,
                "crm": false},
            "suspended": false, "created_at_ms": 1
        }))
        .unwrap();
        store.put_tenant(&t).unwrap();
        store.close().unwrap();
    }
    {
        // The record exactly as the build before the settings wrote it.
        let db = unlocked(|| sled::open(dir.path().join("db")));
        db.open_tree("queues")
            .unwrap()
            .insert(
                &b"old\0support"[..],
                &br#"{"tenant":"old","name":"support","strategy_plugin":null,"agents":[{"extension":"1001","skills":[["english",5]],"logged_in":true}],"max_waiting":7,"timeout_secs":120,"moh":null}"#[..],
            )
            .unwrap();
        db.flush().unwrap();
    }
    let store = unlocked(|| Store::open(dir.path()));
    let router = app(ApiState {
        store,
        plugins: common::host(),
        operator_token: OPERATOR.into(),
        live: Arc::new(NoLiveCalls),
        changes: Arc::new(NoChanges),
        centre: Arc::new(NoContactCentre),
        allow_private_trunks: false,
        widgets: Default::default(),
        sessions: Default::default(),
    });
    let req = axum::http::Request::get("/api/tenants/old/queues/support")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["max_waiting"], 7);
    assert_eq!(v["ring_mode"], "one-at-a-time");
    assert_eq!(v["service_level_secs"], 20);
    assert_eq!(v["callback_max_attempts"], 3);
    assert_eq!(v["agents"][0]["penalty"], 0);
    // The tenant without pause reasons has the defaults.
    let req = axum::http::Request::get("/api/tenants/old")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .body(Body::empty())
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["pause_reasons"],
        json!(["break", "lunch", "training", "no-answer"])
    );
}

#[tokio::test]
async fn agents_see_and_change_only_themselves() {
    let env = Env::new().await;
    add_1001(&env).await;
    let agent = env.key("acme", "agent"); // extension 1002
    let sup = env.key("acme", "supervisor");
    let base = "/api/tenants/acme/agents";

    let (s, v) = env.get(base, &sup).await;
    assert_eq!(s, StatusCode::OK);
    let exts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["extension"].as_str().unwrap())
        .collect();
    assert_eq!(exts, ["1001", "1002"]);
    let (s, v) = env.get(base, &agent).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["extension"], "1002");

    let (s, v) = env.get(&format!("{base}/1002"), &agent).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("logged-out"))
    );
    let (s, v) = env.get(&format!("{base}/1001"), &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // An agent logs itself in, and may not touch another agent.
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1002/state"),
            &agent,
            json!({"action": "login"}),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("available"))
    );
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1001/state"),
            &agent,
            json!({"action": "logout"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], "forbidden");

    // A supervisor pauses another agent, with one of the tenant's reasons.
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1001/state"),
            &sup,
            json!({"action": "pause", "reason": "lunch"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["reason"].as_str()),
        (Some("paused"), Some("lunch"))
    );
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1001/state"),
            &sup,
            json!({"action": "pause", "reason": "nap"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "reason");
    assert_eq!(
        v["message"],
        "reason: \"nap\" is not one of the tenant's pause reasons (break, lunch, training, no-answer)"
    );
    // 1003 is an extension but no queue's member.
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1003/state"),
            &sup,
            json!({"action": "login"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["message"],
        "no agent \"1003\": the extension is not a member of any queue of this tenant"
    );
    assert_eq!(
        env.get(&format!("{base}/1003"), &sup).await.0,
        StatusCode::NOT_FOUND
    );
    // Another tenant's key: the 404 of a missing tenant, nothing changed.
    let bolt = env.key("bolt", "admin");
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/1001/state"),
            &bolt,
            json!({"action": "login"}),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("no tenant \"acme\""))
    );

    let changes = env.centre.changes.lock().unwrap().clone();
    assert_eq!(
        changes,
        vec![
            ("acme".to_string(), "1002".to_string(), AgentChange::Login),
            (
                "acme".to_string(),
                "1001".to_string(),
                AgentChange::Pause {
                    reason: Some("lunch".into())
                }
            ),
        ]
    );

    // The operator sets the tenant's pause reasons.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"pause_reasons": ["break", "coaching"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["pause_reasons"], json!(["break", "coaching"]));
    let pause = |reason: &str| json!({"action": "pause", "reason": reason});
    let url = format!("{base}/1002/state");
    assert_eq!(
        env.json(Method::POST, &url, &agent, pause("coaching"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        env.json(Method::POST, &url, &agent, pause("lunch")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"pause_reasons": [""]}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("pause_reasons"))
    );

    // A queue now: every role of the tenant.
    let (s, v) = env
        .get("/api/tenants/acme/queues/support/live", &agent)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["waiting"].as_u64(), v["longest_wait_secs"].as_u64()),
        (Some(2), Some(42))
    );
    let (s, _) = env.get("/api/tenants/acme/queues/nope/live", &sup).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn queue_report_matches_hand_computed_figures() {
    let env = Env::new().await;
    add_1001(&env).await;
    log(&env);
    let sup = env.key("acme", "supervisor");
    let url = format!(
        "/api/tenants/acme/reports/queues?from={T0}&to={}&interval=hour",
        T0 + 2 * H
    );
    let (s, v) = env.get(&url, &sup).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    let h1 = &rows[0];
    assert_eq!(
        (
            h1["queue"].as_str(),
            h1["from_ms"].as_u64(),
            h1["to_ms"].as_u64()
        ),
        (Some("support"), Some(T0), Some(T0 + H))
    );
    assert_eq!(h1["offered"], 4);
    assert_eq!(h1["answered"], 2);
    assert_eq!(h1["abandoned"], 1);
    assert_eq!(h1["abandon_mean_wait_ms"], 10_000);
    assert!(close(&h1["abandonment_rate"], 0.25));
    assert_eq!(h1["asa_ms"], 17_500);
    // ((60 + 10) + (90 + 0)) / 2 s.
    assert_eq!(h1["aht_ms"], 80_000);
    assert!(close(&h1["service_level"], 0.5));
    assert!(close(&h1["service_level_2"], 2.0 / 3.0));
    assert_eq!(h1["service_level_secs"], 20);
    assert_eq!(h1["exits"], json!({"timeout": 1}));
    assert_eq!(h1["callbacks_requested"], 0);

    let h2 = &rows[1];
    assert_eq!(h2["offered"], 2);
    assert_eq!(h2["answered"], 1);
    assert_eq!(h2["abandoned"], 0);
    assert_eq!(h2["abandon_mean_wait_ms"], Value::Null);
    assert_eq!(h2["asa_ms"], 1_000);
    // The wrap-up that ended after `to` is found.
    assert_eq!(h2["aht_ms"], H - 4_000 + 10_000);
    assert!(close(&h2["service_level"], 1.0));
    assert!(close(&h2["service_level_2"], 1.0));
    assert_eq!(h2["callbacks_requested"], 1);
    assert_eq!(h2["callbacks_completed"], 1);
    assert_eq!(h2["callbacks_failed"], 0);
    assert_eq!(h2["exits"], json!({"callback-chosen": 1}));

    // One row for the whole window; another queue has empty figures.
    let url = format!(
        "/api/tenants/acme/reports/queues?from={T0}&to={}",
        T0 + 2 * H
    );
    let (_, v) = env.get(&url, &sup).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["offered"], 6);
    assert_eq!(v[0]["answered"], 3);
    // A threshold of 4 s: only c1 (5 s) is no longer within it.
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/queues/support",
            OPERATOR,
            json!({"service_level_secs": 4, "agents": [
                {"extension": "1002", "logged_in": true}, {"extension": "1001"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let url = format!(
        "/api/tenants/acme/reports/queues?from={T0}&to={}&queue=support",
        T0 + H
    );
    let (_, v) = env.get(&url, &sup).await;
    assert_eq!(v[0]["service_level_secs"], 4);
    assert!(close(&v[0]["service_level"], 0.0));
    assert!(close(&v[0]["service_level_2"], 0.0));

    // CSV: a header row, then the rows.
    let url = format!(
        "/api/tenants/acme/reports/queues?from={T0}&to={}&interval=hour&format=csv",
        T0 + 2 * H
    );
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/queues/support",
            OPERATOR,
            json!({"agents": [{"extension": "1002", "logged_in": true}, {"extension": "1001"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let resp = env
        .send(Method::GET, &url, Some(&sup), None, Body::empty())
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers["content-type"], "text/csv; charset=utf-8");
    let text = resp.text();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "queue,from_ms,to_ms,offered,answered,abandoned,abandon_mean_wait_ms,abandonment_rate,\
         asa_ms,aht_ms,service_level,service_level_2,service_level_secs,callbacks_requested,\
         callbacks_completed,callbacks_failed,exits_timeout,exits_key,exits_empty,\
         exits_callback_chosen,exits_callback_failed"
    );
    assert_eq!(
        lines[1],
        format!(
            "support,{T0},{},4,2,1,10000,0.25,17500,80000,0.5,0.6666666666666666,20,0,0,0,1,0,0,0,0",
            T0 + H
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "support,{},{},2,1,0,,0,1000,{},1,1,20,1,1,0,0,0,0,1,0",
            T0 + H,
            T0 + 2 * H,
            H + 6_000
        )
    );
    assert_eq!(lines[3], "");
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn agent_report_matches_hand_computed_figures() {
    let env = Env::new().await;
    add_1001(&env).await;
    log(&env);
    let sup = env.key("acme", "supervisor");
    let agent = env.key("acme", "agent");
    let url = format!(
        "/api/tenants/acme/reports/agents?from={T0}&to={}&interval=hour",
        T0 + 2 * H
    );
    let (s, v) = env.get(&url, &sup).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = v.as_array().unwrap();
    let who: Vec<&str> = rows.iter().map(|r| r["agent"].as_str().unwrap()).collect();
    assert_eq!(who, ["1001", "1001", "1002", "1002"]);

    // 1001 answered c2 and connected c5's callback; it logged no state.
    assert_eq!(rows[0]["calls"], 1);
    assert_eq!(rows[0]["talk_ms"], 90_000);
    assert_eq!(rows[1]["calls"], 1);
    assert_eq!(rows[0]["logged_in_ms"], 0);
    assert_eq!(rows[0]["occupancy"], Value::Null);

    // 1002, hour 1: available (from before T0) 6 s, on c1 60 s, wrap-up
    // 10 s, available until T0+H/2, then paused for lunch.
    let h1 = &rows[2];
    assert_eq!(h1["calls"], 1);
    assert_eq!(h1["talk_ms"], 60_000);
    assert_eq!(h1["missed_offers"], 1);
    assert_eq!(h1["failed_offers"], 0);
    assert_eq!(h1["logged_in_ms"], H);
    assert_eq!(h1["staffed_ms"], H / 2);
    assert_eq!(h1["busy_ms"], 70_000);
    assert_eq!(h1["pause_ms"], json!({"lunch": H / 2}));
    assert!(close(&h1["occupancy"], 70_000.0 / (H / 2) as f64));
    // Hour 2: available 3 s, on c6 until 1 s before the end, wrap-up 1 s.
    let h2 = &rows[3];
    assert_eq!(h2["calls"], 1);
    assert_eq!(h2["talk_ms"], H - 4_000);
    assert_eq!(h2["busy_ms"], H - 3_000);
    assert_eq!(h2["staffed_ms"], H);
    assert_eq!(h2["pause_ms"], json!({}));
    assert!(close(&h2["occupancy"], (H - 3_000) as f64 / H as f64));

    // An agent key gets its own rows only, and not another's on request.
    let (s, v) = env.get(&url, &agent).await;
    assert_eq!(s, StatusCode::OK);
    let who: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["1002", "1002"]);
    let (s, _) = env.get(&format!("{url}&agent=1001"), &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = env.get(&format!("{url}&agent=1001"), &sup).await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 2));

    // CSV: the tenant's pause reasons are columns.
    let resp = env
        .send(
            Method::GET,
            &format!("{url}&format=csv&agent=1002"),
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers["content-type"], "text/csv; charset=utf-8");
    let text = resp.text();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "agent,from_ms,to_ms,calls,talk_ms,missed_offers,failed_offers,logged_in_ms,staffed_ms,\
         busy_ms,occupancy,pause_ms_break,pause_ms_lunch,pause_ms_training,pause_ms_no-answer"
    );
    assert!(
        lines[1].starts_with(&format!(
            "1002,{T0},{},1,60000,1,0,{H},{},70000,",
            T0 + H,
            H / 2
        )),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(&format!(",0,{},0,0", H / 2)),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn report_windows_roles_and_the_raw_log() {
    let env = Env::new().await;
    log(&env);
    let sup = env.key("acme", "supervisor");
    let agent = env.key("acme", "agent");
    let q = "/api/tenants/acme/reports/queues";
    for (query, field) in [
        ("", "from"),
        ("?from=1", "to"),
        ("?from=x&to=2", "from"),
        ("?from=5&to=5", "to"),
        ("?from=0&to=2678400001", "to"),
        ("?from=0&to=10&interval=week", "interval"),
        ("?from=0&to=10&format=xml", "format"),
    ] {
        let (s, v) = env.get(&format!("{q}{query}"), &sup).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{query}: {v}"
        );
    }
    // 31 days exactly is fine.
    let (s, _) = env
        .get(&format!("{q}?from=0&to=2678400000&interval=day"), &sup)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Agents may not read the queue figures or the raw log.
    let (s, v) = env.get(&format!("{q}?from=0&to=10"), &agent).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let log_url = format!("/api/tenants/acme/queue-log?from={T0}&to={}", T0 + 4_001);
    let (s, _) = env.get(&log_url, &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another tenant's key: 404.
    let (s, v) = env.get(&log_url, &env.key("bolt", "admin")).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("no tenant \"acme\""))
    );

    let (s, v) = env.get(&log_url, &sup).await;
    assert_eq!(s, StatusCode::OK);
    let events = v.as_array().unwrap();
    assert_eq!(events.len(), 4, "{v}");
    assert_eq!(
        events[0],
        json!({"at-ms": T0 + 1_000, "queue": "support", "call": "c1", "agent": null,
            "kind": {"type": "join", "priority": 0}})
    );
    // bolt's event is not in acme's log.
    assert!(events.iter().all(|e| e["call"] != "b1"));
}

/// The report routes document both bodies and the metric definitions.
#[tokio::test]
async fn report_routes_are_documented() {
    let env = Env::new().await;
    let (_, doc) = env.get("/api/openapi.json", OPERATOR).await;
    for (path, needle) in [
        (
            "queues",
            "SL2 = (answered\nwithin + abandoned within) ÷ (answered + abandoned)",
        ),
        ("agents", "occupancy = busy ÷ staffed"),
    ] {
        let op = &doc["paths"][format!("/api/tenants/{{tenant}}/reports/{path}")]["get"];
        let content = &op["responses"]["200"]["content"];
        assert!(content["application/json"].is_object(), "{path}: {content}");
        assert!(content["text/csv"].is_object(), "{path}: {content}");
        let text = op["description"].as_str().unwrap();
        assert!(text.contains(needle), "{path}: {text}");
    }
}
