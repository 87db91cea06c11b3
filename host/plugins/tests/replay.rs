//! Transcripts and replay before activation, through the real runtime:
//! a tenant that keeps transcripts records each flow decision with the
//! answers its host calls got; a candidate version replayed against them
//! is fed those answers (never the live kv, directory or CRM), and every
//! call where its actions differ is reported at its first differing step.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{call, config, digits, limits, wasm};
use switchyard_plugins::directory::Extension;
use switchyard_plugins::flow_types::{Action, Event, Prompt};
use switchyard_plugins::transcript::{Answer, Ask, Outcome, Step, Transcript, TranscriptSink};
use switchyard_plugins::types::CallSnapshot;
use switchyard_plugins::{InMemoryDirectory, PluginHost, TenantRuntime, TenantSettings};

/// Keeps steps in memory, as the server's sink keeps them in the store.
#[derive(Default)]
struct Kept(Mutex<Vec<(String, Step)>>);

impl TranscriptSink for Kept {
    fn record(&self, plugin: &str, step: Step) {
        self.0.lock().unwrap().push((plugin.to_string(), step));
    }
}

impl Kept {
    /// The steps grouped per call, through JSON as the store keeps them.
    fn transcripts(&self) -> Vec<Transcript> {
        let mut by_call: BTreeMap<String, Transcript> = BTreeMap::new();
        for (plugin, step) in self.0.lock().unwrap().iter() {
            let step: Step = serde_json::from_str(&serde_json::to_string(step).unwrap()).unwrap();
            by_call
                .entry(step.call.call_id.clone())
                .or_insert_with(|| Transcript {
                    call_id: step.call.call_id.clone(),
                    plugin: plugin.clone(),
                    started_ms: step.call.start_time,
                    steps: Vec::new(),
                })
                .steps
                .push(step);
        }
        by_call.into_values().collect()
    }
}

fn extension(number: &str, registered: bool) -> Extension {
    Extension {
        number: number.into(),
        display_name: Some(format!("Agent {number}")),
        registered,
        has_voicemail: true,
    }
}

fn tenant(
    host: &PluginHost,
    directory: Arc<InMemoryDirectory>,
    sink: Option<Arc<Kept>>,
) -> TenantRuntime {
    host.tenant(
        "acme",
        TenantSettings {
            limits: limits(),
            directory,
            transcripts: sink.map(|s| s as Arc<dyn TranscriptSink>),
            ..TenantSettings::default()
        },
    )
    .unwrap()
}

fn snapshot(id: &str, caller: &str, start: u64) -> CallSnapshot {
    let mut c = call("acme", caller, "+18005550000");
    c.call_id = id.into();
    c.start_time = start;
    c
}

/// Runs `events` as one call, each with the state the last decision left.
async fn run_call(t: &TenantRuntime, call: &CallSnapshot, events: &[Event]) {
    let pinned = t.pin("main").unwrap();
    let mut state = None;
    for e in events {
        let d = t.invoke_flow(&pinned, call, e, state.take()).await.unwrap();
        state = d.state;
    }
}

#[tokio::test]
async fn a_replay_feeds_the_recorded_answers_and_reports_the_first_differing_step() {
    let host = common::host();
    let directory = Arc::new(InMemoryDirectory::new());
    directory.put_extension(extension("1001", true));
    let kept = Arc::new(Kept::default());
    let t = tenant(&host, directory.clone(), Some(kept.clone()));
    // v1 greets "hello" and is live; v2 greets "welcome"; v3 traps.
    let echo = wasm("echo-flow");
    assert_eq!(
        t.install("main", echo, config(&[("greeting", "hello")]))
            .unwrap(),
        1
    );
    let v2 = t
        .install("main", echo, config(&[("greeting", "welcome")]))
        .unwrap();
    let v3 = t.install("main", wasm("trap-flow"), config(&[])).unwrap();
    let v4 = t.install("main", wasm("hello-flow"), config(&[])).unwrap();

    // Two calls on v1: one walks to extension 1001 and asks who calls,
    // one only starts.
    let a = snapshot("call-a", "+15550100", 1_700_000_000_000);
    let b = snapshot("call-b", "+15550199", 1_700_000_060_000);
    run_call(
        &t,
        &a,
        &[Event::CallStarted, digits("ext:1001"), digits("who")],
    )
    .await;
    run_call(&t, &b, &[Event::CallStarted]).await;

    // The transcript holds what each decision asked and was told.
    let transcripts = kept.transcripts();
    assert_eq!(transcripts.len(), 2);
    let ta = &transcripts[0];
    assert_eq!((ta.call_id.as_str(), ta.steps.len()), ("call-a", 3));
    assert_eq!(ta.steps[0].version, 1);
    assert_eq!(
        ta.steps[0].host_calls[0].ask,
        Ask::KvIncrement {
            key: "calls".into(),
            delta: 1
        }
    );
    assert_eq!(ta.steps[0].host_calls[0].answer, Answer::Counter(Ok(1)));
    assert_eq!(
        ta.steps[1].host_calls[0].answer,
        Answer::Extension(Some(extension("1001", true)))
    );
    // No CRM connector: the look-up was answered "nobody".
    assert_eq!(ta.steps[2].host_calls[0].answer, Answer::Contact(None));
    assert_eq!(ta.steps[1].state, Some(vec![1]), "the state given is kept");
    let recorded_steps = kept.0.lock().unwrap().len();

    // The world changes after the calls: 1001 logs out, the counter moves.
    directory.put_extension(extension("1001", false));
    run_call(
        &t,
        &snapshot("call-c", "+15550111", 1),
        &[Event::CallStarted],
    )
    .await;
    let counter = t.plugin_kv_get("main", "calls").unwrap();

    // The live version replayed does exactly what happened, because it is
    // told what the directory and the counter said then, not now.
    let same = t.replay("main", 1, &transcripts).await.unwrap();
    assert_eq!((same.calls, same.same, same.differing), (2, 2, 0));
    assert!(
        same.replays
            .iter()
            .all(|r| r.difference.is_none() && r.steps_replayed == r.steps_recorded)
    );
    // Newest call first.
    assert_eq!(same.replays[0].call_id, "call-b");

    // v2 greets otherwise: both calls differ at their first step, and the
    // report shows both sides.
    let report = t.replay("main", v2, &transcripts).await.unwrap();
    assert_eq!((report.calls, report.same, report.differing), (2, 0, 2));
    let ra = report
        .replays
        .iter()
        .find(|r| r.call_id == "call-a")
        .unwrap();
    assert_eq!(
        (ra.caller.as_str(), ra.dialled.as_str()),
        ("+15550100", "+18005550000")
    );
    assert_eq!((ra.steps_replayed, ra.steps_recorded), (1, 3));
    let diff = ra.difference.as_ref().unwrap();
    assert_eq!((diff.step, &diff.event), (1, &Event::CallStarted));
    let plays = |o: &Outcome| match o {
        Outcome::Decided(d) => d
            .actions
            .iter()
            .find_map(|a| match a {
                Action::Play(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap(),
        Outcome::Failed(e) => panic!("failed: {e}"),
    };
    assert_eq!(plays(&diff.recorded), vec![Prompt::File("hello".into())]);
    assert_eq!(plays(&diff.candidate), vec![Prompt::File("welcome".into())]);
    assert!(diff.unrecorded_host_calls.is_empty());

    // A version that traps differs at the first step, with why.
    let trap = t.replay("main", v3, &transcripts).await.unwrap();
    assert_eq!(trap.differing, 2);
    let d = trap.replays[0].difference.as_ref().unwrap();
    assert!(
        matches!(&d.candidate, Outcome::Failed(e) if !e.is_empty()),
        "{d:?}"
    );

    // A version that asks what the recording never asked is told "nothing
    // found" and the question is listed.
    let hello = t.replay("main", v4, &transcripts).await.unwrap();
    let d = hello.replays[0].difference.as_ref().unwrap();
    assert_eq!(
        d.unrecorded_host_calls,
        vec![Ask::Contact {
            number: "+15550199".into()
        }]
    );

    // Replays wrote nothing: no transcript steps, no kv change.
    assert_eq!(kept.0.lock().unwrap().len(), recorded_steps + 1);
    assert_eq!(t.plugin_kv_get("main", "calls").unwrap(), counter);
    // And the live version stays the live one.
    assert_eq!(t.active_version("main"), Some(1));
}

#[tokio::test]
async fn without_transcripts_nothing_is_recorded_and_replay_needs_a_flow_version() {
    let host = common::host();
    let t = tenant(&host, Arc::new(InMemoryDirectory::new()), None);
    t.install("main", wasm("echo-flow"), config(&[])).unwrap();
    run_call(
        &t,
        &snapshot("call-a", "+15550100", 1),
        &[Event::CallStarted],
    )
    .await;
    // Nothing to replay against: an empty report.
    let r = t.replay("main", 1, &[]).await.unwrap();
    assert_eq!((r.calls, r.differing), (0, 0));
    // A version that does not exist, or a plugin of another world.
    assert!(t.replay("main", 9, &[]).await.is_err());
    t.install("ranker", wasm("fewest-calls"), config(&[]))
        .unwrap();
    let e = t.replay("ranker", 1, &[]).await.unwrap_err();
    assert!(e.to_string().contains("call-flow"), "{e}");
}
