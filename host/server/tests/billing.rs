//! Rating and prepaid balances with real calls through a real (SIPp)
//! carrier: a prepaid tenant out of balance is refused its call out with
//! 402; topped up, its call goes through, is rated at the plan's price and
//! increment, lowers the balance past the threshold (the low-balance
//! e-mail arrives at a real local SMTP server, and a reporter plugin that
//! exports `account-events` hears the notice), and shows in the usage,
//! its CSV and the ledger; the month's fees are charged once.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::smtp::SmtpServer;
use common::*;
use serde_json::{Value, json};
use switchyard_calls::mail::MailSettings;
use switchyard_sipp::Sipp;
use switchyard_store::BillingRepo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepaid_tenant_calls_out_while_its_balance_lasts_and_is_told_when_low() {
    let smtp = SmtpServer::start().await;
    let carrier = Sipp::new("carrier_uas_challenge").timeout(LIMIT);
    let addr: SocketAddr = ([127, 0, 0, 1], carrier.port()).into();
    let url = smtp.url();
    let pbx = Arc::new(
        pbx_configured(Some(trunk_tenant(addr, false)), None, move |c| {
            c.calls.mail = Some(MailSettings {
                url,
                from: "Switchyard <pbx@switchyard.test>".into(),
                per_tenant_per_hour: 100,
            })
        })
        .await,
    );
    // The demo's plan gets prices: calls out 0.60 a minute in whole
    // minutes (US numbers 0.30), a number 1.00 and an extension 2.00 a
    // month.
    let features = every_feature();
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/plans/business",
        Some(json!({
            "features": features,
            "rates": {
                "currency": "USD",
                "minutes": [
                    {"direction": "outbound", "prefix": "", "per_minute": "0.60"},
                    {"direction": "outbound", "prefix": "1", "per_minute": "0.30", "increment": "60/60"},
                    {"direction": "bothways", "prefix": "2", "per_minute": "1"}
                ],
                "number_monthly": "1.00",
                "extension_monthly": "2.00"
            }
        })),
    );
    assert_eq!(s, 400, "a direction that is not one: {v}");
    assert_eq!(v["field"], "rates.minutes.direction", "{v}");
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/plans/business",
        Some(json!({
            "features": features,
            "rates": {
                "currency": "USD",
                "minutes": [
                    {"direction": "outbound", "prefix": "", "per_minute": "0.60"},
                    {"direction": "outbound", "prefix": "1", "per_minute": "0.30", "increment": "60/60"}
                ],
                "number_monthly": "1.00",
                "extension_monthly": "2.00"
            }
        })),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rates"]["minutes"][1]["per_minute"], "0.30");

    // A reporter that hears account notices (world `billing-reporter`),
    // uploaded and made a reporter beside the demo's own, through the API.
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let (s, text) = blocking(move || {
        let component = switchyard_artifacts::get("account-reporter").unwrap();
        upload_plugin(&base, &op, "demo", "acct", component)
    })
    .await;
    assert_eq!(s, 201, "{text}");
    let (s, mut roles) = operator_api(&pbx, "GET", "/api/tenants/demo/plugin-roles", None);
    assert_eq!(s, 200, "{roles}");
    roles["reporters"]
        .as_array_mut()
        .unwrap()
        .push("acct".into());
    let (s, v) = operator_api(&pbx, "PUT", "/api/tenants/demo/plugin-roles", Some(roles));
    assert_eq!(s, 200, "{v}");

    // Prepaid, nothing on it yet, told below 1.00.
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/account",
        Some(json!({"prepaid": true, "low_balance_threshold": "1.00",
            "notify_email": "billing@demo.example"})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["exhausted"], true);

    // Out of balance: 402 before anything rings.
    let p = pbx.clone();
    let refused = blocking(move || {
        p.dial(
            "1001",
            "915551234567",
            "uac_expect_status",
            &[("status", "402")],
        )
    })
    .await;
    refused.assert_ok();
    let metrics = pbx.running.pbx.metrics_text();
    let line = "switchyard_calls_refused_unpaid_total{tenant=\"demo\"} 1";
    assert!(metrics.contains(line), "{line}");

    // The operator tops up 1.20 (sent twice: added once).
    for _ in 0..2 {
        let (s, v) = operator_api(
            &pbx,
            "POST",
            "/api/tenants/demo/account/top-ups",
            Some(json!({"amount": "1.20", "reference": "card 4242"})),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["balance"], "1.2", "{v}");
    }
    // A tenant key reads its account but may not top it up.
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let admin = blocking(move || key(&base, &op, "demo", "admin", None)).await;
    let url = format!(
        "http://{}/api/tenants/demo/account/top-ups",
        pbx.running.http
    );
    let a = admin.clone();
    let (s, _) = blocking(move || {
        http(
            "POST",
            &url,
            &a,
            Some(json!({"amount": "100", "reference": "free money"})),
        )
    })
    .await;
    assert_eq!(s, 403);

    // Now the call goes out (the router strips the 9), lasts a moment,
    // and costs one whole minute at the US rate.
    let carrier = carrier.spawn();
    let p = pbx.clone();
    let (caller, carrier) = blocking(move || {
        let caller = p.dial("1001", "915551234567", "uac_call", &[("pause_ms", "1500")]);
        (caller, carrier.wait())
    })
    .await;
    caller.assert_ok();
    carrier.assert_ok();

    let store = pbx.running.store.clone();
    let balance = move || {
        store
            .account("demo")
            .unwrap()
            .balance
            .normalize()
            .to_string()
    };
    let b = balance.clone();
    until("the call is charged", move || b() == "0.9").await;
    // The tenant's admin reads it too.
    let acct = format!("http://{}/api/tenants/demo/account", pbx.running.http);
    let (s, text) = blocking(move || http("GET", &acct, &admin, None)).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&v["balance"], &v["exhausted"]),
        (&json!("0.9"), &json!(false))
    );

    // Below 1.00: the notice went to the account's address.
    let mail = smtp.messages(1, Duration::from_secs(20)).await;
    assert_eq!(mail.len(), 1, "one low-balance e-mail");
    assert_eq!(mail[0].to, ["billing@demo.example"]);
    let text = String::from_utf8_lossy(&mail[0].data);
    assert!(
        text.contains("Low balance: 0.9 USD left for demo"),
        "{text}"
    );
    // And to the reporter that hears account notices, in the background.
    let tenants = pbx.running.pbx.clone();
    let heard = move || {
        tenants
            .tenants()
            .by_id("demo")
            .and_then(|t| t.runtime.plugin_kv_get("acct", "account-notice").unwrap())
            .map(|v| String::from_utf8(v).unwrap())
            .unwrap_or_default()
    };
    let h = heard.clone();
    until("the reporter hears the low balance", move || {
        !h().is_empty()
    })
    .await;
    let notice = heard();
    assert!(
        notice.starts_with("low-balance balance=0.9 threshold=1 currency=USD at="),
        "{notice}"
    );

    let (s, u) = operator_api(&pbx, "GET", "/api/tenants/demo/usage", None);
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["currency"], "USD");
    let out = &u["minutes"][0];
    assert_eq!(out["direction"], "outbound", "{u}");
    assert_eq!(out["prefix"], "1");
    assert_eq!(out["calls"], 1);
    assert_eq!(out["billed_seconds"], 60);
    let secs = out["seconds"].as_u64().unwrap();
    assert!((1..=10).contains(&secs), "{secs} s connected");
    assert_eq!(out["amount"], "0.3");
    assert_eq!(u["topped_up"], "1.2");
    assert_eq!(u["charged"], "0.3");
    // The rate card is the operator's: the tenant's view has no prices.
    assert!(u.get("rates").is_none());

    // The month's fees: 5 numbers (the demo's and the DID) and 3
    // extensions, charged once however often the job runs.
    let running = &pbx.running.pbx;
    let now = switchyard_clock::unix_ms();
    // (The server's own hourly job may have been first: either way the
    // month is charged once.)
    running.charge_monthly_fees(now);
    assert_eq!(running.charge_monthly_fees(now + 1000), 0);
    let (_, u) = operator_api(&pbx, "GET", "/api/tenants/demo/usage", None);
    assert_eq!(u["monthly"].as_array().unwrap().len(), 1, "{u}");
    let m = &u["monthly"][0];
    let numbers = m["numbers"].as_u64().unwrap();
    let expected = numbers as f64 * 1.0 + 3.0 * 2.0;
    assert_eq!(m["extensions"], 3);
    assert_eq!(
        m["amount"].as_str().unwrap().parse::<f64>().unwrap(),
        expected
    );

    // The ledger as CSV: the top-up, the call, the month.
    let csv_url = format!("http://{}/api/tenants/demo/usage.csv", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let (s, csv) = blocking(move || http("GET", &csv_url, &op, None)).await;
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("at_ms,id,kind"), "{csv}");
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(kinds, ["monthly", "top-up", "call"], "by time: {csv}");
    assert!(lines[3].contains(",outbound,15551234567,1,"), "{csv}");
    assert!(lines[3].ends_with(",-0.3,0.9"), "{csv}");

    // Exhausted again by the fees: the next call out is refused.
    assert!(balance().starts_with('-'), "{}", balance());
    let p = pbx.clone();
    blocking(move || {
        p.dial(
            "1001",
            "915551234567",
            "uac_expect_status",
            &[("status", "402")],
        )
    })
    .await
    .assert_ok();
}

/// A prepaid call that outlasts its balance: 0.05 at 0.01 a second
/// affords 5 s; the plan's grace is 2 s; the host then hangs up both
/// sides, and the small overdraft is what the call really cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_spends_the_balance_ends_after_the_grace() {
    let carrier = Sipp::new("carrier_uas_challenge").timeout(LIMIT);
    let addr: SocketAddr = ([127, 0, 0, 1], carrier.port()).into();
    let pbx = Arc::new(pbx_with(Some(trunk_tenant(addr, false)), None).await);
    let features = every_feature();
    let (s, v) = operator_api(
        &pbx,
        "PUT",
        "/api/plans/business",
        Some(json!({
            "features": features,
            "prepaid_grace_secs": 2,
            "rates": {"currency": "EUR", "minutes": [
                {"direction": "outbound", "prefix": "", "per_minute": "0.60", "increment": "1/1"}
            ]}
        })),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["prepaid_grace_secs"], 2);
    let (s, _) = operator_api(
        &pbx,
        "PUT",
        "/api/tenants/demo/account",
        Some(json!({"prepaid": true})),
    );
    assert_eq!(s, 200);
    let (s, _) = operator_api(
        &pbx,
        "POST",
        "/api/tenants/demo/account/top-ups",
        Some(json!({"amount": "0.05", "reference": "five cents"})),
    );
    assert_eq!(s, 200);

    let carrier = carrier.spawn();
    let p = pbx.clone();
    let (caller, carrier) = blocking(move || {
        // The caller would talk for ever: the host ends it.
        let caller = p.dial("1001", "915551234567", "uac_call_wait_bye", &[]);
        (caller, carrier.wait())
    })
    .await;
    caller.assert_ok();
    carrier.assert_ok();
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(c.hangup_by.as_deref(), Some("system"), "{c:?}");
    let leg = &c.legs[0];
    let talked = (leg.end_ms - leg.answer_ms.unwrap()) as f64 / 1000.0;
    // The balance is spent once the call is past 4 s (rated per started
    // second: the 5th second costs the last cent), then 2 s of grace,
    // checked every 2 s: at least 6 s. A loaded machine can only make it
    // later, never earlier.
    assert!(talked >= 5.5, "talked {talked:.1} s");
    assert!(talked < 60.0, "talked {talked:.1} s");
    let metrics = pbx.running.pbx.metrics_text();
    let line = "switchyard_calls_ended_unpaid_total{tenant=\"demo\"} 1";
    assert!(metrics.contains(line), "{line}");
    // Charged in full: the balance went below zero by the grace's worth.
    let store = pbx.running.store.clone();
    until("the call is charged", move || {
        store.account("demo").unwrap().balance.is_sign_negative()
    })
    .await;
}
