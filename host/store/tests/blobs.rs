//! Plugins (content-addressed bytes), API keys and tenant files.

mod common;

use common::*;
use switchyard_store::*;

#[test]
fn plugin_versions_are_content_addressed() {
    let (dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("globex", &[])).unwrap();
    let v1 = b"component one".to_vec();
    let v2 = b"component two".to_vec();
    let (h1, h2) = (sha256_hex(&v1), sha256_hex(&v2));
    s.add_version(&version("acme", "router", 1, &h1, v1.len()), &v1)
        .unwrap();
    s.add_version(&version("acme", "router", 2, &h2, v2.len()), &v2)
        .unwrap();
    // The same bytes from another tenant share one blob.
    s.add_version(&version("globex", "router", 1, &h1, v1.len()), &v1)
        .unwrap();
    let blobs: Vec<_> = std::fs::read_dir(dir.path().join("files/plugins"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    assert!(blobs.contains(&format!("{h1}.wasm")));
    assert_eq!(s.plugin_bytes(&h1).unwrap(), v1);
    assert_eq!(s.plugin_bytes(&h2).unwrap(), v2);

    let numbers: Vec<u32> = s
        .versions("acme", "router")
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(s.all_versions("acme").unwrap().len(), 2);
    assert_eq!(s.version("acme", "router", 2).unwrap().unwrap().sha256, h2);

    // A version number is written once.
    assert!(matches!(
        s.add_version(&version("acme", "router", 2, &h1, v1.len()), &v1)
            .unwrap_err(),
        StoreError::Conflict(_)
    ));
    // The record must describe the bytes.
    assert!(matches!(
        s.add_version(&version("acme", "router", 3, &h1, v1.len()), &v2)
            .unwrap_err(),
        StoreError::Invalid {
            field: "sha256",
            ..
        }
    ));
    assert!(matches!(
        s.add_version(&version("acme", "router", 3, &h1, 1), &v1)
            .unwrap_err(),
        StoreError::Invalid { field: "size", .. }
    ));

    assert_eq!(s.active("acme", "router").unwrap(), None);
    s.set_active("acme", "router", 2).unwrap();
    assert_eq!(s.active("acme", "router").unwrap(), Some(2));
    s.set_active("acme", "router", 1).unwrap();
    assert_eq!(s.active("acme", "router").unwrap(), Some(1));
    assert!(matches!(
        s.set_active("acme", "router", 9).unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert_eq!(s.active("globex", "router").unwrap(), None);

    s.set_roles("acme", r#"{"call-flow":"router"}"#).unwrap();
    assert_eq!(
        s.roles("acme").unwrap().as_deref(),
        Some(r#"{"call-flow":"router"}"#)
    );
    assert_eq!(s.roles("globex").unwrap(), None);
    assert!(s.set_roles("acme", "{not json").is_err());

    // Deleting globex keeps the blob acme still uses.
    s.delete_tenant("globex").unwrap();
    assert_eq!(s.plugin_bytes(&h1).unwrap(), v1);

    // A blob changed on disk is reported, not served.
    std::fs::write(dir.path().join(format!("files/plugins/{h2}.wasm")), b"evil").unwrap();
    assert!(matches!(
        s.plugin_bytes(&h2).unwrap_err(),
        StoreError::Corrupt(_)
    ));
    assert!(matches!(
        s.plugin_bytes(&"0".repeat(64)).unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert!(s.plugin_bytes("../../etc/passwd").is_err());
}

#[test]
fn api_keys_authenticate_until_deleted() {
    let (_d, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    s.put_tenant(&tenant("globex", &[])).unwrap();
    let (key, token) = s
        .create_api_key("acme", Role::Agent, Some("1001"), "desk phone")
        .unwrap();
    assert!(token.starts_with(&format!("sy_{}_", key.id)));
    assert_eq!(token.len(), 3 + 16 + 1 + 64);
    assert_eq!(key.role, Role::Agent);
    assert_eq!(key.extension.as_deref(), Some("1001"));
    let (other, other_token) = s
        .create_api_key("globex", Role::Admin, None, "ops")
        .unwrap();
    assert_ne!(key.id, other.id);

    assert_eq!(s.authenticate(&token).unwrap(), Some(key.clone()));
    assert_eq!(s.authenticate(&other_token).unwrap(), Some(other.clone()));
    // A wrong secret for a real id, garbage, and another key's id.
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert_eq!(s.authenticate(&wrong).unwrap(), None);
    assert_eq!(s.authenticate("").unwrap(), None);
    assert_eq!(s.authenticate("sy_nothing").unwrap(), None);
    let spliced = format!("sy_{}_{}", other.id, &token[20..]);
    assert_eq!(s.authenticate(&spliced).unwrap(), None);

    // The secret is not stored: only its hash.
    assert_eq!(s.list_api_keys("acme").unwrap(), vec![key.clone()]);
    let role_json = serde_json::to_string(&Role::Supervisor).unwrap();
    assert_eq!(role_json, "\"supervisor\"");

    // Another tenant cannot delete it.
    assert!(!s.delete_api_key("globex", &key.id).unwrap());
    assert!(s.authenticate(&token).unwrap().is_some());
    assert!(s.delete_api_key("acme", &key.id).unwrap());
    assert_eq!(s.authenticate(&token).unwrap(), None);
    assert!(s.list_api_keys("acme").unwrap().is_empty());
    assert!(s.authenticate(&other_token).unwrap().is_some());
}

#[test]
fn api_key_secret_never_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    let (_, token) = s.create_api_key("acme", Role::Admin, None, "ops").unwrap();
    s.close().unwrap();
    let secret = token.rsplit('_').next().unwrap().as_bytes().to_vec();
    let mut found = false;
    visit(dir.path(), &mut |bytes| {
        found |= bytes.windows(secret.len()).any(|w| w == secret.as_slice());
    });
    assert!(!found);
    // …and it still authenticates after a reopen.
    let s = Store::open(dir.path()).unwrap();
    assert!(s.authenticate(&token).unwrap().is_some());
}

fn visit(dir: &std::path::Path, f: &mut dyn FnMut(&[u8])) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            visit(&p, f);
        } else {
            f(&std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn files_crud_and_paths_stay_inside() {
    let (dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    let stored = s
        .put_file(&file("acme", "prompt", "welcome.wav"), b"RIFF....")
        .unwrap();
    assert_eq!(stored.size, 8);
    let (rec, path) = s
        .get_file("acme", "prompt", "welcome.wav")
        .unwrap()
        .unwrap();
    assert_eq!(rec, stored);
    assert_eq!(path, dir.path().join("files/prompt/acme/welcome.wav"));
    assert_eq!(std::fs::read(&path).unwrap(), b"RIFF....");

    // Replacing keeps one file with the new bytes.
    s.put_file(&file("acme", "prompt", "welcome.wav"), b"new")
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    s.put_file(&file("acme", "recording", "r1"), b"rec")
        .unwrap();
    assert_eq!(s.list_files("acme", "prompt").unwrap().len(), 1);
    assert_eq!(s.list_files("acme", "recording").unwrap().len(), 1);
    assert!(s.list_files("acme", "voicemail").unwrap().is_empty());

    assert!(s.delete_file("acme", "prompt", "welcome.wav").unwrap());
    assert!(!path.exists());
    assert!(!s.delete_file("acme", "prompt", "welcome.wav").unwrap());
    assert_eq!(s.get_file("acme", "prompt", "welcome.wav").unwrap(), None);

    // Nothing escapes the data directory.
    for id in ["../../escape", "..", "a/b", "a\\b", "a\0b", ".hidden", ""] {
        let err = s.put_file(&file("acme", "prompt", id), b"x").unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "id", .. }),
            "{id:?}: {err:?}"
        );
        assert!(s.get_file("acme", "prompt", id).is_err());
    }
    for t in ["..", "../acme", "a/b"] {
        assert!(matches!(
            s.put_file(&file(t, "prompt", "x"), b"x").unwrap_err(),
            StoreError::Invalid {
                field: "tenant",
                ..
            }
        ));
    }
    assert!(matches!(
        s.put_file(&file("acme", "../plugins", "x"), b"x")
            .unwrap_err(),
        StoreError::Invalid { field: "kind", .. }
    ));
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("files/escape").exists());
}

#[test]
fn a_canary_names_a_stored_version_and_a_share_of_callers() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    let v1 = b"component one".to_vec();
    let h1 = sha256_hex(&v1);
    s.add_version(&version("acme", "router", 1, &h1, v1.len()), &v1)
        .unwrap();
    let c = CanaryRecord {
        version: 1,
        percent: 10,
        min_decisions: 20,
        margin_pct: 5.0,
        started_ms: 1,
        stopped: None,
    };
    s.set_canary("acme", "router", Some(&c)).unwrap();
    assert_eq!(s.canary("acme", "router").unwrap(), Some(c.clone()));
    for bad in [0, 100] {
        let r = s.set_canary(
            "acme",
            "router",
            Some(&CanaryRecord {
                percent: bad,
                ..c.clone()
            }),
        );
        assert!(
            matches!(
                r,
                Err(StoreError::Invalid {
                    field: "percent",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let r = s.set_canary(
        "acme",
        "router",
        Some(&CanaryRecord {
            version: 7,
            ..c.clone()
        }),
    );
    assert!(matches!(r, Err(StoreError::NotFound(_))));
    s.set_canary("acme", "router", None).unwrap();
    assert_eq!(s.canary("acme", "router").unwrap(), None);
}

#[test]
fn a_published_component_outlives_the_tenants_that_installed_it() {
    let (_dir, s) = open();
    s.put_tenant(&tenant("acme", &[])).unwrap();
    let bytes = b"a partner's component".to_vec();
    let sha = sha256_hex(&bytes);
    let entry = CatalogueEntry {
        name: "crm".into(),
        version: 1,
        world: "crm-connector".into(),
        description: String::new(),
        config_schema: None,
        hosts: vec![],
        sha256: sha.clone(),
        size: bytes.len() as u64,
        published_ms: 1,
    };
    s.publish(&entry, &bytes).unwrap();
    assert!(matches!(
        s.publish(&entry, &bytes),
        Err(StoreError::Conflict(_))
    ));
    s.add_version(&version("acme", "crm", 1, &sha, bytes.len()), &bytes)
        .unwrap();
    s.delete_tenant("acme").unwrap();
    assert_eq!(s.plugin_bytes(&sha).unwrap(), bytes, "still published");
    assert_eq!(s.catalogue_entry("crm", 1).unwrap(), Some(entry));
}
