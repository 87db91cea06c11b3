//! Schedules: opening hours per weekday and holidays, by name, for
//! time-based routing. A `business-hours` plugin refers to one by name
//! (`schedule-ref`), so changing the hours changes the routing without a
//! new plugin version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, get_json, list_json};

/// A closed day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub name: String,
    /// Every year on the same month and day.
    pub yearly: bool,
}

/// Opening hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub tenant: String,
    pub name: String,
    /// IANA zone; the tenant's when `None`. (The business-hours plugin
    /// reads hours in the call's zone, which is the tenant's; the server
    /// warns when a schedule asks for another one.)
    pub time_zone: Option<String>,
    /// Weekday (`monday` … `sunday`) → intervals `HH:MM-HH:MM` (an end
    /// before the start runs past midnight; `24:00` is midnight).
    pub open: BTreeMap<String, Vec<String>>,
    pub holidays: Vec<Holiday>,
}

pub trait ScheduleRepo {
    /// Create or replace; the tenant must exist.
    fn put_schedule(&self, s: &Schedule) -> Result<(), StoreError>;
    fn get_schedule(&self, tenant: &str, name: &str) -> Result<Option<Schedule>, StoreError>;
    fn list_schedules(&self, tenant: &str) -> Result<Vec<Schedule>, StoreError>;
    fn delete_schedule(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Minutes since midnight of `HH:MM` (exactly two digits each,
/// `00:00`–`24:00`), or `None`.
fn minutes(t: &str) -> Option<u32> {
    let (h, m) = t.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// `HH:MM-HH:MM` as the business-hours plugin reads it: the start is a
/// time of day (not `24:00`), the end differs from the start (an end
/// before the start runs past midnight). Checking the same rules here
/// means a stored schedule never makes the plugin fail at call time.
fn valid_interval(i: &str) -> bool {
    let Some((a, b)) = i.split_once('-') else {
        return false;
    };
    matches!((minutes(a), minutes(b)), (Some(s), Some(e)) if s < 24 * 60 && s != e)
}

/// A calendar date `YYYY-MM-DD` (February 29 only in leap years).
fn valid_date(d: &str) -> bool {
    let num = |s: &str, n: usize| {
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let parts: Vec<&str> = d.split('-').collect();
    let [y, m, day] = parts.as_slice() else {
        return false;
    };
    let (Some(y), Some(m), Some(day)) = (num(y, 4), num(m, 2), num(day, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `Area/City`-shaped IANA names or `UTC` (the API's rule for a tenant's
/// zone): catches an offset or a city alone.
fn valid_time_zone(tz: &str) -> bool {
    tz == "UTC"
        || (tz.contains('/')
            && tz.len() <= 64
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)))
}

/// At most this many intervals per day and holidays per schedule: the
/// whole schedule is handed to the plugin as one setting.
const MAX_INTERVALS: usize = 48;
const MAX_HOLIDAYS: usize = 500;

/// Check a schedule's fields, naming the one that is wrong.
pub fn validate_schedule(s: &Schedule) -> Result<(), StoreError> {
    validate_name("name", &s.name)?;
    if let Some(tz) = &s.time_zone
        && !valid_time_zone(tz)
    {
        return Err(StoreError::invalid(
            "time_zone",
            format!("{tz:?} is not an IANA time zone name such as Europe/Paris or UTC"),
        ));
    }
    for (day, intervals) in &s.open {
        if !WEEKDAYS.contains(&day.as_str()) {
            return Err(StoreError::invalid(
                "open",
                format!("{day:?} is not a weekday (monday … sunday, lower case)"),
            ));
        }
        if intervals.len() > MAX_INTERVALS {
            return Err(StoreError::invalid(
                "open",
                format!("{day}: more than {MAX_INTERVALS} intervals"),
            ));
        }
        for i in intervals {
            if !valid_interval(i) {
                return Err(StoreError::invalid(
                    "open",
                    format!(
                        "{day}: {i:?} is not an interval HH:MM-HH:MM (00:00 to 24:00, start and end differ)"
                    ),
                ));
            }
        }
    }
    if s.holidays.len() > MAX_HOLIDAYS {
        return Err(StoreError::invalid(
            "holidays",
            format!("more than {MAX_HOLIDAYS} holidays"),
        ));
    }
    for h in &s.holidays {
        if !valid_date(&h.date) {
            return Err(StoreError::invalid(
                "holidays",
                format!("{:?} is not a date YYYY-MM-DD", h.date),
            ));
        }
        validate_text("holidays", &h.name, 200)?;
    }
    Ok(())
}

impl ScheduleRepo for Store {
    fn put_schedule(&self, s: &Schedule) -> Result<(), StoreError> {
        validate_schedule(s)?;
        self.require_tenant(&s.tenant)?;
        let k = key(&[s.tenant.as_bytes(), s.name.as_bytes()]);
        self.put_durable(&self.t().schedules, k, s)
    }

    fn get_schedule(&self, tenant: &str, name: &str) -> Result<Option<Schedule>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().schedules,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_schedules(&self, tenant: &str) -> Result<Vec<Schedule>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().schedules, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_schedule(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(
            &self.t().schedules,
            key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_plugins_rules() {
        for ok in [
            "09:00-17:30",
            "00:00-24:00",
            "22:00-02:00",
            "22:00-24:00",
            "23:59-00:00",
        ] {
            assert!(valid_interval(ok), "{ok}");
        }
        for bad in [
            "9-17",
            "9:00-17:00",
            "009:00-17:00",
            "+9:00-17:00",
            "09:00-17:00-18:00",
            "09:00",
            "09:60-10:00",
            "09:00-24:01",
            "24:00-02:00",
            "10:00-10:00",
            " 09:00-10:00",
            "",
        ] {
            assert!(!valid_interval(bad), "{bad:?}");
        }
    }

    #[test]
    fn dates_are_calendar_dates() {
        for ok in ["2026-12-25", "2028-02-29", "2000-02-29", "2026-01-31"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-12-00",
            "2026-1-05",
            "25/12/2026",
            "2026-12-25T00:00",
            "+026-12-25",
        ] {
            assert!(!valid_date(bad), "{bad:?}");
        }
    }
}
