//! Three-way calling with real phones over UDP: customer 1003 talks with
//! agent 1002, who adds 1001 — keying `*3 1001 #` on the phone, or
//! through the API — then drops out, and the customer and 1001 go on.
//! Each phone talks in its own tone; what each hears is told apart with
//! the Goertzel detector.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::phone::Phone;
use common::{LIMIT, Pbx, blocking, http, key, pbx};
use switchyard_rtp::tones::tone_amplitude;

const TONES: [f64; 3] = [500.0, 900.0, 1500.0];

/// The amplitude of each of the three tones in what each phone heard
/// while `tones` were said for 2 s.
fn round(phones: &mut [&mut Phone], tones: &[Option<f64>]) -> Vec<[f64; 3]> {
    common::phone::talk_and_listen(phones, tones, 2_000)
        .iter()
        .map(|pcm| TONES.map(|f| tone_amplitude(pcm, f)))
        .collect()
}

/// 1003 (customer) calls 1002 (agent); 1001's phone is registered.
fn talking(p: &Pbx) -> (Phone, Phone, Phone) {
    let mut agent = Phone::new(p.addr(), 0xA0);
    agent.register("1002", &p.password("1002"));
    let mut third = Phone::new(p.addr(), 0xB0);
    third.register("1001", &p.password("1001"));
    let mut customer = Phone::new(p.addr(), 0xC0);
    thread::scope(|s| {
        s.spawn(|| agent.answer_invite(|_| "sendrecv"));
        customer.call_as("1003", &p.password("1003"), "1002");
    });
    (customer, agent, third)
}

/// All three hear the two others; then the agent leaves and the two
/// others still hear each other.
fn three_then_two(customer: &mut Phone, agent: &mut Phone, third: &mut Phone) {
    let h = round(&mut [customer, agent, third], &TONES.map(Some));
    let [c, a, t] = [&h[0], &h[1], &h[2]];
    assert!(
        c[1] > 2000.0 && c[2] > 2000.0 && c[0] < 300.0,
        "the customer: {c:?}"
    );
    assert!(
        a[0] > 2000.0 && a[2] > 2000.0 && a[1] < 300.0,
        "the agent: {a:?}"
    );
    assert!(
        t[0] > 2000.0 && t[1] > 2000.0 && t[2] < 300.0,
        "the third: {t:?}"
    );
    agent.bye();
    let h = round(&mut [customer, third], &[Some(TONES[0]), Some(TONES[2])]);
    assert!(
        h[0][2] > 2000.0,
        "the customer still hears 1001: {:?}",
        h[0]
    );
    assert!(
        h[1][0] > 2000.0,
        "1001 still hears the customer: {:?}",
        h[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_adds_a_third_party_from_the_phone_and_drops_out() {
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || {
        let (mut customer, mut agent, mut third) = talking(&p);
        for k in "*31001#".chars() {
            agent.key(k);
        }
        third.answer_invite(|_| "sendrecv");
        // The agent's keys reached the customer as RFC 4733 events (as
        // any keys pressed in a call do); read past them.
        let mut buf = [0u8; 2048];
        while let Ok(n) = customer.rtp.recv(&mut buf) {
            if n > 1 && buf[1] & 0x7f == 0 {
                break;
            }
        }
        three_then_two(&mut customer, &mut agent, &mut third);
        thread::scope(|s| {
            s.spawn(|| third.answer_bye());
            customer.bye();
        });
    })
    .await;
    let cdr = pbx.cdr_to(1, "1002").await;
    let targets: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["1002", "1001"]);
    assert!(cdr.legs.iter().all(|l| l.answer_ms.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_adds_a_third_party_for_the_agent_and_keeps_other_agents_out() {
    let pbx = Arc::new(pbx().await);
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let p = pbx.clone();
    blocking(move || {
        let (mut customer, mut agent, mut third) = talking(&p);
        let call = p.running.pbx.live_calls("demo")[0].call_id.clone();
        let url = format!("{base}/api/tenants/demo/calls/{call}/add");
        let body = serde_json::json!({"to": "1001"});
        // Another agent's key: not its call.
        let other = key(&base, &op, "demo", "agent", Some("1001"));
        assert_eq!(http("POST", &url, &other, Some(body.clone())).0, 404);
        let bad = serde_json::json!({"to": "sip:x@y"});
        let mine = key(&base, &op, "demo", "agent", Some("1002"));
        assert_eq!(http("POST", &url, &mine, Some(bad)).0, 400);
        let (status, text) = http("POST", &url, &mine, Some(body));
        assert_eq!(status, 202, "{text}");
        third.answer_invite(|_| "sendrecv");
        three_then_two(&mut customer, &mut agent, &mut third);
        thread::scope(|s| {
            s.spawn(|| third.answer_bye());
            customer.bye();
        });
        let deadline = Instant::now() + LIMIT;
        while !p.running.pbx.live_calls("demo").is_empty() {
            assert!(Instant::now() < deadline);
            thread::sleep(Duration::from_millis(20));
        }
    })
    .await;
}

/// A queue as the third party: 1001, talking with 1003, adds `support`;
/// its agent free now (1002; 1003 is on this very call) rings and joins,
/// and is busy for the queue meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_added_rings_its_free_agent_who_joins() {
    let pbx = Arc::new(pbx().await);
    let base = format!("http://{}", pbx.running.http);
    let sup_key = pbx.supervisor_key();
    let p = pbx.clone();
    blocking(move || {
        let mut host = Phone::new(p.addr(), 0xA5);
        host.register("1001", &p.password("1001"));
        let mut queue_agent = Phone::new(p.addr(), 0xB5);
        queue_agent.register("1002", &p.password("1002"));
        let mut customer = Phone::new(p.addr(), 0xC5);
        thread::scope(|s| {
            s.spawn(|| host.answer_invite(|_| "sendrecv"));
            customer.call_as("1003", &p.password("1003"), "1001");
        });
        let call = p.running.pbx.live_calls("demo")[0].call_id.clone();
        let url = format!("{base}/api/tenants/demo/calls/{call}/add");
        let bad = serde_json::json!({"to": "queue:nowhere"});
        assert_eq!(http("POST", &url, &sup_key, Some(bad)).0, 400);
        let body = serde_json::json!({"to": "queue:support"});
        // Nobody of the queue free (1002 paused, 1003 on this call): 409.
        let state = format!("{base}/api/tenants/demo/agents/1002/state");
        let pause = serde_json::json!({"action": "pause", "reason": "lunch"});
        assert_eq!(http("POST", &state, &sup_key, Some(pause)).0, 200);
        let (status, text) = http("POST", &url, &sup_key, Some(body.clone()));
        assert_eq!(status, 409, "{text}");
        let unpause = serde_json::json!({"action": "unpause"});
        assert_eq!(http("POST", &state, &sup_key, Some(unpause)).0, 200);
        let (status, text) = http("POST", &url, &sup_key, Some(body));
        assert_eq!(status, 202, "{text}");
        queue_agent.answer_invite(|_| "sendrecv");
        three_then_two(&mut customer, &mut host, &mut queue_agent);
        assert_eq!(
            p.agent_state("1002"),
            switchyard_acd::AgentState::OnOtherCall,
            "on the three-way call, not offered queue calls"
        );
        thread::scope(|s| {
            s.spawn(|| queue_agent.answer_bye());
            customer.bye();
        });
    })
    .await;
    let cdr = pbx.cdr_to(1, "1001").await;
    let targets: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["1001", "1002"]);
}
