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
    let mut bad_date = office("acme");
    bad_date.holidays[0].date = "25/12/2026".into();
    assert_eq!(field_of(bad_date).0, "holidays");
}
