//! The sled store on real temporary directories.

use switchyard_store::{Binding, Cdr, CdrRepo, RegistrationRepo, Store};

fn binding(tenant: &str, ext: &str, contact: &str, expires_at_ms: u64) -> Binding {
    Binding {
        tenant: tenant.into(),
        extension: ext.into(),
        contact: contact.into(),
        expires_at_ms,
        call_id: "c".into(),
        cseq: 1,
        source: "127.0.0.1:5062".into(),
        transport: "UDP".into(),
        user_agent: None,
    }
}

fn cdr(tenant: &str, id: &str, start_ms: u64) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: id.into(),
        direction: "internal".into(),
        caller: "1001".into(),
        callee: "1002".into(),
        dialled: "1002".into(),
        start_ms,
        answer_ms: Some(start_ms + 1),
        end_ms: start_ms + 2,
        disposition: "answered".into(),
        hangup_by: Some("caller".into()),
        sip_code: 200,
        agent: None,
        tags: vec![],
        flow_plugin: Some("router".into()),
        plugin_version: Some(1),
        legs: vec![],
    }
}

#[test]
fn bindings_are_per_tenant_and_extension_and_expire() {
    let dir = std::env::temp_dir().join(format!("sy-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = Store::open(&dir).unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@1", 100))
        .unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@2", 300))
        .unwrap();
    s.put_binding(&binding("acme-2", "1001", "sip:b@1", 300))
        .unwrap();
    s.put_binding(&binding("acme", "10011", "sip:c@1", 300))
        .unwrap();
    let got: Vec<String> = s
        .bindings("acme", "1001", 50)
        .unwrap()
        .into_iter()
        .map(|b| b.contact)
        .collect();
    assert_eq!(got, vec!["sip:a@1", "sip:a@2"]);
    assert_eq!(s.bindings("acme", "1001", 200).unwrap().len(), 1);
    assert_eq!(s.purge_expired(200).unwrap(), 1);
    s.remove_all_bindings("acme", "1001").unwrap();
    assert!(s.bindings("acme", "1001", 0).unwrap().is_empty());
    assert_eq!(s.bindings("acme-2", "1001", 0).unwrap().len(), 1);
    drop(s);
    // Survives a reopen.
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.bindings("acme-2", "1001", 0).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cdrs_are_durable_without_a_clean_shutdown_and_time_ordered() {
    let dir = std::env::temp_dir().join(format!("sy-cdr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = Store::open(&dir).unwrap();
    s.insert_cdr(&cdr("acme", "b", 2000)).unwrap();
    s.insert_cdr(&cdr("acme", "a", 1000)).unwrap();
    s.insert_cdr(&cdr("other", "x", 1500)).unwrap();
    // No drop, no flush: what insert_cdr wrote must already be on disk.
    std::mem::forget(s);
    let copy = std::env::temp_dir().join(format!("sy-cdr-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&dir, &copy);
    let s = Store::open(&copy).unwrap();
    let ids: Vec<String> = s.cdrs("acme").unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert_eq!(s.cdrs("other").unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

/// Copy the database files as they are on disk (what a restart after a
/// crash would find), since the forgotten store still holds the lock.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
