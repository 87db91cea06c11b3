//! `/api/tenants/{tenant}/numbers`: numbers (DIDs `+…`, or short internal
//! numbers) and the flow that answers each.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{BASIC_FLOW, Feature, Number, NumberRepo};
use utoipa::ToSchema;

use super::{NumberP, TenantP, changed, deleted, found};
use crate::auth::{Caller, Need, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, plan_gate};

/// A number and its flow.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    /// `+` and digits for a DID (unique across tenants), or digits.
    pub number: String,
    /// The flow name that answers it (see the plugin roles).
    pub flow: String,
}

impl From<Number> for NumberBody {
    fn from(n: Number) -> NumberBody {
        NumberBody {
            number: n.number,
            flow: n.flow,
        }
    }
}

/// A new flow for a number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberUpdate {
    pub flow: String,
}

/// A number may go to a flow other than the tenant's `extensions` one
/// only with the advanced IVR feature.
fn require_flow(s: &ApiState, scope: &Scope, flow: &str) -> ApiResult<()> {
    if flow == BASIC_FLOW {
        return Ok(());
    }
    plan_gate::require(s, &scope.tenant, Feature::AdvancedIvr)
}

/// List numbers.
#[utoipa::path(get, path = "/api/tenants/{tenant}/numbers", tag = "numbers", params(TenantP),
    responses((status = 200, body = [NumberBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<NumberBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let list = s.store.list_numbers(scope.id())?;
    Ok(Json(list.into_iter().map(NumberBody::from).collect()))
}

/// Add a number.
#[utoipa::path(post, path = "/api/tenants/{tenant}/numbers", tag = "numbers", params(TenantP),
    request_body = NumberBody,
    responses((status = 201, body = NumberBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the tenant or another one has it")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<NumberBody>,
) -> ApiResult<(StatusCode, Json<NumberBody>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let n = Number {
        tenant: scope.id().to_string(),
        number: body.number,
        flow: body.flow,
    };
    if s.store.get_number(scope.id(), &n.number)?.is_some() {
        return Err(ApiError::conflict(format!(
            "number {} already exists",
            n.number
        )));
    }
    require_flow(&s, &scope, &n.flow)?;
    let e = plan_gate::entitlements(&s, &scope.tenant)?;
    let have = s.store.list_numbers(scope.id())?.len();
    plan_gate::require_room(&e, "numbers", "max_numbers", e.limits.max_numbers, have)?;
    s.store.put_number(&n)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(n.into())))
}

/// Read a number.
#[utoipa::path(get, path = "/api/tenants/{tenant}/numbers/{number}", tag = "numbers",
    params(NumberP),
    responses((status = 200, body = NumberBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
) -> ApiResult<Json<NumberBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let n = found(s.store.get_number(scope.id(), &p.number), || {
        format!("number {:?}", p.number)
    })?;
    Ok(Json(n.into()))
}

/// Point a number at another flow.
#[utoipa::path(put, path = "/api/tenants/{tenant}/numbers/{number}", tag = "numbers",
    params(NumberP), request_body = NumberUpdate,
    responses((status = 200, body = NumberBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
    ApiJson(body): ApiJson<NumberUpdate>,
) -> ApiResult<Json<NumberBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let mut n = found(s.store.get_number(scope.id(), &p.number), || {
        format!("number {:?}", p.number)
    })?;
    require_flow(&s, &scope, &body.flow)?;
    n.flow = body.flow;
    s.store.put_number(&n)?;
    changed(&s, scope.id());
    Ok(Json(n.into()))
}

/// Remove a number (a DID is released).
#[utoipa::path(delete, path = "/api/tenants/{tenant}/numbers/{number}", tag = "numbers",
    params(NumberP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let r = deleted(s.store.delete_number(scope.id(), &p.number), || {
        format!("number {:?}", p.number)
    })?;
    changed(&s, scope.id());
    Ok(r)
}
