//! Contact-centre reports, computed from the durable queue log with
//! `switchyard_acd::figures` (the same functions as the live engine), and
//! the raw log.
//!
//! * `GET /api/tenants/{tenant}/reports/queues`: per queue and interval
//!   (admin, supervisor);
//! * `GET /api/tenants/{tenant}/reports/agents`: per agent and interval
//!   (every role; an agent key gets only its own rows);
//! * `GET /api/tenants/{tenant}/queue-log`: the events (admin, supervisor).
//!
//! `from` and `to` (ms since the Unix epoch) are required, `to > from`,
//! at most 31 days apart. `interval` (`15m`, `hour`, `day`) splits
//! `[from, to)` at the UTC boundaries of that length (the first and last
//! rows may be partial); without it there is one row for `[from, to)`.
//!
//! Besides `[from, to)`, the log of the 24 hours before `from` is read
//! (for the state each agent was in at `from`) and of the hour after `to`
//! (for the wrap-up of calls that ended just before `to`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchyard_acd::figures::{AgentFigures, QueueFigures, agent_figures, queue_figures};
use switchyard_acd::{EventKind, ExitReason, QueueEvent};
use switchyard_store::{Feature, QueueLogRepo, QueueRepo, push_csv_row};
use utoipa::{IntoParams, ToSchema};

use super::TenantP;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiPath, ApiResult, ErrorBody};
use crate::{ApiState, plan_gate};

const DAY_MS: u64 = 24 * 3600 * 1000;
/// Longest `[from, to)` a report or the log export covers.
const MAX_SPAN_MS: u64 = 31 * DAY_MS;
/// Log read before `from`: the agent states in force at `from`.
const LOOKBACK_MS: u64 = DAY_MS;
/// Log read after `to`: wrap-ups of calls that ended before `to`.
const LOOKAHEAD_MS: u64 = 3600 * 1000;
/// Service-level threshold of a queue that is no longer configured.
const DEFAULT_SERVICE_LEVEL_SECS: u32 = 20;

/// The window and how to split it. Numbers are parsed here (not by
/// serde) so that a bad value is a 400 naming its parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// Start, ms since the Unix epoch (inclusive). Required.
    from: Option<String>,
    /// End, ms since the Unix epoch (exclusive). Required; after `from`,
    /// at most 31 days later.
    to: Option<String>,
    /// `15m`, `hour` or `day`: one row per UTC-aligned interval; absent:
    /// one row for the whole window.
    interval: Option<String>,
    /// Only this queue (queue report) / only this agent's extension
    /// (agent report).
    queue: Option<String>,
    agent: Option<String>,
    /// `json` (default) or `csv` (text/csv with a header row).
    format: Option<String>,
}

/// `from`/`to` of the raw log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// Start, ms since the Unix epoch (inclusive). Required.
    from: Option<String>,
    /// End, ms since the Unix epoch (exclusive). Required; after `from`,
    /// at most 31 days later.
    to: Option<String>,
}

fn ms_param(field: &str, v: &Option<String>) -> ApiResult<u64> {
    let s = v
        .as_deref()
        .ok_or_else(|| ApiError::validation(field, "is required (ms since the Unix epoch)"))?;
    s.parse::<u64>()
        .map_err(|_| ApiError::validation(field, format!("{s:?} is not a whole number of ms")))
}

fn window(from: &Option<String>, to: &Option<String>) -> ApiResult<(u64, u64)> {
    let (from, to) = (ms_param("from", from)?, ms_param("to", to)?);
    if to <= from {
        return Err(ApiError::validation("to", "must be after from"));
    }
    if to - from > MAX_SPAN_MS {
        return Err(ApiError::validation(
            "to",
            "is more than 31 days after from; ask for a shorter window",
        ));
    }
    Ok((from, to))
}

/// `[from, to)` cut at the UTC boundaries of `interval`.
fn intervals(from: u64, to: u64, interval: Option<&str>) -> ApiResult<Vec<(u64, u64)>> {
    let len = match interval {
        None => return Ok(vec![(from, to)]),
        Some("15m") => 15 * 60 * 1000,
        Some("hour") => 3600 * 1000,
        Some("day") => DAY_MS,
        Some(other) => {
            return Err(ApiError::validation(
                "interval",
                format!("{other:?} is not 15m, hour or day"),
            ));
        }
    };
    let mut out = Vec::new();
    let mut a = from;
    while a < to {
        let b = ((a / len) + 1).saturating_mul(len).min(to);
        out.push((a, b));
        a = b;
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Csv,
}

fn format(v: &Option<String>) -> ApiResult<Format> {
    match v.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::validation(
            "format",
            format!("{other:?} is not json or csv"),
        )),
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|q| q.0)
        .map_err(|r| ApiError::validation("query", r.body_text()))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The log around `[from, to)`: see the module documentation.
fn load(s: &ApiState, tenant: &str, from: u64, to: u64) -> ApiResult<Vec<QueueEvent>> {
    Ok(s.store.queue_events(
        tenant,
        from.saturating_sub(LOOKBACK_MS),
        to.saturating_add(LOOKAHEAD_MS),
    )?)
}

/// The name of an exit reason in rows and CSV headers.
fn exit_name(r: ExitReason) -> &'static str {
    match r {
        ExitReason::Answered => "answered",
        ExitReason::Abandoned => "abandoned",
        ExitReason::Timeout => "timeout",
        ExitReason::Empty => "empty",
        ExitReason::Key => "key",
        ExitReason::CallbackChosen => "callback-chosen",
        ExitReason::CallbackFailed => "callback-failed",
    }
}

/// One queue over one interval. Every figure is
/// `switchyard_acd::figures::queue_figures` over the queue's events whose
/// `at_ms` is in `[from_ms, to_ms)`; means and ratios are `null` when
/// their divisor is 0.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueReportRow {
    pub queue: String,
    /// Interval start, ms since the Unix epoch (inclusive).
    pub from_ms: u64,
    /// Interval end (exclusive).
    pub to_ms: u64,
    /// Calls that joined the queue (`join` events).
    pub offered: u32,
    /// Calls an agent answered (`answer` events; connected callbacks are
    /// counted apart, in `callbacks_completed`).
    pub answered: u32,
    /// Callers who hung up before an answer (`abandon` events).
    pub abandoned: u32,
    /// Mean wait of the abandoned calls before they hung up, ms.
    pub abandon_mean_wait_ms: Option<u64>,
    /// `abandoned ÷ offered`.
    pub abandonment_rate: Option<f64>,
    /// ASA: mean wait of the answered calls (join to answer), ms.
    pub asa_ms: Option<u64>,
    /// AHT, ms: mean of talk + wrap-up over the calls that ended
    /// (`call-ended`) in the interval, talk from `call-ended` and wrap-up
    /// from the call's `wrap-up-ended` (none counts 0). Hold is part of
    /// talk.
    pub aht_ms: Option<u64>,
    /// SL: answered within the threshold ÷ answered ("within" is a wait
    /// `<=` the threshold).
    pub service_level: Option<f64>,
    /// SL2: (answered within + abandoned within the threshold) ÷
    /// (answered + abandoned).
    pub service_level_2: Option<f64>,
    /// The threshold used: the queue's `service_level_secs` (20 for a
    /// queue no longer configured).
    pub service_level_secs: u32,
    /// `callback-requested` events.
    pub callbacks_requested: u32,
    /// `callback-completed` events (callbacks connected).
    pub callbacks_completed: u32,
    /// `callback-failed` events.
    pub callbacks_failed: u32,
    /// Exits other than answer and abandon (`exit` events), by reason:
    /// `timeout`, `key`, `empty`, `callback-chosen`, `callback-failed`.
    pub exits: BTreeMap<String, u32>,
}

fn queue_row(queue: &str, (a, b): (u64, u64), secs: u32, f: QueueFigures) -> QueueReportRow {
    QueueReportRow {
        queue: queue.to_string(),
        from_ms: a,
        to_ms: b,
        offered: f.offered,
        answered: f.answered,
        abandoned: f.abandoned,
        abandon_mean_wait_ms: f.abandon_mean_wait.map(ms),
        abandonment_rate: f.abandonment_rate,
        asa_ms: f.asa.map(ms),
        aht_ms: f.aht.map(ms),
        service_level: f.service_level,
        service_level_2: f.service_level_2,
        service_level_secs: secs,
        callbacks_requested: f.callbacks_requested,
        callbacks_completed: f.callbacks_completed,
        callbacks_failed: f.callbacks_failed,
        exits: f
            .exits
            .into_iter()
            .map(|(r, n)| (exit_name(r).to_string(), n))
            .collect(),
    }
}

/// One agent over one interval: `switchyard_acd::figures::agent_figures`
/// over the agent's events. Counts are of events with `at_ms` in
/// `[from_ms, to_ms)`; times come from the agent's `agent-state` events:
/// the state in force at `from_ms` is the last one logged at or before it
/// (logged out if none in the 24 hours before `from` of the request), each
/// lasts until the next, the last one until `to_ms`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentReportRow {
    /// The agent's extension.
    pub agent: String,
    pub from_ms: u64,
    pub to_ms: u64,
    /// Queue calls answered and callbacks connected by the agent
    /// (`answer` and `callback-completed` events).
    pub calls: u32,
    /// Sum of `call-ended` talk of the agent's calls, ms.
    pub talk_ms: u64,
    /// Offers to the agent that rang out (`ring-no-answer`).
    pub missed_offers: u32,
    /// Offers that failed at once (busy, declined, error: `offer-failed`).
    pub failed_offers: u32,
    /// Time paused, by pause reason, ms.
    pub pause_ms: BTreeMap<String, u64>,
    /// Time in any state but logged-out, ms.
    pub logged_in_ms: u64,
    /// Time logged in and not paused, ms.
    pub staffed_ms: u64,
    /// Time on-call, on-other-call or wrap-up, ms.
    pub busy_ms: u64,
    /// Occupancy: `busy ÷ staffed` — time on calls (queue or other) and
    /// wrap-up ÷ time logged in and not paused; `null` when never staffed.
    pub occupancy: Option<f64>,
}

fn agent_row(agent: &str, (a, b): (u64, u64), f: AgentFigures) -> AgentReportRow {
    AgentReportRow {
        agent: agent.to_string(),
        from_ms: a,
        to_ms: b,
        calls: f.calls,
        talk_ms: ms(f.talk),
        missed_offers: f.missed_offers,
        failed_offers: f.failed_offers,
        pause_ms: f
            .pause_by_reason
            .into_iter()
            .map(|(r, d)| (r, ms(d)))
            .collect(),
        logged_in_ms: ms(f.logged_in),
        staffed_ms: ms(f.staffed),
        busy_ms: ms(f.busy),
        occupancy: f.occupancy,
    }
}

/// The rows of the queue report, queue by queue, intervals in order.
fn queue_rows(
    s: &ApiState,
    tenant: &str,
    events: &[QueueEvent],
    spans: &[(u64, u64)],
    only: Option<&str>,
) -> ApiResult<Vec<QueueReportRow>> {
    let mut thresholds: BTreeMap<String, u32> = s
        .store
        .list_queues(tenant)?
        .into_iter()
        .map(|q| (q.name, q.service_level_secs))
        .collect();
    // Queues that were deleted but are in the log.
    let mut by_queue: BTreeMap<&str, Vec<&QueueEvent>> = BTreeMap::new();
    for e in events {
        if let Some(q) = e.queue.as_deref() {
            by_queue.entry(q).or_default().push(e);
        }
    }
    for q in by_queue.keys() {
        thresholds
            .entry(q.to_string())
            .or_insert(DEFAULT_SERVICE_LEVEL_SECS);
    }
    let mut rows = Vec::new();
    for (queue, secs) in thresholds {
        if only.is_some_and(|o| o != queue) {
            continue;
        }
        let mine = by_queue.get(queue.as_str()).map_or(&[][..], Vec::as_slice);
        // Each call's wrap-up, wherever it is in the loaded log (the last
        // one wins, as in `queue_figures`).
        let wraps: HashMap<&str, &QueueEvent> = mine
            .iter()
            .filter(|e| matches!(e.kind, EventKind::WrapUpEnded { .. }))
            .filter_map(|e| Some((e.call.as_deref()?, *e)))
            .collect();
        let threshold = Duration::from_secs(u64::from(secs));
        for &(a, b) in spans {
            // The interval's events plus the wrap-ups of its ended calls:
            // `queue_figures` over this gives what it gives over the whole
            // log, without scanning the whole log per interval.
            let lo = mine.partition_point(|e| e.at_ms < a);
            let hi = mine.partition_point(|e| e.at_ms < b);
            let mut slice: Vec<QueueEvent> = mine[lo..hi].iter().map(|e| (*e).clone()).collect();
            for e in &mine[lo..hi] {
                if let (EventKind::CallEnded { .. }, Some(call)) = (&e.kind, e.call.as_deref())
                    && let Some(w) = wraps.get(call)
                {
                    slice.push((*w).clone());
                }
            }
            let f = queue_figures(&slice, &queue, a, b, threshold);
            rows.push(queue_row(&queue, (a, b), secs, f));
        }
    }
    Ok(rows)
}

/// The rows of the agent report, agent by agent, intervals in order.
fn agent_rows(
    s: &ApiState,
    tenant: &str,
    events: &[QueueEvent],
    spans: &[(u64, u64)],
    only: Option<&str>,
) -> ApiResult<Vec<AgentReportRow>> {
    let mut by_agent: BTreeMap<String, Vec<QueueEvent>> = BTreeMap::new();
    for q in s.store.list_queues(tenant)? {
        for a in q.agents {
            by_agent.entry(a.extension).or_default();
        }
    }
    for e in events {
        if let Some(a) = e.agent.as_deref() {
            by_agent.entry(a.to_string()).or_default().push(e.clone());
        }
    }
    let mut rows = Vec::new();
    for (agent, mine) in by_agent {
        if only.is_some_and(|o| o != agent) {
            continue;
        }
        for &(a, b) in spans {
            // From the last state change at or before `a` (the state in
            // force at `a`) to the end of the interval: `agent_figures`
            // gives the same over this as over the whole log.
            let lo = mine.partition_point(|e| e.at_ms < a);
            let hi = mine.partition_point(|e| e.at_ms < b);
            let start = mine[..hi]
                .iter()
                .rposition(|e| e.at_ms <= a && matches!(e.kind, EventKind::AgentState { .. }))
                .map_or(lo, |i| i.min(lo));
            let f = agent_figures(&mine[start..hi], &agent, a, b);
            rows.push(agent_row(&agent, (a, b), f));
        }
    }
    Ok(rows)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

const QUEUE_EXITS: [ExitReason; 5] = [
    ExitReason::Timeout,
    ExitReason::Key,
    ExitReason::Empty,
    ExitReason::CallbackChosen,
    ExitReason::CallbackFailed,
];

fn queue_csv(rows: &[QueueReportRow]) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = [
        "queue",
        "from_ms",
        "to_ms",
        "offered",
        "answered",
        "abandoned",
        "abandon_mean_wait_ms",
        "abandonment_rate",
        "asa_ms",
        "aht_ms",
        "service_level",
        "service_level_2",
        "service_level_secs",
        "callbacks_requested",
        "callbacks_completed",
        "callbacks_failed",
    ]
    .map(String::from)
    .to_vec();
    header.extend(
        QUEUE_EXITS
            .iter()
            .map(|r| format!("exits_{}", exit_name(*r).replace('-', "_"))),
    );
    push_csv_row(&mut out, header.into_iter());
    for r in rows {
        let mut fields = vec![
            r.queue.clone(),
            r.from_ms.to_string(),
            r.to_ms.to_string(),
            r.offered.to_string(),
            r.answered.to_string(),
            r.abandoned.to_string(),
            opt(r.abandon_mean_wait_ms),
            opt(r.abandonment_rate),
            opt(r.asa_ms),
            opt(r.aht_ms),
            opt(r.service_level),
            opt(r.service_level_2),
            r.service_level_secs.to_string(),
            r.callbacks_requested.to_string(),
            r.callbacks_completed.to_string(),
            r.callbacks_failed.to_string(),
        ];
        fields.extend(
            QUEUE_EXITS
                .iter()
                .map(|e| r.exits.get(exit_name(*e)).copied().unwrap_or(0).to_string()),
        );
        push_csv_row(&mut out, fields.into_iter());
    }
    out
}

/// Pause columns: the tenant's reasons in its order, then any other
/// reason found in the rows, sorted.
fn agent_csv(rows: &[AgentReportRow], tenant_reasons: &[String]) -> String {
    let mut reasons: Vec<String> = tenant_reasons.to_vec();
    let extra: BTreeSet<&String> = rows
        .iter()
        .flat_map(|r| r.pause_ms.keys())
        .filter(|r| !tenant_reasons.contains(r))
        .collect();
    reasons.extend(extra.into_iter().cloned());
    let mut out = String::new();
    let mut header: Vec<String> = [
        "agent",
        "from_ms",
        "to_ms",
        "calls",
        "talk_ms",
        "missed_offers",
        "failed_offers",
        "logged_in_ms",
        "staffed_ms",
        "busy_ms",
        "occupancy",
    ]
    .map(String::from)
    .to_vec();
    header.extend(reasons.iter().map(|r| format!("pause_ms_{r}")));
    push_csv_row(&mut out, header.into_iter());
    for r in rows {
        let mut fields = vec![
            r.agent.clone(),
            r.from_ms.to_string(),
            r.to_ms.to_string(),
            r.calls.to_string(),
            r.talk_ms.to_string(),
            r.missed_offers.to_string(),
            r.failed_offers.to_string(),
            r.logged_in_ms.to_string(),
            r.staffed_ms.to_string(),
            r.busy_ms.to_string(),
            opt(r.occupancy),
        ];
        fields.extend(
            reasons
                .iter()
                .map(|x| r.pause_ms.get(x).copied().unwrap_or(0).to_string()),
        );
        push_csv_row(&mut out, fields.into_iter());
    }
    out
}

fn csv_response(body: String) -> Response {
    ([(CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

/// Queue figures per queue and interval, from the queue log.
///
/// One row per queue (configured, or found in the log) and interval. The
/// figures are `switchyard_acd::figures::queue_figures` over the queue's
/// events with `at_ms` in the row's `[from_ms, to_ms)`:
/// offered = `join` events; answered = `answer` events (connected
/// callbacks are counted apart, in `callbacks_completed`); abandoned =
/// `abandon` events; abandon mean wait = mean wait of the abandoned calls;
/// abandonment rate = abandoned ÷ offered; ASA = mean wait of the answered
/// calls (join to answer); AHT = mean of talk + wrap-up over the calls
/// that ended (`call-ended`) in the interval, talk from `call-ended`,
/// wrap-up from the call's `wrap-up-ended` (none counts 0), hold part of
/// talk; SL = answered within the threshold ÷ answered; SL2 = (answered
/// within + abandoned within) ÷ (answered + abandoned), "within" meaning a
/// wait `<=` the queue's `service_level_secs`; callbacks requested /
/// completed / failed = `callback-requested` / `callback-completed` /
/// `callback-failed` events; exits = `exit` events by reason. Means and
/// ratios with a zero divisor are `null` (empty in CSV); times are ms.
///
/// `format=csv`: `text/csv`, a header row, then one row per queue and
/// interval; the exits are columns `exits_timeout`, `exits_key`,
/// `exits_empty`, `exits_callback_chosen`, `exits_callback_failed`.
/// Admins and supervisors only.
#[utoipa::path(get, path = "/api/tenants/{tenant}/reports/queues", tag = "reports",
    params(TenantP, ReportQuery),
    responses((status = 200, description = "The rows (JSON), or with `format=csv` the CSV",
            content(([QueueReportRow] = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn queues(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    plan_gate::require(&s, &scope.tenant, Feature::Reporting)?;
    let q = query(q)?;
    let (from, to) = window(&q.from, &q.to)?;
    let spans = intervals(from, to, q.interval.as_deref())?;
    let fmt = format(&q.format)?;
    let events = load(&s, scope.id(), from, to)?;
    let rows = queue_rows(&s, scope.id(), &events, &spans, q.queue.as_deref())?;
    Ok(match fmt {
        Format::Json => Json(rows).into_response(),
        Format::Csv => csv_response(queue_csv(&rows)),
    })
}

/// Agent figures per agent and interval, from the queue log.
///
/// One row per agent (configured in a queue, or found in the log) and
/// interval: `switchyard_acd::figures::agent_figures` over the agent's
/// events. calls = `answer` and `callback-completed` events of the agent;
/// talk = sum of the agent's `call-ended` talk; missed offers =
/// `ring-no-answer`; failed offers = `offer-failed` (busy, declined,
/// error); those count events with `at_ms` in `[from_ms, to_ms)`. Times
/// come from the agent's `agent-state` events: the state in force at
/// `from_ms` is the last one logged at or before it (logged out if none),
/// each state lasts until the next event, the last one until `to_ms`.
/// pause = time paused, by reason; logged in = time in any state but
/// logged-out; staffed = time logged in and not paused; busy = time
/// on-call, on-other-call or wrap-up; occupancy = busy ÷ staffed (`null`
/// when staffed is 0). Times are ms. The log is read from 24 hours before
/// `from`: an agent whose last state change is older counts as logged out
/// until their next one.
///
/// An agent key gets only its own rows (its `agent` filter is forced);
/// admins and supervisors every agent. `format=csv`: `text/csv`, a header
/// row, pause columns `pause_ms_<reason>` (the tenant's reasons, then any
/// other found).
#[utoipa::path(get, path = "/api/tenants/{tenant}/reports/agents", tag = "reports",
    params(TenantP, ReportQuery),
    responses((status = 200, description = "The rows (JSON), or with `format=csv` the CSV",
            content(([AgentReportRow] = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn agents(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    plan_gate::require(&s, &scope.tenant, Feature::Reporting)?;
    let q = query(q)?;
    let own = scope.agent_filter()?;
    if let (Some(own), Some(asked)) = (own, q.agent.as_deref())
        && own != asked
    {
        return Err(ApiError::forbidden(format!(
            "an agent key sees only its own figures ({own})"
        )));
    }
    let (from, to) = window(&q.from, &q.to)?;
    let spans = intervals(from, to, q.interval.as_deref())?;
    let fmt = format(&q.format)?;
    let events = load(&s, scope.id(), from, to)?;
    let only = own.or(q.agent.as_deref());
    let rows = agent_rows(&s, scope.id(), &events, &spans, only)?;
    Ok(match fmt {
        Format::Json => Json(rows).into_response(),
        Format::Csv => csv_response(agent_csv(&rows, &scope.tenant.pause_reasons)),
    })
}

/// The raw queue log of `[from, to)`, oldest first (at most 31 days).
///
/// Each event: `{"at-ms", "queue", "call", "agent", "kind"}`; `kind` is
/// tagged by `type` (`join`, `offer`, `offer-failed`, `ring-no-answer`,
/// `answer`, `abandon`, `exit`, `call-ended`, `wrap-up-ended`,
/// `callback-requested`, `callback-attempted`, `callback-completed`,
/// `callback-failed`, `agent-state`) with its fields in kebab-case and
/// durations in ms (`wait-ms`, `talk-ms`, `wrap-ms`); a
/// `callback-requested` has `automatic: true` when the caller hung up
/// after the queue's `callback_on_abandon_secs` rather than pressing the
/// callback key. Admins and supervisors only.
#[utoipa::path(get, path = "/api/tenants/{tenant}/queue-log", tag = "reports",
    params(TenantP, LogQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn queue_log(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<QueueEvent>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    plan_gate::require(&s, &scope.tenant, Feature::Reporting)?;
    let q = query(q)?;
    let (from, to) = window(&q.from, &q.to)?;
    Ok(Json(s.store.queue_events(scope.id(), from, to)?))
}

#[cfg(test)]
mod tests {
    use super::intervals;

    #[test]
    fn intervals_are_cut_at_utc_boundaries() {
        let h = 3_600_000;
        assert_eq!(
            intervals(h / 2, 2 * h + 5, Some("hour")).unwrap(),
            vec![(h / 2, h), (h, 2 * h), (2 * h, 2 * h + 5)]
        );
        assert_eq!(intervals(0, h, Some("15m")).unwrap().len(), 4);
        assert_eq!(intervals(7, 9, None).unwrap(), vec![(7, 9)]);
        assert!(intervals(0, h, Some("week")).is_err());
    }
}
