//! The contact centre's records: the queue log (order, windows, one
//! tenant), callback placeholders, agents' state, the queue settings and
//! tenants stored before these fields existed.

mod common;

use std::time::Duration;

use common::*;
use switchyard_acd::{AgentStatus, EventKind, Placeholder, QueueEvent};
use switchyard_store::*;

fn ev(at_ms: u64, call: &str, kind: EventKind) -> QueueEvent {
    QueueEvent {
        at_ms,
        queue: Some("support".into()),
        call: Some(call.into()),
        agent: None,
        kind,
    }
}

#[test]
fn queue_log_keeps_time_and_append_order() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    s.put_tenant(&tenant("acme-2", &["acme2.example"])).unwrap();
    // Same millisecond, in one batch and across batches: appended order.
    let first = vec![
        ev(2_000, "c2", EventKind::Join { priority: 0 }),
        ev(1_000, "c1", EventKind::Join { priority: 0 }),
        ev(2_000, "c2", EventKind::Offer),
    ];
    s.append_queue_events("acme", &first).unwrap();
    let answer = ev(
        2_000,
        "c2",
        EventKind::Answer {
            wait: Duration::from_secs(1),
        },
    );
    s.append_queue_events("acme", std::slice::from_ref(&answer))
        .unwrap();
    s.append_queue_events("acme-2", &[ev(1_500, "x", EventKind::Offer)])
        .unwrap();
    s.append_queue_events("acme", &[]).unwrap();

    let all = s.queue_events("acme", 0, u64::MAX).unwrap();
    assert_eq!(
        all,
        vec![
            first[1].clone(),
            first[0].clone(),
            first[2].clone(),
            answer.clone()
        ]
    );
    // [from, to): 2000 is outside [0, 2000) and inside [2000, 2001).
    assert_eq!(
        s.queue_events("acme", 0, 2_000).unwrap(),
        vec![first[1].clone()]
    );
    assert_eq!(s.queue_events("acme", 2_000, 2_001).unwrap().len(), 3);
    assert!(s.queue_events("acme", 5, 5).unwrap().is_empty());
    assert!(s.queue_events("acme", 9, 5).unwrap().is_empty());
    assert_eq!(s.queue_events("acme-2", 0, u64::MAX).unwrap().len(), 1);
    // Events of an unknown tenant are refused, not orphaned.
    assert!(matches!(
        s.append_queue_events("nope", &first),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn queue_log_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let e = ev(1, "c1", EventKind::CallbackRequested { automatic: false });
    {
        let s = Store::open(dir.path()).unwrap();
        s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
        s.append_queue_events("acme", &[e.clone(), e.clone()])
            .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    s.append_queue_events("acme", std::slice::from_ref(&e))
        .unwrap();
    // The sequence keeps growing across runs: three distinct keys.
    assert_eq!(
        s.queue_events("acme", 0, 2).unwrap(),
        vec![e.clone(), e.clone(), e]
    );
}

fn placeholder(call: &str) -> Placeholder {
    Placeholder {
        call: call.into(),
        queue: "support".into(),
        priority: 2,
        skills: vec!["french".into()],
        tags: vec![("crm".into(), "7".into())],
        number: "+15550100".into(),
        joined_ms: 1_000,
        attempts: 1,
        retry_at_ms: Some(301_000),
    }
}

#[test]
fn callbacks_and_agent_states_are_per_tenant() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    s.put_tenant(&tenant("acme-2", &["acme2.example"])).unwrap();
    s.put_callback("acme", &placeholder("c2")).unwrap();
    s.put_callback("acme", &placeholder("c1")).unwrap();
    s.put_callback("acme-2", &placeholder("c9")).unwrap();
    let mut again = placeholder("c1");
    again.attempts = 2;
    s.put_callback("acme", &again).unwrap();
    assert_eq!(
        s.list_callbacks("acme").unwrap(),
        vec![again, placeholder("c2")]
    );
    assert!(s.delete_callback("acme", "c2").unwrap());
    assert!(!s.delete_callback("acme", "c2").unwrap());
    assert_eq!(s.list_callbacks("acme").unwrap().len(), 1);
    assert!(s.put_callback("nope", &placeholder("c1")).is_err());

    let paused = AgentStateRecord {
        logged_in: true,
        paused: Some("lunch".into()),
    };
    s.put_agent_state("acme", "1002", &paused).unwrap();
    s.put_agent_state(
        "acme",
        "1001",
        &AgentStateRecord {
            logged_in: false,
            paused: None,
        },
    )
    .unwrap();
    s.put_agent_state(
        "acme-2",
        "1001",
        &AgentStateRecord {
            logged_in: true,
            paused: None,
        },
    )
    .unwrap();
    assert_eq!(
        s.get_agent_state("acme", "1002").unwrap(),
        Some(paused.clone())
    );
    assert_eq!(s.get_agent_state("acme", "1003").unwrap(), None);
    let list = s.list_agent_states("acme").unwrap();
    assert_eq!(
        list.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["1001", "1002"]
    );
    assert!(matches!(
        s.put_agent_state("acme", "x1", &paused),
        Err(StoreError::Invalid {
            field: "extension",
            ..
        })
    ));
}

#[test]
fn deleting_a_tenant_removes_its_contact_centre_records() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    s.put_tenant(&tenant("acme-2", &["acme2.example"])).unwrap();
    for t in ["acme", "acme-2"] {
        s.append_queue_events(t, &[ev(1, "c1", EventKind::Offer)])
            .unwrap();
        s.put_callback(t, &placeholder("c1")).unwrap();
        s.put_agent_state(
            t,
            "1001",
            &AgentStateRecord {
                logged_in: true,
                paused: None,
            },
        )
        .unwrap();
    }
    assert!(s.delete_tenant("acme").unwrap());
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    assert!(s.queue_events("acme", 0, u64::MAX).unwrap().is_empty());
    assert!(s.list_callbacks("acme").unwrap().is_empty());
    assert!(s.list_agent_states("acme").unwrap().is_empty());
    assert_eq!(s.queue_events("acme-2", 0, u64::MAX).unwrap().len(), 1);
    assert_eq!(s.list_callbacks("acme-2").unwrap().len(), 1);
    assert_eq!(s.list_agent_states("acme-2").unwrap().len(), 1);
}

#[test]
fn agent_state_events_round_trip_through_the_log() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    let e = QueueEvent {
        at_ms: 7,
        queue: None,
        call: None,
        agent: Some("1001".into()),
        kind: EventKind::AgentState {
            state: AgentStatus::Paused,
            reason: "lunch".into(),
        },
    };
    s.append_queue_events("acme", std::slice::from_ref(&e))
        .unwrap();
    assert_eq!(s.queue_events("acme", 7, 8).unwrap(), vec![e]);
}

#[test]
fn queue_settings_are_validated_and_old_records_load() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    let bad = |q: Queue| match s.put_queue(&q) {
        Err(StoreError::Invalid { field, message }) => (field, message),
        other => panic!("{other:?}"),
    };
    let base = || Queue::new("acme", "q");
    assert_eq!(
        bad(Queue {
            ring_mode: RingMode::FirstN(0),
            ..base()
        }),
        ("ring_mode", "first-n needs n of at least 1".into())
    );
    assert_eq!(
        bad(Queue {
            callback_key: Some('a'),
            ..base()
        }),
        (
            "callback_key",
            "'a' is not a key: one of 0-9, * or #".into()
        )
    );
    assert_eq!(
        bad(Queue {
            callback_key: Some('#'),
            leave_key: Some('#'),
            ..base()
        })
        .0,
        "leave_key"
    );
    assert_eq!(
        bad(Queue {
            announce_every_secs: Some(0),
            ..base()
        })
        .0,
        "announce_every_secs"
    );
    assert_eq!(
        bad(Queue {
            ring_timeout_secs: 0,
            ..base()
        })
        .0,
        "ring_timeout_secs"
    );

    // A queue and a tenant as stored before the contact-centre fields.
    let old_queue = r#"{"tenant":"acme","name":"old","strategy_plugin":null,
        "agents":[{"extension":"1001","skills":[["english",5]],"logged_in":true}],
        "max_waiting":7,"timeout_secs":120,"moh":null}"#;
    let q: Queue = serde_json::from_str(old_queue).unwrap();
    assert_eq!(
        q,
        Queue {
            agents: vec![Agent {
                extension: "1001".into(),
                skills: vec![("english".into(), 5)],
                logged_in: true,
                penalty: 0,
            }],
            max_waiting: 7,
            timeout_secs: 120,
            ..Queue::new("acme", "old")
        }
    );
    let old_tenant = r#"{"id":"old","name":"Old","domains":[],"time_zone":"UTC",
        "limits":{"max_concurrent_calls":1,"max_calls_per_second":1,"plugin_memory_mib":1,
        "plugin_cpu_ms":1},"features":{"recording":false,"advanced_ivr":false,
        "reporting":false,"crm":false},"suspended":false,"created_at_ms":1}"#;
    let t: Tenant = serde_json::from_str(old_tenant).unwrap();
    assert_eq!(t.pause_reasons, ["break", "lunch", "training", "no-answer"]);
    // The settings' JSON: ring mode and join-empty in kebab-case.
    let v = serde_json::to_value(Queue {
        ring_mode: RingMode::FirstN(3),
        join_empty: JoinEmpty::Never,
        callback_key: Some('*'),
        ..base()
    })
    .unwrap();
    assert_eq!(v["ring_mode"], serde_json::json!({"first-n": 3}));
    assert_eq!(v["join_empty"], "never");
    assert_eq!(v["callback_key"], "*");
}
