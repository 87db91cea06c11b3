//! What tenants pay. The operator prices plans (`rates` of a plan: per
//! minute by prefix and direction, monthly per number and extension),
//! makes a tenant prepaid or postpaid and tops prepaid balances up; the
//! tenant's admin and supervisor keys read their account, their usage and
//! charges per period, and the ledger as CSV — never the rate card.
//!
//! Amounts are decimal strings (`"0.0125"`), never floats.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use switchyard_store::{
    Account, BillingRepo, CallSide, ExtensionRepo, FileRepo, LedgerEntry, MinuteRate, NumberRepo,
    PlanRepo, Posting, RateCard, StoreError, push_csv_row, summarize,
};
use utoipa::{IntoParams, ToSchema};

use super::TenantP;
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use switchyard_clock::unix_ms;

fn amount(field: &str, text: &str) -> ApiResult<Decimal> {
    text.trim().parse::<Decimal>().map_err(|_| {
        ApiError::validation(field, format!("{text:?} is not an amount such as 0.0125"))
    })
}

/// The price of a minute to (or from) numbers starting with `prefix`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinuteRateBody {
    /// `outbound` (rated by the number called) or `inbound` (by the DID
    /// dialled from outside).
    pub direction: String,
    /// `+44`, `+447`; `""` for every number no longer prefix matches.
    #[serde(default)]
    pub prefix: String,
    /// Per minute, e.g. `"0.0125"`.
    pub per_minute: String,
    /// `first/next` seconds: `60/60` (whole minutes, the default), `1/1`,
    /// `30/6`.
    #[serde(default = "d_increment")]
    pub increment: String,
}

fn d_increment() -> String {
    "60/60".into()
}

/// A plan's prices. No rate for a call: its minutes are counted, free.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateCardBody {
    /// ISO 4217 code shown beside amounts.
    pub currency: String,
    pub minutes: Vec<MinuteRateBody>,
    /// A month of one number held.
    pub number_monthly: Option<String>,
    /// A month of one extension.
    pub extension_monthly: Option<String>,
}

impl RateCardBody {
    pub(crate) fn to_card(&self) -> ApiResult<RateCard> {
        let mut minutes = Vec::new();
        for r in &self.minutes {
            let direction = match r.direction.as_str() {
                "inbound" => CallSide::Inbound,
                "outbound" => CallSide::Outbound,
                other => {
                    return Err(ApiError::validation(
                        "rates.minutes.direction",
                        format!("{other:?} is not inbound or outbound"),
                    ));
                }
            };
            minutes.push(MinuteRate {
                direction,
                prefix: r.prefix.clone(),
                per_minute: amount("rates.minutes.per_minute", &r.per_minute)?,
                increment: r
                    .increment
                    .parse()
                    .map_err(|e| ApiError::validation("rates.minutes.increment", e))?,
            });
        }
        let monthly = |field: &str, v: &Option<String>| match v {
            None => Ok(Decimal::ZERO),
            Some(t) => amount(field, t),
        };
        let card = RateCard {
            currency: self.currency.clone(),
            minutes,
            number_monthly: monthly("rates.number_monthly", &self.number_monthly)?,
            extension_monthly: monthly("rates.extension_monthly", &self.extension_monthly)?,
        };
        card.validate().map_err(|e| match e {
            StoreError::Invalid { field, message } => {
                ApiError::validation(&format!("rates.{field}"), message)
            }
            other => other.into(),
        })?;
        Ok(card)
    }

    pub(crate) fn of(card: RateCard) -> RateCardBody {
        RateCardBody {
            currency: card.currency,
            minutes: card
                .minutes
                .into_iter()
                .map(|r| MinuteRateBody {
                    direction: r.direction.as_str().into(),
                    prefix: r.prefix,
                    per_minute: r.per_minute.to_string(),
                    increment: r.increment.to_string(),
                })
                .collect(),
            number_monthly: Some(card.number_monthly.to_string()),
            extension_monthly: Some(card.extension_monthly.to_string()),
        }
    }
}

/// A tenant's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Prepaid: calls through the trunk need a balance above zero.
    /// Postpaid: charges accumulate (a negative balance) to be invoiced.
    pub prepaid: bool,
    pub balance: String,
    pub currency: String,
    /// Below it, the low-balance notice goes out (once, until a top-up).
    pub low_balance_threshold: String,
    pub notify_email: Option<String>,
    /// A prepaid balance at or below zero: calls out are refused (402).
    pub exhausted: bool,
}

fn account_view(
    s: &ApiState,
    tenant: &switchyard_store::Tenant,
    a: Account,
) -> ApiResult<AccountView> {
    let currency = s.store.entitlements(tenant)?.rates.currency;
    Ok(AccountView {
        exhausted: a.exhausted(),
        prepaid: a.prepaid,
        balance: money(a.balance),
        currency,
        low_balance_threshold: money(a.low_balance_threshold),
        notify_email: a.notify_email,
    })
}

/// How the operator bills a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    pub prepaid: bool,
    /// Default `"0"`.
    #[serde(default)]
    pub low_balance_threshold: Option<String>,
    /// Where the low-balance notice is mailed.
    #[serde(default)]
    pub notify_email: Option<String>,
}

/// Money the operator adds to a tenant's balance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    /// Above zero, e.g. `"25.00"`.
    pub amount: String,
    /// The payment it records (an invoice, a card payment's id): unique
    /// per tenant, so the same top-up sent twice is added once.
    pub reference: String,
}

/// The tenant's account: balance, prepaid or not.
#[utoipa::path(get, path = "/api/tenants/{tenant}/account", tag = "billing", params(TenantP),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_account(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<AccountView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let a = s.store.account(scope.id())?;
    Ok(Json(account_view(&s, &scope.tenant, a)?))
}

/// Make the tenant prepaid or postpaid, and its low-balance notice
/// (operator only; the balance is kept).
#[utoipa::path(put, path = "/api/tenants/{tenant}/account", tag = "billing", params(TenantP),
    request_body = AccountBody,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_account(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(b): ApiJson<AccountBody>,
) -> ApiResult<Json<AccountView>> {
    let t = caller.require_operator_for(&s, &p.tenant)?;
    let threshold = match &b.low_balance_threshold {
        None => Decimal::ZERO,
        Some(v) => amount("low_balance_threshold", v)?,
    };
    let a = s
        .store
        .set_account(&t.id, b.prepaid, threshold, b.notify_email)?;
    Ok(Json(account_view(&s, &t, a)?))
}

/// Add to the tenant's balance (operator only).
#[utoipa::path(post, path = "/api/tenants/{tenant}/account/top-ups", tag = "billing",
    params(TenantP), request_body = TopUpBody,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn top_up(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(b): ApiJson<TopUpBody>,
) -> ApiResult<Json<AccountView>> {
    let t = caller.require_operator_for(&s, &p.tenant)?;
    let value = amount("amount", &b.amount)?;
    if value <= Decimal::ZERO {
        return Err(ApiError::validation("amount", "must be above zero"));
    }
    if b.reference.trim().is_empty() {
        return Err(ApiError::validation("reference", "is empty"));
    }
    let reference = b.reference.trim();
    if reference.len() > 100 || reference.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::validation(
            "reference",
            "must be at most 100 characters, without `/` or control characters",
        ));
    }
    // The reference is the line's id: the same top-up sent twice is
    // added once.
    let posting = Posting::TopUp {
        reference: reference.to_string(),
    };
    let posted = s.store.post(
        &t.id,
        &format!("top-up {reference}"),
        unix_ms(),
        posting,
        value,
    )?;
    Ok(Json(account_view(&s, &t, posted.account)?))
}

/// A period.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PeriodQuery {
    /// From this time (ms since the Unix epoch; default: the first
    /// instant of this month, UTC).
    from: Option<String>,
    /// Until this time, exclusive (default: the first instant of next
    /// month, UTC).
    to: Option<String>,
}

fn period(q: Result<Query<PeriodQuery>, QueryRejection>) -> ApiResult<(u64, u64)> {
    let q = q
        .map(|q| q.0)
        .map_err(|r| ApiError::validation("query", r.body_text()))?;
    let ms = |field: &str, v: &Option<String>| -> ApiResult<Option<u64>> {
        v.as_deref()
            .map(|t| {
                t.parse::<u64>().map_err(|_| {
                    ApiError::validation(
                        field,
                        format!("{t:?} is not a time in ms since the epoch"),
                    )
                })
            })
            .transpose()
    };
    let (month, next_month) = month_of(unix_ms());
    let from = ms("from", &q.from)?.unwrap_or(month);
    let to = ms("to", &q.to)?.unwrap_or(next_month);
    if from > to {
        return Err(ApiError::validation("from", "is after `to`"));
    }
    Ok((from, to))
}

/// The first instants of `now_ms`'s month and of the next, UTC.
fn month_of(now_ms: u64) -> (u64, u64) {
    let utc = jiff::tz::TimeZone::UTC;
    let ts = jiff::Timestamp::from_millisecond(now_ms as i64).unwrap_or_default();
    let first = ts.to_zoned_datetime(utc.clone()).date().first_of_month();
    let ms = |d: jiff::civil::Date| {
        d.to_zoned_datetime(utc.clone())
            .map(|z| z.timestamp().as_millisecond() as u64)
            .unwrap_or(0)
    };
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .unwrap_or(first);
    (ms(first), ms(next))
}

/// An amount as shown: no `-0`.
fn money(d: Decimal) -> String {
    if d.is_zero() {
        Decimal::ZERO.to_string()
    } else {
        d.normalize().to_string()
    }
}

/// Minutes of one direction and rate prefix.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinutesView {
    pub direction: String,
    /// The rate's prefix; `null`: calls no rate applied to (free).
    pub prefix: Option<String>,
    pub calls: u64,
    /// Connected seconds.
    pub seconds: u64,
    /// Seconds billed (after the increments).
    pub billed_seconds: u64,
    pub amount: String,
}

/// A month's fees.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyView {
    pub period: String,
    pub numbers: u32,
    pub extensions: u32,
    pub amount: String,
}

/// Usage and charges of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub from_ms: u64,
    pub to_ms: u64,
    pub currency: String,
    /// Trunk minutes by direction and rate prefix.
    pub minutes: Vec<MinutesView>,
    pub monthly: Vec<MonthlyView>,
    /// Everything charged in the period (minutes and monthly fees).
    pub charged: String,
    pub topped_up: String,
    /// Held now.
    pub numbers: usize,
    pub extensions: usize,
    /// Bytes of recordings stored now.
    pub recording_storage_bytes: u64,
}

/// Usage and charges of a period (default: this month so far).
#[utoipa::path(get, path = "/api/tenants/{tenant}/usage", tag = "billing",
    params(TenantP, PeriodQuery),
    responses((status = 200, body = UsageView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn usage(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> ApiResult<Json<UsageView>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let (from, to) = period(q)?;
    let id = scope.id();
    let lines = s.store.ledger(id, from, to)?;
    let sum = summarize(&lines);
    Ok(Json(UsageView {
        from_ms: from,
        to_ms: to,
        currency: s.store.entitlements(&scope.tenant)?.rates.currency,
        minutes: sum
            .minutes
            .into_iter()
            .map(|((side, prefix), m)| MinutesView {
                direction: side.as_str().into(),
                prefix,
                calls: m.calls,
                seconds: m.secs,
                billed_seconds: m.billed_secs,
                amount: money(m.amount),
            })
            .collect(),
        monthly: sum
            .monthly
            .into_iter()
            .map(|(period, numbers, extensions, amount)| MonthlyView {
                period,
                numbers,
                extensions,
                amount: money(amount),
            })
            .collect(),
        charged: money(-sum.charges),
        topped_up: money(sum.top_ups),
        numbers: s.store.list_numbers(id)?.len(),
        extensions: s.store.list_extensions(id)?.len(),
        recording_storage_bytes: s.store.stored_bytes(id, "recording")?,
    }))
}

/// The ledger of a period as CSV: every charge and top-up with the
/// balance after it.
#[utoipa::path(get, path = "/api/tenants/{tenant}/usage.csv", tag = "billing",
    params(TenantP, PeriodQuery),
    responses((status = 200, content_type = "text/csv", description = "One line per charge or top-up"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn usage_csv(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let (from, to) = period(q)?;
    let lines = s.store.ledger(scope.id(), from, to)?;
    let disposition = format!("attachment; filename=\"usage-{}.csv\"", scope.id());
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        ledger_csv(&lines),
    )
        .into_response())
}

/// `at_ms,id,kind,call_id,direction,number,prefix,seconds,billed_seconds,period,numbers,extensions,reference,amount,balance`.
fn ledger_csv(lines: &[LedgerEntry]) -> String {
    let mut out = String::from(
        "at_ms,id,kind,call_id,direction,number,prefix,seconds,billed_seconds,period,numbers,extensions,reference,amount,balance\n",
    );
    for l in lines {
        let mut f: Vec<String> = vec![l.at_ms.to_string(), l.id.clone()];
        match &l.posting {
            Posting::Call {
                call_id,
                direction,
                number,
                prefix,
                secs,
                billed_secs,
            } => f.extend([
                "call".into(),
                call_id.clone(),
                direction.as_str().into(),
                number.clone(),
                prefix.clone().unwrap_or_default(),
                secs.to_string(),
                billed_secs.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
            Posting::Monthly {
                period,
                numbers,
                extensions,
            } => {
                f.push("monthly".into());
                f.extend(std::iter::repeat_n(String::new(), 6));
                f.extend([
                    period.clone(),
                    numbers.to_string(),
                    extensions.to_string(),
                    String::new(),
                ]);
            }
            Posting::TopUp { reference } => {
                f.push("top-up".into());
                f.extend(std::iter::repeat_n(String::new(), 9));
                f.push(reference.clone());
            }
        }
        f.push(money(l.amount));
        f.push(money(l.balance));
        push_csv_row(&mut out, f.into_iter());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_starts_on_its_first_day_utc() {
        // 2026-12-04T20:48:28Z → 2026-12-01T00:00:00Z.
        // → 2027-01-01T00:00:00Z next.
        assert_eq!(
            month_of(1_796_417_308_000),
            (1_796_083_200_000, 1_798_761_600_000)
        );
        assert_eq!(month_of(1_796_083_200_000).0, 1_796_083_200_000);
    }

    #[test]
    fn every_csv_line_has_every_column() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let lines = [
            LedgerEntry {
                id: "top-up a".into(),
                at_ms: 1,
                posting: Posting::TopUp {
                    reference: "a".into(),
                },
                amount: d("10"),
                balance: d("10"),
            },
            LedgerEntry {
                id: "r1.out0".into(),
                at_ms: 2,
                posting: Posting::Call {
                    call_id: "c1".into(),
                    direction: CallSide::Outbound,
                    number: "+447700900123".into(),
                    prefix: Some("+447".into()),
                    secs: 95,
                    billed_secs: 96,
                },
                amount: d("-0.24"),
                balance: d("9.76"),
            },
            LedgerEntry {
                id: "monthly-2026-12".into(),
                at_ms: 3,
                posting: Posting::Monthly {
                    period: "2026-12".into(),
                    numbers: 2,
                    extensions: 3,
                },
                amount: d("-5"),
                balance: d("4.76"),
            },
        ];
        let csv = ledger_csv(&lines);
        let rows: Vec<&str> = csv.lines().collect();
        let columns = rows[0].split(',').count();
        assert_eq!(columns, 15);
        for r in &rows {
            assert_eq!(r.split(',').count(), columns, "{r}");
        }
        assert_eq!(
            rows[2],
            "2,r1.out0,call,c1,outbound,+447700900123,+447,95,96,,,,,-0.24,9.76"
        );
        assert!(rows[1].ends_with(",a,10,10"), "{}", rows[1]);
        assert!(rows[3].contains(",2026-12,2,3,,-5,4.76"), "{}", rows[3]);
    }
}
