//! `/api/tenants/{tenant}/extensions`. A password given here is turned into
//! the digest HA1 hashes at once (realm: the tenant's first domain) and
//! dropped; neither the password nor the hashes are ever returned.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_sip::auth::StoredCredentials;
use switchyard_store::{Extension, ExtensionRepo, Tenant, validate_extension};
use utoipa::ToSchema;

use super::{NumberP, TenantP, changed, deleted, found};
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, plan_gate};
use switchyard_clock::unix_ms;

/// Passwords shorter than this are refused: SIP digest is brute-forced
/// online all day long.
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// An extension as the API shows it (no credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionView {
    pub number: String,
    pub display_name: Option<String>,
    pub voicemail: bool,
    pub created_at_ms: u64,
    /// The extension's pickup group: `*8` from this extension takes a
    /// call ringing another member of the group. Absent: `*8` takes a
    /// call ringing another member of a ring group it is in.
    pub pickup_group: Option<String>,
    /// The phone may supervise the tenant's calls (`*55` + an agent's
    /// extension: listen, whisper, barge).
    pub supervisor: bool,
    /// Voicemail left for this extension (or a group it is in) is e-mailed
    /// here, the message attached.
    pub email: Option<String>,
    /// Calls to this extension that end unanswered are e-mailed too.
    pub missed_call_email: bool,
    /// SRTP for the phone's media (SDES keys, `RTP/SAVP`): `off` (plain
    /// RTP only, the default), `optional` (SRTP when the phone offers it,
    /// plain otherwise) or `required` (the host offers `RTP/SAVP` and
    /// refuses plain media with 488).
    pub srtp: String,
}

impl From<Extension> for ExtensionView {
    fn from(e: Extension) -> ExtensionView {
        ExtensionView {
            number: e.number,
            display_name: e.display_name,
            voicemail: e.voicemail,
            created_at_ms: e.created_at_ms,
            pickup_group: e.pickup_group,
            supervisor: e.supervisor,
            email: e.email,
            missed_call_email: e.missed_call_email,
            srtp: e.srtp,
        }
    }
}

/// A new extension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionCreate {
    /// 2 to 15 digits.
    pub number: String,
    /// SIP password, 8 to 128 characters. Stored only as digest hashes.
    pub password: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub voicemail: bool,
    /// The pickup group (1 to 128 bytes, no '/'); absent: none.
    pub pickup_group: Option<String>,
    /// The phone may supervise the tenant's calls (`*55` + EXT).
    #[serde(default)]
    pub supervisor: bool,
    /// One plain address (`local@domain`): voicemail for this extension
    /// (or a group it is in) is e-mailed there, the message attached, when
    /// the operator has configured an SMTP relay.
    pub email: Option<String>,
    /// Also e-mail calls to this extension that end unanswered.
    #[serde(default)]
    pub missed_call_email: bool,
    /// SRTP for the phone's media (SDES keys, `RTP/SAVP`): `off` (plain
    /// RTP only, the default), `optional` (SRTP when the phone offers it,
    /// plain otherwise) or `required` (the host offers `RTP/SAVP` and
    /// refuses plain media with 488).
    #[serde(default = "d_srtp")]
    pub srtp: String,
}

fn d_srtp() -> String {
    "off".into()
}

/// Changes to an extension; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionUpdate {
    pub password: Option<String>,
    pub display_name: Option<String>,
    pub voicemail: Option<bool>,
    /// A group name, or `""` to leave the pickup group.
    pub pickup_group: Option<String>,
    pub supervisor: Option<bool>,
    /// An address, or `""` to send no more e-mail.
    pub email: Option<String>,
    pub missed_call_email: Option<bool>,
    /// `off`, `optional` or `required`.
    pub srtp: Option<String>,
}

/// `srtp` is `off`, `optional` or `required` (a 400 that says so).
pub(crate) fn validate_srtp(srtp: &str) -> ApiResult<()> {
    if switchyard_store::SRTP_POLICIES.contains(&srtp) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "srtp",
            format!("{srtp:?} is not one of \"off\", \"optional\", \"required\""),
        ))
    }
}

fn hashes(tenant: &Tenant, number: &str, password: &str) -> ApiResult<StoredCredentials> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(ApiError::validation(
            "password",
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    let realm = tenant.domains.first().ok_or_else(|| {
        ApiError::conflict("the tenant has no SIP domain, which is the realm of its passwords")
    })?;
    Ok(StoredCredentials::from_password(number, realm, password))
}

/// List extensions.
#[utoipa::path(get, path = "/api/tenants/{tenant}/extensions", tag = "extensions",
    params(TenantP),
    responses((status = 200, body = [ExtensionView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<ExtensionView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let list = s.store.list_extensions(scope.id())?;
    Ok(Json(list.into_iter().map(ExtensionView::from).collect()))
}

/// Create an extension.
#[utoipa::path(post, path = "/api/tenants/{tenant}/extensions", tag = "extensions",
    params(TenantP), request_body = ExtensionCreate,
    responses((status = 201, body = ExtensionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<ExtensionCreate>,
) -> ApiResult<(StatusCode, Json<ExtensionView>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    validate_extension(&body.number)?;
    if s.store.get_extension(scope.id(), &body.number)?.is_some() {
        return Err(ApiError::conflict(format!(
            "extension {} already exists",
            body.number
        )));
    }
    let e = plan_gate::entitlements(&s, &scope.tenant)?;
    let have = s.store.list_extensions(scope.id())?.len();
    plan_gate::require_room(
        &e,
        "extensions",
        "max_extensions",
        e.limits.max_extensions,
        have,
    )?;
    let creds = hashes(&scope.tenant, &body.number, &body.password)?;
    let ext = Extension {
        tenant: scope.id().to_string(),
        number: body.number,
        display_name: body.display_name,
        ha1_md5: creds.ha1_md5,
        ha1_sha256: creds.ha1_sha256,
        voicemail: body.voicemail,
        created_at_ms: unix_ms(),
        pickup_group: body.pickup_group,
        supervisor: body.supervisor,
        email: body.email,
        missed_call_email: body.missed_call_email,
        srtp: body.srtp,
    };
    validate_srtp(&ext.srtp)?;
    s.store.put_extension(&ext)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(ext.into())))
}

fn load(s: &ApiState, tenant: &str, number: &str) -> ApiResult<Extension> {
    found(s.store.get_extension(tenant, number), || {
        format!("extension {number:?}")
    })
}

/// Read an extension.
#[utoipa::path(get, path = "/api/tenants/{tenant}/extensions/{number}", tag = "extensions",
    params(NumberP),
    responses((status = 200, body = ExtensionView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
) -> ApiResult<Json<ExtensionView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    Ok(Json(load(&s, scope.id(), &p.number)?.into()))
}

/// Change an extension (password, display name, voicemail, pickup group,
/// supervisor, e-mail).
#[utoipa::path(patch, path = "/api/tenants/{tenant}/extensions/{number}", tag = "extensions",
    params(NumberP), request_body = ExtensionUpdate,
    responses((status = 200, body = ExtensionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
    ApiJson(body): ApiJson<ExtensionUpdate>,
) -> ApiResult<Json<ExtensionView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let mut ext = load(&s, scope.id(), &p.number)?;
    if let Some(pw) = &body.password {
        let creds = hashes(&scope.tenant, &ext.number, pw)?;
        ext.ha1_md5 = creds.ha1_md5;
        ext.ha1_sha256 = creds.ha1_sha256;
    }
    if let Some(d) = body.display_name {
        ext.display_name = Some(d);
    }
    if let Some(v) = body.voicemail {
        ext.voicemail = v;
    }
    if let Some(g) = body.pickup_group {
        ext.pickup_group = (!g.is_empty()).then_some(g);
    }
    if let Some(v) = body.supervisor {
        ext.supervisor = v;
    }
    if let Some(e) = body.email {
        ext.email = (!e.is_empty()).then_some(e);
    }
    if let Some(v) = body.missed_call_email {
        ext.missed_call_email = v;
    }
    if let Some(v) = body.srtp {
        validate_srtp(&v)?;
        ext.srtp = v;
    }
    s.store.put_extension(&ext)?;
    changed(&s, scope.id());
    Ok(Json(ext.into()))
}

/// Delete an extension.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/extensions/{number}", tag = "extensions",
    params(NumberP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let r = deleted(s.store.delete_extension(scope.id(), &p.number), || {
        format!("extension {:?}", p.number)
    })?;
    changed(&s, scope.id());
    Ok(r)
}
