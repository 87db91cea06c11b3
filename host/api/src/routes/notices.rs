//! `/api/tenants/{tenant}/notices`: the tenant's group addresses for
//! e-mail about its calls — every missed call from outside, every call
//! after hours. (Each extension's own voicemail and missed-call e-mail is
//! set on the extension.) Read and replaced whole.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_store::{NoticeRepo, TenantNotices};
use utoipa::ToSchema;

use super::TenantP;
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiJson, ApiPath, ApiResult, ErrorBody};

/// Where the tenant's call notices go.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NoticesBody {
    /// Told about every call from outside that nobody answered (no
    /// answer, busy, the caller gave up), whoever it rang. At most 20.
    pub missed_calls: Vec<String>,
    /// Told about every call a flow tagged `after-hours` (the
    /// `business-hours` plugin does when closed): caller, number, time and
    /// how it ended. At most 20.
    pub after_hours: Vec<String>,
}

/// The tenant's notice addresses.
#[utoipa::path(get, path = "/api/tenants/{tenant}/notices", tag = "notices", params(TenantP),
    responses((status = 200, body = NoticesBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<NoticesBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let n = s.store.notices(scope.id())?;
    Ok(Json(NoticesBody {
        missed_calls: n.missed_calls,
        after_hours: n.after_hours,
    }))
}

/// Replace the tenant's notice addresses.
#[utoipa::path(put, path = "/api/tenants/{tenant}/notices", tag = "notices", params(TenantP),
    request_body = NoticesBody,
    responses((status = 200, body = NoticesBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<NoticesBody>,
) -> ApiResult<Json<NoticesBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    s.store.put_notices(
        scope.id(),
        &TenantNotices {
            missed_calls: body.missed_calls.clone(),
            after_hours: body.after_hours.clone(),
        },
    )?;
    Ok(Json(body))
}
