//! Sends one message per tag of a call record and keeps the outcomes in kv
//! (`outcomes`, one line per message: `ok`, `not-configured`,
//! `rate-limited`, `invalid: …`, `failed: …`), so a test sees what the
//! host answered to each.
//!
//! A tag is the message's recipients, comma-separated; `long-subject`
//! sends a 201-byte subject and `long-body` a body of 64 KiB + 1, each to
//! `ops@example.com`. The subject is `message <n>`, the body `hello`.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    world: "switchyard:plugin/reporter",
    generate_all,
});

use exports::switchyard::plugin::reporting::Guest;
use switchyard::plugin::kv;
use switchyard::plugin::mail::{self, MailError, MailMessage};
use switchyard::plugin::types::{CallRecord, Notice};

struct MailReporter;

impl Guest for MailReporter {
    fn on_call_record(call: CallRecord) -> Result<(), String> {
        let mut outcomes = Vec::new();
        for (n, tag) in call.tags.iter().enumerate() {
            let mut m = MailMessage {
                to: vec!["ops@example.com".into()],
                subject: format!("message {}", n + 1),
                body: "hello".into(),
            };
            match tag.as_str() {
                "long-subject" => m.subject = "s".repeat(201),
                "long-body" => m.body = "b".repeat((64 << 10) + 1),
                list => m.to = list.split(',').map(str::to_string).collect(),
            }
            outcomes.push(match mail::send(&m) {
                Ok(()) => "ok".to_string(),
                Err(MailError::NotConfigured) => "not-configured".into(),
                Err(MailError::RateLimited) => "rate-limited".into(),
                Err(MailError::Invalid(why)) => format!("invalid: {why}"),
                Err(MailError::Failed(why)) => format!("failed: {why}"),
            });
        }
        kv::set("outcomes", outcomes.join("\n").as_bytes()).map_err(|e| format!("{e:?}"))
    }

    fn on_notice(_: Notice) -> Result<(), String> {
        Ok(())
    }
}

export!(MailReporter);
