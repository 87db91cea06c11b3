//! What a tenant's plan lets its keys do through the API: a route of a
//! feature the plan lacks is refused with `not_in_plan`, a write that
//! would go past one of its caps with `over_limit` — both 403s that say
//! which plan and what it allows, so the tenant knows to ask the operator
//! rather than to fix its request. The operator is held to the tenant's
//! plan too: a plan is a promise about what the tenant runs.

use switchyard_store::{Entitlements, Feature, PlanRepo, Tenant};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// What `tenant` is entitled to now.
pub(crate) fn entitlements(state: &ApiState, tenant: &Tenant) -> ApiResult<Entitlements> {
    Ok(state.store.entitlements(tenant)?)
}

/// `Ok` when `tenant` has `feature`.
pub(crate) fn require(state: &ApiState, tenant: &Tenant, feature: Feature) -> ApiResult<()> {
    let e = entitlements(state, tenant)?;
    if e.features.has(feature) {
        Ok(())
    } else {
        Err(not_in_plan(&e, &tenant.id, feature))
    }
}

pub(crate) fn not_in_plan(e: &Entitlements, tenant: &str, feature: Feature) -> ApiError {
    let f = feature.name();
    ApiError::not_in_plan(match &e.plan {
        Some(p) => format!(
            "tenant {tenant} is on plan {p:?}, which does not include the feature {f:?}; \
             the operator can change the plan"
        ),
        None => {
            format!("tenant {tenant} does not have the feature {f:?}; the operator can turn it on")
        }
    })
}

/// `Ok` when one more of `what` (the tenant has `have`) fits under `cap`
/// (0: no cap); `field` names the cap in the message.
pub(crate) fn require_room(
    e: &Entitlements,
    what: &str,
    field: &str,
    cap: u32,
    have: usize,
) -> ApiResult<()> {
    if switchyard_store::TenantQuota::fits(cap, have, 1) {
        return Ok(());
    }
    let whose = match &e.plan {
        Some(p) => format!("plan {p:?} allows"),
        None => "the tenant's limits allow".into(),
    };
    Err(ApiError::over_limit(format!(
        "{whose} {cap} {what} ({field}) and the tenant has {have}"
    )))
}
