//! Queue strategies, reporters and CRM call logging, with real components.

mod common;

use common::*;
use switchyard_plugins::PluginFailure;
use switchyard_plugins::queue_types::{QueueInfo, WaitingCall};
use switchyard_plugins::types::{CallRecord, Direction, Disposition, Party};
use switchyard_plugins::types::{Notice, NoticeKind};

fn record(tags: &[&str]) -> CallRecord {
    CallRecord {
        call_id: "c-1".into(),
        tenant: "acme".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+15550100".into(),
            display_name: None,
        },
        callee: Party {
            number: "100".into(),
            display_name: None,
        },
        dialled: "100".into(),
        start_time: 1,
        answer_time: Some(2),
        end_time: 3,
        disposition: Disposition::Answered,
        hangup_by: None,
        sip_code: 200,
        queue: None,
        agent: Some("1001".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        recording: None,
        flow_plugin: Some("router".into()),
        plugin_version: Some(1),
        legs: vec![],
    }
}

fn counter(v: Option<Vec<u8>>) -> i64 {
    i64::from_le_bytes(v.expect("counter set").try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategy_orders_candidates_and_host_drops_strangers() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("reverse", wasm("reverse-strategy"), config(&[]))
        .unwrap();
    t.set_strategy("rr", "reverse").unwrap();
    let p = t.pin_strategy("rr").unwrap();
    let queue = QueueInfo {
        name: "sales".into(),
        waiting: 1,
        agents_logged_in: 3,
    };
    let waiting = WaitingCall {
        call: call("acme", "1", "2"),
        skills: vec![],
        priority: 0,
        waited_seconds: 3,
        last_agent: None,
        contact: None,
        callback: false,
    };
    let got = t
        .select_agents(
            &p,
            &queue,
            &waiting,
            &[agent("a", 0), agent("b", 1), agent("c", 2)],
        )
        .await
        .unwrap();
    assert_eq!(got, vec!["c", "b", "a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporters_get_records_and_notices() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("count", wasm("count-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("count").unwrap();

    let r = t.report_call_record(&record(&[])).await;
    assert_eq!(r, vec![("count".to_string(), Ok(()))]);
    let r = t.report_call_record(&record(&["fail"])).await;
    assert_eq!(
        r,
        vec![(
            "count".to_string(),
            Err(PluginFailure::PluginError("refusing c-1".into()))
        )]
    );
    let notice = Notice {
        kind: NoticeKind::CallQueued,
        call_id: "c-1".into(),
        at: 5,
        queue: Some("sales".into()),
        agent: None,
        detail: None,
    };
    t.report_notice(&notice).await;
    t.report_notice(&notice).await;
    assert_eq!(counter(t.plugin_kv_get("count", "records").unwrap()), 1);
    assert_eq!(counter(t.plugin_kv_get("count", "notices").unwrap()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_log_call_reaches_the_connector() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    assert!(matches!(
        t.crm_log_call(&record(&[])).await,
        Err(PluginFailure::NotInstalled(_))
    ));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    t.crm_log_call(&record(&[])).await.unwrap();
}
