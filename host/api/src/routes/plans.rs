//! `/api/plans`: the operator's plans — named sets of features and limits
//! that tenants are put on (`"plan"` of a tenant). Operator only: a
//! tenant's own keys read what applies to them at
//! `/api/tenants/{tenant}/entitlements`. Changing a plan reloads every
//! tenant on it, so it takes effect for their next calls without a
//! restart.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{ExtensionRepo, FileRepo, NumberRepo, Plan, PlanRepo};
use utoipa::{IntoParams, ToSchema};

use super::billing::RateCardBody;
use super::tenants::{FeaturesBody, LimitsBody};
use super::{TenantP, changed, deleted, found};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, plan_gate};
use switchyard_clock::unix_ms;

/// `/api/plans/{plan}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PlanP {
    /// Plan name.
    pub plan: String,
}

/// A plan: what a tenant on it may use.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// 1–128 bytes, no `/`; given in the path for `PUT`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub features: FeaturesBody,
    #[serde(default)]
    pub limits: LimitsBody,
    /// What its tenants' trunk minutes, numbers and extensions cost.
    #[serde(default)]
    pub rates: RateCardBody,
    /// A prepaid tenant out of balance still takes calls from outside
    /// (default true); its calls out are refused either way.
    #[serde(default = "yes")]
    pub inbound_without_balance: bool,
    /// When a prepaid tenant's calls in progress have spent its balance,
    /// each gets this many seconds more, then is hung up (default 30).
    #[serde(default = "switchyard_store::default_grace")]
    pub prepaid_grace_secs: u32,
}

fn yes() -> bool {
    true
}

/// A plan as stored, with the tenants on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub name: String,
    pub description: String,
    pub features: FeaturesBody,
    pub limits: LimitsBody,
    pub rates: RateCardBody,
    pub inbound_without_balance: bool,
    pub prepaid_grace_secs: u32,
    pub created_at_ms: u64,
    /// Ids of the tenants on this plan.
    pub tenants: Vec<String>,
}

fn plan_view(s: &ApiState, p: Plan) -> ApiResult<PlanView> {
    Ok(PlanView {
        tenants: s.store.tenants_on_plan(&p.name)?,
        name: p.name,
        description: p.description,
        features: p.features.into(),
        limits: p.limits.into(),
        rates: RateCardBody::of(p.rates),
        inbound_without_balance: p.inbound_without_balance,
        prepaid_grace_secs: p.prepaid_grace_secs,
        created_at_ms: p.created_at_ms,
    })
}

/// Store `body` as plan `name` and reload the tenants on it.
fn store_plan(s: &ApiState, name: String, body: PlanBody, created_at_ms: u64) -> ApiResult<Plan> {
    let plan = Plan {
        name,
        rates: body.rates.to_card()?,
        description: body.description,
        features: body.features.into(),
        limits: body.limits.into(),
        inbound_without_balance: body.inbound_without_balance,
        prepaid_grace_secs: body.prepaid_grace_secs,
        created_at_ms,
    };
    s.store.put_plan(&plan)?;
    for tenant in s.store.tenants_on_plan(&plan.name)? {
        changed(s, &tenant);
    }
    Ok(plan)
}

/// List plans.
#[utoipa::path(get, path = "/api/plans", tag = "plans",
    responses((status = 200, body = [PlanView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<PlanView>>> {
    caller.require_operator()?;
    s.store
        .list_plans()?
        .into_iter()
        .map(|p| plan_view(&s, p))
        .collect::<ApiResult<_>>()
        .map(Json)
}

/// Create a plan.
#[utoipa::path(post, path = "/api/plans", tag = "plans", request_body = PlanBody,
    responses((status = 201, body = PlanView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a plan of that name exists")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiJson(body): ApiJson<PlanBody>,
) -> ApiResult<(StatusCode, Json<PlanView>)> {
    caller.require_operator()?;
    if body.name.is_empty() {
        return Err(ApiError::validation("name", "is missing"));
    }
    if matches!(s.store.get_plan(&body.name), Ok(Some(_))) {
        return Err(ApiError::conflict(format!(
            "plan {:?} already exists",
            body.name
        )));
    }
    let name = body.name.clone();
    let plan = store_plan(&s, name, body, unix_ms())?;
    Ok((StatusCode::CREATED, Json(plan_view(&s, plan)?)))
}

/// Read a plan.
#[utoipa::path(get, path = "/api/plans/{plan}", tag = "plans", params(PlanP),
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<PlanP>,
) -> ApiResult<Json<PlanView>> {
    caller.require_operator()?;
    let plan = found(s.store.get_plan(&p.plan), || format!("plan {:?}", p.plan))?;
    Ok(Json(plan_view(&s, plan)?))
}

/// Create or replace a plan; the tenants on it get the new features and
/// limits for their next calls.
#[utoipa::path(put, path = "/api/plans/{plan}", tag = "plans", params(PlanP),
    request_body = PlanBody,
    responses((status = 200, body = PlanView), (status = 400, body = ErrorBody)))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<PlanP>,
    ApiJson(body): ApiJson<PlanBody>,
) -> ApiResult<Json<PlanView>> {
    caller.require_operator()?;
    if !body.name.is_empty() && body.name != p.plan {
        return Err(ApiError::validation(
            "name",
            format!("{:?} is not the plan of the path, {:?}", body.name, p.plan),
        ));
    }
    let created = match s.store.get_plan(&p.plan) {
        Ok(Some(old)) => old.created_at_ms,
        _ => unix_ms(),
    };
    let plan = store_plan(&s, p.plan, body, created)?;
    Ok(Json(plan_view(&s, plan)?))
}

/// Delete a plan no tenant is on.
#[utoipa::path(delete, path = "/api/plans/{plan}", tag = "plans", params(PlanP),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "tenants are on it")))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<PlanP>,
) -> ApiResult<StatusCode> {
    caller.require_operator()?;
    deleted(s.store.delete_plan(&p.plan), || {
        format!("plan {:?}", p.plan)
    })
}

/// How much of a capped resource the tenant uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub extensions: usize,
    pub numbers: usize,
    /// Bytes of stored recordings.
    pub recording_storage_bytes: u64,
}

/// What a tenant may use and how much of it it uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntitlementsView {
    /// The plan they come from; `null`: set on the tenant itself.
    pub plan: Option<String>,
    pub features: FeaturesBody,
    /// Caps; 0 means none.
    pub limits: LimitsBody,
    pub usage: Usage,
}

/// What the tenant's plan gives it, and its use of the capped parts.
#[utoipa::path(get, path = "/api/tenants/{tenant}/entitlements", tag = "plans",
    params(TenantP),
    responses((status = 200, body = EntitlementsView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn entitlements(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<EntitlementsView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let e = plan_gate::entitlements(&s, &scope.tenant)?;
    let id = scope.id();
    let usage = Usage {
        extensions: s.store.list_extensions(id)?.len(),
        numbers: s.store.list_numbers(id)?.len(),
        recording_storage_bytes: s.store.stored_bytes(id, "recording")?,
    };
    Ok(Json(EntitlementsView {
        plan: e.plan,
        features: e.features.into(),
        limits: e.limits.into(),
        usage,
    }))
}
