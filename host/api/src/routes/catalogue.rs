//! The operator's plugin catalogue. The operator publishes a partner's
//! component once (`POST /api/catalogue/{name}`, the raw component) and
//! describes it (`PUT /api/catalogue/{name}/{version}`: description, a
//! JSON Schema for its settings, the hosts it calls); tenants' admins
//! and supervisors list it, and an admin installs an entry as one of the
//! tenant's plugins with the tenant's own settings (checked against the
//! schema, errors naming the field) and allowlist (within the hosts the
//! entry names), and later upgrades it to a newer catalogue version in one
//! call, keeping those settings. A tenant's own uploads stay its own.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_store::{CatalogueEntry, CatalogueRepo, PluginRepo, PluginVersionRecord, Role};
use utoipa::{IntoParams, ToSchema};

use super::plugins::{
    HTTP_ALLOWLIST_KEY, PluginVersionView, parse_allowlist, read_component, validate_host,
    validate_plugin_name,
};
use super::{NameP, changed};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use switchyard_clock::unix_ms;

/// `/api/catalogue/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct EntryP {
    /// Catalogue name.
    pub name: String,
}

/// `/api/catalogue/{name}/{version}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct EntryVersionP {
    pub name: String,
    pub version: u32,
}

/// `/api/tenants/{tenant}/catalogue/{name}/install`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct InstallP {
    pub tenant: String,
    /// Catalogue name.
    pub name: String,
}

/// A published version.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub name: String,
    pub version: u32,
    pub world: String,
    pub description: String,
    /// JSON Schema of its settings (`null`: any).
    #[schema(value_type = Option<Object>)]
    pub config_schema: Option<Value>,
    pub hosts: Vec<String>,
    pub sha256: String,
    pub size: u64,
    pub published_ms: u64,
}

impl From<CatalogueEntry> for EntryView {
    fn from(e: CatalogueEntry) -> EntryView {
        EntryView {
            name: e.name,
            version: e.version,
            world: e.world,
            description: e.description,
            config_schema: e.config_schema,
            hosts: e.hosts,
            sha256: e.sha256,
            size: e.size,
            published_ms: e.published_ms,
        }
    }
}

/// What a published version says of itself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeBody {
    #[serde(default)]
    pub description: String,
    /// A JSON Schema for its settings object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config_schema: Option<Value>,
    /// Hosts it calls over HTTP (`api.crm.example`, `*.crm.example`).
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Installing an entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// The catalogue version (default: the newest).
    #[serde(default)]
    pub version: Option<u32>,
    /// The tenant's plugin name (default: the catalogue name).
    #[serde(default, rename = "as")]
    pub plugin: Option<String>,
    /// The settings: an object, checked against the entry's schema.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Value,
    /// Hosts it may call (default: every host the entry names; only
    /// those).
    #[serde(default)]
    pub http_allowlist: Option<Vec<String>>,
}

/// Upgrading an installed entry.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    /// The catalogue version (default: the newest).
    #[serde(default)]
    pub version: Option<u32>,
}

/// Tenants' admins and supervisors read the catalogue; the operator too.
fn may_read(caller: &Caller) -> ApiResult<()> {
    match caller {
        Caller::Key(k) if k.role == Role::Agent => Err(ApiError::forbidden(
            "a key with role agent may not read the catalogue",
        )),
        _ => Ok(()),
    }
}

fn versions_of(s: &ApiState, name: &str) -> ApiResult<Vec<CatalogueEntry>> {
    Ok(s.store
        .catalogue()?
        .into_iter()
        .filter(|e| e.name == name)
        .collect())
}

/// Version `version` of entry `name`, or its newest.
fn entry(s: &ApiState, name: &str, version: Option<u32>) -> ApiResult<CatalogueEntry> {
    let all = versions_of(s, name)?;
    let found = match version {
        Some(v) => all.into_iter().find(|e| e.version == v),
        None => all.into_iter().next_back(),
    };
    found.ok_or_else(|| {
        ApiError::not_found(match version {
            Some(v) => format!("the catalogue has no {name:?} version {v}"),
            None => format!("the catalogue has no {name:?}"),
        })
    })
}

/// The settings object against the entry's schema: the first errors, each
/// naming its field (`config/base-url`).
fn check_config(e: &CatalogueEntry, config: &Value) -> ApiResult<()> {
    if !config.is_object() {
        return Err(ApiError::validation(
            "config",
            "must be an object of settings",
        ));
    }
    let Some(schema) = &e.config_schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|err| {
        ApiError::unprocessable(format!("the entry's config schema is not valid: {err}"))
    })?;
    let errors: Vec<(String, String)> = validator
        .iter_errors(config)
        .take(5)
        .map(|err| (err.instance_path().to_string(), err.to_string()))
        .collect();
    match errors.first() {
        None => Ok(()),
        Some((path, _)) => {
            let field = format!("config{path}");
            let all: Vec<String> = errors
                .iter()
                .map(|(p, m)| format!("{m} (at config{p})"))
                .collect();
            Err(ApiError::validation(&field, all.join("; ")))
        }
    }
}

/// A settings object as plugin settings: strings stay, anything else
/// (an object, an array, a number) is its JSON text — how plugins read
/// them, and how the demo's description and a catalogue install store them.
pub fn plugin_settings(config: &Value) -> BTreeMap<String, String> {
    config
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Stored settings as the object a schema checks: a property the schema
/// types as a string stays text, any other is read back as JSON.
fn from_settings(settings: &BTreeMap<String, String>, schema: Option<&Value>) -> Value {
    let typed =
        |k: &str| -> Option<Value> { schema?.get("properties")?.get(k)?.get("type").cloned() };
    let object = settings
        .iter()
        .filter(|(k, _)| !k.starts_with("switchyard."))
        .map(|(k, v)| {
            let value = match typed(k) {
                Some(Value::String(t)) if t == "string" => Value::String(v.clone()),
                None => Value::String(v.clone()),
                _ => serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.clone())),
            };
            (k.clone(), value)
        })
        .collect();
    Value::Object(object)
}

/// The allowlist to give: what was asked, each host among the entry's.
fn allowlist(e: &CatalogueEntry, asked: Option<&[String]>) -> ApiResult<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(e.hosts.clone());
    };
    asked
        .iter()
        .map(|h| {
            let h = validate_host(h)?;
            if e.hosts.iter().any(|x| x.eq_ignore_ascii_case(&h)) {
                Ok(h)
            } else {
                Err(ApiError::validation(
                    "http_allowlist",
                    format!(
                        "{h:?} is not a host {} calls (it names: {})",
                        e.name,
                        e.hosts.join(", ")
                    ),
                ))
            }
        })
        .collect()
}

/// The catalogue, every version.
#[utoipa::path(get, path = "/api/catalogue", tag = "catalogue",
    responses((status = 200, body = [EntryView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
) -> ApiResult<Json<Vec<EntryView>>> {
    may_read(&caller)?;
    Ok(Json(
        s.store
            .catalogue()?
            .into_iter()
            .map(EntryView::from)
            .collect(),
    ))
}

/// One entry's versions, oldest first.
#[utoipa::path(get, path = "/api/catalogue/{name}", tag = "catalogue", params(EntryP),
    responses((status = 200, body = [EntryView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<EntryP>,
) -> ApiResult<Json<Vec<EntryView>>> {
    may_read(&caller)?;
    let v = versions_of(&s, &p.name)?;
    if v.is_empty() {
        return Err(ApiError::not_found(format!(
            "the catalogue has no {:?}",
            p.name
        )));
    }
    Ok(Json(v.into_iter().map(EntryView::from).collect()))
}

/// Publish a component as the next version of entry `name` (operator).
/// It is validated and compiled like an upload; later versions keep its
/// world.
#[utoipa::path(post, path = "/api/catalogue/{name}", tag = "catalogue", params(EntryP),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = EntryView), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn publish(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<EntryP>,
    body: Body,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    caller.require_operator()?;
    validate_plugin_name(&p.name)?;
    let (bytes, loaded) = read_component(&s, body).await?;
    let world = loaded.world().name().to_string();
    let earlier = versions_of(&s, &p.name)?;
    if let Some(last) = earlier.last()
        && last.world != world
    {
        return Err(ApiError::unprocessable(format!(
            "{:?} is a {} plugin and this component is a {world} plugin",
            p.name, last.world
        )));
    }
    let e = CatalogueEntry {
        name: p.name.clone(),
        version: earlier.last().map_or(1, |e| e.version + 1),
        world,
        description: earlier
            .last()
            .map(|e| e.description.clone())
            .unwrap_or_default(),
        config_schema: earlier.last().and_then(|e| e.config_schema.clone()),
        hosts: earlier.last().map(|e| e.hosts.clone()).unwrap_or_default(),
        sha256: loaded.sha256_hex(),
        size: bytes.len() as u64,
        published_ms: unix_ms(),
    };
    s.store.publish(&e, &bytes)?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

/// Describe a published version (operator): description, settings
/// schema, hosts.
#[utoipa::path(put, path = "/api/catalogue/{name}/{version}", tag = "catalogue",
    params(EntryVersionP), request_body = DescribeBody,
    responses((status = 200, body = EntryView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn describe(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<EntryVersionP>,
    ApiJson(b): ApiJson<DescribeBody>,
) -> ApiResult<Json<EntryView>> {
    caller.require_operator()?;
    let mut e = entry(&s, &p.name, Some(p.version))?;
    if let Some(schema) = &b.config_schema
        && let Err(err) = jsonschema::validator_for(schema)
    {
        return Err(ApiError::validation(
            "config_schema",
            format!("is not a JSON Schema: {err}"),
        ));
    }
    e.description = b.description;
    e.config_schema = b.config_schema;
    e.hosts = b
        .hosts
        .iter()
        .map(|h| validate_host(h))
        .collect::<ApiResult<_>>()?;
    s.store.describe(&e)?;
    Ok(Json(e.into()))
}

/// Store catalogue entry `e` as the tenant's next version of `plugin`
/// with `settings`, and activate it.
fn install_version(
    s: &ApiState,
    tenant: &switchyard_store::Tenant,
    plugin: &str,
    e: &CatalogueEntry,
    settings: BTreeMap<String, String>,
) -> ApiResult<PluginVersionView> {
    let existing = s.store.versions(&tenant.id, plugin)?;
    if let Some(last) = existing.last()
        && last.world != e.world
    {
        return Err(ApiError::conflict(format!(
            "the tenant's plugin {plugin:?} is a {} plugin; {} is a {} plugin (install it `as` another name)",
            last.world, e.name, e.world
        )));
    }
    let bytes = s.store.plugin_bytes(&e.sha256)?;
    super::plugins::check_fits_tenant(s, tenant, switchyard_plugins::initial_memory_bytes(&bytes))?;
    let rec = PluginVersionRecord {
        tenant: tenant.id.clone(),
        name: plugin.to_string(),
        number: existing.last().map_or(1, |v| v.number + 1),
        world: e.world.clone(),
        sha256: e.sha256.clone(),
        size: e.size,
        created_at_ms: unix_ms(),
        config: settings,
        source: Some(format!("{}@{}", e.name, e.version)),
    };
    s.store.add_version(&rec, &bytes)?;
    s.store.set_active(&tenant.id, plugin, rec.number)?;
    changed(s, &tenant.id);
    let number = rec.number;
    Ok(super::plugins::version_view(rec, Some(number)))
}

/// Install a catalogue entry as one of the tenant's plugins (admin).
#[utoipa::path(post, path = "/api/tenants/{tenant}/catalogue/{name}/install", tag = "catalogue",
    params(InstallP), request_body = InstallBody,
    responses((status = 201, body = PluginVersionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn install(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<InstallP>,
    ApiJson(b): ApiJson<InstallBody>,
) -> ApiResult<(StatusCode, Json<PluginVersionView>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let e = entry(&s, &p.name, b.version)?;
    let plugin = b.plugin.clone().unwrap_or_else(|| e.name.clone());
    validate_plugin_name(&plugin)?;
    let config = if b.config.is_null() {
        Value::Object(Default::default())
    } else {
        b.config.clone()
    };
    check_config(&e, &config)?;
    let mut settings = plugin_settings(&config);
    if let Some(k) = settings.keys().find(|k| k.starts_with("switchyard.")) {
        return Err(ApiError::validation("config", format!("{k:?} is reserved")));
    }
    let hosts = allowlist(&e, b.http_allowlist.as_deref())?;
    if !hosts.is_empty() {
        settings.insert(HTTP_ALLOWLIST_KEY.into(), hosts.join(","));
    }
    let v = install_version(&s, &scope.tenant, &plugin, &e, settings)?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Upgrade a plugin installed from the catalogue to a newer catalogue
/// version (admin): the same settings and allowlist, checked against the
/// new version's schema, stored as the plugin's next version and
/// activated (`rollback` goes back).
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}/upgrade", tag = "catalogue",
    params(NameP), request_body = UpgradeBody,
    responses((status = 200, body = PluginVersionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn upgrade(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<UpgradeBody>,
) -> ApiResult<Json<PluginVersionView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let versions = s.store.versions(scope.id(), &p.name)?;
    let active = s.store.active(scope.id(), &p.name)?;
    let current = versions
        .iter()
        .find(|v| Some(v.number) == active)
        .or(versions.last())
        .ok_or_else(|| ApiError::not_found(format!("no plugin {:?}", p.name)))?;
    let Some((name, from)) = current.source.as_deref().and_then(|s| s.rsplit_once('@')) else {
        return Err(ApiError::conflict(format!(
            "plugin {:?} was not installed from the catalogue: upload its new version instead",
            p.name
        )));
    };
    let from: u32 = from.parse().unwrap_or(0);
    let e = entry(&s, name, b.version)?;
    if e.version <= from {
        return Err(ApiError::conflict(format!(
            "plugin {:?} has {name} version {from} already; the catalogue's is {}",
            p.name, e.version
        )));
    }
    let config = from_settings(&current.config, e.config_schema.as_ref());
    check_config(&e, &config)?;
    // The tenant's settings and allowlist, as they are now.
    let mut settings = current.config.clone();
    let hosts: Vec<String> = parse_allowlist(&settings)
        .into_iter()
        .filter(|h| e.hosts.iter().any(|x| x.eq_ignore_ascii_case(h)))
        .collect();
    settings.remove(HTTP_ALLOWLIST_KEY);
    if !hosts.is_empty() {
        settings.insert(HTTP_ALLOWLIST_KEY.into(), hosts.join(","));
    }
    install_version(&s, &scope.tenant, &p.name, &e, settings).map(Json)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_go_to_strings_and_back_by_the_schemas_types() {
        let config = json!({"base-url": "https://crm.example", "timeout": 5, "fields": {"a": "b"}});
        let settings = plugin_settings(&config);
        assert_eq!(settings["timeout"], "5");
        assert_eq!(settings["fields"], r#"{"a":"b"}"#);
        let schema = json!({"properties": {
            "base-url": {"type": "string"}, "timeout": {"type": "integer"},
            "fields": {"type": "object"}}});
        assert_eq!(from_settings(&settings, Some(&schema)), config);
        // Without a schema, everything is text.
        assert_eq!(from_settings(&settings, None)["timeout"], "5");
    }
}
