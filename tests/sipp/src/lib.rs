//! SIPp scenarios for Switchyard's end-to-end tests, and a runner that
//! drives the real `sipp` binary (SIPp 3.6, Debian's `sip-tester`) as a
//! child process.
//!
//! The scenarios live in `tests/sipp/scenarios/*.xml`; each file starts with
//! a comment saying what it plays, its command-line inputs and its `-set`
//! variables with their defaults. [`scenario`] gives a scenario's path.
//!
//! ```no_run
//! use std::time::Duration;
//! use switchyard_sipp::{Sipp, Transport};
//!
//! // The callee must be listening before the caller starts.
//! let callee = Sipp::new("uas_answer").spawn();
//! let caller = Sipp::new("uac_call")
//!     .remote(([127, 0, 0, 1], callee.port()).into())
//!     .user("2000")
//!     .set("pause_ms", "200")
//!     .timeout(Duration::from_secs(10))
//!     .run();
//! caller.assert_ok();
//! callee.wait().assert_ok();
//! ```
//!
//! Every run binds to 127.0.0.1, runs in the foreground with `-nostdin`,
//! and writes its error log, final screens, statistics, SIP messages and
//! `<log>` lines into a fresh temporary directory, read back into the
//! [`Outcome`] so a failed assertion can show what happened. A run is
//! bounded by [`Sipp::timeout`] (sipp's `-timeout` with `-timeout_error`,
//! and a hard kill from Rust a few seconds later); a [`Running`] child is
//! killed when dropped, so a panicking test leaves no sipp behind.
//!
//! `sipp` must be on `PATH`; `scripts/test` installs it (Debian package
//! `sip-tester`). Without it the runner panics: the SIP tests are never
//! skipped.

pub mod digest;
mod outcome;
pub mod pcap;
pub mod ports;
mod runner;

pub use outcome::Outcome;
pub use runner::{Running, Sipp, Transport};

use std::path::PathBuf;

/// Path of the scenario `tests/sipp/scenarios/<name>.xml`.
///
/// Panics when there is no such file, so a typo fails the test at once
/// instead of as a sipp start-up error.
pub fn scenario(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.xml"));
    assert!(
        path.is_file(),
        "no SIPp scenario named {name:?} (looked for {})",
        path.display()
    );
    path
}

/// Names of every scenario shipped in `tests/sipp/scenarios`, sorted.
pub fn scenario_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? == "xml" {
                Some(path.file_stem()?.to_str()?.to_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}
