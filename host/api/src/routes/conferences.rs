//! `/api/tenants/{tenant}/conferences`: conference rooms — their settings
//! (admin), and the rooms in use: participants, mute, removal, lock, and
//! dialling somebody in (supervisor, admin, or the room's moderator with
//! an agent key of their own extension).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{ConferenceRepo, ConferenceRoom, Feature};
use utoipa::{IntoParams, ToSchema};

use super::{NameP, TenantP, changed, deleted};
use crate::auth::{Caller, Need, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;
use crate::{ApiState, LiveRoom, plan_gate};

/// A room's settings (every field optional: the default is shown).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConferenceBody {
    /// 1 to 12 digits a participant keys in (then `#`); moderators need
    /// none. Absent: no PIN.
    #[serde(default)]
    pub pin: Option<String>,
    /// Extensions that join as moderators.
    #[serde(default)]
    pub moderators: Vec<String>,
    /// Most participants at once (0: no limit).
    #[serde(default)]
    pub max_participants: u32,
    /// Participants other than moderators join muted (false).
    #[serde(default)]
    pub muted_on_join: bool,
    /// Until a moderator joins, the others hear music (false).
    #[serde(default)]
    pub wait_for_moderator: bool,
    /// When the last moderator leaves, everybody is hung up (false).
    #[serde(default)]
    pub end_when_moderator_leaves: bool,
    /// A joining participant hears how many are in the room (true).
    #[serde(default = "yes")]
    pub announce_count: bool,
    /// A tone when somebody joins or leaves (true).
    #[serde(default = "yes")]
    pub tones: bool,
    /// Recorded as one mixed file, with the tenant's recording feature
    /// (true).
    #[serde(default = "yes")]
    pub record: bool,
}

fn yes() -> bool {
    true
}

/// A room: its settings, and who is in it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConferenceView {
    pub name: String,
    #[serde(flatten)]
    pub settings: ConferenceBody,
    /// Whether the tenant configured it (a room used without settings has
    /// the defaults).
    pub configured: bool,
    /// In use now.
    pub live: Option<LiveRoom>,
}

fn body(r: ConferenceRoom) -> ConferenceBody {
    ConferenceBody {
        pin: r.pin,
        moderators: r.moderators,
        max_participants: r.max_participants,
        muted_on_join: r.muted_on_join,
        wait_for_moderator: r.wait_for_moderator,
        end_when_moderator_leaves: r.end_when_moderator_leaves,
        announce_count: r.announce_count,
        tones: r.tones,
        record: r.record,
    }
}

/// `{tenant}/conferences/{name}/participants/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ParticipantP {
    /// Tenant id.
    pub tenant: String,
    /// The room.
    pub name: String,
    /// The participant's call id.
    pub id: String,
}

/// Somebody to dial into the room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    /// An extension of the tenant (its phone rings, showing the room), or
    /// a number (called through the tenant's trunk).
    pub to: String,
}

/// The new participant's call.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dialling {
    pub call_id: String,
}

/// Rooms: configured ones and those in use.
#[utoipa::path(get, path = "/api/tenants/{tenant}/conferences", tag = "conferences",
    params(TenantP),
    responses((status = 200, body = [ConferenceView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<ConferenceView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    plan_gate::require(&s, &scope.tenant, Feature::Conferences)?;
    let mut live = s.live.conferences(scope.id());
    let mut out: Vec<ConferenceView> = s
        .store
        .list_conferences(scope.id())?
        .into_iter()
        .map(|r| {
            let i = live.iter().position(|l| l.name == r.name);
            ConferenceView {
                name: r.name.clone(),
                live: i.map(|i| live.swap_remove(i)),
                settings: body(r),
                configured: true,
            }
        })
        .collect();
    for l in live {
        let defaults = ConferenceRoom::new(scope.id(), l.name.clone());
        out.push(ConferenceView {
            name: l.name.clone(),
            settings: body(defaults),
            configured: false,
            live: Some(l),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

/// Create or replace a room's settings (calls in the room keep going;
/// who joins next gets the new settings).
#[utoipa::path(put, path = "/api/tenants/{tenant}/conferences/{name}", tag = "conferences",
    params(NameP), request_body = ConferenceBody,
    responses((status = 200, body = ConferenceBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<ConferenceBody>,
) -> ApiResult<Json<ConferenceBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Conferences)?;
    check_name("name", &p.name)?;
    if b.record {
        plan_gate::require(&s, &scope.tenant, Feature::Recording)?;
    }
    let room = ConferenceRoom {
        pin: b.pin,
        moderators: b.moderators,
        max_participants: b.max_participants,
        muted_on_join: b.muted_on_join,
        wait_for_moderator: b.wait_for_moderator,
        end_when_moderator_leaves: b.end_when_moderator_leaves,
        announce_count: b.announce_count,
        tones: b.tones,
        record: b.record,
        ..ConferenceRoom::new(scope.id(), p.name.clone())
    };
    s.store.put_conference(&room)?;
    changed(&s, scope.id());
    Ok(Json(body(room)))
}

/// Remove a room's settings.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/conferences/{name}", tag = "conferences",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    plan_gate::require(&s, &scope.tenant, Feature::Conferences)?;
    let r = deleted(s.store.delete_conference(scope.id(), &p.name), || {
        format!("conference room {:?}", p.name)
    })?;
    changed(&s, scope.id());
    Ok(r)
}

/// The room in use, for a caller who may run it: supervisor and admin
/// keys, or an agent key whose extension moderates in the room now.
fn moderated(s: &ApiState, caller: &Caller, tenant: &str, room: &str) -> ApiResult<Scope> {
    let scope = caller.scope(s, tenant, Need::OwnCalls)?;
    plan_gate::require(s, &scope.tenant, Feature::Conferences)?;
    let live = s.live.conferences(scope.id());
    let room_now = live.iter().find(|r| r.name == room);
    if let Some(ext) = scope.agent_filter()? {
        let moderates = room_now.is_some_and(|r| {
            r.participants
                .iter()
                .any(|p| p.moderator && p.caller == ext)
        });
        if !moderates {
            return Err(ApiError::forbidden(
                "an agent key runs a room only while its extension moderates in it",
            ));
        }
    }
    if room_now.is_none() {
        return Err(ApiError::not_found(format!(
            "conference room {room:?} is not in use"
        )));
    }
    Ok(scope)
}

/// Who is in the room now.
#[utoipa::path(get, path = "/api/tenants/{tenant}/conferences/{name}/participants",
    tag = "conferences", params(NameP),
    responses((status = 200, body = LiveRoom), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn participants(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<LiveRoom>> {
    let scope = moderated(&s, &caller, &p.tenant, &p.name)?;
    let room = s
        .live
        .conferences(scope.id())
        .into_iter()
        .find(|r| r.name == p.name)
        .ok_or_else(|| {
            ApiError::not_found(format!("conference room {:?} is not in use", p.name))
        })?;
    Ok(Json(room))
}

/// Dial somebody into the room — an extension, or a number through the
/// tenant's trunk; answered, they join (no PIN: they were invited).
#[utoipa::path(post, path = "/api/tenants/{tenant}/conferences/{name}/participants",
    tag = "conferences", params(NameP), request_body = AddParticipant,
    responses((status = 202, body = Dialling), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn add(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<AddParticipant>,
) -> ApiResult<(StatusCode, Json<Dialling>)> {
    let scope = moderated(&s, &caller, &p.tenant, &p.name)?;
    let call_id = s
        .live
        .conference_add(scope.id(), &p.name, &b.to)
        .map_err(|why| ApiError::validation("to", why))?;
    Ok((StatusCode::ACCEPTED, Json(Dialling { call_id })))
}

fn participant_not_found(p: &ParticipantP) -> ApiError {
    ApiError::not_found(format!(
        "no participant {:?} in conference room {:?}",
        p.id, p.name
    ))
}

/// Mute a participant: nobody hears them until unmuted.
#[utoipa::path(post, path = "/api/tenants/{tenant}/conferences/{name}/participants/{id}/mute",
    tag = "conferences", params(ParticipantP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn mute(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<ParticipantP>,
) -> ApiResult<StatusCode> {
    set_mute(&s, &caller, &p, true)
}

/// Unmute a participant.
#[utoipa::path(post, path = "/api/tenants/{tenant}/conferences/{name}/participants/{id}/unmute",
    tag = "conferences", params(ParticipantP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn unmute(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<ParticipantP>,
) -> ApiResult<StatusCode> {
    set_mute(&s, &caller, &p, false)
}

fn set_mute(s: &ApiState, caller: &Caller, p: &ParticipantP, muted: bool) -> ApiResult<StatusCode> {
    let scope = moderated(s, caller, &p.tenant, &p.name)?;
    if s.live.conference_mute(scope.id(), &p.name, &p.id, muted) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(participant_not_found(p))
    }
}

/// Remove a participant from the room: their call ends.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/conferences/{name}/participants/{id}",
    tag = "conferences", params(ParticipantP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn kick(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<ParticipantP>,
) -> ApiResult<StatusCode> {
    let scope = moderated(&s, &caller, &p.tenant, &p.name)?;
    if s.live.conference_kick(scope.id(), &p.name, &p.id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(participant_not_found(&p))
    }
}

/// Lock the room: only moderators join until it is unlocked.
#[utoipa::path(post, path = "/api/tenants/{tenant}/conferences/{name}/lock", tag = "conferences",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn lock(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    set_lock(&s, &caller, &p, true)
}

/// Unlock the room.
#[utoipa::path(post, path = "/api/tenants/{tenant}/conferences/{name}/unlock", tag = "conferences",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn unlock(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    set_lock(&s, &caller, &p, false)
}

fn set_lock(s: &ApiState, caller: &Caller, p: &NameP, locked: bool) -> ApiResult<StatusCode> {
    let scope = moderated(s, caller, &p.tenant, &p.name)?;
    if s.live.conference_lock(scope.id(), &p.name, locked) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "conference room {:?} is not in use",
            p.name
        )))
    }
}
