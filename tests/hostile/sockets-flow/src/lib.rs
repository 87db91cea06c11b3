//! A call-flow that opens a TCP connection with std::net (which imports
//! wasi:sockets).
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/call-flow" });

use exports::switchyard::plugin::flow::Guest;
use switchyard::plugin::flow_types::{Decision, Event};
use switchyard::plugin::types::CallSnapshot;

struct Sockets;

impl Guest for Sockets {
    fn handle(call: CallSnapshot, _: Event, _: Option<Vec<u8>>) -> Result<Decision, String> {
        std::net::TcpStream::connect(call.dialled.as_str()).map_err(|e| e.to_string())?;
        Ok(Decision {
            actions: vec![],
            state: None,
        })
    }
}

export!(Sockets);
