//! `/api/tenants/{tenant}/widgets`: the tenant's web widgets — a "call me
//! back" form for its web site, whose requests join a queue's callbacks,
//! and a "call us" button calling one of its numbers from the visitor's
//! browser (the public side: `crate::widget`). Admin keys change them;
//! they need the plan's queues, and "call us" its browser phones.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{Feature, NumberRepo, QueueRepo, Widget, WidgetRepo};
use utoipa::ToSchema;

use super::{NameP, TenantP, deleted, found};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;
use crate::{ApiState, plan_gate};

/// A widget.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetBody {
    /// Given by the path on `PUT`.
    #[serde(default)]
    pub name: String,
    /// The queue whose callbacks the visitors' numbers join.
    pub queue: String,
    /// The origins (`https://www.example.com`) of the pages allowed to use
    /// it, exactly as browsers send `Origin`.
    pub allowed_origins: Vec<String>,
    /// The form's heading (default "Call me back").
    #[serde(default = "d_title")]
    pub title: String,
    /// Off: the form says call-backs are closed (default on).
    #[serde(default = "on")]
    pub enabled: bool,
    /// One of the tenant's numbers: the widget also shows "call us", and
    /// the visitor's browser calls that number (its flow answers). Needs
    /// the plan's browser phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_to: Option<String>,
    /// Where the snippet is served (`<script src="…">`), relative to the
    /// host; set by the server.
    #[serde(default)]
    pub script: String,
}

fn d_title() -> String {
    "Call me back".into()
}
fn on() -> bool {
    true
}

fn body(w: Widget) -> WidgetBody {
    WidgetBody {
        script: format!("/widget/{}/{}/widget.js", w.tenant, w.name),
        name: w.name,
        queue: w.queue,
        allowed_origins: w.allowed_origins,
        title: w.title,
        enabled: w.enabled,
        call_to: w.call_to,
    }
}

/// The tenant's widgets.
#[utoipa::path(get, path = "/api/tenants/{tenant}/widgets", tag = "widgets", params(TenantP),
    responses((status = 200, body = [WidgetBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<WidgetBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    Ok(Json(
        s.store
            .list_widgets(scope.id())?
            .into_iter()
            .map(body)
            .collect(),
    ))
}

/// One widget, with the path of its snippet.
#[utoipa::path(get, path = "/api/tenants/{tenant}/widgets/{name}", tag = "widgets",
    params(NameP),
    responses((status = 200, body = WidgetBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<WidgetBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let w = found(s.store.get_widget(scope.id(), &p.name), || {
        format!("widget {:?}", p.name)
    })?;
    Ok(Json(body(w)))
}

/// Create or replace a widget.
#[utoipa::path(put, path = "/api/tenants/{tenant}/widgets/{name}", tag = "widgets",
    params(NameP), request_body = WidgetBody,
    responses((status = 200, body = WidgetBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<WidgetBody>,
) -> ApiResult<Json<WidgetBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Queues)?;
    check_name("name", &p.name)?;
    if s.store.get_queue(scope.id(), &b.queue)?.is_none() {
        return Err(ApiError::validation(
            "queue",
            format!("the tenant has no queue {:?}", b.queue),
        ));
    }
    if b.allowed_origins.is_empty() {
        return Err(ApiError::validation(
            "allowed_origins",
            "name the origins of the pages that show it (https://www.example.com)",
        ));
    }
    if let Some(number) = &b.call_to {
        plan_gate::require(&s, &scope.tenant, Feature::BrowserPhones)?;
        if s.store.get_number(scope.id(), number)?.is_none() {
            return Err(ApiError::validation(
                "call_to",
                format!("the tenant has no number {number:?}: name one of its numbers"),
            ));
        }
    }
    let w = Widget {
        tenant: scope.id().to_string(),
        name: p.name.clone(),
        queue: b.queue,
        allowed_origins: b.allowed_origins,
        title: b.title,
        enabled: b.enabled,
        call_to: b.call_to,
    };
    s.store.put_widget(&w)?;
    Ok(Json(body(w)))
}

/// Remove a widget (its snippet answers 404 from then on).
#[utoipa::path(delete, path = "/api/tenants/{tenant}/widgets/{name}", tag = "widgets",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    deleted(s.store.delete_widget(scope.id(), &p.name), || {
        format!("widget {:?}", p.name)
    })
}
