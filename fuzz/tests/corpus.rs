//! The short form of the fuzzing (issue 11): every kept corpus input and
//! every saved crash of every target, replayed on each `cargo test`. An
//! input the fuzzer once found stays a test here.
//!
//! `fuzz/corpus/<target>/` is the minimized corpus `bench/fuzz` keeps;
//! `fuzz/regressions/<target>/` holds inputs that once panicked (fixed
//! since). `fuzz/known/<target>/` holds inputs that still panic in code
//! being replaced elsewhere; their test is ignored until then.

use std::panic;
use std::path::{Path, PathBuf};

use switchyard_fuzz::TARGETS;

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
}

fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir(kind, target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read input");
            (p, bytes)
        })
        .collect()
}

/// Runs every input of `kind` through its target; returns the inputs that
/// panicked.
fn replay(kind: &str) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        for (path, bytes) in inputs(kind, name) {
            ran += 1;
            if panic::catch_unwind(|| target(&bytes)).is_err() {
                failed.push(format!("{name}: {}", path.display()));
            }
        }
    }
    (ran, failed)
}

#[test]
fn every_kept_corpus_input_runs_clean_through_its_target() {
    let (ran, failed) = replay("corpus");
    assert!(failed.is_empty(), "panicked: {failed:#?}");
    // Each target has a corpus; an empty one would make this test vacuous.
    for (name, _) in TARGETS {
        assert!(
            !inputs("corpus", name).is_empty(),
            "no corpus for {name} in fuzz/corpus/{name}"
        );
    }
    assert!(ran > 0);
}

#[test]
fn inputs_that_once_panicked_stay_fixed() {
    let (_, failed) = replay("regressions");
    assert!(failed.is_empty(), "panicked again: {failed:#?}");
}

#[test]
fn inputs_that_panicked_digest_auth_do_not_panic_our_parser() {
    // digest_auth 0.3.1 panicked on these (issue 11); its replacement,
    // switchyard_sip::auth::params, must not.
    let (_, failed) = replay("known");
    assert!(failed.is_empty(), "still panicking: {failed:#?}");
}
