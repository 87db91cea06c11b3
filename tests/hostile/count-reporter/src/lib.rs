//! Counts call records (`records`) and notices (`notices`) in kv; refuses
//! a record tagged `fail`.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    world: "switchyard:plugin/reporter",
    generate_all,
});

use exports::switchyard::plugin::reporting::Guest;
use switchyard::plugin::kv;
use switchyard::plugin::types::CallRecord;
use switchyard::plugin::types::Notice;

struct Count;

impl Guest for Count {
    fn on_call_record(call: CallRecord) -> Result<(), String> {
        if call.tags.iter().any(|t| t == "fail") {
            return Err(format!("refusing {}", call.call_id));
        }
        kv::increment("records", 1).map_err(|e| format!("{e:?}"))?;
        Ok(())
    }

    fn on_notice(_: Notice) -> Result<(), String> {
        kv::increment("notices", 1).map_err(|e| format!("{e:?}"))?;
        Ok(())
    }
}

export!(Count);
