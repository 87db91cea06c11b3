//! Call records written by one thread, in batches.
//!
//! A record must be on disk before the call's parties see its end (the
//! store's promise: what was written before a crash is there after it).
//! Each call used to take a blocking-pool thread that wrote its record and
//! waited for a flush shared with the calls ending at the same moment. Here
//! one thread takes every record waiting, writes them in one batch with one
//! flush ([`CdrRepo::insert_cdrs`]) and tells each call how its record
//! fared. A flush starts at most every [`MIN_FLUSH_INTERVAL`]: in this VM a
//! sled flush costs milliseconds of CPU in the kernel's writeback, and at
//! 800 call setups a second unbounded group commit flushed hundreds of
//! times a second (bench/RESULTS.md §1). A call's end waits that much
//! longer at most; its parties are told once its record is durable.

use std::thread::JoinHandle;

use switchyard_store::{Cdr, CdrRepo, Store};
use tokio::sync::{mpsc, oneshot};

/// One record on its way, and who waits for it.
struct Pending {
    cdr: Cdr,
    done: oneshot::Sender<Result<(), String>>,
}

/// The writer's end that calls hold. Dropping it ends the thread once it
/// has written what was already sent, and waits for that, so that the
/// store is closed when the host is.
pub(crate) struct CdrLog {
    tx: Option<mpsc::UnboundedSender<Pending>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for CdrLog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Records written in one batch at most: bounds the batch's memory and
/// the wait of its first caller.
const MAX_BATCH: usize = 512;

/// A flush starts at most this often: records arriving meanwhile wait and
/// share the next one.
const MIN_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

impl CdrLog {
    /// Starts the writer thread on `store`.
    pub(crate) fn start(store: Store) -> CdrLog {
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            // Linux keeps 15 bytes of a thread's name.
            .name("sy-cdr-log".into())
            .spawn(move || write_batches(store, rx))
            .inspect_err(|e| tracing::error!(error = %e, "call record writer not started"))
            .ok();
        CdrLog {
            tx: Some(tx),
            thread,
        }
    }

    /// Writes `cdr`; returns once it is on disk, or why it is not.
    pub(crate) async fn write(&self, cdr: Cdr) -> Result<(), String> {
        let (done, written) = oneshot::channel();
        self.tx
            .as_ref()
            .expect("only dropped with the log")
            .send(Pending { cdr, done })
            .map_err(|_| "the call record writer has stopped".to_string())?;
        written
            .await
            .unwrap_or_else(|_| Err("the call record writer has stopped".into()))
    }
}

fn write_batches(store: Store, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_flush: Option<std::time::Instant> = None;
    while let Some(first) = rx.blocking_recv() {
        if let Some(at) = last_flush {
            let since = at.elapsed();
            if since < MIN_FLUSH_INTERVAL {
                std::thread::sleep(MIN_FLUSH_INTERVAL - since);
            }
        }
        last_flush = Some(std::time::Instant::now());
        batch.push(first);
        while batch.len() < MAX_BATCH
            && let Ok(p) = rx.try_recv()
        {
            batch.push(p);
        }
        let cdrs: Vec<Cdr> = batch.iter().map(|p| p.cdr.clone()).collect();
        match store.insert_cdrs(&cdrs) {
            Ok(results) => {
                for (p, r) in batch.drain(..).zip(results) {
                    let _ = p.done.send(r.map_err(|e| e.to_string()));
                }
            }
            Err(e) => {
                let e = e.to_string();
                for p in batch.drain(..) {
                    let _ = p.done.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr(id: &str, tenant: &str) -> Cdr {
        let mut c = crate::rating::tests::cdr("internal", None, vec![]);
        c.id = id.into();
        c.tenant = tenant.into();
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_written_at_once_are_all_on_disk_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let log = std::sync::Arc::new(CdrLog::start(store.clone()));
        let mut writes = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            writes.push(tokio::spawn(async move {
                log.write(cdr(&format!("c{i}"), "acme")).await
            }));
        }
        let bad = log.write(cdr("a/b", "acme")).await;
        for w in writes {
            w.await.unwrap().unwrap();
        }
        assert!(bad.unwrap_err().contains("id"), "the bad record is refused");
        drop(log);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let page = store
            .query_cdrs(
                "acme",
                &switchyard_store::CdrFilter {
                    limit: 1000,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(page.rows.len(), 200, "every record survives a reopen");
    }
}
