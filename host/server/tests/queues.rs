//! Queues with real phones: SIPp callers wait in the demo tenant's
//! `support` queue (extension 600, DIDs +15550103 and VIP +15550102),
//! SIPp agents are rung by the queue engine through the tenant's strategy
//! plugin, log in and out with feature codes, and the call records say who
//! answered which queue call.

mod common;

use std::time::Duration;

use common::{LIMIT, Pbx, blocking, http, key, pbx, pbx_with, until};
use switchyard_acd::AgentState;
use switchyard_sipp::Sipp;
use switchyard_store::Disposition;

fn state(pbx: &Pbx, agent: &str) -> AgentState {
    pbx.agent_state(agent)
}

fn feature_code(pbx: &Pbx, ext: &str, code: &str) {
    pbx.feature_code(ext, code)
}

fn queued(pbx: &Pbx) -> usize {
    pbx.queued()
}

/// A caller dials 600 and waits in `support`; the agent whose phone is
/// registered is rung with the queue in the display name and headers,
/// answers, and the call record names the agent and the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_to_600_is_answered_by_a_support_agent_who_sees_the_queue() {
    let pbx = std::sync::Arc::new(pbx().await);
    // 1003 has no phone: it is logged out so that 1002 is the one rung.
    let p = pbx.clone();
    blocking(move || feature_code(&p, "1003", "*46")).await;
    until("1003 logged out", || {
        state(&pbx, "1003") == AgentState::LoggedOut
    })
    .await;
    let p = pbx.clone();
    let (caller, agent) = blocking(move || {
        let agent = p.phone("1002", "uas_agent", &[("ring_ms", "200")]);
        let caller = p.dial("1001", "600", "uac_call", &[("pause_ms", "3000")]);
        (caller, agent.wait())
    })
    .await;
    caller.assert_ok();
    agent.assert_ok();
    assert_eq!(
        agent.logged_headers("X-Switchyard-Queue"),
        ["support"],
        "{}",
        agent.report()
    );
    let from = agent.logged_headers("From");
    assert!(
        from.iter().any(|f| f.starts_with("\"support: ")),
        "the agent's phone shows the queue: {from:?}"
    );
    let c = &pbx.cdrs(2).await[0];
    assert_eq!(c.disposition, Disposition::Answered);
    assert_eq!(c.agent.as_deref(), Some("1002"));
    assert_eq!(c.queue.as_deref(), Some("support"));
    assert!(c.recording.is_some(), "recorded from the agent's answer");
    // The queue as Prometheus sees it: nobody waiting, 1003 logged out
    // (in no state), 1002 in wrap-up or available again.
    let m = pbx.running.pbx.metrics_text();
    assert!(
        m.contains("switchyard_queue_waiting{tenant=\"demo\",queue=\"support\"} 0"),
        "{m}"
    );
    assert!(m.contains("switchyard_queue_service_level{tenant=\"demo\",queue=\"support\"} 1"));
}

/// With nobody logged in, a normal caller and then a VIP caller wait;
/// when an agent logs in by feature code, the VIP caller is offered
/// first, though they joined later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vip_caller_is_served_before_an_earlier_caller() {
    let pbx = std::sync::Arc::new(pbx().await);
    for ext in ["1002", "1003"] {
        let p = pbx.clone();
        blocking(move || feature_code(&p, ext, "*46")).await;
        until("logged out", || state(&pbx, ext) == AgentState::LoggedOut).await;
    }
    let p = pbx.clone();
    let first = blocking(move || {
        Sipp::new("uac_call")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "16000")
            .timeout(LIMIT)
            .spawn()
    })
    .await;
    until("the first caller to wait", || queued(&pbx) == 1).await;
    let p = pbx.clone();
    let vip = blocking(move || {
        Sipp::new("uac_call")
            .remote(p.addr())
            .user("+15550102")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "8000")
            .timeout(LIMIT)
            .spawn()
    })
    .await;
    until("the VIP caller to wait", || queued(&pbx) == 2).await;
    let p = pbx.clone();
    let agent = blocking(move || {
        let agent = p.phone("1002", "uas_agent", &[]);
        feature_code(&p, "1002", "*45");
        agent.wait()
    })
    .await;
    agent.assert_ok();
    assert_eq!(agent.logged_headers("X-Switchyard-Tags"), ["VIP"]);
    let (vip, first) = blocking(move || (vip.wait(), first.wait())).await;
    vip.assert_ok();
    first.assert_ok();
    let cdrs = pbx.cdrs(5).await;
    let vip = cdrs.iter().find(|c| c.dialled == "+15550102").unwrap();
    assert_eq!(vip.agent.as_deref(), Some("1002"));
    assert!(vip.tags.iter().any(|t| t == "VIP"));
    let first = cdrs.iter().find(|c| c.dialled == "600").unwrap();
    assert_eq!(first.disposition, Disposition::NoAnswer);
    assert_eq!(first.agent, None);
}

/// A queue whose longest wait is 2 s with nobody logged in: the caller
/// leaves after it, and the router sends them to the operators' voicemail
/// as its rule says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_timeout_goes_back_to_the_flow_which_takes_a_voicemail() {
    let mut t: serde_json::Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    t["queues"]["support"]["timeout-secs"] = 2.into();
    let pbx = std::sync::Arc::new(pbx_with(Some(t), None).await);
    for ext in ["1002", "1003"] {
        let p = pbx.clone();
        blocking(move || feature_code(&p, ext, "*46")).await;
    }
    let p = pbx.clone();
    // 2 s in the queue, the mailbox's greeting (about 7 s), then a
    // message until the caller hangs up.
    let caller =
        blocking(move || p.dial("1001", "600", "uac_call", &[("pause_ms", "14000")])).await;
    caller.assert_ok();
    let c = pbx.cdr_to(3, "600").await;
    assert_eq!(c.disposition, Disposition::Voicemail);
}

/// Feature codes change an agent's state: pause with the tenant's second
/// reason, unpause, log out, log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_codes_change_the_agents_state() {
    let pbx = std::sync::Arc::new(pbx().await);
    assert!(matches!(state(&pbx, "1002"), AgentState::Available { .. }));
    type Check = fn(&AgentState) -> bool;
    let steps: [(&str, Check); 4] = [
        ("*472", |s| {
            *s == AgentState::Paused {
                reason: "lunch".into(),
            }
        }),
        ("*48", |s| matches!(s, AgentState::Available { .. })),
        ("*46", |s| *s == AgentState::LoggedOut),
        ("*45", |s| matches!(s, AgentState::Available { .. })),
    ];
    for (code, check) in steps {
        let p = pbx.clone();
        blocking(move || feature_code(&p, "1002", code)).await;
        // The agent is busy on the feature code's own call until it ends.
        until(&format!("the state after {code}"), || {
            check(&state(&pbx, "1002"))
        })
        .await;
    }
}

/// A caller presses 1 in `support` with nobody logged in: the host
/// confirms and hangs up, and a placeholder keeps the place — on disk.
/// The host restarts; the placeholder is back; when agent 1002 logs in,
/// the agent's phone rings first (and hears whom to call back), then the
/// customer's, and the callback is a call record of its own.
#[test]
fn a_callback_keeps_the_place_over_a_restart_and_rings_the_agent_then_the_customer() {
    use switchyard_store::CallbackRepo;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let pcap = dir.path().join("press-1.pcap");
    switchyard_sipp::pcap::RtpScript::new()
        .silence(1500)
        .digit('1', 100)
        .silence(8000)
        .write_pcap(&pcap)
        .unwrap();
    // First life: the caller asks for a callback.
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let pbx = rt.block_on(pbx_with(None, Some(&path)));
        for ext in ["1002", "1003"] {
            feature_code(&pbx, ext, "*46");
        }
        Sipp::new("uac_call_pcap_wait_bye")
            .remote(pbx.addr())
            .user("600")
            .auth("1001", &pbx.password("1001"))
            .set("caller", "1001")
            .key("pcap", pcap.to_str().unwrap())
            .timeout(LIMIT)
            .run()
            .assert_ok();
        rt.block_on(until("the placeholder on disk", || {
            pbx.running.store.list_callbacks("demo").unwrap().len() == 1
        }));
        let stored = pbx.running.store.list_callbacks("demo").unwrap().remove(0);
        assert_eq!(
            (stored.queue.as_str(), stored.number.as_str()),
            ("support", "1001")
        );
        drop(pbx);
        drop(rt);
    }
    // Second life: the customer's phone answers and hangs up after a
    // while; the agent logs in and is rung first.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = rt.block_on(pbx_with(None, Some(&path)));
    assert_eq!(
        state(&pbx, "1002"),
        AgentState::LoggedOut,
        "who was logged out stays so"
    );
    let customer = pbx.phone("1001", "uas_answer_then_bye", &[("pause_ms", "1500")]);
    let agent = pbx.phone("1002", "uas_agent", &[]);
    feature_code(&pbx, "1002", "*45");
    customer.wait().assert_ok();
    agent.wait().assert_ok();
    rt.block_on(until("the placeholder gone", || {
        pbx.running.store.list_callbacks("demo").unwrap().is_empty()
    }));
    let cdrs = rt.block_on(pbx.cdrs(4));
    let cb = cdrs
        .iter()
        .find(|c| c.flow_plugin.is_none() && c.caller == "1002" && c.callee == "1001")
        .unwrap_or_else(|| panic!("no callback record in {cdrs:#?}"));
    assert_eq!(cb.disposition, Disposition::Answered);
    let legs: Vec<&str> = cb.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(legs, ["1002", "1001"], "the agent first, then the customer");
}

/// The SSE event names (and data) `token` receives for `secs` seconds;
/// `subscribed` hears when the stream is open (the server subscribes
/// before it answers).
fn listen(
    url: String,
    token: String,
    secs: u64,
    subscribed: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        use std::io::BufRead;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(secs)))
            .build()
            .new_agent();
        let Ok(resp) = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
        else {
            return Vec::new();
        };
        let _ = subscribed.send(());
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        reader
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("event:") || l.starts_with("data:"))
            .collect()
    })
}

/// An agent's key gets the `offered` screen pop of its own offers only;
/// a supervisor logs an agent out through the API and the engine obeys;
/// an agent key cannot change another agent, and another tenant's key
/// does not find this tenant's agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_their_own_offers_and_supervisors_change_agents_through_the_api() {
    let pbx = std::sync::Arc::new(pbx().await);
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let p = pbx.clone();
    let (b, o) = (base.clone(), op.clone());
    let (k1002, k1003, sup) = blocking(move || {
        let keys = (
            key(&b, &o, "demo", "agent", Some("1002")),
            key(&b, &o, "demo", "agent", Some("1003")),
            key(&b, &o, "demo", "supervisor", None),
        );
        // The supervisor logs 1003 out; 1003 may not log 1002 out.
        let (status, text) = http(
            "POST",
            &format!("{b}/api/tenants/demo/agents/1003/state"),
            &keys.2,
            Some(serde_json::json!({"action": "logout"})),
        );
        assert_eq!(status, 200, "{text}");
        let (status, _) = http(
            "POST",
            &format!("{b}/api/tenants/demo/agents/1002/state"),
            &keys.1,
            Some(serde_json::json!({"action": "logout"})),
        );
        assert_eq!(status, 403);
        drop(p);
        keys
    })
    .await;
    assert_eq!(state(&pbx, "1003"), AgentState::LoggedOut);
    assert!(matches!(state(&pbx, "1002"), AgentState::Available { .. }));

    let events = format!("{base}/api/tenants/demo/events");
    let (open, opened) = std::sync::mpsc::channel();
    let mine = listen(events.clone(), k1002, 12, open.clone());
    let theirs = listen(events, k1003, 12, open);
    // Both streams are open before the call.
    blocking(move || {
        for _ in 0..2 {
            opened.recv_timeout(LIMIT).expect("the event stream opens");
        }
    })
    .await;
    let p = pbx.clone();
    let (caller, agent) = blocking(move || {
        let agent = p.phone("1002", "uas_agent", &[]);
        let caller = p.dial("1001", "600", "uac_call", &[("pause_ms", "1500")]);
        (caller, agent.wait())
    })
    .await;
    caller.assert_ok();
    agent.assert_ok();
    let (mine, theirs) = blocking(move || (mine.join().unwrap(), theirs.join().unwrap())).await;
    let offered = mine
        .iter()
        .position(|l| l == "event: offered")
        .unwrap_or_else(|| panic!("no offer in 1002's stream: {mine:#?}"));
    let data: serde_json::Value =
        serde_json::from_str(mine[offered + 1].trim_start_matches("data:").trim()).unwrap();
    let pop: serde_json::Value = serde_json::from_str(data["detail"].as_str().unwrap()).unwrap();
    assert_eq!(pop["agent"], "1002");
    assert_eq!(pop["queue"], "support");
    assert_eq!(pop["caller"], "1001");
    assert!(
        !theirs
            .iter()
            .any(|l| l == "event: offered" || l == "event: answered"),
        "1003 sees nothing of 1002's call: {theirs:#?}"
    );

    // Another tenant's key: this tenant's agents are not found.
    let (b, o) = (base.clone(), op.clone());
    blocking(move || {
        let (status, text) = http(
            "POST",
            &format!("{b}/api/tenants"),
            &o,
            Some(serde_json::json!({"id": "acme", "name": "Acme", "domains": ["acme.test"], "time_zone": "UTC"})),
        );
        assert_eq!(status, 201, "{text}");
        let acme = key(&b, &o, "acme", "admin", None);
        let (status, _) = http("GET", &format!("{b}/api/tenants/demo/agents"), &acme, None);
        assert_eq!(status, 404);
        let (status, text) = http("GET", &format!("{b}/api/tenants/demo/agents"), &sup, None);
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"1002\""), "{text}");
    })
    .await;
}

/// Agent 1002 blind-transfers a queue caller to `600`, the demo
/// queue's extension, from the phone (REFER): 1002 hears the transfer
/// worked and is hung up, the caller waits in `support` again, and agent
/// 1003 takes the call; one record with both agents' legs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_a_caller_back_into_the_queue_from_the_phone() {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    blocking(move || feature_code(&p, "1003", "*46")).await;
    until("1003 logged out", || {
        state(&pbx, "1003") == AgentState::LoggedOut
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("talk.pcap");
    switchyard_sipp::pcap::RtpScript::new()
        .tone(800.0, 1000)
        .write_pcap(&pcap)
        .unwrap();
    let p = pbx.clone();
    let (first, caller) = blocking(move || {
        let first = p.phone_with(
            "1002",
            Sipp::new("uas_answer_refer")
                .set("target", "600")
                .set("talk_ms", "1500")
                .key("pcap", pcap.to_str().unwrap()),
        );
        let caller = Sipp::new("uac_call")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "12000")
            .timeout(LIMIT)
            .spawn();
        (first, caller)
    })
    .await;
    let first = blocking(move || first.wait()).await;
    first.assert_ok();
    until("the caller waiting again", || queued(&pbx) == 1).await;
    let p = pbx.clone();
    let second = blocking(move || {
        let second = p.phone("1003", "uas_agent", &[]);
        feature_code(&p, "1003", "*45");
        second
    })
    .await;
    let (second, caller) = blocking(move || (second.wait(), caller.wait())).await;
    second.assert_ok();
    caller.assert_ok();
    let c = pbx.cdr_to(3, "600").await;
    assert_eq!(c.agent.as_deref(), Some("1003"));
    assert_eq!(c.queue.as_deref(), Some("support"));
    let legs: Vec<&str> = c.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(legs, ["1002", "1003"]);
}

/// A supervisor sends an answered queue call back into `support` through
/// the API: agent 1002's leg ends, the caller waits again and agent 1003
/// takes the call; one record, one recording, both agents' legs in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_transfers_a_queue_call_back_into_the_queue_and_another_agent_takes_it() {
    let pbx = std::sync::Arc::new(pbx().await);
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let p = pbx.clone();
    blocking(move || feature_code(&p, "1003", "*46")).await;
    until("1003 logged out", || {
        state(&pbx, "1003") == AgentState::LoggedOut
    })
    .await;
    let p = pbx.clone();
    let (first, caller) = blocking(move || {
        let first = p.phone("1002", "uas_agent", &[]);
        let caller = Sipp::new("uac_call")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "12000")
            .timeout(LIMIT)
            .spawn();
        (first, caller)
    })
    .await;
    let call_id = {
        let mut id = None;
        until("1002 to answer", || {
            id = pbx
                .running
                .pbx
                .live_calls("demo")
                .into_iter()
                .find(|c| c.agent.as_deref() == Some("1002") && c.state.as_str() == "answered")
                .map(|c| c.call_id);
            id.is_some()
        })
        .await;
        id.unwrap()
    };
    let p = pbx.clone();
    let second = blocking(move || {
        let second = p.phone("1003", "uas_agent", &[]);
        let sup = key(&base, &op, "demo", "supervisor", None);
        let (status, text) = http(
            "POST",
            &format!("{base}/api/tenants/demo/agents/1003/state"),
            &sup,
            Some(serde_json::json!({"action": "login"})),
        );
        assert_eq!(status, 200, "{text}");
        let (status, text) = http(
            "POST",
            &format!("{base}/api/tenants/demo/calls/{call_id}/transfer"),
            &sup,
            Some(serde_json::json!({"to": "queue:support"})),
        );
        assert_eq!(status, 202, "{text}");
        let (status, _) = http(
            "POST",
            &format!("{base}/api/tenants/demo/calls/{call_id}/transfer"),
            &sup,
            Some(serde_json::json!({"to": "queue:nope"})),
        );
        assert_eq!(status, 400);
        second
    })
    .await;
    let (first, second, caller) =
        blocking(move || (first.wait(), second.wait(), caller.wait())).await;
    first.assert_ok();
    second.assert_ok();
    caller.assert_ok();
    let c = pbx.cdr_to(2, "600").await;
    assert_eq!(c.agent.as_deref(), Some("1003"));
    assert_eq!(c.queue.as_deref(), Some("support"));
    let legs: Vec<&str> = c.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(legs, ["1002", "1003"]);
    assert!(c.recording.is_some());
}

/// With the tenant's CRM reachable: the agent's phone shows the CRM's
/// name for the caller and gets its link, and the finished queue call is
/// logged in the CRM with its agent and queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_names_the_caller_on_the_agents_phone_and_logs_the_call() {
    let (pbx, logged) = common::crm::pbx_with_crm().await;
    let pbx = std::sync::Arc::new(pbx);
    let tenants = pbx.running.pbx.tenants();
    let found = tenants.all()[0].runtime.try_crm_lookup("1001").await;
    assert!(
        matches!(&found, Ok(Some(c)) if c.name == "Ada Lovelace"),
        "{found:?}"
    );
    let p = pbx.clone();
    blocking(move || feature_code(&p, "1003", "*46")).await;
    until("1003 logged out", || {
        state(&pbx, "1003") == AgentState::LoggedOut
    })
    .await;
    let p = pbx.clone();
    let (caller, agent) = blocking(move || {
        let agent = p.phone("1002", "uas_agent", &[]);
        let caller = p.dial("1001", "600", "uac_call", &[("pause_ms", "3000")]);
        (caller, agent.wait())
    })
    .await;
    caller.assert_ok();
    agent.assert_ok();
    let from = agent.logged_headers("From");
    assert!(
        from.iter().any(|f| f.contains("support: Ada Lovelace")),
        "the CRM's name on the agent's phone: {from:?}"
    );
    // The whole contact for a panel's screen pop, and the call's id.
    let contact = agent.logged_headers("X-Switchyard-Contact");
    let card: serde_json::Value = serde_json::from_str(contact[0]).expect("the contact is JSON");
    assert_eq!(card["name"], "Ada Lovelace");
    assert_eq!(card["url"], "https://crm.example/c1");
    let call_id = agent.logged_headers("X-Switchyard-Call-Id")[0].to_string();
    let cdr = pbx.cdr_to(1, "600").await;
    assert_eq!(cdr.call_id, call_id);
    // The agent wraps up during its wrap-up time: the CRM log waited for
    // it and carries the code and the notes.
    let p = pbx.clone();
    let (status, body) = blocking(move || {
        let base = format!("http://{}", p.running.http);
        let agent_key = key(
            &base,
            &p.running.operator_token,
            "demo",
            "agent",
            Some("1002"),
        );
        http(
            "PUT",
            &format!("{base}/api/tenants/demo/cdrs/{call_id}/wrap-up"),
            &agent_key,
            Some(serde_json::json!({"code": "sale", "notes": "two seats"})),
        )
    })
    .await;
    assert_eq!(status, 200, "{body}");
    until("the call logged in the CRM with its wrap-up", || {
        logged.lock().unwrap().iter().any(|c| {
            let c = c.to_string();
            c.contains("1002")
                && c.contains("support")
                && c.contains("wrap-up:sale")
                && c.contains("wrap-up-notes:two seats")
        })
    })
    .await;
}
