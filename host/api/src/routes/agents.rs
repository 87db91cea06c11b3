//! `/api/tenants/{tenant}/agents`: the contact centre's agents now, and
//! their login / pause changes; `/queues/{name}/live`: a queue now.
//!
//! An agent is an extension that is a member of one of the tenant's
//! queues (the stored configuration decides who is an agent: anyone else
//! is a 404). Their state comes from the server's [`ContactCentre`]; an
//! agent the live side does not report (no call engine, or not loaded
//! yet) is shown `logged-out`. Agent keys see and change only their own
//! extension (403 for another); admins and supervisors every agent of the
//! tenant. Persisting the login/pause state across restarts is the
//! server's job (`AgentStateRepo`), as the engine also changes it
//! (auto-pause).
//!
//! [`ContactCentre`]: crate::ContactCentre

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_store::Feature;
use switchyard_store::QueueRepo;
use utoipa::IntoParams;

use super::{NameP, TenantP, found};
use crate::auth::{Caller, Need, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{AgentChange, AgentLive, ApiState, QueueLive, plan_gate};

/// `{tenant}/agents/{extension}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ExtensionP {
    /// Tenant id.
    pub tenant: String,
    /// The agent's extension.
    pub extension: String,
}

/// The configured agents: extension → the queues it is a member of.
fn members(s: &ApiState, tenant: &str) -> ApiResult<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for q in s.store.list_queues(tenant)? {
        for a in q.agents {
            out.entry(a.extension).or_default().push(q.name.clone());
        }
    }
    Ok(out)
}

/// Every configured agent with its live state (`logged-out` when the live
/// side does not report it).
fn agents(s: &ApiState, tenant: &str) -> ApiResult<Vec<AgentLive>> {
    let mut live: BTreeMap<String, AgentLive> = s
        .centre
        .agents(tenant)
        .into_iter()
        .map(|a| (a.extension.clone(), a))
        .collect();
    Ok(members(s, tenant)?
        .into_iter()
        .map(|(ext, queues)| {
            live.remove(&ext).unwrap_or(AgentLive {
                extension: ext,
                state: "logged-out".into(),
                reason: None,
                call_id: None,
                queues,
                calls_today: 0,
                talk_secs_today: 0,
                since_ms: None,
                wrap_up_ends_ms: None,
            })
        })
        .collect())
}

/// 403 when an agent key asks about another extension.
fn own_only(scope: &Scope, extension: &str) -> ApiResult<()> {
    match scope.agent_filter()? {
        Some(own) if own != extension => Err(ApiError::forbidden(format!(
            "an agent key acts only as its own extension ({own})"
        ))),
        _ => Ok(()),
    }
}

fn one(s: &ApiState, tenant: &str, extension: &str) -> ApiResult<AgentLive> {
    agents(s, tenant)?
        .into_iter()
        .find(|a| a.extension == extension)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no agent {extension:?}: the extension is not a member of any queue of this tenant"
            ))
        })
}

/// The tenant's agents now (an agent key: only itself).
#[utoipa::path(get, path = "/api/tenants/{tenant}/agents", tag = "contact-centre",
    params(TenantP),
    responses((status = 200, body = [AgentLive]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<AgentLive>>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    let mut list = agents(&s, scope.id())?;
    if let Some(own) = scope.agent_filter()? {
        list.retain(|a| a.extension == own);
    }
    Ok(Json(list))
}

/// One agent now. An agent key may read only its own extension.
#[utoipa::path(get, path = "/api/tenants/{tenant}/agents/{extension}", tag = "contact-centre",
    params(ExtensionP),
    responses((status = 200, body = AgentLive), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<ExtensionP>,
) -> ApiResult<Json<AgentLive>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    own_only(&scope, &p.extension)?;
    Ok(Json(one(&s, scope.id(), &p.extension)?))
}

/// Log an agent in or out, pause or unpause them. An agent key may change
/// only its own extension (403 otherwise); admins and supervisors any
/// agent of the tenant. A pause `reason` must be one of the tenant's
/// pause reasons (400 otherwise); without one the pause is a `break`.
#[utoipa::path(post, path = "/api/tenants/{tenant}/agents/{extension}/state",
    tag = "contact-centre", params(ExtensionP), request_body = AgentChange,
    responses((status = 200, body = AgentLive), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the contact centre refused")))]
pub(crate) async fn change(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<ExtensionP>,
    ApiJson(change): ApiJson<AgentChange>,
) -> ApiResult<Json<AgentLive>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    own_only(&scope, &p.extension)?;
    one(&s, scope.id(), &p.extension)?;
    if let AgentChange::Pause {
        reason: Some(reason),
    } = &change
        && !scope.tenant.pause_reasons.contains(reason)
    {
        return Err(ApiError::validation(
            "reason",
            format!(
                "{reason:?} is not one of the tenant's pause reasons ({})",
                scope.tenant.pause_reasons.join(", ")
            ),
        ));
    }
    s.centre
        .change_agent(scope.id(), &p.extension, change)
        .map(Json)
        .map_err(ApiError::unavailable)
}

/// A queue now: callers and callbacks waiting, the longest wait, its
/// agents by state. Every role of the tenant.
#[utoipa::path(get, path = "/api/tenants/{tenant}/queues/{name}/live", tag = "contact-centre",
    params(NameP),
    responses((status = 200, body = QueueLive), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the contact centre has no live view of the queue")))]
pub(crate) async fn queue_live(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<QueueLive>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    found(s.store.get_queue(scope.id(), &p.name), || {
        format!("queue {:?}", p.name)
    })?;
    s.centre
        .queue_live(scope.id(), &p.name)
        .map(Json)
        .ok_or_else(|| {
            ApiError::unavailable(format!(
                "the contact centre has no live view of queue {:?} (is the call engine running?)",
                p.name
            ))
        })
}
