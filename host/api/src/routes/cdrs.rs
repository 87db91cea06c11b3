//! `/api/tenants/{tenant}/cdrs`: call records, newest first, filtered and
//! paged; `cdrs.csv` exports the same selection. Agent keys see only calls
//! they took part in (as agent, caller or callee).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchyard_store::{Cdr, CdrFilter, CdrRepo, Disposition, WrapUp, WrapUpRepo, cdrs_to_csv};
use utoipa::{IntoParams, ToSchema};

use super::TenantP;
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiPath, ApiResult, ErrorBody};

/// Rows of one page when `limit` is absent.
const DEFAULT_LIMIT: usize = 100;
/// Largest page (the store's cap too).
const MAX_LIMIT: usize = 1000;
/// Largest CSV export; narrow the time window for more.
const CSV_MAX_ROWS: usize = 100_000;

/// Filters and paging. Numbers are parsed here (not by serde) so that a bad
/// value is a 400 naming its parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CdrQuery {
    /// Calls that started at or after this time (ms since the Unix epoch).
    from: Option<String>,
    /// Calls that started before this time (ms since the Unix epoch).
    to: Option<String>,
    /// Caller, callee or dialled number equal to this.
    number: Option<String>,
    /// Agent extension.
    agent: Option<String>,
    /// `answered`, `no-answer`, `busy`, `failed`, `cancelled`, `voicemail`
    /// or `rejected`.
    disposition: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    limit: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// A call record with the agent's wrap-up, when one was saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrRow {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub cdr: Cdr,
    /// The agent's disposition code and notes
    /// (`PUT …/cdrs/{call_id}/wrap-up`).
    #[schema(value_type = Option<Object>)]
    pub wrap_up: Option<WrapUp>,
}

/// One page of call records, as the list route gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrListView {
    /// Newest first.
    pub rows: Vec<CdrRow>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One page of call records.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrPageView {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Cdr>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

fn parse_u64(field: &str, v: &Option<String>) -> ApiResult<Option<u64>> {
    v.as_deref()
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| ApiError::validation(field, format!("{s:?} is not a whole number")))
        })
        .transpose()
}

fn filter(q: &CdrQuery) -> ApiResult<CdrFilter> {
    let limit = match parse_u64("limit", &q.limit)? {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(
                "limit",
                format!("{n} is not between 1 and {MAX_LIMIT}"),
            ));
        }
    };
    Ok(CdrFilter {
        from_ms: parse_u64("from", &q.from)?,
        to_ms: parse_u64("to", &q.to)?,
        number: q.number.clone(),
        agent: q.agent.clone(),
        disposition: q
            .disposition
            .as_deref()
            .map(str::parse::<Disposition>)
            .transpose()
            .map_err(|e| ApiError::validation("disposition", e))?,
        limit,
        after: q.after.clone(),
    })
}

fn query(q: Result<Query<CdrQuery>, QueryRejection>) -> ApiResult<CdrQuery> {
    q.map(|q| q.0)
        .map_err(|r| ApiError::validation("query", r.body_text()))
}

pub(super) fn involves(c: &Cdr, ext: &str) -> bool {
    c.caller == ext || c.callee == ext || c.agent.as_deref() == Some(ext)
}

/// One page for `f`, limited to the agent's calls when `agent` is set. The
/// store filters by one field at a time, so for agents rows are read in
/// store pages and filtered here; the cursor is the last row returned, in
/// the store's own `<start_ms>.<id>` form, so paging stays consistent.
pub(super) fn page(
    s: &ApiState,
    tenant: &str,
    f: &CdrFilter,
    agent: Option<&str>,
) -> ApiResult<CdrPageView> {
    let Some(ext) = agent else {
        let p = s.store.query_cdrs(tenant, f)?;
        return Ok(CdrPageView {
            rows: p.rows,
            next: p.next,
        });
    };
    let mut rows = Vec::new();
    let mut inner = CdrFilter {
        limit: MAX_LIMIT,
        ..f.clone()
    };
    loop {
        let p = s.store.query_cdrs(tenant, &inner)?;
        for c in p.rows {
            if involves(&c, ext) {
                if rows.len() == f.limit {
                    // One more row exists: the page ends at the last kept.
                    let next = rows
                        .last()
                        .map(|c: &Cdr| format!("{}.{}", c.start_ms, c.id));
                    return Ok(CdrPageView { rows, next });
                }
                rows.push(c);
            }
        }
        match p.next {
            Some(n) => inner.after = Some(n),
            None => return Ok(CdrPageView { rows, next: None }),
        }
    }
}

/// Call records, newest first.
#[utoipa::path(get, path = "/api/tenants/{tenant}/cdrs", tag = "cdrs",
    params(TenantP, CdrQuery),
    responses((status = 200, body = CdrListView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<CdrQuery>, QueryRejection>,
) -> ApiResult<Json<CdrListView>> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    let f = filter(&query(q)?)?;
    let pg = page(&s, scope.id(), &f, scope.agent_filter()?)?;
    let rows = pg
        .rows
        .into_iter()
        .map(|cdr| {
            let wrap_up = s.store.wrap_up(scope.id(), &cdr.call_id)?;
            Ok(CdrRow { cdr, wrap_up })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(CdrListView {
        rows,
        next: pg.next,
    }))
}

/// The selected call records as CSV (RFC 4180, header row), up to 100 000.
#[utoipa::path(get, path = "/api/tenants/{tenant}/cdrs.csv", tag = "cdrs",
    params(TenantP, CdrQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn csv(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<CdrQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let scope = caller.scope(&s, &p.tenant, Need::OwnCalls)?;
    let mut f = filter(&query(q)?)?;
    f.limit = MAX_LIMIT;
    let agent = scope.agent_filter()?;
    let mut rows = Vec::new();
    loop {
        let pg = page(&s, scope.id(), &f, agent)?;
        rows.extend(pg.rows);
        match pg.next {
            Some(n) if rows.len() < CSV_MAX_ROWS => f.after = Some(n),
            _ => break,
        }
    }
    rows.truncate(CSV_MAX_ROWS);
    let disposition = format!("attachment; filename=\"cdrs-{}.csv\"", scope.id());
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        cdrs_to_csv(&rows),
    )
        .into_response())
}
