//! Memory a plugin took comes back (issue 11, item 7): when a memory bomb
//! ends (out of memory, trapped), its linear memory is released at once,
//! down to the pool's floor, and a tenant's bombs running together never
//! hold more than its memory budget × its concurrency cap.
//!
//! Its own test binary with one test: it reads the process's resident
//! memory (`/proc/self/status`), which other tests running in the same
//! process would disturb. Release happens when the invocation's store is
//! dropped, before `invoke_flow` returns, so the figures need no waiting.

mod common;

use std::time::Duration;

use common::*;
use switchyard_plugins::flow_types::Event;
use switchyard_plugins::{HostConfig, PluginFailure, PluginHost, TenantLimits};

const MIB: usize = 1 << 20;

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// Start measuring the peak from now (Linux: "5" resets `VmHWM`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_gives_its_memory_back_and_bombs_together_stay_within_budget_times_cap() {
    let host = PluginHost::new(HostConfig {
        max_instances: 32,
        ..HostConfig::default()
    })
    .expect("plugin host");
    let budget = 32 * MIB;
    let cap = 4;
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            memory_bytes: budget,
            max_concurrent: cap,
            // The bombs over the cap wait for a place rather than being
            // refused: all of them run, `cap` at a time.
            max_queue_wait: Duration::from_secs(60),
            wall_clock: Duration::from_secs(30),
            cpu: Duration::from_secs(5),
            ..TenantLimits::default()
        },
    );
    t.install("bomb", wasm("memory-bomb"), config(&[])).unwrap();
    let pinned = t.pin("bomb").unwrap();
    let bomb = || {
        let (t, pinned) = (t.clone(), pinned.clone());
        async move {
            let r = t
                .invoke_flow(&pinned, &call("acme", "1", "2"), &Event::CallStarted, None)
                .await;
            assert_eq!(r, Err(PluginFailure::OutOfMemory));
        }
    };
    // One bomb first: compilation, the first instantiation and the
    // runtime's own lazily allocated memory are not what is measured.
    bomb().await;
    let floor = status_bytes("VmRSS");

    // One bomb alone: its ~32 MiB are released when it ends.
    bomb().await;
    let after_one = status_bytes("VmRSS");

    // Ten at once under a cap of four.
    reset_peak();
    let before_ten = status_bytes("VmRSS");
    let mut bombs = tokio::task::JoinSet::new();
    for _ in 0..10 {
        bombs.spawn(bomb());
    }
    while let Some(r) = bombs.join_next().await {
        r.expect("bomb task");
    }
    let peak = status_bytes("VmHWM");
    let after_ten = status_bytes("VmRSS");

    let metrics = host
        .engine(switchyard_plugins::Pool::Small)
        .pooling_allocator_metrics()
        .expect("pooling allocator");
    eprintln!(
        "RSS after the first bomb {} MiB; after one more {} MiB; ten under a cap of {cap}: \
         before {} MiB, peak {} MiB, after {} MiB; pool: {} live memories, {} warm, \
         {} KiB resident in them",
        floor / MIB,
        after_one / MIB,
        before_ten / MIB,
        peak / MIB,
        after_ten / MIB,
        metrics.memories(),
        metrics.unused_warm_memories(),
        metrics.unused_memory_bytes_resident() >> 10,
    );

    // Every instance that ran is gone (a failed decision's store is
    // dropped at once; only never-used spares, counted from before they
    // are made, are alive) and what its slot keeps is the pool's floor: at
    // most `keep_resident_bytes` per warm slot.
    assert!(
        metrics.memories() <= host.spare_instances() as usize,
        "{} live memories, {} spares",
        metrics.memories(),
        host.spare_instances()
    );
    assert!(
        metrics.unused_memory_bytes_resident()
            <= metrics.unused_warm_memories() as usize * host.config().keep_resident_bytes
    );
    // Slack for the host's own heap (trap backtraces, stores, logs) and
    // the warm slots' kept pages; a bomb's memory not returned is 30 MiB
    // or more and exceeds it.
    let slack = 16 * MIB;
    assert!(
        after_one <= floor + slack,
        "one bomb ended: RSS {} MiB, was {} MiB",
        after_one / MIB,
        floor / MIB
    );
    assert!(
        after_ten <= before_ten + slack,
        "ten bombs ended: RSS {} MiB, was {} MiB",
        after_ten / MIB,
        before_ten / MIB
    );
    assert!(
        peak <= before_ten + budget * cap + slack,
        "ten bombs under a cap of {cap} × {} MiB peaked at {} MiB over {} MiB",
        budget / MIB,
        (peak - before_ten) / MIB,
        before_ten / MIB
    );
}
