//! Spare instances for call-flow decisions and CRM look-ups, made off the
//! decision's path.
//!
//! Every flow decision (and every contact look-up, which a call waits for
//! too) runs in an instance nothing has run in before: nothing one call
//! leaves in a plugin's memory reaches another call.
//! Making that instance (a store, a pool slot, the core instances) and
//! dropping it afterwards (resetting the pages the call touched) were more
//! than half of a small decision's time (bench `plugins`: `router` 8 µs to
//! instantiate and 4.5 µs to drop, against 14 µs for the call itself). So
//! a version keeps a few spares, and a decision takes one; the decision's
//! instance, once used, goes to the host's spare maker (one thread), which
//! drops it and tops the version's spares up again. A decision that finds
//! no spare (the first ones, or a burst) instantiates inline as before.
//!
//! Nothing on a decision's path wakes the maker: waking a thread is a
//! system call (a futex wake, ≈ 4 µs here, as much as the rest of a small
//! decision). A decision only queues its job; the epoch ticker, which
//! wakes every millisecond anyway, wakes the maker when jobs wait. So a
//! spare is made within about a millisecond of the decision that used one,
//! and a version keeps [`SPARES_PER_VERSION`] of them to cover as many
//! decisions within that time.
//!
//! Isolation is unchanged: a spare has run nothing but the component's own
//! start-up, and its store is built for the tenant that owns the version
//! (a version belongs to one tenant's registry), with that tenant's
//! limits. Its meters are renewed and its budgets re-armed when a decision
//! takes it, so the decision gets its whole CPU budget and host-call fuel.
//!
//! What bounds it:
//! * [`SPARES_PER_VERSION`] per version, made only for versions that
//!   decide, and taken back from a version idle for
//!   [`HostConfig::spare_idle`] when another needs the places;
//! * at most [`HostConfig::max_spare_instances`] host-wide, and never more
//!   than an eighth of the pool; used instances waiting for the maker, no
//!   more than that either (past it a decision drops its own), so
//!   decisions always find slots;
//! * a failed decision's instance (trap, memory, CPU) is dropped at once
//!   on its own path, as before: it may hold all its tenant's memory;
//! * a version's spares go when the version goes. A spare's store must
//!   not hold its own tenant runtime (that would be a cycle through the
//!   registry): the `contacts` capability holds the tenant weakly for this
//!   reason.
//!
//! [`HostConfig::max_spare_instances`]: crate::HostConfig::max_spare_instances
//! [`HostConfig::spare_idle`]: crate::HostConfig::spare_idle

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::bindings::flow;
use crate::registry::PluginVersion;
use crate::state::PluginState;
use crate::warm::Held;

/// Spares a call-flow or CRM version keeps at most: the decisions it may
/// take within the millisecond it takes the maker to notice.
pub(crate) const SPARES_PER_VERSION: usize = 4;

/// A never-used instance and its store, with its place under the host's cap.
struct Spare {
    made: Made,
    _held: Held,
}

/// A spare as a decision takes it: the store, the instance and, for a
/// call flow, its export already looked up and type-checked by the maker
/// (≈ 1.7 µs a decision would spend otherwise).
pub(crate) struct Made {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: Instance,
    pub(crate) flow: Option<flow::Guest>,
}

/// A call-flow version's spares, and whether the maker has been asked to
/// top them up (so that it is asked once until it has).
#[derive(Default)]
pub(crate) struct SpareSlot {
    spares: Mutex<Stock>,
    refill_queued: AtomicBool,
    /// Decisions that ran on a spare.
    taken: AtomicU64,
}

/// A version's spares, and when a decision last wanted one.
#[derive(Default)]
struct Stock {
    spares: Vec<Spare>,
    wanted: Option<Instant>,
}

impl SpareSlot {
    /// A spare, if one is ready.
    pub(crate) fn take(&self) -> Option<Made> {
        let mut stock = self.lock();
        stock.wanted = Some(Instant::now());
        let spare = stock.spares.pop()?;
        drop(stock);
        self.taken.fetch_add(1, Ordering::Relaxed);
        Some(spare.made)
    }

    /// Whether the version should ask for a top-up: true once until
    /// [`Self::refilled`].
    pub(crate) fn ask_refill(&self) -> bool {
        !self.refill_queued.swap(true, Ordering::AcqRel)
    }

    /// Whether another spare is wanted.
    pub(crate) fn wants_more(&self) -> bool {
        self.lock().spares.len() < SPARES_PER_VERSION
    }

    /// How long since a decision last wanted a spare.
    fn idle_for(&self, now: Instant) -> Duration {
        self.lock()
            .wanted
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t))
    }

    /// Drops every spare; true if there were any.
    fn clear(&self) -> bool {
        let spares = std::mem::take(&mut self.lock().spares);
        !spares.is_empty()
    }

    /// Adds a spare the maker made.
    pub(crate) fn put(&self, made: Made, held: Held) {
        self.lock().spares.push(Spare { made, _held: held });
    }

    /// The maker has topped the spares up (or could not): the next
    /// decision may ask again.
    pub(crate) fn refilled(&self) {
        self.refill_queued.store(false, Ordering::Release);
    }

    /// Spares ready now.
    pub(crate) fn ready(&self) -> usize {
        self.lock().spares.len()
    }

    /// Decisions that have run on a spare.
    pub(crate) fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stock> {
        self.spares.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Work for the maker: drops what it holds (a decision's used store) and
/// tops a version's spares up, with the maker's runtime and its list of
/// versions holding spares.
pub(crate) type SpareJob = Box<dyn FnOnce(&mut Workshop) + Send>;

/// What the maker's thread owns: a runtime to instantiate on, and the
/// versions it has made spares for (weakly: a version's spares go with
/// it), to take back the spares of versions no longer deciding.
pub(crate) struct Workshop {
    runtime: tokio::runtime::Runtime,
    stocked: Vec<Weak<PluginVersion>>,
    /// `HostConfig::spare_idle`.
    idle: Duration,
}

impl Workshop {
    /// Runs an instantiation to its end on the maker's thread.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Notes that `version` holds spares (once).
    pub(crate) fn stocked(&mut self, version: &Arc<PluginVersion>) {
        if !self
            .stocked
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(version)))
        {
            self.stocked.push(Arc::downgrade(version));
        }
    }

    /// Drops the spares of versions that have not decided for
    /// `HostConfig::spare_idle` (gone versions leave the list), giving
    /// their places under the host's cap to versions that decide. True if
    /// any went.
    pub(crate) fn take_back_idle(&mut self, now: Instant) -> bool {
        let mut freed = false;
        self.stocked.retain(|w| match w.upgrade() {
            Some(v) if v.spare.idle_for(now) >= self.idle => {
                freed |= v.spare.clear();
                false
            }
            Some(_) => true,
            None => false,
        });
        freed
    }
}

/// The thread that makes spares, and the jobs waiting for it.
pub(crate) struct SpareMaker {
    shared: Arc<MakerShared>,
    /// Jobs that may wait before decisions drop their own instances
    /// again: each waiting job holds a slot of the pool, and a maker that
    /// falls behind (decisions back to back on every core) must not let
    /// the pool run out.
    max_waiting: usize,
}

/// What the epoch ticker holds to wake the maker when jobs wait.
#[derive(Clone)]
pub(crate) struct MakerWaker(Arc<MakerShared>);

struct MakerShared {
    jobs: Mutex<Vec<SpareJob>>,
    /// Set by the maker before it sleeps; the waker unparks it only then.
    sleeping: AtomicBool,
    stop: AtomicBool,
    thread: Thread,
}

impl SpareMaker {
    pub(crate) fn start(max_waiting: usize, idle: Duration) -> std::io::Result<Self> {
        let mut workshop = Workshop {
            runtime: tokio::runtime::Builder::new_current_thread().build()?,
            stocked: Vec::new(),
            idle,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<MakerShared>>(1);
        let thread = std::thread::Builder::new()
            // Short: Linux keeps 15 bytes of a thread name.
            .name("sy-spares".into())
            .spawn(move || {
                if let Ok(shared) = rx.recv() {
                    shared.run(&mut workshop);
                }
            })?;
        let shared = Arc::new(MakerShared {
            jobs: Mutex::new(Vec::new()),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: thread.thread().clone(),
        });
        let _ = tx.send(shared.clone());
        Ok(Self {
            shared,
            max_waiting,
        })
    }

    /// Queues a job; the maker finds it at the next tick. When as many as
    /// it may already wait, hands it back.
    pub(crate) fn submit(&self, job: SpareJob) -> Result<(), SpareJob> {
        let mut jobs = self.shared.lock();
        if jobs.len() >= self.max_waiting {
            return Err(job);
        }
        jobs.push(job);
        Ok(())
    }

    pub(crate) fn waker(&self) -> MakerWaker {
        MakerWaker(self.shared.clone())
    }
}

impl MakerWaker {
    /// Called by the epoch ticker at every tick.
    pub(crate) fn wake_if_work(&self) {
        let shared = &self.0;
        if shared.sleeping.load(Ordering::Acquire) && !shared.lock().is_empty() {
            shared.thread.unpark();
        }
    }
}

impl Drop for SpareMaker {
    /// Stops the maker without waiting for it: it may be the thread that
    /// drops the host (a job holds a tenant, which holds the host).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.thread.unpark();
    }
}

impl MakerShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SpareJob>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, workshop: &mut Workshop) {
        let mut batch = Vec::new();
        while !self.stop.load(Ordering::Acquire) {
            std::mem::swap(&mut batch, &mut *self.lock());
            if !batch.is_empty() {
                for job in batch.drain(..) {
                    job(workshop);
                }
                continue;
            }
            self.sleeping.store(true, Ordering::Release);
            std::thread::park();
            self.sleeping.store(false, Ordering::Release);
        }
    }
}
