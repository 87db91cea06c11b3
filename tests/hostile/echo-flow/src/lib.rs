//! A well-behaved call-flow plugin used by the runtime's tests: it touches
//! every capability a flow has, so a test can see each one work.
//!
//! * `call-started`: answers, plays the `greeting` setting (or `hello`),
//!   tags the call with the caller's number and `calls=<n>` (a kv counter),
//!   and returns state `[1]`.
//! * `digits("who")`: tags the call with the caller's contact name from
//!   `contacts.lookup` (or `unknown`).
//! * `digits("ext:<n>")`: dials extension `n` if the directory knows it and
//!   it is registered, else goes to its voicemail.
//! * `digits("chatty")`: prints 2 000 lines (about 120 KB) to stdout.
//! * `digits("memory")`: tags the call `memory=<n>`, n counting these
//!   events in the instance's own memory: 1 unless an instance served an
//!   earlier decision.
//! * any other event: echoes the state with one more byte appended.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "switchyard:plugin/call-flow",
});

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{
    Action, Decision, Dial, DialMode, DialTarget, Event, Prompt, Voicemail,
};
use switchyard::plugin::types::CallSnapshot;
use switchyard::plugin::{config, contacts, directory, kv, log};

struct EchoFlow;

/// Decisions on `digits("memory")` this instance has made.
static MEMORY_EVENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Guest for EchoFlow {
    fn handle(
        call: CallSnapshot,
        event: Event,
        state: Option<Vec<u8>>,
    ) -> Result<Decision, String> {
        match event {
            Event::CallStarted => {
                let greeting = config::get("greeting").unwrap_or_else(|| "hello".into());
                let calls = kv::increment("calls", 1).map_err(|e| format!("kv: {e:?}"))?;
                log::log(
                    log::Level::Info,
                    &format!("call {} from {}", call.call_id, call.caller.number),
                );
                println!("stdout works");
                Ok(Decision {
                    actions: vec![
                        Action::Answer,
                        Action::Play(vec![Prompt::File(greeting)]),
                        Action::SetTag(call.caller.number.clone()),
                        Action::SetTag(format!("calls={calls}")),
                    ],
                    state: Some(vec![1]),
                })
            }
            Event::Digits(g) if g.digits == "who" => {
                let name = contacts::lookup(&call.caller.number)
                    .map(|c| c.name)
                    .unwrap_or_else(|| "unknown".into());
                Ok(Decision {
                    actions: vec![Action::SetTag(name)],
                    state,
                })
            }
            Event::Digits(g) if g.digits == "chatty" => {
                for i in 0..2000 {
                    println!(
                        "chatty line {i:04} .................................................."
                    );
                }
                Ok(Decision {
                    actions: vec![Action::SetTag("chatted".into())],
                    state,
                })
            }
            Event::Digits(g) if g.digits == "memory" => {
                let n = MEMORY_EVENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(Decision {
                    actions: vec![Action::SetTag(format!("memory={n}"))],
                    state,
                })
            }
            Event::Digits(g) if g.digits.starts_with("ext:") => {
                let n = &g.digits[4..];
                let action = match directory::get_extension(n) {
                    Some(e) if e.registered => Action::Dial(Dial {
                        targets: vec![DialTarget::Extension(e.number)],
                        mode: DialMode::Simultaneous,
                        ring_timeout_secs: 20,
                        caller_id: None,
                    }),
                    _ => Action::Voicemail(Voicemail {
                        mailbox: n.to_string(),
                        greeting: None,
                    }),
                };
                Ok(Decision {
                    actions: vec![action],
                    state,
                })
            }
            _ => {
                let mut s = state.unwrap_or_default();
                s.push(s.len() as u8);
                Ok(Decision {
                    actions: vec![],
                    state: Some(s),
                })
            }
        }
    }
}

export!(EchoFlow);
