//! `GET /api/system`: the operator's figures of the whole host at a
//! glance (the console's System page). Prometheus has the full set at
//! `/metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use switchyard_store::TenantRepo;
use utoipa::ToSchema;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};

/// When the API was first built in this process: the host's start, near
/// enough.
static STARTED: OnceLock<Instant> = OnceLock::new();

pub(crate) fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

/// One tenant's share.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantFigures {
    pub tenant: String,
    pub suspended: bool,
    pub calls_in_progress: u32,
}

/// The host now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemFigures {
    /// The host's version.
    pub version: &'static str,
    pub uptime_secs: u64,
    pub tenants: u32,
    pub tenants_suspended: u32,
    /// Calls in progress across every tenant.
    pub calls_in_progress: u32,
    /// Console sessions signed in now.
    pub console_sessions: u32,
    /// Tenants by calls in progress, busiest first.
    pub by_tenant: Vec<TenantFigures>,
}

/// The host's figures (operator only).
#[utoipa::path(get, path = "/api/system", tag = "tenants",
    responses((status = 200, body = SystemFigures), (status = 403, body = ErrorBody)))]
pub(crate) async fn figures(
    caller: Caller,
    State(s): State<ApiState>,
) -> ApiResult<Json<SystemFigures>> {
    caller.require_operator()?;
    let tenants = s.store.list_tenants()?;
    let mut by_tenant: Vec<TenantFigures> = tenants
        .iter()
        .map(|t| TenantFigures {
            tenant: t.id.clone(),
            suspended: t.suspended,
            calls_in_progress: s.live.list(&t.id).len() as u32,
        })
        .collect();
    by_tenant.sort_by_key(|t| std::cmp::Reverse(t.calls_in_progress));
    Ok(Json(SystemFigures {
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: STARTED.get().map_or(0, |t| t.elapsed().as_secs()),
        tenants: tenants.len() as u32,
        tenants_suspended: tenants.iter().filter(|t| t.suspended).count() as u32,
        calls_in_progress: by_tenant.iter().map(|t| t.calls_in_progress).sum(),
        console_sessions: s.sessions.count(switchyard_clock::unix_ms()) as u32,
        by_tenant,
    }))
}
