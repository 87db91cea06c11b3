//! Every finished call goes to the tenant's CRM connector (`log-call`) —
//! in the background and a few at a time. A CRM that is slow or down
//! must not hold a call's task, nor the tenant's plugin places that its
//! routing decisions need: at most [`AT_ONCE`] log calls run per tenant,
//! at most [`PENDING`] wait, and beyond that a record is not logged (a
//! warning says which call).
//!
//! A queue call an agent answered is logged once the agent has wrapped it
//! up: as soon as they save a disposition code and notes (carried to the
//! CRM as the record's tags `wrap-up:CODE` and `wrap-up-notes:TEXT`), or
//! when their wrap-up time is over without one (then the record goes as
//! it is), and never later than [`WRAP_UP_WAIT_MAX`] after the call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_plugins::PluginFailure;
use switchyard_plugins::types::CallRecord;
use switchyard_store::{Store, WrapUp, WrapUpRepo};
use tokio::sync::{Semaphore, oneshot};

use crate::{Shared, Tenant};

/// Log calls of one tenant running at once.
pub const AT_ONCE: usize = 2;
/// Records of one tenant waiting to be logged, at most.
pub const PENDING: usize = 1_000;

struct TenantLog {
    running: Arc<Semaphore>,
    pending: AtomicUsize,
}

/// Longest a queue call's CRM log waits for its agent's wrap-up.
pub const WRAP_UP_WAIT_MAX: Duration = Duration::from_secs(600);
/// How long past the agent's wrap-up time (or past the call, for an agent
/// with none) a wrap-up being saved is still waited for: the agent's
/// state is changed by the call's end a moment after its record is.
const WRAP_UP_GRACE: Duration = Duration::from_secs(3);

#[derive(Default)]
pub(crate) struct CrmLogs {
    by_tenant: Mutex<HashMap<String, Arc<TenantLog>>>,
    /// Calls whose log waits for a wrap-up: (tenant, call) → the waiter.
    waiting: Mutex<HashMap<(String, String), oneshot::Sender<WrapUp>>>,
}

impl CrmLogs {
    fn of(&self, tenant: &str) -> Arc<TenantLog> {
        self.by_tenant
            .lock()
            .expect("crm logs lock")
            .entry(tenant.to_string())
            .or_insert_with(|| {
                Arc::new(TenantLog {
                    running: Arc::new(Semaphore::new(AT_ONCE)),
                    pending: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    /// A wrap-up was saved: the log of its call goes now, with it.
    pub(crate) fn wrap_up_saved(&self, tenant: &str, call_id: &str, w: &WrapUp) {
        let key = (tenant.to_string(), call_id.to_string());
        if let Some(tx) = self.waiting.lock().expect("crm waiting lock").remove(&key) {
            let _ = tx.send(w.clone());
        }
    }

    fn forget(&self, tenant: &str, call_id: &str) {
        let key = (tenant.to_string(), call_id.to_string());
        self.waiting.lock().expect("crm waiting lock").remove(&key);
    }
}

/// The record as the CRM gets it: with the wrap-up's code and notes as
/// tags.
fn with_wrap_up(mut record: CallRecord, w: Option<WrapUp>) -> CallRecord {
    if let Some(w) = w {
        record.tags.push(format!("wrap-up:{}", w.code));
        if !w.notes.is_empty() {
            record.tags.push(format!("wrap-up-notes:{}", w.notes));
        }
    }
    record
}

/// Wait for the wrap-up of the queue call `record` (see the module).
async fn wait_wrap_up(
    store: &Store,
    queues: Option<Arc<crate::queues::TenantQueues>>,
    tenant: &str,
    record: &CallRecord,
    mut saved: oneshot::Receiver<WrapUp>,
) -> Option<WrapUp> {
    let agent = record.agent.as_deref()?;
    let started = tokio::time::Instant::now();
    let mut until = started + WRAP_UP_GRACE;
    loop {
        // Saved while the call was on, or just now.
        if let Ok(Some(w)) = store.wrap_up(tenant, &record.call_id) {
            return Some(w);
        }
        tokio::select! {
            w = &mut saved => return w.ok(),
            _ = tokio::time::sleep_until(until) => {}
        }
        // Still wrapping up: wait for the end of it.
        let now_ms = switchyard_clock::unix_ms();
        let ends_ms = queues.as_ref().and_then(|q| {
            q.agents()
                .into_iter()
                .find(|(id, _)| id == agent)
                .and_then(|(_, v)| v.wrap_up_ends_ms)
        });
        match ends_ms {
            Some(end) if end > now_ms && started.elapsed() < WRAP_UP_WAIT_MAX => {
                let left = Duration::from_millis(end - now_ms) + WRAP_UP_GRACE;
                until = tokio::time::Instant::now() + left.min(WRAP_UP_WAIT_MAX);
            }
            _ => return store.wrap_up(tenant, &record.call_id).ok().flatten(),
        }
    }
}

/// Log `record` in the tenant's CRM, if it has a connector.
pub(crate) fn log_call(shared: &Shared, tenant: &Arc<Tenant>, record: CallRecord) {
    let log = shared.crm_logs.of(&tenant.id);
    if log.pending.fetch_add(1, Ordering::Relaxed) >= PENDING {
        log.pending.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!(tenant = %tenant.id, call = %record.call_id, "CRM call log backlog full: this call is not logged");
        return;
    }
    let tenant = tenant.clone();
    // A queue call an agent answered waits for the agent's wrap-up.
    let wrap = (record.agent.is_some() && record.queue.is_some()).then(|| {
        let (tx, rx) = oneshot::channel();
        shared
            .crm_logs
            .waiting
            .lock()
            .expect("crm waiting lock")
            .insert((tenant.id.clone(), record.call_id.clone()), tx);
        (rx, shared.store.clone(), shared.queues.get(&tenant.id))
    });
    let logs = shared.crm_logs.clone();
    tokio::spawn(async move {
        let record = match wrap {
            Some((rx, store, queues)) => {
                let w = wait_wrap_up(&store, queues, &tenant.id, &record, rx).await;
                logs.forget(&tenant.id, &record.call_id);
                with_wrap_up(record, w)
            }
            None => record,
        };
        let permit = log.running.clone().acquire_owned().await;
        log.pending.fetch_sub(1, Ordering::Relaxed);
        let Ok(_permit) = permit else { return };
        match tenant.runtime.crm_log_call(&record).await {
            Ok(()) | Err(PluginFailure::NotInstalled(_)) => {}
            Err(f) => {
                tracing::warn!(tenant = %tenant.id, call = %record.call_id, %f, "CRM call log failed")
            }
        }
    });
}
