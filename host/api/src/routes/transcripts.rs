//! Replay before activation: `/api/tenants/{tenant}/transcripts` (whether
//! the tenant keeps a transcript of each call's flow decisions, and the
//! ones kept) and `/api/tenants/{tenant}/plugins/{name}/replay` (run a
//! stored version of a call-flow plugin through the last calls and report
//! every call where it would have done otherwise, with the first step
//! that differs). See `switchyard_plugins::transcript` for what a
//! transcript holds and how a replay is fed.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use switchyard_clock::unix_ms;
use switchyard_plugins::transcript::{ReplayReport, Transcript};
use switchyard_store::{PluginRepo, StoredTranscript, TranscriptPolicy, TranscriptRepo};
use utoipa::{IntoParams, ToSchema};

use super::{NameP, TenantP, changed};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// Most calls one replay runs through.
const MAX_REPLAY_CALLS: usize = 1000;

/// Whether the tenant keeps transcripts, and how many for how long.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptPolicyBody {
    /// Keep a transcript of every call's flow decisions. Turning it off
    /// deletes those kept.
    pub enabled: bool,
    /// Calls kept, the oldest dropped first: 1 to 5000 (default 500).
    #[serde(default = "d_calls")]
    pub max_calls: u32,
    /// Hours a call's transcript is kept: 1 to 720 (default 168).
    #[serde(default = "d_hours")]
    pub max_age_hours: u32,
}

fn d_calls() -> u32 {
    TranscriptPolicy::default().max_calls
}
fn d_hours() -> u32 {
    TranscriptPolicy::default().max_age_hours
}

impl From<TranscriptPolicy> for TranscriptPolicyBody {
    fn from(p: TranscriptPolicy) -> Self {
        Self {
            enabled: p.enabled,
            max_calls: p.max_calls,
            max_age_hours: p.max_age_hours,
        }
    }
}

/// The tenant's transcript policy.
#[utoipa::path(get, path = "/api/tenants/{tenant}/transcripts/policy", tag = "plugins",
    params(TenantP),
    responses((status = 200, body = TranscriptPolicyBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_policy(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<TranscriptPolicyBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    Ok(Json(s.store.transcript_policy(scope.id())?.into()))
}

/// Start or stop keeping transcripts (calls that start from now on).
#[utoipa::path(put, path = "/api/tenants/{tenant}/transcripts/policy", tag = "plugins",
    params(TenantP), request_body = TranscriptPolicyBody,
    responses((status = 200, body = TranscriptPolicyBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_policy(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(b): ApiJson<TranscriptPolicyBody>,
) -> ApiResult<Json<TranscriptPolicyBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let policy = TranscriptPolicy {
        enabled: b.enabled,
        max_calls: b.max_calls,
        max_age_hours: b.max_age_hours,
    };
    s.store.set_transcript_policy(scope.id(), &policy)?;
    // The tenant's runtime is rebuilt with (or without) the recorder.
    changed(&s, scope.id());
    Ok(Json(policy.into()))
}

/// Which transcripts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TranscriptQuery {
    /// Only this plugin's.
    plugin: Option<String>,
    /// At most this many calls, newest first: 1 to 1000 (default 20).
    limit: Option<usize>,
}

/// One call's recorded decisions of one plugin.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptView {
    pub call_id: String,
    pub plugin: String,
    pub started_ms: u64,
    /// Each decision: `at_ms`, `version`, `call`, `event`, `state`,
    /// `host_calls` (each an `ask` and its `answer`) and `outcome`
    /// (`decided` with the actions, or `failed` with why).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<serde_json::Value>,
}

/// The tenant's most recent transcripts, newest call first.
#[utoipa::path(get, path = "/api/tenants/{tenant}/transcripts", tag = "plugins",
    params(TenantP, TranscriptQuery),
    responses((status = 200, body = Vec<TranscriptView>), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    Query(q): Query<TranscriptQuery>,
) -> ApiResult<Json<Vec<TranscriptView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_REPLAY_CALLS).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1 to {MAX_REPLAY_CALLS}"),
        ));
    }
    let kept = s
        .store
        .recent_transcripts(scope.id(), q.plugin.as_deref(), limit, unix_ms())?;
    Ok(Json(
        kept.into_iter()
            .map(|t| TranscriptView {
                call_id: t.call_id,
                plugin: t.plugin,
                started_ms: t.started_ms,
                steps: t.steps,
            })
            .collect(),
    ))
}

/// What to replay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// The stored version to try (usually one not active yet).
    pub version: u32,
    /// The last this many calls of the plugin: 1 to 1000 (default 100).
    #[serde(default = "d_replay_calls")]
    pub calls: usize,
}

fn d_replay_calls() -> usize {
    100
}

/// A transcript as the store keeps it, read back for the runtime; `None`
/// when it no longer reads (written by a host whose types differ).
fn readable(t: StoredTranscript) -> Option<Transcript> {
    let value = serde_json::to_value(t).ok()?;
    serde_json::from_value(value).ok()
}

/// Run a version of a call-flow plugin through the tenant's last calls:
/// every call where its actions would have differed from what happened,
/// with the first step that differs. Changes nothing.
#[utoipa::path(post, path = "/api/tenants/{tenant}/plugins/{name}/replay", tag = "plugins",
    params(NameP), request_body = ReplayBody,
    responses((status = 200, body = Object,
            description = "`plugin`, `candidate_version`, `calls`, `same`, `differing`, \
                `replays`: per call `call_id`, `started_ms`, `caller`, `dialled`, \
                `steps_recorded`, `steps_replayed` and `difference` (`step`, `event`, \
                `recorded`, `candidate`, `unrecorded_host_calls`) or null"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn replay(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(b): ApiJson<ReplayBody>,
) -> ApiResult<Json<ReplayReport>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    if !(1..=MAX_REPLAY_CALLS).contains(&b.calls) {
        return Err(ApiError::validation(
            "calls",
            format!("must be 1 to {MAX_REPLAY_CALLS}"),
        ));
    }
    let versions = s.store.versions(scope.id(), &p.name)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no plugin {:?}", p.name)));
    }
    if !versions.iter().any(|v| v.number == b.version) {
        return Err(ApiError::validation(
            "version",
            format!("plugin {:?} has no version {}", p.name, b.version),
        ));
    }
    if !s.store.transcript_policy(scope.id())?.enabled {
        return Err(ApiError::conflict(
            "this tenant keeps no transcripts: turn them on with \
             PUT /api/tenants/{tenant}/transcripts/policy, then replay once calls were made",
        ));
    }
    let Some(runtime) = s.live.plugin_runtime(scope.id()) else {
        return Err(ApiError::unavailable("no call engine runs this tenant"));
    };
    let transcripts: Vec<Transcript> = s
        .store
        .recent_transcripts(scope.id(), Some(&p.name), b.calls, unix_ms())?
        .into_iter()
        .filter_map(readable)
        .collect();
    let report = runtime
        .replay(&p.name, b.version, &transcripts)
        .await
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    Ok(Json(report))
}
