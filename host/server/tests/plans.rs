//! Plans reach real calls: a tenant moved to a plan without IVR and
//! conferences keeps its extension calls but its IVR number and its room
//! are closed; giving the plan IVR back opens the number at once, without
//! a restart. A plan's recording storage, once full, stops new
//! recordings until some are deleted.

mod common;

use std::sync::Arc;

use common::phone::{Phone, carrier_tenant};
use common::*;
use serde_json::{Value, json};
use switchyard_store::{FileRecord, FileRepo};

fn features(on: &[&str]) -> Value {
    on.iter().map(|f| (f.to_string(), json!(true))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_ivr_and_rooms_closes_them_and_keeps_extension_calls() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;
    let p = pbx.clone();
    blocking(move || {
        // The demo is on `business`; `essentials` has none of the extras.
        let (s, v) = operator_api(&p, "GET", "/api/tenants/demo", None);
        assert_eq!((s, &v["plan"]), (200, &json!("business")), "{v}");
        // (Without its calls-per-second cap: this test's calls come
        // quicker than the demo's essentials allows.)
        let (s, v) = operator_api(
            &p,
            "PUT",
            "/api/plans/essentials",
            Some(json!({"features": {}, "limits": {"max_extensions": 10}})),
        );
        assert_eq!(s, 200, "{v}");
        let (s, v) = operator_api(
            &p,
            "PATCH",
            "/api/tenants/demo",
            Some(json!({"plan": "essentials"})),
        );
        assert_eq!(s, 200, "{v}");

        // The IVR's number: its flow is not the tenant's any more, so
        // the caller gets the safe fallback (a "please try later" prompt)
        // and is hung up.
        let mut c = Phone::new(sip, 0x1A1);
        c.call("+15550100");
        c.answer_bye();

        // The conference room (800, through the extensions flow): the
        // caller is told and hung up, and no room opens.
        let mut room = Phone::new(p.addr(), 0x800);
        room.call_as("1001", &p.password("1001"), "800");
        room.answer_bye();
        assert!(p.running.pbx.conferences("demo").is_empty());

        // Extension to extension still rings and answers.
        let callee = p.phone("1002", "uas_answer", &[]);
        let mut c = Phone::new(p.addr(), 0x1001);
        c.call_as("1001", &p.password("1001"), "1002");
        c.bye();
        callee.wait().assert_ok();

        // The operator adds IVR and reporting to the plan: the number
        // answers again, with no restart, and calls reach the reporter.
        let (s, v) = operator_api(
            &p,
            "PUT",
            "/api/plans/essentials",
            Some(json!({"features": features(&["advanced_ivr", "reporting"])})),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["tenants"], json!(["demo"]));
        let mut c = Phone::new(sip, 0x1A2);
        c.call("+15550100");
        c.bye();
        let callee = p.phone("1002", "uas_answer", &[]);
        let mut c = Phone::new(p.addr(), 0x1002);
        c.call_as("1001", &p.password("1001"), "1002");
        c.bye();
        callee.wait().assert_ok();
    })
    .await;
    let rows = pbx.cdrs(5).await;
    let to_ivr: Vec<_> = rows.iter().filter(|c| c.dialled == "+15550100").collect();
    assert_eq!(to_ivr.len(), 2, "{rows:?}");
    // Newest first: the IVR served the second call, not the first.
    assert_eq!(to_ivr[0].flow_plugin.as_deref(), Some("ivr-menu"));
    assert_eq!(to_ivr[1].flow_plugin, None, "{:?}", to_ivr[1]);

    // The reporter (call-stats counts answered calls a day) heard the
    // answered calls made since the plan has reporting, and not the
    // extension call made before.
    let reported = rows[..2]
        .iter()
        .filter(|c| c.disposition.as_str() == "answered")
        .count() as i64;
    let before = rows[2..]
        .iter()
        .filter(|c| c.disposition.as_str() == "answered")
        .count();
    assert!(before >= 1, "{rows:?}");
    let tenant = pbx.running.pbx.tenants().by_id("demo").unwrap();
    let day = jiff::Timestamp::from_millisecond(rows[0].start_ms as i64)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let key = format!("day/{day}/answered");
    let counted = || {
        tenant
            .runtime
            .plugin_kv_get("call-stats", &key)
            .unwrap()
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .unwrap_or(0)
    };
    until("the reporter counts the calls", || counted() >= reported).await;
    assert_eq!(counted(), reported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_recording_storage_stops_new_recordings_until_some_are_deleted() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    // The plan allows 1 MiB of recordings; the tenant has 1.5 MiB.
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/plans/business",
        Some(json!({"features": every_feature(),
            "limits": {"recording_storage_mib": 1}})),
    );
    assert_eq!(s, 200, "{v}");
    pbx.running
        .store
        .put_file(
            &FileRecord {
                tenant: "demo".into(),
                kind: "recording".into(),
                id: "old-and-big".into(),
                name: "old-and-big.wav".into(),
                content_type: "audio/wav".into(),
                size: 0,
                created_at_ms: 1,
                meta: Default::default(),
            },
            &vec![0u8; 3 << 19],
        )
        .unwrap();
    let sip = pbx.running.sip_udp;
    let call = |pbx: &Arc<Pbx>, ssrc: u32| {
        let p = pbx.clone();
        blocking(move || {
            let agent = p.phone("1002", "uas_answer", &[]);
            let mut c = Phone::new(sip, ssrc);
            c.call("+15550199");
            c.listen(std::time::Duration::from_millis(500));
            c.bye();
            agent.wait().assert_ok();
        })
    };
    call(&pbx, 0xF011).await;
    let full = pbx.cdr_to(1, "+15550199").await;
    assert_eq!(full.disposition.as_str(), "answered");
    assert_eq!(full.recording, None, "storage full: not recorded");
    let metrics = pbx.running.pbx.metrics_text();
    let line = "switchyard_recordings_skipped_total{tenant=\"demo\",reason=\"storage-full\"} 1";
    assert!(metrics.contains(line), "{line}");

    // The tenant sees why, and makes room.
    let (s, v) = operator_api(&pbx, "GET", "/api/tenants/demo/entitlements", None);
    assert_eq!(s, 200);
    assert_eq!(v["limits"]["recording_storage_mib"], 1);
    assert_eq!(v["usage"]["recording_storage_bytes"], 3 << 19);
    let (s, _) = operator_api(
        &pbx,
        "DELETE",
        "/api/tenants/demo/recordings/old-and-big",
        None,
    );
    assert_eq!(s, 204);
    call(&pbx, 0xF012).await;
    let rows = pbx.cdrs(2).await;
    assert!(rows[0].recording.is_some(), "room again: recorded");
}
