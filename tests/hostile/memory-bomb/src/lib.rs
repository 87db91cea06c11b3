//! Allocates (and touches) 1 MiB after 1 MiB until allocation fails.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::types::CallSnapshot;

struct Bomb;

impl Guest for Bomb {
    fn handle(_: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![0xa5u8; 1 << 20]));
        }
    }
}

export!(Bomb);
