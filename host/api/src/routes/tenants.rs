//! `/api/tenants`: operator only. Create, read, update (partial), suspend,
//! resume, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{
    ExtensionRepo, Features, StoreError, Tenant, TenantQuota, TenantRepo, default_pause_reasons,
    validate_tenant_id,
};
use utoipa::ToSchema;

use super::{TenantP, changed};
use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use switchyard_clock::unix_ms;

/// What a tenant may use at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    /// Calls in progress at once (default 20).
    #[serde(default = "d_calls")]
    pub max_concurrent_calls: u32,
    /// New calls per second (default 5).
    #[serde(default = "d_cps")]
    pub max_calls_per_second: u32,
    /// Linear memory per plugin instance, MiB (default 32).
    #[serde(default = "d_mem")]
    pub plugin_memory_mib: u32,
    /// Guest CPU per plugin invocation, ms (default 50).
    #[serde(default = "d_cpu")]
    pub plugin_cpu_ms: u32,
}

fn d_calls() -> u32 {
    20
}
fn d_cps() -> u32 {
    5
}
fn d_mem() -> u32 {
    32
}
fn d_cpu() -> u32 {
    50
}

impl Default for LimitsBody {
    fn default() -> Self {
        LimitsBody {
            max_concurrent_calls: d_calls(),
            max_calls_per_second: d_cps(),
            plugin_memory_mib: d_mem(),
            plugin_cpu_ms: d_cpu(),
        }
    }
}

impl From<LimitsBody> for TenantQuota {
    fn from(l: LimitsBody) -> TenantQuota {
        TenantQuota {
            max_concurrent_calls: l.max_concurrent_calls,
            max_calls_per_second: l.max_calls_per_second,
            plugin_memory_mib: l.plugin_memory_mib,
            plugin_cpu_ms: l.plugin_cpu_ms,
        }
    }
}

/// Features enabled for a tenant (all off by default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesBody {
    /// Record answered calls, from the agent's answer.
    pub recording: bool,
    /// One mixed channel instead of stereo (caller left, agent right).
    pub recording_mono: bool,
    pub advanced_ivr: bool,
    pub reporting: bool,
    pub crm: bool,
}

impl From<FeaturesBody> for Features {
    fn from(f: FeaturesBody) -> Features {
        Features {
            recording: f.recording,
            recording_mono: f.recording_mono,
            advanced_ivr: f.advanced_ivr,
            reporting: f.reporting,
            crm: f.crm,
        }
    }
}

/// A tenant as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    /// SIP domains; the first is the digest realm of its extensions.
    pub domains: Vec<String>,
    pub time_zone: String,
    pub limits: LimitsBody,
    pub features: FeaturesBody,
    pub suspended: bool,
    pub created_at_ms: u64,
    /// The reasons an agent may give for a pause.
    pub pause_reasons: Vec<String>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> TenantView {
        TenantView {
            id: t.id,
            name: t.name,
            domains: t.domains,
            time_zone: t.time_zone,
            limits: LimitsBody {
                max_concurrent_calls: t.limits.max_concurrent_calls,
                max_calls_per_second: t.limits.max_calls_per_second,
                plugin_memory_mib: t.limits.plugin_memory_mib,
                plugin_cpu_ms: t.limits.plugin_cpu_ms,
            },
            features: FeaturesBody {
                recording: t.features.recording,
                recording_mono: t.features.recording_mono,
                advanced_ivr: t.features.advanced_ivr,
                reporting: t.features.reporting,
                crm: t.features.crm,
            },
            suspended: t.suspended,
            created_at_ms: t.created_at_ms,
            pause_reasons: t.pause_reasons,
        }
    }
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// Slug `[a-z0-9][a-z0-9-]{0,62}`.
    pub id: String,
    pub name: String,
    /// At least one SIP domain; each belongs to one tenant only.
    pub domains: Vec<String>,
    /// IANA time zone (default `UTC`).
    #[serde(default = "d_tz")]
    pub time_zone: String,
    #[serde(default)]
    pub limits: LimitsBody,
    #[serde(default)]
    pub features: FeaturesBody,
    /// The reasons an agent may give for a pause (default `break`,
    /// `lunch`, `training`, `no-answer`).
    #[serde(default = "default_pause_reasons")]
    pub pause_reasons: Vec<String>,
}

fn d_tz() -> String {
    "UTC".into()
}

/// Changes to a tenant; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub time_zone: Option<String>,
    pub limits: Option<LimitsBody>,
    pub features: Option<FeaturesBody>,
    pub suspended: Option<bool>,
    pub pause_reasons: Option<Vec<String>>,
}

/// `Area/City`-shaped names or `UTC`: a cheap check that catches typos
/// such as an offset or a city alone; the call engine resolves the zone.
fn validate_time_zone(tz: &str) -> ApiResult<()> {
    let ok = tz == "UTC"
        || (tz.contains('/')
            && tz.len() <= 64
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(
            "time_zone",
            format!("{tz:?} is not an IANA time zone name such as Europe/Paris or UTC"),
        ))
    }
}

fn validate_common(name: &str, domains: &[String]) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(ApiError::validation("name", "is empty"));
    }
    if domains.is_empty() {
        return Err(ApiError::validation(
            "domains",
            "at least one SIP domain is needed (the first is the digest realm)",
        ));
    }
    Ok(())
}

/// List tenants.
#[utoipa::path(get, path = "/api/tenants", tag = "tenants",
    responses((status = 200, body = [TenantView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<TenantView>>> {
    caller.require_operator()?;
    Ok(Json(
        s.store
            .list_tenants()?
            .into_iter()
            .map(TenantView::from)
            .collect(),
    ))
}

/// Create a tenant.
#[utoipa::path(post, path = "/api/tenants", tag = "tenants", request_body = TenantCreate,
    responses((status = 201, body = TenantView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "id or a domain taken")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiJson(body): ApiJson<TenantCreate>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    caller.require_operator()?;
    // The store calls it `tenant`; in this body the field is `id`.
    if let Err(StoreError::Invalid { message, .. }) = validate_tenant_id(&body.id) {
        return Err(ApiError::validation("id", message));
    }
    validate_common(&body.name, &body.domains)?;
    validate_time_zone(&body.time_zone)?;
    if s.store.get_tenant(&body.id)?.is_some() {
        return Err(ApiError::conflict(format!(
            "tenant {:?} already exists",
            body.id
        )));
    }
    let t = Tenant {
        id: body.id,
        name: body.name,
        domains: body.domains,
        time_zone: body.time_zone,
        limits: body.limits.into(),
        features: body.features.into(),
        suspended: false,
        created_at_ms: unix_ms(),
        pause_reasons: body.pause_reasons,
    };
    s.store.put_tenant(&t)?;
    changed(&s, &t.id);
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Read a tenant.
#[utoipa::path(get, path = "/api/tenants/{tenant}", tag = "tenants", params(TenantP),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(caller.require_operator_for(&s, &p.tenant)?.into()))
}

/// Change a tenant (absent fields are kept).
#[utoipa::path(patch, path = "/api/tenants/{tenant}", tag = "tenants", params(TenantP),
    request_body = TenantUpdate,
    responses((status = 200, body = TenantView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<TenantUpdate>,
) -> ApiResult<Json<TenantView>> {
    let mut t = caller.require_operator_for(&s, &p.tenant)?;
    if let Some(domains) = body.domains {
        // The first domain is the realm the extensions' HA1 hashes were
        // computed with: changing it would silently break every phone.
        let realm_changes = domains.first() != t.domains.first();
        if realm_changes && !s.store.list_extensions(&t.id)?.is_empty() {
            return Err(ApiError::conflict(
                "the first domain is the digest realm of the tenant's extension passwords; \
                 keep it first, or delete and recreate the extensions",
            ));
        }
        t.domains = domains;
    }
    if let Some(name) = body.name {
        t.name = name;
    }
    if let Some(tz) = body.time_zone {
        validate_time_zone(&tz)?;
        t.time_zone = tz;
    }
    if let Some(l) = body.limits {
        t.limits = l.into();
    }
    if let Some(f) = body.features {
        t.features = f.into();
    }
    if let Some(sus) = body.suspended {
        t.suspended = sus;
    }
    if let Some(r) = body.pause_reasons {
        t.pause_reasons = r;
    }
    validate_common(&t.name, &t.domains)?;
    s.store.put_tenant(&t)?;
    changed(&s, &t.id);
    Ok(Json(t.into()))
}

fn set_suspended(caller: &Caller, s: &ApiState, tenant: &str, on: bool) -> ApiResult<TenantView> {
    let mut t = caller.require_operator_for(s, tenant)?;
    t.suspended = on;
    s.store.put_tenant(&t)?;
    changed(s, &t.id);
    Ok(t.into())
}

/// Suspend a tenant: the server refuses its calls until resumed.
#[utoipa::path(post, path = "/api/tenants/{tenant}/suspend", tag = "tenants", params(TenantP),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
pub(crate) async fn suspend(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<TenantView>> {
    set_suspended(&caller, &s, &p.tenant, true).map(Json)
}

/// Resume a suspended tenant.
#[utoipa::path(post, path = "/api/tenants/{tenant}/resume", tag = "tenants", params(TenantP),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
pub(crate) async fn resume(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<TenantView>> {
    set_suspended(&caller, &s, &p.tenant, false).map(Json)
}

/// Delete a tenant and everything it owns.
#[utoipa::path(delete, path = "/api/tenants/{tenant}", tag = "tenants", params(TenantP),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<StatusCode> {
    let t = caller.require_operator_for(&s, &p.tenant)?;
    s.store.delete_tenant(&t.id)?;
    changed(&s, &t.id);
    Ok(StatusCode::NO_CONTENT)
}
