//! A call flow built with the current SDK that answers every event with one
//! `set-tag` naming the event exactly as it received it (its `Debug` form,
//! e.g. `Event::QueueFinished(QueueResult { queue: "support", … })`), and on
//! `call-started` also answers the call first.
//!
//! The same source, built against `switchyard:plugin@0.1.0`, is the
//! fixture `host/plugins/tests/fixtures/event-echo-flow-0.1.0.wasm`.

use switchyard_sdk::flow::{self, Event};
use switchyard_sdk::{CallFlow, CallSnapshot};

pub struct EventEcho;

impl CallFlow for EventEcho {
    fn handle(_call: CallSnapshot, event: Event, _state: Option<Vec<u8>>) -> flow::Result {
        let tag = flow::set_tag(format!("{event:?}"));
        match event {
            Event::CallStarted => flow::decide([flow::answer(), tag]),
            _ => flow::decide([tag]),
        }
    }
}

switchyard_sdk::export_call_flow!(EventEcho);
