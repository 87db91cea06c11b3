//! `/api/tenants/{tenant}/schedules`: opening hours and holidays by name,
//! which time-based routing plugins refer to (`schedule-ref`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{Holiday, Schedule, ScheduleRepo, validate_schedule};
use utoipa::ToSchema;

use super::{NameP, TenantP, changed, deleted, found};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use crate::names::check_name;

/// A closed day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayBody {
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(default)]
    pub name: String,
    /// Every year on the same month and day.
    #[serde(default)]
    pub yearly: bool,
}

/// A schedule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Required on create; on `PUT` the path names the schedule.
    #[serde(default)]
    pub name: String,
    /// IANA time zone; the tenant's when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Weekday (`monday` … `sunday`) → intervals `HH:MM-HH:MM`.
    #[serde(default)]
    pub open: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub holidays: Vec<HolidayBody>,
}

impl From<Schedule> for ScheduleBody {
    fn from(s: Schedule) -> ScheduleBody {
        ScheduleBody {
            name: s.name,
            time_zone: s.time_zone,
            open: s.open,
            holidays: s
                .holidays
                .into_iter()
                .map(|h| HolidayBody {
                    date: h.date,
                    name: h.name,
                    yearly: h.yearly,
                })
                .collect(),
        }
    }
}

fn build(tenant: &str, name: String, b: ScheduleBody) -> ApiResult<Schedule> {
    let s = Schedule {
        tenant: tenant.to_string(),
        name,
        time_zone: b.time_zone,
        open: b.open,
        holidays: b
            .holidays
            .into_iter()
            .map(|h| Holiday {
                date: h.date,
                name: h.name,
                yearly: h.yearly,
            })
            .collect(),
    };
    validate_schedule(&s)?;
    Ok(s)
}

/// List schedules.
#[utoipa::path(get, path = "/api/tenants/{tenant}/schedules", tag = "schedules",
    params(TenantP),
    responses((status = 200, body = [ScheduleBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<ScheduleBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let list = s.store.list_schedules(scope.id())?;
    Ok(Json(list.into_iter().map(ScheduleBody::from).collect()))
}

/// Add a schedule.
#[utoipa::path(post, path = "/api/tenants/{tenant}/schedules", tag = "schedules",
    params(TenantP), request_body = ScheduleBody,
    responses((status = 201, body = ScheduleBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a name outside the name rule")))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(mut body): ApiJson<ScheduleBody>,
) -> ApiResult<(StatusCode, Json<ScheduleBody>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let name = std::mem::take(&mut body.name);
    if name.is_empty() {
        return Err(ApiError::validation("name", "is required"));
    }
    check_name("name", &name)?;
    if s.store.get_schedule(scope.id(), &name)?.is_some() {
        return Err(ApiError::conflict(format!(
            "schedule {name:?} already exists"
        )));
    }
    let sch = build(scope.id(), name, body)?;
    s.store.put_schedule(&sch)?;
    changed(&s, scope.id());
    Ok((StatusCode::CREATED, Json(sch.into())))
}

/// Read a schedule.
#[utoipa::path(get, path = "/api/tenants/{tenant}/schedules/{name}", tag = "schedules",
    params(NameP),
    responses((status = 200, body = ScheduleBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<Json<ScheduleBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let sch = found(s.store.get_schedule(scope.id(), &p.name), || {
        format!("schedule {:?}", p.name)
    })?;
    Ok(Json(sch.into()))
}

/// Replace a schedule.
#[utoipa::path(put, path = "/api/tenants/{tenant}/schedules/{name}", tag = "schedules",
    params(NameP), request_body = ScheduleBody,
    responses((status = 200, body = ScheduleBody), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<Json<ScheduleBody>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let old = found(s.store.get_schedule(scope.id(), &p.name), || {
        format!("schedule {:?}", p.name)
    })?;
    if !body.name.is_empty() && body.name != p.name {
        return Err(ApiError::validation(
            "name",
            "differs from the schedule in the path",
        ));
    }
    let sch = build(scope.id(), old.name, body)?;
    s.store.put_schedule(&sch)?;
    changed(&s, scope.id());
    Ok(Json(sch.into()))
}

/// Remove a schedule.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/schedules/{name}", tag = "schedules",
    params(NameP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NameP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let r = deleted(s.store.delete_schedule(scope.id(), &p.name), || {
        format!("schedule {:?}", p.name)
    })?;
    changed(&s, scope.id());
    Ok(r)
}
