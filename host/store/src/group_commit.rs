//! Group commit: writers that need their write on disk share flushes.
//!
//! A flush (sled's `Db::flush`, an fsync underneath) makes durable
//! everything written before it started. A writer that arrives while a
//! flush runs cannot count on that one, so it waits for the next, which
//! the first of the waiters starts for all of them. Under load a hundred
//! call records then cost a few fsyncs instead of a hundred, and each
//! writer still returns only once a flush that started after its write
//! has finished — the same promise as flushing alone.

use std::sync::{Condvar, Mutex, MutexGuard};

/// The shared flush state of one database.
pub(crate) struct GroupCommit<E> {
    state: Mutex<State<E>>,
    finished: Condvar,
}

impl<E> Default for GroupCommit<E> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State::default()),
            finished: Condvar::new(),
        }
    }
}

struct State<E> {
    /// A flush is running.
    flushing: bool,
    /// How many flushes have been started (they are numbered from 1).
    started: u64,
    /// The number of the last flush that finished, well or not.
    finished: u64,
    /// The number of the last flush that succeeded.
    succeeded: u64,
    /// Why the last failed flush failed.
    error: Option<E>,
}

impl<E> Default for State<E> {
    fn default() -> Self {
        State {
            flushing: false,
            started: 0,
            finished: 0,
            succeeded: 0,
            error: None,
        }
    }
}

impl<E: Clone> GroupCommit<E> {
    /// Return once everything written before this call is on disk, by
    /// `flush` run here or by another caller. The error of the flush that
    /// was to cover this write, unless a later one succeeded.
    pub(crate) fn commit(&self, flush: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mut s = self.lock();
        // A flush running now may have started before our write: only one
        // started from here on is sure to cover it.
        let ticket = s.started + 1;
        loop {
            if s.succeeded >= ticket {
                return Ok(());
            }
            if s.finished >= ticket
                && let Some(e) = s.error.clone()
            {
                return Err(e);
            }
            if s.flushing {
                s = self
                    .finished
                    .wait(s)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            // Nobody is flushing: this caller flushes for everyone waiting.
            s.flushing = true;
            s.started += 1;
            let number = s.started;
            drop(s);
            // Should `flush` panic, the guard still ends this flush, so the
            // waiters take over instead of waiting for ever.
            let leader = Leader { gc: self, number };
            let result = flush();
            std::mem::forget(leader);
            let mut s = self.lock();
            s.flushing = false;
            s.finished = number;
            match &result {
                Ok(()) => s.succeeded = number,
                Err(e) => s.error = Some(e.clone()),
            }
            self.finished.notify_all();
            // This flush started after our write: its result is ours.
            return result;
        }
    }
}

impl<E> GroupCommit<E> {
    fn lock(&self) -> MutexGuard<'_, State<E>> {
        // A panic elsewhere while holding the lock leaves consistent
        // counters (each is set in one step): keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ends a flush whose closure panicked: not flushing any more, nothing
/// made durable by it.
struct Leader<'a, E> {
    gc: &'a GroupCommit<E>,
    number: u64,
}

impl<E> Drop for Leader<'_, E> {
    fn drop(&mut self) {
        let mut s = self.gc.lock();
        s.flushing = false;
        s.finished = s.finished.max(self.number);
        self.gc.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// Sixteen writers at once: each returns only after a flush that saw
    /// its write, and the flushes are shared.
    #[test]
    fn every_writer_returns_after_a_flush_that_saw_its_write_and_flushes_are_shared() {
        let gc = Arc::new(GroupCommit::<String>::default());
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let writers: Vec<_> = (0..16)
            .map(|_| {
                let (gc, written, durable, flushes, barrier) = (
                    gc.clone(),
                    written.clone(),
                    durable.clone(),
                    flushes.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..10 {
                        let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                        gc.commit(|| {
                            // What this flush makes durable: all writes so far.
                            let seen = written.load(Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            durable.fetch_max(seen, Ordering::SeqCst);
                            flushes.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                        assert!(
                            durable.load(Ordering::SeqCst) >= mine,
                            "write {mine} returned before a flush covered it"
                        );
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let flushes = flushes.load(Ordering::SeqCst);
        assert!(flushes >= 1);
        assert!(
            flushes <= 80,
            "160 writes by 16 writers at once took {flushes} flushes"
        );
    }

    /// Whether a new write succeeds by running a flush of its own.
    fn flushes_anew(gc: &GroupCommit<String>) -> bool {
        let mut ran = false;
        gc.commit(|| {
            ran = true;
            Ok(())
        })
        .is_ok()
            && ran
    }

    /// A flush that panics does not leave the others waiting for ever:
    /// the next writer flushes.
    #[test]
    fn a_panicking_flush_leaves_the_next_writer_able_to_flush() {
        let gc = GroupCommit::<String>::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gc.commit(|| panic!("flush exploded"))
        }));
        assert!(panicked.is_err());
        assert!(flushes_anew(&gc));
    }

    /// A failed flush fails the writers it was to cover, and the next
    /// writer flushes again.
    #[test]
    fn a_failed_flush_is_reported_and_the_next_writer_tries_again() {
        let gc = GroupCommit::<String>::default();
        assert_eq!(
            gc.commit(|| Err("disk full".to_string())),
            Err("disk full".into())
        );
        assert!(
            flushes_anew(&gc),
            "a write after a failure gets a flush of its own"
        );
    }
}
