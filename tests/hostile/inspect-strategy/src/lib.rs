//! A queue strategy built with the current SDK, so a test can see the data
//! `switchyard:plugin@0.2.0` added reach a plugin: it logs one info line
//! with the queue's `agents-logged-in`, the call's `callback` and CRM
//! contact (id and owner), and one line per candidate with its
//! `skill-levels`, `penalty` and `idle-since`; then ranks the candidates
//! by `idle-since`, earliest first.

use switchyard_sdk::QueueStrategy;
use switchyard_sdk::queue::{AgentCandidate, QueueInfo, WaitingCall};

pub struct Inspect;

impl QueueStrategy for Inspect {
    fn select(queue: QueueInfo, call: WaitingCall, candidates: Vec<AgentCandidate>) -> Vec<String> {
        let contact = call
            .contact
            .as_ref()
            .map(|c| format!("{}/{}", c.id, c.owner.as_deref().unwrap_or("-")));
        switchyard_sdk::info!(
            "queue={} logged-in={} callback={} contact={}",
            queue.name,
            queue.agents_logged_in,
            call.callback,
            contact.as_deref().unwrap_or("none")
        );
        for a in &candidates {
            switchyard_sdk::info!(
                "agent={} levels={:?} penalty={} idle-since={}",
                a.id,
                a.skill_levels,
                a.penalty,
                a.idle_since
            );
        }
        let mut sorted: Vec<&AgentCandidate> = candidates.iter().collect();
        sorted.sort_by_key(|a| a.idle_since);
        sorted.into_iter().map(|a| a.id.clone()).collect()
    }
}

switchyard_sdk::export_queue_strategy!(Inspect);
