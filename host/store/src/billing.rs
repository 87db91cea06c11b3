//! What tenants are charged: a plan's rate card (per-minute rates by
//! number prefix and direction, billed in increments; monthly fees per
//! number and per extension), each tenant's account (prepaid or postpaid,
//! its balance, the low-balance threshold) and its ledger — every charge
//! and every top-up, with the balance after it.
//!
//! Rating is a pure function of the rate card ([`RateCard::rate`]); the
//! call engine rates a finished call and [`BillingRepo::post`]s the
//! result. A posting changes the ledger and the balance in one sled
//! transaction, and its id is derived from what it charges (a call's
//! record, a month, a top-up's reference) and indexed, so posting the same
//! thing twice charges it once.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::keys::{key, prefix, prefix_end, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, decode, encode};

/// Which way a trunk call went, as rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallSide {
    /// From the carrier to the tenant, rated by the number dialled (a
    /// toll-free DID costs more).
    Inbound,
    /// From the tenant out through its trunk, rated by the number called.
    Outbound,
}

impl CallSide {
    pub fn as_str(self) -> &'static str {
        match self {
            CallSide::Inbound => "inbound",
            CallSide::Outbound => "outbound",
        }
    }
}

/// Billing increments: `first` seconds are billed for any call that
/// lasted at all, then steps of `next` seconds (`60/60` bills whole
/// minutes, `1/1` seconds, `30/6` a half-minute then 6-second steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Increment {
    pub first: u32,
    pub next: u32,
}

impl Increment {
    /// The seconds billed for a call of `secs`.
    pub fn billed(self, secs: u64) -> u64 {
        let (first, next) = (u64::from(self.first), u64::from(self.next.max(1)));
        if secs == 0 {
            0
        } else if secs <= first {
            first
        } else {
            first + (secs - first).div_ceil(next) * next
        }
    }
}

impl Default for Increment {
    fn default() -> Increment {
        Increment {
            first: 60,
            next: 60,
        }
    }
}

impl std::fmt::Display for Increment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.first, self.next)
    }
}

impl std::str::FromStr for Increment {
    type Err = String;
    fn from_str(s: &str) -> Result<Increment, String> {
        let bad = || format!("{s:?} is not an increment such as 60/60, 1/1 or 30/6");
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let next: u32 = b.trim().parse().map_err(|_| bad())?;
        if next == 0 || first > 3600 || next > 3600 {
            return Err(bad());
        }
        Ok(Increment { first, next })
    }
}

impl Serialize for Increment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Increment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Increment, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The price of a minute to numbers starting with `prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteRate {
    pub direction: CallSide,
    /// Digits (with the `+` when numbers have it); `""` for every number
    /// no longer prefix matches.
    pub prefix: String,
    pub per_minute: Decimal,
    #[serde(default)]
    pub increment: Increment,
}

/// A plan's prices. No rate for a direction and number: the minutes are
/// counted and cost nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateCard {
    /// ISO 4217 code, shown beside amounts (`USD`).
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub minutes: Vec<MinuteRate>,
    /// A month of one number (DID or short number) held.
    #[serde(default)]
    pub number_monthly: Decimal,
    /// A month of one extension.
    #[serde(default)]
    pub extension_monthly: Decimal,
}

/// A rated trunk call.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    /// The prefix whose rate applied (`None`: no rate, free).
    pub prefix: Option<String>,
    pub billed_secs: u64,
    pub amount: Decimal,
}

/// Amounts are kept to 4 decimal places (a hundredth of a cent).
pub const AMOUNT_DP: u32 = 4;

impl RateCard {
    /// The rate for `number` called `side`: the longest matching prefix.
    pub fn rate_for(&self, side: CallSide, number: &str) -> Option<&MinuteRate> {
        self.minutes
            .iter()
            .filter(|r| r.direction == side && number.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
    }

    /// What `secs` of a call to (or from) `number` cost.
    pub fn rate(&self, side: CallSide, number: &str, secs: u64) -> Rated {
        match self.rate_for(side, number) {
            None => Rated {
                prefix: None,
                billed_secs: secs,
                amount: Decimal::ZERO,
            },
            Some(r) => {
                let billed = r.increment.billed(secs);
                let amount = (r.per_minute * Decimal::from(billed) / Decimal::from(60))
                    .round_dp_with_strategy(AMOUNT_DP, RoundingStrategy::MidpointAwayFromZero);
                Rated {
                    prefix: Some(r.prefix.clone()),
                    billed_secs: billed,
                    amount,
                }
            }
        }
    }

    /// What is wrong with it, if anything.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_text("currency", &self.currency, 8)?;
        let mut seen = std::collections::HashSet::new();
        for r in &self.minutes {
            let digits = r.prefix.strip_prefix('+').unwrap_or(&r.prefix);
            if r.prefix.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StoreError::invalid(
                    "prefix",
                    format!("{:?} is not [+]digits (or \"\" for every number)", r.prefix),
                ));
            }
            if r.per_minute.is_sign_negative() {
                return Err(StoreError::invalid("per_minute", "is negative"));
            }
            if !seen.insert((r.direction, r.prefix.as_str())) {
                return Err(StoreError::invalid(
                    "prefix",
                    format!("{} {:?} has two rates", r.direction.as_str(), r.prefix),
                ));
            }
        }
        if self.number_monthly.is_sign_negative() || self.extension_monthly.is_sign_negative() {
            return Err(StoreError::invalid("monthly", "a monthly fee is negative"));
        }
        Ok(())
    }
}

/// A tenant's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Prepaid: calls out need a balance above zero. Postpaid: charges
    /// accumulate (the balance goes negative) to be invoiced.
    pub prepaid: bool,
    pub balance: Decimal,
    /// A prepaid balance falling below this sends the low-balance notice
    /// (once, until a top-up lifts it above again).
    pub low_balance_threshold: Decimal,
    /// Where the low-balance notice is mailed (none: not mailed).
    #[serde(default)]
    pub notify_email: Option<String>,
    /// The notice went out and the balance has not been above the
    /// threshold since.
    #[serde(default)]
    pub low_notified: bool,
}

impl Default for Account {
    fn default() -> Account {
        Account {
            prepaid: false,
            balance: Decimal::ZERO,
            low_balance_threshold: Decimal::ZERO,
            notify_email: None,
            low_notified: false,
        }
    }
}

impl Account {
    /// A prepaid account that has run out: new trunk calls are refused.
    pub fn exhausted(&self) -> bool {
        self.prepaid && self.balance <= Decimal::ZERO
    }
}

/// What a ledger line is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Posting {
    /// A trunk call's minutes.
    Call {
        call_id: String,
        direction: CallSide,
        /// The number rated (called, or dialled from outside).
        number: String,
        /// The rate's prefix (`None`: no rate).
        prefix: Option<String>,
        secs: u64,
        billed_secs: u64,
    },
    /// A month of numbers and extensions (`period`: `2026-12`).
    Monthly {
        period: String,
        numbers: u32,
        extensions: u32,
    },
    /// Money added by the operator.
    TopUp { reference: String },
}

/// One line of a tenant's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Unique in the tenant and derived from what is posted (a call id,
    /// `monthly-2026-12`, a top-up's reference), so a posting is made
    /// once.
    pub id: String,
    pub at_ms: u64,
    #[serde(flatten)]
    pub posting: Posting,
    /// Negative for a charge, positive for a top-up.
    pub amount: Decimal,
    /// The balance after this line.
    pub balance: Decimal,
}

/// What a posting did.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The account after it.
    pub account: Account,
    /// `false`: the same id was posted before; nothing changed.
    pub new: bool,
    /// This posting took a prepaid balance below the threshold (first
    /// time since it was last above): send the low-balance notice.
    pub went_low: bool,
}

pub trait BillingRepo {
    /// The tenant's account (a new one: postpaid, zero).
    fn account(&self, tenant: &str) -> Result<Account, StoreError>;
    /// Change how the account is billed (its balance is kept).
    fn set_account(
        &self,
        tenant: &str,
        prepaid: bool,
        low_balance_threshold: Decimal,
        notify_email: Option<String>,
    ) -> Result<Account, StoreError>;
    /// Add `amount` (negative: a charge) as ledger line `id` at `at_ms`,
    /// durably, with the balance, in one transaction. An id posted before
    /// (at any time) changes nothing.
    fn post(
        &self,
        tenant: &str,
        id: &str,
        at_ms: u64,
        posting: Posting,
        amount: Decimal,
    ) -> Result<Posted, StoreError>;
    /// The tenant's ledger lines from `from_ms` (inclusive) to `to_ms`
    /// (exclusive), oldest first.
    fn ledger(
        &self,
        tenant: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
}

fn ledger_key(tenant: &str, at_ms: u64, id: &str) -> Vec<u8> {
    let mut k = prefix(&[tenant.as_bytes()]);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

impl BillingRepo for Store {
    fn account(&self, tenant: &str) -> Result<Account, StoreError> {
        validate_tenant_id(tenant)?;
        Ok(self
            .t()
            .accounts
            .get(prefix(&[tenant.as_bytes()]))?
            .map(|v| decode(&v))
            .transpose()?
            .unwrap_or_default())
    }

    fn set_account(
        &self,
        tenant: &str,
        prepaid: bool,
        low_balance_threshold: Decimal,
        notify_email: Option<String>,
    ) -> Result<Account, StoreError> {
        if let Some(e) = &notify_email {
            crate::keys::validate_email("notify_email", e)?;
        }
        self.require_tenant(tenant)?;
        let k = prefix(&[tenant.as_bytes()]);
        let t = self.t();
        let account = t.accounts.transaction(|accounts| {
            let mut a: Account = match accounts.get(&k)? {
                Some(v) => decode(&v).map_err(ConflictableTransactionError::Abort)?,
                None => Account::default(),
            };
            a.prepaid = prepaid;
            a.low_balance_threshold = low_balance_threshold;
            a.notify_email = notify_email.clone();
            a.low_notified = a.low_notified && a.balance < a.low_balance_threshold;
            accounts.insert(k.as_slice(), encode(&a))?;
            Ok(a)
        })?;
        self.durable()?;
        Ok(account)
    }

    fn post(
        &self,
        tenant: &str,
        id: &str,
        at_ms: u64,
        posting: Posting,
        amount: Decimal,
    ) -> Result<Posted, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("id", id)?;
        self.require_tenant(tenant)?;
        // Keyed `tenant \0` like every tenant-owned record: the tenant
        // sweep removes it.
        let account_key = prefix(&[tenant.as_bytes()]);
        let line_key = ledger_key(tenant, at_ms, id);
        let id_key = key(&[tenant.as_bytes(), id.as_bytes()]);
        let t = self.t();
        let trees = (&t.accounts, &t.ledger, &t.ledger_ids);
        let posted = trees.transaction(|(accounts, ledger, ids)| {
            let mut a: Account = match accounts.get(&account_key)? {
                Some(v) => decode(&v).map_err(ConflictableTransactionError::Abort)?,
                None => Account::default(),
            };
            if ids.get(&id_key)?.is_some() {
                return Ok(Posted {
                    account: a,
                    new: false,
                    went_low: false,
                });
            }
            a.balance += amount;
            let low = a.prepaid && a.balance < a.low_balance_threshold;
            let went_low = low && !a.low_notified;
            a.low_notified = low;
            let line = LedgerEntry {
                id: id.to_string(),
                at_ms,
                posting: posting.clone(),
                amount,
                balance: a.balance,
            };
            ledger.insert(line_key.as_slice(), encode(&line))?;
            ids.insert(id_key.as_slice(), &at_ms.to_be_bytes())?;
            accounts.insert(account_key.as_slice(), encode(&a))?;
            Ok(Posted {
                account: a,
                new: true,
                went_low,
            })
        })?;
        self.durable()?;
        Ok(posted)
    }

    fn ledger(
        &self,
        tenant: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        validate_tenant_id(tenant)?;
        let p = prefix(&[tenant.as_bytes()]);
        let mut start = p.clone();
        start.extend_from_slice(&from_ms.to_be_bytes());
        let mut end = p.clone();
        end.extend_from_slice(&to_ms.to_be_bytes());
        let end = if to_ms == u64::MAX {
            prefix_end(&p)
        } else {
            end
        };
        self.t()
            .ledger
            .range(start..end)
            .map(|kv| decode(&kv?.1))
            .collect()
    }
}

/// One line of a usage summary: the calls of one direction and prefix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinutesLine {
    pub calls: u64,
    pub secs: u64,
    pub billed_secs: u64,
    pub amount: Decimal,
}

/// A period's usage and charges, summed from the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageSummary {
    /// By (direction, prefix; `None`: unrated).
    pub minutes: BTreeMap<(CallSide, Option<String>), MinutesLine>,
    /// Monthly fees: (period, numbers, extensions, amount).
    pub monthly: Vec<(String, u32, u32, Decimal)>,
    pub top_ups: Decimal,
    /// Every charge (negative) of the period.
    pub charges: Decimal,
}

/// Sum ledger lines into a usage summary.
pub fn summarize(lines: &[LedgerEntry]) -> UsageSummary {
    let mut s = UsageSummary::default();
    for l in lines {
        match &l.posting {
            Posting::Call {
                direction,
                prefix,
                secs,
                billed_secs,
                ..
            } => {
                let m = s.minutes.entry((*direction, prefix.clone())).or_default();
                m.calls += 1;
                m.secs += secs;
                m.billed_secs += billed_secs;
                m.amount -= l.amount;
                s.charges += l.amount;
            }
            Posting::Monthly {
                period,
                numbers,
                extensions,
            } => {
                s.monthly
                    .push((period.clone(), *numbers, *extensions, -l.amount));
                s.charges += l.amount;
            }
            Posting::TopUp { .. } => s.top_ups += l.amount,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn card() -> RateCard {
        RateCard {
            currency: "USD".into(),
            minutes: vec![
                MinuteRate {
                    direction: CallSide::Outbound,
                    prefix: "".into(),
                    per_minute: d("0.02"),
                    increment: "60/60".parse().unwrap(),
                },
                MinuteRate {
                    direction: CallSide::Outbound,
                    prefix: "+44".into(),
                    per_minute: d("0.05"),
                    increment: "1/1".parse().unwrap(),
                },
                MinuteRate {
                    direction: CallSide::Outbound,
                    prefix: "+447".into(),
                    per_minute: d("0.15"),
                    increment: "30/6".parse().unwrap(),
                },
                MinuteRate {
                    direction: CallSide::Inbound,
                    prefix: "+1800".into(),
                    per_minute: d("0.03"),
                    increment: Increment::default(),
                },
            ],
            number_monthly: d("1.00"),
            extension_monthly: d("2.50"),
        }
    }

    #[test]
    fn increments_bill_the_first_block_then_steps() {
        let i = |s: &str| s.parse::<Increment>().unwrap();
        assert_eq!(i("60/60").billed(0), 0);
        assert_eq!(i("60/60").billed(1), 60);
        assert_eq!(i("60/60").billed(60), 60);
        assert_eq!(i("60/60").billed(61), 120);
        assert_eq!(i("1/1").billed(61), 61);
        assert_eq!(i("30/6").billed(10), 30);
        assert_eq!(i("30/6").billed(31), 36);
        assert_eq!(i("30/6").billed(37), 42);
        for bad in ["60", "60/0", "a/b", "7200/1", ""] {
            assert!(bad.parse::<Increment>().is_err(), "{bad}");
        }
        assert_eq!(i("30/6").to_string(), "30/6");
    }

    #[test]
    fn the_longest_prefix_of_the_direction_prices_the_call() {
        let c = card();
        // +447… (mobile): 0.15/min, 30/6: 95 s → 96 s → 0.24.
        let r = c.rate(CallSide::Outbound, "+447700900123", 95);
        assert_eq!(r.prefix.as_deref(), Some("+447"));
        assert_eq!(r.billed_secs, 96);
        assert_eq!(r.amount, d("0.24"));
        // +44 20…: per second: 61 s at 0.05 → 0.050833… → 0.0508.
        let r = c.rate(CallSide::Outbound, "+442079460000", 61);
        assert_eq!((r.billed_secs, r.amount), (61, d("0.0508")));
        // Anything else out: whole minutes at 0.02.
        let r = c.rate(CallSide::Outbound, "+15550142", 61);
        assert_eq!(r.prefix.as_deref(), Some(""));
        assert_eq!((r.billed_secs, r.amount), (120, d("0.04")));
        // Inbound only to toll-free numbers costs; other DIDs are free.
        let r = c.rate(CallSide::Inbound, "+18005550100", 30);
        assert_eq!(r.amount, d("0.03"));
        let r = c.rate(CallSide::Inbound, "+15550100", 300);
        assert_eq!((r.prefix, r.amount), (None, Decimal::ZERO));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_rate_card_with_nonsense_is_refused() {
        let mut c = card();
        c.minutes[1].prefix = "+4 4".into();
        assert!(c.validate().is_err());
        let mut c = card();
        c.minutes[1].prefix = "+447".into();
        assert!(c.validate().is_err(), "two rates for +447 outbound");
        let mut c = card();
        c.minutes[0].per_minute = d("-1");
        assert!(c.validate().is_err());
    }

    #[test]
    fn rates_and_increments_read_as_json() {
        let r: MinuteRate = serde_json::from_str(
            r#"{"direction": "outbound", "prefix": "+44", "per_minute": "0.0125", "increment": "1/1"}"#,
        )
        .unwrap();
        assert_eq!(r.per_minute, d("0.0125"));
        assert_eq!(r.increment, Increment { first: 1, next: 1 });
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains(r#""per_minute":"0.0125""#), "{text}");
        assert!(text.contains(r#""increment":"1/1""#), "{text}");
    }
}
