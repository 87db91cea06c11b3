//! Call-flow transcripts in the store: kept per call and plugin, newest
//! call first, bounded by count, age and steps, per tenant.

mod common;

use serde_json::json;
use switchyard_store::{MAX_TRANSCRIPT_STEPS, Store, TenantRepo, TranscriptPolicy, TranscriptRepo};

fn store() -> (tempfile::TempDir, Store) {
    let (dir, s) = common::open();
    for id in ["acme", "acme-2"] {
        s.put_tenant(&common::tenant(id, &[&format!("{id}.example")]))
            .unwrap();
    }
    (dir, s)
}

fn on(max_calls: u32, max_age_hours: u32) -> TranscriptPolicy {
    TranscriptPolicy {
        enabled: true,
        max_calls,
        max_age_hours,
    }
}

const HOUR: u64 = 3_600_000;
const NOW: u64 = 1_000 * HOUR;

#[test]
fn steps_gather_per_call_and_plugin_newest_call_first() {
    let (_d, s) = store();
    let p = on(10, 24);
    s.set_transcript_policy("acme", &p).unwrap();
    for (call, at) in [("c1", NOW - 2 * HOUR), ("c2", NOW - HOUR)] {
        for step in 0..3 {
            s.append_transcript_step("acme", &p, (call, at), "ivr", json!(step), NOW)
                .unwrap();
        }
        s.append_transcript_step("acme", &p, (call, at), "router", json!("r"), NOW)
            .unwrap();
    }
    let ivr = s.recent_transcripts("acme", Some("ivr"), 10, NOW).unwrap();
    assert_eq!(
        ivr.iter().map(|t| t.call_id.as_str()).collect::<Vec<_>>(),
        ["c2", "c1"]
    );
    assert_eq!(ivr[0].steps, vec![json!(0), json!(1), json!(2)]);
    assert_eq!(
        s.recent_transcripts("acme", None, 10, NOW).unwrap().len(),
        4
    );
    assert_eq!(s.recent_transcripts("acme", None, 1, NOW).unwrap().len(), 1);
    // Another tenant sees none of them.
    assert!(
        s.recent_transcripts("acme-2", None, 10, NOW)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn transcripts_are_bounded_by_count_and_age_and_go_when_turned_off() {
    let (_d, s) = store();
    let p = on(3, 24);
    s.set_transcript_policy("acme", &p).unwrap();
    // An old call, then five recent ones: the old one ages out, and
    // only the newest three are kept.
    s.append_transcript_step("acme", &p, ("old", NOW - 30 * HOUR), "ivr", json!(1), NOW)
        .unwrap();
    for i in 0..5u64 {
        let call = format!("c{i}");
        s.append_transcript_step("acme", &p, (&call, NOW - 10 + i), "ivr", json!(i), NOW)
            .unwrap();
    }
    let kept = s.recent_transcripts("acme", None, 100, NOW).unwrap();
    assert_eq!(
        kept.iter().map(|t| t.call_id.as_str()).collect::<Vec<_>>(),
        ["c4", "c3", "c2"]
    );
    // Reading hides what aged out since.
    assert!(
        s.recent_transcripts("acme", None, 100, NOW + 25 * HOUR)
            .unwrap()
            .is_empty()
    );
    // A call's steps are capped.
    for i in 0..(MAX_TRANSCRIPT_STEPS + 5) {
        s.append_transcript_step("acme", &p, ("c4", NOW - 6), "ivr", json!(i), NOW)
            .unwrap();
    }
    let c4 = &s.recent_transcripts("acme", None, 1, NOW).unwrap()[0];
    assert_eq!(c4.steps.len(), MAX_TRANSCRIPT_STEPS);

    s.set_transcript_policy("acme", &TranscriptPolicy::default())
        .unwrap();
    assert!(
        s.recent_transcripts("acme", None, 100, NOW)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_policy_out_of_range_names_the_field() {
    let (_d, s) = store();
    let e = s.set_transcript_policy("acme", &on(0, 24)).unwrap_err();
    assert!(e.to_string().contains("max_calls"), "{e}");
    let e = s.set_transcript_policy("acme", &on(10, 721)).unwrap_err();
    assert!(e.to_string().contains("max_age_hours"), "{e}");
    assert!(s.set_transcript_policy("nobody", &on(10, 24)).is_err());
    assert!(!s.transcript_policy("acme").unwrap().enabled);
}

#[test]
fn a_deleted_tenant_takes_its_transcripts_and_policy_along() {
    let (_d, s) = store();
    let p = on(10, 24);
    s.set_transcript_policy("acme", &p).unwrap();
    s.append_transcript_step("acme", &p, ("c1", NOW), "ivr", json!(1), NOW)
        .unwrap();
    assert!(s.delete_tenant("acme").unwrap());
    s.put_tenant(&common::tenant("acme", &["acme.example"]))
        .unwrap();
    assert!(!s.transcript_policy("acme").unwrap().enabled);
    assert!(
        s.recent_transcripts("acme", None, 10, NOW)
            .unwrap()
            .is_empty()
    );
}
