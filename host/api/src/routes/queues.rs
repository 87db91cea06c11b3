//! `/api/tenants/{tenant}/queues` and their agents (skills, logged in).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{Agent, ExtensionRepo, Queue, QueueRepo};
use utoipa::ToSchema;

use super::{AgentP, NameP, TenantP, changed, deleted, found};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;

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
}

fn d_waiting() -> u32 {
    20
}
fn d_timeout() -> u32 {
    300
}

fn agent_view(a: Agent) -> AgentBody {
    AgentBody {
        extension: a.extension,
        skills: a.skills.into_iter().collect(),
        logged_in: a.logged_in,
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
        penalty: 0,
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
    Ok(Queue {
        tenant: tenant.to_string(),
        name,
        strategy_plugin: b.strategy_plugin,
        agents,
        max_waiting: b.max_waiting,
        timeout_secs: b.timeout_secs,
        moh: b.moh,
        ..Queue::new(tenant, "")
    })
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
