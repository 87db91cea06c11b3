//! Supervision with real phones over UDP: customer 1003 talks with agent
//! 1002, and supervisor 1001 (the demo's supervisor flag) joins — from
//! the phone with `*551002`, or rung by the API. Every phone talks at
//! once in its own tone, and what each hears is told apart with the
//! Goertzel detector: listen, whisper and barge each hold their matrix,
//! the supervisor's keys 4/5/6 switch it mid-call, the customer's
//! recording has the supervisor only when barging, and the record and
//! the live view say who monitored, how and for how long.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::phone::Phone;
use common::{LIMIT, Pbx, blocking, http, key, pbx};
use switchyard_rtp::tones::tone_amplitude;

/// Each party's own tone (Hz).
const CUSTOMER: f64 = 500.0;
const AGENT: f64 = 900.0;
const SUPERVISOR: f64 = 1500.0;

/// A tone that is heard: full scale is 8,000 (a mix of two keeps each).
const HEARD: f64 = 2_000.0;
/// A tone that is not: no leakage at all is expected.
const SILENT: f64 = 300.0;

/// What each phone heard while all of them talked for 2 s at once.
fn round(phones: &mut [&mut Phone], tones: &[f64]) -> Vec<Vec<i16>> {
    let tones: Vec<Option<f64>> = tones.iter().copied().map(Some).collect();
    common::phone::talk_and_listen(phones, &tones, 2_000)
}

/// Which of the three tones `pcm` holds: (customer, agent, supervisor).
fn tones_in(pcm: &[i16]) -> [f64; 3] {
    [CUSTOMER, AGENT, SUPERVISOR].map(|f| tone_amplitude(pcm, f))
}

fn hears(who: &str, pcm: &[i16], expected: [bool; 3]) {
    let got = tones_in(pcm);
    for (i, name) in ["the customer", "the agent", "the supervisor"]
        .iter()
        .enumerate()
    {
        if expected[i] {
            assert!(got[i] > HEARD, "{who} hears {name}: {got:?}");
        } else {
            assert!(got[i] < SILENT, "{who} does not hear {name}: {got:?}");
        }
    }
}

/// Wait until the live view shows `mode` for supervisor 1001 (`None`:
/// no supervisor), i.e. the session has set the matrix.
fn until_mode(p: &Pbx, mode: Option<&str>) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let calls = p.running.pbx.live_calls("demo");
        let now: Option<String> = calls
            .iter()
            .flat_map(|c| c.monitors.iter())
            .find(|(s, a, _)| s == "1001" && a == "1002")
            .map(|(_, _, m)| m.as_str().to_string());
        if now.as_deref() == mode {
            return;
        }
        assert!(Instant::now() < deadline, "the mode stays {now:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// 1003 calls 1002, who answers: (customer, agent).
fn talking(p: &Pbx) -> (Phone, Phone) {
    let mut agent = Phone::new(p.addr(), 0xA0);
    agent.register("1002", &p.password("1002"));
    let mut customer = Phone::new(p.addr(), 0xC0);
    thread::scope(|s| {
        s.spawn(|| agent.answer_invite(|_| "sendrecv"));
        customer.call_as("1003", &p.password("1003"), "1002");
    });
    (customer, agent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_listens_whispers_and_barges_from_the_phone() {
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || {
        let (mut customer, mut agent) = talking(&p);
        // 1001 dials *551002: answered by the host, listening.
        let mut sup = Phone::new(p.addr(), 0x50);
        sup.call_as("1001", &p.password("1001"), "*551002");
        until_mode(&p, Some("listen"));
        let tones = [CUSTOMER, AGENT, SUPERVISOR];
        let h = round(&mut [&mut customer, &mut agent, &mut sup], &tones);
        hears("listen: the customer", &h[0], [false, true, false]);
        hears("listen: the agent", &h[1], [true, false, false]);
        hears("listen: the supervisor", &h[2], [true, true, false]);

        sup.key('5');
        until_mode(&p, Some("whisper"));
        let h = round(&mut [&mut customer, &mut agent, &mut sup], &tones);
        hears("whisper: the customer", &h[0], [false, true, false]);
        hears("whisper: the agent", &h[1], [true, false, true]);
        hears("whisper: the supervisor", &h[2], [true, true, false]);

        sup.key('6');
        until_mode(&p, Some("barge"));
        let h = round(&mut [&mut customer, &mut agent, &mut sup], &tones);
        hears("barge: the customer", &h[0], [false, true, true]);
        hears("barge: the agent", &h[1], [true, false, true]);
        hears("barge: the supervisor", &h[2], [true, true, false]);

        // The customer hangs up: the agent and the supervisor too.
        thread::scope(|s| {
            s.spawn(|| agent.answer_bye());
            s.spawn(|| sup.answer_bye());
            customer.bye();
        });
    })
    .await;
    let cdr = pbx.cdr_to(1, "1002").await;
    assert_eq!(cdr.monitors.len(), 1, "{cdr:?}");
    let m = &cdr.monitors[0];
    assert_eq!((m.supervisor.as_str(), m.agent.as_str()), ("1001", "1002"));
    assert_eq!(m.modes, ["listen", "whisper", "barge"]);
    assert!(
        m.end_ms - m.start_ms >= 6_000,
        "three rounds of 2 s: {}",
        m.end_ms - m.start_ms
    );
    let targets: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["1002"], "the supervisor is not a dialled party");

    // The customer's recording (left: the customer; right: what the
    // customer hears) has the supervisor only in the barge round.
    let id = cdr.recording.clone().expect("the demo records its calls");
    let (n, _, right) = common::channels(&pbx.recording_path(&id));
    assert_eq!(n, 2);
    // 200 ms windows in which the agent talks: the first two rounds
    // (listen, whisper) have no supervisor in them, the last (barge) has.
    let supervisor_in: Vec<bool> = right
        .chunks(1_600)
        .filter(|w| w.len() == 1_600 && tone_amplitude(w, AGENT) > HEARD)
        .map(|w| tone_amplitude(w, SUPERVISOR) > HEARD)
        .collect();
    let n = supervisor_in.len();
    assert!(n >= 24, "three rounds of the agent talking: {n} windows");
    assert!(
        supervisor_in[..n * 6 / 10].iter().all(|s| !s),
        "no supervisor while listening or whispering: {supervisor_in:?}"
    );
    assert!(
        supervisor_in[n * 7 / 10..].iter().filter(|s| **s).count() >= 5,
        "the supervisor barging is recorded: {supervisor_in:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_is_refused_without_the_flag_and_without_a_call_to_join() {
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || {
        let (mut customer, agent) = talking(&p);
        // 1003 has no supervisor flag.
        let mut other = Phone::new(p.addr(), 0x51);
        assert_eq!(
            other.try_call_as("1003", &p.password("1003"), "*551002"),
            403
        );
        let mut sup = Phone::new(p.addr(), 0x52);
        // Not an extension of the tenant.
        assert_eq!(sup.try_call_as("1001", &p.password("1001"), "*559999"), 404);
        let mut sup = Phone::new(p.addr(), 0x53);
        // Oneself.
        assert_eq!(sup.try_call_as("1001", &p.password("1001"), "*551001"), 404);
        let mut sup = Phone::new(p.addr(), 0x54);
        thread::scope(|s| {
            s.spawn(|| agent.answer_bye());
            customer.bye();
        });
        // 1002 is on no call any more.
        assert_eq!(sup.try_call_as("1001", &p.password("1001"), "*551002"), 480);
    })
    .await;
    assert!(pbx.cdr_to(1, "1002").await.monitors.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_rings_the_supervisor_who_whispers_and_roles_and_tenants_hold() {
    let pbx = Arc::new(pbx().await);
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let sup_key = pbx.supervisor_key();
    let p = pbx.clone();
    blocking(move || {
        let mut sup = Phone::new(p.addr(), 0x55);
        sup.register("1001", &p.password("1001"));
        let (mut customer, mut agent) = talking(&p);
        let calls = p.running.pbx.live_calls("demo");
        let call = calls[0].call_id.clone();
        let url = format!("{base}/api/tenants/demo/calls/{call}/monitor");

        // Refusals first: an agent key, an extension without the flag, a
        // bad mode, another tenant's key, a call that is not there.
        let agent_key = key(&base, &op, "demo", "agent", Some("1002"));
        let body = serde_json::json!({"supervisor": "1001", "mode": "whisper"});
        assert_eq!(http("POST", &url, &agent_key, Some(body.clone())).0, 403);
        let not_flagged = serde_json::json!({"supervisor": "1003"});
        let (status, text) = http("POST", &url, &sup_key, Some(not_flagged));
        assert_eq!(status, 403, "{text}");
        let bad_mode = serde_json::json!({"supervisor": "1001", "mode": "spy"});
        assert_eq!(http("POST", &url, &sup_key, Some(bad_mode)).0, 400);
        let (status, text) = http(
            "POST",
            &format!("{base}/api/tenants"),
            &op,
            Some(serde_json::json!({"id": "acme", "name": "Acme", "domains": ["acme.test"], "time_zone": "UTC"})),
        );
        assert_eq!(status, 201, "{text}");
        let acme = key(&base, &op, "acme", "admin", None);
        let theirs = format!("{base}/api/tenants/acme/calls/{call}/monitor");
        assert_eq!(http("POST", &theirs, &acme, Some(body.clone())).0, 404);
        assert_eq!(http("POST", &url, &acme, Some(body.clone())).0, 404);
        let none = format!("{base}/api/tenants/demo/calls/no-such-call/monitor");
        assert_eq!(http("POST", &none, &sup_key, Some(body.clone())).0, 404);
        assert!(
            p.running.pbx.live_calls("demo")[0].monitors.is_empty(),
            "nobody joined"
        );

        // The supervisor key: 1001's phone rings, answers, whispers.
        let (status, text) = http("POST", &url, &sup_key, Some(body));
        assert_eq!(status, 202, "{text}");
        sup.answer_invite(|_| "sendrecv");
        until_mode(&p, Some("whisper"));
        // The agent's key sees its call, not who listens.
        let (_, mine) = http(
            "GET",
            &format!("{base}/api/tenants/demo/calls"),
            &agent_key,
            None,
        );
        let mine: serde_json::Value = serde_json::from_str(&mine).unwrap();
        assert_eq!(mine[0]["monitors"], serde_json::json!([]), "{mine}");
        let (_, all) = http(
            "GET",
            &format!("{base}/api/tenants/demo/calls"),
            &sup_key,
            None,
        );
        let all: serde_json::Value = serde_json::from_str(&all).unwrap();
        assert_eq!(
            all[0]["monitors"],
            serde_json::json!([{"supervisor": "1001", "agent": "1002", "mode": "whisper"}])
        );
        let tones = [CUSTOMER, AGENT, SUPERVISOR];
        let h = round(&mut [&mut customer, &mut agent, &mut sup], &tones);
        hears("whisper: the customer", &h[0], [false, true, false]);
        hears("whisper: the agent", &h[1], [true, false, true]);
        hears("whisper: the supervisor", &h[2], [true, true, false]);

        // The supervisor hangs up; the call goes on.
        sup.bye();
        until_mode(&p, None);
        assert_eq!(p.running.pbx.live_calls("demo").len(), 1);
        thread::scope(|s| {
            s.spawn(|| agent.answer_bye());
            customer.bye();
        });
    })
    .await;
    let cdr = pbx.cdr_to(1, "1002").await;
    assert_eq!(cdr.monitors.len(), 1);
    assert_eq!(cdr.monitors[0].modes, ["whisper"]);
}

/// A queue call that was supervised: the queue log has a `monitored`
/// line (who, the modes, how long) for the agent, next to the figures'
/// own lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervised_queue_call_is_in_the_queue_log() {
    use switchyard_store::QueueLogRepo;
    let tenant = common::support_tenant(
        None,
        serde_json::json!({}),
        serde_json::json!({"members": ["1002"]}),
    );
    let pbx = Arc::new(common::pbx_with(Some(tenant), None).await);
    let p = pbx.clone();
    blocking(move || {
        let mut agent = Phone::new(p.addr(), 0xA1);
        agent.register("1002", &p.password("1002"));
        let mut customer = Phone::new(p.addr(), 0xC1);
        thread::scope(|s| {
            s.spawn(|| customer.call_as("1003", &p.password("1003"), "600"));
            agent.answer_invite(|_| "sendrecv");
        });
        // The queue call is the agent's once answered.
        let deadline = Instant::now() + LIMIT;
        while !p
            .running
            .pbx
            .live_calls("demo")
            .iter()
            .any(|c| c.agent.as_deref() == Some("1002") && c.state.as_str() == "answered")
        {
            assert!(Instant::now() < deadline, "the agent never answered");
            thread::sleep(Duration::from_millis(20));
        }
        let mut sup = Phone::new(p.addr(), 0x56);
        sup.call_as("1001", &p.password("1001"), "*551002");
        until_mode(&p, Some("listen"));
        sup.key('6');
        until_mode(&p, Some("barge"));
        thread::sleep(Duration::from_millis(500));
        thread::scope(|s| {
            s.spawn(|| agent.answer_bye());
            s.spawn(|| sup.answer_bye());
            customer.bye();
        });
    })
    .await;
    let cdr = pbx.cdr_to(1, "600").await;
    assert_eq!(cdr.queue.as_deref(), Some("support"));
    let deadline = Instant::now() + LIMIT;
    let monitored = loop {
        let log = pbx.running.store.queue_events("demo", 0, u64::MAX).unwrap();
        let found = log
            .into_iter()
            .find(|e| matches!(e.kind, switchyard_acd::EventKind::Monitored { .. }));
        if let Some(e) = found {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "no monitored line in the queue log"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(monitored.queue.as_deref(), Some("support"));
    assert_eq!(monitored.agent.as_deref(), Some("1002"));
    assert_eq!(monitored.call.as_deref(), Some(cdr.call_id.as_str()));
    let switchyard_acd::EventKind::Monitored {
        supervisor,
        modes,
        duration,
    } = monitored.kind
    else {
        unreachable!()
    };
    assert_eq!(supervisor, "1001");
    assert_eq!(modes, ["listen", "barge"]);
    assert!(duration >= Duration::from_millis(500), "{duration:?}");
}
