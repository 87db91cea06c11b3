//! Shared test setup: a real Store on a temp dir, a real PluginHost, two
//! tenants (`acme`, `bolt`) with the same resource names in each, API keys
//! of every role, a fake call engine and a change recorder.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchyard_api::{
    AgentChange, AgentLive, ApiState, CallEvent, ConfigChanged, ContactCentre, LiveCall, LiveCalls,
    QueueLive, app,
};
use switchyard_plugins::{HostConfig, PluginHost};
use switchyard_store::{
    ApiKeyRepo, Cdr, CdrRepo, Disposition, FileRecord, FileRepo, Role, Store, TenantRepo,
};
use tokio::sync::broadcast;
use tower::ServiceExt;

pub const OPERATOR: &str = "operator-secret-token";

/// One plugin host for the whole test binary: the pooling allocator
/// reserves address space per host, so tests share it.
pub fn host() -> PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| {
        PluginHost::new(HostConfig {
            max_instances: 8,
            ..HostConfig::default()
        })
        .expect("plugin host")
    })
    .clone()
}

/// Records `tenant_changed` calls.
#[derive(Default)]
pub struct Changes(pub Mutex<Vec<String>>);

impl ConfigChanged for Changes {
    fn tenant_changed(&self, tenant: &str) {
        self.0.lock().unwrap().push(tenant.to_string());
    }
}

impl Changes {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A fake call engine: a fixed set of calls per tenant, an event channel
/// per tenant, and a log of hang-ups and click-to-calls.
pub struct FakeLive {
    pub calls: Mutex<BTreeMap<String, Vec<LiveCall>>>,
    /// Room `board` of each tenant in use: 1001 moderates, 1003 listens.
    pub rooms: Mutex<BTreeMap<String, Vec<switchyard_api::LiveRoom>>>,
    pub events: BTreeMap<String, broadcast::Sender<CallEvent>>,
    pub clicks: Mutex<Vec<(String, String, String)>>,
}

pub fn live_call(id: &str, caller: &str, callee: &str, agent: Option<&str>) -> LiveCall {
    LiveCall {
        call_id: id.into(),
        caller: caller.into(),
        callee: callee.into(),
        dialled: callee.into(),
        state: "answered".into(),
        started_ms: 1_000,
        agent: agent.map(String::from),
        monitors: vec![],
    }
}

impl FakeLive {
    fn new() -> FakeLive {
        let mut calls = BTreeMap::new();
        let mut events = BTreeMap::new();
        for t in ["acme", "bolt"] {
            calls.insert(
                t.to_string(),
                vec![
                    live_call("call-1", "+15551234", "1001", None),
                    live_call("call-2", "+15559876", "700", Some("1002")),
                ],
            );
            events.insert(t.to_string(), broadcast::channel(16).0);
        }
        let room = |t: &str| {
            let p = |call: &str, caller: &str, moderator: bool| switchyard_api::LiveParticipant {
                call_id: call.into(),
                caller: caller.into(),
                moderator,
                muted: false,
                talking: false,
                joined_ms: 1_000,
            };
            (
                t.to_string(),
                vec![switchyard_api::LiveRoom {
                    name: "board".into(),
                    locked: false,
                    waiting: false,
                    started_ms: 1_000,
                    participants: vec![p("call-1", "1001", true), p("call-9", "1003", false)],
                }],
            )
        };
        FakeLive {
            rooms: Mutex::new(["acme", "bolt"].into_iter().map(room).collect()),
            calls: Mutex::new(calls),
            events,
            clicks: Mutex::new(Vec::new()),
        }
    }
}

impl LiveCalls for FakeLive {
    fn list(&self, tenant: &str) -> Vec<LiveCall> {
        self.calls
            .lock()
            .unwrap()
            .get(tenant)
            .cloned()
            .unwrap_or_default()
    }
    fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        let mut calls = self.calls.lock().unwrap();
        let Some(list) = calls.get_mut(tenant) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.call_id != call_id);
        list.len() != before
    }
    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallEvent> {
        match self.events.get(tenant) {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }
    fn click_to_call(&self, tenant: &str, agent: &str, number: &str) -> Result<String, String> {
        self.clicks
            .lock()
            .unwrap()
            .push((tenant.into(), agent.into(), number.into()));
        Ok(format!("c2c-{agent}-{number}"))
    }
    fn conferences(&self, tenant: &str) -> Vec<switchyard_api::LiveRoom> {
        self.rooms
            .lock()
            .unwrap()
            .get(tenant)
            .cloned()
            .unwrap_or_default()
    }
    fn conference_mute(&self, tenant: &str, room: &str, call_id: &str, muted: bool) -> bool {
        let mut rooms = self.rooms.lock().unwrap();
        let Some(p) = rooms
            .get_mut(tenant)
            .and_then(|rs| rs.iter_mut().find(|r| r.name == room))
            .and_then(|r| r.participants.iter_mut().find(|p| p.call_id == call_id))
        else {
            return false;
        };
        p.muted = muted;
        true
    }
    fn conference_kick(&self, tenant: &str, room: &str, call_id: &str) -> bool {
        let mut rooms = self.rooms.lock().unwrap();
        let Some(r) = rooms
            .get_mut(tenant)
            .and_then(|rs| rs.iter_mut().find(|r| r.name == room))
        else {
            return false;
        };
        let before = r.participants.len();
        r.participants.retain(|p| p.call_id != call_id);
        r.participants.len() != before
    }
    fn conference_lock(&self, tenant: &str, room: &str, locked: bool) -> bool {
        let mut rooms = self.rooms.lock().unwrap();
        match rooms
            .get_mut(tenant)
            .and_then(|rs| rs.iter_mut().find(|r| r.name == room))
        {
            Some(r) => {
                r.locked = locked;
                true
            }
            None => false,
        }
    }
    fn conference_add(&self, _: &str, room: &str, ext: &str) -> Result<String, String> {
        Ok(format!("conf-add-{room}-{ext}"))
    }
    fn monitor(
        &self,
        tenant: &str,
        call_id: &str,
        supervisor: &str,
        mode: &str,
    ) -> Result<(), switchyard_api::CallActionError> {
        let mut calls = self.calls.lock().unwrap();
        let call = calls
            .get_mut(tenant)
            .and_then(|list| list.iter_mut().find(|c| c.call_id == call_id))
            .ok_or_else(|| {
                switchyard_api::CallActionError::NotFound(format!("no live call {call_id:?}"))
            })?;
        call.monitors.push(switchyard_api::LiveMonitor {
            supervisor: supervisor.into(),
            agent: call.agent.clone().unwrap_or_default(),
            mode: mode.into(),
        });
        Ok(())
    }
}

/// A fake contact centre: agents `1001` and `1002` of each tenant, their
/// state changed by `change_agent` (and each change logged), and a live
/// view of queue `support` only.
pub struct FakeCentre {
    pub agents: Mutex<BTreeMap<(String, String), AgentLive>>,
    pub changes: Mutex<Vec<(String, String, AgentChange)>>,
    /// Callbacks asked for: (tenant, queue, number, source).
    pub callbacks: Mutex<Vec<(String, String, String, String)>>,
}

impl FakeCentre {
    fn new() -> FakeCentre {
        let mut agents = BTreeMap::new();
        for t in ["acme", "bolt"] {
            for ext in ["1001", "1002"] {
                agents.insert(
                    (t.to_string(), ext.to_string()),
                    AgentLive {
                        extension: ext.into(),
                        state: "logged-out".into(),
                        reason: None,
                        call_id: None,
                        queues: vec!["support".into()],
                        calls_today: 0,
                        talk_secs_today: 0,
                        since_ms: None,
                        wrap_up_ends_ms: None,
                    },
                );
            }
        }
        FakeCentre {
            agents: Mutex::new(agents),
            changes: Mutex::new(Vec::new()),
            callbacks: Mutex::new(Vec::new()),
        }
    }
}

impl ContactCentre for FakeCentre {
    fn agents(&self, tenant: &str) -> Vec<AgentLive> {
        self.agents
            .lock()
            .unwrap()
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a.clone())
            .collect()
    }
    fn change_agent(
        &self,
        tenant: &str,
        extension: &str,
        change: AgentChange,
    ) -> Result<AgentLive, String> {
        let mut agents = self.agents.lock().unwrap();
        let a = agents
            .get_mut(&(tenant.to_string(), extension.to_string()))
            .ok_or_else(|| format!("{extension} is not an agent"))?;
        match &change {
            AgentChange::Login | AgentChange::Unpause => {
                a.state = "available".into();
                a.reason = None;
            }
            AgentChange::Logout => {
                a.state = "logged-out".into();
                a.reason = None;
            }
            AgentChange::Pause { reason } => {
                a.state = "paused".into();
                a.reason = Some(reason.clone().unwrap_or_else(|| "break".into()));
            }
        }
        self.changes
            .lock()
            .unwrap()
            .push((tenant.into(), extension.into(), change));
        Ok(a.clone())
    }
    fn request_callback(
        &self,
        tenant: &str,
        queue: &str,
        number: &str,
        source: &str,
    ) -> Result<String, switchyard_api::CallActionError> {
        let mut all = self.callbacks.lock().unwrap();
        if all
            .iter()
            .any(|(t, q, n, _)| t == tenant && q == queue && n == number)
        {
            return Err(switchyard_api::CallActionError::Conflict("waiting".into()));
        }
        all.push((tenant.into(), queue.into(), number.into(), source.into()));
        Ok(format!("{source}-{}", all.len()))
    }
    fn queue_live(&self, _: &str, name: &str) -> Option<QueueLive> {
        (name == "support").then(|| QueueLive {
            name: name.into(),
            waiting: 2,
            callbacks_waiting: 1,
            longest_wait_secs: 42,
            agents: BTreeMap::from([("available".to_string(), 1)]),
        })
    }
}

/// Keys of one tenant.
#[derive(Clone, Debug)]
pub struct Keys {
    pub admin: String,
    pub supervisor: String,
    pub agent: String,
    /// A spare admin key whose id the api-keys routes delete.
    pub spare_id: String,
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub app: Router,
    pub changes: Arc<Changes>,
    pub live: Arc<FakeLive>,
    pub centre: Arc<FakeCentre>,
    pub keys: BTreeMap<String, Keys>,
}

/// A small 8 kHz mono 16-bit PCM WAV.
pub fn wav_pcm16(samples: usize) -> Vec<u8> {
    let data = vec![0u8; samples * 2];
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&data);
    v
}

pub fn cdr(
    tenant: &str,
    id: &str,
    start_ms: u64,
    caller: &str,
    callee: &str,
    agent: Option<&str>,
) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: format!("sip-{id}"),
        direction: "inbound".into(),
        caller: caller.into(),
        caller_name: None,
        callee: callee.into(),
        dialled: callee.into(),
        start_ms,
        answer_ms: Some(start_ms + 1000),
        end_ms: start_ms + 60_000,
        disposition: Disposition::Answered,
        hangup_by: Some("caller".into()),
        sip_code: 200,
        queue: None,
        agent: agent.map(String::from),
        tags: vec![],
        recording: None,
        flow_plugin: None,
        plugin_version: None,
        legs: vec![],
        monitors: vec![],
    }
}

impl Env {
    pub async fn new() -> Env {
        Env::with_host(host()).await
    }

    pub async fn with_host(plugins: PluginHost) -> Env {
        Env::with_options(plugins, false).await
    }

    /// With the operator's `allow-private-trunks` setting as given.
    pub async fn with_options(plugins: PluginHost, allow_private_trunks: bool) -> Env {
        let plugin_cap = plugins.config().max_component_bytes;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let changes = Arc::new(Changes::default());
        let live = Arc::new(FakeLive::new());
        let centre = Arc::new(FakeCentre::new());
        let app = app(ApiState {
            store: store.clone(),
            plugins,
            operator_token: OPERATOR.into(),
            live: live.clone(),
            changes: changes.clone(),
            centre: centre.clone(),
            allow_private_trunks,
            widgets: Default::default(),
            sessions: Default::default(),
        });
        let mut env = Env {
            dir,
            store,
            app,
            changes,
            live,
            centre,
            keys: BTreeMap::new(),
        };
        for t in ["acme", "bolt"] {
            env.provision(t, plugin_cap).await;
        }
        // The catalogue's entry (its routes' resource), on a host whose
        // cap takes it.
        let crm = switchyard_artifacts::get("crm-rest").unwrap();
        if crm.len() <= plugin_cap {
            let r = env
                .send(
                    Method::POST,
                    "/api/catalogue/crm-rest",
                    Some(OPERATOR),
                    Some("application/wasm"),
                    Body::from(crm),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
        // A plan no tenant is on (the plan routes' resource).
        let (s, v) = env
            .json(
                Method::POST,
                "/api/plans",
                OPERATOR,
                json!({"name": "standard", "description": "the usual"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        env.changes.take();
        env
    }

    /// The same resources, by the same names, in each tenant, created
    /// through the API as the operator.
    async fn provision(&mut self, t: &str, plugin_cap: usize) {
        let ok = |(s, v): (StatusCode, Value)| {
            assert!(s.is_success(), "{s} {v}");
            v
        };
        ok(self
            .json(
                Method::POST,
                "/api/tenants",
                OPERATOR,
                json!({
                    "id": t, "name": t.to_uppercase(), "domains": [format!("{t}.example")],
                    "time_zone": "Europe/Paris",
                    "features": {"recording": true, "advanced_ivr": true, "reporting": true,
                        "crm": true, "queues": true, "conferences": true}
                }),
            )
            .await);
        let base = format!("/api/tenants/{t}");
        for n in ["1001", "1002", "1003"] {
            ok(self
                .json(
                    Method::POST,
                    &format!("{base}/extensions"),
                    OPERATOR,
                    json!({"number": n, "password": "correct horse", "display_name": n}),
                )
                .await);
        }
        ok(self
            .json(
                Method::POST,
                &format!("{base}/numbers"),
                OPERATOR,
                json!({"number": "700", "flow": "main"}),
            )
            .await);
        ok(self
            .json(Method::POST, &format!("{base}/trunks"), OPERATOR, json!({
                "name": "carrier", "host": "sip.carrier.example", "username": "u", "password": "trunk-secret"
            }))
            .await);
        ok(self
            .json(
                Method::POST,
                &format!("{base}/ring-groups"),
                OPERATOR,
                json!({"name": "sales", "members": ["1001", "1002"]}),
            )
            .await);
        ok(self
            .json(
                Method::POST,
                &format!("{base}/schedules"),
                OPERATOR,
                json!({"name": "office", "open": {"monday": ["09:00-17:00"]}}),
            )
            .await);
        ok(self
            .json(
                Method::POST,
                &format!("{base}/queues"),
                OPERATOR,
                json!({
                    "name": "support",
                    "agents": [{"extension": "1002", "skills": {"english": 80}, "logged_in": true}]
                }),
            )
            .await);
        ok(self
            .json(
                Method::PUT,
                &format!("{base}/widgets/site"),
                OPERATOR,
                json!({"queue": "support", "allowed_origins": [format!("https://www.{t}.example")]}),
            )
            .await);
        let router = switchyard_artifacts::get("router").expect("router component");
        // A host with a cap below the router's size (the 413 test) gets none.
        if router.len() <= plugin_cap {
            ok(self
                .send(
                    Method::POST,
                    &format!("{base}/plugins/router"),
                    Some(OPERATOR),
                    Some("application/wasm"),
                    Body::from(router),
                )
                .await
                .json());
        }
        let (s, _) = self
            .send(
                Method::PUT,
                &format!("{base}/prompts/welcome"),
                Some(OPERATOR),
                Some("audio/wav"),
                Body::from(wav_pcm16(800)),
            )
            .await
            .status_json();
        assert_eq!(s, StatusCode::CREATED);
        for (kind, id) in [("recording", "rec1"), ("voicemail", "vm1")] {
            self.store
                .put_file(
                    &FileRecord {
                        tenant: t.into(),
                        kind: kind.into(),
                        id: id.into(),
                        name: format!("{id}.wav"),
                        content_type: "audio/wav".into(),
                        size: 0,
                        created_at_ms: 5,
                        meta: BTreeMap::new(),
                    },
                    format!("{t}-{kind}-bytes").as_bytes(),
                )
                .unwrap();
        }
        self.store
            .insert_cdr(&cdr(t, "r1", 1000, "+15551234", "1001", None))
            .unwrap();
        self.store
            .insert_cdr(&cdr(t, "r2", 2000, "+15559876", "700", Some("1002")))
            .unwrap();
        self.store
            .insert_cdr(&cdr(t, "r3", 3000, "1003", "+15550000", None))
            .unwrap();
        let (_, admin) = self
            .store
            .create_api_key(t, Role::Admin, None, "admin")
            .unwrap();
        let (_, supervisor) = self
            .store
            .create_api_key(t, Role::Supervisor, None, "sup")
            .unwrap();
        let (_, agent) = self
            .store
            .create_api_key(t, Role::Agent, Some("1002"), "agent")
            .unwrap();
        let (spare, _) = self
            .store
            .create_api_key(t, Role::Admin, None, "spare")
            .unwrap();
        self.keys.insert(
            t.to_string(),
            Keys {
                admin,
                supervisor,
                agent,
                spare_id: spare.id,
            },
        );
        assert!(self.store.get_tenant(t).unwrap().is_some());
    }

    pub fn key(&self, tenant: &str, role: &str) -> String {
        let k = &self.keys[tenant];
        match role {
            "admin" => k.admin.clone(),
            "supervisor" => k.supervisor.clone(),
            "agent" => k.agent.clone(),
            "operator" => OPERATOR.into(),
            other => panic!("no role {other}"),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Body,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        // An event stream never ends: its body is read by the SSE tests.
        let streaming = headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
        let body = if streaming {
            Bytes::new()
        } else {
            resp.into_body().collect().await.unwrap().to_bytes()
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A JSON request; returns the status and the JSON body (Null if none).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.send(
            method,
            path,
            Some(token),
            Some("application/json"),
            Body::from(body.to_string()),
        )
        .await
        .status_json()
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, Some(token), None, Body::empty())
            .await
            .status_json()
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn status_json(self) -> (StatusCode, Value) {
        let v = if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
        };
        (self.status, v)
    }
    pub fn json(self) -> (StatusCode, Value) {
        self.status_json()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a route is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// Operator token only.
    Operator,
    /// Admin and supervisor.
    Read,
    /// Admin.
    Write,
    /// Admin and supervisor (acting on calls).
    Operate,
    /// Every role (agents see their own).
    OwnCalls,
}

pub struct Route {
    pub method: Method,
    /// With `{tenant}`, `{key}` placeholders; other resources use the
    /// names every tenant has.
    pub path: &'static str,
    /// OpenAPI path template.
    pub template: &'static str,
    pub access: Access,
    /// A valid body (JSON unless `raw`).
    pub body: Option<fn() -> Body>,
    pub content_type: Option<&'static str>,
}

fn j(v: Value) -> Body {
    Body::from(v.to_string())
}

macro_rules! route {
    ($m:ident, $path:literal, $tpl:literal, $access:ident) => {
        Route {
            method: Method::$m,
            path: $path,
            template: $tpl,
            access: Access::$access,
            body: None,
            content_type: None,
        }
    };
    ($m:ident, $path:literal, $tpl:literal, $access:ident, $ct:literal, $body:expr) => {
        Route {
            method: Method::$m,
            path: $path,
            template: $tpl,
            access: Access::$access,
            body: Some($body),
            content_type: Some($ct),
        }
    };
}

/// Every route of the API, with a valid request for each.
pub fn routes() -> Vec<Route> {
    vec![
        route!(GET, "/api/openapi.json", "/api/openapi.json", Public),
        route!(GET, "/api/system", "/api/system", Operator),
        route!(GET, "/api/tenants", "/api/tenants", Operator),
        route!(
            POST,
            "/api/tenants",
            "/api/tenants",
            Operator,
            "application/json",
            || j(json!({"id": "zeta", "name": "Z", "domains": ["zeta.example"]}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}",
            "/api/tenants/{tenant}",
            Operator
        ),
        route!(
            PATCH,
            "/api/tenants/{tenant}",
            "/api/tenants/{tenant}",
            Operator,
            "application/json",
            || j(json!({"name": "Renamed"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/suspend",
            "/api/tenants/{tenant}/suspend",
            Operator
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/resume",
            "/api/tenants/{tenant}/resume",
            Operator
        ),
        route!(GET, "/api/plans", "/api/plans", Operator),
        route!(GET, "/api/catalogue", "/api/catalogue", Read),
        route!(
            GET,
            "/api/catalogue/crm-rest",
            "/api/catalogue/{name}",
            Read
        ),
        route!(
            POST,
            "/api/catalogue/crm-rest",
            "/api/catalogue/{name}",
            Operator,
            "application/wasm",
            || Body::from(switchyard_artifacts::get("crm-rest").unwrap())
        ),
        route!(
            PUT,
            "/api/catalogue/crm-rest/1",
            "/api/catalogue/{name}/{version}",
            Operator,
            "application/json",
            || j(json!({"description": "a REST CRM", "hosts": ["api.crm.example"]}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/catalogue/crm-rest/install",
            "/api/tenants/{tenant}/catalogue/{name}/install",
            Write,
            "application/json",
            || j(json!({"as": "crm2", "config": {}}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/crm2/upgrade",
            "/api/tenants/{tenant}/plugins/{name}/upgrade",
            Write,
            "application/json",
            || j(json!({}))
        ),
        route!(
            POST,
            "/api/plans",
            "/api/plans",
            Operator,
            "application/json",
            || j(json!({"name": "premium", "features": {"crm": true}}))
        ),
        route!(GET, "/api/plans/standard", "/api/plans/{plan}", Operator),
        route!(
            PUT,
            "/api/plans/standard",
            "/api/plans/{plan}",
            Operator,
            "application/json",
            || j(json!({"limits": {"max_extensions": 50}}))
        ),
        route!(DELETE, "/api/plans/standard", "/api/plans/{plan}", Operator),
        route!(
            GET,
            "/api/tenants/{tenant}/entitlements",
            "/api/tenants/{tenant}/entitlements",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/account",
            "/api/tenants/{tenant}/account",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/account",
            "/api/tenants/{tenant}/account",
            Operator,
            "application/json",
            || j(json!({"prepaid": true, "low_balance_threshold": "5"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/account/top-ups",
            "/api/tenants/{tenant}/account/top-ups",
            Operator,
            "application/json",
            || j(json!({"amount": "20.00", "reference": "invoice 7"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/usage",
            "/api/tenants/{tenant}/usage",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/usage.csv",
            "/api/tenants/{tenant}/usage.csv",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/api-keys",
            "/api/tenants/{tenant}/api-keys",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/api-keys",
            "/api/tenants/{tenant}/api-keys",
            Write,
            "application/json",
            || j(json!({"role": "supervisor", "name": "new"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/api-keys/{key}",
            "/api/tenants/{tenant}/api-keys/{id}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/extensions",
            "/api/tenants/{tenant}/extensions",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/extensions",
            "/api/tenants/{tenant}/extensions",
            Write,
            "application/json",
            || j(json!({"number": "2001", "password": "another secret"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/extensions/1001",
            "/api/tenants/{tenant}/extensions/{number}",
            Read
        ),
        route!(
            PATCH,
            "/api/tenants/{tenant}/extensions/1001",
            "/api/tenants/{tenant}/extensions/{number}",
            Write,
            "application/json",
            || j(json!({"display_name": "Front desk"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/extensions/1003",
            "/api/tenants/{tenant}/extensions/{number}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/numbers",
            "/api/tenants/{tenant}/numbers",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/numbers",
            "/api/tenants/{tenant}/numbers",
            Write,
            "application/json",
            || j(json!({"number": "701", "flow": "main"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/numbers/700",
            "/api/tenants/{tenant}/numbers/{number}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/numbers/700",
            "/api/tenants/{tenant}/numbers/{number}",
            Write,
            "application/json",
            || j(json!({"flow": "other"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/numbers/700",
            "/api/tenants/{tenant}/numbers/{number}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/trunks",
            "/api/tenants/{tenant}/trunks",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/trunks",
            "/api/tenants/{tenant}/trunks",
            Write,
            "application/json",
            || j(json!({"name": "backup", "host": "sip.backup.example"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/trunks/carrier",
            "/api/tenants/{tenant}/trunks/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/trunks/carrier",
            "/api/tenants/{tenant}/trunks/{name}",
            Write,
            "application/json",
            || j(json!({"host": "sip2.carrier.example"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/trunks/carrier",
            "/api/tenants/{tenant}/trunks/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/ring-groups",
            "/api/tenants/{tenant}/ring-groups",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/ring-groups",
            "/api/tenants/{tenant}/ring-groups",
            Write,
            "application/json",
            || j(json!({"name": "night", "members": ["1001"]}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/ring-groups/sales",
            "/api/tenants/{tenant}/ring-groups/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/ring-groups/sales",
            "/api/tenants/{tenant}/ring-groups/{name}",
            Write,
            "application/json",
            || j(json!({"members": ["1002"], "strategy": "sequential"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/ring-groups/sales",
            "/api/tenants/{tenant}/ring-groups/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/caller-rules",
            "/api/tenants/{tenant}/caller-rules",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/caller-rules",
            "/api/tenants/{tenant}/caller-rules",
            Write,
            "application/json",
            || j(json!([{"pattern": "+1900*", "action": "reject"}]))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/extensions/1001/caller-rules",
            "/api/tenants/{tenant}/extensions/{number}/caller-rules",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/extensions/1001/caller-rules",
            "/api/tenants/{tenant}/extensions/{number}/caller-rules",
            Write,
            "application/json",
            || j(json!([{"pattern": "+1900*", "action": "reject"}]))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/widgets",
            "/api/tenants/{tenant}/widgets",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/widgets/site",
            "/api/tenants/{tenant}/widgets/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/widgets/site",
            "/api/tenants/{tenant}/widgets/{name}",
            Write,
            "application/json",
            || j(json!({"queue": "support", "allowed_origins": ["https://www.example.com"]}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/widgets/site",
            "/api/tenants/{tenant}/widgets/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugins/router/canary",
            "/api/tenants/{tenant}/plugins/{name}/canary",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/plugins/router/canary",
            "/api/tenants/{tenant}/plugins/{name}/canary",
            Write,
            "application/json",
            || j(json!({"version": 2, "percent": 10}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/plugins/router/canary",
            "/api/tenants/{tenant}/plugins/{name}/canary",
            Write
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/router/canary/promote",
            "/api/tenants/{tenant}/plugins/{name}/canary/promote",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/transcripts/policy",
            "/api/tenants/{tenant}/transcripts/policy",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/transcripts/policy",
            "/api/tenants/{tenant}/transcripts/policy",
            Write,
            "application/json",
            || j(json!({"enabled": true}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/transcripts",
            "/api/tenants/{tenant}/transcripts",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/router/replay",
            "/api/tenants/{tenant}/plugins/{name}/replay",
            Write,
            "application/json",
            || j(json!({"version": 1}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/notices",
            "/api/tenants/{tenant}/notices",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/notices",
            "/api/tenants/{tenant}/notices",
            Write,
            "application/json",
            || j(json!({"after_hours": ["ops@example.com"]}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/schedules",
            "/api/tenants/{tenant}/schedules",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/schedules",
            "/api/tenants/{tenant}/schedules",
            Write,
            "application/json",
            || j(json!({"name": "night", "open": {"sunday": ["22:00-06:00"]}}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/schedules/office",
            "/api/tenants/{tenant}/schedules/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/schedules/office",
            "/api/tenants/{tenant}/schedules/{name}",
            Write,
            "application/json",
            || j(
                json!({"open": {"friday": ["09:00-12:00"]}, "holidays": [{"date": "2026-12-25", "name": "Christmas", "yearly": true}]})
            )
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/schedules/office",
            "/api/tenants/{tenant}/schedules/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/queues",
            "/api/tenants/{tenant}/queues",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/queues",
            "/api/tenants/{tenant}/queues",
            Write,
            "application/json",
            || j(json!({"name": "billing"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/queues/support",
            "/api/tenants/{tenant}/queues/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/queues/support",
            "/api/tenants/{tenant}/queues/{name}",
            Write,
            "application/json",
            || j(json!({"timeout_secs": 60}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/queues/support",
            "/api/tenants/{tenant}/queues/{name}",
            Write
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/queues/support/agents/1001",
            "/api/tenants/{tenant}/queues/{name}/agents/{extension}",
            Write,
            "application/json",
            || j(json!({"skills": {"french": 50}, "logged_in": true}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/queues/support/agents/1002",
            "/api/tenants/{tenant}/queues/{name}/agents/{extension}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/queues/support/live",
            "/api/tenants/{tenant}/queues/{name}/live",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/agents",
            "/api/tenants/{tenant}/agents",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/agents/1002",
            "/api/tenants/{tenant}/agents/{extension}",
            OwnCalls
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/agents/1002/state",
            "/api/tenants/{tenant}/agents/{extension}/state",
            OwnCalls,
            "application/json",
            || j(json!({"action": "pause", "reason": "lunch"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/reports/queues?from=0&to=7200000&interval=hour",
            "/api/tenants/{tenant}/reports/queues",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/reports/agents?from=0&to=7200000&format=csv",
            "/api/tenants/{tenant}/reports/agents",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/queue-log?from=0&to=7200000",
            "/api/tenants/{tenant}/queue-log",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugins",
            "/api/tenants/{tenant}/plugins",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugins/router",
            "/api/tenants/{tenant}/plugins/{name}",
            Read
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/router",
            "/api/tenants/{tenant}/plugins/{name}",
            Write,
            "application/wasm",
            || Body::from(switchyard_artifacts::get("router").unwrap())
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/router/activate",
            "/api/tenants/{tenant}/plugins/{name}/activate",
            Write,
            "application/json",
            || j(json!({"version": 1}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/plugins/router/rollback",
            "/api/tenants/{tenant}/plugins/{name}/rollback",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugins/router/config",
            "/api/tenants/{tenant}/plugins/{name}/config",
            Write
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/plugins/router/config",
            "/api/tenants/{tenant}/plugins/{name}/config",
            Write,
            "application/json",
            || j(json!({"greeting": "hello"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugins/router/http-allowlist",
            "/api/tenants/{tenant}/plugins/{name}/http-allowlist",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/plugins/router/http-allowlist",
            "/api/tenants/{tenant}/plugins/{name}/http-allowlist",
            Write,
            "application/json",
            || j(json!({"hosts": ["api.crm.example"]}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/plugin-roles",
            "/api/tenants/{tenant}/plugin-roles",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/plugin-roles",
            "/api/tenants/{tenant}/plugin-roles",
            Write,
            "application/json",
            || j(json!({"flows": {"main": "router"}}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/cdrs",
            "/api/tenants/{tenant}/cdrs",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/directory",
            "/api/tenants/{tenant}/directory",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/dispositions",
            "/api/tenants/{tenant}/dispositions",
            OwnCalls
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/dispositions",
            "/api/tenants/{tenant}/dispositions",
            Write,
            "application/json",
            || j(json!(["resolved", "sale"]))
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/cdrs/call-1/wrap-up",
            "/api/tenants/{tenant}/cdrs/{call_id}/wrap-up",
            OwnCalls,
            "application/json",
            || j(json!({"code": "resolved", "notes": "done"}))
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/cdrs.csv",
            "/api/tenants/{tenant}/cdrs.csv",
            OwnCalls
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/recordings",
            "/api/tenants/{tenant}/recordings",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/recordings/rec1",
            "/api/tenants/{tenant}/recordings/{id}",
            OwnCalls
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/recordings/rec1",
            "/api/tenants/{tenant}/recordings/{id}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/voicemails",
            "/api/tenants/{tenant}/voicemails",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/voicemails/vm1",
            "/api/tenants/{tenant}/voicemails/{id}",
            Read
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/voicemails/vm1",
            "/api/tenants/{tenant}/voicemails/{id}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/prompts",
            "/api/tenants/{tenant}/prompts",
            Read
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/prompts/welcome",
            "/api/tenants/{tenant}/prompts/{name}",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/prompts/welcome",
            "/api/tenants/{tenant}/prompts/{name}",
            Write,
            "audio/wav",
            || Body::from(wav_pcm16(400))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/prompts/welcome",
            "/api/tenants/{tenant}/prompts/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/calls",
            "/api/tenants/{tenant}/calls",
            OwnCalls
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/calls",
            "/api/tenants/{tenant}/calls",
            OwnCalls,
            "application/json",
            || j(json!({"from_extension": "1002", "to": "+15550111"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/calls/call-1/transfer",
            "/api/tenants/{tenant}/calls/{id}/transfer",
            OwnCalls,
            "application/json",
            || j(json!({"to": "queue:support"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/calls/call-1/add",
            "/api/tenants/{tenant}/calls/{id}/add",
            OwnCalls,
            "application/json",
            || j(json!({"to": "1003"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/calls/call-2/monitor",
            "/api/tenants/{tenant}/calls/{id}/monitor",
            Operate,
            "application/json",
            || j(json!({"supervisor": "1001", "mode": "whisper"}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/calls/call-1",
            "/api/tenants/{tenant}/calls/{id}",
            Operate
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/conferences",
            "/api/tenants/{tenant}/conferences",
            Read
        ),
        route!(
            PUT,
            "/api/tenants/{tenant}/conferences/board",
            "/api/tenants/{tenant}/conferences/{name}",
            Write,
            "application/json",
            || j(json!({"pin": "1234", "moderators": ["1001"], "wait_for_moderator": true}))
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/conferences/board",
            "/api/tenants/{tenant}/conferences/{name}",
            Write
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/conferences/board/participants",
            "/api/tenants/{tenant}/conferences/{name}/participants",
            Operate
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/conferences/board/participants",
            "/api/tenants/{tenant}/conferences/{name}/participants",
            Operate,
            "application/json",
            || j(json!({"to": "1002"}))
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/conferences/board/participants/call-1/mute",
            "/api/tenants/{tenant}/conferences/{name}/participants/{id}/mute",
            Operate
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/conferences/board/participants/call-1/unmute",
            "/api/tenants/{tenant}/conferences/{name}/participants/{id}/unmute",
            Operate
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}/conferences/board/participants/call-1",
            "/api/tenants/{tenant}/conferences/{name}/participants/{id}",
            Operate
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/conferences/board/lock",
            "/api/tenants/{tenant}/conferences/{name}/lock",
            Operate
        ),
        route!(
            POST,
            "/api/tenants/{tenant}/conferences/board/unlock",
            "/api/tenants/{tenant}/conferences/{name}/unlock",
            Operate
        ),
        route!(
            GET,
            "/api/tenants/{tenant}/events",
            "/api/tenants/{tenant}/events",
            OwnCalls
        ),
        route!(
            DELETE,
            "/api/tenants/{tenant}",
            "/api/tenants/{tenant}",
            Operator
        ),
    ]
}

impl Route {
    pub fn concrete(&self, env: &Env, tenant: &str) -> String {
        self.path
            .replace("{tenant}", tenant)
            .replace("{key}", &env.keys[tenant].spare_id)
    }
}
