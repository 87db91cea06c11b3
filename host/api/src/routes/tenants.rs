//! `/api/tenants`: operator only. Create, read, update (partial), suspend,
//! resume, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{
    ExtensionRepo, Features, PlanRepo, StoreError, Tenant, TenantQuota, TenantRepo,
    default_pause_reasons, validate_tenant_id,
};
use utoipa::ToSchema;

use super::{TenantP, changed};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, plan_gate};
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
    /// Extensions the tenant may have (0, the default: no cap).
    #[serde(default)]
    pub max_extensions: u32,
    /// Numbers the tenant may have (0, the default: no cap).
    #[serde(default)]
    pub max_numbers: u32,
    /// Disk its recordings may take, MiB (0, the default: no cap); past
    /// it, calls are not recorded.
    #[serde(default)]
    pub recording_storage_mib: u32,
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
            max_extensions: 0,
            max_numbers: 0,
            recording_storage_mib: 0,
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
            max_extensions: l.max_extensions,
            max_numbers: l.max_numbers,
            recording_storage_mib: l.recording_storage_mib,
        }
    }
}

impl From<TenantQuota> for LimitsBody {
    fn from(l: TenantQuota) -> LimitsBody {
        LimitsBody {
            max_concurrent_calls: l.max_concurrent_calls,
            max_calls_per_second: l.max_calls_per_second,
            plugin_memory_mib: l.plugin_memory_mib,
            plugin_cpu_ms: l.plugin_cpu_ms,
            max_extensions: l.max_extensions,
            max_numbers: l.max_numbers,
            recording_storage_mib: l.recording_storage_mib,
        }
    }
}

/// Features enabled for a tenant or a plan; what is not given is off.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesBody {
    /// Record answered calls, from the agent's answer, and conference
    /// rooms set to be recorded.
    pub recording: bool,
    /// One mixed channel instead of stereo (caller left, agent right).
    pub recording_mono: bool,
    /// Numbers and menus served by flow plugins other than the tenant's
    /// `extensions` flow (IVR menus, business hours).
    pub advanced_ivr: bool,
    /// Queue and agent reports, and reporter plugins.
    pub reporting: bool,
    /// A CRM connector: caller look-up and call logging.
    pub crm: bool,
    /// Call queues, agents and queue strategies.
    pub queues: bool,
    /// Conference rooms.
    pub conferences: bool,
    /// Phones in a web browser.
    pub browser_phones: bool,
}

impl From<FeaturesBody> for Features {
    fn from(f: FeaturesBody) -> Features {
        Features {
            recording: f.recording,
            recording_mono: f.recording_mono,
            advanced_ivr: f.advanced_ivr,
            reporting: f.reporting,
            crm: f.crm,
            queues: f.queues,
            conferences: f.conferences,
            browser_phones: f.browser_phones,
        }
    }
}

impl From<Features> for FeaturesBody {
    fn from(f: Features) -> FeaturesBody {
        FeaturesBody {
            recording: f.recording,
            recording_mono: f.recording_mono,
            advanced_ivr: f.advanced_ivr,
            reporting: f.reporting,
            crm: f.crm,
            queues: f.queues,
            conferences: f.conferences,
            browser_phones: f.browser_phones,
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
    /// The operator's plan the tenant is on; `null`: features and limits
    /// set on the tenant itself.
    pub plan: Option<String>,
    /// The limits that apply (the plan's, when it has one).
    pub limits: LimitsBody,
    /// The features that apply (the plan's, when it has one).
    pub features: FeaturesBody,
    pub suspended: bool,
    pub created_at_ms: u64,
    /// The reasons an agent may give for a pause.
    pub pause_reasons: Vec<String>,
}

/// `t` as the API shows it, with what applies to it.
pub(crate) fn view(s: &ApiState, t: Tenant) -> ApiResult<TenantView> {
    let e = plan_gate::entitlements(s, &t)?;
    Ok(TenantView {
        id: t.id,
        name: t.name,
        domains: t.domains,
        time_zone: t.time_zone,
        plan: e.plan,
        limits: e.limits.into(),
        features: e.features.into(),
        suspended: t.suspended,
        created_at_ms: t.created_at_ms,
        pause_reasons: t.pause_reasons,
    })
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
    /// Limits of a tenant on no plan (defaults as in [`LimitsBody`]).
    pub limits: Option<LimitsBody>,
    /// Features of a tenant on no plan (defaults as in [`FeaturesBody`]).
    pub features: Option<FeaturesBody>,
    /// Put the tenant on this plan: its features and limits then apply,
    /// and `limits` and `features` may not be given.
    #[serde(default)]
    pub plan: Option<String>,
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
    /// A plan's name puts the tenant on it (at once, calls included);
    /// `null` takes it off, keeping the plan's features and limits as the
    /// tenant's own. While on a plan, `limits` and `features` come from it
    /// and may not be given.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Option<String>>,
    pub suspended: Option<bool>,
    pub pause_reasons: Option<Vec<String>>,
}

/// A field that is present (`null` included): absent stays `None`.
fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// 409 for limits or features given to a tenant on a plan.
fn on_plan_conflict(plan: &str) -> ApiError {
    ApiError::conflict(format!(
        "the tenant is on plan {plan:?}, whose features and limits apply; \
         change the plan, or take the tenant off it (\"plan\": null) first"
    ))
}

/// 400 unless plan `name` exists.
fn require_plan(s: &ApiState, name: &str) -> ApiResult<()> {
    match s.store.get_plan(name) {
        Ok(Some(_)) => Ok(()),
        Ok(None) | Err(StoreError::Invalid { .. }) => Err(ApiError::validation(
            "plan",
            format!("there is no plan {name:?}"),
        )),
        Err(e) => Err(e.into()),
    }
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
    s.store
        .list_tenants()?
        .into_iter()
        .map(|t| view(&s, t))
        .collect::<ApiResult<_>>()
        .map(Json)
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
    if let Some(plan) = &body.plan {
        require_plan(&s, plan)?;
        if body.limits.is_some() || body.features.is_some() {
            return Err(on_plan_conflict(plan));
        }
    }
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
        limits: body.limits.unwrap_or_default().into(),
        features: body.features.unwrap_or_default().into(),
        plan: body.plan,
        suspended: false,
        created_at_ms: unix_ms(),
        pause_reasons: body.pause_reasons,
    };
    s.store.put_tenant(&t)?;
    changed(&s, &t.id);
    Ok((StatusCode::CREATED, Json(view(&s, t)?)))
}

/// Read a tenant.
#[utoipa::path(get, path = "/api/tenants/{tenant}", tag = "tenants", params(TenantP),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<TenantView>> {
    let t = caller.require_operator_for(&s, &p.tenant)?;
    Ok(Json(view(&s, t)?))
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
    match body.plan {
        Some(Some(plan)) => {
            require_plan(&s, &plan)?;
            t.plan = Some(plan);
        }
        Some(None) => {
            // Off the plan: what it granted stays, as the tenant's own.
            let e = plan_gate::entitlements(&s, &t)?;
            (t.features, t.limits) = (e.features, e.limits);
            t.plan = None;
        }
        None => {}
    }
    if let Some(plan) = &t.plan
        && (body.limits.is_some() || body.features.is_some())
    {
        return Err(on_plan_conflict(plan));
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
    Ok(Json(view(&s, t)?))
}

fn set_suspended(caller: &Caller, s: &ApiState, tenant: &str, on: bool) -> ApiResult<TenantView> {
    let mut t = caller.require_operator_for(s, tenant)?;
    t.suspended = on;
    s.store.put_tenant(&t)?;
    changed(s, &t.id);
    view(s, t)
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
