//! What the server tests share: the whole server started in-process on
//! loopback with the demo tenant (or another description), its phones
//! played by SIPp, and its call records.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
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
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let running = start(Config {
        data_dir,
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        tenant_json: tenant.map(|t| t.to_string()),
        ..Config::default()
    })
    .await
    .expect("server starts");
    Pbx { running, _dir: tmp }
}

pub async fn pbx() -> Pbx {
    pbx_with(None, None).await
}

/// Wait until `f` holds (the engine works beside the test's SIPp runs).
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `run` SIPp calls must not block the runtime the server lives on.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("sipp task")
}
