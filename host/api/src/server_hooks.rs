//! What the API needs from the running server: its live calls and a hook
//! to hear about configuration changes. The API crate owns these traits so
//! that it depends on neither the call engine nor the server.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// A call in progress, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveCall {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// What the caller dialled (a DID, an extension…).
    pub dialled: String,
    /// `routing`, `ringing`, `ivr`, `voicemail` or `answered` (the call
    /// engine's `CallState`).
    pub state: String,
    /// ms since the Unix epoch.
    pub started_ms: u64,
    /// The agent's extension once a queue call is answered.
    pub agent: Option<String>,
    /// Supervisors on the call now (not shown to agent keys).
    #[serde(default)]
    pub monitors: Vec<LiveMonitor>,
}

/// A supervisor on a live call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveMonitor {
    /// The supervisor's extension.
    pub supervisor: String,
    /// The extension supervised.
    pub agent: String,
    /// `listen`, `whisper` or `barge`.
    pub mode: String,
}

/// A conference room in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveRoom {
    pub name: String,
    /// Only moderators may join.
    pub locked: bool,
    /// Waiting for a moderator: the participants hear music.
    pub waiting: bool,
    /// ms since the Unix epoch.
    pub started_ms: u64,
    pub participants: Vec<LiveParticipant>,
}

/// A participant of a conference room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveParticipant {
    /// The participant's call (the id to mute or remove it by).
    pub call_id: String,
    /// Its number (an extension or an outside number).
    pub caller: String,
    pub moderator: bool,
    pub muted: bool,
    pub talking: bool,
    pub joined_ms: u64,
}

/// Why an action on a live call (supervise it, add a party) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallActionError {
    /// 400: the request names nothing usable (no supervisor extension, a
    /// target that is no number).
    Invalid(String),
    /// 403: not allowed (an extension that may not supervise).
    Forbidden(String),
    /// 404: no such live call.
    NotFound(String),
    /// 409: not now (not answered yet, one's own call, nobody free).
    Conflict(String),
}

impl LiveCall {
    /// Whether `extension` takes part in the call (an agent sees only these).
    pub fn involves(&self, extension: &str) -> bool {
        self.caller == extension
            || self.callee == extension
            || self.agent.as_deref() == Some(extension)
    }
}

/// One notice on the tenant's event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallEvent {
    /// The SSE event name: `started`, a state the call entered (`ringing`,
    /// `ivr`, `voicemail`, `answered`), or `ended`.
    pub kind: String,
    pub call_id: String,
    /// ms since the Unix epoch.
    pub at_ms: u64,
    pub detail: Option<String>,
}

/// The server's live calls, per tenant. Every method is tenant-scoped: a
/// call id of another tenant is unknown.
pub trait LiveCalls: Send + Sync {
    fn list(&self, tenant: &str) -> Vec<LiveCall>;
    /// Whether the call existed (and is being hung up).
    fn hangup(&self, tenant: &str, call_id: &str) -> bool;
    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallEvent>;
    /// An agent's wrap-up of `call_id` was stored: the call's CRM log,
    /// when it waits for it, goes now.
    fn wrap_up_saved(&self, tenant: &str, call_id: &str, wrap: &switchyard_store::WrapUp) {
        let _ = (tenant, call_id, wrap);
    }
    /// Ring `agent_extension`, then dial `number`; the new call's id, or
    /// why it could not start.
    fn click_to_call(
        &self,
        tenant: &str,
        agent_extension: &str,
        number: &str,
    ) -> Result<String, String>;
    /// Send the caller of `call_id` away from its agent: `to` is
    /// `queue:NAME` or an extension; `Err` says why not.
    fn transfer(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), String> {
        let _ = (tenant, call_id, to);
        Err("no call engine is running".into())
    }
    /// The plugin runtime the tenant's calls use now (every stored version
    /// installed, with its settings and the tenant's limits): a replay runs
    /// there, as a call would.
    fn plugin_runtime(&self, tenant: &str) -> Option<switchyard_plugins::TenantRuntime> {
        let _ = tenant;
        None
    }
    /// Ring `supervisor`'s phones; the first to answer joins `call_id` in
    /// `mode` (`listen`, `whisper`, `barge`).
    fn monitor(
        &self,
        tenant: &str,
        call_id: &str,
        supervisor: &str,
        mode: &str,
    ) -> Result<(), CallActionError> {
        let _ = (tenant, supervisor, mode);
        Err(CallActionError::NotFound(format!(
            "no live call {call_id:?}"
        )))
    }
    /// Add a third party (an extension, a number or `queue:NAME`) to
    /// answered call `call_id`.
    fn add_party(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), CallActionError> {
        let _ = (tenant, to);
        Err(CallActionError::NotFound(format!(
            "no live call {call_id:?}"
        )))
    }
    /// The tenant's conference rooms in use.
    fn conferences(&self, tenant: &str) -> Vec<LiveRoom> {
        let _ = tenant;
        Vec::new()
    }
    /// Mute (or unmute) participant `call_id` of `room`; false: no such
    /// participant.
    fn conference_mute(&self, tenant: &str, room: &str, call_id: &str, muted: bool) -> bool {
        let _ = (tenant, room, call_id, muted);
        false
    }
    /// Remove participant `call_id` from `room` (its call ends).
    fn conference_kick(&self, tenant: &str, room: &str, call_id: &str) -> bool {
        let _ = (tenant, room, call_id);
        false
    }
    /// Lock or unlock a room in use; false: not in use.
    fn conference_lock(&self, tenant: &str, room: &str, locked: bool) -> bool {
        let _ = (tenant, room, locked);
        false
    }
    /// Ring extension `ext`; answered, it joins `room`. The call's id.
    fn conference_add(&self, tenant: &str, room: &str, ext: &str) -> Result<String, String> {
        let _ = (tenant, room, ext);
        Err("no call engine is running".into())
    }
}

/// Told after every configuration change of a tenant, so the server can
/// rebuild its live view (domains, extensions, numbers, plugin runtime).
pub trait ConfigChanged: Send + Sync {
    fn tenant_changed(&self, tenant: &str);
}

/// No calls at all: for tests and a server without a call engine.
pub struct NoLiveCalls;

impl LiveCalls for NoLiveCalls {
    fn list(&self, _: &str) -> Vec<LiveCall> {
        Vec::new()
    }
    fn hangup(&self, _: &str, _: &str) -> bool {
        false
    }
    fn subscribe(&self, _: &str) -> broadcast::Receiver<CallEvent> {
        // The sender is dropped at once: the stream ends immediately.
        broadcast::channel(1).1
    }
    fn click_to_call(&self, _: &str, _: &str, _: &str) -> Result<String, String> {
        Err("no call engine is running".into())
    }
}

/// Ignores changes.
pub struct NoChanges;

impl ConfigChanged for NoChanges {
    fn tenant_changed(&self, _: &str) {}
}

/// An agent as the contact centre sees them right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentLive {
    /// The agent's extension.
    pub extension: String,
    /// `logged-out`, `available`, `reserved` (a queue call rings),
    /// `on-call` (a queue call), `busy` (any other call), `wrap-up` or
    /// `paused`.
    pub state: String,
    /// The pause reason (`lunch`, `no-answer`…), when paused.
    pub reason: Option<String>,
    /// The queue call the agent is reserved for or talking on.
    pub call_id: Option<String>,
    /// Queues the agent is a member of.
    pub queues: Vec<String>,
    /// Queue calls answered today.
    pub calls_today: u32,
    /// Seconds of queue-call talk today.
    pub talk_secs_today: u32,
    /// When the agent entered this state (or pause reason), ms since the
    /// Unix epoch: time in state is now minus this.
    #[serde(default)]
    pub since_ms: Option<u64>,
    /// In wrap-up: when it ends (ms since the Unix epoch), for the
    /// countdown.
    #[serde(default)]
    pub wrap_up_ends_ms: Option<u64>,
}

/// What an agent (or their supervisor) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum AgentChange {
    /// Log in to every queue the agent is a member of.
    Login,
    /// Log out of every queue.
    Logout,
    /// Take no queue calls until unpaused; `reason` is one of the tenant's
    /// pause reasons (none: `break`).
    Pause {
        reason: Option<String>,
    },
    Unpause,
}

/// One queue right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueLive {
    pub name: String,
    /// Callers waiting, and callback placeholders keeping a place.
    pub waiting: u32,
    pub callbacks_waiting: u32,
    /// Seconds the longest-waiting entry has waited.
    pub longest_wait_secs: u32,
    /// Members by state (`available`, `on-call`, `paused`…).
    pub agents: std::collections::BTreeMap<String, u32>,
}

/// The server's queues and agents, per tenant. Every method is
/// tenant-scoped: another tenant's agent or queue is unknown.
pub trait ContactCentre: Send + Sync {
    /// Every agent of `tenant` (an extension that is a member of a queue).
    fn agents(&self, tenant: &str) -> Vec<AgentLive>;
    /// Change agent `extension`'s state; `Err` says why not (not an agent
    /// of this tenant, a pause reason the tenant does not know).
    fn change_agent(
        &self,
        tenant: &str,
        extension: &str,
        change: AgentChange,
    ) -> Result<AgentLive, String>;
    /// Queue `name` now; `None` when the tenant has no such queue.
    fn queue_live(&self, tenant: &str, name: &str) -> Option<QueueLive>;
    /// Put `number` in queue `queue` as a callback waiting its turn (a web
    /// widget's "call me back"), tagged with its `source`: the
    /// placeholder's id. `Invalid`: no such queue; `Conflict`: the number
    /// already waits for one there.
    fn request_callback(
        &self,
        tenant: &str,
        queue: &str,
        number: &str,
        source: &str,
    ) -> Result<String, CallActionError> {
        let _ = (tenant, queue, number, source);
        Err(CallActionError::Conflict(
            "no call engine is running".into(),
        ))
    }
    /// A ticket for one browser call from widget `widget` of `tenant` to
    /// its number `number` ("call us"); the browser's INVITE carries it.
    fn web_call_ticket(
        &self,
        tenant: &str,
        widget: &str,
        number: &str,
    ) -> Result<String, CallActionError> {
        let _ = (tenant, widget, number);
        Err(CallActionError::Conflict(
            "no call engine is running".into(),
        ))
    }
}

/// No queues at all: for tests and a server without a call engine.
pub struct NoContactCentre;

impl ContactCentre for NoContactCentre {
    fn agents(&self, _: &str) -> Vec<AgentLive> {
        Vec::new()
    }
    fn change_agent(&self, _: &str, _: &str, _: AgentChange) -> Result<AgentLive, String> {
        Err("no call engine is running".into())
    }
    fn queue_live(&self, _: &str, _: &str) -> Option<QueueLive> {
        None
    }
}
