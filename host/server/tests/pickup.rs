//! Call pickup with real phones: a call rings one extension's phone, 1002
//! dials `**` + that extension (directed) or `*8` (its pickup group,
//! `office` in the demo: 1001, 1002 and 1003) and takes the call — a
//! flow's dial or a queue's offer to an agent.

mod common;

use common::{LIMIT, blocking, pbx, until};
use switchyard_acd::AgentState;
use switchyard_sipp::Sipp;
use switchyard_store::Disposition;

/// `caller` calls `ringing`, whose phone rings; 1002 dials `code`.
async fn picks_up(code: &'static str, caller: &'static str, ringing: &'static str) {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let ringing_ext = ringing;
    let (ringing, caller) = blocking(move || {
        let ringing = p.phone(ringing, "uas_ring_no_answer", &[]);
        // The caller waits for the far end to hang up: the picker does.
        let caller = Sipp::new("uac_call_wait_bye")
            .remote(p.addr())
            .user(ringing_ext)
            .auth(caller, &p.password(caller))
            .set("caller", caller)
            .timeout(LIMIT)
            .spawn();
        (ringing, caller)
    })
    .await;
    until("1003's phone to ring", || {
        pbx.running
            .pbx
            .live_calls("demo")
            .iter()
            .any(|c| c.state.as_str() == "ringing")
    })
    .await;
    let p = pbx.clone();
    let picker = blocking(move || p.dial("1002", code, "uac_call", &[("pause_ms", "1500")])).await;
    picker.assert_ok();
    let (ringing, caller) = blocking(move || (ringing.wait(), caller.wait())).await;
    ringing.assert_ok();
    caller.assert_ok();
    let c = pbx
        .cdrs(1)
        .await
        .into_iter()
        .find(|c| c.dialled == ringing_ext)
        .unwrap();
    assert_eq!(c.disposition, Disposition::Answered);
    assert_eq!(c.agent.as_deref(), Some("1002"), "the picker took the call");
    let legs: Vec<(&str, u16)> = c
        .legs
        .iter()
        .map(|l| (l.target.as_str(), l.sip_code))
        .collect();
    assert_eq!(legs, [(ringing_ext, 487), ("1002", 200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directed_pickup_takes_the_call_ringing_that_extension() {
    picks_up("**1003", "1001", "1003").await;
}

/// 1002 and 1003 are in the demo's pickup group `office` (and in the
/// ring group `business-broadband`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_pickup_takes_a_call_ringing_the_group() {
    picks_up("*8", "1001", "1003").await;
}

/// 1001 shares no ring group with 1002, only the pickup group `office`:
/// pickup groups are their own, not the ring groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_pickup_takes_a_call_ringing_the_pickup_group_outside_any_ring_group() {
    picks_up("*8", "1003", "1001").await;
}

/// Nothing rings: the picker is told so at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pickup_with_nothing_ringing_gets_480() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let out =
        blocking(move || p.dial("1002", "**1003", "uac_expect_status", &[("status", "480")])).await;
    out.assert_ok();
}

/// A queue's offer rings an agent's phone: `**1003` takes it. The pickup
/// answers the offer for the agent it rang (as a queue sees it in
/// Asterisk): the record is the queue's, with 1003 as its agent and 1002's
/// leg the one that talked; 1003 is not counted as missing the offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directed_pickup_takes_a_queue_call_ringing_an_agent() {
    let pbx = std::sync::Arc::new(pbx().await);
    // 1002 picks up; logged out, it is not offered the call itself.
    let p = pbx.clone();
    blocking(move || p.feature_code("1002", "*46")).await;
    until("1002 logged out", || {
        pbx.agent_state("1002") == AgentState::LoggedOut
    })
    .await;
    let p = pbx.clone();
    let (ringing, caller) = blocking(move || {
        let ringing = p.phone("1003", "uas_ring_no_answer", &[]);
        let caller = Sipp::new("uac_call_wait_bye")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .timeout(LIMIT)
            .spawn();
        (ringing, caller)
    })
    .await;
    until("1003's phone to ring with the queue's offer", || {
        matches!(pbx.agent_state("1003"), AgentState::Reserved { .. })
    })
    .await;
    let p = pbx.clone();
    let picker =
        blocking(move || p.dial("1002", "**1003", "uac_call", &[("pause_ms", "1500")])).await;
    picker.assert_ok();
    let (ringing, caller) = blocking(move || (ringing.wait(), caller.wait())).await;
    ringing.assert_ok();
    caller.assert_ok();
    let c = pbx.cdr_to(2, "600").await;
    assert_eq!(c.disposition, Disposition::Answered);
    assert_eq!(c.queue.as_deref(), Some("support"));
    assert_eq!(c.agent.as_deref(), Some("1003"));
    let legs: Vec<(&str, u16)> = c
        .legs
        .iter()
        .map(|l| (l.target.as_str(), l.sip_code))
        .collect();
    assert!(legs.contains(&("1003", 487)), "{legs:?}");
    assert!(legs.contains(&("1002", 200)), "{legs:?}");
    until("1003 free again, not paused for a missed offer", || {
        matches!(
            pbx.agent_state("1003"),
            AgentState::WrapUp { .. } | AgentState::Available { .. }
        )
    })
    .await;
}
