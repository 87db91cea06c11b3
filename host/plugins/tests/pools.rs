//! The two pools (`Pool`): a component's initial memory puts it in the
//! small pool or the large one (interpreters). A large slot keeps its
//! whole memory resident between instances, copied back from the image
//! when an instance ends — so an instance there still starts from the
//! image, and nothing an earlier call wrote reaches a later one.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard_plugins::flow_types::Event;
use switchyard_plugins::{HostConfig, PluginFailure, PluginHost, Pool, TenantLimits};

const MIB: usize = 1 << 20;

/// Every component in the large pool (none starts with less than 0 bytes).
fn all_large(max_spare_instances: u32) -> PluginHost {
    PluginHost::new(HostConfig {
        large_memory_bytes: 0,
        max_spare_instances,
        ..HostConfig::default()
    })
    .expect("plugin host")
}

#[test]
fn a_component_goes_to_the_pool_its_initial_memory_says() {
    let host = host();
    let echo = host.load(wasm("echo-flow")).unwrap();
    // A Rust plugin starts with about 1 MiB: under the 4 MiB line.
    assert!(echo.initial_memory_bytes() < HostConfig::default().large_memory_bytes as u64);
    assert_eq!(echo.pool(), Pool::Small);

    let host = all_large(0);
    assert_eq!(host.load(wasm("echo-flow")).unwrap().pool(), Pool::Large);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_large_pool_every_decision_starts_from_the_image() {
    for spares in [0, 64] {
        let host = all_large(spares);
        let t = tenant(&host, "acme", limits());
        t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
        let p = t.pin("echo").unwrap();
        let call = call("acme", "+15550100", "100");
        for i in 0..12 {
            let d = t
                .invoke_flow(&p, &call, &digits("memory"), None)
                .await
                .unwrap();
            // The component counts these events in its own memory: an
            // instance whose slot kept an earlier instance's writes would
            // say 2 or more.
            assert_eq!(
                tags(&d.actions),
                ["memory=1"],
                "spares {spares}, decision {i}"
            );
            if spares > 0 {
                // Let the spare thread drop the used instance (copying its
                // slot back) and make the next: the next decision then
                // runs in a slot that kept its pages.
                let deadline = Instant::now() + Duration::from_secs(20);
                while p.spare_instances() == 0 {
                    assert!(Instant::now() < deadline, "no spare made");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        // What makes the pool fast: the ended instances' slots kept their
        // memory (all of it, not just the pages an instance wrote).
        let m = host
            .engine(Pool::Large)
            .pooling_allocator_metrics()
            .expect("pooling allocator");
        assert!(
            m.unused_warm_memories() >= 1,
            "spares {spares}: no warm slot"
        );
        assert!(
            m.unused_memory_bytes_resident() >= m.unused_warm_memories() as usize * MIB,
            "spares {spares}: {} KiB resident in {} warm slots",
            m.unused_memory_bytes_resident() >> 10,
            m.unused_warm_memories()
        );
        // Nothing ran in the small pool.
        let small = host
            .engine(Pool::Small)
            .pooling_allocator_metrics()
            .unwrap();
        assert_eq!(small.unused_warm_memories(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_in_the_large_pool_is_stopped_and_its_slot_keeps_at_most_its_share() {
    let host = all_large(0);
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            memory_bytes: 32 * MIB,
            cpu: Duration::from_secs(5),
            wall_clock: Duration::from_secs(30),
            ..limits()
        },
    );
    t.install("bomb", wasm("memory-bomb"), config(&[])).unwrap();
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let bomb = t.pin("bomb").unwrap();
    let echo = t.pin("echo").unwrap();
    let c = call("acme", "1", "2");
    for _ in 0..3 {
        let r = t.invoke_flow(&bomb, &c, &Event::CallStarted, None).await;
        assert_eq!(r, Err(PluginFailure::OutOfMemory));
    }
    // The next call's decision, possibly in a bomb's old slot, starts from
    // its own image.
    let d = t
        .invoke_flow(&echo, &c, &digits("memory"), None)
        .await
        .unwrap();
    assert_eq!(tags(&d.actions), ["memory=1"]);

    let m = host
        .engine(Pool::Large)
        .pooling_allocator_metrics()
        .unwrap();
    let keep = host.config().large_keep_resident_bytes;
    assert!(
        m.unused_memory_bytes_resident() <= m.unused_warm_memories() as usize * keep,
        "{} KiB resident in {} warm slots, {} KiB each at most",
        m.unused_memory_bytes_resident() >> 10,
        m.unused_warm_memories(),
        keep >> 10
    );
    assert!(m.unused_warm_memories() <= host.config().max_large_warm_slots);
}
