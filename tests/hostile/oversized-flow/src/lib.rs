//! Answers too much: `call-started` → 10 000 actions; digits `state` → a
//! 1 MiB state; digits `string` → a 100 KB tag.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Action, Decision, Event};
use switchyard::plugin::types::CallSnapshot;

struct Oversized;

impl Guest for Oversized {
    fn handle(_: CallSnapshot, event: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        Ok(match event {
            Event::Digits(g) if g.digits == "state" => Decision {
                actions: vec![Action::Answer],
                state: Some(vec![7u8; 1 << 20]),
            },
            Event::Digits(g) if g.digits == "string" => Decision {
                actions: vec![Action::SetTag("x".repeat(100_000))],
                state: None,
            },
            _ => Decision {
                actions: (0..10_000)
                    .map(|i| Action::SetTag(format!("tag{i}")))
                    .collect(),
                state: None,
            },
        })
    }
}

export!(Oversized);
