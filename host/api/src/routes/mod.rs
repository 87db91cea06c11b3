//! The routes, one module per resource. Each handler carries its
//! `#[utoipa::path]`, and `routes!` registers the handler and its
//! documentation together, so the OpenAPI document cannot miss a route.

mod agents;
mod api_keys;
mod billing;
mod caller_rules;
mod calls;
mod canary;
pub(crate) mod catalogue;
mod cdrs;
mod conferences;
mod directory;
mod extensions;
mod files;
mod groups;
mod notices;
mod numbers;
mod plans;
pub(crate) mod plugins;
mod queues;
mod reports;
mod schedules;
pub(crate) mod system;
mod tenants;
mod transcripts;
mod trunks;
mod widgets;
mod wrap_ups;

use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use switchyard_store::StoreError;

use crate::error::{ApiError, ApiResult};
use crate::{ApiState, openapi};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(system::figures))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::get, tenants::update, tenants::delete))
        .routes(routes!(tenants::suspend))
        .routes(routes!(tenants::resume))
        .routes(routes!(plans::list, plans::create))
        .routes(routes!(plans::get, plans::put, plans::delete))
        .routes(routes!(plans::entitlements))
        .routes(routes!(billing::get_account, billing::put_account))
        .routes(routes!(billing::top_up))
        .routes(routes!(billing::usage))
        .routes(routes!(billing::usage_csv))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::delete))
        .routes(routes!(extensions::list, extensions::create))
        .routes(routes!(
            extensions::get,
            extensions::update,
            extensions::delete
        ))
        .routes(routes!(directory::get))
        .routes(routes!(numbers::list, numbers::create))
        .routes(routes!(numbers::get, numbers::update, numbers::delete))
        .routes(routes!(trunks::list, trunks::create))
        .routes(routes!(trunks::get, trunks::update, trunks::delete))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get, groups::update, groups::delete))
        .routes(routes!(queues::list, queues::create))
        .routes(routes!(queues::get, queues::update, queues::delete))
        .routes(routes!(queues::put_agent, queues::delete_agent))
        .routes(routes!(agents::queue_live))
        .routes(routes!(agents::list))
        .routes(routes!(agents::get))
        .routes(routes!(agents::change))
        .routes(routes!(reports::queues))
        .routes(routes!(reports::agents))
        .routes(routes!(reports::queue_log))
        .routes(routes!(schedules::list, schedules::create))
        .routes(routes!(
            schedules::get,
            schedules::update,
            schedules::delete
        ))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::get, plugins::upload))
        .routes(routes!(plugins::activate))
        .routes(routes!(plugins::rollback))
        .routes(routes!(canary::get, canary::put, canary::delete))
        .routes(routes!(canary::promote))
        .routes(routes!(transcripts::get_policy, transcripts::put_policy))
        .routes(routes!(transcripts::list))
        .routes(routes!(transcripts::replay))
        .routes(routes!(catalogue::list))
        .routes(routes!(catalogue::get, catalogue::publish))
        .routes(routes!(catalogue::describe))
        .routes(routes!(catalogue::install))
        .routes(routes!(catalogue::upgrade))
        .routes(routes!(plugins::get_config, plugins::put_config))
        .routes(routes!(
            plugins::get_http_allowlist,
            plugins::put_http_allowlist
        ))
        .routes(routes!(plugins::get_roles, plugins::put_roles))
        .routes(routes!(cdrs::list))
        .routes(routes!(cdrs::csv))
        .routes(routes!(wrap_ups::dispositions, wrap_ups::put_dispositions))
        .routes(routes!(wrap_ups::put_wrap_up))
        .routes(routes!(files::list_recordings))
        .routes(routes!(files::get_recording, files::delete_recording))
        .routes(routes!(files::list_voicemails))
        .routes(routes!(files::get_voicemail, files::delete_voicemail))
        .routes(routes!(files::list_prompts))
        .routes(routes!(
            files::get_prompt,
            files::put_prompt,
            files::delete_prompt
        ))
        .routes(routes!(calls::list, calls::click_to_call))
        .routes(routes!(calls::hangup))
        .routes(routes!(calls::transfer))
        .routes(routes!(calls::monitor))
        .routes(routes!(calls::add_party))
        .routes(routes!(caller_rules::list, caller_rules::put))
        .routes(routes!(caller_rules::list_own, caller_rules::put_own))
        .routes(routes!(notices::get, notices::put))
        .routes(routes!(widgets::list))
        .routes(routes!(widgets::get, widgets::put, widgets::delete))
        .routes(routes!(conferences::list))
        .routes(routes!(conferences::put, conferences::delete))
        .routes(routes!(conferences::participants, conferences::add))
        .routes(routes!(conferences::kick))
        .routes(routes!(conferences::mute))
        .routes(routes!(conferences::unmute))
        .routes(routes!(conferences::lock))
        .routes(routes!(conferences::unlock))
        .routes(routes!(calls::events))
}

/// `{tenant}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TenantP {
    /// Tenant id.
    pub tenant: String,
}

/// `{tenant}/…/{number}`: an extension or a number.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct NumberP {
    /// Tenant id.
    pub tenant: String,
    /// Extension (digits) or number (`+` and digits).
    pub number: String,
}

/// `{tenant}/…/{name}`: a trunk, ring group, queue, plugin or prompt.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct NameP {
    /// Tenant id.
    pub tenant: String,
    /// Name of the resource.
    pub name: String,
}

/// `{tenant}/…/{id}`: an API key, a recording, a voicemail, a live call.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct IdP {
    /// Tenant id.
    pub tenant: String,
    /// Id of the resource.
    pub id: String,
}

/// `{tenant}/queues/{name}/agents/{extension}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AgentP {
    /// Tenant id.
    pub tenant: String,
    /// Queue name.
    pub name: String,
    /// The agent's extension.
    pub extension: String,
}

/// Tell the server a tenant's configuration changed (after the store write
/// succeeded, so it reloads what is stored).
pub(crate) fn changed(state: &ApiState, tenant: &str) {
    state.changes.tenant_changed(tenant);
}

/// A looked-up record, or 404 naming it. An id that cannot be valid is
/// also a 404 (it names nothing that exists); storage failures stay 500.
pub(crate) fn found<T>(
    r: Result<Option<T>, StoreError>,
    what: impl FnOnce() -> String,
) -> ApiResult<T> {
    match r {
        Ok(Some(v)) => Ok(v),
        Ok(None) | Err(StoreError::Invalid { .. }) => {
            Err(ApiError::not_found(format!("no {}", what())))
        }
        Err(e) => Err(e.into()),
    }
}

/// A delete's outcome: 204, or 404 naming what was not there.
pub(crate) fn deleted(
    r: Result<bool, StoreError>,
    what: impl FnOnce() -> String,
) -> ApiResult<StatusCode> {
    match r {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) | Err(StoreError::Invalid { .. }) => {
            Err(ApiError::not_found(format!("no {}", what())))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: "method_not_allowed",
        message: "this route does not take that method".into(),
        field: None,
    }
}
