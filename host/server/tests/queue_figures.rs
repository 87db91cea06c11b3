//! The contact centre's figures and timed rules with real phones, through
//! the demo tenant's `support` queue (extension 600) and the report API:
//! a scripted sequence of calls whose SL, SL2, ASA, AHT and abandonment
//! are computed here by hand; a caller who hangs up after the queue's
//! auto-callback threshold is called back in their place; a callback the
//! customer does not answer is tried again; a waiting caller hears their
//! position at the queue's frequency; two waiting callers hear the same
//! music at the same moment.
//!
//! Waits in the script are chosen far from the thresholds they are
//! compared with (a 4 s service level against waits of about 2 s and
//! more than 6 s), so a slow machine moves the figures by a little, never
//! across a threshold; the comparisons allow what a loaded machine adds.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::phone::{Phone, with_carrier};
use common::{
    LIMIT, Pbx, blocking, feature_code_async, fresh_phone_with, http, pause, pbx_with,
    support_tenant, until,
};
use serde_json::{Value, json};
use switchyard_acd::AgentState;
use switchyard_clock::unix_ms;
use switchyard_sipp::Sipp;
use switchyard_store::CallbackRepo;

async fn start(queue: Value) -> Arc<Pbx> {
    Arc::new(pbx_with(Some(support_tenant(None, json!({}), queue)), None).await)
}

/// Caller 1001 dials 600 with `scenario` (and its variables).
fn caller(pbx: &Pbx, scenario: &str, vars: &[(&str, &str)]) -> Sipp {
    let mut s = Sipp::new(scenario)
        .remote(pbx.addr())
        .user("600")
        .auth("1001", &pbx.password("1001"))
        .set("caller", "1001")
        .timeout(LIMIT);
    for (k, v) in vars {
        s = s.set(k, v);
    }
    s
}

/// The API's rows at `path` (a report or the queue log) since `from`.
fn rows(pbx: &Pbx, token: &str, path: &str, from: u64, extra: &str) -> Vec<Value> {
    let url = format!(
        "http://{}/api/tenants/demo/{path}?from={from}&to={}{extra}",
        pbx.running.http,
        unix_ms() + 60_000
    );
    let (status, body) = http("GET", &url, token, None);
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn kinds(log: &[Value], kind: &str) -> usize {
    log.iter().filter(|e| e["kind"]["type"] == kind).count()
}

fn ms(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn assert_near(what: &str, got: i64, want: i64, slack: i64) {
    assert!(
        (got - want).abs() <= slack,
        "{what}: {got} ms, expected {want} ± {slack} ms"
    );
}

/// Three calls with one agent and a 4 s service level:
///
/// | call | what happens | wait | talk | wrap-up |
/// |---|---|---|---|---|
/// | A | the agent is paused; the caller hangs up after 2 s | 2 s (abandoned, within) | | |
/// | B | waits; the agent unpauses after ≥ 6 s and talks 2 s | ≥ 6 s (outside) | 2 s | 1 s |
/// | C | the agent is free and answers at once, talks 3 s | < 4 s (within) | 3 s | 1 s |
///
/// By hand: offered 3, answered 2, abandoned 1 (mean wait 2 s, rate ⅓),
/// SL = 1 answered within ÷ 2 answered = 0.5, SL2 = (1 answered + 1
/// abandoned within) ÷ (2 + 1) = ⅔, ASA = (wait B + wait C) ÷ 2, AHT =
/// ((2 + 1) + (3 + 1)) ÷ 2 = 3.5 s; the agent took 2 calls and talked 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_sequence_of_calls_gives_the_figures_computed_by_hand() {
    let pbx = start(json!({
        "members": ["1002"], "wrap-up-secs": 1, "service-level-secs": 4,
        "announce-every-secs": null,
    }))
    .await;
    let token = pbx.supervisor_key();
    pause(&pbx, "1002").await;
    let from = unix_ms();

    // A: abandons after 2 s with nobody to answer.
    let p = pbx.clone();
    blocking(move || {
        caller(&p, "uac_call", &[("pause_ms", "2000")])
            .run()
            .assert_ok()
    })
    .await;
    until("A gone", || pbx.queued() == 0).await;

    // B: waits at least 6 s, until the agent unpauses.
    let b = caller(&pbx, "uac_call_wait_bye", &[]).spawn();
    until("B waiting", || pbx.queued() == 1).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let p = pbx.clone();
    let agent = blocking(move || {
        fresh_phone_with(&p, "1002", "uas_answer_then_bye", &[("pause_ms", "2000")])
    })
    .await;
    feature_code_async(&pbx, "1002", "*48").await;
    blocking(move || {
        agent.wait().assert_ok();
        b.wait().assert_ok();
    })
    .await;
    until("the agent free after wrap-up", || {
        matches!(pbx.agent_state("1002"), AgentState::Available { .. })
    })
    .await;

    // C: answered at once.
    let p = pbx.clone();
    let agent = blocking(move || {
        fresh_phone_with(&p, "1002", "uas_answer_then_bye", &[("pause_ms", "3000")])
    })
    .await;
    let p = pbx.clone();
    blocking(move || {
        caller(&p, "uac_call_wait_bye", &[]).run().assert_ok();
        agent.wait().assert_ok();
    })
    .await;

    // The log is written behind the calls: wait for the last wrap-up.
    until("both wrap-ups in the queue log", || {
        kinds(&rows(&pbx, &token, "queue-log", from, ""), "wrap-up-ended") == 2
    })
    .await;
    let log = rows(&pbx, &token, "queue-log", from, "");
    let answers: Vec<i64> = log
        .iter()
        .filter(|e| e["kind"]["type"] == "answer")
        .map(|e| ms(&e["kind"]["wait-ms"]))
        .collect();
    assert_eq!(answers.len(), 2, "{log:#?}");
    let (wait_b, wait_c) = (answers[0], answers[1]);
    assert!(wait_b >= 6_000, "B waited {wait_b} ms");
    assert!(wait_c <= 3_000, "C waited {wait_c} ms with a free agent");

    let q = rows(&pbx, &token, "reports/queues", from, "&queue=support");
    assert_eq!(q.len(), 1, "one row for the whole window: {q:#?}");
    let q = &q[0];
    assert_eq!(
        (&q["offered"], &q["answered"], &q["abandoned"]),
        (&json!(3), &json!(2), &json!(1)),
        "{q:#}"
    );
    assert_near("abandon wait", ms(&q["abandon_mean_wait_ms"]), 2_000, 700);
    assert!((q["abandonment_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(q["service_level"].as_f64(), Some(0.5), "{q:#}");
    assert!(
        (q["service_level_2"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{q:#}"
    );
    assert_eq!(
        ms(&q["asa_ms"]),
        (wait_b + wait_c) / 2,
        "ASA is the mean answer wait"
    );
    assert_near("AHT", ms(&q["aht_ms"]), 3_500, 600);

    let a = rows(&pbx, &token, "reports/agents", from, "&agent=1002");
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["calls"], 2, "{:#}", a[0]);
    assert_near("talk", ms(&a[0]["talk_ms"]), 5_000, 600);
    assert_eq!(a[0]["missed_offers"], 0);
}

/// With `callback-on-abandon-secs` 2, a caller who hangs up after 3 s is
/// kept as a callback placeholder (and logged as an automatic callback
/// request, not an abandonment); one who hangs up after 1 s is abandoned.
/// When the agent comes back the callback rings the agent, then the
/// customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_hangs_up_after_the_threshold_is_called_back() {
    let pbx = start(json!({
        "members": ["1002"], "callback-on-abandon-secs": 2, "announce-every-secs": null,
    }))
    .await;
    let token = pbx.supervisor_key();
    pause(&pbx, "1002").await;
    let from = unix_ms();
    for pause_ms in ["1000", "3000"] {
        let p = pbx.clone();
        blocking(move || {
            caller(&p, "uac_call", &[("pause_ms", pause_ms)])
                .run()
                .assert_ok()
        })
        .await;
    }
    until("the placeholder stored", || {
        pbx.running.store.list_callbacks("demo").unwrap().len() == 1
    })
    .await;
    until("the log written", || {
        let log = rows(&pbx, &token, "queue-log", from, "");
        kinds(&log, "abandon") == 1 && kinds(&log, "callback-requested") == 1
    })
    .await;
    let log = rows(&pbx, &token, "queue-log", from, "");
    let requested = log
        .iter()
        .find(|e| e["kind"]["type"] == "callback-requested")
        .unwrap();
    assert_eq!(requested["kind"]["automatic"], true, "{requested:#}");
    let abandon = log.iter().find(|e| e["kind"]["type"] == "abandon").unwrap();
    assert_near("abandon wait", ms(&abandon["kind"]["wait-ms"]), 1_000, 700);

    // The agent comes back: rung first, then the customer.
    let p = pbx.clone();
    let (agent, customer) = blocking(move || {
        (
            fresh_phone_with(&p, "1002", "uas_agent", &[]),
            fresh_phone_with(&p, "1001", "uas_answer_then_bye", &[("pause_ms", "1000")]),
        )
    })
    .await;
    feature_code_async(&pbx, "1002", "*48").await;
    blocking(move || {
        customer.wait().assert_ok();
        agent.wait().assert_ok();
    })
    .await;
    until("the placeholder gone", || {
        pbx.running.store.list_callbacks("demo").unwrap().is_empty()
    })
    .await;
    until("the callback completed in the log", || {
        kinds(
            &rows(&pbx, &token, "queue-log", from, ""),
            "callback-completed",
        ) == 1
    })
    .await;
}

/// A callback whose customer is busy is tried again after the queue's
/// retry interval (2 s here) and connects on the second attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_the_customer_does_not_answer_is_retried() {
    let pbx = start(json!({
        "members": ["1002"], "callback-retry-secs": 2, "callback-max-attempts": 3,
        "announce-every-secs": null, "wrap-up-secs": 0,
    }))
    .await;
    let token = pbx.supervisor_key();
    pause(&pbx, "1002").await;
    let from = unix_ms();
    // The caller presses 1 (the demo queue's callback key) and hangs up.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("press-1.pcap");
    switchyard_sipp::pcap::RtpScript::new()
        .silence(1500)
        .digit('1', 100)
        .silence(3000)
        .write_pcap(&pcap)
        .unwrap();
    let p = pbx.clone();
    blocking(move || {
        caller(&p, "uac_call_pcap_wait_bye", &[])
            .key("pcap", pcap.to_str().unwrap())
            .run()
            .assert_ok()
    })
    .await;
    until("the placeholder stored", || {
        pbx.running.store.list_callbacks("demo").unwrap().len() == 1
    })
    .await;

    // First attempt: the customer's phone is busy.
    let p = pbx.clone();
    let (agent, busy) = blocking(move || {
        (
            fresh_phone_with(&p, "1002", "uas_agent", &[]),
            fresh_phone_with(&p, "1001", "uas_busy", &[]),
        )
    })
    .await;
    feature_code_async(&pbx, "1002", "*48").await;
    blocking(move || {
        busy.wait().assert_ok();
        agent.wait().assert_ok();
    })
    .await;
    let attempts = |log: &[Value]| kinds(log, "callback-attempted");
    until("the first attempt logged", || {
        attempts(&rows(&pbx, &token, "queue-log", from, "")) == 1
    })
    .await;
    assert_eq!(
        pbx.running.store.list_callbacks("demo").unwrap().len(),
        1,
        "the placeholder waits for its retry"
    );

    // Second attempt, after the retry interval: answered.
    let p = pbx.clone();
    let (agent, customer) = blocking(move || {
        (
            fresh_phone_with(&p, "1002", "uas_agent", &[]),
            fresh_phone_with(&p, "1001", "uas_answer_then_bye", &[("pause_ms", "1000")]),
        )
    })
    .await;
    blocking(move || {
        customer.wait().assert_ok();
        agent.wait().assert_ok();
    })
    .await;
    until("the callback completed", || {
        let log = rows(&pbx, &token, "queue-log", from, "");
        kinds(&log, "callback-completed") == 1
    })
    .await;
    let log = rows(&pbx, &token, "queue-log", from, "");
    let numbers: Vec<i64> = log
        .iter()
        .filter(|e| e["kind"]["type"] == "callback-attempted")
        .map(|e| ms(&e["kind"]["attempt"]))
        .collect();
    assert_eq!(numbers, [1, 2], "{log:#?}");
    let at = |kind: &str, nth: usize| {
        log.iter()
            .filter(|e| e["kind"]["type"] == kind)
            .nth(nth)
            .map(|e| ms(&e["at-ms"]))
            .unwrap()
    };
    assert!(
        at("callback-attempted", 1) - at("callback-attempted", 0) >= 2_000,
        "the retry waits its interval: {log:#?}"
    );
}

/// The first 20 ms with sound in it of the last of `prompts`, played one
/// after the other as the host does (joined without a gap, so a prompt's
/// frames are counted from the start of the first), as PCMU on the wire:
/// a frame the caller receives exactly once each time they are played.
fn loud_frame(prompts: &[&str]) -> Vec<u8> {
    let mut samples: Vec<i16> = Vec::new();
    let mut last_start = 0;
    for name in prompts {
        let path = format!(
            "{}/../calls/assets/prompts/{name}.wav",
            env!("CARGO_MANIFEST_DIR")
        );
        let prompt = switchyard_rtp::wav::load_prompt(&std::fs::read(&path).unwrap()).unwrap();
        last_start = samples.len();
        samples.extend(prompt.samples);
    }
    let mut wire = Vec::new();
    switchyard_rtp::g711::Law::Pcmu.encode(&samples, &mut wire);
    let energy = |f: &[u8]| -> i64 {
        f.iter()
            .map(|b| i64::from(switchyard_rtp::g711::ulaw_to_linear(*b)).abs())
            .sum()
    };
    wire.chunks_exact(160)
        .skip(last_start.div_ceil(160))
        .find(|f| energy(f) > 160 * 2_000)
        .unwrap_or_else(|| panic!("{prompts:?} has no loud frame"))
        .to_vec()
}

/// With announcements every 7 s, the second caller in `support` hears
/// "you are caller number 2" twice in its first 16 s (at about 7 s and
/// 14 s after joining), 7 s apart — checked on the RTP a raw phone
/// receives, frame for frame against the built-in prompts. (The whole
/// announcement lasts about 6 s; one due while the last still plays is
/// skipped, so the period must be longer for each to be heard.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_hears_the_position_at_the_queue_frequency() {
    let t = support_tenant(
        None,
        json!({}),
        json!({"members": ["1002"], "announce-every-secs": 7, "callback-key": null}),
    );
    let pbx = Arc::new(pbx_with(Some(with_carrier(t)), None).await);
    common::feature_code_async(&pbx, "1002", "*46").await;
    // The first caller waits longer than the second listens.
    let first = caller(&pbx, "uac_call", &[("pause_ms", "22000")]).spawn();
    until("the first caller waiting", || pbx.queued() == 1).await;

    let addr = pbx.addr();
    let heard = blocking(move || {
        let mut phone = Phone::new(addr, 0x5150);
        phone.call("+15550103");
        let start = std::time::Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while start.elapsed() < Duration::from_secs(16) {
            if let Ok(n) = phone.rtp.recv(&mut buf) {
                let pkt = switchyard_rtp::packet::RtpPacket::parse(&buf[..n]).unwrap();
                got.push((start.elapsed(), pkt.payload.to_vec()));
            }
        }
        phone.bye();
        got
    })
    .await;
    let at = |frame: &[u8]| -> Vec<Duration> {
        heard
            .iter()
            .filter(|(_, p)| p.as_slice() == frame)
            .map(|(t, _)| *t)
            .collect()
    };
    let position = at(&loud_frame(&["sy-queue-position"]));
    let two = at(&loud_frame(&["sy-queue-position", "sy-n-2"]));
    assert!(
        heard.len() > 400,
        "music and prompts all along: {} packets",
        heard.len()
    );
    assert_eq!(position.len(), 2, "two announcements in 16 s: {position:?}");
    assert_eq!(two.len(), 2, "each says number 2: {two:?}");
    let gap = position[1] - position[0];
    assert!(
        gap >= Duration::from_millis(6_500) && gap <= Duration::from_millis(7_500),
        "announced every 7 s, not {gap:?} apart"
    );
    assert!(
        position[0] >= Duration::from_millis(6_500),
        "the first one after one period: {position:?}"
    );
    blocking(move || first.wait().assert_ok()).await;
}

/// Callers of one queue hear one stream of music, like a radio: two who
/// joined 1.5 s apart receive the same payloads at the same moments (the
/// queue's shared source), not each their own copy from its beginning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_waiting_in_one_queue_hear_the_same_music_at_the_same_moment() {
    let t = support_tenant(
        None,
        json!({}),
        json!({"members": ["1002"], "callback-key": null}),
    );
    let pbx = Arc::new(pbx_with(Some(with_carrier(t)), None).await);
    common::feature_code_async(&pbx, "1002", "*46").await;
    let addr = pbx.addr();
    let t0 = std::time::Instant::now();
    let until_t = t0 + Duration::from_secs(6);
    let listen = move |ssrc: u32, delay: Duration| {
        blocking(move || {
            std::thread::sleep(delay);
            let mut phone = Phone::new(addr, ssrc);
            phone.call("+15550103");
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while std::time::Instant::now() < until_t {
                if let Ok(n) = phone.rtp.recv(&mut buf) {
                    let pkt = switchyard_rtp::packet::RtpPacket::parse(&buf[..n]).unwrap();
                    got.push((t0.elapsed(), pkt.payload.to_vec()));
                }
            }
            phone.bye();
            got
        })
    };
    let (first, second) = tokio::join!(
        listen(0x5150, Duration::ZERO),
        listen(0x5160, Duration::from_millis(1500))
    );
    // The second caller's packets from 2.5 s to 5.5 s, each looked for
    // among what the first received within 60 ms of it (both tick every
    // 20 ms, each on its own phase).
    let window = Duration::from_millis(2500)..Duration::from_millis(5500);
    let theirs: Vec<&(Duration, Vec<u8>)> = second
        .iter()
        .filter(|(at, _)| window.contains(at))
        .collect();
    assert!(theirs.len() > 100, "music all along: {}", theirs.len());
    let same = theirs
        .iter()
        .filter(|(at, p)| {
            first
                .iter()
                .any(|(a, q)| q == p && a.abs_diff(*at) <= Duration::from_millis(60))
        })
        .count();
    assert!(
        same * 10 >= theirs.len() * 9,
        "{same} of {} packets the same as the first caller's at that moment",
        theirs.len()
    );
}
