//! Reporters' `mail`: the capability's limits, its refusal outside the
//! reporter world, and what reaches the relay. The relay here is a
//! recorder (the plugins crate has no SMTP; the server's end-to-end test
//! `host/server/tests/mail.rs` uses a real relay).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use switchyard_plugins::mail::{MailError, MailMessage};
use switchyard_plugins::types::{CallRecord, Direction, Disposition, Party};
use switchyard_plugins::{
    HostConfig, LoadError, MailFuture, MailRelay, PluginFailure, PluginHost, TenantRuntime,
};

/// Keeps every message it is given, with its tenant; answers `answer`
/// (or never, when `hang`).
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, MailMessage)>>,
    answer: Option<MailError>,
    hang: bool,
}

impl Recorder {
    fn sent(&self) -> Vec<(String, MailMessage)> {
        self.sent.lock().unwrap().clone()
    }
}

impl MailRelay for Recorder {
    fn send(&self, tenant: &str, message: MailMessage) -> MailFuture {
        self.sent.lock().unwrap().push((tenant.into(), message));
        if self.hang {
            return Box::pin(std::future::pending());
        }
        let result = match &self.answer {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        };
        Box::pin(std::future::ready(result))
    }
}

fn host_with_relay(relay: Option<Arc<Recorder>>) -> PluginHost {
    PluginHost::new(HostConfig {
        max_instances: 16,
        mail: relay.map(|r| r as Arc<dyn MailRelay>),
        ..HostConfig::default()
    })
    .expect("plugin host")
}

fn record(disposition: Disposition, tags: &[&str]) -> CallRecord {
    CallRecord {
        call_id: "c-1".into(),
        tenant: "acme".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+15550100".into(),
            display_name: Some("Ann".into()),
        },
        callee: Party {
            number: "1002".into(),
            display_name: None,
        },
        dialled: "1002".into(),
        // 2026-12-04 19:30:00 UTC.
        start_time: 1_796_412_600_000,
        answer_time: None,
        end_time: 1_796_412_620_000,
        disposition,
        hangup_by: None,
        sip_code: 487,
        queue: None,
        agent: None,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        recording: None,
        flow_plugin: Some("router".into()),
        plugin_version: Some(1),
        legs: vec![],
    }
}

fn mail_reporter(host: &PluginHost) -> TenantRuntime {
    let t = tenant(host, "acme", limits());
    t.install("mailer", wasm("mail-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("mailer").unwrap();
    t
}

/// Hands `tags` to the mail-reporter (one message each); its outcomes.
async fn send(t: &TenantRuntime, tags: &[&str]) -> Vec<String> {
    let r = t
        .report_call_record(&record(Disposition::Answered, tags))
        .await;
    assert_eq!(r, vec![("mailer".to_string(), Ok(()))]);
    let outcomes = t.plugin_kv_get("mailer", "outcomes").unwrap().unwrap();
    String::from_utf8(outcomes)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_sends_five_messages_and_the_next_five_more() {
    let relay = Arc::new(Recorder::default());
    let t = mail_reporter(&host_with_relay(Some(relay.clone())));
    let got = send(&t, &["ops@example.com"; 6]).await;
    assert_eq!(got, ["ok", "ok", "ok", "ok", "ok", "rate-limited"]);
    let sent = relay.sent();
    assert_eq!(sent.len(), 5, "the sixth never reached the relay");
    let (tenant, first) = &sent[0];
    assert_eq!(tenant, "acme", "the runtime names the tenant");
    assert_eq!(first.to, ["ops@example.com"]);
    assert_eq!(first.subject, "message 1");
    assert_eq!(first.body, "hello");
    // The allowance is per invocation.
    assert_eq!(send(&t, &["ops@example.com"]).await, ["ok"]);
    assert_eq!(relay.sent().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_subject_and_body_are_checked_before_the_relay() {
    let relay = Arc::new(Recorder::default());
    let t = mail_reporter(&host_with_relay(Some(relay.clone())));
    let ten: Vec<String> = (0..10).map(|i| format!("a{i}@example.com")).collect();
    let ten = ten.join(",");
    let eleven = format!("{ten},a10@example.com");
    let got = send(
        &t,
        &[
            &ten,
            &eleven,
            "ops@example.com,not-an-address",
            "long-subject",
            "long-body",
        ],
    )
    .await;
    assert_eq!(got[0], "ok");
    assert_eq!(
        got[1],
        "invalid: 11 recipients; a message may have at most 10"
    );
    assert!(
        got[2].starts_with("invalid: `not-an-address` is not an e-mail address"),
        "{}",
        got[2]
    );
    assert_eq!(got[3], "invalid: the subject is 201 bytes; at most 200");
    assert_eq!(got[4], "invalid: the body is 65537 bytes; at most 65536");
    assert_eq!(relay.sent().len(), 1, "only the valid message was relayed");
    assert_eq!(relay.sent()[0].1.to.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_relay_mail_is_not_configured() {
    let t = mail_reporter(&host_with_relay(None));
    assert_eq!(send(&t, &["ops@example.com"]).await, ["not-configured"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relays_refusals_reach_the_plugin() {
    for (answer, expected) in [
        (MailError::RateLimited, "rate-limited"),
        (
            MailError::Failed("451 try later".into()),
            "failed: 451 try later",
        ),
    ] {
        let relay = Arc::new(Recorder {
            answer: Some(answer),
            ..Recorder::default()
        });
        let t = mail_reporter(&host_with_relay(Some(relay)));
        assert_eq!(send(&t, &["ops@example.com"]).await, [expected]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_never_answers_costs_the_invocation_its_wall_clock() {
    let relay = Arc::new(Recorder {
        hang: true,
        ..Recorder::default()
    });
    let host = host_with_relay(Some(relay.clone()));
    let t = tenant(
        &host,
        "acme",
        switchyard_plugins::TenantLimits {
            wall_clock: Duration::from_millis(300),
            ..limits()
        },
    );
    t.install("mailer", wasm("mail-reporter"), config(&[]))
        .unwrap();
    t.add_reporter("mailer").unwrap();
    let r = t
        .report_call_record(&record(Disposition::Answered, &["ops@example.com"]))
        .await;
    assert_eq!(r, vec![("mailer".to_string(), Err(PluginFailure::Timeout))]);
    assert_eq!(relay.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_flow_may_not_import_mail() {
    let host = host_with_relay(Some(Arc::new(Recorder::default())));
    let e = host.load(wasm("mail-flow")).unwrap_err();
    assert!(matches!(e, LoadError::ForbiddenImport { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "a call-flow plugin may not import switchyard:plugin/mail@0.2.2 (e-mail is for reporter plugins only)"
    );
    // The same refusal through install, and nothing installed.
    let t = tenant(&host, "acme", limits());
    let e = t
        .install("sneaky", wasm("mail-flow"), config(&[]))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("may not import switchyard:plugin/mail@0.2.2"),
        "{e}"
    );
    assert!(t.versions("sneaky").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_stats_alerts_missed_calls_when_asked_to() {
    let relay = Arc::new(Recorder::default());
    let host = host_with_relay(Some(relay.clone()));
    let t = tenant(&host, "acme", limits());
    t.install(
        "call-stats",
        wasm("call-stats"),
        config(&[("missed-call-alert", "ops@example.com")]),
    )
    .unwrap();
    t.add_reporter("call-stats").unwrap();
    for d in [Disposition::Answered, Disposition::Voicemail] {
        let r = t.report_call_record(&record(d, &[])).await;
        assert_eq!(r, vec![("call-stats".to_string(), Ok(()))]);
    }
    assert!(relay.sent().is_empty(), "answered and voicemail: no alert");
    let r = t
        .report_call_record(&record(Disposition::Cancelled, &[]))
        .await;
    assert_eq!(r, vec![("call-stats".to_string(), Ok(()))]);
    let sent = relay.sent();
    assert_eq!(sent.len(), 1);
    let (tenant, m) = &sent[0];
    assert_eq!(tenant, "acme");
    assert_eq!(m.to, ["ops@example.com"]);
    assert_eq!(m.subject, "Missed call from Ann <+15550100> to 1002");
    assert!(
        m.body.contains("When: 2026-12-04 19:30:00 UTC"),
        "{}",
        m.body
    );

    // Without the setting, call-stats sends nothing (and, importing mail
    // or not, keeps counting).
    let quiet = tenant_without_alerts(&host);
    let r = quiet
        .report_call_record(&record(Disposition::Cancelled, &[]))
        .await;
    assert_eq!(r, vec![("call-stats".to_string(), Ok(()))]);
    assert_eq!(relay.sent().len(), 1);
}

fn tenant_without_alerts(host: &PluginHost) -> TenantRuntime {
    let t = tenant(host, "quiet", limits());
    t.install("call-stats", wasm("call-stats"), config(&[]))
        .unwrap();
    t.add_reporter("call-stats").unwrap();
    t
}
