//! Warm instances for agent rankings.
//!
//! A `queue-strategy` decision is a pure function of what the host hands
//! it (the queue, the waiting call, the candidates), asked many times a
//! second in a busy contact centre. Instantiating a fresh component for
//! each (the pool slot, the core instances, resetting the touched memory
//! when it ends) was two thirds of a decision's fixed cost and most of its
//! tail (bench `acd strategy`). So after a decision that went well, the
//! instance is kept for the next decision of the same plugin version: one
//! per version, never shared between tenants (a version belongs to one
//! tenant's registry), never used by two decisions at once (a decision
//! takes it out; a concurrent one instantiates afresh).
//!
//! What bounds it:
//! * an instance that failed in any way (trap, CPU or memory budget, wall
//!   clock, bad output) is dropped with its store, as before;
//! * it serves at most [`MAX_DECISIONS`] decisions and is dropped when idle
//!   for [`MAX_IDLE`] (found out at the next decision), so nothing a plugin
//!   keeps in memory outlives that;
//! * it is kept only while its linear memory is at most
//!   [`HostConfig::warm_instance_memory_bytes`], and at most
//!   [`HostConfig::max_warm_instances`] are kept host-wide (each holds one
//!   slot of the pool), so idle rankers hold at most their product.
//!
//! Every decision still gets its own CPU budget, memory limit check, host
//! call fuel and log budget: [`PluginState::renew`] resets the meters.
//!
//! [`HostConfig::warm_instance_memory_bytes`]: crate::HostConfig::warm_instance_memory_bytes
//! [`HostConfig::max_warm_instances`]: crate::HostConfig::max_warm_instances

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::state::PluginState;

/// Decisions one warm instance serves before it is replaced.
pub(crate) const MAX_DECISIONS: u32 = 10_000;
/// A warm instance unused this long is dropped instead of reused.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(60);

/// An instance and its store, kept between decisions.
pub(crate) struct Warm {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: Instance,
    decisions: u32,
    last_used: Instant,
    _held: Held,
}

/// The one warm instance a plugin version may keep.
#[derive(Default)]
pub(crate) struct WarmSlot(Mutex<Option<Warm>>);

impl WarmSlot {
    /// The kept instance, if there is one still fit to serve at `now`.
    pub(crate) fn take(&self, now: Instant) -> Option<Warm> {
        let warm = self.lock().take()?;
        (now.duration_since(warm.last_used) < MAX_IDLE).then_some(warm)
    }

    /// Whether an instance is kept (for tests).
    pub(crate) fn is_kept(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Warm>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Host-wide count of warm instances, against its cap.
#[derive(Clone)]
pub(crate) struct WarmBudget {
    held: Arc<AtomicU32>,
    max: u32,
    max_memory_bytes: usize,
}

impl WarmBudget {
    pub(crate) fn new(max: u32, max_memory_bytes: usize) -> Self {
        Self {
            held: Arc::new(AtomicU32::new(0)),
            max,
            max_memory_bytes,
        }
    }

    /// Keeps an instance that has just served a decision well in `slot`,
    /// or drops it: when it has served its share, grew past the memory
    /// bound, the slot is already taken (a concurrent decision put its own
    /// back first), or the host keeps as many as it may.
    pub(crate) fn keep(
        &self,
        slot: &WarmSlot,
        store: Store<PluginState>,
        instance: Instance,
        previous: Option<WarmHistory>,
        now: Instant,
    ) {
        let decisions = previous.as_ref().map_or(0, |p| p.decisions) + 1;
        if decisions >= MAX_DECISIONS || store.data().limiter.bytes() > self.max_memory_bytes {
            return;
        }
        let mut kept = slot.lock();
        if kept.is_some() {
            return;
        }
        let held = match previous {
            Some(p) => p.held,
            None => match self.hold() {
                Some(h) => h,
                None => return,
            },
        };
        *kept = Some(Warm {
            store,
            instance,
            decisions,
            last_used: now,
            _held: held,
        });
    }

    /// One place under the cap, if any is free.
    pub(crate) fn hold(&self) -> Option<Held> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Held(self.held.clone()))
    }

    /// Instances kept now under this cap, host-wide.
    pub(crate) fn held(&self) -> u32 {
        self.held.load(Ordering::Acquire)
    }
}

impl Warm {
    /// Splits a taken instance into what the decision uses and what
    /// [`WarmBudget::keep`] needs to put it back.
    pub(crate) fn into_parts(self) -> (Store<PluginState>, Instance, WarmHistory) {
        (
            self.store,
            self.instance,
            WarmHistory {
                decisions: self.decisions,
                held: self._held,
            },
        )
    }
}

/// What a reused instance carries over: its count and its place under the
/// host's cap.
pub(crate) struct WarmHistory {
    decisions: u32,
    held: Held,
}

/// One place under the host's cap, given back when dropped.
pub(crate) struct Held(Arc<AtomicU32>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
