//! Account notices (`account-events`, world `billing-reporter`, 0.2.2):
//! a reporter that exports the interface is told them and stays a reporter
//! like any other; reporters without it are skipped, not failed.

mod common;

use common::*;
use switchyard_plugins::account_types::{AccountNotice, AccountNoticeKind};
use switchyard_plugins::types::{CallRecord, Direction, Disposition, Party};
use switchyard_plugins::{InterfaceVersion, LoadError, PluginFailure, TenantRuntime, World};

fn low_balance() -> AccountNotice {
    AccountNotice {
        kind: AccountNoticeKind::LowBalance,
        balance: "0.9".into(),
        threshold: "1".into(),
        currency: "EUR".into(),
        // 2026-12-04 19:30:00 UTC.
        at: 1_796_412_600_000,
    }
}

fn kv_text(t: &TenantRuntime, plugin: &str, key: &str) -> Option<String> {
    t.plugin_kv_get(plugin, key)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

fn kv_counter(t: &TenantRuntime, plugin: &str, key: &str) -> i64 {
    t.plugin_kv_get(plugin, key).unwrap().map_or(0, |v| {
        i64::from_le_bytes(v.try_into().expect("8-byte counter"))
    })
}

fn record() -> CallRecord {
    CallRecord {
        call_id: "c-1".into(),
        tenant: "acme".into(),
        direction: Direction::Outbound,
        caller: Party {
            number: "1001".into(),
            display_name: None,
        },
        callee: Party {
            number: "+15550100".into(),
            display_name: None,
        },
        dialled: "+15550100".into(),
        start_time: 1_796_412_600_000,
        answer_time: Some(1_796_412_605_000),
        end_time: 1_796_412_660_000,
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
    }
}

#[test]
fn a_billing_reporter_is_a_current_reporter() {
    let c = host().load(wasm("account-reporter")).unwrap();
    assert_eq!(c.world(), World::Reporter);
    assert_eq!(c.interface_version(), InterfaceVersion::V0_2);
}

#[test]
fn account_events_without_reporting_is_no_plugin() {
    let e = host().load(wasm("lone-account-events")).unwrap_err();
    assert!(matches!(e, LoadError::UnknownWorld { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("switchyard:plugin/account-events@0.2.2"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_billing_reporter_is_reported_and_the_others_still_told() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install(
        "broken",
        wasm("account-reporter"),
        config(&[("fail", "ledger down")]),
    )
    .unwrap();
    t.install("acct", wasm("account-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("broken").unwrap();
    t.add_reporter("acct").unwrap();
    let r = t.report_account_notice(&low_balance()).await;
    assert_eq!(
        r,
        vec![
            (
                "broken".to_string(),
                Err(PluginFailure::PluginError("ledger down".into()))
            ),
            ("acct".to_string(), Ok(())),
        ]
    );
    assert_eq!(kv_counter(&t, "acct", "account-notices"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_reaches_a_billing_reporter_with_every_field() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("acct", wasm("account-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("acct").unwrap();

    let r = t.report_account_notice(&low_balance()).await;
    assert_eq!(r, vec![("acct".to_string(), Ok(()))]);
    assert_eq!(
        kv_text(&t, "acct", "account-notice").as_deref(),
        Some("low-balance balance=0.9 threshold=1 currency=EUR at=1796412600000")
    );
    assert_eq!(kv_counter(&t, "acct", "account-notices"), 1);

    // Still a reporter like any other: it hears call records.
    let r = t.report_call_record(&record()).await;
    assert_eq!(r, vec![("acct".to_string(), Ok(()))]);
    assert_eq!(kv_counter(&t, "acct", "call-records"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporters_without_account_events_are_skipped_without_error() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("call-stats", wasm("call-stats"), config(&[]))
        .unwrap();
    t.add_reporter("call-stats").unwrap();

    // Only a plain reporter: nobody to tell, nothing failed.
    assert!(t.report_account_notice(&low_balance()).await.is_empty());

    t.install("acct", wasm("account-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("acct").unwrap();
    let r = t.report_account_notice(&low_balance()).await;
    assert_eq!(r, vec![("acct".to_string(), Ok(()))]);
    assert_eq!(kv_counter(&t, "acct", "account-notices"), 1);

    // Both still hear call records.
    let r = t.report_call_record(&record()).await;
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|(_, r)| r.is_ok()), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_reporter_replaces_a_plain_one_under_the_same_name() {
    // Same world, so a new version may add account-events to a reporter
    // already installed, and the active version decides who is told.
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("rep", wasm("call-stats"), config(&[])).unwrap();
    t.add_reporter("rep").unwrap();
    let v2 = t
        .install("rep", wasm("account-reporter"), config(&[]))
        .unwrap();
    assert!(t.report_account_notice(&low_balance()).await.is_empty());
    t.activate("rep", v2).unwrap();
    let r = t.report_account_notice(&low_balance()).await;
    assert_eq!(r, vec![("rep".to_string(), Ok(()))]);
}
