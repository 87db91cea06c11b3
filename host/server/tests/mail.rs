//! E-mail through a real (local) SMTP server: voicemail to e-mail with the
//! message attached, missed-call alerts, and addresses managed through the
//! API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::phone::{carrier_tenant, leave_a_message_for_the_operators};
use common::smtp::{Received, SmtpServer};
use common::*;
use mail_parser::{MessageParser, MimeHeaders};
use switchyard_calls::mail::MailSettings;

async fn pbx_mailing(smtp: &SmtpServer, tenant: Option<serde_json::Value>) -> Pbx {
    let url = smtp.url();
    pbx_configured(tenant, None, move |c| {
        c.calls.mail = Some(MailSettings {
            url,
            from: "Switchyard <pbx@switchyard.test>".into(),
            per_tenant_per_hour: 100,
        })
    })
    .await
}

fn api(pbx: &Pbx) -> (ureq::Agent, String, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let base = format!("http://{}/api/tenants/demo", pbx.running.http);
    let auth = format!("Bearer {}", pbx.running.operator_token);
    (agent, base, auth)
}

/// The caller presses 0 in the menu; nobody of `operators` is there, so
/// they leave a message in the operators' mailbox. Its member 1001 gets
/// it by e-mail at the address set through the API, the WAV attached —
/// the same bytes the API serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voicemail_is_emailed_to_the_mailbox_with_the_message_attached() {
    let smtp = SmtpServer::start().await;
    let pbx = pbx_mailing(&smtp, Some(carrier_tenant())).await;
    let (agent, base, auth) = api(&pbx);
    let sip = pbx.running.sip_udp;
    let (http, token) = (pbx.running.http, pbx.running.operator_token.clone());
    let (stored_wav, bad) = blocking(move || {
        // A bad address is refused with the field named.
        let mut r = agent
            .patch(format!("{base}/extensions/1001"))
            .header("Authorization", &auth)
            .send_json(serde_json::json!({"email": "ops@example.com\r\nBcc: x@evil.test"}))
            .unwrap();
        let bad = (r.status().as_u16(), r.body_mut().read_to_string().unwrap());
        let r = agent
            .patch(format!("{base}/extensions/1001"))
            .header("Authorization", &auth)
            .send_json(serde_json::json!({"email": "ops@example.com"}))
            .unwrap();
        assert_eq!(r.status(), 200);

        leave_a_message_for_the_operators(sip);
        let (_, wav) = voicemails(http, &token);
        (wav, bad)
    })
    .await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(bad.1.contains("email"), "{}", bad.1);

    let got = smtp.messages(1, LIMIT).await;
    assert_eq!(got.len(), 1, "one e-mail: {got:?}");
    let Received { from, to, data } = &got[0];
    assert_eq!(from, "pbx@switchyard.test");
    assert_eq!(to, &["ops@example.com"], "the address set through the API");
    let m = MessageParser::default()
        .parse(data)
        .expect("a MIME message");
    let subject = m.subject().unwrap_or_default();
    assert!(
        subject.starts_with("Voicemail from +15551230000 for operators ("),
        "{subject}"
    );
    let body = m.body_text(0).expect("a text part");
    assert!(
        body.contains("left a message in mailbox operators"),
        "{body}"
    );
    assert!(body.contains("Dialled: +15550100"), "{body}");
    let attachment = m.attachment(0).expect("the message attached");
    assert!(
        attachment
            .attachment_name()
            .is_some_and(|n| n.ends_with(".wav")),
        "named as the stored file"
    );
    assert_eq!(attachment.content_type().map(|c| c.ctype()), Some("audio"));
    assert_eq!(
        attachment.contents(),
        &stored_wav[..],
        "the same WAV the API serves"
    );
    let metrics = pbx.running.pbx.metrics_text();
    assert!(
        metrics.contains("switchyard_mails_total{tenant=\"demo\",outcome=\"sent\"} 1"),
        "counted: {}",
        metrics
            .lines()
            .filter(|l| l.contains("mails"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// 1002 (who asked for missed-call e-mail in the demo) rings; the caller
/// gives up: Bob gets an e-mail naming the caller. An answered call sends
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_nobody_answered_is_emailed_to_the_extension_that_asked() {
    let smtp = SmtpServer::start().await;
    let pbx = Arc::new(pbx_mailing(&smtp, None).await);
    let p = pbx.clone();
    blocking(move || p.ring_and_give_up("1001", "1002")).await;
    let got = smtp.messages(1, LIMIT).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to,
        ["bob@example.com"],
        "the demo's address for 1002"
    );
    let m = MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(
        m.subject(),
        Some("Missed call from Alice (operator) <1001>")
    );
    let body = m.body_text(0).unwrap();
    assert!(
        body.contains("called 1002 and nobody answered (the caller hung up first)"),
        "{body}"
    );

    // Answered: no e-mail. Then one more missed call as a marker: its
    // e-mail comes after any the answered call could have caused (which
    // would be sent before the marker call even starts).
    let p = pbx.clone();
    blocking(move || {
        let callee = p.phone("1002", "uas_answer", &[]);
        p.dial("1001", "1002", "uac_call", &[("pause_ms", "100")])
            .assert_ok();
        callee.wait().assert_ok();
        p.ring_and_give_up("1001", "1002");
    })
    .await;
    let answered = pbx
        .cdrs(3)
        .await
        .into_iter()
        .find(|c| c.disposition.as_str() == "answered")
        .expect("the answered call's record");
    let got = smtp.messages(2, LIMIT).await;
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        let m = MessageParser::default().parse(&r.data).unwrap();
        let body = m.body_text(0).unwrap();
        assert!(
            !body.contains(&answered.call_id),
            "no e-mail about the answered call: {body}"
        );
    }
}

/// A caller let straight through to the ring group `business-broadband`
/// (a caller rule) gives up while it rings: of its members 1002 and 1003,
/// only 1002 asked for missed-call e-mail, and only 1002 gets one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_to_a_ring_group_is_emailed_to_the_members_who_asked() {
    let smtp = SmtpServer::start().await;
    let pbx = Arc::new(pbx_mailing(&smtp, Some(carrier_tenant())).await);
    let (agent, base, auth) = api(&pbx);
    let sip = pbx.running.sip_udp;
    let p = pbx.clone();
    let status = blocking(move || {
        let r = agent
            .put(format!("{base}/caller-rules"))
            .header("Authorization", &auth)
            .send_json(serde_json::json!([
                {"pattern": "+15551230000", "action": "allow", "to": "business-broadband"}
            ]))
            .unwrap();
        assert_eq!(r.status(), 200);
        let b = p.phone("1002", "uas_ring_no_answer", &[]);
        let c = p.phone("1003", "uas_ring_no_answer", &[]);
        let status = common::phone::Phone::new(sip, 0x6A0B)
            .ring_then_cancel("+15550100", Duration::from_millis(500));
        b.wait().assert_ok();
        c.wait().assert_ok();
        status
    })
    .await;
    assert_eq!(status, 487, "the caller gave up");
    let got = smtp.messages(1, LIMIT).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].to, ["bob@example.com"]);
    let m = MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(m.subject(), Some("Missed call from +15551230000"));
    // One e-mail for 1002, however many ways the call reached it (a leg,
    // the group): a marker call's e-mail is the second.
    let p = pbx.clone();
    blocking(move || p.ring_and_give_up("1001", "1002")).await;
    let got = smtp.messages(2, LIMIT).await;
    let subjects: Vec<String> = got
        .iter()
        .map(|r| {
            let m = MessageParser::default().parse(&r.data).unwrap();
            m.subject().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "Missed call from +15551230000",
            "Missed call from Alice (operator) <1001>"
        ]
    );
}

/// The demo's reporter `call-stats` with `missed-call-alert` set: a call
/// nobody answered is mailed to that address by the plugin, through the
/// host's relay — next to the host's own missed-call e-mail to Bob, and
/// counted with it in the tenant's `switchyard_mails_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_stats_mails_a_missed_call_alert_through_the_relay() {
    let smtp = SmtpServer::start().await;
    let mut tenant: serde_json::Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    tenant["plugins"]["call-stats"]["config"]["missed-call-alert"] = "ops@example.com".into();
    let pbx = Arc::new(pbx_mailing(&smtp, Some(tenant)).await);
    let p = pbx.clone();
    blocking(move || p.ring_and_give_up("1001", "1002")).await;
    // Bob's e-mail from the host and the plugin's alert, in either order.
    let got = smtp.messages(2, LIMIT).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let alert = got
        .iter()
        .find(|r| r.to == ["ops@example.com"])
        .unwrap_or_else(|| panic!("no alert to ops@example.com: {got:?}"));
    assert_eq!(alert.from, "pbx@switchyard.test", "the operator's sender");
    let m = MessageParser::default().parse(&alert.data).unwrap();
    assert_eq!(
        m.subject(),
        Some("Missed call from Alice (operator) <1001> to 1002")
    );
    let body = m.body_text(0).unwrap();
    assert!(body.contains("Caller: Alice (operator) <1001>"), "{body}");
    assert!(body.contains("Dialled: 1002"), "{body}");
    assert!(body.contains("When: "), "{body}");
    assert!(got.iter().any(|r| r.to == ["bob@example.com"]), "{got:?}");
    until("both e-mails counted as sent", || {
        pbx.running
            .pbx
            .metrics_text()
            .contains("switchyard_mails_total{tenant=\"demo\",outcome=\"sent\"} 2")
    })
    .await;
}

/// One hourly share per tenant, whoever sends: with room for one e-mail,
/// a missed call's two (the host's to Bob, call-stats' alert) are one sent
/// and one refused as rate-limited, in either order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_mail_and_the_hosts_share_the_tenants_hourly_limit() {
    let smtp = SmtpServer::start().await;
    let mut tenant: serde_json::Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    tenant["plugins"]["call-stats"]["config"]["missed-call-alert"] = "ops@example.com".into();
    let url = smtp.url();
    let pbx = Arc::new(
        pbx_configured(Some(tenant), None, move |c| {
            c.calls.mail = Some(MailSettings {
                url,
                from: "Switchyard <pbx@switchyard.test>".into(),
                per_tenant_per_hour: 1,
            })
        })
        .await,
    );
    let p = pbx.clone();
    blocking(move || p.ring_and_give_up("1001", "1002")).await;
    until("one e-mail sent and one refused", || {
        let m = pbx.running.pbx.metrics_text();
        m.contains("switchyard_mails_total{tenant=\"demo\",outcome=\"sent\"} 1")
            && m.contains("switchyard_mails_total{tenant=\"demo\",outcome=\"rate-limited\"} 1")
    })
    .await;
    let got = smtp.messages(1, LIMIT).await;
    assert_eq!(got.len(), 1, "{got:?}");
}

/// The tenant's own addresses: the demo's after-hours address hears of a
/// call that came in while closed (the business-hours flow tagged it),
/// and a missed-calls group set through the API hears of every call from
/// outside nobody answered — beside the extension that asked for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hours_and_missed_calls_reach_the_tenants_group_addresses() {
    use common::phone::{Phone, carrier_tenant};
    let smtp = SmtpServer::start().await;
    let mut t = carrier_tenant();
    // Never open, nothing but the sentence, then hang up.
    let schedule = &mut t["plugins"]["business-hours"]["config"]["schedule"];
    schedule["open"] = serde_json::json!({});
    schedule["holidays"] = serde_json::json!([]);
    schedule["closed-prompts"] = serde_json::json!([]);
    schedule.as_object_mut().unwrap().remove("closed-go");
    let pbx = Arc::new(pbx_mailing(&smtp, Some(t)).await);
    let sip = pbx.running.sip_udp;
    blocking(move || {
        let mut c = Phone::new(sip, 0xAF7E);
        c.call("+15550101");
        c.answer_bye();
    })
    .await;
    let got = smtp.messages(1, LIMIT).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to,
        ["alice@example.com"],
        "the demo's after-hours address"
    );
    let m = MessageParser::default().parse(&got[0].data).unwrap();
    assert_eq!(m.subject(), Some("After-hours call from +15551230000"));
    let body = m.body_text(0).unwrap();
    assert!(
        body.contains("called +15550101 while you were closed: they heard the closed message"),
        "{body}"
    );
    let cdr = pbx.cdr_to(1, "+15550101").await;
    assert!(cdr.tags.contains(&"after-hours".to_string()), "{cdr:?}");

    // A missed-calls group, through the API (bad addresses refused).
    let (agent, base, auth) = api(&pbx);
    let (bad, good) = blocking(move || {
        let put = |body: serde_json::Value| {
            let mut r = agent
                .put(format!("{base}/notices"))
                .header("Authorization", &auth)
                .send_json(body)
                .unwrap();
            (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
        };
        (
            put(serde_json::json!({"missed_calls": ["not an address"]})),
            put(serde_json::json!({"missed_calls": ["team@demo.example"],
                "after_hours": ["alice@example.com"]})),
        )
    })
    .await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(bad.1.contains("missed_calls"), "{}", bad.1);
    assert_eq!(good.0, 200, "{}", good.1);

    // The carrier's caller gives up while 1002 rings: 1002's owner (who
    // asked) and the group are told.
    let p = pbx.clone();
    blocking(move || {
        let phone = p.phone("1002", "uas_ring_no_answer", &[]);
        let mut c = Phone::new(sip, 0x6170);
        assert_eq!(
            c.ring_then_cancel("+15550199", Duration::from_millis(300)),
            487
        );
        phone.wait().assert_ok();
    })
    .await;
    let got = smtp.messages(3, LIMIT).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let mut to: Vec<String> = got[1..].iter().flat_map(|r| r.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["bob@example.com", "team@demo.example"]);
    let group = got[1..]
        .iter()
        .find(|r| r.to == ["team@demo.example"])
        .unwrap();
    let m = MessageParser::default().parse(&group.data).unwrap();
    assert_eq!(
        m.subject(),
        Some("Missed call from +15551230000 to +15550199")
    );
}
