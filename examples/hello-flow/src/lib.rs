//! hello-flow: answer, greet the caller by name (from the tenant's CRM when
//! it knows them), ring the agent from the `agent` setting (default 1001)
//! for 20 seconds, and send the caller to that agent's voicemail when
//! nobody answers.

use switchyard_sdk::flow::{self, DialOutcome, Event};
use switchyard_sdk::{CallFlow, CallSnapshot, config, contacts};

pub struct HelloFlow;

impl CallFlow for HelloFlow {
    fn handle(call: CallSnapshot, event: Event, _state: Option<Vec<u8>>) -> flow::Result {
        let agent = config::get_or("agent", "1001");
        match event {
            Event::CallStarted => {
                let name = contacts::lookup(&call.caller.number).map(|c| c.name);
                let greeting = match name {
                    Some(name) => format!("Hello {name}, connecting you now."),
                    None => "Hello, connecting you now.".to_string(),
                };
                flow::decide([
                    flow::answer(),
                    flow::play([flow::say(greeting)]),
                    flow::dial([flow::ext(&agent)]).ring_timeout(20).into(),
                ])
            }
            Event::DialFinished(r) if r.outcome != DialOutcome::Answered => {
                flow::decide([flow::voicemail(&agent)])
            }
            _ => flow::decide([]),
        }
    }
}

switchyard_sdk::export_call_flow!(HelloFlow);
