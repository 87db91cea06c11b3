//! `/api/tenants/{tenant}/queues` and their agents (skills, penalty,
//! logged in), with the contact-centre settings (ring mode, timeouts,
//! announcements, callback and leave keys…). The numeric rules (at least
//! 1 where 0 makes no sense) are the store's, reported with the field.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{
    Agent, ExtensionRepo, Feature, JoinEmpty, Queue, QueueRepo, RingMode, is_queue_key,
};
use utoipa::ToSchema;

use super::{AgentP, NameP, TenantP, changed, deleted, found};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;
use crate::{ApiState, plan_gate};

/// An agent of a queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    /// Only in a queue body; on `PUT …/agents/{extension}` the path names it.
    #[serde(default)]
    pub extension: String,
    /// Skill → level (0–100), for skills-based strategies.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub logged_in: bool,
    /// Lower is tried first by the default ordering (default 0).
    #[serde(default)]
    pub penalty: u32,
}

/// A queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    /// Required on create; on `PUT` the path names the queue.
    #[serde(default)]
    pub name: String,
    /// The queue-strategy name whose plugin orders the agents (see the
    /// plugin roles); none rings the agents in list order.
    pub strategy_plugin: Option<String>,
    #[serde(default)]
    pub agents: Vec<AgentBody>,
    /// Callers waiting at most (default 20).
    #[serde(default = "d_waiting")]
    pub max_waiting: u32,
    /// Seconds a caller waits before the queue's timeout (default 300).
    #[serde(default = "d_timeout")]
    pub timeout_secs: u32,
    /// Music-on-hold prompt.
    pub moh: Option<String>,
    /// How many agents ring at once for one caller: `one-at-a-time`
    /// (default), `all`, or `first-n` (with `ring_n`).
    #[serde(default = "d_ring_mode")]
    pub ring_mode: String,
    /// With `ring_mode` `first-n` only: how many agents ring at once (≥ 1).
    #[serde(default)]
    pub ring_n: Option<u32>,
    /// Seconds one agent's phone rings before the offer moves on
    /// (default 15, at least 1).
    #[serde(default = "d_ring_timeout")]
    pub ring_timeout_secs: u32,
    /// After-call work after each queue call, seconds (default 10).
    #[serde(default = "d_wrap_up")]
    pub wrap_up_secs: u32,
    /// The service-level threshold of the reports, seconds (default 20):
    /// answered (or abandoned) within it counts for SL and SL2.
    #[serde(default = "d_service_level")]
    pub service_level_secs: u32,
    /// Announce position and estimated wait this often (seconds, ≥ 1);
    /// absent: never.
    #[serde(default)]
    pub announce_every_secs: Option<u32>,
    /// Play `comfort_prompt` this often (seconds, ≥ 1); absent: never.
    #[serde(default)]
    pub comfort_every_secs: Option<u32>,
    /// The comfort message: a prompt name.
    #[serde(default)]
    pub comfort_prompt: Option<String>,
    /// Played to the agent who answers before the caller is connected (a
    /// prompt name); a caller tagged `VIP` adds the built-in "VIP caller".
    #[serde(default)]
    pub whisper_prompt: Option<String>,
    /// Unanswered offers in a row after which an agent is paused with
    /// reason `no-answer` (default 2; 0 turns auto-pause off).
    #[serde(default = "d_auto_pause")]
    pub auto_pause_after: u32,
    /// The key (`0`-`9`, `*` or `#`) a caller presses to be called back
    /// and keep their place; absent: no callbacks.
    #[serde(default)]
    pub callback_key: Option<String>,
    /// The key a caller presses to leave the queue; absent: none. Not the
    /// same as `callback_key`.
    #[serde(default)]
    pub leave_key: Option<String>,
    /// `wait` (default): callers join when no agent could answer and wait;
    /// `never`: they are refused.
    #[serde(default = "d_join_empty")]
    pub join_empty: String,
    /// When the last agent logs out, waiting callers leave (default false).
    #[serde(default)]
    pub leave_when_empty: bool,
    /// Seconds between callback attempts the customer did not answer
    /// (default 300, at least 1).
    #[serde(default = "d_callback_retry")]
    pub callback_retry_secs: u32,
    /// Callback attempts at most (default 3, at least 1).
    #[serde(default = "d_callback_attempts")]
    pub callback_max_attempts: u32,
    /// A caller who hangs up after waiting this many seconds (at least 1)
    /// is called back automatically to the number they called from and
    /// keeps their place, as if they had pressed `callback_key`; absent:
    /// off. The queue log records it as `callback-requested` with
    /// `automatic: true`, not as an abandonment.
    #[serde(default)]
    pub callback_on_abandon_secs: Option<u32>,
    /// The number (2 to 15 digits) an agent blind-transfers a caller to
    /// from a phone (REFER) to put them into this queue, keeping the
    /// call's priority; absent: none. Transfers through the API name the
    /// queue instead (`queue:NAME`).
    #[serde(default)]
    pub extension: Option<String>,
}

fn d_waiting() -> u32 {
    20
}
fn d_timeout() -> u32 {
    300
}
fn d_ring_mode() -> String {
    "one-at-a-time".into()
}
fn d_ring_timeout() -> u32 {
    15
}
fn d_wrap_up() -> u32 {
    10
}
fn d_service_level() -> u32 {
    20
}
fn d_auto_pause() -> u32 {
    2
}
fn d_join_empty() -> String {
    "wait".into()
}
fn d_callback_retry() -> u32 {
    300
}
fn d_callback_attempts() -> u32 {
    3
}

fn ring_mode(mode: &str, n: Option<u32>) -> ApiResult<RingMode> {
    let only_first_n = || ApiError::validation("ring_n", "is only for ring_mode first-n");
    match (mode, n) {
        ("one-at-a-time", None) => Ok(RingMode::OneAtATime),
        ("all", None) => Ok(RingMode::All),
        ("one-at-a-time" | "all", Some(_)) => Err(only_first_n()),
        ("first-n", Some(n)) if n >= 1 => Ok(RingMode::FirstN(n)),
        ("first-n", _) => Err(ApiError::validation(
            "ring_n",
            "ring_mode first-n needs ring_n of at least 1",
        )),
        (other, _) => Err(ApiError::validation(
            "ring_mode",
            format!("{other:?} is not one-at-a-time, all or first-n"),
        )),
    }
}

fn queue_key(field: &str, key: Option<&str>) -> ApiResult<Option<char>> {
    let Some(k) = key else { return Ok(None) };
    let mut chars = k.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if is_queue_key(c) => Ok(Some(c)),
        _ => Err(ApiError::validation(
            field,
            format!("{k:?} is not one key: 0-9, * or #"),
        )),
    }
}

fn join_empty(v: &str) -> ApiResult<JoinEmpty> {
    match v {
        "wait" => Ok(JoinEmpty::Wait),
        "never" => Ok(JoinEmpty::Never),
        other => Err(ApiError::validation(
            "join_empty",
            format!("{other:?} is not wait or never"),
        )),
    }
}

fn agent_view(a: Agent) -> AgentBody {
    AgentBody {
        extension: a.extension,
        skills: a.skills.into_iter().collect(),
        logged_in: a.logged_in,
        penalty: a.penalty,
    }
}

impl From<Queue> for QueueBody {
    fn from(q: Queue) -> QueueBody {
        QueueBody {
            name: q.name,
            strategy_plugin: q.strategy_plugin,
            agents: q.agents.into_iter().map(agent_view).collect(),
            max_waiting: q.max_waiting,
            timeout_secs: q.timeout_secs,
            moh: q.moh,
            ring_mode: match q.ring_mode {
                RingMode::OneAtATime => "one-at-a-time",
                RingMode::All => "all",
                RingMode::FirstN(_) => "first-n",
            }
            .into(),
            ring_n: match q.ring_mode {
                RingMode::FirstN(n) => Some(n),
                _ => None,
            },
            ring_timeout_secs: q.ring_timeout_secs,
            wrap_up_secs: q.wrap_up_secs,
            service_level_secs: q.service_level_secs,
            announce_every_secs: q.announce_every_secs,
            comfort_every_secs: q.comfort_every_secs,
            comfort_prompt: q.comfort_prompt,
            whisper_prompt: q.whisper_prompt,
            auto_pause_after: q.auto_pause_after,
            callback_key: q.callback_key.map(String::from),
            leave_key: q.leave_key.map(String::from),
            join_empty: match q.join_empty {
                JoinEmpty::Wait => "wait",
                JoinEmpty::Never => "never",
            }
            .into(),
            leave_when_empty: q.leave_when_empty,
            callback_retry_secs: q.callback_retry_secs,
            callback_max_attempts: q.callback_max_attempts,
            callback_on_abandon_secs: q.callback_on_abandon_secs,
            extension: q.extension,
        }
    }
}

fn agent(s: &ApiState, tenant: &str, a: AgentBody) -> ApiResult<Agent> {
    if s.store.get_extension(tenant, &a.extension)?.is_none() {
        return Err(ApiError::validation(
            "agents",
            format!("{:?} is not an extension of this tenant", a.extension),
        ));
    }
    if let Some((skill, level)) = a.skills.iter().find(|(_, l)| **l > 100) {
        return Err(ApiError::validation(
            "skills",
            format!("{skill:?} has level {level}; levels are 0 to 100"),
        ));
    }
    Ok(Agent {
        extension: a.extension,
        skills: a.skills.into_iter().collect(),
        logged_in: a.logged_in,
        penalty: a.penalty,
    })
}

fn build(s: &ApiState, tenant: &str, name: String, b: QueueBody) -> ApiResult<Queue> {
    let mut agents = Vec::new();
    for a in b.agents {
        if agents.iter().any(|x: &Agent| x.extension == a.extension) {
            return Err(ApiError::validation(
                "agents",
                format!("{:?} is listed twice", a.extension),
            ));
        }
        agents.push(agent(s, tenant, a)?);
    }
    if let Some(p) = &b.whisper_prompt {
        check_name("whisper_prompt", p)?;
    }
    if let Some(p) = &b.comfort_prompt {
        check_name("comfort_prompt", p)?;
    }
    let callback_key = queue_key("callback_key", b.callback_key.as_deref())?;
    let leave_key = queue_key("leave_key", b.leave_key.as_deref())?;
    if callback_key.is_some() && callback_key == leave_key {
        return Err(ApiError::validation(
            "leave_key",
            "is the same key as callback_key; a key can do one thing",
        ));
    }
    let q = Queue {
        tenant: tenant.to_string(),
        name,
        strategy_plugin: b.strategy_plugin,
        agents,
        max_waiting: b.max_waiting,
        timeout_secs: b.timeout_secs,
        moh: b.moh,
        ring_mode: ring_mode(&b.ring_mode, b.ring_n)?,
        ring_timeout_secs: b.ring_timeout_secs,
        wrap_up_secs: b.wrap_up_secs,
        service_level_secs: b.service_level_secs,
        announce_every_secs: b.announce_every_secs,
        comfort_every_secs: b.comfort_every_secs,
        comfort_prompt: b.comfort_prompt,
        whisper_prompt: b.whisper_prompt,
        auto_pause_after: b.auto_pause_after,
        callback_key,
        leave_key,
        join_empty: join_empty(&b.join_empty)?,
        leave_when_empty: b.leave_when_empty,
        callback_retry_secs: b.callback_retry_secs,
        callback_max_attempts: b.callback_max_attempts,
        callback_on_abandon_secs: b.callback_on_abandon_secs,
        extension: b.extension,
    };
    Ok(q)
}

fn load(s: &ApiState, tenant: &str, name: &str) -> ApiResult<Queue> {
    found(s.store.get_queue(tenant, name), || {
        format!("queue {name:?}")
    })
}

/// List queues.
#[utoipa::path(get, path = "/api/tenants/{tenant}/queues", tag = "queues", params(TenantP),
    responses((status = 200, body = [QueueBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<QueueBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let list = s.store.list_queues(scope.id())?;
    Ok(Json(list.into_iter().map(QueueBody::from).collect()))
}

/// Add a queue.
#[utoipa::path(post, path = "/api/tenants/{tenant}/queues", tag = "queues", params(TenantP),
    request_body = QueueBody,
    responses((status = 201, body = QueueBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(mut body): ApiJson<QueueBody>,
) -> ApiResult<(StatusCode, Json<QueueBody>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let name = std::mem::take(&mut body.name);
    if name.is_empty() {
        return Err(ApiError::validation("name", "is required"));
    }
    check_name("name", &name)?;
    if s.store.get_queue(scope.id(), &name)?.is_some() {
        return Err(ApiError::conflict(format!("queue {name:?} already exists")));
    }
    let q = build(&s, scope.id(), name, body)?;
    s.store.put_queue(&q)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(q.into())))
}

/// Read a queue.
#[utoipa::path(get, path = "/api/tenants/{tenant}/queues/{name}", tag = "queues", params(NameP),
    responses((status = 200, body = QueueBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<QueueBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    Ok(Json(load(&s, scope.id(), &p.name)?.into()))
}

/// Replace a queue.
#[utoipa::path(put, path = "/api/tenants/{tenant}/queues/{name}", tag = "queues", params(NameP),
    request_body = QueueBody,
    responses((status = 200, body = QueueBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<QueueBody>,
) -> ApiResult<Json<QueueBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let old = load(&s, scope.id(), &p.name)?;
    if !body.name.is_empty() && body.name != p.name {
        return Err(ApiError::validation(
            "name",
            "differs from the queue in the path",
        ));
    }
    let q = build(&s, scope.id(), old.name, body)?;
    s.store.put_queue(&q)?;
    changed(&s, scope.id());
    Ok(Json(q.into()))
}

/// Remove a queue.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/queues/{name}", tag = "queues", params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let r = deleted(s.store.delete_queue(scope.id(), &p.name), || {
        format!("queue {:?}", p.name)
    })?;
    changed(&s, scope.id());
    Ok(r)
}

/// Add an agent to a queue or change its skills / logged-in state.
#[utoipa::path(put, path = "/api/tenants/{tenant}/queues/{name}/agents/{extension}",
    tag = "queues", params(AgentP), request_body = AgentBody,
    responses((status = 200, body = QueueBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_agent(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<AgentP>,
    ApiJson(mut body): ApiJson<AgentBody>,
) -> ApiResult<Json<QueueBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let mut q = load(&s, scope.id(), &p.name)?;
    if !body.extension.is_empty() && body.extension != p.extension {
        return Err(ApiError::validation(
            "extension",
            "differs from the agent in the path",
        ));
    }
    body.extension = p.extension.clone();
    let a = agent(&s, scope.id(), body)?;
    match q.agents.iter_mut().find(|x| x.extension == a.extension) {
        Some(slot) => *slot = a,
        None => q.agents.push(a),
    }
    s.store.put_queue(&q)?;
    changed(&s, scope.id());
    Ok(Json(q.into()))
}

/// Remove an agent from a queue.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/queues/{name}/agents/{extension}",
    tag = "queues", params(AgentP),
    responses((status = 200, body = QueueBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_agent(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<AgentP>,
) -> ApiResult<Json<QueueBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let mut q = load(&s, scope.id(), &p.name)?;
    let before = q.agents.len();
    q.agents.retain(|a| a.extension != p.extension);
    if q.agents.len() == before {
        return Err(ApiError::not_found(format!(
            "no agent {:?} in queue {:?}",
            p.extension, p.name
        )));
    }
    s.store.put_queue(&q)?;
    changed(&s, scope.id());
    Ok(Json(q.into()))
}
