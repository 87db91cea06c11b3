//! Loops forever: the host must stop it with the CPU budget.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::types::CallSnapshot;

struct Spin;

impl Guest for Spin {
    fn handle(_: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export!(Spin);
