//! Every finished call goes to the tenant's CRM connector (`log-call`) —
//! in the background and a few at a time. A CRM that is slow or down
//! must not hold a call's task, nor the tenant's plugin places that its
//! routing decisions need: at most [`AT_ONCE`] log calls run per tenant,
//! at most [`PENDING`] wait, and beyond that a record is not logged (a
//! warning says which call).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_plugins::PluginFailure;
use switchyard_plugins::types::CallRecord;
use tokio::sync::Semaphore;

use crate::{Shared, Tenant};

/// Log calls of one tenant running at once.
pub const AT_ONCE: usize = 2;
/// Records of one tenant waiting to be logged, at most.
pub const PENDING: usize = 1_000;

struct TenantLog {
    running: Arc<Semaphore>,
    pending: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct CrmLogs {
    by_tenant: Mutex<HashMap<String, Arc<TenantLog>>>,
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
    tokio::spawn(async move {
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
