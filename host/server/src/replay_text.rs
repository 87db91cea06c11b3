//! A replay report (`POST …/plugins/{name}/replay`) as text for a person:
//! what `switchyard plugin replay` prints. One paragraph per call that
//! differs — when, who, which step, the event, what happened and what the
//! candidate would have done — then one line for the calls that did not.

use std::fmt::Write as _;

use switchyard_plugins::transcript::{Outcome, ReplayReport};

fn when(ms: u64) -> String {
    jiff::Timestamp::from_millisecond(ms as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{ms} ms"))
}

/// JSON on one line: the actions and events as the API shows them.
fn compact<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("({e})"))
}

fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Decided(d) if d.actions.is_empty() => "no actions".to_string(),
        Outcome::Decided(d) => compact(&d.actions),
        Outcome::Failed(why) => format!("failed ({why}); the call took the fallback"),
    }
}

/// The report as text.
pub fn render(r: &ReplayReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Replay of {} version {} against {} recorded call{}: {} the same, {} different.",
        r.plugin,
        r.candidate_version,
        r.calls,
        if r.calls == 1 { "" } else { "s" },
        r.same,
        r.differing
    );
    for c in &r.replays {
        let Some(d) = &c.difference else {
            continue;
        };
        let _ = writeln!(
            out,
            "\nCall {} from {} to {} at {}: differs at step {} of {}",
            c.call_id,
            c.caller,
            c.dialled,
            when(c.started_ms),
            d.step,
            c.steps_recorded
        );
        let _ = writeln!(out, "  event:      {}", compact(&d.event));
        let _ = writeln!(out, "  happened:   {}", outcome(&d.recorded));
        let _ = writeln!(out, "  candidate:  {}", outcome(&d.candidate));
        if !d.unrecorded_host_calls.is_empty() {
            let _ = writeln!(
                out,
                "  it asked what the recorded call never did (told \"nothing\"): {}",
                compact(&d.unrecorded_host_calls)
            );
        }
    }
    let same: Vec<&str> = r
        .replays
        .iter()
        .filter(|c| c.difference.is_none())
        .map(|c| c.call_id.as_str())
        .collect();
    if !same.is_empty() {
        let _ = writeln!(out, "\nThe same at every step: {}", same.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_plugins::flow_types::{Action, Decision, Event};
    use switchyard_plugins::transcript::{Ask, CallReplay, Difference};

    #[test]
    fn a_differing_call_shows_when_who_which_step_and_both_sides() {
        let r = ReplayReport {
            plugin: "router".into(),
            candidate_version: 2,
            calls: 2,
            same: 1,
            differing: 1,
            replays: vec![
                CallReplay {
                    call_id: "c-2".into(),
                    started_ms: 1_764_912_012_000,
                    caller: "+15550100".into(),
                    dialled: "+15550199".into(),
                    steps_replayed: 1,
                    steps_recorded: 3,
                    difference: Some(Difference {
                        step: 1,
                        event: Event::CallStarted,
                        recorded: Outcome::Decided(Decision {
                            actions: vec![Action::Answer],
                            state: None,
                        }),
                        candidate: Outcome::Failed("plugin trapped: unreachable".into()),
                        unrecorded_host_calls: vec![Ask::Contact {
                            number: "+15550100".into(),
                        }],
                    }),
                },
                CallReplay {
                    call_id: "c-1".into(),
                    started_ms: 1_764_912_000_000,
                    caller: "+15550101".into(),
                    dialled: "+15550199".into(),
                    steps_replayed: 2,
                    steps_recorded: 2,
                    difference: None,
                },
            ],
        };
        let text = render(&r);
        assert!(
            text.starts_with(
                "Replay of router version 2 against 2 recorded calls: 1 the same, 1 different."
            ),
            "{text}"
        );
        for line in [
            "Call c-2 from +15550100 to +15550199 at 2025-12-05 05:20:12 UTC: differs at step 1 of 3",
            "  event:      \"CallStarted\"",
            "  happened:   [\"Answer\"]",
            "  candidate:  failed (plugin trapped: unreachable); the call took the fallback",
            "{\"ask\":\"contact\",\"number\":\"+15550100\"}",
            "The same at every step: c-1",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }
}
