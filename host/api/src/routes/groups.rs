//! `/api/tenants/{tenant}/ring-groups`: extensions rung together or in turn.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{ExtensionRepo, RingGroup, RingGroupRepo, RingStrategy};
use utoipa::ToSchema;

use super::{NameP, TenantP, changed, deleted, found};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;

/// A ring group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RingGroupBody {
    /// Required on create; on `PUT` the path names the group.
    #[serde(default)]
    pub name: String,
    /// Extensions of the tenant.
    pub members: Vec<String>,
    /// `simultaneous` (default) or `sequential`.
    #[serde(default = "d_strategy")]
    pub strategy: String,
    /// Seconds each ring lasts (default 20).
    #[serde(default = "d_timeout")]
    pub ring_timeout_secs: u32,
}

fn d_strategy() -> String {
    RingStrategy::default().to_string()
}
fn d_timeout() -> u32 {
    20
}

impl From<RingGroup> for RingGroupBody {
    fn from(g: RingGroup) -> RingGroupBody {
        RingGroupBody {
            name: g.name,
            members: g.members,
            strategy: g.strategy.to_string(),
            ring_timeout_secs: g.ring_timeout_secs,
        }
    }
}

/// Members must be extensions of this tenant: a typo would make a group
/// that silently rings nobody.
fn build(s: &ApiState, tenant: &str, name: String, b: RingGroupBody) -> ApiResult<RingGroup> {
    for m in &b.members {
        if s.store.get_extension(tenant, m)?.is_none() {
            return Err(ApiError::validation(
                "members",
                format!("{m:?} is not an extension of this tenant"),
            ));
        }
    }
    let strategy = b
        .strategy
        .parse::<RingStrategy>()
        .map_err(|e| ApiError::validation("strategy", e))?;
    Ok(RingGroup {
        tenant: tenant.to_string(),
        name,
        members: b.members,
        strategy,
        ring_timeout_secs: b.ring_timeout_secs,
    })
}

/// List ring groups.
#[utoipa::path(get, path = "/api/tenants/{tenant}/ring-groups", tag = "ring-groups",
    params(TenantP),
    responses((status = 200, body = [RingGroupBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<RingGroupBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let list = s.store.list_ring_groups(scope.id())?;
    Ok(Json(list.into_iter().map(RingGroupBody::from).collect()))
}

/// Add a ring group.
#[utoipa::path(post, path = "/api/tenants/{tenant}/ring-groups", tag = "ring-groups",
    params(TenantP), request_body = RingGroupBody,
    responses((status = 201, body = RingGroupBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(mut body): ApiJson<RingGroupBody>,
) -> ApiResult<(StatusCode, Json<RingGroupBody>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let name = std::mem::take(&mut body.name);
    if name.is_empty() {
        return Err(ApiError::validation("name", "is required"));
    }
    check_name("name", &name)?;
    if s.store.get_ring_group(scope.id(), &name)?.is_some() {
        return Err(ApiError::conflict(format!(
            "ring group {name:?} already exists"
        )));
    }
    let g = build(&s, scope.id(), name, body)?;
    s.store.put_ring_group(&g)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(g.into())))
}

/// Read a ring group.
#[utoipa::path(get, path = "/api/tenants/{tenant}/ring-groups/{name}", tag = "ring-groups",
    params(NameP),
    responses((status = 200, body = RingGroupBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<RingGroupBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let g = found(s.store.get_ring_group(scope.id(), &p.name), || {
        format!("ring group {:?}", p.name)
    })?;
    Ok(Json(g.into()))
}

/// Replace a ring group.
#[utoipa::path(put, path = "/api/tenants/{tenant}/ring-groups/{name}", tag = "ring-groups",
    params(NameP), request_body = RingGroupBody,
    responses((status = 200, body = RingGroupBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<RingGroupBody>,
) -> ApiResult<Json<RingGroupBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let old = found(s.store.get_ring_group(scope.id(), &p.name), || {
        format!("ring group {:?}", p.name)
    })?;
    if !body.name.is_empty() && body.name != p.name {
        return Err(ApiError::validation(
            "name",
            "differs from the group in the path",
        ));
    }
    let g = build(&s, scope.id(), old.name, body)?;
    s.store.put_ring_group(&g)?;
    changed(&s, scope.id());
    Ok(Json(g.into()))
}

/// Remove a ring group.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/ring-groups/{name}", tag = "ring-groups",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let r = deleted(s.store.delete_ring_group(scope.id(), &p.name), || {
        format!("ring group {:?}", p.name)
    })?;
    changed(&s, scope.id());
    Ok(r)
}
