//! Schedules: stored per tenant, checked field by field, gone with their
//! tenant.

mod common;

use std::collections::BTreeMap;

use common::*;
use switchyard_store::*;

fn office(tenant: &str) -> Schedule {
    Schedule {
        tenant: tenant.into(),
        name: "office".into(),
        time_zone: Some("Europe/Paris".into()),
        open: BTreeMap::from([
            (
                "monday".into(),
                vec!["09:00-12:30".into(), "13:30-17:30".into()],
            ),
            ("saturday".into(), vec!["22:00-24:00".into()]),
        ]),
        holidays: vec![Holiday {
            date: "2026-12-25".into(),
            name: "Christmas Day".into(),
            yearly: true,
        }],
    }
}

#[test]
fn schedules_are_kept_per_tenant_and_removed_with_it() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &["acme.test"])).unwrap();
    s.put_tenant(&tenant("acme-2", &["acme2.test"])).unwrap();
    s.put_schedule(&office("acme")).unwrap();
    assert_eq!(
        s.get_schedule("acme", "office").unwrap(),
        Some(office("acme"))
    );
    assert_eq!(s.list_schedules("acme").unwrap().len(), 1);
    assert!(s.list_schedules("acme-2").unwrap().is_empty());
    assert!(s.get_schedule("acme-2", "office").unwrap().is_none());
    // The tenant must exist.
    assert!(matches!(
        s.put_schedule(&office("ghost")),
        Err(StoreError::NotFound(_))
    ));
    s.delete_tenant("acme").unwrap();
    s.put_tenant(&tenant("acme", &["acme.test"])).unwrap();
    assert!(s.list_schedules("acme").unwrap().is_empty());
    s.put_schedule(&office("acme")).unwrap();
    assert!(s.delete_schedule("acme", "office").unwrap());
    assert!(!s.delete_schedule("acme", "office").unwrap());
}

#[test]
fn a_bad_schedule_is_refused_naming_the_field() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &["acme.test"])).unwrap();
    let field_of = |sch: Schedule| match s.put_schedule(&sch) {
        Err(StoreError::Invalid { field, message }) => (field, message),
        other => panic!("{other:?}"),
    };
    let mut bad_day = office("acme");
    bad_day
        .open
        .insert("funday".into(), vec!["09:00-10:00".into()]);
    assert_eq!(field_of(bad_day).0, "open");
    for interval in ["9-17", "09:00-25:00", "09:60-10:00", "0900-1000"] {
        let mut bad = office("acme");
        bad.open.insert("friday".into(), vec![interval.into()]);
        let (field, message) = field_of(bad);
        assert_eq!(field, "open", "{interval}");
        assert!(message.contains(interval), "{message}");
    }
    for interval in ["9:00-17:00", "10:00-10:00", "24:00-02:00"] {
        let mut bad = office("acme");
        bad.open.insert("friday".into(), vec![interval.into()]);
        assert_eq!(field_of(bad).0, "open", "{interval}");
    }
    for date in ["25/12/2026", "2026-02-30", "2026-13-01"] {
        let mut bad_date = office("acme");
        bad_date.holidays[0].date = date.into();
        let (field, message) = field_of(bad_date);
        assert_eq!(field, "holidays", "{date}");
        assert!(message.contains(date), "{message}");
    }
    let mut bad_zone = office("acme");
    bad_zone.time_zone = Some("+01:00".into());
    assert_eq!(field_of(bad_zone).0, "time_zone");
    let mut bad_name = office("acme");
    bad_name.name = "a/b".into();
    assert_eq!(field_of(bad_name).0, "name");
    // Nothing refused was stored.
    assert!(s.list_schedules("acme").unwrap().is_empty());
}

#[test]
fn the_same_name_in_two_tenants_is_two_schedules() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &["acme.test"])).unwrap();
    s.put_tenant(&tenant("acme-2", &["acme2.test"])).unwrap();
    s.put_schedule(&office("acme")).unwrap();
    let mut other = office("acme-2");
    other.time_zone = None;
    other.open = BTreeMap::from([("sunday".into(), vec!["22:00-02:00".into()])]);
    other.holidays.clear();
    s.put_schedule(&other).unwrap();
    assert_eq!(
        s.get_schedule("acme", "office").unwrap(),
        Some(office("acme"))
    );
    assert_eq!(
        s.get_schedule("acme-2", "office").unwrap(),
        Some(other.clone())
    );
    // A put replaces; deleting in one tenant leaves the other's.
    let mut changed = office("acme");
    changed.open.remove("saturday");
    s.put_schedule(&changed).unwrap();
    assert_eq!(s.list_schedules("acme").unwrap(), vec![changed]);
    assert!(s.delete_schedule("acme", "office").unwrap());
    assert_eq!(s.list_schedules("acme-2").unwrap(), vec![other]);
    s.delete_tenant("acme-2").unwrap();
    assert!(s.list_schedules("acme-2").unwrap().is_empty());
}
