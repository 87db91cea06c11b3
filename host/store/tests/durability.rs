//! What survives a crash, and the schema version.

mod common;

use common::*;
use switchyard_store::schema::{Migration, migrate, set_version, stored_version};
use switchyard_store::*;

/// `insert_cdr` and configuration writes flush: with the store forgotten
/// (no drop, no close) the files on disk already hold them.
#[test]
fn flushed_writes_survive_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.put_tenant(&tenant("acme", &["acme.example"])).unwrap();
    s.put_extension(&extension("acme", "1001")).unwrap();
    s.put_file(&file("acme", "prompt", "p"), b"bytes").unwrap();
    // Last, so no later write flushes them along.
    s.insert_cdr(&cdr("acme", "b", 2000)).unwrap();
    s.insert_cdr(&cdr("acme", "a", 1000)).unwrap();
    std::mem::forget(s);

    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let s = Store::open(copy.path()).unwrap();
    let page = s.query_cdrs("acme", &CdrFilter::default()).unwrap();
    assert_eq!(
        page.rows.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(page.rows[1], cdr("acme", "a", 1000));
    assert!(s.tenant_by_domain("acme.example").unwrap().is_some());
    assert!(s.get_extension("acme", "1001").unwrap().is_some());
    let (_, path) = s.get_file("acme", "prompt", "p").unwrap().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"bytes");
}

const CRASH_ENV: &str = "SWITCHYARD_STORE_CRASH_DIR";

/// Run the test `name` again in a child process with `env` naming a fresh
/// data directory; the child writes there and aborts. The directory.
fn run_aborting_child(name: &str, env: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(env, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child aborts");
    dir
}

/// A real crash: this test runs itself in a child process that writes and
/// then aborts (no destructors, no flush); the parent reopens the data.
#[test]
fn flushed_writes_survive_an_abort() {
    if let Ok(dir) = std::env::var(CRASH_ENV) {
        let s = Store::open(std::path::Path::new(&dir)).unwrap();
        s.put_tenant(&tenant("acme", &[])).unwrap();
        s.insert_cdr(&cdr("acme", "crash", 42)).unwrap();
        std::process::abort();
    }
    let dir = run_aborting_child("flushed_writes_survive_an_abort", CRASH_ENV);
    let s = Store::open(dir.path()).unwrap();
    assert!(s.get_tenant("acme").unwrap().is_some());
    let page = s.query_cdrs("acme", &CdrFilter::default()).unwrap();
    assert_eq!(page.rows, vec![cdr("acme", "crash", 42)]);
}

const CRASH_MANY_ENV: &str = "SWITCHYARD_STORE_CRASH_MANY_DIR";

/// Sixteen threads store call records at once (they share flushes), then
/// the process aborts the moment the last write returns: every record
/// whose write returned is there after reopening.
#[test]
fn records_written_by_many_threads_at_once_survive_an_abort() {
    if let Ok(dir) = std::env::var(CRASH_MANY_ENV) {
        let s = Store::open(std::path::Path::new(&dir)).unwrap();
        s.put_tenant(&tenant("acme", &[])).unwrap();
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        s.insert_cdr(&cdr("acme", &format!("w{w}-{i}"), 1000 + i))
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        std::process::abort();
    }
    let dir = run_aborting_child(
        "records_written_by_many_threads_at_once_survive_an_abort",
        CRASH_MANY_ENV,
    );
    let s = Store::open(dir.path()).unwrap();
    let filter = CdrFilter {
        limit: 1000,
        ..Default::default()
    };
    let page = s.query_cdrs("acme", &filter).unwrap();
    assert_eq!(page.rows.len(), 400, "every record whose write returned");
}

#[test]
fn a_new_store_is_stamped_with_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap().close().unwrap();
    let db = open_raw(dir.path());
    assert_eq!(stored_version(&db).unwrap(), Some(CURRENT_SCHEMA));
}

#[test]
fn a_store_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap().close().unwrap();
    {
        let db = open_raw(dir.path());
        set_version(&db, CURRENT_SCHEMA + 1).unwrap();
    }
    // sled's flusher thread lets go of the file lock a moment after the
    // handle above is dropped: wait for that, not for anything else.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let err = loop {
        let err = Store::open(dir.path()).err().expect("refused");
        let locked =
            matches!(&err, StoreError::Sled(e) if e.to_string().contains("could not acquire lock"));
        if !locked || std::time::Instant::now() > deadline {
            break err;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    match &err {
        StoreError::SchemaTooNew { found, supported } => {
            assert_eq!((*found, *supported), (CURRENT_SCHEMA + 1, CURRENT_SCHEMA));
        }
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains("newer"), "{err}");
}

fn add_v2_marker(db: &sled::Db) -> Result<(), StoreError> {
    let t = db.open_tree("test_log")?;
    let n = t.len() as u8;
    t.insert([n], b"1->2")?;
    Ok(())
}

fn add_v3_marker(db: &sled::Db) -> Result<(), StoreError> {
    let t = db.open_tree("test_log")?;
    let n = t.len() as u8;
    t.insert([n], b"2->3")?;
    Ok(())
}

fn failing(_: &sled::Db) -> Result<(), StoreError> {
    Err(StoreError::Corrupt("migration failed".into()))
}

#[test]
fn migrations_run_in_order_from_the_stored_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_raw(dir.path());
    let steps: [Migration; 2] = [add_v2_marker, add_v3_marker];

    // A fresh database is stamped, nothing runs.
    assert_eq!(migrate(&db, 3, &steps).unwrap(), None);
    assert_eq!(stored_version(&db).unwrap(), Some(3));
    assert_eq!(db.open_tree("test_log").unwrap().len(), 0);

    // From 1: both steps, in order.
    set_version(&db, 1).unwrap();
    assert_eq!(migrate(&db, 3, &steps).unwrap(), Some(1));
    assert_eq!(stored_version(&db).unwrap(), Some(3));
    let log: Vec<Vec<u8>> = db
        .open_tree("test_log")
        .unwrap()
        .iter()
        .map(|kv| kv.unwrap().1.to_vec())
        .collect();
    assert_eq!(log, [b"1->2".to_vec(), b"2->3".to_vec()]);

    // From 2: only the last step.
    db.drop_tree("test_log").unwrap();
    set_version(&db, 2).unwrap();
    migrate(&db, 3, &steps).unwrap();
    let log: Vec<Vec<u8>> = db
        .open_tree("test_log")
        .unwrap()
        .iter()
        .map(|kv| kv.unwrap().1.to_vec())
        .collect();
    assert_eq!(log, [b"2->3".to_vec()]);

    // A failing step stops the upgrade at the last completed version.
    set_version(&db, 1).unwrap();
    let broken: [Migration; 2] = [add_v2_marker, failing];
    assert!(migrate(&db, 3, &broken).is_err());
    assert_eq!(stored_version(&db).unwrap(), Some(2));

    // Newer than the target: refused, untouched.
    set_version(&db, 4).unwrap();
    assert!(matches!(
        migrate(&db, 3, &steps).unwrap_err(),
        StoreError::SchemaTooNew {
            found: 4,
            supported: 3
        }
    ));
    assert_eq!(stored_version(&db).unwrap(), Some(4));
}

/// The raw sled database under a store's directory, once the store that
/// had it open has let go of its file lock (sled's flusher thread holds
/// it a moment after the handle is dropped).
fn open_raw(dir: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(dir.join("db")) {
            Ok(db) => return db,
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
