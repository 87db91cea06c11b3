//! The process-wide wasmtime [`Engine`] and its epoch ticker.

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

/// Builds the engine: component model, async, pooling allocator sized from
/// `cfg`, copy-on-write memory images, epoch interruption.
pub(crate) fn build_engine(cfg: &HostConfig) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let n = cfg.max_instances.max(1);
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
        // Reset small plugins' memory, tables and stacks with memset (only
        // the pages that were touched, where the kernel can say) instead of
        // madvise: no page faults on the next use and no cross-core TLB
        // shootdowns when several threads instantiate at once.
        .linear_memory_keep_resident(cfg.keep_resident_bytes)
        .table_keep_resident(RESIDENT_TABLE_BYTES)
        .async_stack_keep_resident(RESIDENT_STACK_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto)
        // What an instance touched beyond those bytes is returned to the
        // kernel the moment the instance ends, not batched: wasmtime queues
        // decommits per thread until a batch is full, so with a batch of
        // 16 a memory bomb's 32 MiB stayed resident until 15 more large
        // instances ended on the same thread — minutes, or for ever on a
        // quiet host (55 → 389 MiB after ten bombs, 161 MiB 10 s later).
        // Small plugins are reset entirely by the memset above and queue
        // nothing, so batching saved them nothing.
        .decommit_batch_size(1)
        // The pool's floor: slots that ended keep up to the bytes above
        // resident, and only this many idle slots are kept warm (wasmtime
        // reuses them before touching a never-used slot), so idle plugin
        // memory is bounded by `max_warm_slots` × those bytes instead of
        // growing towards every slot of the pool.
        .max_unused_warm_slots(cfg.max_warm_slots);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances the engine's epoch every `tick` on a background thread, until
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
        engine: Engine,
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
                    engine.increment_epoch();
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
