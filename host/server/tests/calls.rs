//! Calls through the whole PBX with real SIP peers: SIPp plays the phones,
//! the server runs in-process with the tenant's first-party plugins, and
//! every call is decided by the `router` flow plugin.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
mod common;

use common::{LIMIT, blocking, pbx, pbx_with};
use switchyard_sipp::Sipp;
use switchyard_store::{Disposition, RegistrationRepo};

/// The demo tenant with the router's extension rule changed: ring for
/// `ring_secs`, then (busy or no answer) forward to extension 1003.
fn forwarding_tenant(ring_secs: u32) -> Value {
    let mut t: Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    let rules = t["plugins"]["router"]["config"]["routes"]["rules"]
        .as_array_mut()
        .unwrap();
    let ext_rule = rules.iter_mut().find(|r| r["match"] == "_1XXX").unwrap();
    ext_rule["no-answer"] = serde_json::json!({"extension": "1003"});
    t["plugins"]["router"]["config"]["routes"]["ring-timeout-secs"] = ring_secs.into();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_takes_the_right_password_only_and_is_stored() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || p.register("1001", 5999)).await;
    let p = pbx.clone();
    blocking(move || {
        Sipp::new("register_bad_password")
            .remote(p.addr())
            .user("1002")
            .auth("1002", "not-the-password")
            .timeout(LIMIT)
            .run()
            .assert_ok()
    })
    .await;
    let now = switchyard_clock::unix_ms();
    let b = pbx.running.store.bindings("demo", "1001", now).unwrap();
    assert_eq!(b.len(), 1);
    assert!(b[0].contact.contains(":5999"), "{:?}", b[0]);
    assert!(
        pbx.running
            .store
            .bindings("demo", "1002", now)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_ends_with_the_callers_bye_and_is_recorded() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let outcome = blocking(move || {
        let callee = p.phone("1002", "uas_answer", &[]);
        let caller = p.dial("1001", "1002", "uac_call", &[("pause_ms", "300")]);
        (caller, callee.wait())
    })
    .await;
    outcome.0.assert_ok();
    outcome.1.assert_ok();
    let cdrs = pbx.cdrs(1).await;
    let c = &cdrs[0];
    assert_eq!(
        (c.disposition.as_str(), c.hangup_by.as_deref(), c.sip_code),
        ("answered", Some("caller"), 200)
    );
    assert_eq!((c.caller.as_str(), c.dialled.as_str()), ("1001", "1002"));
    assert_eq!(c.agent.as_deref(), Some("1002"));
    assert_eq!(c.flow_plugin.as_deref(), Some("router"));
    assert_eq!(c.plugin_version, Some(1));
    assert_eq!(c.legs.len(), 1);
    assert!(c.answer_ms.is_some() && c.end_ms >= c.answer_ms.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callee_can_hang_up_too() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let (caller, callee) = blocking(move || {
        let callee = p.phone("1002", "uas_answer_then_bye", &[("pause_ms", "300")]);
        let caller = p.dial("1001", "1002", "uac_call_wait_bye", &[]);
        (caller, callee.wait())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(c.hangup_by.as_deref(), Some("callee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_answer_reaches_the_ringing_phone() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || p.ring_and_give_up("1001", "1002")).await;
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(
        (c.disposition.as_str(), c.hangup_by.as_deref(), c.sip_code),
        ("cancelled", Some("caller"), 487)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_goes_back_to_the_plugin_which_forwards_the_call() {
    let pbx = std::sync::Arc::new(pbx_with(Some(forwarding_tenant(20)), None).await);
    let p = pbx.clone();
    let (caller, busy, other) = blocking(move || {
        let busy = p.phone("1002", "uas_busy", &[]);
        let other = p.phone("1003", "uas_answer", &[]);
        let caller = p.dial("1001", "1002", "uac_call", &[("pause_ms", "200")]);
        (caller, busy.wait(), other.wait())
    })
    .await;
    caller.assert_ok();
    busy.assert_ok();
    other.assert_ok();
    let c = &pbx.cdrs(1).await[0];
    let legs: Vec<(&str, u16)> = c
        .legs
        .iter()
        .map(|l| (l.target.as_str(), l.sip_code))
        .collect();
    assert_eq!(legs, vec![("1002", 486), ("1003", 200)]);
    assert_eq!(c.agent.as_deref(), Some("1003"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_forwards_after_the_ring_timeout() {
    let pbx = std::sync::Arc::new(pbx_with(Some(forwarding_tenant(2)), None).await);
    let p = pbx.clone();
    let started = Instant::now();
    let (caller, ringing, other) = blocking(move || {
        let ringing = p.phone("1002", "uas_ring_no_answer", &[]);
        let other = p.phone("1003", "uas_answer", &[]);
        let caller = p.dial("1001", "1002", "uac_call", &[("pause_ms", "200")]);
        (caller, ringing.wait(), other.wait())
    })
    .await;
    caller.assert_ok();
    ringing.assert_ok();
    other.assert_ok();
    assert!(started.elapsed() >= Duration::from_secs(2));
    let c = &pbx.cdrs(1).await[0];
    let legs: Vec<&str> = c.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(legs, vec!["1002", "1003"]);
    let rang = c.legs[0].end_ms - c.legs[0].start_ms;
    assert!((2000..4000).contains(&rang), "1002 rang {rang} ms");
    assert_eq!(c.legs[1].sip_code, 200);
}

#[test]
fn registrations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    // First life: 1002 registers, then the whole server goes away.
    let (contact_port, creds) = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let pbx = rt.block_on(pbx_with(None, Some(&path)));
        let port = switchyard_sipp_free_port();
        pbx.register("1002", port);
        let creds = pbx.password("1001");
        drop(pbx);
        drop(rt);
        (port, creds)
    };
    // Second life on the same data: the call reaches 1002 without a new
    // REGISTER.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = rt.block_on(pbx_with(None, Some(&path)));
    assert_eq!(pbx.password("1001"), creds, "demo passwords are reused");
    let callee = Sipp::new("uas_answer")
        .local_port(contact_port)
        .timeout(LIMIT)
        .spawn();
    let caller = pbx.dial("1001", "1002", "uac_call", &[("pause_ms", "100")]);
    caller.assert_ok();
    callee.wait().assert_ok();
}

fn switchyard_sipp_free_port() -> u16 {
    Sipp::new("uas_answer").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_hundred_calls_through_the_plugin_all_succeed() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let (caller, callee) = blocking(move || {
        let callee = Sipp::new("load_uas")
            .calls(300)
            .timeout(Duration::from_secs(120));
        let port = callee.port();
        let callee = callee.spawn();
        p.register("1002", port);
        let caller = Sipp::new("load_uac")
            .remote(p.addr())
            .user("1002")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "50")
            .calls(300)
            .rate(50.0)
            .limit(40)
            .timeout(Duration::from_secs(120))
            .run();
        (caller, callee.wait())
    })
    .await;
    caller.assert_counts(300, 0);
    callee.assert_ok();
    let cdrs = pbx.cdrs(100).await;
    assert_eq!(cdrs.len(), 100, "a page holds 100 rows");
    assert!(cdrs.iter().all(|c| c.disposition == Disposition::Answered));
    // Every call record also reached the reporter plugin (call-stats),
    // which counts answered calls per UTC day in its kv store.
    let deadline = Instant::now() + Duration::from_secs(10);
    let tenants = pbx.running.pbx.tenants();
    let tenant = &tenants.all()[0];
    let key = format!("day/{}/answered", utc_day(cdrs[0].start_ms));
    loop {
        let n = tenant
            .runtime
            .plugin_kv_get("call-stats", &key)
            .unwrap()
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .unwrap_or(0);
        if n == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "call-stats counted {n} answered calls"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The UTC day of a millisecond timestamp, as call-stats keys it.
fn utc_day(ms: u64) -> String {
    jiff::Timestamp::from_millisecond(ms as i64)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// [`common::trunk_tenant`] with tenant caps (its own limits, so on no
/// plan: a plan's limits would apply).
fn trunk_tenant(carrier: SocketAddr, register: bool, max_concurrent: u32) -> Value {
    let mut t = common::trunk_tenant(carrier, register);
    t["limits"] = serde_json::json!({"max-concurrent-calls": max_concurrent});
    t.as_object_mut().unwrap().remove("plan");
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trunk_registers_with_the_carrier_answering_its_challenge() {
    let carrier = Sipp::new("carrier_registrar").timeout(LIMIT);
    let addr: SocketAddr = ([127, 0, 0, 1], carrier.port()).into();
    let carrier = carrier.spawn();
    let pbx = pbx_with(Some(trunk_tenant(addr, true, 0)), None).await;
    let outcome = blocking(move || carrier.wait()).await;
    outcome.assert_ok();
    // The state the PBX keeps says so too.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tenants = pbx.running.pbx.tenants();
        let t = &tenants.all()[0].trunks[0];
        let state = t.registration.lock().unwrap().clone();
        if state == (switchyard_calls::trunk::Registration::Registered { expires_secs: 3600 }) {
            break;
        }
        assert!(Instant::now() < deadline, "trunk state {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_did_call_from_the_carrier_reaches_the_flow() {
    let carrier_port = Sipp::new("carrier_uac_did").port();
    let addr: SocketAddr = ([127, 0, 0, 1], carrier_port).into();
    let pbx = std::sync::Arc::new(pbx_with(Some(trunk_tenant(addr, false, 0)), None).await);
    let p = pbx.clone();
    let (carrier, phone) = blocking(move || {
        let phone = p.phone("1002", "uas_answer", &[]);
        let carrier = Sipp::new("carrier_uac_did")
            .local_port(carrier_port)
            .remote(p.addr())
            .user("+15550100")
            .set("pause_ms", "200")
            .timeout(LIMIT)
            .run();
        (carrier, phone.wait())
    })
    .await;
    carrier.assert_ok();
    phone.assert_ok();
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(
        (c.direction.as_str(), c.dialled.as_str(), c.caller.as_str()),
        ("inbound", "+15550100", "+15551230000")
    );
    assert_eq!(c.agent.as_deref(), Some("1002"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_goes_through_the_trunk_answering_the_407() {
    let carrier = Sipp::new("carrier_uas_challenge").timeout(LIMIT);
    let addr: SocketAddr = ([127, 0, 0, 1], carrier.port()).into();
    let carrier = carrier.spawn();
    let pbx = std::sync::Arc::new(pbx_with(Some(trunk_tenant(addr, false, 0)), None).await);
    let p = pbx.clone();
    let (caller, carrier) = blocking(move || {
        // The router's `_9.` rule strips the 9 and dials the number.
        let caller = p.dial("1001", "915551234567", "uac_call", &[("pause_ms", "200")]);
        (caller, carrier.wait())
    })
    .await;
    caller.assert_ok();
    carrier.assert_ok();
    carrier.assert_digest("Proxy-Authorization", "INVITE", "trunkuser", "trunkpass");
    // The carrier saw the trunk's caller ID, not the extension.
    assert!(
        carrier.messages.contains("From: <sip:+15550100@127.0.0.1>"),
        "{}",
        carrier.report()
    );
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(c.direction, "outbound");
    assert_eq!(c.legs.len(), 1);
    assert_eq!(c.legs[0].target, "15551234567");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_tenants_cap_a_call_gets_503_with_retry_after() {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let pbx = std::sync::Arc::new(pbx_with(Some(trunk_tenant(unused, false, 1)), None).await);
    let p = pbx.clone();
    let (first, phone, second) = blocking(move || {
        let phone = p.phone("1002", "uas_answer", &[]);
        let p2 = p.clone();
        let first = std::thread::spawn(move || {
            p2.dial("1001", "1002", "uac_call", &[("pause_ms", "3000")])
        });
        // Let the first call be answered before the second arrives.
        std::thread::sleep(Duration::from_millis(1000));
        let second = p.dial("1003", "1002", "uac_expect_status", &[("status", "503")]);
        (first.join().unwrap(), phone.wait(), second)
    })
    .await;
    first.assert_ok();
    phone.assert_ok();
    second.assert_ok();
    assert!(
        second.messages.contains("Retry-After: 5"),
        "{}",
        second.report()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_tcp_end_to_end() {
    use switchyard_sipp::Transport::Tcp;
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let (caller, callee) = blocking(move || {
        let callee = Sipp::new("uas_answer").transport(Tcp).timeout(LIMIT);
        let port = callee.port();
        let callee = callee.spawn();
        Sipp::new("register")
            .remote(p.running.sip_tcp)
            .transport(Tcp)
            .user("1002")
            .auth("1002", &p.password("1002"))
            .set("contact_port", &port.to_string())
            .timeout(LIMIT)
            .run()
            .assert_ok();
        let caller = Sipp::new("uac_call")
            .remote(p.running.sip_tcp)
            .transport(Tcp)
            .user("1002")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "200")
            .timeout(LIMIT)
            .run();
        (caller, callee.wait())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    assert_eq!(pbx.cdrs(1).await[0].disposition, Disposition::Answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_by_re_invite_pass_through() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let (caller, callee) = blocking(move || {
        let callee = p.phone("1002", "uas_answer_hold", &[]);
        let caller = p.dial("1001", "1002", "uac_call_hold", &[("pause_ms", "200")]);
        (caller, callee.wait())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    assert_eq!(pbx.cdrs(1).await[0].hangup_by.as_deref(), Some("caller"));
}
