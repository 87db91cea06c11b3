//! Schedules: opening hours per weekday and holidays, by name, for
//! time-based routing. A `business-hours` plugin refers to one by name
//! (`schedule-ref`), so changing the hours changes the routing without a
//! new plugin version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_tenant_id};
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
    /// IANA zone; the tenant's when `None`.
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

fn valid_time(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else {
        return false;
    };
    let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else {
        return false;
    };
    h.to_string().len() <= 2 && m < 60 && (h < 24 || (h == 24 && m == 0))
}

fn valid_date(d: &str) -> bool {
    let parts: Vec<&str> = d.split('-').collect();
    match parts.as_slice() {
        [y, m, day] if y.len() == 4 && m.len() == 2 && day.len() == 2 => {
            let (Ok(_), Ok(m), Ok(day)) = (y.parse::<u32>(), m.parse::<u32>(), day.parse::<u32>())
            else {
                return false;
            };
            (1..=12).contains(&m) && (1..=31).contains(&day)
        }
        _ => false,
    }
}

/// Check a schedule's fields, naming the one that is wrong.
pub fn validate_schedule(s: &Schedule) -> Result<(), StoreError> {
    validate_name("name", &s.name)?;
    for (day, intervals) in &s.open {
        if !WEEKDAYS.contains(&day.as_str()) {
            return Err(StoreError::invalid(
                "open",
                format!("{day:?} is not a weekday (monday … sunday)"),
            ));
        }
        for i in intervals {
            let ok = i
                .split_once('-')
                .is_some_and(|(a, b)| valid_time(a) && valid_time(b));
            if !ok {
                return Err(StoreError::invalid(
                    "open",
                    format!("{day}: {i:?} is not an interval HH:MM-HH:MM"),
                ));
            }
        }
    }
    for h in &s.holidays {
        if !valid_date(&h.date) {
            return Err(StoreError::invalid(
                "holidays",
                format!("{:?} is not a date YYYY-MM-DD", h.date),
            ));
        }
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
