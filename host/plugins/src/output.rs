//! Checks on what a plugin returns, before the host acts on it.

use crate::bindings::flow_types::{Action, Decision, DialTarget, Prompt};
use crate::bindings::types::Contact;
use crate::failure::PluginFailure;
use crate::limits::TenantLimits;

fn string(what: &str, s: &str, l: &TenantLimits) -> Result<(), PluginFailure> {
    if s.len() > l.max_string_bytes {
        return Err(PluginFailure::InvalidOutput(format!(
            "{what} is {} bytes, more than the {} allowed",
            s.len(),
            l.max_string_bytes
        )));
    }
    Ok(())
}

fn prompts(p: &[Prompt], l: &TenantLimits) -> Result<(), PluginFailure> {
    if p.len() > l.max_actions {
        return Err(PluginFailure::InvalidOutput(format!(
            "{} prompts in one action, more than the {} allowed",
            p.len(),
            l.max_actions
        )));
    }
    for p in p {
        match p {
            Prompt::File(s) | Prompt::Say(s) => string("a prompt", s, l)?,
            Prompt::Tone(_) | Prompt::Silence(_) => {}
        }
    }
    Ok(())
}

fn target(t: &DialTarget, l: &TenantLimits) -> Result<(), PluginFailure> {
    match t {
        DialTarget::Extension(s)
        | DialTarget::RingGroup(s)
        | DialTarget::Number(s)
        | DialTarget::SipUri(s) => string("a dial target", s, l),
    }
}

/// A flow decision within the tenant's limits: action count, state size,
/// string lengths, gather digit counts.
pub(crate) fn check_decision(d: &Decision, l: &TenantLimits) -> Result<(), PluginFailure> {
    if d.actions.len() > l.max_actions {
        return Err(PluginFailure::InvalidOutput(format!(
            "{} actions in one decision, more than the {} allowed",
            d.actions.len(),
            l.max_actions
        )));
    }
    if let Some(s) = &d.state
        && s.len() > l.max_state_bytes
    {
        return Err(PluginFailure::InvalidOutput(format!(
            "state is {} bytes, more than the {} allowed",
            s.len(),
            l.max_state_bytes
        )));
    }
    for a in &d.actions {
        match a {
            Action::Play(p) => prompts(p, l)?,
            Action::Gather(g) => {
                prompts(&g.prompts, l)?;
                if !(1..=64).contains(&g.max_digits) {
                    return Err(PluginFailure::InvalidOutput(format!(
                        "gather max-digits is {}, must be 1 to 64",
                        g.max_digits
                    )));
                }
            }
            Action::Dial(dial) => {
                if dial.targets.len() > l.max_actions {
                    return Err(PluginFailure::InvalidOutput(format!(
                        "{} dial targets, more than the {} allowed",
                        dial.targets.len(),
                        l.max_actions
                    )));
                }
                for t in &dial.targets {
                    target(t, l)?;
                }
                if let Some(c) = &dial.caller_id {
                    string("a caller id", c, l)?;
                }
            }
            Action::Enqueue(q) => {
                string("a queue name", &q.queue, l)?;
                if q.skills.len() > l.max_actions {
                    return Err(PluginFailure::InvalidOutput("too many skills".into()));
                }
                for s in &q.skills {
                    string("a skill", s, l)?;
                }
            }
            Action::Voicemail(v) => {
                string("a mailbox", &v.mailbox, l)?;
                if let Some(g) = &v.greeting {
                    prompts(std::slice::from_ref(g), l)?;
                }
            }
            Action::Conference(c) => string("a conference room", &c.room, l)?,
            Action::Transfer(t) => target(&t.target, l)?,
            Action::SetTag(s) => string("a tag", s, l)?,
            Action::GotoFlow(s) => string("a flow name", s, l)?,
            Action::Answer
            | Action::RecordAudio(_)
            | Action::Pause(_)
            | Action::Reject(_)
            | Action::Hangup => {}
        }
    }
    Ok(())
}

/// A contact within the tenant's string limits.
pub(crate) fn check_contact(c: &Contact, l: &TenantLimits) -> Result<(), PluginFailure> {
    for s in [&c.id, &c.name]
        .into_iter()
        .chain(c.company.iter())
        .chain(c.email.iter())
        .chain(c.owner.iter())
        .chain(c.url.iter())
        .chain(c.tags.iter())
    {
        string("a contact field", s, l)?;
    }
    if c.tags.len() + c.fields.len() > l.max_actions {
        return Err(PluginFailure::InvalidOutput(
            "too many contact tags/fields".into(),
        ));
    }
    for (k, v) in &c.fields {
        string("a contact field", k, l)?;
        string("a contact field", v, l)?;
    }
    Ok(())
}
