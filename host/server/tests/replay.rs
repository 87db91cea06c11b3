//! Replay before activation with real calls: the demo tenant turns on
//! transcripts, three carrier calls reach its `router` flow, and two new
//! versions are replayed against them through the API and the CLI — the
//! same router (every call the same) and a component that traps (every
//! call differs at its first step, shown with both sides). Only admins
//! replay; supervisors read transcripts; agents do not.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::phone::{Phone, carrier_tenant};
use common::*;
use serde_json::{Value, json};

fn upload(pbx: &Pbx, component: &str) -> u64 {
    let (status, text) = upload_plugin(
        &format!("http://{}", pbx.running.http),
        &pbx.running.operator_token,
        "demo",
        "router",
        switchyard_artifacts::get(component).unwrap(),
    );
    assert!((200..300).contains(&status), "{status} {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["number"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_calls_replay_new_versions_and_show_where_they_differ() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;
    let base = format!("http://{}", pbx.running.http);

    // Nothing kept yet: a replay says how to start.
    let (s, v) = operator_api(&pbx, "GET", "/api/tenants/demo/transcripts/policy", None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["enabled"], &v["max_calls"]),
        (&json!(false), &json!(500))
    );
    let (s, v) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/plugins/router/replay",
        Some(json!({"version": 1})),
    );
    assert_eq!(s, 409, "{v}");
    assert!(v.to_string().contains("transcripts/policy"), "{v}");
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/transcripts/policy",
        Some(json!({"enabled": true, "max_calls": 0})),
    );
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("max_calls"), "{v}");
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/transcripts/policy",
        Some(json!({"enabled": true, "max_calls": 50})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["max_age_hours"], 168);

    // Three callers of +15550199 (1002 is not there: its voicemail
    // answers, and the caller hangs up).
    blocking(move || {
        for i in 0..3u32 {
            let mut c = Phone::new(sip, 0xDA00 + i).calling_as(&format!("+1555400{i:04}"));
            c.call("+15550199");
            c.bye();
        }
    })
    .await;
    let p = pbx.clone();
    until("three calls' transcripts", move || {
        let (_, v) = operator_api(&p, "GET", "/api/tenants/demo/transcripts", None);
        v.as_array().is_some_and(|a| {
            a.len() == 3 && a.iter().all(|t| !t["steps"].as_array().unwrap().is_empty())
        })
    })
    .await;
    let (_, kept) = operator_api(
        &pbx,
        "GET",
        "/api/tenants/demo/transcripts?plugin=router",
        None,
    );
    let first = &kept[0]["steps"][0];
    assert_eq!(kept[0]["plugin"], "router");
    assert_eq!(first["event"], "CallStarted", "{first}");
    assert_eq!(first["version"], 1);
    assert_eq!(
        first["call"]["caller"]["number"], "+15554000002",
        "newest first"
    );
    assert!(first["outcome"]["decided"]["actions"].is_array(), "{first}");
    // The router asked the directory about 1002, and was told.
    let asked: Vec<&Value> = kept[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["host_calls"].as_array().unwrap())
        .collect();
    assert!(
        asked
            .iter()
            .any(|c| c["ask"] == "extension" && c["number"] == "1002"),
        "{asked:?}"
    );

    // The same router as version 2: every call the same.
    assert_eq!(blocking_upload(&pbx, "router").await, 2);
    let (s, same) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/plugins/router/replay",
        Some(json!({"version": 2})),
    );
    assert_eq!(s, 200, "{same}");
    assert_eq!(
        (&same["calls"], &same["same"], &same["differing"]),
        (&json!(3), &json!(3), &json!(0)),
        "{same}"
    );

    // A version that traps: every call differs at step 1, and the report
    // shows what happened beside the failure.
    assert_eq!(blocking_upload(&pbx, "trap-flow").await, 3);
    let (s, r) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/plugins/router/replay",
        Some(json!({"version": 3, "calls": 2})),
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["calls"], &r["differing"]),
        (&json!(2), &json!(2)),
        "{r}"
    );
    let d = &r["replays"][0]["difference"];
    assert_eq!(d["step"], 1);
    assert!(d["recorded"]["decided"]["actions"].is_array(), "{d}");
    assert!(d["candidate"]["failed"].is_string(), "{d}");
    assert_eq!(r["replays"][0]["caller"], "+15554000002");
    // Replays change nothing live.
    assert_eq!(
        switchyard_store::PluginRepo::active(&pbx.running.store, "demo", "router").unwrap(),
        Some(1)
    );

    // The CLI prints it for a person.
    let url = base.clone();
    let op = pbx.running.operator_token.clone();
    let out = blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["plugin", "replay", "demo", "router", "3"])
            .env("SWITCHYARD_URL", &url)
            .env("SWITCHYARD_TOKEN", &op)
            .output()
            .expect("the client runs")
    })
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "Replay of router version 3 against 3 recorded calls: 0 the same, 3 different."
        ),
        "{text}"
    );
    assert!(
        text.contains("from +15554000000 to +15550199") && text.contains("differs at step 1"),
        "{text}"
    );
    assert!(text.contains("candidate:  failed ("), "{text}");

    // Roles and tenants.
    let op = pbx.running.operator_token.clone();
    let b = base.clone();
    let (sup, agent) = blocking(move || {
        (
            key(&b, &op, "demo", "supervisor", None),
            key(&b, &op, "demo", "agent", Some("1001")),
        )
    })
    .await;
    let get = |token: String, path: &'static str| {
        let url = format!("{base}{path}");
        tokio::task::block_in_place(move || http("GET", &url, &token, None).0)
    };
    assert_eq!(get(sup.clone(), "/api/tenants/demo/transcripts"), 200);
    assert_eq!(get(agent.clone(), "/api/tenants/demo/transcripts"), 403);
    let url = format!("{}/api/tenants/demo/plugins/router/replay", base);
    let body = json!({"version": 3});
    let (s, _) = tokio::task::block_in_place(|| http("POST", &url, &sup, Some(body.clone())));
    assert_eq!(s, 403, "a supervisor does not run plugins");

    // Turning transcripts off deletes them.
    let (s, _) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/transcripts/policy",
        Some(json!({"enabled": false})),
    );
    assert_eq!(s, 200);
    let (_, v) = operator_api(&pbx, "GET", "/api/tenants/demo/transcripts", None);
    assert_eq!(v, json!([]));
}

async fn blocking_upload(pbx: &Arc<Pbx>, component: &'static str) -> u64 {
    let p = pbx.clone();
    blocking(move || upload(&p, component)).await
}
