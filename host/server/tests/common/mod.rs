//! What the server tests share: the whole server started in-process on
//! loopback with the demo tenant (or another description), its phones
//! played by SIPp, and its call records.
#![allow(dead_code)]

pub mod crm;
pub mod phone;
pub mod smtp;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_acd::AgentState;
use switchyard_server::{Config, Running, start};
use switchyard_sipp::{Outcome, Running as Peer, Sipp};
use switchyard_store::{Cdr, CdrFilter, CdrRepo};

pub const LIMIT: Duration = Duration::from_secs(30);

pub struct Pbx {
    pub running: Running,
    pub _dir: tempfile::TempDir,
}

impl Pbx {
    pub fn addr(&self) -> SocketAddr {
        self.running.sip_udp
    }
    pub fn password(&self, ext: &str) -> String {
        self.running
            .demo_credentials
            .iter()
            .find(|(n, _)| n == ext)
            .map(|(_, p)| p.clone())
            .expect("extension has a password")
    }

    /// Register `ext` with its Contact on `contact_port` (where a UAS
    /// SIPp will play the phone).
    pub fn register(&self, ext: &str, contact_port: u16) {
        Sipp::new("register")
            .remote(self.addr())
            .user(ext)
            .auth(ext, &self.password(ext))
            .set("contact_port", &contact_port.to_string())
            .timeout(LIMIT)
            .run()
            .assert_ok();
    }

    /// The phone of `ext`: registered, playing `scenario`.
    pub fn phone(&self, ext: &str, scenario: &str, vars: &[(&str, &str)]) -> Peer {
        let mut s = Sipp::new(scenario).timeout(LIMIT);
        for (k, v) in vars {
            s = s.set(k, v);
        }
        let port = s.port();
        let running = s.spawn();
        self.register(ext, port);
        running
    }

    /// The phone of `ext`, played by `sipp` (a UAS), registered.
    pub fn phone_with(&self, ext: &str, sipp: Sipp) -> Peer {
        let sipp = sipp.timeout(LIMIT);
        let port = sipp.port();
        let running = sipp.spawn();
        self.register(ext, port);
        running
    }

    /// `from` dials `to` with `scenario`.
    pub fn dial(&self, from: &str, to: &str, scenario: &str, vars: &[(&str, &str)]) -> Outcome {
        let mut s = Sipp::new(scenario)
            .remote(self.addr())
            .user(to)
            .auth(from, &self.password(from))
            .set("caller", from)
            .timeout(LIMIT);
        for (k, v) in vars {
            s = s.set(k, v);
        }
        s.run()
    }

    /// `from` calls `to`, whose phone rings, and hangs up (CANCEL) after
    /// 300 ms of ringing; both SIPp sides must have played their part.
    pub fn ring_and_give_up(&self, from: &str, to: &str) {
        let callee = self.phone(to, "uas_ring_no_answer", &[]);
        let caller = self.dial(from, to, "uac_cancel", &[("ring_ms", "300")]);
        caller.assert_ok();
        callee.wait().assert_ok();
    }

    /// Agent `agent`'s state in the demo tenant's queue engine.
    pub fn agent_state(&self, agent: &str) -> switchyard_acd::AgentState {
        self.running
            .pbx
            .agents("demo")
            .into_iter()
            .find(|(a, _)| a == agent)
            .map(|(_, v)| v.state)
            .unwrap_or_else(|| panic!("{agent} is not an agent"))
    }

    /// Calls of the demo tenant waiting in a queue now.
    pub fn queued(&self) -> usize {
        self.running
            .pbx
            .live_calls("demo")
            .iter()
            .filter(|c| c.state.as_str() == "queued")
            .count()
    }

    /// `ext` dials a feature code; the host answers, confirms and hangs
    /// up.
    pub fn feature_code(&self, ext: &str, code: &str) {
        Sipp::new("uac_call_wait_bye")
            .remote(self.addr())
            .user(code)
            .auth(ext, &self.password(ext))
            .set("caller", ext)
            .timeout(LIMIT)
            .run()
            .assert_ok();
    }

    /// The record of the call to `dialled`, once there are `n` records.
    pub async fn cdr_to(&self, n: usize, dialled: &str) -> Cdr {
        self.cdrs(n)
            .await
            .into_iter()
            .find(|c| c.dialled == dialled)
            .unwrap_or_else(|| panic!("no record of a call to {dialled}"))
    }

    /// A new supervisor key of the demo tenant.
    pub fn supervisor_key(&self) -> String {
        let base = format!("http://{}", self.running.http);
        key(
            &base,
            &self.running.operator_token,
            "demo",
            "supervisor",
            None,
        )
    }

    /// Where the stored call recording `id` of the demo tenant is.
    pub fn recording_path(&self, id: &str) -> std::path::PathBuf {
        use switchyard_store::FileRepo;
        self.running
            .store
            .get_file("demo", "recording", id)
            .unwrap()
            .expect("the recording is stored")
            .1
    }

    /// The tenant's call records, newest first; waits for `n` of them
    /// (the record is written just after the last SIP message).
    pub async fn cdrs(&self, n: usize) -> Vec<Cdr> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = self
                .running
                .store
                .query_cdrs("demo", &CdrFilter::default())
                .expect("query cdrs");
            if page.rows.len() >= n || Instant::now() > deadline {
                return page.rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn pbx_with(tenant: Option<Value>, dir: Option<&Path>) -> Pbx {
    pbx_configured(tenant, dir, |_| {}).await
}

/// The server with `tenant` (the demo's when `None`), on `dir` (a fresh
/// one when `None`), its configuration changed by `edit` first.
pub async fn pbx_configured(
    tenant: Option<Value>,
    dir: Option<&Path>,
    edit: impl FnOnce(&mut Config),
) -> Pbx {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let mut config = Config {
        data_dir,
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        tenant_json: tenant.map(|t| t.to_string()),
        ..Config::default()
    };
    edit(&mut config);
    let running = start(config).await.expect("server starts");
    Pbx { running, _dir: tmp }
}

pub async fn pbx() -> Pbx {
    pbx_with(None, None).await
}

/// The demo tenant's voicemails through the API, and the newest one's WAV
/// (blocking: call it inside [`blocking`]).
pub fn voicemails(http: SocketAddr, token: &str) -> (Value, Vec<u8>) {
    let base = format!("http://{http}/api/tenants/demo");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let list: Value = agent
        .get(format!("{base}/voicemails"))
        .header("Authorization", &auth)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let id = list[0]["id"]
        .as_str()
        .expect("a voicemail is listed")
        .to_string();
    let wav = agent
        .get(format!("{base}/voicemails/{id}"))
        .header("Authorization", &auth)
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    (list, wav)
}

/// Wait until `f` holds (the engine works beside the test's SIPp runs).
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`until`] for a test's blocking thread (a phone's or a browser's
/// driver): `f` is polled every 20 ms for up to `limit`.
pub fn until_blocking(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `run` SIPp calls must not block the runtime the server lives on.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("sipp task")
}

/// The demo tenant with `support` (members 1002 and 1003, no wrap-up)
/// ordered by the plugin `strategy` (none: the engine's longest idle)
/// with `settings`, and `queue` merged into the queue's own settings.
pub fn support_tenant(strategy: Option<&str>, settings: Value, queue: Value) -> Value {
    let mut t: Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    let support = &mut t["queues"]["support"];
    support["members"] = json!(["1002", "1003"]);
    support["wrap-up-secs"] = 0.into();
    match strategy {
        Some(name) => {
            support["strategy"] = name.into();
            t["plugins"][name] = json!({"world": "queue-strategy", "config": settings});
        }
        None => {
            support.as_object_mut().unwrap().remove("strategy");
        }
    }
    for (k, v) in queue.as_object().into_iter().flatten() {
        t["queues"]["support"][k] = v.clone();
    }
    t
}

/// A small blocking HTTP client for the API.
pub fn http(
    method: &str,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        ("PUT", Some(b)) => agent.put(url).header("Authorization", &auth).send_json(&b),
        ("PATCH", Some(b)) => agent
            .patch(url)
            .header("Authorization", &auth)
            .send_json(&b),
        ("POST", Some(b)) => agent.post(url).header("Authorization", &auth).send_json(&b),
        ("POST", None) => agent.post(url).header("Authorization", &auth).send_empty(),
        (m, b) => panic!("no {m} with body {b:?} here"),
    };
    let mut resp = resp.expect("HTTP request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// Uploads `component` as the next version of plugin `name` of `tenant`,
/// as a tenant would (`application/wasm`); the status and the body.
pub fn upload_plugin(
    base: &str,
    token: &str,
    tenant: &str,
    name: &str,
    component: &[u8],
) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .post(&format!("{base}/api/tenants/{tenant}/plugins/{name}"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/wasm")
        .send(component)
        .expect("HTTP request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// A new API key of `tenant` with `role` (and the agent's extension).
pub fn key(base: &str, op: &str, tenant: &str, role: &str, extension: Option<&str>) -> String {
    let mut body = serde_json::json!({"role": role, "name": format!("{role}-key")});
    if let Some(e) = extension {
        body["extension"] = e.into();
    }
    let (status, text) = http(
        "POST",
        &format!("{base}/api/tenants/{tenant}/api-keys"),
        op,
        Some(body),
    );
    assert_eq!(status, 201, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// `ext` dials a feature code; the host answers, confirms and hangs up.
pub async fn feature_code_async(pbx: &Arc<Pbx>, ext: &'static str, code: &'static str) {
    let p = pbx.clone();
    blocking(move || p.feature_code(ext, code)).await;
}

/// Pause `ext` (`*47`) and wait until the engine has it paused.
pub async fn pause(pbx: &Arc<Pbx>, ext: &'static str) {
    feature_code_async(pbx, ext, "*47").await;
    until(&format!("{ext} paused"), || {
        matches!(pbx.agent_state(ext), AgentState::Paused { .. })
    })
    .await;
}

/// Unpause `ext` (`*48`) and wait until it is available again (the
/// feature code's own call over).
pub async fn unpause(pbx: &Arc<Pbx>, ext: &'static str) {
    feature_code_async(pbx, ext, "*48").await;
    until(&format!("{ext} available"), || {
        matches!(pbx.agent_state(ext), AgentState::Available { .. })
    })
    .await;
}

/// A fresh phone for `ext` playing `scenario`, its earlier bindings gone
/// first (else a finished SIPp's port would be rung too).
pub fn fresh_phone(pbx: &Pbx, ext: &str, scenario: &str) -> Peer {
    fresh_phone_with(pbx, ext, scenario, &[])
}

/// [`fresh_phone`] with the scenario's variables.
pub fn fresh_phone_with(pbx: &Pbx, ext: &str, scenario: &str, vars: &[(&str, &str)]) -> Peer {
    Sipp::new("unregister")
        .remote(pbx.addr())
        .user(ext)
        .auth(ext, &pbx.password(ext))
        .timeout(LIMIT)
        .run()
        .assert_ok();
    pbx.phone(ext, scenario, vars)
}

/// A recording's channel count and samples: (channels, left or the only
/// one, right or empty).
pub fn channels(path: &Path) -> (u16, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).expect("a WAV file");
    let spec = r.spec();
    assert_eq!((spec.sample_rate, spec.bits_per_sample), (8000, 16));
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    match spec.channels {
        2 => (
            2,
            samples.iter().step_by(2).copied().collect(),
            samples.iter().skip(1).step_by(2).copied().collect(),
        ),
        n => (n, samples, Vec::new()),
    }
}

/// The demo tenant with a trunk to a carrier at `carrier` (SIPp) that
/// answers its challenge with `trunkuser`/`trunkpass`, the DID +15550100
/// routed straight to extension 1002.
pub fn trunk_tenant(carrier: SocketAddr, register: bool) -> Value {
    let mut t: Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    t["numbers"]["+15550100"] = "extensions".into();
    let rules = t["plugins"]["router"]["config"]["routes"]["rules"]
        .as_array_mut()
        .unwrap();
    rules.insert(
        0,
        serde_json::json!({"match": "+15550100", "go": {"extension": "1002"}}),
    );
    t["trunks"] = serde_json::json!([{
        "name": "carrier",
        "host": carrier.to_string(),
        "username": "trunkuser",
        "password": "trunkpass",
        "register": register,
        "register-expires": 600,
        "caller-id": "+15550100",
        "inbound-addresses": [carrier.to_string()],
    }]);
    t
}

/// A request to the API as the operator: the status and the JSON body
/// (its text as a JSON string when it is not JSON). It blocks, so the
/// runtime is told (`block_in_place`): the server's tasks go on on another
/// worker.
pub fn operator_api(pbx: &Pbx, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", pbx.running.http);
    let token = pbx.running.operator_token.clone();
    let (status, text) = tokio::task::block_in_place(|| http(method, &url, &token, body));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every feature a plan may grant, as a plan's `features`.
pub fn every_feature() -> Value {
    [
        "recording",
        "advanced_ivr",
        "reporting",
        "crm",
        "queues",
        "conferences",
        "browser_phones",
    ]
    .iter()
    .map(|f| (f.to_string(), json!(true)))
    .collect()
}

/// A rustls client that trusts exactly the certificate in `pem`.
pub fn client_trusting(pem: &[u8]) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
