//! The tenant's caller rules (block and allow lists, `switchyard_store::
//! CallerRule`) applied to a call from outside before its flow plugin: the
//! most specific rule matching the caller's number decides, as a script
//! the session runs instead of asking the flow. Every call a rule decided
//! is tagged in its record: `blocked` or `allow-listed`.

use std::sync::Arc;

use switchyard_plugins::flow_types::{
    Action, Dial, DialMode, DialTarget, Prompt, RejectReason, Voicemail,
};
use switchyard_plugins::types::{CallSnapshot, Direction};
use switchyard_store::{CallerAction, CallerRuleRepo, rule_for};

use crate::{Shared, Tenant};

/// Seconds an allow-listed caller's extension or group rings before its
/// voicemail.
const ALLOWED_RING_SECS: u32 = 30;

/// The script for a call from outside that a rule of the tenant decides.
pub(crate) fn script(
    shared: &Arc<Shared>,
    tenant: &Tenant,
    s: &CallSnapshot,
) -> Option<Vec<Action>> {
    if s.direction != Direction::Inbound {
        return None;
    }
    let rules = match shared.store.caller_rules(&tenant.id) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(tenant = %tenant.id, error = %e, "caller rules not read: the flow decides");
            return None;
        }
    };
    let rule = rule_for(&rules, &s.caller.number)?;
    tracing::info!(tenant = %tenant.id, caller = %s.caller.number, pattern = %rule.pattern, "a caller rule decides the call");
    let action = match rule.action {
        CallerAction::Reject { .. } => "reject",
        CallerAction::Message { .. } => "message",
        CallerAction::Voicemail { .. } => "voicemail",
        CallerAction::Allow { .. } => "allow",
    };
    shared
        .metrics
        .caller_rule_calls
        .get_or_create(&crate::metrics::ActionLabel {
            tenant: tenant.id.clone(),
            action: action.into(),
        })
        .inc();
    Some(actions(tenant, &rule.action))
}

/// What `action` does, as flow actions.
fn actions(tenant: &Tenant, action: &CallerAction) -> Vec<Action> {
    let blocked = Action::SetTag("blocked".into());
    match action {
        CallerAction::Reject { decline } => vec![
            blocked,
            Action::Reject(if *decline {
                RejectReason::Decline
            } else {
                RejectReason::Busy
            }),
        ],
        CallerAction::Message { prompt } => vec![
            blocked,
            Action::Answer,
            Action::Play(vec![Prompt::Silence(300), Prompt::File(prompt.clone())]),
            Action::Hangup,
        ],
        CallerAction::Voicemail { mailbox } => vec![
            blocked,
            Action::Voicemail(Voicemail {
                mailbox: mailbox.clone(),
                greeting: None,
            }),
        ],
        CallerAction::Allow { to } => {
            let target = if tenant.extensions.contains_key(to) {
                DialTarget::Extension(to.clone())
            } else {
                DialTarget::RingGroup(to.clone())
            };
            vec![
                Action::SetTag("allow-listed".into()),
                Action::Dial(Dial {
                    targets: vec![target],
                    mode: DialMode::Simultaneous,
                    ring_timeout_secs: ALLOWED_RING_SECS,
                    caller_id: None,
                }),
                Action::Voicemail(Voicemail {
                    mailbox: to.clone(),
                    greeting: None,
                }),
            ]
        }
    }
}
