//! The call record: what the session knows, with what only the driver
//! knows (the plugin version that decided, the recording's id), as the
//! reporters see it and as the store keeps it.

use switchyard_plugins::types::{CallRecord, Direction, Disposition, HangupSide};
use switchyard_store::{Cdr, CdrLeg, CdrMonitor, Disposition as StoredDisposition};

use crate::session::{MonitorRecord, Record};

/// The names `call_failures` counts calls under: every disposition but
/// `answered` (the series `/metrics` shows from a tenant's start).
pub(crate) fn unanswered_names() -> impl Iterator<Item = &'static str> {
    StoredDisposition::ALL
        .into_iter()
        .filter(|d| *d != StoredDisposition::Answered)
        .map(StoredDisposition::as_str)
}

/// The record's disposition (the plugins' WIT type) as stored and shown.
pub(crate) fn stored(d: Disposition) -> StoredDisposition {
    match d {
        Disposition::Answered => StoredDisposition::Answered,
        Disposition::NoAnswer => StoredDisposition::NoAnswer,
        Disposition::Busy => StoredDisposition::Busy,
        Disposition::Failed => StoredDisposition::Failed,
        Disposition::Cancelled => StoredDisposition::Cancelled,
        Disposition::Voicemail => StoredDisposition::Voicemail,
        Disposition::Rejected => StoredDisposition::Rejected,
    }
}

/// The session's record completed: `flow_plugin` decided the call (name
/// and version), `recording` is the stored call recording.
pub(crate) fn call_record(
    r: &Record,
    flow_plugin: Option<(String, u32)>,
    recording: Option<String>,
) -> CallRecord {
    let s = &r.snapshot;
    let (flow_plugin, plugin_version) = match flow_plugin {
        Some((n, v)) => (Some(n), Some(v)),
        None => (None, None),
    };
    CallRecord {
        call_id: s.call_id.clone(),
        tenant: s.tenant.clone(),
        direction: s.direction,
        caller: s.caller.clone(),
        callee: s.callee.clone(),
        dialled: s.dialled.clone(),
        start_time: s.start_time,
        answer_time: s.answer_time,
        end_time: r.end_time,
        disposition: r.disposition,
        hangup_by: r.hangup_by,
        sip_code: r.sip_code,
        queue: r.queue.clone(),
        agent: r.agent.clone(),
        tags: s.tags.clone(),
        recording,
        flow_plugin,
        plugin_version,
        legs: r.legs.clone(),
    }
}

/// The record as the store keeps it, with who supervised the call.
pub(crate) fn cdr(record: &CallRecord, monitors: &[MonitorRecord]) -> Cdr {
    Cdr {
        id: super::devices::random_token(),
        tenant: record.tenant.clone(),
        call_id: record.call_id.clone(),
        direction: match record.direction {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
        .to_string(),
        caller: record.caller.number.clone(),
        caller_name: record.caller.display_name.clone(),
        callee: record.callee.number.clone(),
        dialled: record.dialled.clone(),
        start_ms: record.start_time,
        answer_ms: record.answer_time,
        end_ms: record.end_time,
        disposition: stored(record.disposition),
        hangup_by: record.hangup_by.map(|h| {
            match h {
                HangupSide::Caller => "caller",
                HangupSide::Callee => "callee",
                HangupSide::System => "system",
            }
            .to_string()
        }),
        sip_code: record.sip_code,
        queue: record.queue.clone(),
        agent: record.agent.clone(),
        tags: record.tags.clone(),
        recording: record.recording.clone(),
        flow_plugin: record.flow_plugin.clone(),
        plugin_version: record.plugin_version,
        legs: record
            .legs
            .iter()
            .map(|l| CdrLeg {
                target: l.target.clone(),
                start_ms: l.start_time,
                answer_ms: l.answer_time,
                end_ms: l.end_time,
                sip_code: l.sip_code,
            })
            .collect(),
        monitors: monitors
            .iter()
            .map(|m| CdrMonitor {
                supervisor: m.supervisor.clone(),
                agent: m.agent.clone(),
                modes: m.modes.iter().map(|x| x.as_str().to_string()).collect(),
                start_ms: m.start_time,
                end_ms: m.end_time,
            })
            .collect(),
    }
}
