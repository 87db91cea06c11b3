//! Orders candidates last-first, and slips in an unknown id and a repeat so
//! that the host's clean-up is visible.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/queue-strategy" });

use exports::switchyard::plugin::strategy::Guest;
use switchyard::plugin::queue_types::{AgentCandidate, QueueInfo, WaitingCall};

struct Reverse;

impl Guest for Reverse {
    fn select(_: QueueInfo, _: WaitingCall, candidates: Vec<AgentCandidate>) -> Vec<String> {
        let mut out = vec!["not-a-candidate".to_string()];
        out.extend(candidates.iter().rev().map(|c| c.id.clone()));
        if let Some(first) = candidates.first() {
            out.push(first.id.clone());
        }
        out
    }
}

export!(Reverse);
