//! What agents say about their calls once over (the console's wrap-up
//! form): `/api/tenants/{tenant}/dispositions`, the tenant's disposition
//! codes, and `PUT /api/tenants/{tenant}/cdrs/{call_id}/wrap-up`, one
//! call's code and notes. The call-record list shows them with their
//! record; a queue call's CRM log waits for them during the agent's
//! wrap-up time and carries them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_store::{CdrFilter, WrapUp, WrapUpRepo};
use utoipa::{IntoParams, ToSchema};

use super::TenantP;
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// How far back a call may still be wrapped up: the records of the last
/// week are searched for it.
const WRAP_UP_WINDOW_MS: u64 = 7 * 24 * 3_600_000;

/// `{tenant}/cdrs/{call_id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CallP {
    /// Tenant id.
    pub tenant: String,
    /// The call's id (the record's `call_id`; an agent's phone gets it in
    /// `X-Switchyard-Call-Id` when a queue offers it the call).
    pub call_id: String,
}

/// A wrap-up as the agent gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpBody {
    /// One of the tenant's disposition codes.
    pub code: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub notes: String,
}

/// The tenant's disposition codes, for the wrap-up form.
#[utoipa::path(get, path = "/api/tenants/{tenant}/dispositions", tag = "cdrs", params(TenantP),
    responses((status = 200, body = [String]), (status = 404, body = ErrorBody)))]
pub(crate) async fn dispositions(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<String>>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    Ok(Json(s.store.dispositions(scope.id())?))
}

/// Replace the tenant's disposition codes (1 to 50; lower-case letters,
/// digits and `-`). Wrap-ups saved before keep their code.
#[utoipa::path(put, path = "/api/tenants/{tenant}/dispositions", tag = "cdrs", params(TenantP),
    request_body = [String],
    responses((status = 200, body = [String]), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_dispositions(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(codes): ApiJson<Vec<String>>,
) -> ApiResult<Json<Vec<String>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    s.store.set_dispositions(scope.id(), &codes)?;
    Ok(Json(codes))
}

/// Whether `call_id` is a call the caller may wrap up: a live call or a
/// call of the last week, the agent's own for an agent.
fn known_call(s: &ApiState, tenant: &str, call_id: &str, agent: Option<&str>) -> ApiResult<bool> {
    let live = s.live.list(tenant).into_iter().any(|c| {
        c.call_id == call_id
            && agent.is_none_or(|ext| {
                c.agent.as_deref() == Some(ext) || c.caller == ext || c.callee == ext
            })
    });
    if live {
        return Ok(true);
    }
    let mut f = CdrFilter {
        from_ms: Some(switchyard_clock::unix_ms().saturating_sub(WRAP_UP_WINDOW_MS)),
        limit: 1000,
        ..CdrFilter::default()
    };
    loop {
        let pg = super::cdrs::page(s, tenant, &f, agent)?;
        if pg.rows.iter().any(|c| c.call_id == call_id) {
            return Ok(true);
        }
        match pg.next {
            Some(n) => f.after = Some(n),
            None => return Ok(false),
        }
    }
}

/// Save the agent's wrap-up of a call: its disposition code and notes
/// (replacing an earlier one). Agents wrap up only their own calls; a
/// call of another agent, or none in the last week, is 404.
#[utoipa::path(put, path = "/api/tenants/{tenant}/cdrs/{call_id}/wrap-up", tag = "cdrs",
    params(CallP), request_body = WrapUpBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn put_wrap_up(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<CallP>,
    ApiJson(body): ApiJson<WrapUpBody>,
) -> ApiResult<Json<WrapUp>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    let agent = scope.agent_filter()?;
    if !known_call(&s, scope.id(), &p.call_id, agent)? {
        return Err(ApiError::not_found(format!(
            "no call {:?} of yours in the last week",
            p.call_id
        )));
    }
    let w = WrapUp {
        code: body.code,
        notes: body.notes,
        agent: scope.extension.clone(),
        at_ms: switchyard_clock::unix_ms(),
    };
    s.store.put_wrap_up(scope.id(), &p.call_id, &w)?;
    s.live.wrap_up_saved(scope.id(), &p.call_id, &w);
    Ok(Json(w))
}
