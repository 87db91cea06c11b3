//! Accounts and the ledger: postings change the balance once, the
//! low-balance crossing is reported once until a top-up, the ledger reads
//! by time, and a tenant's ledger goes with it.

mod common;

use common::*;
use rust_decimal::Decimal;
use switchyard_store::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn call(id: &str, secs: u64) -> Posting {
    Posting::Call {
        call_id: id.into(),
        direction: CallSide::Outbound,
        number: "+15550142".into(),
        prefix: Some("".into()),
        secs,
        billed_secs: secs,
    }
}

#[test]
fn postings_move_the_balance_once_and_report_the_low_crossing_once() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(s.account("acme").unwrap(), Account::default());
    s.set_account("acme", true, d("2.00"), Some("billing@acme.example".into()))
        .unwrap();
    let top = s
        .post(
            "acme",
            "top-up-1",
            10,
            Posting::TopUp {
                reference: "invoice 1".into(),
            },
            d("5.00"),
        )
        .unwrap();
    assert!(top.new && !top.went_low);
    assert_eq!(top.account.balance, d("5.00"));

    let p = s
        .post("acme", "c1", 20, call("c1", 60), d("-2.50"))
        .unwrap();
    assert_eq!(p.account.balance, d("2.50"));
    assert!(!p.went_low, "still above 2.00");
    let p = s
        .post("acme", "c2", 30, call("c2", 60), d("-1.00"))
        .unwrap();
    assert!(p.went_low, "below 2.00 now");
    // The same call rated again (a retry) is not charged twice.
    let again = s
        .post("acme", "c2", 30, call("c2", 60), d("-1.00"))
        .unwrap();
    assert!(!again.new && !again.went_low);
    assert_eq!(again.account.balance, d("1.50"));
    let p = s
        .post("acme", "c3", 40, call("c3", 60), d("-2.00"))
        .unwrap();
    assert!(!p.went_low, "told once");
    assert!(p.account.exhausted());
    assert_eq!(p.account.balance, d("-0.50"));

    // A top-up lifts it: the next fall is told again.
    let p = s
        .post(
            "acme",
            "top-up-2",
            50,
            Posting::TopUp {
                reference: "card".into(),
            },
            d("10"),
        )
        .unwrap();
    assert!(!p.account.low_notified);
    let p = s.post("acme", "c4", 60, call("c4", 60), d("-8")).unwrap();
    assert!(p.went_low);

    let lines = s.ledger("acme", 0, u64::MAX).unwrap();
    let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["top-up-1", "c1", "c2", "c3", "top-up-2", "c4"]);
    assert_eq!(lines[2].balance, d("1.50"));
    let some = s.ledger("acme", 20, 40).unwrap();
    assert_eq!(some.len(), 2, "from inclusive, to exclusive");

    let sum = summarize(&lines);
    assert_eq!(sum.top_ups, d("15"));
    assert_eq!(sum.charges, d("-13.50"));
    let out = &sum.minutes[&(CallSide::Outbound, Some(String::new()))];
    assert_eq!((out.calls, out.secs, out.amount), (4, 240, d("13.50")));
}

#[test]
fn a_postpaid_account_just_accumulates_and_the_ledger_goes_with_the_tenant() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("acme-2", &[])).unwrap();
    for i in 0..3 {
        let p = s
            .post("acme", &format!("c{i}"), i, call("c", 60), d("-1"))
            .unwrap();
        assert!(!p.went_low && !p.account.exhausted());
    }
    s.post("acme-2", "c0", 0, call("c", 60), d("-7")).unwrap();
    assert_eq!(s.account("acme").unwrap().balance, d("-3"));
    s.delete_tenant("acme").unwrap();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(s.account("acme").unwrap(), Account::default());
    assert!(s.ledger("acme", 0, u64::MAX).unwrap().is_empty());
    assert_eq!(s.ledger("acme-2", 0, u64::MAX).unwrap().len(), 1);
    // Postings need a tenant; a bad address is refused naming the field.
    assert!(matches!(
        s.post("nobody", "c", 1, call("c", 1), d("-1")),
        Err(StoreError::NotFound(_))
    ));
    match s.set_account("acme", true, d("1"), Some("not an address".into())) {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "notify_email"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn notice_addresses_are_checked_kept_and_go_with_the_tenant() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(s.notices("acme").unwrap(), TenantNotices::default());
    let n = TenantNotices {
        missed_calls: vec!["team@acme.example".into()],
        after_hours: vec!["ops@acme.example".into(), "boss@acme.example".into()],
    };
    s.put_notices("acme", &n).unwrap();
    assert_eq!(s.notices("acme").unwrap(), n);
    let bad = TenantNotices {
        after_hours: vec!["ops@acme.example\r\nBcc: x@evil.test".into()],
        ..TenantNotices::default()
    };
    match s.put_notices("acme", &bad) {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "after_hours"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.put_notices("nobody", &n),
        Err(StoreError::NotFound(_))
    ));
    s.delete_tenant("acme").unwrap();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(s.notices("acme").unwrap(), TenantNotices::default());
}
