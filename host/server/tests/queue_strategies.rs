//! Queue strategies with real phones and real plugins: the demo tenant's
//! `support` queue (extension 600) is given one first-party strategy per
//! test (`fewest-calls` in each of its modes, `skills` with levels), a
//! strategy plugin that traps or spins, or none; SIPp agents 1002 and 1003
//! answer (or let it ring), and the call records say who answered.
//!
//! Each agent's phone is a fresh SIPp run for each call (its earlier
//! binding removed first), so that the agent the engine chose is the one
//! whose phone answered, and the other phone, still waiting, was never
//! rung.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    LIMIT, Pbx, blocking, feature_code_async as feature_code, fresh_phone, pause, pbx_with,
    support_tenant as tenant, unpause, until,
};
use serde_json::{Value, json};
use switchyard_acd::AgentState;
use switchyard_sipp::{Running as Peer, Sipp};
use switchyard_store::{Cdr, CdrFilter, CdrRepo, Disposition};

fn state(pbx: &Pbx, agent: &str) -> AgentState {
    pbx.agent_state(agent)
}

fn available(pbx: &Pbx, agent: &str) -> bool {
    matches!(state(pbx, agent), AgentState::Available { .. })
}

fn queued(pbx: &Pbx) -> usize {
    pbx.queued()
}

async fn start(t: Value) -> Arc<Pbx> {
    Arc::new(pbx_with(Some(t), None).await)
}

/// The tenant's queue call records (newest first) once there are `n`.
async fn support_cdrs(pbx: &Pbx, n: usize) -> Vec<Cdr> {
    let read = || -> Vec<Cdr> {
        pbx.running
            .store
            .query_cdrs("demo", &CdrFilter::default())
            .expect("query cdrs")
            .rows
            .into_iter()
            .filter(|c| c.queue.as_deref() == Some("support"))
            .collect()
    };
    until(&format!("{n} queue call records"), || read().len() >= n).await;
    read()
}

/// One caller (1001) dials `number` and talks `talk_ms` (counted from
/// the caller's answer, so it includes the wait); `agents` have answering
/// phones. Returns who answered, by the call record; that agent's phone
/// took the call, and every other phone is still waiting for its first
/// INVITE: it was never rung.
async fn one_call(
    pbx: &Arc<Pbx>,
    number: &'static str,
    agents: &[&'static str],
    talk_ms: u32,
) -> String {
    let before = support_cdrs(pbx, 0).await.len();
    for a in agents {
        until(&format!("{a} available before the call"), || {
            available(pbx, a)
        })
        .await;
    }
    let p = pbx.clone();
    let agents = agents.to_vec();
    let (caller, phones) = blocking(move || {
        let phones: Vec<(&str, Peer)> = agents
            .iter()
            .map(|a| (*a, fresh_phone(&p, a, "uas_agent")))
            .collect();
        let caller = p.dial(
            "1001",
            number,
            "uac_call",
            &[("pause_ms", &talk_ms.to_string())],
        );
        (caller, phones)
    })
    .await;
    caller.assert_ok();
    let c = support_cdrs(pbx, before + 1).await.remove(0);
    assert_eq!(c.disposition, Disposition::Answered, "{c:#?}");
    let agent = c.agent.clone().expect("the record names the agent");
    let who = agent.clone();
    blocking(move || {
        for (ext, mut phone) in phones {
            if ext == who {
                phone.wait().assert_ok();
            } else {
                assert!(phone.is_running(), "{ext}'s phone was rung too");
            }
        }
    })
    .await;
    // The agent's call is over (no wrap-up unless the test set one).
    agent
}

/// A short queue call to 600.
async fn call(pbx: &Arc<Pbx>, agents: &[&'static str]) -> String {
    one_call(pbx, "600", agents, 2000).await
}

const BOTH: &[&str] = &["1002", "1003"];

// ---- 1. each first-party strategy rings the agent it must ----------------

/// 1002 answers a call while 1003 is paused; 1003 comes back (so it is
/// idle for less time than 1002, and last in member order): the next
/// call still goes to 1003, who has answered fewer calls today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewest_calls_rings_the_agent_with_fewer_calls_today() {
    let pbx = start(tenant(
        Some("fewest-calls"),
        json!({"mode": "fewest-calls"}),
        json!({}),
    ))
    .await;
    pause(&pbx, "1003").await;
    assert_eq!(call(&pbx, &["1002"]).await, "1002");
    unpause(&pbx, "1003").await;
    assert_eq!(
        call(&pbx, BOTH).await,
        "1003",
        "fewer calls wins over longer idle and member order"
    );
}

/// 1002 talks long (1003 paused); 1003 comes back and takes a short
/// call; then both have one call and 1002 has been idle longer, yet
/// 1003, with less talk time today, is rung again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_talk_time_rings_the_agent_who_talked_least_today() {
    let pbx = start(tenant(
        Some("fewest-calls"),
        json!({"mode": "least-talk-time"}),
        json!({}),
    ))
    .await;
    pause(&pbx, "1003").await;
    assert_eq!(one_call(&pbx, "600", &["1002"], 8000).await, "1002");
    unpause(&pbx, "1003").await;
    assert_eq!(call(&pbx, BOTH).await, "1003", "no talk time yet");
    assert_eq!(
        call(&pbx, BOTH).await,
        "1003",
        "less talk time wins over an equal call count and longer idle"
    );
}

/// 1002 answers a call while 1003 is paused; 1003 comes back: the next
/// call goes to 1002, idle since that call ended, before 1003 was
/// available again (though 1002 has answered more calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longest_idle_rings_the_agent_idle_longest() {
    let pbx = start(tenant(
        Some("fewest-calls"),
        json!({"mode": "longest-idle"}),
        json!({}),
    ))
    .await;
    pause(&pbx, "1003").await;
    assert_eq!(call(&pbx, &["1002"]).await, "1002");
    unpause(&pbx, "1003").await;
    assert_eq!(
        call(&pbx, BOTH).await,
        "1002",
        "longer idle wins over fewer calls"
    );
}

/// Two calls while 1002 is paused go to 1003 (turns 1 and 2 of the
/// rotation); with both available, the rotation goes on where it was,
/// whatever the history: 1002 (turn 3, though 1003 has been idle longer),
/// then 1003 (turn 4, though it has answered more calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_rings_consecutive_agents_for_consecutive_calls() {
    let pbx = start(tenant(
        Some("fewest-calls"),
        json!({"mode": "round-robin"}),
        json!({}),
    ))
    .await;
    pause(&pbx, "1002").await;
    assert_eq!(call(&pbx, &["1003"]).await, "1003");
    assert_eq!(call(&pbx, &["1003"]).await, "1003");
    unpause(&pbx, "1002").await;
    assert_eq!(
        call(&pbx, BOTH).await,
        "1002",
        "its turn, though 1003 has been idle longer"
    );
    assert_eq!(
        call(&pbx, BOTH).await,
        "1003",
        "its turn, though it has answered more calls"
    );
}

/// Both agents have `broadband`, 1003 at a higher level (the tenant's
/// agent settings, reported by the host to the plugin): a caller who
/// needs `broadband` is offered to 1003 first, though 1002 comes first in
/// member order and both have been idle equally long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_rings_the_agent_with_the_higher_level_in_the_required_skill() {
    let mut t = tenant(Some("skills"), json!({}), json!({}));
    t["agents"]["1002"]["skills"] = json!({"broadband": 2, "it": 5});
    t["agents"]["1003"]["skills"] = json!({"broadband": 4, "phone-line": 1});
    let rules = t["plugins"]["router"]["config"]["routes"]["rules"]
        .as_array_mut()
        .unwrap();
    rules.insert(
        0,
        json!({"match": "610", "go": {"queue": {"name": "support", "skills": ["broadband"]}}}),
    );
    rules.insert(
        0,
        json!({"match": "611", "go": {"queue": {"name": "support", "skills": ["it"]}}}),
    );
    let pbx = start(t).await;
    assert_eq!(one_call(&pbx, "610", BOTH, 2000).await, "1003");
    // 1003 is idle for less time now, and only 1002 has `it` anyway.
    assert_eq!(one_call(&pbx, "611", BOTH, 2000).await, "1002");
    // `broadband` again: 1003 has the higher level, and answered as
    // many calls as 1002.
    assert_eq!(one_call(&pbx, "610", BOTH, 2000).await, "1003");
}

/// Sticky: 1003 answers 1001 while 1002 is paused; 1002 comes back with
/// fewer calls, yet 1001's next call goes to 1003, their last agent (the
/// host tags the joining call with it, from 1001's last answered call
/// record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_rings_the_callers_last_agent() {
    let pbx = start(tenant(
        Some("fewest-calls"),
        json!({"mode": "fewest-calls", "sticky": "true"}),
        json!({}),
    ))
    .await;
    pause(&pbx, "1002").await;
    assert_eq!(call(&pbx, &["1003"]).await, "1003");
    unpause(&pbx, "1002").await;
    assert_eq!(
        call(&pbx, BOTH).await,
        "1003",
        "the caller's last agent wins over fewer calls"
    );
}

// ---- 2. a strategy that traps or spins -------------------------------------

fn fallbacks(pbx: &Pbx) -> f64 {
    let text = pbx.running.pbx.metrics_text();
    text.lines()
        .filter(|l| l.starts_with("switchyard_strategy_fallbacks") && l.contains("\"demo\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every ranking of `broken-strategy` fails (`fail` = `trap` or `spin`):
/// each call is still offered, longest idle first (1002 then 1003, in
/// member order from an equal start), answered, and counted as a
/// fallback.
async fn a_broken_strategy_falls_back_to_longest_idle(fail: &str) {
    let pbx = start(tenant(
        Some("broken-strategy"),
        json!({"fail": fail}),
        json!({}),
    ))
    .await;
    assert_eq!(fallbacks(&pbx), 0.0);
    assert_eq!(call(&pbx, BOTH).await, "1002");
    assert_eq!(call(&pbx, BOTH).await, "1003");
    assert_eq!(call(&pbx, BOTH).await, "1002");
    let n = fallbacks(&pbx);
    assert!(n >= 3.0, "three rankings fell back, the metric says {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_traps_falls_back_to_longest_idle_and_every_call_is_served() {
    a_broken_strategy_falls_back_to_longest_idle("trap").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_spins_falls_back_to_longest_idle_and_every_call_is_served() {
    a_broken_strategy_falls_back_to_longest_idle("spin").await;
}

// ---- 3. no answer: skipped, then auto-paused -------------------------------

/// Ring timeout 2 s, auto-pause after 2: 1002 (first, idle longest) lets
/// two queue calls ring; each time the call moves on to 1003, who
/// answers, and after the second 1002 is paused with reason `no-answer`
/// and is not rung for a third call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_does_not_answer_is_skipped_and_auto_paused_after_two() {
    let pbx = start(tenant(
        None,
        json!({}),
        json!({"ring-timeout-secs": 2, "auto-pause-after": 2}),
    ))
    .await;
    for n in 1..=2 {
        for a in BOTH {
            until("both available", || available(&pbx, a)).await;
        }
        let p = pbx.clone();
        let (caller, silent, answering) = blocking(move || {
            let silent = fresh_phone(&p, "1002", "uas_ring_no_answer");
            let answering = fresh_phone(&p, "1003", "uas_agent");
            // Waits 2 s while 1002 rings, then talks to 1003.
            let caller = p.dial("1001", "600", "uac_call", &[("pause_ms", "8000")]);
            (caller, silent.wait(), answering.wait())
        })
        .await;
        caller.assert_ok();
        silent.assert_ok();
        answering.assert_ok();
        let c = support_cdrs(&pbx, n).await.remove(0);
        assert_eq!(c.agent.as_deref(), Some("1003"), "call {n}: {c:#?}");
        assert_eq!(c.disposition, Disposition::Answered);
        if n == 1 {
            assert!(
                available(&pbx, "1002"),
                "one unanswered offer does not pause: {:?}",
                state(&pbx, "1002")
            );
        }
    }
    assert_eq!(
        state(&pbx, "1002"),
        AgentState::Paused {
            reason: "no-answer".into()
        }
    );
    assert_eq!(call(&pbx, &["1003"]).await, "1003");
    // 1002's phone is up again, yet a paused agent is not rung.
    let p = pbx.clone();
    let mut idle = blocking(move || fresh_phone(&p, "1002", "uas_agent")).await;
    assert_eq!(call(&pbx, &["1003"]).await, "1003");
    assert!(idle.is_running(), "the paused agent's phone was rung");
    assert_eq!(
        state(&pbx, "1002"),
        AgentState::Paused {
            reason: "no-answer".into()
        }
    );
}

// ---- 4. wrap-up ---------------------------------------------------------------

/// Wrap-up 8 s, 1003 logged out: after 1002's queue call, 1002 wraps up;
/// a second caller waits all the while (nobody is offered the call), and
/// is offered to 1002 once the wrap-up is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_in_wrap_up_is_not_offered_the_next_caller_until_it_ends() {
    let wrap_ms = 8000;
    let pbx = start(tenant(
        None,
        json!({}),
        json!({"wrap-up-secs": wrap_ms / 1000}),
    ))
    .await;
    feature_code(&pbx, "1003", "*46").await;
    until("1003 logged out", || {
        state(&pbx, "1003") == AgentState::LoggedOut
    })
    .await;
    let p = pbx.clone();
    let first = blocking(move || {
        let phone = fresh_phone(&p, "1002", "uas_agent");
        p.dial("1001", "600", "uac_call", &[("pause_ms", "2000")])
            .assert_ok();
        phone.wait()
    })
    .await;
    first.assert_ok();
    until("1002 in wrap-up", || {
        matches!(state(&pbx, "1002"), AgentState::WrapUp { .. })
    })
    .await;
    let p = pbx.clone();
    let (phone, second) = blocking(move || {
        let phone = fresh_phone(&p, "1002", "uas_agent");
        let second = Sipp::new("uac_call")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "14000")
            .timeout(LIMIT)
            .spawn();
        (phone, second)
    })
    .await;
    until("the second caller to wait", || queued(&pbx) == 1).await;
    // While 1002 wraps up, the caller waits and nobody is rung.
    // (The count is read first: if 1002 is still wrapping up after it,
    // it was then too.)
    loop {
        let waiting = queued(&pbx);
        if !matches!(state(&pbx, "1002"), AgentState::WrapUp { .. }) {
            break;
        }
        assert_eq!(waiting, 1, "the caller was offered during wrap-up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (phone, second) = blocking(move || (phone.wait(), second.wait())).await;
    phone.assert_ok();
    second.assert_ok();
    let cdrs = support_cdrs(&pbx, 2).await;
    let (second, first) = (&cdrs[0], &cdrs[1]);
    assert_eq!(first.agent.as_deref(), Some("1002"));
    assert_eq!(second.agent.as_deref(), Some("1002"));
    let rung: Vec<u64> = second
        .legs
        .iter()
        .filter(|l| l.target == "1002")
        .map(|l| l.start_ms)
        .collect();
    assert_eq!(rung.len(), 1, "1002 was rung once: {second:#?}");
    // The record's end is taken a moment after the engine's; half a
    // second of slack.
    assert!(
        rung[0] + 500 >= first.end_ms + wrap_ms,
        "1002 was rung {} ms after the first call ended, before its {wrap_ms} ms wrap-up was over",
        rung[0].saturating_sub(first.end_ms)
    );
}
