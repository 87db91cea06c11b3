//! Never ranks: with the setting `fail` = `trap` (the default) it panics
//! (with `panic = "abort"`, a wasm trap); with `spin` it loops until the
//! host stops it with the CPU budget. The host must fall back to longest
//! idle.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/queue-strategy" });

use exports::switchyard::plugin::strategy::Guest;
use switchyard::plugin::config;
use switchyard::plugin::queue_types::{AgentCandidate, QueueInfo, WaitingCall};

struct Broken;

impl Guest for Broken {
    fn select(queue: QueueInfo, _: WaitingCall, _: Vec<AgentCandidate>) -> Vec<String> {
        if config::get("fail").as_deref() == Some("spin") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        panic!("broken-strategy refuses to rank for queue {}", queue.name);
    }
}

export!(Broken);
