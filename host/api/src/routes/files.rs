//! Recordings and voicemails (list, download, delete) and prompts (the
//! same plus upload), all through `FileRepo`. Recordings and voicemails are
//! written by the call engine; admins and supervisors read them, admins
//! delete them.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchyard_store::{FileRecord, FileRepo, StoreError};
use utoipa::ToSchema;

use super::{IdP, NameP, TenantP, deleted, found};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiPath, ApiResult, ErrorBody, read_limited};
use crate::names::check_name;
use crate::{ApiState, PROMPT_BODY_LIMIT, wav};
use switchyard_clock::unix_ms;

/// A stored file's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub created_at_ms: u64,
    /// Kind-specific details (e.g. a prompt's `encoding`, `duration_ms`;
    /// a recording's call id).
    pub meta: BTreeMap<String, String>,
}

impl From<FileRecord> for FileView {
    fn from(f: FileRecord) -> FileView {
        FileView {
            id: f.id,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            created_at_ms: f.created_at_ms,
            meta: f.meta,
        }
    }
}

fn list_kind(s: &ApiState, c: &Caller, tenant: &str, kind: &str) -> ApiResult<Vec<FileView>> {
    let scope = c.scope(s, tenant, Need::Read)?;
    let files = s.store.list_files(scope.id(), kind)?;
    Ok(files.into_iter().map(FileView::from).collect())
}

/// Who may download a file of a kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Readers {
    /// Admins and supervisors.
    Staff,
    /// Also an agent, for a file of a call they took (its `agent`).
    StaffAndItsAgent,
}

async fn download(
    s: &ApiState,
    c: &Caller,
    tenant: &str,
    kind: &str,
    id: &str,
    readers: Readers,
) -> ApiResult<Response> {
    let need = match readers {
        Readers::Staff => Need::Read,
        Readers::StaffAndItsAgent => Need::OwnCalls,
    };
    let scope = c.scope(s, tenant, need)?;
    let (rec, path) = found(s.store.get_file(scope.id(), kind, id), || {
        format!("{kind} {id:?}")
    })?;
    // Another agent's recording is as missing as one that never was.
    if let Some(ext) = scope.agent_filter()?
        && rec.meta.get("agent").map(String::as_str) != Some(ext)
    {
        return Err(ApiError::not_found(format!("no {kind} {id:?}")));
    }
    // Blocking file I/O off the async workers (tokio's `fs` is not enabled).
    let shown = path.display().to_string();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("reading {shown}: {e}")))?;
    // The stored name is user-supplied: keep only harmless characters in
    // the header.
    let safe: String = rec
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    let safe = if safe.is_empty() {
        rec.id.clone()
    } else {
        safe
    };
    Ok((
        [
            (CONTENT_TYPE, rec.content_type),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn delete_kind(
    s: &ApiState,
    c: &Caller,
    tenant: &str,
    kind: &str,
    id: &str,
) -> ApiResult<StatusCode> {
    let scope = c.scope(s, tenant, Need::Write)?;
    deleted(s.store.delete_file(scope.id(), kind, id), || {
        format!("{kind} {id:?}")
    })
}

/// List recordings.
#[utoipa::path(get, path = "/api/tenants/{tenant}/recordings", tag = "files", params(TenantP),
    responses((status = 200, body = [FileView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_recordings(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<FileView>>> {
    list_kind(&s, &c, &p.tenant, "recording").map(Json)
}

/// Download a recording. Agents may download the recordings of the calls
/// they took (and no other).
#[utoipa::path(get, path = "/api/tenants/{tenant}/recordings/{id}", tag = "files", params(IdP),
    responses((status = 200, description = "the audio", content_type = "audio/wav"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_recording(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<Response> {
    download(
        &s,
        &c,
        &p.tenant,
        "recording",
        &p.id,
        Readers::StaffAndItsAgent,
    )
    .await
}

/// Delete a recording.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/recordings/{id}", tag = "files", params(IdP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_recording(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<StatusCode> {
    delete_kind(&s, &c, &p.tenant, "recording", &p.id)
}

/// List voicemails.
#[utoipa::path(get, path = "/api/tenants/{tenant}/voicemails", tag = "files", params(TenantP),
    responses((status = 200, body = [FileView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_voicemails(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<FileView>>> {
    list_kind(&s, &c, &p.tenant, "voicemail").map(Json)
}

/// Download a voicemail.
#[utoipa::path(get, path = "/api/tenants/{tenant}/voicemails/{id}", tag = "files", params(IdP),
    responses((status = 200, description = "the audio", content_type = "audio/wav"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_voicemail(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<Response> {
    download(&s, &c, &p.tenant, "voicemail", &p.id, Readers::Staff).await
}

/// Delete a voicemail.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/voicemails/{id}", tag = "files", params(IdP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_voicemail(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<StatusCode> {
    delete_kind(&s, &c, &p.tenant, "voicemail", &p.id)
}

/// List prompts.
#[utoipa::path(get, path = "/api/tenants/{tenant}/prompts", tag = "files", params(TenantP),
    responses((status = 200, body = [FileView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_prompts(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<FileView>>> {
    list_kind(&s, &c, &p.tenant, "prompt").map(Json)
}

/// Download a prompt.
#[utoipa::path(get, path = "/api/tenants/{tenant}/prompts/{name}", tag = "files", params(NameP),
    responses((status = 200, description = "the audio", content_type = "audio/wav"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_prompt(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Response> {
    download(&s, &c, &p.tenant, "prompt", &p.name, Readers::Staff).await
}

/// Upload (or replace) a prompt: the raw WAV file as the body, 8000 Hz
/// mono, 16-bit PCM or 8-bit µ-law.
#[utoipa::path(put, path = "/api/tenants/{tenant}/prompts/{name}", tag = "files", params(NameP),
    request_body(content = Vec<u8>, content_type = "audio/wav"),
    responses((status = 201, body = FileView, description = "created"),
        (status = 200, body = FileView, description = "replaced"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody,
            description = "not an accepted audio format, or a name outside the name rule")))]
pub(crate) async fn put_prompt(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    body: Body,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    let scope = c.scope(&s, &p.tenant, Need::Write)?;
    // Before the upload is read: the name alone decides.
    check_name("name", &p.name)?;
    let bytes = read_limited(body, PROMPT_BODY_LIMIT, "the prompt").await?;
    let info = wav::check(&bytes).map_err(ApiError::unprocessable)?;
    let existed = match s.store.get_file(scope.id(), "prompt", &p.name) {
        Ok(r) => r.is_some(),
        Err(StoreError::Invalid { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let rec = FileRecord {
        tenant: scope.id().to_string(),
        kind: "prompt".into(),
        id: p.name.clone(),
        name: format!("{}.wav", p.name),
        content_type: "audio/wav".into(),
        size: 0,
        created_at_ms: unix_ms(),
        meta: BTreeMap::from([
            ("encoding".to_string(), info.encoding.to_string()),
            ("duration_ms".to_string(), info.duration_ms.to_string()),
        ]),
    };
    let stored = s.store.put_file(&rec, &bytes)?;
    super::changed(&s, scope.id());
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(stored.into())))
}

/// Delete a prompt.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/prompts/{name}", tag = "files", params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_prompt(
    c: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let r = delete_kind(&s, &c, &p.tenant, "prompt", &p.name)?;
    super::changed(&s, &p.tenant);
    Ok(r)
}
