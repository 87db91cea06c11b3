//! Configuration repositories: CRUD, indexes, conflicts, tenant isolation.

mod common;

use common::*;
use switchyard_store::*;

#[test]
fn tenants_crud_and_domain_index() {
    let (_d, s) = open();
    let acme = tenant("acme", &["Acme.Example", "pbx.acme.example"]);
    s.put_tenant(&acme).unwrap();
    assert_eq!(s.get_tenant("acme").unwrap(), Some(acme.clone()));
    assert_eq!(s.get_tenant("nope").unwrap(), None);
    assert_eq!(
        s.tenant_by_domain("ACME.example").unwrap().map(|t| t.id),
        Some("acme".into())
    );

    // Another tenant may not take a domain, whatever its case.
    let err = s
        .put_tenant(&tenant("globex", &["globex.example", "acme.EXAMPLE"]))
        .unwrap_err();
    match err {
        StoreError::Conflict(m) => assert!(m.contains("acme.example"), "{m}"),
        e => panic!("{e:?}"),
    }
    // Nothing of the refused write is kept.
    assert_eq!(s.get_tenant("globex").unwrap(), None);
    assert_eq!(s.tenant_by_domain("globex.example").unwrap(), None);

    // Updating releases the domains no longer listed.
    let mut acme2 = acme.clone();
    acme2.domains = vec!["pbx.acme.example".into()];
    acme2.suspended = true;
    s.put_tenant(&acme2).unwrap();
    assert_eq!(s.tenant_by_domain("acme.example").unwrap(), None);
    assert!(s.get_tenant("acme").unwrap().unwrap().suspended);
    s.put_tenant(&tenant("globex", &["globex.example", "acme.example"]))
        .unwrap();
    assert_eq!(
        s.tenant_by_domain("acme.example").unwrap().map(|t| t.id),
        Some("globex".into())
    );

    let ids: Vec<String> = s
        .list_tenants()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["acme", "globex"]);

    assert!(s.delete_tenant("globex").unwrap());
    assert!(!s.delete_tenant("globex").unwrap());
    assert_eq!(s.tenant_by_domain("globex.example").unwrap(), None);
    assert_eq!(s.tenant_by_domain("acme.example").unwrap(), None);
    assert_eq!(s.list_tenants().unwrap().len(), 1);
}

#[test]
fn invalid_input_names_the_field() {
    let (_d, s) = open();
    let field = |e: StoreError| match e {
        StoreError::Invalid { field, .. } => field,
        e => panic!("{e:?}"),
    };
    assert_eq!(
        field(s.put_tenant(&tenant("Acme", &[])).unwrap_err()),
        "tenant"
    );
    assert_eq!(
        field(s.put_tenant(&tenant("acme", &["bad domain"])).unwrap_err()),
        "domains"
    );
    s.put_tenant(&tenant("acme", &[])).unwrap();
    assert_eq!(
        field(s.put_extension(&extension("acme", "1")).unwrap_err()),
        "extension"
    );
    let mut e = extension("acme", "1001");
    e.ha1_md5 = "password".into();
    assert_eq!(field(s.put_extension(&e).unwrap_err()), "ha1_md5");
    // One plain address: nothing a mail header could be smuggled in with.
    for bad in [
        "bob",
        "bob@",
        "@example.com",
        "Bob <bob@example.com>",
        "a@example.com, b@example.com",
        "bob@example.com\r\nBcc: eve@example.com",
    ] {
        let mut e = extension("acme", "1001");
        e.email = Some(bad.into());
        assert_eq!(field(s.put_extension(&e).unwrap_err()), "email", "{bad}");
    }
    let mut e = extension("acme", "1001");
    e.email = Some("bob.smith+pbx@mail.example.com".into());
    e.missed_call_email = true;
    s.put_extension(&e).unwrap();
    assert_eq!(s.get_extension("acme", "1001").unwrap(), Some(e));
    s.delete_extension("acme", "1001").unwrap();
    let mut g = RingGroup {
        tenant: "acme".into(),
        name: "sales".into(),
        members: vec!["1001".into()],
        strategy: RingStrategy::Sequential,
        ring_timeout_secs: 20,
    };
    g.members.push("x".into());
    assert_eq!(field(s.put_ring_group(&g).unwrap_err()), "members");
    let mut t = trunk("acme", "carrier");
    t.inbound_addresses = vec!["not-an-ip".into()];
    assert_eq!(field(s.put_trunk(&t).unwrap_err()), "inbound_addresses");
    // Configuration of an unknown tenant is refused.
    assert!(matches!(
        s.put_extension(&extension("ghost", "1001")).unwrap_err(),
        StoreError::NotFound(_)
    ));
}

#[test]
fn extensions_crud() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    let e = extension("acme", "1001");
    s.put_extension(&e).unwrap();
    s.put_extension(&extension("acme", "1002")).unwrap();
    assert_eq!(s.get_extension("acme", "1001").unwrap(), Some(e.clone()));
    let mut e2 = e.clone();
    e2.voicemail = false;
    s.put_extension(&e2).unwrap();
    assert_eq!(s.get_extension("acme", "1001").unwrap(), Some(e2));
    assert_eq!(s.list_extensions("acme").unwrap().len(), 2);
    assert!(s.delete_extension("acme", "1001").unwrap());
    assert!(!s.delete_extension("acme", "1001").unwrap());
    assert_eq!(s.get_extension("acme", "1001").unwrap(), None);
    assert_eq!(s.list_extensions("acme").unwrap().len(), 1);
}

#[test]
fn numbers_and_did_conflicts() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("globex", &[])).unwrap();
    let did = Number {
        tenant: "acme".into(),
        number: "+15550100".into(),
        flow: "router".into(),
    };
    s.put_number(&did).unwrap();
    // Internal numbers may repeat across tenants.
    for t in ["acme", "globex"] {
        s.put_number(&Number {
            tenant: t.into(),
            number: "700".into(),
            flow: "ivr".into(),
        })
        .unwrap();
    }
    assert_eq!(s.find_did("+15550100").unwrap(), Some(did.clone()));
    assert_eq!(s.find_did("700").unwrap(), None);
    assert_eq!(s.find_did("+15550199").unwrap(), None);

    let taken = Number {
        tenant: "globex".into(),
        ..did.clone()
    };
    match s.put_number(&taken).unwrap_err() {
        StoreError::Conflict(m) => assert!(m.contains("+15550100"), "{m}"),
        e => panic!("{e:?}"),
    }
    assert_eq!(s.get_number("globex", "+15550100").unwrap(), None);

    // Re-pointing one's own DID is fine.
    let mut moved = did.clone();
    moved.flow = "business-hours".into();
    s.put_number(&moved).unwrap();
    assert_eq!(s.find_did("+15550100").unwrap(), Some(moved));
    assert_eq!(s.list_numbers("acme").unwrap().len(), 2);

    // Deleting releases the DID for another tenant.
    assert!(s.delete_number("acme", "+15550100").unwrap());
    assert_eq!(s.find_did("+15550100").unwrap(), None);
    s.put_number(&taken).unwrap();
    assert_eq!(s.find_did("+15550100").unwrap().unwrap().tenant, "globex");
    // A tenant deleting a number it does not own leaves the owner's index.
    assert!(!s.delete_number("acme", "+15550100").unwrap());
    assert_eq!(s.find_did("+15550100").unwrap().unwrap().tenant, "globex");
}

#[test]
fn an_inbound_address_belongs_to_one_tenants_trunks() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("globex", &[])).unwrap();
    // acme's carrier at 192.0.2.10 (any port).
    s.put_trunk(&trunk("acme", "carrier")).unwrap();
    // The same tenant may name it again (a second trunk, an update).
    s.put_trunk(&trunk("acme", "backup")).unwrap();
    s.put_trunk(&trunk("acme", "carrier")).unwrap();
    // Another tenant may not, not even one port of it.
    for clash in ["192.0.2.10", "192.0.2.10:5060", "::ffff:192.0.2.10"] {
        let mut g = trunk("globex", "grab");
        g.inbound_addresses = vec!["198.51.100.1".into(), clash.into()];
        match s.put_trunk(&g).unwrap_err() {
            StoreError::Conflict(m) => assert!(m.contains(clash), "{m}"),
            e => panic!("{clash}: {e:?}"),
        }
    }
    assert!(s.list_trunks("globex").unwrap().is_empty());
    // Ports apart, two tenants can share a host (tests, one SBC).
    let mut a = trunk("acme", "ports");
    a.inbound_addresses = vec!["203.0.113.1:5060".into()];
    s.put_trunk(&a).unwrap();
    let mut g = trunk("globex", "ports");
    g.inbound_addresses = vec!["203.0.113.1:5070".into()];
    s.put_trunk(&g).unwrap();
    // Once acme lets the address go, globex may take it.
    s.delete_trunk("acme", "carrier").unwrap();
    s.delete_trunk("acme", "backup").unwrap();
    let mut g = trunk("globex", "carrier");
    g.inbound_addresses = vec!["192.0.2.10".into()];
    s.put_trunk(&g).unwrap();
}

#[test]
fn trunks_groups_queues_crud() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("globex", &[])).unwrap();
    let t = trunk("acme", "carrier");
    s.put_trunk(&t).unwrap();
    let mut g = trunk("globex", "carrier");
    g.inbound_addresses = vec!["192.0.2.20".into()];
    s.put_trunk(&g).unwrap();
    assert_eq!(s.get_trunk("acme", "carrier").unwrap(), Some(t.clone()));
    assert_eq!(s.list_trunks("acme").unwrap(), vec![t.clone()]);
    assert_eq!(s.all_trunks().unwrap().len(), 2);
    assert!(s.delete_trunk("acme", "carrier").unwrap());
    assert_eq!(s.all_trunks().unwrap().len(), 1);

    let g = RingGroup {
        tenant: "acme".into(),
        name: "sales".into(),
        members: vec!["1001".into(), "1002".into()],
        strategy: RingStrategy::Simultaneous,
        ring_timeout_secs: 20,
    };
    s.put_ring_group(&g).unwrap();
    assert_eq!(s.get_ring_group("acme", "sales").unwrap(), Some(g.clone()));
    assert_eq!(s.list_ring_groups("acme").unwrap(), vec![g]);
    assert!(s.delete_ring_group("acme", "sales").unwrap());
    assert!(s.list_ring_groups("acme").unwrap().is_empty());

    let q = Queue {
        tenant: "acme".into(),
        name: "support".into(),
        strategy_plugin: Some("skills".into()),
        agents: vec![Agent {
            extension: "1001".into(),
            skills: vec![("english".into(), 5), ("billing".into(), 2)],
            logged_in: true,
            penalty: 1,
        }],
        max_waiting: 10,
        timeout_secs: 300,
        moh: Some("hold-music".into()),
        ring_mode: RingMode::FirstN(2),
        callback_key: Some('*'),
        leave_key: Some('#'),
        announce_every_secs: Some(60),
        comfort_prompt: Some("hold-on".into()),
        join_empty: JoinEmpty::Never,
        ..Queue::new("acme", "support")
    };
    s.put_queue(&q).unwrap();
    assert_eq!(s.get_queue("acme", "support").unwrap(), Some(q.clone()));
    assert_eq!(s.list_queues("acme").unwrap(), vec![q]);
    assert!(s.delete_queue("acme", "support").unwrap());
    assert_eq!(s.get_queue("acme", "support").unwrap(), None);
}

/// `acme` is a prefix of `acme-2`: a prefix scan must still see one
/// tenant only, in every tree.
#[test]
fn tenant_prefix_scans_never_cross_tenants() {
    let (_d, s) = open();
    for (t, carrier) in [("acme", "192.0.2.10"), ("acme-2", "192.0.2.20")] {
        s.put_tenant(&tenant(t, &[])).unwrap();
        s.put_extension(&extension(t, "1001")).unwrap();
        // Inbound addresses are one tenant's.
        let mut tr = trunk(t, "carrier");
        tr.inbound_addresses = vec![carrier.into()];
        s.put_trunk(&tr).unwrap();
        s.put_number(&Number {
            tenant: t.into(),
            number: "700".into(),
            flow: "ivr".into(),
        })
        .unwrap();
        s.put_ring_group(&RingGroup {
            tenant: t.into(),
            name: "g".into(),
            members: vec![],
            strategy: RingStrategy::Sequential,
            ring_timeout_secs: 1,
        })
        .unwrap();
        s.put_binding(&binding(t, "1001", "sip:x@1", 1000)).unwrap();
        s.insert_cdr(&cdr(t, "c1", 100)).unwrap();
        s.put_file(&file(t, "prompt", "hello"), b"x").unwrap();
        s.create_api_key(t, Role::Admin, None, "k").unwrap();
    }
    s.put_extension(&extension("acme-2", "1002")).unwrap();
    assert!(
        s.list_extensions("acme")
            .unwrap()
            .iter()
            .all(|e| e.tenant == "acme")
    );
    assert_eq!(s.list_extensions("acme").unwrap().len(), 1);
    assert_eq!(s.list_trunks("acme").unwrap().len(), 1);
    assert_eq!(s.list_numbers("acme").unwrap().len(), 1);
    assert_eq!(s.list_ring_groups("acme").unwrap().len(), 1);
    assert_eq!(s.bindings("acme", "1001", 0).unwrap().len(), 1);
    let page = s.query_cdrs("acme", &CdrFilter::default()).unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].tenant, "acme");
    assert_eq!(s.list_files("acme", "prompt").unwrap().len(), 1);
    assert_eq!(s.list_api_keys("acme").unwrap().len(), 1);

    // Deleting `acme` leaves every record of `acme-2`.
    assert!(s.delete_tenant("acme").unwrap());
    assert!(s.list_extensions("acme").unwrap().is_empty());
    assert_eq!(s.list_extensions("acme-2").unwrap().len(), 2);
    assert_eq!(s.list_trunks("acme-2").unwrap().len(), 1);
    assert_eq!(s.list_numbers("acme-2").unwrap().len(), 1);
    assert_eq!(s.bindings("acme-2", "1001", 0).unwrap().len(), 1);
    assert_eq!(
        s.query_cdrs("acme-2", &CdrFilter::default())
            .unwrap()
            .rows
            .len(),
        1
    );
    assert_eq!(s.list_files("acme-2", "prompt").unwrap().len(), 1);
    assert!(
        s.get_file("acme-2", "prompt", "hello")
            .unwrap()
            .unwrap()
            .1
            .exists()
    );
    assert_eq!(s.list_api_keys("acme-2").unwrap().len(), 1);
}

#[test]
fn delete_tenant_removes_everything_it_owns() {
    let (dir, s) = open();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    s.put_extension(&extension("acme", "1001")).unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@1", u64::MAX))
        .unwrap();
    s.put_number(&Number {
        tenant: "acme".into(),
        number: "+15550100".into(),
        flow: "router".into(),
    })
    .unwrap();
    s.put_trunk(&trunk("acme", "carrier")).unwrap();
    s.put_queue(&Queue {
        max_waiting: 1,
        timeout_secs: 1,
        ..Queue::new("acme", "q")
    })
    .unwrap();
    s.insert_cdr(&cdr("acme", "c1", 1)).unwrap();
    let wasm = b"\0asm component bytes".to_vec();
    let sha = sha256_hex(&wasm);
    s.add_version(&version("acme", "router", 1, &sha, wasm.len()), &wasm)
        .unwrap();
    s.set_active("acme", "router", 1).unwrap();
    s.set_roles("acme", r#"{"call-flow":"router"}"#).unwrap();
    let (_, token) = s.create_api_key("acme", Role::Admin, None, "ops").unwrap();
    s.put_file(&file("acme", "voicemail", "m1"), b"audio")
        .unwrap();
    let block = CallerRule {
        pattern: "+1900*".into(),
        action: CallerAction::Reject { decline: false },
    };
    s.put_caller_rules("acme", std::slice::from_ref(&block))
        .unwrap();
    s.put_extension_rules("acme", "1001", std::slice::from_ref(&block))
        .unwrap();
    s.put_notices(
        "acme",
        &TenantNotices {
            after_hours: vec!["ops@acme.example".into()],
            ..TenantNotices::default()
        },
    )
    .unwrap();
    s.set_account("acme", true, Default::default(), None)
        .unwrap();

    assert!(s.delete_tenant("acme").unwrap());

    assert_eq!(s.get_tenant("acme").unwrap(), None);
    assert_eq!(s.tenant_by_domain("acme.example").unwrap(), None);
    assert!(s.all_bindings().unwrap().is_empty());
    assert_eq!(s.find_did("+15550100").unwrap(), None);
    assert!(s.all_trunks().unwrap().is_empty());
    assert_eq!(s.get_queue("acme", "q").unwrap(), None);
    assert!(
        s.query_cdrs("acme", &CdrFilter::default())
            .unwrap()
            .rows
            .is_empty()
    );
    assert!(s.all_versions("acme").unwrap().is_empty());
    assert_eq!(s.active("acme", "router").unwrap(), None);
    assert_eq!(s.roles("acme").unwrap(), None);
    assert_eq!(s.authenticate(&token).unwrap(), None);
    assert_eq!(s.get_file("acme", "voicemail", "m1").unwrap(), None);
    assert!(!dir.path().join("files/voicemail/acme").exists());
    // The blob was used by no one else.
    assert!(matches!(
        s.plugin_bytes(&sha).unwrap_err(),
        StoreError::NotFound(_)
    ));
    // The id is free again, and empty.
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    assert!(s.list_extensions("acme").unwrap().is_empty());
    assert!(s.caller_rules("acme").unwrap().is_empty());
    assert!(s.extension_rules("acme", "1001").unwrap().is_empty());
    assert_eq!(s.notices("acme").unwrap(), TenantNotices::default());
    assert_eq!(s.account("acme").unwrap(), Account::default());
}
