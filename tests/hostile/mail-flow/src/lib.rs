//! A call-flow that imports `switchyard:plugin/mail` (and uses it, so the
//! import stays in the component): e-mail is for reporters only.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package local:forbidden-mail;
        world flow-with-mail {
            include switchyard:plugin/call-flow@0.2.2;
            import switchyard:plugin/mail@0.2.2;
        }
    ",
    world: "local:forbidden-mail/flow-with-mail",
    generate_all,
});

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::mail::{self, MailMessage};
use switchyard::plugin::types::CallSnapshot;

struct Mailer;

impl Guest for Mailer {
    fn handle(call: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        let _ = mail::send(&MailMessage {
            to: vec!["someone@example.com".into()],
            subject: format!("call from {}", call.caller.number),
            body: String::new(),
        });
        Ok(Decision {
            actions: vec![],
            state: None,
        })
    }
}

export!(Mailer);
