//! # call-stats: daily counters for dashboards and reports
//!
//! For every finished call, counters are incremented atomically in the
//! plugin's kv store, by UTC day (the day the call started; a reporter does
//! not know the tenant's business day, and UTC keeps days comparable across
//! tenants in different zones):
//!
//! | key | what |
//! |---|---|
//! | `day/2026-11-23/calls` | calls |
//! | `day/2026-11-23/answered` | answered calls |
//! | `day/2026-11-23/missed` | not answered: no answer, busy, cancelled (abandoned), failed |
//! | `day/2026-11-23/voicemail` | calls that ended in voicemail |
//! | `day/2026-11-23/talk-seconds` | answer → end, answered calls |
//! | `day/2026-11-23/answer-wait-ms` | start → answer, answered calls (÷ answered = average answer time) |
//! | `day/2026-11-23/queue/<queue>/<counter>` | the same per queue |
//! | `day/2026-11-23/agent/<agent>/<counter>` | the same per agent (calls, answered, talk-seconds, answer-wait-ms) |
//! | `day/2026-11-23/notices/<kind>` | live notices seen (`call-queued`, `call-abandoned`…) |
//!
//! ## Settings
//!
//! | setting | what |
//! |---|---|
//! | `missed-call-alert` | optional: an e-mail address (`ops@example.com`) that gets a short alert — caller, number dialled, time (UTC) — for every call counted as `missed`. Sent through the host's relay (nothing when the host has none), within the tenant's hourly e-mail limit; an alert that cannot be sent is logged as a warning and the counters are kept |

use jiff::Timestamp;
use jiff::tz::TimeZone;
use switchyard_sdk::{CallRecord, Disposition, Notice, NoticeKind, Reporter, config, kv, mail};

/// The setting naming where missed-call alerts go.
pub const MISSED_CALL_ALERT: &str = "missed-call-alert";

/// The UTC day of a millisecond timestamp, `YYYY-MM-DD`.
pub fn utc_day(ms: u64) -> String {
    Timestamp::from_millisecond(ms as i64)
        .map(|t| t.to_zoned_datetime(TimeZone::UTC).date().to_string())
        .unwrap_or_else(|_| "invalid-date".to_string())
}

/// The counter increments one call record makes: (key, delta).
pub fn increments(call: &CallRecord) -> Vec<(String, i64)> {
    let day = utc_day(call.start_time);
    let answered = call.disposition == Disposition::Answered;
    let missed = is_missed(call);
    let mut counters: Vec<(&str, i64)> = vec![("calls", 1)];
    if answered {
        counters.push(("answered", 1));
        if let Some(a) = call.answer_time {
            let talk = call.end_time.saturating_sub(a) / 1000;
            counters.push(("talk-seconds", talk as i64));
            counters.push(("answer-wait-ms", a.saturating_sub(call.start_time) as i64));
        }
    }
    if missed {
        counters.push(("missed", 1));
    }
    if call.disposition == Disposition::Voicemail {
        counters.push(("voicemail", 1));
    }
    let mut scopes = vec![format!("day/{day}")];
    if let Some(q) = &call.queue {
        scopes.push(format!("day/{day}/queue/{q}"));
    }
    if let Some(a) = &call.agent {
        scopes.push(format!("day/{day}/agent/{a}"));
    }
    let mut out = Vec::new();
    for scope in &scopes {
        for (name, delta) in &counters {
            out.push((format!("{scope}/{name}"), *delta));
        }
    }
    out
}

/// Whether the call was not answered: no answer, busy, cancelled
/// (abandoned by the caller), failed. Voicemail is not missed: somebody
/// will hear it.
pub fn is_missed(call: &CallRecord) -> bool {
    matches!(
        call.disposition,
        Disposition::NoAnswer | Disposition::Busy | Disposition::Cancelled | Disposition::Failed
    )
}

/// The missed-call alert for `call`: (subject, body).
pub fn missed_call_alert(call: &CallRecord) -> (String, String) {
    let caller = match &call.caller.display_name {
        Some(name) if !name.is_empty() => format!("{name} <{}>", call.caller.number),
        _ => call.caller.number.clone(),
    };
    let outcome = match call.disposition {
        Disposition::NoAnswer => "no answer",
        Disposition::Busy => "busy",
        Disposition::Cancelled => "the caller hung up before an answer",
        _ => "failed",
    };
    let when = Timestamp::from_millisecond(call.start_time as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| call.start_time.to_string());
    // The subject is capped by the host (200 bytes): a caller's display
    // name is theirs to choose, so cut it on a character boundary.
    let mut subject = format!("Missed call from {caller} to {}", call.dialled);
    if subject.len() > 200 {
        let mut end = 200;
        while !subject.is_char_boundary(end) {
            end -= 1;
        }
        subject.truncate(end);
    }
    let subject = subject.replace(|c: char| c.is_control(), " ");
    let body = format!(
        "Caller: {caller}\n\
         Dialled: {dialled}\n\
         When: {when}\n\
         Outcome: {outcome}\n\
         Call: {call_id}\n",
        dialled = call.dialled,
        call_id = call.call_id,
    );
    (subject, body)
}

fn notice_key(n: &Notice) -> String {
    let kind = match n.kind {
        NoticeKind::CallStarted => "call-started",
        NoticeKind::CallQueued => "call-queued",
        NoticeKind::CallAnswered => "call-answered",
        NoticeKind::CallAbandoned => "call-abandoned",
        NoticeKind::VoicemailLeft => "voicemail-left",
        NoticeKind::RecordingReady => "recording-ready",
        NoticeKind::CallEnded => "call-ended",
    };
    format!("day/{}/notices/{kind}", utc_day(n.at))
}

/// The plugin.
pub struct CallStats;

impl Reporter for CallStats {
    fn on_call_record(call: CallRecord) -> Result<(), String> {
        for (key, delta) in increments(&call) {
            kv::increment(&key, delta).map_err(|e| format!("kv {key}: {e:?}"))?;
        }
        if is_missed(&call)
            && let Some(to) = config::get(MISSED_CALL_ALERT).filter(|t| !t.trim().is_empty())
        {
            let (subject, body) = missed_call_alert(&call);
            // The counters are in; a lost alert is worth a warning, not a
            // failed record.
            if let Err(e) = mail::send(&[to.trim()], &subject, &body) {
                switchyard_sdk::warn!("missed-call alert for {} not sent: {e}", call.call_id);
            }
        }
        Ok(())
    }

    fn on_notice(notice: Notice) -> Result<(), String> {
        let key = notice_key(&notice);
        kv::increment(&key, 1)
            .map(|_| ())
            .map_err(|e| format!("kv {key}: {e:?}"))
    }
}

switchyard_sdk::export_reporter!(CallStats);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::{Direction, Party};

    fn record(disposition: Disposition, queue: Option<&str>, agent: Option<&str>) -> CallRecord {
        let start = 1_795_392_000_000; // 2026-11-23T00:00:00Z
        CallRecord {
            call_id: "c1".into(),
            tenant: "acme".into(),
            direction: Direction::Inbound,
            caller: Party {
                number: "+15550111".into(),
                display_name: None,
            },
            callee: Party {
                number: "+15550100".into(),
                display_name: None,
            },
            dialled: "+15550100".into(),
            start_time: start + 3_600_000,
            answer_time: (disposition == Disposition::Answered).then_some(start + 3_612_000),
            end_time: start + 3_732_000,
            disposition,
            hangup_by: None,
            sip_code: 200,
            queue: queue.map(Into::into),
            agent: agent.map(Into::into),
            tags: vec![],
            recording: None,
            flow_plugin: None,
            plugin_version: None,
            legs: vec![],
        }
    }

    #[test]
    fn answered_queue_call_counts_for_day_queue_and_agent() {
        let inc = increments(&record(Disposition::Answered, Some("sales"), Some("1002")));
        let get = |k: &str| inc.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
        assert_eq!(get("day/2026-11-23/calls"), Some(1));
        assert_eq!(get("day/2026-11-23/answered"), Some(1));
        assert_eq!(get("day/2026-11-23/talk-seconds"), Some(120));
        assert_eq!(get("day/2026-11-23/answer-wait-ms"), Some(12_000));
        assert_eq!(get("day/2026-11-23/queue/sales/answered"), Some(1));
        assert_eq!(get("day/2026-11-23/agent/1002/talk-seconds"), Some(120));
        assert_eq!(get("day/2026-11-23/missed"), None);
    }

    #[test]
    fn abandoned_and_voicemail_calls() {
        let inc = increments(&record(Disposition::Cancelled, Some("sales"), None));
        assert!(inc.contains(&("day/2026-11-23/missed".into(), 1)));
        assert!(inc.contains(&("day/2026-11-23/queue/sales/missed".into(), 1)));
        assert!(!inc.iter().any(|(k, _)| k.contains("/agent/")));
        let inc = increments(&record(Disposition::Voicemail, None, None));
        assert!(inc.contains(&("day/2026-11-23/voicemail".into(), 1)));
        assert!(!inc.iter().any(|(k, _)| k.ends_with("/missed")));
    }

    #[test]
    fn missed_call_alert_names_caller_dialled_and_time() {
        let mut call = record(Disposition::Cancelled, None, None);
        call.caller.display_name = Some("Ann".into());
        let (subject, body) = missed_call_alert(&call);
        assert_eq!(subject, "Missed call from Ann <+15550111> to +15550100");
        assert!(body.contains("Caller: Ann <+15550111>\n"), "{body}");
        assert!(body.contains("Dialled: +15550100\n"), "{body}");
        assert!(body.contains("When: 2026-11-23 01:00:00 UTC\n"), "{body}");
        assert!(body.contains("the caller hung up"), "{body}");
        call.caller.display_name = Some("é".repeat(150));
        let (subject, _) = missed_call_alert(&call);
        assert!(subject.len() <= 200, "{}", subject.len());
        assert!(is_missed(&record(Disposition::NoAnswer, None, None)));
        assert!(!is_missed(&record(Disposition::Voicemail, None, None)));
        assert!(!is_missed(&record(Disposition::Answered, None, None)));
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(utc_day(1_795_392_000_000), "2026-11-23");
        assert_eq!(utc_day(1_795_391_999_999), "2026-11-22");
    }
}
