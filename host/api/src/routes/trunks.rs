//! `/api/tenants/{tenant}/trunks`: SIP trunks to carriers. The password is
//! write-only: responses say whether one is set, never what it is.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{Trunk, TrunkRepo};
use utoipa::ToSchema;

use super::{NameP, TenantP, changed, deleted, found};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;
use crate::trunk_policy::{check_private, check_registered};
use switchyard_clock::unix_ms;

/// A trunk's settings, as sent. On `PUT`, an absent `password` keeps the
/// stored one and an empty one removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkBody {
    /// Only on create; on `PUT` the path names the trunk.
    pub name: Option<String>,
    /// `host[:port]` of the carrier.
    pub host: String,
    /// `udp` (default), `tcp` or `tls`.
    #[serde(default = "d_transport")]
    pub transport: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Register to the carrier.
    #[serde(default)]
    pub register: bool,
    /// Registration lifetime, seconds (default 3600).
    #[serde(default = "d_expires")]
    pub register_expires: u32,
    pub from_domain: Option<String>,
    /// 0 = no limit of its own (the tenant's applies).
    #[serde(default)]
    pub max_concurrent_calls: u32,
    #[serde(default)]
    pub max_calls_per_second: u32,
    /// The number presented on outbound calls.
    pub caller_id: Option<String>,
    #[serde(default)]
    pub allow_caller_id_passthrough: bool,
    /// IP addresses (`ip` or `ip:port`) allowed to send inbound calls on
    /// this trunk. One tenant's only: an address another tenant's trunk or
    /// registered phone uses is a 409. Loopback, private, link-local and
    /// unspecified addresses (here and in `host`) are a 403 for tenant keys
    /// unless the operator allows private trunks.
    #[serde(default)]
    pub inbound_addresses: Vec<String>,
    /// SRTP for the carrier's media (SDES keys, `RTP/SAVP`): `off` (the
    /// default), `optional` (SRTP when the carrier offers it) or
    /// `required` (the host offers `RTP/SAVP` and refuses plain media
    /// with 488).
    #[serde(default = "d_srtp")]
    pub srtp: String,
}

fn d_srtp() -> String {
    "off".into()
}

fn d_transport() -> String {
    "udp".into()
}
fn d_expires() -> u32 {
    3600
}

/// A trunk as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkView {
    pub name: String,
    pub host: String,
    pub transport: String,
    pub username: Option<String>,
    /// Whether a password is stored (it is never shown).
    pub has_password: bool,
    pub register: bool,
    pub register_expires: u32,
    pub from_domain: Option<String>,
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    pub caller_id: Option<String>,
    pub allow_caller_id_passthrough: bool,
    pub inbound_addresses: Vec<String>,
    /// `off`, `optional` or `required`.
    pub srtp: String,
}

impl From<Trunk> for TrunkView {
    fn from(t: Trunk) -> TrunkView {
        TrunkView {
            name: t.name,
            host: t.host,
            transport: t.transport,
            username: t.username,
            has_password: t.password.is_some(),
            register: t.register,
            register_expires: t.register_expires,
            from_domain: t.from_domain,
            max_concurrent_calls: t.max_concurrent_calls,
            max_calls_per_second: t.max_calls_per_second,
            caller_id: t.caller_id,
            allow_caller_id_passthrough: t.allow_caller_id_passthrough,
            inbound_addresses: t.inbound_addresses,
            srtp: t.srtp,
        }
    }
}

/// The operator, or anyone when the operator allows private trunks.
fn may_use_private(caller: &Caller, s: &ApiState) -> bool {
    s.allow_private_trunks || matches!(caller, Caller::Operator)
}

fn build(
    tenant: &str,
    name: String,
    b: TrunkBody,
    old_password: Option<String>,
) -> ApiResult<Trunk> {
    if !matches!(b.transport.as_str(), "udp" | "tcp" | "tls") {
        return Err(ApiError::validation(
            "transport",
            format!("{:?} is not udp, tcp or tls", b.transport),
        ));
    }
    super::extensions::validate_srtp(&b.srtp)?;
    let password = match b.password {
        None => old_password,
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p),
    };
    Ok(Trunk {
        tenant: tenant.to_string(),
        name,
        host: b.host,
        transport: b.transport,
        username: b.username,
        password,
        register: b.register,
        register_expires: b.register_expires,
        from_domain: b.from_domain,
        max_concurrent_calls: b.max_concurrent_calls,
        max_calls_per_second: b.max_calls_per_second,
        caller_id: b.caller_id,
        allow_caller_id_passthrough: b.allow_caller_id_passthrough,
        inbound_addresses: b.inbound_addresses,
        srtp: b.srtp,
    })
}

/// List trunks.
#[utoipa::path(get, path = "/api/tenants/{tenant}/trunks", tag = "trunks", params(TenantP),
    responses((status = 200, body = [TrunkView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<TrunkView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let list = s.store.list_trunks(scope.id())?;
    Ok(Json(list.into_iter().map(TrunkView::from).collect()))
}

/// Add a trunk.
#[utoipa::path(post, path = "/api/tenants/{tenant}/trunks", tag = "trunks", params(TenantP),
    request_body = TrunkBody,
    responses((status = 201, body = TrunkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(mut body): ApiJson<TrunkBody>,
) -> ApiResult<(StatusCode, Json<TrunkView>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let name = body
        .name
        .take()
        .ok_or_else(|| ApiError::validation("name", "is required"))?;
    check_name("name", &name)?;
    if s.store.get_trunk(scope.id(), &name)?.is_some() {
        return Err(ApiError::conflict(format!("trunk {name:?} already exists")));
    }
    let t = build(scope.id(), name, body, None)?;
    check_private(&t, None, may_use_private(&caller, &s))?;
    check_registered(&s.store, &t, unix_ms())?;
    s.store.put_trunk(&t)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Read a trunk.
#[utoipa::path(get, path = "/api/tenants/{tenant}/trunks/{name}", tag = "trunks", params(NameP),
    responses((status = 200, body = TrunkView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<TrunkView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let t = found(s.store.get_trunk(scope.id(), &p.name), || {
        format!("trunk {:?}", p.name)
    })?;
    Ok(Json(t.into()))
}

/// Replace a trunk's settings.
#[utoipa::path(put, path = "/api/tenants/{tenant}/trunks/{name}", tag = "trunks", params(NameP),
    request_body = TrunkBody,
    responses((status = 200, body = TrunkView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<TrunkBody>,
) -> ApiResult<Json<TrunkView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let old = found(s.store.get_trunk(scope.id(), &p.name), || {
        format!("trunk {:?}", p.name)
    })?;
    if body.name.as_deref().is_some_and(|n| n != p.name) {
        return Err(ApiError::validation(
            "name",
            "differs from the trunk in the path",
        ));
    }
    let t = build(scope.id(), old.name.clone(), body, old.password.clone())?;
    check_private(&t, Some(&old), may_use_private(&caller, &s))?;
    check_registered(&s.store, &t, unix_ms())?;
    s.store.put_trunk(&t)?;
    changed(&s, scope.id());
    Ok(Json(t.into()))
}

/// Remove a trunk.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/trunks/{name}", tag = "trunks", params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let r = deleted(s.store.delete_trunk(scope.id(), &p.name), || {
        format!("trunk {:?}", p.name)
    })?;
    changed(&s, scope.id());
    Ok(r)
}
