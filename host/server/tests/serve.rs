//! The real server end to end through its HTTP API: an operator creates a
//! tenant, its admin adds extensions and a plugin, phones register and call
//! in the new tenant, and the call shows up in the API's call records and
//! in `/metrics`. Then durability: the `switchyard` binary is killed with
//! SIGKILL and what the API wrote is there after a restart.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_server::{Config, start};
use switchyard_sipp::Sipp;

const LIMIT: Duration = Duration::from_secs(30);

/// A tiny blocking HTTP client for the tests (the same crate the CLI uses).
fn http(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &auth).call(),
        ("PUT", Some(b)) => agent.put(url).header("Authorization", &auth).send_json(&b),
        (_, Some(b)) => agent.post(url).header("Authorization", &auth).send_json(&b),
        (_, None) => agent.post(url).header("Authorization", &auth).send_empty(),
    };
    let mut resp = resp.expect("HTTP request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn ok(r: (u16, String)) -> Value {
    assert!((200..300).contains(&r.0), "HTTP {}: {}", r.0, r.1);
    serde_json::from_str(&r.1).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_made_through_the_api_takes_calls_decided_by_its_uploaded_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        data_dir: dir.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.http);
    let op = running.operator_token.clone();
    let sip = running.sip_udp;
    let cdrs = tokio::task::spawn_blocking(move || {
        let api = |p: &str| format!("{base}{p}");
        ok(http(
            "POST",
            &api("/api/tenants"),
            &op,
            Some(json!({"id": "acme", "name": "Acme", "domains": ["acme.test"], "time_zone": "Europe/Paris"})),
        ));
        let key = ok(http(
            "POST",
            &api("/api/tenants/acme/api-keys"),
            &op,
            Some(json!({"role": "admin", "name": "ops"})),
        ));
        let admin = key["token"].as_str().unwrap().to_string();
        for (n, pw) in [("2001", "secret-2001"), ("2002", "secret-2002")] {
            ok(http(
                "POST",
                &api("/api/tenants/acme/extensions"),
                &admin,
                Some(json!({"number": n, "password": pw})),
            ));
        }
        // The router plugin, uploaded as a tenant would, then configured.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut up = agent
            .post(&api("/api/tenants/acme/plugins/router"))
            .header("Authorization", &format!("Bearer {admin}"))
            .header("Content-Type", "application/wasm")
            .send(switchyard_artifacts::get("router").unwrap())
            .unwrap();
        assert!(up.status().is_success(), "{}", up.body_mut().read_to_string().unwrap());
        let routes = json!({"ring-timeout-secs": 10, "rules": [{"match": "_2XXX", "go": {"extension": "${dialled}"}}], "default": {"reject": "unavailable"}});
        ok(http(
            "PUT",
            &api("/api/tenants/acme/plugins/router/config"),
            &admin,
            Some(json!({"routes": routes.to_string()})),
        ));
        ok(http(
            "PUT",
            &api("/api/tenants/acme/plugin-roles"),
            &admin,
            Some(json!({"flows": {"extensions": "router"}})),
        ));

        // Phones of the new tenant: 2002 answers, 2001 calls it.
        let callee = Sipp::new("uas_answer").timeout(LIMIT);
        let port = callee.port();
        let callee = callee.spawn();
        Sipp::new("register")
            .remote(sip)
            .user("2002")
            .auth("2002", "secret-2002")
            .set("domain", "acme.test")
            .set("contact_port", &port.to_string())
            .timeout(LIMIT)
            .run()
            .assert_ok();
        Sipp::new("uac_call")
            .remote(sip)
            .user("2002")
            .auth("2001", "secret-2001")
            .set("domain", "acme.test")
            .set("caller", "2001")
            .set("pause_ms", "200")
            .timeout(LIMIT)
            .run()
            .assert_ok();
        callee.wait().assert_ok();

        // The call record, through the API, as the tenant's admin sees it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = ok(http("GET", &api("/api/tenants/acme/cdrs"), &admin, None));
            if page["rows"].as_array().is_some_and(|r| !r.is_empty()) || Instant::now() > deadline {
                break page;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let row = &cdrs["rows"][0];
    assert_eq!(row["disposition"], "answered", "{cdrs}");
    assert_eq!(row["caller"], "2001");
    assert_eq!(row["flow_plugin"], "router");
    assert_eq!(row["plugin_version"], 2, "version 2 is the configured one");

    let metrics = reqwest_like_get(
        &format!("http://{}/metrics", running.http),
        &running.operator_token,
    );
    assert!(
        metrics.contains("switchyard_call_setups_total{tenant=\"acme\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_registrations_total{tenant=\"acme\"} 1"));
    assert!(metrics.contains("switchyard_plugin_invocations_total{tenant=\"acme\"}"));
    // The call's flow decision ran on a spare instance or made its own.
    let spare_decisions: u64 = ["found", "missed"]
        .iter()
        .map(|s| {
            let key = format!("switchyard_plugin_spare_decisions_total{{spare=\"{s}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(key.as_str()))
                .unwrap_or_else(|| panic!("no {key} in {metrics}"))
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(spare_decisions >= 1, "{metrics}");
    assert!(metrics.contains("switchyard_plugin_spare_instances "));
    assert!(metrics.contains("switchyard_plugin_warm_instances "));
}

fn reqwest_like_get(url: &str, token: &str) -> String {
    let mut r = ureq::get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("GET");
    r.body_mut().read_to_string().unwrap()
}

/// The `switchyard` binary on free ports; killed on drop.
struct Server {
    child: Child,
    http: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(data: &std::path::Path) -> Server {
    let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let sip: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args([
            "--sip-listen",
            &sip.to_string(),
            "--http-listen",
            &http.to_string(),
        ])
        // TLS and HTTPS on ports of their own (their defaults are fixed,
        // and these servers run side by side).
        .args([
            "--sip-tls-listen",
            &format!("127.0.0.1:{}", free_port()),
            "--https-listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("switchyard starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(http).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server never listened on {http}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        data.join("tls/cert.pem").exists() && data.join("tls/key.pem").exists(),
        "serve made its development certificate at first start"
    );
    Server { child, http }
}

#[test]
fn what_the_api_wrote_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(dir.path());
    let op = std::fs::read_to_string(dir.path().join("operator-token"))
        .unwrap()
        .trim()
        .to_string();
    let base = format!("http://{}", server.http);
    ok(http(
        "POST",
        &format!("{base}/api/tenants"),
        &op,
        Some(
            json!({"id": "durable", "name": "Durable", "domains": ["durable.test"], "time_zone": "UTC"}),
        ),
    ));
    ok(http(
        "POST",
        &format!("{base}/api/tenants/durable/extensions"),
        &op,
        Some(json!({"number": "3001", "password": "long-enough"})),
    ));
    // SIGKILL: no shutdown code runs.
    drop(server);

    let server = spawn_server(dir.path());
    let base = format!("http://{}", server.http);
    let t = ok(http(
        "GET",
        &format!("{base}/api/tenants/durable"),
        &op,
        None,
    ));
    assert_eq!(t["domains"], json!(["durable.test"]));
    let exts = ok(http(
        "GET",
        &format!("{base}/api/tenants/durable/extensions"),
        &op,
        None,
    ));
    assert_eq!(exts[0]["number"], "3001", "{exts}");
    // The demo tenant was not provisioned twice and kept its passwords.
    let demo = ok(http("GET", &format!("{base}/api/tenants/demo"), &op, None));
    assert_eq!(demo["id"], "demo");
}

/// Register demo extension `ext` with a UAS SIPp playing `scenario`.
fn demo_phone(
    running: &switchyard_server::Running,
    ext: &str,
    scenario: &str,
) -> switchyard_sipp::Running {
    let password = running
        .demo_credentials
        .iter()
        .find(|(n, _)| n == ext)
        .unwrap()
        .1
        .clone();
    let phone = Sipp::new(scenario).timeout(LIMIT);
    let port = phone.port();
    let phone = phone.spawn();
    Sipp::new("register")
        .remote(running.sip_udp)
        .user(ext)
        .auth(ext, &password)
        .set("contact_port", &port.to_string())
        .timeout(LIMIT)
        .run()
        .assert_ok();
    phone
}

async fn demo_server() -> (switchyard_server::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        data_dir: dir.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    (running, dir)
}

/// Wait until the tenant's live calls satisfy `pred`; returns them.
fn wait_calls(base: &str, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = ok(http(
            "GET",
            &format!("{base}/api/tenants/demo/calls"),
            token,
            None,
        ));
        if pred(&calls) {
            return calls;
        }
        assert!(
            Instant::now() < deadline,
            "live calls never matched: {calls}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_call_is_listed_and_hung_up_through_the_api() {
    let (running, _dir) = demo_server().await;
    let base = format!("http://{}", running.http);
    let op = running.operator_token.clone();
    let password = running.demo_credentials[0].1.clone();
    let sip = running.sip_udp;
    let running = std::sync::Arc::new(running);
    let r = running.clone();
    tokio::task::spawn_blocking(move || {
        let callee = demo_phone(&r, "1002", "uas_answer");
        let caller = std::thread::spawn(move || {
            Sipp::new("uac_call_wait_bye")
                .remote(sip)
                .user("1002")
                .auth("1001", &password)
                .set("caller", "1001")
                .timeout(LIMIT)
                .run()
        });
        let calls = wait_calls(&base, &op, |c| {
            c.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["state"] == "answered")
        });
        assert_eq!(calls[0]["caller"], "1001");
        assert_eq!(calls[0]["agent"], "1002");
        let id = calls[0]["call_id"].as_str().unwrap().to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let resp = agent
            .delete(&format!("{base}/api/tenants/demo/calls/{id}"))
            .header("Authorization", &format!("Bearer {op}"))
            .call()
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        // Both phones get a BYE and the call is gone.
        caller.join().unwrap().assert_ok();
        callee.wait().assert_ok();
        wait_calls(&base, &op, |c| c.as_array().is_some_and(|a| a.is_empty()));
    })
    .await
    .unwrap();
    let cdrs = switchyard_store::CdrRepo::query_cdrs(
        &running.store,
        "demo",
        &switchyard_store::CdrFilter::default(),
    )
    .unwrap();
    assert_eq!(cdrs.rows[0].hangup_by.as_deref(), Some("system"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_rings_the_agent_then_the_customer() {
    let (running, _dir) = demo_server().await;
    let base = format!("http://{}", running.http);
    let op = running.operator_token.clone();
    let running = std::sync::Arc::new(running);
    let r = running.clone();
    let id = tokio::task::spawn_blocking(move || {
        let agent_phone = demo_phone(&r, "1001", "uas_answer");
        let customer_phone = demo_phone(&r, "1003", "uas_answer");
        let started = ok(http(
            "POST",
            &format!("{base}/api/tenants/demo/calls"),
            &op,
            Some(json!({"from_extension": "1001", "to": "1003"})),
        ));
        let id = started["call_id"].as_str().unwrap().to_string();
        wait_calls(&base, &op, |c| {
            c.as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| c["call_id"] == id.as_str() && c["state"] == "answered")
            })
        });
        // Both talk; the supervisor ends it.
        std::thread::sleep(Duration::from_millis(500));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let resp = agent
            .delete(&format!("{base}/api/tenants/demo/calls/{id}"))
            .header("Authorization", &format!("Bearer {op}"))
            .call()
            .unwrap();
        assert!(resp.status().is_success());
        let agent_side = agent_phone.wait();
        agent_side.assert_ok();
        customer_phone.wait().assert_ok();
        // The agent's phone answered our offer (the host anchors the
        // call) and got our ACK.
        assert!(
            agent_side.messages.contains("ACK sip:"),
            "{}",
            agent_side.report()
        );
        id
    })
    .await
    .unwrap();
    // One session like any call: it has a record.
    let cdrs = switchyard_store::CdrRepo::query_cdrs(
        &running.store,
        "demo",
        &switchyard_store::CdrFilter::default(),
    )
    .unwrap();
    let cdr = cdrs
        .rows
        .iter()
        .find(|c| c.call_id == id)
        .expect("click-to-call has a record");
    assert_eq!(cdr.caller, "1001");
    assert_eq!(cdr.callee, "1003");
    assert_eq!(cdr.disposition, switchyard_store::Disposition::Answered);
    assert_eq!(cdr.hangup_by.as_deref(), Some("system"));
    let legs: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(legs, ["1001", "1003"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_cannot_register_or_call_until_resumed() {
    let (running, _dir) = demo_server().await;
    let base = format!("http://{}", running.http);
    let op = running.operator_token.clone();
    let sip = running.sip_udp;
    tokio::task::spawn_blocking(move || {
        let register = |branch: &str| -> String {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let me = sock.local_addr().unwrap();
            let msg = format!(
                "REGISTER sip:demo.localhost SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@demo.localhost>;tag=s\r\nTo: <sip:1001@demo.localhost>\r\n\
Call-ID: susp-{branch}\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{me}>\r\nContent-Length: 0\r\n\r\n"
            );
            sock.send_to(msg.as_bytes(), sip).unwrap();
            let mut buf = [0u8; 4096];
            let (n, _) = sock.recv_from(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).lines().next().unwrap().to_string()
        };
        assert_eq!(register("a"), "SIP/2.0 401 Unauthorized");
        ok(http("POST", &format!("{base}/api/tenants/demo/suspend"), &op, None));
        assert_eq!(register("b"), "SIP/2.0 403 Tenant Suspended");
        ok(http("POST", &format!("{base}/api/tenants/demo/resume"), &op, None));
        assert_eq!(register("c"), "SIP/2.0 401 Unauthorized");
    })
    .await
    .unwrap();
}

/// The `switchyard` binary as the operator's client for plans and
/// accounts: a plan from a JSON file, the demo put on it, made prepaid,
/// topped up (twice with one reference: added once), its account and its
/// ledger as CSV; a bad amount is refused with the API's message.
#[test]
fn the_cli_manages_plans_and_prepaid_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(dir.path());
    let op = std::fs::read_to_string(dir.path().join("operator-token"))
        .unwrap()
        .trim()
        .to_string();
    let url = format!("http://{}", server.http);
    let cli = |args: &[&str]| -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(args)
            .env("SWITCHYARD_URL", &url)
            .env("SWITCHYARD_TOKEN", &op)
            .output()
            .expect("the client runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let plan = dir.path().join("standard.json");
    std::fs::write(
        &plan,
        json!({
            "description": "queues and recording, calls out at 0.02",
            "features": {"queues": true, "recording": true},
            "limits": {"max_extensions": 25},
            "rates": {"currency": "EUR", "minutes": [
                {"direction": "outbound", "per_minute": "0.02"}
            ]}
        })
        .to_string(),
    )
    .unwrap();
    let (ok, out, err) = cli(&["plan", "put", "standard", plan.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&["plan", "assign", "demo", "standard"]);
    assert!(ok, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["plan"], "standard");
    assert_eq!(v["limits"]["max_extensions"], 25);
    let (ok, out, err) = cli(&[
        "account",
        "set",
        "demo",
        "--threshold",
        "2",
        "--email",
        "billing@demo.example",
    ]);
    assert!(ok, "{out}{err}");
    for _ in 0..2 {
        let (ok, out, err) = cli(&["account", "top-up", "demo", "10", "--reference", "inv-1"]);
        assert!(ok, "{out}{err}");
    }
    let (ok, out, _) = cli(&["account", "show", "demo"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&v["prepaid"], &v["balance"], &v["currency"]),
        (&json!(true), &json!("10"), &json!("EUR"))
    );
    let (ok, out, _) = cli(&["account", "usage", "demo", "--csv"]);
    assert!(ok);
    let lines: Vec<&str> = out.trim().lines().collect();
    assert_eq!(lines.len(), 2, "the header and one top-up: {out}");
    assert!(lines[1].contains(",top-up,"), "{out}");
    let (ok, out, _) = cli(&["plan", "list"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    let standard = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "standard")
        .unwrap();
    assert_eq!(standard["tenants"], json!(["demo"]));
    let (ok, _, err) = cli(&["account", "top-up", "demo", "0", "--reference", "x"]);
    assert!(!ok);
    assert!(
        err.contains("amount") && err.contains("above zero"),
        "{err}"
    );
    let (ok, out, err) = cli(&["plan", "assign", "demo", "none"]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["plan"],
        Value::Null
    );
}
