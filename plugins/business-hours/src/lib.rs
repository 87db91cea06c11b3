//! # business-hours: open → a flow, closed → "we reopen at…", then voicemail
//!
//! The JSON setting `schedule` gives the opening hours per weekday in the
//! tenant's own time zone (the call's `time-zone`, IANA), holidays, and where
//! calls go:
//!
//! ```json
//! {
//!   "open": {"monday": ["09:00-12:30", "13:30-17:30"], "friday": ["09:00-17:00"],
//!            "saturday": ["22:00-02:00"]},
//!   "holidays": [{"date": "2026-12-25", "name": "Christmas Day", "yearly": true}],
//!   "open-go": {"flow": "ivr"},
//!   "closed-prompts": ["closed"],
//!   "closed-go": {"voicemail": "operators"}
//! }
//! ```
//!
//! * Intervals are local wall-clock times; an interval whose end is before
//!   its start runs past midnight (`22:00-02:00`), `24:00` ends at midnight.
//!   Daylight-saving changes need nothing special: hours are civil time.
//! * A holiday closes every interval that starts on that date; `yearly`
//!   holidays recur on the same month and day.
//! * When closed the call is tagged `after-hours` (the host mails the
//!   tenant's after-hours addresses about it), the caller hears
//!   `closed-prompts`, then a sentence saying
//!   when the business reopens ("We reopen tomorrow at 09:00."), then goes
//!   to `closed-go` (default: hang up).
//! * When `open-go` (or `closed-go`) rings or queues and the caller is not
//!   connected (an unanswered dial, or `queue-finished` with reason
//!   `timeout`, `no-agents`, `full`, `empty` or `key`) the call ends.
//!
//! The IANA time-zone database is bundled (`jiff` with `tzdb-bundle-always`)
//! because a plugin sandbox has no `/usr/share/zoneinfo`.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;
use switchyard_sdk::destination::Destination;
use switchyard_sdk::flow::{self, Action, Event};
use switchyard_sdk::{CallFlow, CallSnapshot, config};

/// The schedule as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Weekday name (`monday`…) → intervals `HH:MM-HH:MM`.
    #[serde(default)]
    pub open: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    pub open_go: Destination,
    #[serde(default)]
    pub closed_prompts: Vec<String>,
    #[serde(default)]
    pub closed_go: Option<Destination>,
}

/// A day the business is closed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Recurs every year on the same month and day.
    #[serde(default)]
    pub yearly: bool,
}

/// A checked schedule, ready to answer "open now?" and "open when?".
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Index 0 = Monday.
    week: [Vec<(Time, Time)>; 7],
    holidays: Vec<(Date, bool)>,
    pub open_go: Destination,
    pub closed_prompts: Vec<String>,
    pub closed_go: Option<Destination>,
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn day_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

fn parse_time(s: &str, what: &str) -> Result<Time, String> {
    if s == "24:00" {
        return Ok(Time::MAX);
    }
    s.parse::<Time>()
        .map_err(|e| format!("schedule: {what}: `{s}` is not HH:MM ({e})"))
}

impl Schedule {
    /// Parse the `schedule` setting, naming what is wrong.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let cfg: ScheduleConfig = config::from_json("schedule", text)?;
        let mut week: [Vec<(Time, Time)>; 7] = Default::default();
        for (day, intervals) in &cfg.open {
            let i = DAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day))
                .ok_or_else(|| format!("schedule: `{day}` is not a weekday name"))?;
            for iv in intervals {
                let (a, b) = iv
                    .split_once('-')
                    .ok_or_else(|| format!("schedule: {day}: `{iv}` is not HH:MM-HH:MM"))?;
                let start = parse_time(a.trim(), day)?;
                let end = parse_time(b.trim(), day)?;
                if start == end {
                    return Err(format!("schedule: {day}: `{iv}` is empty"));
                }
                week[i].push((start, end));
            }
            week[i].sort();
        }
        let holidays =
            cfg.holidays
                .iter()
                .map(|h| {
                    h.date.parse::<Date>().map(|d| (d, h.yearly)).map_err(|e| {
                        format!("schedule: holiday `{}` is not YYYY-MM-DD ({e})", h.date)
                    })
                })
                .collect::<Result<_, _>>()?;
        Ok(Schedule {
            week,
            holidays,
            open_go: cfg.open_go,
            closed_prompts: cfg.closed_prompts,
            closed_go: cfg.closed_go,
        })
    }

    /// True when `date` is a holiday.
    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.iter().any(|&(h, yearly)| {
            h == date || (yearly && h.month() == date.month() && h.day() == date.day())
        })
    }

    /// Intervals that start on `date` (none on a holiday).
    fn intervals(&self, date: Date) -> &[(Time, Time)] {
        if self.is_holiday(date) {
            &[]
        } else {
            &self.week[day_index(date.weekday())]
        }
    }

    /// Open at local time `at`?
    pub fn is_open(&self, at: DateTime) -> bool {
        let (date, time) = (at.date(), at.time());
        let today = self.intervals(date).iter().any(|&(s, e)| {
            if s < e {
                s <= time && time < e
            } else {
                s <= time // runs past midnight
            }
        });
        let from_yesterday = date
            .yesterday()
            .is_ok_and(|y| self.intervals(y).iter().any(|&(s, e)| e < s && time < e));
        today || from_yesterday
    }

    /// The next local time the business opens after `at`, looking two
    /// weeks ahead.
    pub fn next_opening(&self, at: DateTime) -> Option<DateTime> {
        let mut date = at.date();
        for _ in 0..15 {
            for &(start, _) in self.intervals(date) {
                let candidate = date.to_datetime(start);
                if candidate > at {
                    return Some(candidate);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// "We reopen tomorrow at 09:00." — how a person would say it.
pub fn reopening_sentence(now: DateTime, opens: Option<DateTime>) -> String {
    let Some(opens) = opens else {
        return "We are closed at the moment.".to_string();
    };
    let hhmm = opens.strftime("%H:%M").to_string();
    let days = (opens.date() - now.date()).get_days();
    let when = match days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        2..=6 => format!("on {}", opens.strftime("%A")),
        _ => format!("on {}", opens.strftime("%A %-d %B")),
    };
    format!("We reopen {when} at {hhmm}.")
}

/// The decision for a call that starts at `start_ms` in time zone `tz`.
pub fn decide(schedule: &Schedule, tz: &str, start_ms: u64) -> Result<Vec<Action>, String> {
    let zone = TimeZone::get(tz).map_err(|e| format!("time zone `{tz}` is not known ({e})"))?;
    let local = jiff::Timestamp::from_millisecond(start_ms as i64)
        .map_err(|e| format!("call start time: {e}"))?
        .to_zoned_datetime(zone)
        .datetime();
    if schedule.is_open(local) {
        return Ok(vec![schedule.open_go.action(30, 0)]);
    }
    let mut prompts: Vec<_> = schedule.closed_prompts.iter().map(flow::file).collect();
    prompts.push(flow::say(reopening_sentence(
        local,
        schedule.next_opening(local),
    )));
    // Tagged, so the call's record says it and the host mails the
    // tenant's after-hours addresses.
    let mut actions = vec![
        flow::set_tag("after-hours"),
        flow::answer(),
        flow::play(prompts),
    ];
    actions.push(match &schedule.closed_go {
        Some(d) => d.action(30, 0),
        None => flow::hangup(),
    });
    Ok(actions)
}

/// The plugin.
pub struct BusinessHours;

impl CallFlow for BusinessHours {
    fn handle(call: CallSnapshot, event: Event, _state: Option<Vec<u8>>) -> flow::Result {
        match event {
            Event::CallStarted => {
                let text = config::get("schedule").ok_or("setting `schedule` is not set")?;
                let schedule = Schedule::parse(&text)?;
                flow::decide(decide(&schedule, &call.time_zone, call.start_time)?)
            }
            Event::QueueFinished(r)
                if flow::queue_gave_up(r.reason) || r.reason == flow::QueueExit::Key =>
            {
                flow::decide([flow::hangup()])
            }
            Event::DialFinished(_) | Event::QueueTimeout(_) | Event::QueueOverflow(_) => {
                flow::decide([flow::hangup()])
            }
            _ => flow::decide([]),
        }
    }
}

switchyard_sdk::export_call_flow!(BusinessHours);

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn schedule() -> Schedule {
        Schedule::parse(include_str!("../example-config.json")).unwrap()
    }

    fn ms(local: &str, tz: &str) -> u64 {
        let dt: DateTime = local.parse().unwrap();
        dt.to_zoned_datetime(TimeZone::get(tz).unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond() as u64
    }

    fn said(actions: &[Action]) -> String {
        for a in actions {
            if let Action::Play(ps) = a {
                for p in ps {
                    if let flow::Prompt::Say(s) = p {
                        return s.clone();
                    }
                }
            }
        }
        panic!("nothing said in {actions:?}")
    }

    #[test]
    fn weekday_hours_open_and_close() {
        let s = schedule();
        let paris = "Europe/Paris";
        // Tuesday 24 November 2026.
        let a = decide(&s, paris, ms("2026-11-24T10:00", paris)).unwrap();
        assert_eq!(a, vec![flow::goto_flow("ivr")]);
        let a = decide(&s, paris, ms("2026-11-24T17:30", paris)).unwrap();
        assert_eq!(said(&a), "We reopen tomorrow at 09:00.");
        assert_eq!(a.last(), Some(&flow::voicemail("operators")));
        // Closed calls are tagged (the host tells the after-hours
        // addresses); open ones are not.
        assert_eq!(a[0], flow::set_tag("after-hours"));
        let a = decide(&s, paris, ms("2026-11-24T07:59", paris)).unwrap();
        assert_eq!(said(&a), "We reopen today at 09:00.");
    }

    #[test]
    fn the_weekend_reopens_on_monday() {
        let s = schedule();
        let ny = "America/New_York";
        // Saturday 28 November 2026, after the Saturday morning hours.
        let a = decide(&s, ny, ms("2026-11-28T14:00", ny)).unwrap();
        assert_eq!(said(&a), "We reopen on Monday at 09:00.");
        let a = decide(&s, ny, ms("2026-11-28T11:00", ny)).unwrap();
        assert_eq!(a, vec![flow::goto_flow("ivr")]);
    }

    #[test]
    fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
        let s = schedule();
        let instant = ms("2026-11-24T10:00", "Europe/Paris"); // 04:00 in New York
        assert_eq!(
            decide(&s, "Europe/Paris", instant).unwrap(),
            vec![flow::goto_flow("ivr")]
        );
        let a = decide(&s, "America/New_York", instant).unwrap();
        assert_eq!(said(&a), "We reopen today at 09:00.");
    }

    #[test]
    fn holidays_close_the_day_and_recur_yearly() {
        let s = schedule();
        let tz = "Europe/London";
        // Friday 25 December 2026 at noon: Christmas.
        let a = decide(&s, tz, ms("2026-12-25T12:00", tz)).unwrap();
        assert_eq!(said(&a), "We reopen tomorrow at 10:00.", "Saturday hours");
        // Christmas 2027 (a Saturday) is closed too: the holiday is yearly.
        assert!(s.is_holiday(date(2027, 12, 25)));
        assert!(!s.is_open("2027-12-25T11:00".parse().unwrap()));
        // New Year's Day 2027 is a Friday; the next opening is Saturday.
        let at: DateTime = "2026-12-31T18:00".parse().unwrap();
        assert_eq!(
            s.next_opening(at),
            Some("2027-01-02T10:00".parse().unwrap())
        );
    }

    #[test]
    fn daylight_saving_days_keep_wall_clock_hours() {
        let s = schedule();
        let tz = "Europe/Paris";
        // Monday 30 March 2026, the day after clocks went forward: 09:00
        // local is 07:00 UTC, not 08:00.
        let open = decide(&s, tz, ms("2026-03-30T09:00", tz)).unwrap();
        assert_eq!(open, vec![flow::goto_flow("ivr")]);
        let before = ms("2026-03-30T09:00", tz) - 60_000;
        let a = decide(&s, tz, before).unwrap();
        assert_eq!(said(&a), "We reopen today at 09:00.");
    }

    #[test]
    fn overnight_intervals_span_midnight() {
        let s =
            Schedule::parse(r#"{"open":{"saturday":["22:00-02:00"]},"open-go":{"flow":"night"}}"#)
                .unwrap();
        assert!(s.is_open("2026-11-28T23:30".parse().unwrap()));
        assert!(s.is_open("2026-11-29T01:59".parse().unwrap()));
        assert!(!s.is_open("2026-11-29T02:00".parse().unwrap()));
        assert!(!s.is_open("2026-11-28T21:00".parse().unwrap()));
    }

    #[test]
    fn far_openings_name_the_date() {
        let s = Schedule::parse(r#"{"open":{"monday":["09:00-10:00"]},"open-go":"hangup","holidays":[{"date":"2026-11-30"}]}"#).unwrap();
        let now: DateTime = "2026-11-24T12:00".parse().unwrap();
        assert_eq!(
            reopening_sentence(now, s.next_opening(now)),
            "We reopen on Monday 7 December at 09:00."
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        let e = Schedule::parse(r#"{"open":{"funday":["09:00-10:00"]},"open-go":"hangup"}"#)
            .unwrap_err();
        assert!(e.contains("funday"), "{e}");
        let e = Schedule::parse(r#"{"open":{"monday":["9-5"]},"open-go":"hangup"}"#).unwrap_err();
        assert!(e.contains("monday"), "{e}");
        let e =
            Schedule::parse(r#"{"holidays":[{"date":"25/12"}],"open-go":"hangup"}"#).unwrap_err();
        assert!(e.contains("25/12"), "{e}");
        let e = decide(&schedule(), "Mars/Olympus", 0).unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }
}
