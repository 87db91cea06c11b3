//! Types of the `queue-strategy` world, and helpers strategies share.

pub use crate::bindings::switchyard::plugin::queue_types::{
    AgentCandidate, QueueInfo, WaitingCall,
};

/// True when `agent` has every skill in `required` (case-insensitive).
pub fn has_skills(agent: &AgentCandidate, required: &[String]) -> bool {
    required
        .iter()
        .all(|r| agent.skills.iter().any(|s| s.eq_ignore_ascii_case(r)))
}

/// Move the caller's last agent to the front, if they are a candidate.
pub fn stick_to_last_agent(order: &mut Vec<String>, last_agent: Option<&str>) {
    if let Some(last) = last_agent
        && let Some(i) = order.iter().position(|a| a == last)
    {
        let a = order.remove(i);
        order.insert(0, a);
    }
}
