//! The process-wide wasmtime [`Engine`]s, one per [`Pool`], and their epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::limits::HostConfig;
use crate::spare::MakerWaker;

/// Core instances a single Rust/wasip2 component is made of (main module,
/// libc shims, adapter glue); generous so that other toolchains fit too.
const CORE_INSTANCES_PER_COMPONENT: u32 = 20;
/// Memories / tables per component: one real memory, a few shim tables.
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 8;

/// Bytes of table / async stack kept resident per pool slot between
/// instances (see below; linear memory comes from the host config).
pub(crate) const RESIDENT_TABLE_BYTES: usize = 64 << 10;
pub(crate) const RESIDENT_STACK_BYTES: usize = 64 << 10;

/// The two pools a component can run in, chosen when it is loaded by the
/// memory it starts with ([`HostConfig::large_memory_bytes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// Plugins that start with less than
    /// [`HostConfig::large_memory_bytes`] (Rust plugins: about 1 MiB).
    /// A used slot is reset by restoring only the pages the kernel reports
    /// written, and what lies past [`HostConfig::keep_resident_bytes`] is
    /// given back.
    Small,
    /// Components that carry an interpreter (Python: 12 MiB, JavaScript:
    /// 9 MiB of memory at start). A used slot's whole memory is copied
    /// back from the image and stays resident, so the next instance in
    /// that slot writes to pages it already owns instead of taking a
    /// copy-on-write fault on each (about 180 per Python decision, two
    /// thirds of its time). The reset is one memcpy of the memory, done
    /// where the instance is dropped: on the spare thread after a
    /// decision (see `spare.rs`).
    Large,
}

/// Builds one pool's engine: component model, async, pooling allocator
/// sized from `cfg`, copy-on-write memory images, epoch interruption. The
/// two engines compile identically; only their pools differ.
pub(crate) fn build_engine(cfg: &HostConfig, kind: Pool) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let n = match kind {
        Pool::Small => cfg.max_instances,
        Pool::Large => cfg.max_large_instances,
    }
    .max(1);
    pool.total_component_instances(n)
        .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(n * MEMORIES_PER_COMPONENT)
        .total_tables(n * TABLES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(cfg.max_memory_bytes)
        .table_elements(cfg.max_table_elements)
        // Async stacks come from the pool as well: one per live instance.
        .total_stacks(n)
        .table_keep_resident(RESIDENT_TABLE_BYTES)
        .async_stack_keep_resident(RESIDENT_STACK_BYTES)
        // What an instance touched beyond the resident bytes is returned
        // to the kernel the moment the instance ends, not batched: wasmtime
        // queues decommits per thread until a batch is full, so with a
        // batch of 16 a memory bomb's 32 MiB stayed resident until 15 more
        // large instances ended on the same thread — minutes, or for ever
        // on a quiet host (55 → 389 MiB after ten bombs, 161 MiB 10 s
        // later). Small plugins are reset entirely within their resident
        // bytes and queue nothing, so batching saved them nothing.
        .decommit_batch_size(1);
    match kind {
        Pool::Small => {
            // Reset small plugins' memory, tables and stacks with memset
            // (only the pages that were touched, where the kernel can say)
            // instead of madvise: no page faults on the next use and no
            // cross-core TLB shootdowns when several threads instantiate
            // at once.
            pool.linear_memory_keep_resident(cfg.keep_resident_bytes)
                .pagemap_scan(wasmtime::Enabled::Auto)
                // The pool's floor: slots that ended keep up to the bytes
                // above resident, and only this many idle slots are kept
                // warm (wasmtime reuses them before touching a never-used
                // slot), so idle plugin memory is bounded by
                // `max_warm_slots` × those bytes instead of growing towards
                // every slot of the pool.
                .max_unused_warm_slots(cfg.max_warm_slots);
        }
        Pool::Large => {
            // No page scan here: wasmtime's scan reports at most 32 runs of
            // written pages and gives back everything past the 32nd, and an
            // interpreter's writes are scattered over its heap in far more
            // runs, so the slot kept almost nothing (measured: 16 MiB kept
            // resident with the scan changed nothing). Without it the whole
            // kept range is copied back from the image.
            pool.linear_memory_keep_resident(cfg.large_keep_resident_bytes)
                .pagemap_scan(wasmtime::Enabled::No)
                .max_unused_warm_slots(cfg.max_large_warm_slots);
        }
    }

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if cfg.perf_map {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

/// Advances the engines' epochs every `tick` on a background thread, until
/// dropped. A thread (not a tokio task) so that the ticker runs even when
/// every runtime worker is busy running guests.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the ticker; at every tick it also wakes the spare maker if
    /// jobs wait for it (see [`crate::spare`]).
    pub(crate) fn start(
        engines: Vec<Engine>,
        tick: std::time::Duration,
        spares: MakerWaker,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (running, started) = std::sync::mpsc::sync_channel::<()>(0);
        let thread = std::thread::Builder::new()
            // Short: Linux keeps 15 bytes of a thread name.
            .name("sy-epoch".into())
            .spawn(move || {
                // The thread names itself as it starts: the host is made
                // only once it runs, so it is never half-started.
                let _ = running.send(());
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    for engine in &engines {
                        engine.increment_epoch();
                    }
                    spares.wake_if_work();
                }
            })?;
        let _ = started.recv();
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
