//! `/api/tenants/{tenant}/plugins`: upload components, list versions,
//! activate, roll back, configure; and `/plugin-roles` (which plugin plays
//! which part).
//!
//! Versions are immutable, as in the plugin runtime (whose `install` takes
//! the settings with the bytes): changing a plugin's config or HTTP
//! allowlist stores a **new version** with the same component and the new
//! settings, and activates it, so a bad config is rolled back like a bad
//! upload. A new upload starts from the settings of the active version.
//!
//! The HTTP allowlist lives in the version's config map under the reserved
//! key [`HTTP_ALLOWLIST_KEY`] (comma-separated hosts, `*.suffix` allowed);
//! user config keys may not start with `switchyard.`. The runtime's
//! allowlist is per tenant: the server takes the union over the tenant's
//! active crm-connector and reporter versions.
//!
//! Rollback activates the highest version below the active one (the
//! store keeps the active number, not a history).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use switchyard_plugins::LoadError;
use switchyard_store::{BASIC_FLOW, Feature, PluginRepo, PluginVersionRecord};
use utoipa::ToSchema;

use super::{NameP, TenantP, changed};
use crate::auth::{Caller, Need, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody, read_limited};
use crate::names::check_name;
use crate::{ApiState, plan_gate};
use switchyard_clock::unix_ms;

/// Config key holding the plugin's HTTP allowlist (comma-separated).
pub const HTTP_ALLOWLIST_KEY: &str = "switchyard.http-allowlist";
/// Config keys under this prefix belong to the host.
const RESERVED_PREFIX: &str = "switchyard.";
/// The worlds an upload may target, for refusal messages.
const WORLDS: &str = "call-flow, queue-strategy, crm-connector, reporter";

/// One stored version of a plugin.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginVersionView {
    pub number: u32,
    /// `call-flow`, `queue-strategy`, `crm-connector` or `reporter`.
    pub world: String,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    pub size: u64,
    pub created_at_ms: u64,
    pub active: bool,
}

/// A plugin and its versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    pub name: String,
    pub world: String,
    /// The version new calls get.
    pub active: Option<u32>,
    /// Oldest first.
    pub versions: Vec<PluginVersionView>,
}

/// `{"version": n}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    pub version: u32,
}

/// The hosts a plugin may reach over HTTP.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistBody {
    /// Exact host names, or `*.example.com` for its subdomains.
    pub hosts: Vec<String>,
}

/// Which plugin plays which part for the tenant.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolesBody {
    /// Flow name (what a number routes to) → call-flow plugin.
    pub flows: BTreeMap<String, String>,
    /// The crm-connector plugin.
    pub crm: Option<String>,
    /// Reporter plugins, all called for every record and notice.
    pub reporters: Vec<String>,
    /// Queue strategy name → queue-strategy plugin.
    pub strategies: BTreeMap<String, String>,
}

/// The API's name rule, and lower case: the plugin runtime keys plugins
/// by lower-case names, so an upload it could not install is refused at
/// once.
pub(crate) fn validate_plugin_name(name: &str) -> ApiResult<()> {
    check_name("name", name)?;
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::unprocessable(format!(
            "name: {name:?}: plugin names are lower case ({})",
            crate::names::NAME_RULE
        )));
    }
    Ok(())
}

fn view(name: &str, versions: Vec<PluginVersionRecord>, active: Option<u32>) -> PluginView {
    PluginView {
        name: name.to_string(),
        world: versions.last().map(|v| v.world.clone()).unwrap_or_default(),
        active,
        versions: versions
            .into_iter()
            .map(|v| version_view(v, active))
            .collect(),
    }
}

pub(crate) fn version_view(v: PluginVersionRecord, active: Option<u32>) -> PluginVersionView {
    PluginVersionView {
        active: active == Some(v.number),
        number: v.number,
        world: v.world,
        sha256: v.sha256,
        size: v.size,
        created_at_ms: v.created_at_ms,
    }
}

/// The versions of a plugin, or 404.
fn versions(s: &ApiState, scope: &Scope, name: &str) -> ApiResult<Vec<PluginVersionRecord>> {
    validate_plugin_name(name).map_err(|_| ApiError::not_found(format!("no plugin {name:?}")))?;
    let v = s.store.versions(scope.id(), name)?;
    if v.is_empty() {
        return Err(ApiError::not_found(format!("no plugin {name:?}")));
    }
    Ok(v)
}

/// The version settings start from: the active one, else the newest.
fn base(
    s: &ApiState,
    scope: &Scope,
    versions: &[PluginVersionRecord],
    name: &str,
) -> ApiResult<Option<PluginVersionRecord>> {
    let active = s.store.active(scope.id(), name)?;
    Ok(active
        .and_then(|a| versions.iter().find(|v| v.number == a))
        .or(versions.last())
        .cloned())
}

/// List the tenant's plugins.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugins", tag = "plugins", params(TenantP),
    responses((status = 200, body = [PluginView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<PluginView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let mut by_name: BTreeMap<String, Vec<PluginVersionRecord>> = BTreeMap::new();
    for v in s.store.all_versions(scope.id())? {
        by_name.entry(v.name.clone()).or_default().push(v);
    }
    let mut out = Vec::new();
    for (name, versions) in by_name {
        let active = s.store.active(scope.id(), &name)?;
        out.push(view(&name, versions, active));
    }
    Ok(Json(out))
}

/// A plugin and its versions.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugins/{name}", tag = "plugins",
    params(NameP),
    responses((status = 200, body = PluginView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<PluginView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let v = versions(&s, &scope, &p.name)?;
    let active = s.store.active(scope.id(), &p.name)?;
    Ok(Json(view(&p.name, v, active)))
}

/// Refusal of an upload, with a message that says what is wrong.
/// A raw component body, up to the host's cap, validated and compiled
/// (compilation takes CPU for a while: off the async workers). The bytes
/// and what the host made of them.
pub(crate) async fn read_component(
    s: &ApiState,
    body: Body,
) -> ApiResult<(
    axum::body::Bytes,
    std::sync::Arc<switchyard_plugins::LoadedComponent>,
)> {
    let cap = s.plugins.config().max_component_bytes;
    let bytes = read_limited(body, cap, "the component").await?;
    let host = s.plugins.clone();
    let to_load = bytes.clone();
    let loaded = tokio::task::spawn_blocking(move || host.load(&to_load))
        .await
        .map_err(ApiError::internal)?
        .map_err(load_error)?;
    Ok((bytes, loaded))
}

pub(crate) fn load_error(e: LoadError) -> ApiError {
    match e {
        LoadError::TooLarge { .. } => ApiError::too_large(e.to_string()),
        LoadError::UnknownWorld { .. } => {
            ApiError::unprocessable(format!("{e}. Accepted worlds: {WORLDS}"))
        }
        other => ApiError::unprocessable(other.to_string()),
    }
}

/// A component whose linear memory starts larger than `tenant`'s plugin
/// memory (its quota's `plugin_memory_mib`, capped by the host's pool)
/// could never start: refused now (422, naming both sizes), not at every
/// call.
pub(crate) fn check_fits_tenant(
    s: &ApiState,
    tenant: &switchyard_store::Tenant,
    initial_memory: u64,
) -> ApiResult<()> {
    let quota = plan_gate::entitlements(s, tenant)?.limits;
    let allowed =
        ((quota.plugin_memory_mib.max(1) as usize) << 20).min(s.plugins.config().max_memory_bytes);
    switchyard_plugins::check_memory_fits(initial_memory, allowed).map_err(load_error)
}

/// Upload a component as the next version of plugin `name`.
///
/// The body is the raw component (`Content-Type: application/wasm`). It is
/// validated (a component, of one known world, importing only what that
/// world may) and compiled before it is stored. The first version of a
/// plugin is activated; later ones wait for `activate`.
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}", tag = "plugins",
    params(NameP),
    request_body(content = Vec<u8>, content_type = "application/wasm",
        description = "the component bytes"),
    responses((status = 201, body = PluginVersionView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "larger than the host's cap"),
        (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody,
            description = "not a component, unknown world, forbidden import, other world than earlier versions, a name outside the name rule, initial memory larger than the tenant's plugin memory")))]
pub(crate) async fn upload(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<PluginVersionView>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    validate_plugin_name(&p.name)?;
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !matches!(mime, "application/wasm" | "application/octet-stream") {
        return Err(ApiError::unsupported_media_type(format!(
            "send the component as the raw body with Content-Type: application/wasm (got {ct:?})"
        )));
    }
    let (bytes, loaded) = read_component(&s, body).await?;
    check_fits_tenant(&s, &scope.tenant, loaded.initial_memory_bytes())?;
    let world = loaded.world().name();
    let existing = s.store.versions(scope.id(), &p.name)?;
    if let Some(last) = existing.last()
        && last.world != world
    {
        return Err(ApiError::unprocessable(format!(
            "plugin {:?} is a {} plugin and this component is a {world} plugin; \
             the versions of a plugin keep its world (upload it under another name)",
            p.name, last.world
        )));
    }
    let config = base(&s, &scope, &existing, &p.name)?
        .map(|b| b.config)
        .unwrap_or_default();
    let rec = PluginVersionRecord {
        tenant: scope.id().to_string(),
        name: p.name.clone(),
        number: existing.last().map_or(1, |v| v.number + 1),
        world: world.to_string(),
        sha256: loaded.sha256_hex(),
        size: bytes.len() as u64,
        created_at_ms: unix_ms(),
        config,
        source: None,
    };
    s.store.add_version(&rec, &bytes)?;
    if existing.is_empty() {
        s.store.set_active(scope.id(), &p.name, rec.number)?;
    }
    changed(&s, scope.id());
    let active = s.store.active(scope.id(), &p.name)?;
    Ok((StatusCode::CREATED, Json(version_view(rec, active))))
}

/// Make a stored version the one new calls get.
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}/activate", tag = "plugins",
    params(NameP), request_body = ActivateBody,
    responses((status = 200, body = PluginView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such plugin or version")))]
pub(crate) async fn activate(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<ActivateBody>,
) -> ApiResult<Json<PluginView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let v = versions(&s, &scope, &p.name)?;
    if !v.iter().any(|x| x.number == body.version) {
        return Err(ApiError::not_found(format!(
            "plugin {:?} has no version {}",
            p.name, body.version
        )));
    }
    s.store.set_active(scope.id(), &p.name, body.version)?;
    changed(&s, scope.id());
    Ok(Json(view(&p.name, v, Some(body.version))))
}

/// Go back to the version before the active one.
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}/rollback", tag = "plugins",
    params(NameP),
    responses((status = 200, body = PluginView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no earlier version")))]
pub(crate) async fn rollback(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<PluginView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let v = versions(&s, &scope, &p.name)?;
    let active = s
        .store
        .active(scope.id(), &p.name)?
        .ok_or_else(|| ApiError::conflict("no version is active, so none to roll back from"))?;
    let prev = v
        .iter()
        .map(|x| x.number)
        .filter(|n| *n < active)
        .max()
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "version {active} is the oldest of plugin {:?}: nothing to roll back to",
                p.name
            ))
        })?;
    s.store.set_active(scope.id(), &p.name, prev)?;
    changed(&s, scope.id());
    Ok(Json(view(&p.name, v, Some(prev))))
}

/// Store `config` as a new version of the base version's component, and
/// activate it.
fn new_config_version(
    s: &ApiState,
    scope: &Scope,
    name: &str,
    config: BTreeMap<String, String>,
) -> ApiResult<PluginVersionView> {
    let v = versions(s, scope, name)?;
    let b = base(s, scope, &v, name)?.expect("versions() is never empty");
    let bytes = s.store.plugin_bytes(&b.sha256)?;
    let rec = PluginVersionRecord {
        number: v.last().map_or(1, |x| x.number + 1),
        created_at_ms: unix_ms(),
        config,
        ..b
    };
    s.store.add_version(&rec, &bytes)?;
    s.store.set_active(scope.id(), name, rec.number)?;
    changed(s, scope.id());
    let number = rec.number;
    Ok(version_view(rec, Some(number)))
}

fn active_config(s: &ApiState, scope: &Scope, name: &str) -> ApiResult<BTreeMap<String, String>> {
    let v = versions(s, scope, name)?;
    Ok(base(s, scope, &v, name)?
        .map(|b| b.config)
        .unwrap_or_default())
}

/// The plugin's settings (of the active version), without host keys.
/// Admins only: settings often hold CRM credentials.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugins/{name}/config", tag = "plugins",
    params(NameP),
    responses((status = 200, body = BTreeMap<String, String>), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_config(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let mut c = active_config(&s, &scope, &p.name)?;
    c.retain(|k, _| !k.starts_with(RESERVED_PREFIX));
    Ok(Json(c))
}

/// Replace the plugin's settings: stored as a new, active version.
#[utoipa::path(put, path = "/api/tenants/{tenant}/plugins/{name}/config", tag = "plugins",
    params(NameP), request_body = BTreeMap<String, String>,
    responses((status = 200, body = PluginVersionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_config(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<BTreeMap<String, String>>,
) -> ApiResult<Json<PluginVersionView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    if let Some(k) = body.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        return Err(ApiError::validation(
            "config",
            format!("key {k:?}: keys starting with {RESERVED_PREFIX:?} belong to the host"),
        ));
    }
    let mut config = active_config(&s, &scope, &p.name)?;
    config.retain(|k, _| k.starts_with(RESERVED_PREFIX));
    config.extend(body);
    new_config_version(&s, &scope, &p.name, config).map(Json)
}

pub(crate) fn parse_allowlist(config: &BTreeMap<String, String>) -> Vec<String> {
    config
        .get(HTTP_ALLOWLIST_KEY)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A host name, or `*.` and one: what the runtime's allowlist matches.
pub(crate) fn validate_host(h: &str) -> ApiResult<String> {
    let h = h.trim().to_ascii_lowercase();
    let bare = h.strip_prefix("*.").unwrap_or(&h);
    let ok = !bare.is_empty()
        && bare.len() <= 253
        && bare.contains('.')
        && !bare.starts_with('.')
        && !bare.ends_with('.')
        && bare
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(h)
    } else {
        Err(ApiError::validation(
            "hosts",
            format!("{h:?} is not a host name (e.g. api.crm.example) or *.example.com"),
        ))
    }
}

/// The hosts this plugin may reach over HTTP.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugins/{name}/http-allowlist",
    tag = "plugins", params(NameP),
    responses((status = 200, body = AllowlistBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_http_allowlist(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<AllowlistBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let c = active_config(&s, &scope, &p.name)?;
    Ok(Json(AllowlistBody {
        hosts: parse_allowlist(&c),
    }))
}

/// Replace the hosts this plugin may reach: stored as a new, active version.
#[utoipa::path(put, path = "/api/tenants/{tenant}/plugins/{name}/http-allowlist",
    tag = "plugins", params(NameP), request_body = AllowlistBody,
    responses((status = 200, body = PluginVersionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_http_allowlist(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<AllowlistBody>,
) -> ApiResult<Json<PluginVersionView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let hosts = body
        .hosts
        .iter()
        .map(|h| validate_host(h))
        .collect::<ApiResult<BTreeSet<_>>>()?;
    let mut config = active_config(&s, &scope, &p.name)?;
    if hosts.is_empty() {
        config.remove(HTTP_ALLOWLIST_KEY);
    } else {
        let joined = hosts.into_iter().collect::<Vec<_>>().join(",");
        config.insert(HTTP_ALLOWLIST_KEY.into(), joined);
    }
    new_config_version(&s, &scope, &p.name, config).map(Json)
}

/// Which plugin plays which part.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugin-roles", tag = "plugins",
    params(TenantP),
    responses((status = 200, body = RolesBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_roles(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<RolesBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let roles = match s.store.roles(scope.id())? {
        Some(json) => serde_json::from_str(&json).map_err(ApiError::internal)?,
        None => RolesBody::default(),
    };
    Ok(Json(roles))
}

/// Set which plugin plays which part; every plugin named must exist with
/// the world its part needs.
#[utoipa::path(put, path = "/api/tenants/{tenant}/plugin-roles", tag = "plugins",
    params(TenantP), request_body = RolesBody,
    responses((status = 200, body = RolesBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_roles(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<RolesBody>,
) -> ApiResult<Json<RolesBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let mut worlds: BTreeMap<String, String> = BTreeMap::new();
    for v in s.store.all_versions(scope.id())? {
        worlds.insert(v.name, v.world);
    }
    let check = |field: &str, plugin: &str, want: &str| -> ApiResult<()> {
        match worlds.get(plugin) {
            Some(w) if w == want => Ok(()),
            Some(w) => Err(ApiError::validation(
                field,
                format!("plugin {plugin:?} is a {w} plugin, not {want}"),
            )),
            None => Err(ApiError::validation(
                field,
                format!("no plugin {plugin:?} is installed"),
            )),
        }
    };
    for plugin in body.flows.values() {
        check("flows", plugin, "call-flow")?;
    }
    if let Some(crm) = &body.crm {
        check("crm", crm, "crm-connector")?;
    }
    for r in &body.reporters {
        check("reporters", r, "reporter")?;
    }
    for plugin in body.strategies.values() {
        check("strategies", plugin, "queue-strategy")?;
    }
    // What the plan leaves out may not be given a plugin.
    let gate = |used: bool, feature: Feature| -> ApiResult<()> {
        if used {
            plan_gate::require(&s, &scope.tenant, feature)?;
        }
        Ok(())
    };
    gate(
        body.flows.keys().any(|f| f != BASIC_FLOW),
        Feature::AdvancedIvr,
    )?;
    gate(body.crm.is_some(), Feature::Crm)?;
    gate(!body.reporters.is_empty(), Feature::Reporting)?;
    gate(!body.strategies.is_empty(), Feature::Queues)?;
    let json = serde_json::to_string(&body).map_err(ApiError::internal)?;
    s.store.set_roles(scope.id(), &json)?;
    changed(&s, scope.id());
    Ok(Json(body))
}
