//! Plans, what a tenant is entitled to, and the running totals of its
//! files that a storage cap is checked against.

mod common;

use common::*;
use switchyard_store::schema::{migrate, set_version};
use switchyard_store::*;

fn plan(name: &str, max_extensions: u32, queues: bool) -> Plan {
    Plan {
        name: name.into(),
        description: format!("the {name} plan"),
        features: Features {
            queues,
            ..Features::default()
        },
        limits: TenantQuota {
            max_concurrent_calls: 4,
            max_calls_per_second: 2,
            plugin_memory_mib: 16,
            plugin_cpu_ms: 20,
            max_extensions,
            max_numbers: 1,
            recording_storage_mib: 100,
        },
        rates: RateCard::default(),
        inbound_without_balance: true,
        prepaid_grace_secs: 30,
        created_at_ms: 1,
    }
}

#[test]
fn a_tenant_on_a_plan_gets_the_plan_and_keeps_its_own_for_later() {
    let (_dir, s) = open();
    s.put_plan(&plan("basic", 5, false)).unwrap();
    let mut t = tenant("acme", &["acme.example"]);
    let own = s.entitlements(&t).unwrap();
    assert_eq!(own.plan, None);
    assert_eq!(own.features, t.features);
    assert!(own.features.queues);

    t.plan = Some("basic".into());
    s.put_tenant(&t).unwrap();
    let e = s
        .entitlements(&s.get_tenant("acme").unwrap().unwrap())
        .unwrap();
    assert_eq!(e.plan.as_deref(), Some("basic"));
    assert!(!e.features.has(Feature::Queues));
    assert_eq!(e.limits.max_extensions, 5);

    // Changing the plan changes the tenant.
    s.put_plan(&plan("basic", 7, true)).unwrap();
    let e = s.entitlements(&t).unwrap();
    assert_eq!(e.limits.max_extensions, 7);
    assert!(e.features.queues);
    assert_eq!(s.tenants_on_plan("basic").unwrap(), ["acme"]);
}

#[test]
fn a_plan_must_exist_to_be_assigned_and_cannot_go_while_in_use() {
    let (_dir, s) = open();
    let mut t = tenant("acme", &[]);
    t.plan = Some("gold".into());
    match s.put_tenant(&t).unwrap_err() {
        StoreError::Invalid { field, message } => {
            assert_eq!(field, "plan");
            assert!(message.contains("gold"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    s.put_plan(&plan("gold", 0, true)).unwrap();
    s.put_tenant(&t).unwrap();
    match s.delete_plan("gold").unwrap_err() {
        StoreError::Conflict(m) => assert!(m.contains("acme"), "{m}"),
        e => panic!("{e:?}"),
    }
    t.plan = None;
    s.put_tenant(&t).unwrap();
    assert!(s.delete_plan("gold").unwrap());
    assert!(!s.delete_plan("gold").unwrap());
    assert!(s.list_plans().unwrap().is_empty());
}

#[test]
fn caps_of_zero_are_no_caps() {
    assert!(TenantQuota::fits(0, 1_000_000, 1));
    assert!(TenantQuota::fits(3, 2, 1));
    assert!(!TenantQuota::fits(3, 3, 1));
    assert!(!TenantQuota::fits(3, 2, 2));
}

#[test]
fn records_from_before_plans_read_with_what_they_had() {
    // A tenant as stored before plans: no plan, no queues or conferences
    // field (they were always there), no new caps.
    let old = r#"{"id":"acme","name":"Acme","domains":[],"time_zone":"UTC",
        "limits":{"max_concurrent_calls":1,"max_calls_per_second":1,"plugin_memory_mib":1,
        "plugin_cpu_ms":1},"features":{"recording":false,"advanced_ivr":false,
        "reporting":false,"crm":false},"suspended":false,"created_at_ms":1}"#;
    let t: Tenant = serde_json::from_str(old).unwrap();
    assert_eq!(t.plan, None);
    assert!(t.features.queues && t.features.conferences && t.features.browser_phones);
    assert!(!t.features.recording && !t.features.advanced_ivr);
    assert_eq!(t.limits.max_extensions, 0);
    assert_eq!(t.limits.recording_storage_mib, 0);
}

#[test]
fn stored_bytes_follow_writes_replacements_and_deletes_per_tenant_and_kind() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("acme-2", &[])).unwrap();
    s.put_file(&file("acme", "recording", "r1"), &[0; 1000])
        .unwrap();
    s.put_file(&file("acme", "recording", "r2"), &[0; 500])
        .unwrap();
    s.put_file(&file("acme", "voicemail", "v1"), &[0; 70])
        .unwrap();
    s.put_file(&file("acme-2", "recording", "r1"), &[0; 9])
        .unwrap();
    assert_eq!(s.stored_bytes("acme", "recording").unwrap(), 1500);
    assert_eq!(s.stored_bytes("acme", "voicemail").unwrap(), 70);
    assert_eq!(s.stored_bytes("acme-2", "recording").unwrap(), 9);
    assert_eq!(s.stored_bytes("acme", "prompt").unwrap(), 0);

    // Replacing a file counts the new size instead of the old.
    s.put_file(&file("acme", "recording", "r1"), &[0; 100])
        .unwrap();
    assert_eq!(s.stored_bytes("acme", "recording").unwrap(), 600);
    assert!(s.delete_file("acme", "recording", "r2").unwrap());
    assert!(!s.delete_file("acme", "recording", "r2").unwrap());
    assert_eq!(s.stored_bytes("acme", "recording").unwrap(), 100);

    s.delete_tenant("acme").unwrap();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(s.stored_bytes("acme", "recording").unwrap(), 0);
    assert_eq!(s.stored_bytes("acme-2", "recording").unwrap(), 9);
}

#[test]
fn the_schema_2_migration_counts_the_files_of_an_older_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.put_tenant(&tenant("acme", &[])).unwrap();
        s.put_file(&file("acme", "recording", "r1"), &[0; 1234])
            .unwrap();
        s.put_file(&file("acme", "prompt", "p1"), &[0; 10]).unwrap();
        s.close().unwrap();
    }
    // Make it a schema 1 store: no totals yet.
    {
        let db = open_db(dir.path());
        db.drop_tree("file_bytes").unwrap();
        set_version(&db, 1).unwrap();
        assert_eq!(
            migrate(&db, CURRENT_SCHEMA, schema::MIGRATIONS).unwrap(),
            Some(1)
        );
        // Run again (an interrupted upgrade): the same totals.
        switchyard_store::schema::MIGRATIONS[0](&db).unwrap();
    }
    let s = open_when_unlocked(dir.path());
    assert_eq!(s.stored_bytes("acme", "recording").unwrap(), 1234);
    assert_eq!(s.stored_bytes("acme", "prompt").unwrap(), 10);
}

/// sled's flusher thread lets go of the file lock a moment after a handle
/// is dropped: wait for that, not for anything else.
fn open_db(dir: &std::path::Path) -> sled::Db {
    retry_locked(|| sled::open(dir.join("db")).map_err(StoreError::from))
}

fn open_when_unlocked(dir: &std::path::Path) -> Store {
    retry_locked(|| Store::open(dir))
}

fn retry_locked<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn the_schema_3_migration_moves_a_tenants_caller_rules_under_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let rule = CallerRule {
        pattern: "+1900*".into(),
        action: CallerAction::Reject { decline: false },
    };
    {
        let s = Store::open(dir.path()).unwrap();
        s.put_tenant(&tenant("acme", &[])).unwrap();
        s.close().unwrap();
    }
    // A schema 2 store: the tenant's rules at `acme` alone.
    {
        let db = open_db(dir.path());
        let stored = serde_json::json!({"tenant": "acme", "rules": [rule]});
        let tree = db.open_tree("caller_rules").unwrap();
        tree.clear().unwrap();
        tree.insert("acme", stored.to_string().as_bytes()).unwrap();
        set_version(&db, 2).unwrap();
        assert_eq!(
            migrate(&db, CURRENT_SCHEMA, schema::MIGRATIONS).unwrap(),
            Some(2)
        );
        schema::MIGRATIONS[1](&db).unwrap();
    }
    let s = open_when_unlocked(dir.path());
    assert_eq!(s.caller_rules("acme").unwrap(), [rule]);
    // And the tenant's delete now takes them.
    s.delete_tenant("acme").unwrap();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert!(s.caller_rules("acme").unwrap().is_empty());
}
