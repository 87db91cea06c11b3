//! Agents' wrap-ups (disposition code and notes) and the tenant's codes:
//! validated, kept per tenant and call, on disk across a reopen, and gone
//! with the tenant.

mod common;

use switchyard_store::{Store, StoreError, TenantRepo, WrapUp, WrapUpRepo, default_dispositions};

fn store() -> (tempfile::TempDir, Store) {
    let (dir, s) = common::open();
    for id in ["acme", "bolt"] {
        s.put_tenant(&common::tenant(id, &[&format!("{id}.example")]))
            .unwrap();
    }
    (dir, s)
}

fn wrap(code: &str, notes: &str) -> WrapUp {
    WrapUp {
        code: code.into(),
        notes: notes.into(),
        agent: Some("1002".into()),
        at_ms: 1_700_000_000_000,
    }
}

fn field(e: StoreError) -> String {
    match e {
        StoreError::Invalid { field, .. } => field.to_string(),
        e => panic!("not a validation error: {e}"),
    }
}

#[test]
fn a_tenant_starts_with_the_default_codes_and_may_set_its_own() {
    let (_d, s) = store();
    assert_eq!(s.dispositions("acme").unwrap(), default_dispositions());
    let mine = vec!["upsell".to_string(), "complaint".to_string()];
    s.set_dispositions("acme", &mine).unwrap();
    assert_eq!(s.dispositions("acme").unwrap(), mine);
    assert_eq!(s.dispositions("bolt").unwrap(), default_dispositions());
    for bad in [
        vec![],
        vec!["Has Space".to_string()],
        vec!["a".repeat(41)],
        vec!["x".to_string(), "x".to_string()],
    ] {
        let e = s.set_dispositions("acme", &bad).unwrap_err();
        assert_eq!(field(e), "codes", "{bad:?}");
    }
    assert_eq!(
        s.dispositions("acme").unwrap(),
        mine,
        "a refused list changes nothing"
    );
}

#[test]
fn a_wrap_up_needs_one_of_the_tenants_codes_and_is_kept_per_tenant_and_call() {
    let (_d, s) = store();
    let e = s
        .put_wrap_up("acme", "call-1", &wrap("upsell", ""))
        .unwrap_err();
    assert_eq!(field(e), "code");
    let e = s
        .put_wrap_up("acme", "call-1", &wrap("sale", &"n".repeat(2001)))
        .unwrap_err();
    assert_eq!(field(e), "notes");
    s.put_wrap_up("acme", "call-1", &wrap("sale", "two licences"))
        .unwrap();
    assert_eq!(
        s.wrap_up("acme", "call-1").unwrap(),
        Some(wrap("sale", "two licences"))
    );
    assert_eq!(s.wrap_up("bolt", "call-1").unwrap(), None);
    assert_eq!(s.wrap_up("acme", "call-2").unwrap(), None);
    // Saved again: replaced.
    s.put_wrap_up("acme", "call-1", &wrap("follow-up", "call back Monday"))
        .unwrap();
    assert_eq!(
        s.wrap_up("acme", "call-1").unwrap().unwrap().code,
        "follow-up"
    );
}

#[test]
fn wrap_ups_survive_a_reopen_and_go_with_their_tenant() {
    let (dir, s) = store();
    s.set_dispositions("acme", &["done".to_string()]).unwrap();
    s.put_wrap_up("acme", "call-1", &wrap("done", "")).unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.wrap_up("acme", "call-1").unwrap().unwrap().code, "done");
    assert!(s.delete_tenant("acme").unwrap());
    s.put_tenant(&common::tenant("acme", &["acme.example"]))
        .unwrap();
    assert_eq!(s.wrap_up("acme", "call-1").unwrap(), None);
    assert_eq!(s.dispositions("acme").unwrap(), default_dispositions());
}
