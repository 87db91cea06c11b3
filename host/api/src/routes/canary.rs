//! `/api/tenants/{tenant}/plugins/{name}/canary`: a canary release of a
//! call-flow plugin — a stored version decides the calls of a share of
//! callers (the same callers each time) beside the active version; its
//! figures and the stable version's side by side; promote it (it becomes
//! the active version) or end it. The host stops a canary on its own when
//! it fails clearly more than the stable version (`min_decisions`,
//! `margin_pct`); it is then gone from here too.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_store::{CanaryRecord, PluginRepo};
use utoipa::ToSchema;

use super::{NameP, changed};
use crate::ApiState;
use crate::auth::{Caller, Need, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use switchyard_clock::unix_ms;

/// How to run a canary.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryBody {
    /// A stored version other than the active one.
    pub version: u32,
    /// Percent of callers (1–99) whose new calls it decides.
    pub percent: u8,
    /// Decisions it must make before the host may stop it (default 20).
    #[serde(default = "d_min")]
    pub min_decisions: u64,
    /// How many percentage points more often than the stable version it
    /// may fail before the host stops it (default 5).
    #[serde(default = "d_margin")]
    pub margin_pct: f64,
}

fn d_min() -> u64 {
    20
}
fn d_margin() -> f64 {
    5.0
}

/// One version's decisions since the host started.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionFigures {
    pub version: u32,
    pub decisions: u64,
    /// Decisions that failed (the call got the safe fallback).
    pub failures: u64,
    pub failure_rate: f64,
    /// Of the recent decisions, ms.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// A plugin's canary, if one runs, and the figures of both versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryView {
    /// `null`: no canary runs (never started, promoted, ended, or stopped
    /// by the host).
    pub canary: Option<CanaryState>,
    /// The last canary, when the host stopped it for failing: its version
    /// and why.
    pub stopped: Option<StoppedCanary>,
    /// The active version's figures.
    pub stable: Option<VersionFigures>,
    /// The canary version's figures (the last canary's, when one ran).
    pub canary_figures: Option<VersionFigures>,
}

/// A canary the host stopped.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoppedCanary {
    pub version: u32,
    pub reason: String,
}

/// A canary in progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryState {
    pub version: u32,
    pub percent: u8,
    pub min_decisions: u64,
    pub margin_pct: f64,
    pub started_ms: u64,
}

fn figures(s: &ApiState, tenant: &str, plugin: &str, version: u32) -> VersionFigures {
    let f = s.plugins.figures(tenant, plugin, version);
    let ms = |p: f64| f.latency(p).map(|d| d.as_secs_f64() * 1000.0);
    VersionFigures {
        version,
        decisions: f.decisions,
        failures: f.failures,
        failure_rate: f.failure_rate(),
        p50_ms: ms(50.0),
        p99_ms: ms(99.0),
    }
}

fn view(s: &ApiState, scope: &Scope, plugin: &str, last: Option<u32>) -> ApiResult<CanaryView> {
    let c = s.store.canary(scope.id(), plugin)?;
    let active = s.store.active(scope.id(), plugin)?;
    let shown = c.as_ref().map(|c| c.version).or(last);
    let stopped = c.as_ref().and_then(|c| {
        Some(StoppedCanary {
            version: c.version,
            reason: c.stopped.clone()?,
        })
    });
    Ok(CanaryView {
        stable: active.map(|v| figures(s, scope.id(), plugin, v)),
        canary_figures: shown.map(|v| figures(s, scope.id(), plugin, v)),
        stopped,
        canary: c.filter(|c| c.stopped.is_none()).map(|c| CanaryState {
            version: c.version,
            percent: c.percent,
            min_decisions: c.min_decisions,
            margin_pct: c.margin_pct,
            started_ms: c.started_ms,
        }),
    })
}

/// 404 unless the tenant has plugin `name`.
fn require_plugin(s: &ApiState, scope: &Scope, name: &str) -> ApiResult<()> {
    if s.store.versions(scope.id(), name)?.is_empty() {
        return Err(ApiError::not_found(format!("no plugin {name:?}")));
    }
    Ok(())
}

/// The plugin's canary and both versions' figures.
#[utoipa::path(get, path = "/api/tenants/{tenant}/plugins/{name}/canary", tag = "plugins",
    params(NameP),
    responses((status = 200, body = CanaryView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<CanaryView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    require_plugin(&s, &scope, &p.name)?;
    Ok(Json(view(&s, &scope, &p.name, None)?))
}

/// Start (or change) a canary.
#[utoipa::path(put, path = "/api/tenants/{tenant}/plugins/{name}/canary", tag = "plugins",
    params(NameP), request_body = CanaryBody,
    responses((status = 200, body = CanaryView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<CanaryBody>,
) -> ApiResult<Json<CanaryView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    require_plugin(&s, &scope, &p.name)?;
    if s.store.active(scope.id(), &p.name)? == Some(b.version) {
        return Err(ApiError::validation(
            "version",
            format!("version {} is the active one already", b.version),
        ));
    }
    let record = CanaryRecord {
        version: b.version,
        percent: b.percent,
        min_decisions: b.min_decisions,
        margin_pct: b.margin_pct,
        started_ms: unix_ms(),
        stopped: None,
    };
    s.store.set_canary(scope.id(), &p.name, Some(&record))?;
    changed(&s, scope.id());
    Ok(Json(view(&s, &scope, &p.name, None)?))
}

/// End the canary: every new call gets the active version again.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/plugins/{name}/canary", tag = "plugins",
    params(NameP),
    responses((status = 200, body = CanaryView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<CanaryView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    require_plugin(&s, &scope, &p.name)?;
    let last = s.store.canary(scope.id(), &p.name)?.map(|c| c.version);
    s.store.set_canary(scope.id(), &p.name, None)?;
    changed(&s, scope.id());
    Ok(Json(view(&s, &scope, &p.name, last)?))
}

/// Promote the canary: its version becomes the active one for every call.
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}/canary/promote",
    tag = "plugins", params(NameP),
    responses((status = 200, body = CanaryView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no canary runs")))]
pub(crate) async fn promote(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<CanaryView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    require_plugin(&s, &scope, &p.name)?;
    let Some(c) = s.store.canary(scope.id(), &p.name)? else {
        return Err(ApiError::conflict(format!(
            "plugin {:?} has no canary",
            p.name
        )));
    };
    if let Some(why) = &c.stopped {
        return Err(ApiError::conflict(format!(
            "the canary (version {}) was stopped by the host: {why}",
            c.version
        )));
    }
    s.store.set_active(scope.id(), &p.name, c.version)?;
    s.store.set_canary(scope.id(), &p.name, None)?;
    changed(&s, scope.id());
    Ok(Json(view(&s, &scope, &p.name, Some(c.version))?))
}
