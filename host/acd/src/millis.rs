//! A `Duration` as whole milliseconds in JSON (feature `serde`): the queue
//! log stays readable (`"wait-ms": 5000`) and sub-millisecond parts, which
//! no figure uses, are dropped.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{AgentStatus, EventKind, ExitReason, Placeholder, QueueEvent};

    fn ev(kind: EventKind) -> QueueEvent {
        QueueEvent {
            at_ms: 1_700_000_000_123,
            queue: Some("support".into()),
            call: Some("c1".into()),
            agent: Some("201".into()),
            kind,
        }
    }

    #[test]
    fn events_are_readable_json_and_round_trip() {
        let e = ev(EventKind::Answer {
            wait: Duration::from_millis(5_250),
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "at-ms": 1_700_000_000_123u64, "queue": "support", "call": "c1", "agent": "201",
                "kind": {"type": "answer", "wait-ms": 5250}
            })
        );
        let kinds = [
            EventKind::Join { priority: 3 },
            EventKind::Offer,
            EventKind::OfferFailed,
            EventKind::RingNoAnswer,
            EventKind::Abandon {
                wait: Duration::from_millis(1),
            },
            EventKind::Exit {
                reason: ExitReason::CallbackChosen,
                wait: Duration::from_secs(9),
            },
            EventKind::CallEnded {
                talk: Duration::from_secs(60),
            },
            EventKind::WrapUpEnded {
                wrap: Duration::from_secs(10),
            },
            EventKind::CallbackRequested { automatic: true },
            EventKind::CallbackAttempted { attempt: 2 },
            EventKind::CallbackCompleted {
                wait: Duration::from_secs(600),
            },
            EventKind::CallbackFailed,
            EventKind::AgentState {
                state: AgentStatus::OnOtherCall,
                reason: String::new(),
            },
        ];
        for k in kinds {
            let e = ev(k);
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(
                serde_json::from_str::<QueueEvent>(&text).unwrap(),
                e,
                "{text}"
            );
        }
        let exit = serde_json::to_value(ev(EventKind::Exit {
            reason: ExitReason::CallbackChosen,
            wait: Duration::from_secs(9),
        }))
        .unwrap();
        assert_eq!(
            exit["kind"],
            serde_json::json!({"type": "exit", "reason": "callback-chosen", "wait-ms": 9000})
        );
        let state = serde_json::to_value(ev(EventKind::AgentState {
            state: AgentStatus::LoggedOut,
            reason: "lunch".into(),
        }))
        .unwrap();
        assert_eq!(
            state["kind"],
            serde_json::json!({"type": "agent-state", "state": "logged-out", "reason": "lunch"})
        );
        assert_eq!(
            serde_json::to_value(ev(EventKind::RingNoAnswer)).unwrap()["kind"],
            serde_json::json!({"type": "ring-no-answer"})
        );
        // Absent parts are null.
        let bare = QueueEvent {
            queue: None,
            call: None,
            agent: None,
            ..ev(EventKind::Offer)
        };
        let v = serde_json::to_value(&bare).unwrap();
        assert!(v["queue"].is_null() && v["call"].is_null() && v["agent"].is_null());
    }

    #[test]
    fn placeholders_round_trip() {
        let p = Placeholder {
            call: "c1".into(),
            queue: "support".into(),
            priority: 1,
            skills: vec!["french".into()],
            tags: vec![("crm".into(), "42".into())],
            number: "+15550100".into(),
            joined_ms: 1_700_000_000_000,
            attempts: 1,
            retry_at_ms: Some(1_700_000_300_000),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["joined-ms"], 1_700_000_000_000u64);
        assert_eq!(v["retry-at-ms"], 1_700_000_300_000u64);
        assert_eq!(v["tags"], serde_json::json!([["crm", "42"]]));
        assert_eq!(serde_json::from_value::<Placeholder>(v).unwrap(), p);
    }
}
