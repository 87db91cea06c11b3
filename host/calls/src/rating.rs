//! Charging calls that used the tenant's trunk: which parts of a finished
//! call's record went through a trunk (the caller's side of a call from
//! the carrier; every answered leg to an outside number), what each costs
//! under the tenant's plan, posted to its ledger; and whether a prepaid
//! tenant may still use its trunk.

use std::sync::Arc;

use switchyard_clock::unix_ms;
use switchyard_plugins::account_types::{AccountNotice, AccountNoticeKind};
use switchyard_store::{Account, BillingRepo, CallSide, Cdr, Posting, RateCard, Store};

use crate::{Shared, Tenant};

/// What a tenant's calls are charged under.
#[derive(Debug, Clone)]
pub struct TenantBilling {
    /// The plan's prices (empty: nothing costs anything; minutes are still
    /// counted).
    pub rates: Arc<RateCard>,
    /// A prepaid tenant out of balance still takes calls from outside.
    pub inbound_without_balance: bool,
    /// Calls in progress that spent a prepaid balance end this much later
    /// ([`crate::credit`]).
    pub grace: std::time::Duration,
}

impl TenantBilling {
    /// Whether any call minute costs anything (else live calls need no
    /// watching).
    pub fn rates_minutes(&self) -> bool {
        self.rates.minutes.iter().any(|r| !r.per_minute.is_zero())
    }
}

impl Default for TenantBilling {
    fn default() -> TenantBilling {
        TenantBilling {
            rates: Arc::default(),
            inbound_without_balance: true,
            grace: std::time::Duration::from_secs(switchyard_store::default_grace().into()),
        }
    }
}

/// One part of a call that used the trunk.
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkPart {
    /// Its ledger line id: the call's id and which part.
    pub id: String,
    pub side: CallSide,
    /// The number rated: the DID dialled from outside, or the number
    /// called.
    pub number: String,
    /// Connected time, whole seconds rounded up (as carriers count).
    pub secs: u64,
}

fn secs(from_ms: u64, to_ms: u64) -> u64 {
    to_ms.saturating_sub(from_ms).div_ceil(1000)
}

/// A call's trunk parts, live or finished: (which: `in` or `out<leg>`,
/// side, number, answered, ended). The caller's side of an inbound call
/// counts from the host's answer; each answered leg to a number that is
/// not one of the tenant's extensions from its answer.
pub fn parts_of<'a>(
    inbound: bool,
    dialled: &str,
    answered: Option<u64>,
    ended: Option<u64>,
    legs: impl Iterator<Item = (&'a str, Option<u64>, Option<u64>)>,
    is_extension: impl Fn(&str) -> bool,
) -> Vec<(String, crate::credit::LivePart)> {
    use crate::credit::LivePart;
    let mut parts = Vec::new();
    if inbound && let Some(answered_ms) = answered {
        parts.push((
            "in".to_string(),
            LivePart {
                side: CallSide::Inbound,
                number: dialled.to_string(),
                answered_ms,
                ended_ms: ended,
            },
        ));
    }
    for (i, (target, answered, ended)) in legs.enumerate() {
        let Some(answered_ms) = answered else {
            continue;
        };
        if is_extension(target) || target.contains('@') {
            continue;
        }
        parts.push((
            format!("out{i}"),
            LivePart {
                side: CallSide::Outbound,
                number: target.to_string(),
                answered_ms,
                ended_ms: ended,
            },
        ));
    }
    parts
}

/// The parts of finished call `cdr` that used a trunk ([`parts_of`]).
pub fn trunk_parts(cdr: &Cdr, is_extension: impl Fn(&str) -> bool) -> Vec<TrunkPart> {
    let legs = cdr
        .legs
        .iter()
        .map(|l| (l.target.as_str(), l.answer_ms, Some(l.end_ms)));
    parts_of(
        cdr.direction == "inbound",
        &cdr.dialled,
        cdr.answer_ms,
        Some(cdr.end_ms),
        legs,
        is_extension,
    )
    .into_iter()
    .map(|(which, p)| TrunkPart {
        id: format!("{}.{which}", cdr.id),
        side: p.side,
        number: p.number,
        secs: secs(p.answered_ms, p.ended_ms.unwrap_or(cdr.end_ms)),
    })
    .collect()
}

/// Whether an extension dialling `dialled` is calling out: a number the
/// tenant does not have, in international form or long enough to be a
/// phone number rather than a short code.
pub fn dials_out(tenant: &Tenant, dialled: &str) -> bool {
    let digits = dialled.strip_prefix('+').unwrap_or(dialled);
    !tenant.extensions.contains_key(dialled)
        && !tenant.numbers.contains_key(dialled)
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (dialled.starts_with('+') || digits.len() >= 7)
}

/// The tenant's account, for a refusal decision: a store that cannot say
/// lets the call through (a billing hiccup must not stop the phones).
pub fn account(store: &Store, tenant: &str) -> Account {
    store.account(tenant).unwrap_or_else(|e| {
        tracing::error!(%tenant, error = %e, "account unreadable: calls let through");
        Account::default()
    })
}

/// A month's fees for what the tenant holds: the ledger line id
/// (`monthly-2026-12`), its time (the month's first instant, UTC), the
/// posting and the amount (negative). `None` when the plan charges no
/// monthly fee.
pub fn monthly_fees(
    rates: &RateCard,
    now_ms: u64,
    numbers: usize,
    extensions: usize,
) -> Option<(String, u64, Posting, rust_decimal::Decimal)> {
    if rates.number_monthly.is_zero() && rates.extension_monthly.is_zero() {
        return None;
    }
    let now = jiff::Timestamp::from_millisecond(now_ms as i64).ok()?;
    let date = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let first = date.first_of_month();
    let at_ms = first
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp()
        .as_millisecond() as u64;
    let period = format!("{:04}-{:02}", first.year(), first.month());
    let (numbers, extensions) = (numbers as u32, extensions as u32);
    let amount = rates.number_monthly * rust_decimal::Decimal::from(numbers)
        + rates.extension_monthly * rust_decimal::Decimal::from(extensions);
    Some((
        format!("monthly-{period}"),
        at_ms,
        Posting::Monthly {
            period,
            numbers,
            extensions,
        },
        -amount,
    ))
}

/// Charge this month's fees of every tenant whose plan has them, once a
/// month each (the posting's id is the month); how many were charged now.
pub(crate) fn charge_monthly_fees(shared: &Arc<Shared>, now_ms: u64) -> usize {
    let mut charged = 0;
    for tenant in shared.tenants().all() {
        let Some((id, at, posting, amount)) = monthly_fees(
            &tenant.billing.rates,
            now_ms,
            tenant.numbers.len(),
            tenant.extensions.len(),
        ) else {
            continue;
        };
        match shared.store.post(&tenant.id, &id, at, posting, amount) {
            Ok(p) if p.new => {
                charged += 1;
                tracing::info!(tenant = %tenant.id, %id, %amount, "monthly fees charged");
                if p.went_low {
                    low_balance(shared, tenant, &p.account);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(tenant = %tenant.id, %id, error = %e, "monthly fees not charged")
            }
        }
    }
    charged
}

/// Rate `cdr`'s trunk parts and post them to the tenant's ledger (on the
/// blocking pool: each posting waits for a flush). A balance that fell
/// below its threshold sends the low-balance notice.
pub(crate) async fn charge(shared: &Arc<Shared>, tenant: &Arc<Tenant>, cdr: &Cdr) {
    let parts = trunk_parts(cdr, |n| tenant.extensions.contains_key(n));
    if parts.is_empty() {
        return;
    }
    let store = shared.store.clone();
    let rates = tenant.billing.rates.clone();
    let (tenant_id, call_id, at) = (tenant.id.clone(), cdr.call_id.clone(), cdr.end_ms);
    let posted = tokio::task::spawn_blocking(move || {
        let mut low = None;
        for p in parts {
            let rated = rates.rate(p.side, &p.number, p.secs);
            let posting = Posting::Call {
                call_id: call_id.clone(),
                direction: p.side,
                number: p.number,
                prefix: rated.prefix,
                secs: p.secs,
                billed_secs: rated.billed_secs,
            };
            match store.post(&tenant_id, &p.id, at, posting, -rated.amount) {
                Ok(posted) if posted.went_low => low = Some(posted.account),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(tenant = %tenant_id, call = %call_id, error = %e, "call not charged")
                }
            }
        }
        low
    })
    .await;
    if let Ok(Some(account)) = posted {
        low_balance(shared, tenant, &account);
    }
}

/// Tell the tenant its prepaid balance is low: to its reporter plugins
/// that hear account notices, by e-mail (to the account's address),
/// counted, and in the log.
pub(crate) fn low_balance(shared: &Arc<Shared>, tenant: &Tenant, account: &Account) {
    tracing::warn!(tenant = %tenant.id, balance = %account.balance,
        threshold = %account.low_balance_threshold, "prepaid balance low");
    shared
        .metrics
        .low_balance_notices
        .get_or_create(&crate::metrics::Metrics::tenant(&tenant.id))
        .inc();
    report_account_notice(
        tenant,
        AccountNotice {
            kind: AccountNoticeKind::LowBalance,
            balance: account.balance.normalize().to_string(),
            threshold: account.low_balance_threshold.normalize().to_string(),
            currency: tenant.billing.rates.currency.clone(),
            at: unix_ms(),
        },
    );
    let Some(to) = account.notify_email.clone() else {
        return;
    };
    let currency = &tenant.billing.rates.currency;
    let mail = crate::mail::Mail {
        to: vec![to],
        subject: format!(
            "Low balance: {} {currency} left for {}",
            account.balance.normalize(),
            tenant.id
        ),
        body: format!(
            "The prepaid balance of {tenant} is {balance} {currency}, below the \
             {threshold} {currency} you asked to be told about.\n\n\
             When it reaches zero, calls out through your trunk are refused{inbound}. \
             Top up to keep calling.\n",
            tenant = tenant.id,
            balance = account.balance.normalize(),
            threshold = account.low_balance_threshold.normalize(),
            inbound = if tenant.billing.inbound_without_balance {
                ""
            } else {
                ", and so are calls from outside"
            },
        ),
        attachment: None,
    };
    crate::notices::deliver(shared, &tenant.id, "low balance", mail);
}

/// Hand `notice` to the tenant's reporters that export `account-events`,
/// in the background: the posting that crossed the threshold runs in a
/// call's wind-down or the monthly fee run, and neither should wait on
/// plugins (each reporter runs under the tenant's plugin limits).
fn report_account_notice(tenant: &Tenant, notice: AccountNotice) {
    // Monthly fees may be posted from outside the runtime (a tool, a
    // test); the notice is then only logged, as above.
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(tenant = %tenant.id, "no async runtime: reporters not told of the account notice");
        return;
    };
    let (runtime, tenant_id) = (tenant.runtime.clone(), tenant.id.clone());
    rt.spawn(async move {
        for (plugin, r) in runtime.report_account_notice(&notice).await {
            if let Err(f) = r {
                tracing::warn!(tenant = %tenant_id, %plugin, %f, "reporter failed on an account notice");
            }
        }
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use switchyard_store::{CdrLeg, Disposition};

    use super::*;

    /// A call record for tests (also `cdr_log`'s).
    pub(crate) fn cdr(direction: &str, answer: Option<u64>, legs: Vec<CdrLeg>) -> Cdr {
        Cdr {
            id: "r1".into(),
            tenant: "demo".into(),
            call_id: "c1".into(),
            direction: direction.into(),
            caller: "+15551230000".into(),
            caller_name: None,
            callee: "1002".into(),
            dialled: "+15550100".into(),
            start_ms: 1_000,
            answer_ms: answer,
            end_ms: 62_500,
            disposition: Disposition::Answered,
            hangup_by: None,
            sip_code: 200,
            queue: None,
            agent: None,
            tags: vec![],
            recording: None,
            flow_plugin: None,
            plugin_version: None,
            legs,
            monitors: vec![],
        }
    }

    fn leg(target: &str, answer: Option<u64>, end: u64) -> CdrLeg {
        CdrLeg {
            target: target.into(),
            start_ms: 2_000,
            answer_ms: answer,
            end_ms: end,
            sip_code: 200,
        }
    }

    #[test]
    fn an_inbound_call_is_billed_from_the_hosts_answer_and_its_outside_legs_too() {
        let c = cdr(
            "inbound",
            Some(2_000),
            vec![
                leg("1002", Some(5_000), 62_500),
                // Forwarded to a mobile: a second trunk call.
                leg("+447700900123", Some(10_000), 40_001),
                // Rang out: not billed.
                leg("+447700900999", None, 9_000),
            ],
        );
        let parts = trunk_parts(&c, |n| n == "1002");
        assert_eq!(
            parts,
            [
                TrunkPart {
                    id: "r1.in".into(),
                    side: CallSide::Inbound,
                    number: "+15550100".into(),
                    secs: 61, // 60.5 s, rounded up
                },
                TrunkPart {
                    id: "r1.out1".into(),
                    side: CallSide::Outbound,
                    number: "+447700900123".into(),
                    secs: 31,
                },
            ]
        );
    }

    #[test]
    fn monthly_fees_are_one_line_per_month_dated_its_first_instant() {
        let rates = RateCard {
            number_monthly: "1.50".parse().unwrap(),
            extension_monthly: "2".parse().unwrap(),
            ..RateCard::default()
        };
        // 2026-12-04T20:48:28Z.
        let (id, at, posting, amount) = monthly_fees(&rates, 1_796_417_308_000, 3, 5).unwrap();
        assert_eq!(id, "monthly-2026-12");
        assert_eq!(at, 1_796_083_200_000, "2026-12-01T00:00:00Z");
        assert_eq!(
            posting,
            Posting::Monthly {
                period: "2026-12".into(),
                numbers: 3,
                extensions: 5
            }
        );
        assert_eq!(amount, "-14.50".parse().unwrap());
        assert_eq!(monthly_fees(&RateCard::default(), 1, 3, 5), None);
    }

    #[test]
    fn internal_calls_and_unanswered_ones_cost_nothing() {
        let c = cdr(
            "internal",
            Some(2_000),
            vec![leg("1002", Some(2_000), 9_000)],
        );
        assert!(trunk_parts(&c, |n| n == "1002").is_empty());
        let c = cdr("inbound", None, vec![leg("1002", None, 9_000)]);
        assert!(trunk_parts(&c, |n| n == "1002").is_empty());
        // A SIP URI target is not the trunk.
        let c = cdr(
            "internal",
            None,
            vec![leg("sip:pbx@partner.example", Some(1), 9_000)],
        );
        assert!(trunk_parts(&c, |_| false).is_empty());
    }
}
