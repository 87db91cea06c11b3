//! Caller rules (block and allow lists) through the API, applied to real
//! calls from the carrier before the IVR.

mod common;

use std::sync::Arc;

use common::phone::{Phone, carrier_tenant, on_the_wire, sdp};
use common::*;
use serde_json::{Value, json};

fn put_rules(pbx: &Pbx, rules: Value) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .put(format!(
            "http://{}/api/tenants/demo/caller-rules",
            pbx.running.http
        ))
        .header(
            "Authorization",
            &format!("Bearer {}", pbx.running.operator_token),
        )
        .send_json(rules)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_json().unwrap())
}

/// The carrier's caller (+15551230000) is blocked by a prefix: refused
/// busy before the IVR, the record tagged. Then a rule for the whole
/// number lets them through instead (the more specific rule wins): they
/// skip the IVR and 1002's phone rings and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_caller_is_refused_and_an_allowed_one_skips_the_ivr() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;

    // Bad rules are refused, naming what is wrong.
    let p = pbx.clone();
    let (status, body) =
        blocking(move || put_rules(&p, json!([{"pattern": "+1555123*", "action": "explode"}])))
            .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "action", "{body}");
    let p = pbx.clone();
    let (status, body) =
        blocking(move || put_rules(&p, json!([{"pattern": "+1555 123", "action": "reject"}])))
            .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "pattern", "{body}");

    let p = pbx.clone();
    let (status, _) =
        blocking(move || put_rules(&p, json!([{"pattern": "+1555123*", "action": "reject"}])))
            .await;
    assert_eq!(status, 200);
    let refused = blocking(move || {
        let mut c = Phone::new(sip, 0xB10C);
        c.offer("+15550100", &sdp(4000, "sendrecv"))
    })
    .await;
    assert_eq!(refused, 486, "busy, as the rule says");
    let c = pbx.cdr_to(1, "+15550100").await;
    assert_eq!(c.disposition.as_str(), "busy");
    assert!(c.tags.contains(&"blocked".to_string()), "{:?}", c.tags);

    let p = pbx.clone();
    let (status, list) = blocking(move || {
        put_rules(
            &p,
            json!([
                {"pattern": "+1555123*", "action": "reject"},
                {"pattern": "+15551230000", "action": "allow", "to": "1002"}
            ]),
        )
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(list[1]["to"], "1002", "the list as stored: {list}");
    let p = pbx.clone();
    blocking(move || {
        let phone = p.phone("1002", "uas_answer", &[]);
        let mut c = Phone::new(sip, 0xA110);
        // Answered by 1002 itself, not by the IVR.
        c.call("+15550100");
        c.bye();
        phone.wait().assert_ok();
    })
    .await;
    let rows = pbx.cdrs(2).await;
    let allowed = &rows[0];
    assert_eq!(allowed.disposition.as_str(), "answered");
    assert_eq!(allowed.agent.as_deref(), Some("1002"));
    assert!(
        allowed.tags.contains(&"allow-listed".to_string()),
        "{:?}",
        allowed.tags
    );
    // Counted by action.
    let metrics = pbx.running.pbx.metrics_text();
    for line in [
        "switchyard_caller_rule_calls_total{tenant=\"demo\",action=\"reject\"} 1",
        "switchyard_caller_rule_calls_total{tenant=\"demo\",action=\"allow\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}");
    }
}

/// The demo tenant's rules, as the README promises: premium-rate numbers
/// (`+1900…`) are refused busy; `+15557770000` skips the IVR to 1001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tenant_blocks_premium_rate_callers_and_lets_its_vip_through() {
    use switchyard_store::{CallerAction, CallerRuleRepo};
    let pbx = pbx_with(Some(carrier_tenant()), None).await;
    let rules = pbx.running.store.caller_rules("demo").unwrap();
    let find = |p: &str| rules.iter().find(|r| r.pattern == p).map(|r| &r.action);
    assert_eq!(
        find("+1900*"),
        Some(&CallerAction::Reject { decline: false })
    );
    assert_eq!(
        find("+15557770000"),
        Some(&CallerAction::Allow { to: "1001".into() })
    );
}

/// A caller blocked with a message hears the tenant's prompt (after the
/// rule's 300 ms of silence) instead of the IVR, and the host hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_caller_hears_the_tenants_message_then_the_host_hangs_up() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;
    let p = pbx.clone();
    let (status, _) = blocking(move || {
        put_rules(
            &p,
            json!([{"pattern": "+15551230000", "action": "message", "prompt": "invalid-option"}]),
        )
    })
    .await;
    assert_eq!(status, 200);
    let heard = blocking(move || {
        let mut c = Phone::new(sip, 0x3E55);
        c.call("+15550100");
        let heard = c.listen(std::time::Duration::from_millis(1500));
        c.answer_bye();
        heard
    })
    .await;
    let (_, wav) = switchyard_artifacts::DEMO_PROMPTS
        .iter()
        .find(|(n, _)| *n == "invalid-option")
        .unwrap();
    let prompt = on_the_wire(wav);
    let start = &prompt[..4000];
    assert!(
        heard.windows(start.len()).any(|w| w == start),
        "the message, not the IVR menu"
    );
    let c = pbx.cdr_to(1, "+15550100").await;
    assert!(c.tags.contains(&"blocked".to_string()), "{:?}", c.tags);
    assert_eq!(c.hangup_by.as_deref(), Some("system"));
}

/// An extension's own lists: 1002 blocks the carrier's caller, who then
/// never rings it (straight to its voicemail); an allow list that does not
/// name the caller keeps them out too; one that names them lets them ring.
/// The lists are 1002's agent key's to keep, not another agent's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extensions_own_block_and_allow_lists_screen_who_rings_it() {
    let pbx = Arc::new(pbx_with(Some(carrier_tenant()), None).await);
    let sip = pbx.running.sip_udp;
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let url = format!("{base}/api/tenants/demo/extensions/1002/caller-rules");
    let (own, other) = {
        let (b, o) = (base.clone(), op.clone());
        blocking(move || {
            (
                key(&b, &o, "demo", "agent", Some("1002")),
                key(&b, &o, "demo", "agent", Some("1003")),
            )
        })
        .await
    };
    let put = |token: String, rules: Value| {
        let url = url.clone();
        blocking(move || {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent();
            let mut r = agent
                .put(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .send_json(rules)
                .unwrap();
            (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
        })
    };
    let block = json!([{"pattern": "+1555123*", "action": "reject"}]);
    let (s, _) = put(other.clone(), block.clone()).await;
    assert_eq!(s, 403, "1003's key may not keep 1002's list");
    let (s, body) = put(
        own.clone(),
        json!([{"pattern": "+1555*", "action": "voicemail", "mailbox": "1002"}]),
    )
    .await;
    assert_eq!(s, 400, "an extension's rules reject or allow: {body}");
    let (s, body) = put(own.clone(), block).await;
    assert_eq!(s, 200, "{body}");

    // 1002 is registered (at a port nobody answers): a call that rang it
    // would have a leg to it.
    let p = pbx.clone();
    blocking(move || {
        p.register("1002", 9);
        let mut c = Phone::new(sip, 0x5C1);
        c.call("+15550199"); // the router: 1002, then its voicemail
        c.bye();
    })
    .await;
    let c = pbx.cdr_to(1, "+15550199").await;
    assert!(c.legs.iter().all(|l| l.target != "1002"), "not rung: {c:?}");

    // An allow list without the caller keeps them out as well.
    let (s, _) = put(
        own.clone(),
        json!([{"pattern": "+1555999*", "action": "allow"}]),
    )
    .await;
    assert_eq!(s, 200);
    blocking(move || {
        let mut c = Phone::new(sip, 0x5C2);
        c.call("+15550199");
        c.bye();
    })
    .await;
    let rows = pbx.cdrs(2).await;
    assert!(
        rows[0].legs.iter().all(|l| l.target != "1002"),
        "{:?}",
        rows[0]
    );

    // Named on it: 1002 rings and answers.
    let (s, body) = put(own, json!([{"pattern": "+15551230000", "action": "allow"}])).await;
    assert_eq!(s, 200, "{body}");
    let p = pbx.clone();
    blocking(move || {
        let phone = p.phone("1002", "uas_answer", &[]);
        let mut c = Phone::new(sip, 0x5C3);
        c.call("+15550199");
        c.bye();
        phone.wait().assert_ok();
    })
    .await;
    let rows = pbx.cdrs(3).await;
    assert_eq!(rows[0].agent.as_deref(), Some("1002"), "{:?}", rows[0]);
    let metrics = pbx.running.pbx.metrics_text();
    let line =
        "switchyard_caller_rule_calls_total{tenant=\"demo\",action=\"extension-screened\"} 2";
    assert!(metrics.contains(line), "{line}");
}
