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
use crate::{ApiState, CallActionError, CallEvent, LiveCall};

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
        // Supervision is silent: an agent does not see who listens.
        for call in &mut calls {
            call.monitors.clear();
        }
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

/// The API's answer to a refused action; `field` is what an invalid
/// request got wrong.
fn action_error(e: CallActionError, field: &'static str) -> ApiError {
    match e {
        CallActionError::Invalid(why) => ApiError::validation(field, why),
        CallActionError::Forbidden(why) => ApiError::forbidden(why),
        CallActionError::NotFound(why) => ApiError::not_found(why),
        CallActionError::Conflict(why) => ApiError::conflict(why),
    }
}

/// Live call `id` of the scope's tenant, if the key may act on it (an
/// agent key: only its own calls); 404 otherwise.
fn own_call(s: &ApiState, scope: &crate::auth::Scope, id: &str) -> ApiResult<LiveCall> {
    let not_found = || ApiError::not_found(format!("no live call {id:?}"));
    let call = s
        .live
        .list(scope.id())
        .into_iter()
        .find(|call| call.call_id == id)
        .ok_or_else(not_found)?;
    match scope.agent_filter()? {
        Some(ext) if !call.involves(ext) => Err(not_found()),
        _ => Ok(call),
    }
}

/// Who to add to the call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParty {
    /// An extension of the tenant, a number (through the tenant's trunk),
    /// or `queue:NAME`: the queue's agents who are free now ring at once,
    /// the first to answer joins.
    pub to: String,
}

/// Three-way calling: ring a third party into an answered call; when it
/// answers, the three hear each other (the agent may then hang up and
/// leave the other two talking). An agent key may add to its own calls
/// only. From a phone: `*3`, the number, `#` during the call.
#[utoipa::path(post, path = "/api/tenants/{tenant}/calls/{id}/add", tag = "calls",
    params(IdP), request_body = AddParty,
    responses((status = 202, description = "the third party rings"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn add_party(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
    ApiJson(body): ApiJson<AddParty>,
) -> ApiResult<StatusCode> {
    let scope = c.scope(&s, &p.tenant, Need::OwnCalls)?;
    own_call(&s, &scope, &p.id)?;
    s.live
        .add_party(scope.id(), &p.id, &body.to)
        .map_err(|e| action_error(e, "to"))?;
    Ok(StatusCode::ACCEPTED)
}

/// Who supervises, and how.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// The supervisor's extension, whose phones ring (it needs the
    /// supervisor flag); absent: the key's own extension.
    pub supervisor: Option<String>,
    /// `listen` (the default: hears both sides, nobody hears them),
    /// `whisper` (only the agent hears them) or `barge` (all three
    /// talk). The supervisor's keys 4, 5 and 6 switch during the call.
    pub mode: Option<String>,
}

/// Supervise a live call: the supervisor's phones ring, and the first to
/// answer joins the call in the mode asked for. Supervisor and admin keys
/// only (403 for agent keys, and for extensions without the supervisor
/// flag); 404 for a call that is not the tenant's; 409 when the call has
/// no agent yet. The `monitoring` event tells when they joined.
#[utoipa::path(post, path = "/api/tenants/{tenant}/calls/{id}/monitor", tag = "calls",
    params(IdP), request_body = Monitor,
    responses((status = 202, description = "the supervisor's phones ring"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn monitor(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
    ApiJson(body): ApiJson<Monitor>,
) -> ApiResult<StatusCode> {
    let scope = c.scope(&s, &p.tenant, Need::Operate)?;
    let supervisor = body
        .supervisor
        .or_else(|| scope.extension.clone())
        .ok_or_else(|| {
            ApiError::validation("supervisor", "the supervisor's extension is required")
        })?;
    let mode = body.mode.as_deref().unwrap_or("listen");
    if !["listen", "whisper", "barge"].contains(&mode) {
        return Err(ApiError::validation(
            "mode",
            format!("{mode:?} is not one of listen, whisper, barge"),
        ));
    }
    s.live
        .monitor(scope.id(), &p.id, &supervisor, mode)
        .map_err(|e| action_error(e, "supervisor"))?;
    Ok(StatusCode::ACCEPTED)
}

/// Where to send the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// `queue:NAME` (the caller waits again in that queue, with the call's
    /// priority) or an extension (its phones ring; nobody answering goes
    /// back to the flow).
    pub to: String,
}

/// Transfer a live call's caller away from its agent: the agent's leg
/// ends (their wrap-up starts), the recording pauses and goes on in the
/// same file when the next agent answers. An agent key may transfer only
/// its own calls.
#[utoipa::path(post, path = "/api/tenants/{tenant}/calls/{id}/transfer", tag = "calls",
    params(IdP), request_body = Transfer,
    responses((status = 202, description = "the call is being transferred"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn transfer(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
    ApiJson(body): ApiJson<Transfer>,
) -> ApiResult<StatusCode> {
    let scope = c.scope(&s, &p.tenant, Need::OwnCalls)?;
    own_call(&s, &scope, &p.id)?;
    s.live
        .transfer(scope.id(), &p.id, &body.to)
        .map_err(|why| ApiError::validation("to", why))?;
    Ok(StatusCode::ACCEPTED)
}

fn sse_event(ev: &CallEvent) -> Event {
    Event::default()
        .event(ev.kind.clone())
        .id(format!("{}:{}", ev.at_ms, ev.call_id))
        .json_data(ev)
        // A CallEvent always serializes; keep the stream alive regardless.
        .unwrap_or_else(|_| Event::default().event("error"))
}

/// What an agent key may see of the tenant's events: its own offers (the
/// screen pop), its own state changes, and the events of calls it takes
/// part in (offered to it, or live with it as caller, callee or agent).
struct AgentView {
    extension: String,
    tenant: String,
    live: std::sync::Arc<dyn crate::LiveCalls>,
    /// Calls of this agent seen so far (forgotten when they end).
    calls: std::collections::HashSet<String>,
}

impl AgentView {
    fn shows(&mut self, ev: &CallEvent) -> bool {
        let detail = ev.detail.as_deref().unwrap_or_default();
        if ev.kind == "offered" {
            let to_me = serde_json::from_str::<serde_json::Value>(detail)
                .ok()
                .is_some_and(|d| d["agent"] == self.extension.as_str());
            if to_me {
                self.calls.insert(ev.call_id.clone());
            }
            return to_me;
        }
        if ev.kind == "monitoring" {
            // Supervision is silent: not shown to the agent supervised.
            return false;
        }
        if ev.kind.starts_with("agent-") {
            return detail.split(' ').next() == Some(self.extension.as_str());
        }
        let mine = self.calls.contains(&ev.call_id)
            || self
                .live
                .list(&self.tenant)
                .iter()
                .any(|c| c.call_id == ev.call_id && c.involves(&self.extension));
        if mine {
            if ev.kind == "ended" {
                self.calls.remove(&ev.call_id);
            } else {
                self.calls.insert(ev.call_id.clone());
            }
        }
        mine
    }
}

/// The tenant's call events as server-sent events; the SSE event name is
/// the event's `kind`, the data its JSON. A client too slow to keep up gets
/// a `lagged` event with the number of events it missed. An agent key's
/// stream has only what [`AgentView`] shows.
fn events_stream(
    rx: tokio::sync::broadcast::Receiver<CallEvent>,
    agent: Option<AgentView>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((rx, agent), |(mut rx, mut agent)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if agent.as_mut().is_some_and(|a| !a.shows(&ev)) {
                        continue;
                    }
                    return Some((Ok(sse_event(&ev)), (rx, agent)));
                }
                Err(RecvError::Lagged(n)) => {
                    let e = Event::default().event("lagged").data(n.to_string());
                    return Some((Ok(e), (rx, agent)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// Stream of the tenant's call events (server-sent events): `started`,
/// a state the call entered (`ringing`, `queued`, `ivr`, `voicemail`,
/// `answered`), `ended`; `offered` when a queue offers a call to an agent
/// (detail: JSON with `agent`, `queue`, `waited_secs`, `tags`, `caller`,
/// `caller_name`, `contact` — the screen pop); `agent-available`,
/// `agent-paused`, … when an agent changes state (detail: the agent, then
/// the reason). An agent key gets only its own offers, its own state
/// changes and the events of calls it takes part in.
#[utoipa::path(get, path = "/api/tenants/{tenant}/events", tag = "calls", params(TenantP),
    responses((status = 200, content_type = "text/event-stream", body = CallEvent,
            description = "one SSE event per call event"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let scope = c.scope(&s, &p.tenant, Need::OwnCalls)?;
    let agent = scope.agent_filter()?.map(|ext| AgentView {
        extension: ext.to_string(),
        tenant: scope.id().to_string(),
        live: s.live.clone(),
        calls: Default::default(),
    });
    let rx = s.live.subscribe(scope.id());
    Ok(Sse::new(events_stream(rx, agent)).keep_alive(KeepAlive::default()))
}
