//! Live calls: list, hang up, click-to-call, and the event stream (SSE).
//! All of it goes through [`crate::LiveCalls`], always with the tenant of
//! the path, so one tenant's calls are unknown to another.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use switchyard_store::ExtensionRepo;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::{IdP, TenantP};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, CallEvent, LiveCall};

/// Ring an extension, then dial a number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickToCall {
    /// The agent's extension, rung first. Agent keys may use only their own.
    pub from_extension: String,
    /// The number (or extension) dialled once the agent answers.
    pub to: String,
}

/// The call started by click-to-call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallStarted {
    pub call_id: String,
}

/// Live calls (an agent sees only its own).
#[utoipa::path(get, path = "/api/tenants/{tenant}/calls", tag = "calls", params(TenantP),
    responses((status = 200, body = [LiveCall]), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<LiveCall>>> {
    let scope = c.scope(&s, &p.tenant, Need::OwnCalls)?;
    let mut calls = s.live.list(scope.id());
    if let Some(ext) = scope.agent_filter()? {
        calls.retain(|call| call.involves(ext));
    }
    Ok(Json(calls))
}

/// Start a click-to-call: ring `from_extension`, then dial `to`.
#[utoipa::path(post, path = "/api/tenants/{tenant}/calls", tag = "calls", params(TenantP),
    request_body = ClickToCall,
    responses((status = 202, body = CallStarted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the call engine refused")))]
pub(crate) async fn click_to_call(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<ClickToCall>,
) -> ApiResult<(StatusCode, Json<CallStarted>)> {
    let scope = c.scope(&s, &p.tenant, Need::OwnCalls)?;
    if let Some(own) = scope.agent_filter()?
        && own != body.from_extension
    {
        return Err(ApiError::forbidden(format!(
            "an agent key may call only from its own extension ({own})"
        )));
    }
    if s.store
        .get_extension(scope.id(), &body.from_extension)
        .ok()
        .flatten()
        .is_none()
    {
        return Err(ApiError::validation(
            "from_extension",
            format!(
                "{:?} is not an extension of this tenant",
                body.from_extension
            ),
        ));
    }
    let to = body.to.trim();
    let dialable = !to.is_empty()
        && to.len() <= 32
        && to
            .char_indices()
            .all(|(i, ch)| ch.is_ascii_digit() || ch == '*' || ch == '#' || (i == 0 && ch == '+'));
    if !dialable {
        return Err(ApiError::validation(
            "to",
            format!("{to:?} is not a number to dial (digits, optional leading +, * and #)"),
        ));
    }
    match s.live.click_to_call(scope.id(), &body.from_extension, to) {
        Ok(call_id) => Ok((StatusCode::ACCEPTED, Json(CallStarted { call_id }))),
        Err(why) => Err(ApiError::unavailable(why)),
    }
}

/// Hang up a live call.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/calls/{id}", tag = "calls", params(IdP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn hangup(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<StatusCode> {
    let scope = c.scope(&s, &p.tenant, Need::Operate)?;
    if s.live.hangup(scope.id(), &p.id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no live call {:?}", p.id)))
    }
}

fn sse_event(ev: &CallEvent) -> Event {
    Event::default()
        .event(ev.kind.clone())
        .id(format!("{}:{}", ev.at_ms, ev.call_id))
        .json_data(ev)
        // A CallEvent always serializes; keep the stream alive regardless.
        .unwrap_or_else(|_| Event::default().event("error"))
}

/// The tenant's call events as server-sent events; the SSE event name is
/// the event's `kind`, the data its JSON. A client too slow to keep up gets
/// a `lagged` event with the number of events it missed.
fn events_stream(
    rx: tokio::sync::broadcast::Receiver<CallEvent>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(ev) => Some((Ok(sse_event(&ev)), rx)),
            Err(RecvError::Lagged(n)) => {
                Some((Ok(Event::default().event("lagged").data(n.to_string())), rx))
            }
            Err(RecvError::Closed) => None,
        }
    })
}

/// Stream of the tenant's call events (server-sent events).
#[utoipa::path(get, path = "/api/tenants/{tenant}/events", tag = "calls", params(TenantP),
    responses((status = 200, content_type = "text/event-stream", body = CallEvent,
            description = "one SSE event per call event"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let scope = c.scope(&s, &p.tenant, Need::Read)?;
    let rx = s.live.subscribe(scope.id());
    Ok(Sse::new(events_stream(rx)).keep_alive(KeepAlive::default()))
}
