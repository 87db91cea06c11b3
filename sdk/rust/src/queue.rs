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

/// The agent's level in `skill` (case-insensitive) as the host reports it in
/// [`AgentCandidate::skill_levels`], if it has one.
pub fn skill_level(agent: &AgentCandidate, skill: &str) -> Option<u8> {
    agent
        .skill_levels
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(skill))
        .map(|(_, l)| *l)
}

/// Sticky routing: move to the front of `order` the caller's last agent
/// ([`WaitingCall::last_agent`]) if they are in `order`, else the owner of
/// the caller's CRM contact (`contact.owner`, an agent extension) if they
/// are. Nothing moves when neither is in `order`.
pub fn stick_to_callers_agent(order: &mut Vec<String>, call: &WaitingCall) {
    let owner = call.contact.as_ref().and_then(|c| c.owner.as_deref());
    let sticky = [call.last_agent.as_deref(), owner]
        .into_iter()
        .flatten()
        .find(|id| order.iter().any(|a| a == id))
        .map(str::to_owned);
    stick_to_last_agent(order, sticky.as_deref());
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
