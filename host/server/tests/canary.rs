//! A canary release with real calls: version 2 of the demo's `router` — a
//! component that traps on every decision — takes half of the callers;
//! after its fourth failed call the host stops it on its own (and the
//! store forgets it), every caller is back on version 1, and the API shows
//! both versions' figures. A healthy version 3 run as a canary is then
//! promoted to the active version.

mod common;

use std::sync::Arc;

use common::phone::{Phone, carrier_tenant};
use common::*;
use serde_json::{Value, json};
use switchyard_store::PluginRepo;

fn upload(pbx: &Pbx, component: &str) -> Value {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .post(format!(
            "http://{}/api/tenants/demo/plugins/router",
            pbx.running.http
        ))
        .header(
            "Authorization",
            &format!("Bearer {}", pbx.running.operator_token),
        )
        .header("Content-Type", "application/wasm")
        .send(switchyard_artifacts::get(component).unwrap())
        .unwrap();
    assert!(r.status().is_success());
    r.body_mut().read_json().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_canary_is_stopped_by_its_failures_and_a_healthy_one_promoted() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;
    let p = pbx.clone();
    let v2 = blocking(move || upload(&p, "trap-flow")).await;
    assert_eq!(v2["number"], 2, "{v2}");
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/plugins/router/canary",
        Some(json!({"version": 2, "percent": 50, "min_decisions": 4})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["canary"]["percent"], 50);

    // Thirty callers, one after the other (+15550199 goes to 1002, who is
    // not there: its voicemail answers). The canary's callers get the
    // safe fallback instead.
    blocking(move || {
        for i in 0..30u32 {
            let mut c = Phone::new(sip, 0xCA00 + i).calling_as(&format!("+1555300{i:04}"));
            c.call("+15550199");
            c.bye();
        }
    })
    .await;
    // Stopped after its 4th failed decision (a failed call may ask its
    // flow more than once): the first calls it took, none after.
    let rows = pbx.cdrs(30).await;
    let versions: Vec<Option<u32>> = rows.iter().rev().map(|c| c.plugin_version).collect();
    let on_v2 = versions.iter().filter(|v| **v == Some(2)).count();
    assert!((1..=4).contains(&on_v2), "{versions:?}");
    let last_v2 = versions.iter().rposition(|v| *v == Some(2)).unwrap();
    assert!(
        versions[last_v2 + 1..].iter().all(|v| *v == Some(1)),
        "{versions:?}"
    );
    assert!(
        versions.len() - last_v2 > 10,
        "most callers after the stop: {versions:?}"
    );
    let (s, v) = operator_api(&pbx, "GET", "/api/tenants/demo/plugins/router/canary", None);
    assert_eq!(s, 200);
    assert_eq!(v["canary"], Value::Null, "{v}");
    assert_eq!(
        (
            &v["canary_figures"]["decisions"],
            &v["canary_figures"]["failures"]
        ),
        (&json!(4), &json!(4)),
        "{v}"
    );
    assert_eq!(v["stable"]["version"], 1);
    assert_eq!(v["stable"]["failures"], 0);
    assert!(v["stable"]["decisions"].as_u64().unwrap() >= 26, "{v}");
    assert!(v["stable"]["p99_ms"].as_f64().is_some(), "{v}");
    assert_eq!(v["stopped"]["version"], 2);
    let why = v["stopped"]["reason"].as_str().unwrap();
    assert!(why.contains("100% of its 4 decisions"), "{why}");
    let stored = pbx.running.store.canary("demo", "router").unwrap().unwrap();
    assert!(stored.stopped.is_some(), "not started again at a reload");
    let metrics = pbx.running.pbx.metrics_text();
    let line = "switchyard_plugin_version_decisions_total{tenant=\"demo\",plugin=\"router\",version=\"2\",outcome=\"failed\"} 4";
    assert!(
        metrics.contains(line),
        "{line}\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("version_decisions"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    assert!(
        metrics.contains("switchyard_plugin_version_latency_seconds_count{tenant=\"demo\",plugin=\"router\",version=\"2\"}"),
        "per-version decision times"
    );

    // Promoting what is not running is refused; a healthy canary is
    // promoted and becomes the version every call gets.
    let (s, _) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/plugins/router/canary/promote",
        None,
    );
    assert_eq!(s, 409, "a stopped canary is not promoted");
    let p = pbx.clone();
    let v3 = blocking(move || upload(&p, "router")).await;
    assert_eq!(v3["number"], 3);
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/plugins/router/canary",
        Some(json!({"version": 3, "percent": 99})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/plugins/router/canary/promote",
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(pbx.running.store.active("demo", "router").unwrap(), Some(3));
    blocking(move || {
        let mut c = Phone::new(sip, 0xCB00).calling_as("+15553009999");
        c.call("+15550199");
        c.bye();
    })
    .await;
    let c = pbx.cdr_to(31, "+15550199").await;
    assert_eq!(c.plugin_version, Some(3));
}
