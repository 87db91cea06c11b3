//! Panics on every event (with `panic = "abort"`, a wasm trap).
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::types::CallSnapshot;

struct Trap;

impl Guest for Trap {
    fn handle(call: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        panic!("trap-flow refuses call {}", call.call_id);
    }
}

export!(Trap);
