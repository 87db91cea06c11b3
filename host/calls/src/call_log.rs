//! The INFO lines an operator follows calls and registrations by: one per
//! call start, answer and end, one per registration change (a refresh is
//! DEBUG). Structured `tracing` fields, the same names everywhere
//! (`call_id`, `tenant`, `flow`, `ext`, `contact`…), so that
//! `grep call_id=<id>` shows a call's life. Their target is
//! `switchyard_calls::call_log` (`RUST_LOG=info,switchyard_calls::call_log=debug`
//! adds the refreshes).
//!
//! One function per event, called from the call driver (`driver.rs`)
//! and the registrar.

use std::net::SocketAddr;

use switchyard_plugins::types::{CallRecord, CallSnapshot, Direction, Disposition, HangupSide};
use switchyard_store::Binding;

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Internal => "internal",
    }
}

fn disposition(d: Disposition) -> &'static str {
    match d {
        Disposition::Answered => "answered",
        Disposition::NoAnswer => "no-answer",
        Disposition::Busy => "busy",
        Disposition::Failed => "failed",
        Disposition::Cancelled => "cancelled",
        Disposition::Voicemail => "voicemail",
        Disposition::Rejected => "rejected",
    }
}

fn seconds(from_ms: u64, to_ms: u64) -> f64 {
    to_ms.saturating_sub(from_ms) as f64 / 1000.0
}

/// A call was admitted (authenticated, under its caps) and goes to its
/// flow.
pub(crate) fn started(s: Option<&CallSnapshot>, source: SocketAddr) {
    let Some(s) = s else { return };
    tracing::info!(
        call_id = %s.call_id,
        tenant = %s.tenant,
        flow = %s.flow,
        direction = %direction(s.direction),
        caller = %s.caller.number,
        dialled = %s.dialled,
        %source,
        "call started"
    );
}

/// The caller got its 200: by the party that answered (`answered_by`), or
/// by the host itself (`host`, for prompts and menus).
pub(crate) fn answered(s: Option<&CallSnapshot>, answered_by: &str) {
    let Some(s) = s else { return };
    let ring = s
        .answer_time
        .map(|a| seconds(s.start_time, a))
        .unwrap_or_default();
    tracing::info!(
        call_id = %s.call_id,
        tenant = %s.tenant,
        flow = %s.flow,
        %answered_by,
        after_s = ring,
        "call answered"
    );
}

/// The call is over and its record written.
pub(crate) fn ended(r: &CallRecord, flow: &str) {
    let hangup_by = match r.hangup_by {
        Some(HangupSide::Caller) => "caller",
        Some(HangupSide::Callee) => "callee",
        Some(HangupSide::System) => "system",
        None => "none",
    };
    tracing::info!(
        call_id = %r.call_id,
        tenant = %r.tenant,
        %flow,
        disposition = %disposition(r.disposition),
        sip_code = r.sip_code,
        %hangup_by,
        duration_s = seconds(r.start_time, r.end_time),
        talk_s = r.answer_time.map(|a| seconds(a, r.end_time)).unwrap_or_default(),
        agent = %r.agent.as_deref().unwrap_or(""),
        "call ended"
    );
}

/// Click-to-call: the agent's phone is rung.
pub(crate) fn click_to_call_started(call_id: &str, tenant: &str, agent: &str, number: &str) {
    tracing::info!(
        %call_id,
        %tenant,
        flow = %"click-to-call",
        direction = %"outbound",
        caller = %agent,
        dialled = %number,
        "call started"
    );
}

/// A REGISTER made a binding that was not there (or had expired).
pub(crate) fn registered(b: &Binding, expires_s: u32) {
    tracing::info!(
        tenant = %b.tenant,
        ext = %b.extension,
        contact = %b.contact,
        source = %b.source,
        transport = %b.transport,
        expires_s,
        user_agent = ?b.user_agent.as_deref().unwrap_or(""),
        "registered"
    );
}

/// A REGISTER renewed a live binding: DEBUG, phones do it every few
/// minutes.
pub(crate) fn refreshed(b: &Binding, expires_s: u32) {
    tracing::debug!(
        tenant = %b.tenant,
        ext = %b.extension,
        contact = %b.contact,
        source = %b.source,
        expires_s,
        "registration refreshed"
    );
}

/// A REGISTER removed a live binding (`Expires: 0`, or `Contact: *`).
pub(crate) fn unregistered(tenant: &str, ext: &str, contact: &str) {
    tracing::info!(%tenant, %ext, %contact, "unregistered");
}

/// A binding ran out without a refresh and was removed.
pub(crate) fn expired(b: &Binding) {
    tracing::info!(
        tenant = %b.tenant,
        ext = %b.extension,
        contact = %b.contact,
        source = %b.source,
        "registration expired"
    );
}
