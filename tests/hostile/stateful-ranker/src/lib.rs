//! Ranks candidates in the order given, and logs `decision N`: how many
//! decisions this instance has made, counted in its own memory, so a test
//! sees whether the host kept the instance between decisions. Settings:
//! * `trap-at` = N: panics (a trap) at its Nth decision;
//! * `leak-kib` = K: leaks K KiB of memory at every decision;
//! * `burn-ms` = M: spins M ms (wall clock) at every decision.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({ path: "../../../wit", world: "switchyard:plugin/queue-ranker" });

use std::sync::atomic::{AtomicU32, Ordering};

use exports::switchyard::plugin::ranking::Guest;
use switchyard::plugin::config;
use switchyard::plugin::log::{Level, log};
use switchyard::plugin::queue_types::{QueueInfo, WaitingCall};
use switchyard::plugin::ranking_types::CandidateColumns;

static DECISIONS: AtomicU32 = AtomicU32::new(0);

fn setting(key: &str) -> Option<u64> {
    config::get(key).and_then(|v| v.parse().ok())
}

struct Stateful;

impl Guest for Stateful {
    fn rank(_: QueueInfo, _: WaitingCall, candidates: CandidateColumns) -> Vec<u32> {
        let n = DECISIONS.fetch_add(1, Ordering::Relaxed) + 1;
        log(Level::Info, &format!("decision {n}"));
        if setting("trap-at") == Some(u64::from(n)) {
            panic!("stateful-ranker traps at decision {n}");
        }
        if let Some(kib) = setting("leak-kib") {
            std::mem::forget(vec![1u8; kib as usize * 1024]);
        }
        if let Some(ms) = setting("burn-ms") {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(ms) {
                std::hint::black_box(0);
            }
        }
        (0..candidates.id_ends.len() as u32).collect()
    }
}

export!(Stateful);
