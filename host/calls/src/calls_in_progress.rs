//! Calls in progress, per tenant, and each tenant's stream of call events
//! (for the API's live view, hang-up and event stream).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{broadcast, mpsc};

use crate::{CallMsg, now_ms};

/// A call in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCallInfo {
    pub call_id: String,
    pub tenant: String,
    pub caller: String,
    pub callee: String,
    pub dialled: String,
    /// `routing`, `ringing`, `answered`.
    pub state: &'static str,
    pub started_ms: u64,
    pub agent: Option<String>,
}

/// One event of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallNotice {
    /// `started`, `ringing`, `answered`, `ended`.
    pub kind: &'static str,
    pub call_id: String,
    pub at_ms: u64,
    pub detail: Option<String>,
}

struct Entry {
    info: LiveCallInfo,
    task: mpsc::UnboundedSender<CallMsg>,
}

/// The registry.
#[derive(Default)]
pub struct Live {
    calls: Mutex<HashMap<String, Entry>>,
    streams: Mutex<HashMap<String, broadcast::Sender<CallNotice>>>,
}

impl Live {
    pub(crate) fn start(&self, info: LiveCallInfo, task: mpsc::UnboundedSender<CallMsg>) {
        self.notify(&info.tenant, "started", &info.call_id, None);
        self.calls
            .lock()
            .expect("live lock")
            .insert(info.call_id.clone(), Entry { info, task });
    }

    pub(crate) fn update(&self, call_id: &str, state: &'static str, agent: Option<&str>) {
        let tenant = {
            let mut calls = self.calls.lock().expect("live lock");
            let Some(e) = calls.get_mut(call_id) else {
                return;
            };
            e.info.state = state;
            if let Some(a) = agent {
                e.info.agent = Some(a.to_string());
            }
            e.info.tenant.clone()
        };
        self.notify(&tenant, state, call_id, agent.map(str::to_string));
    }

    pub(crate) fn end(&self, call_id: &str, detail: Option<String>) {
        let gone = self.calls.lock().expect("live lock").remove(call_id);
        if let Some(e) = gone {
            self.notify(&e.info.tenant, "ended", call_id, detail);
        }
    }

    fn notify(&self, tenant: &str, kind: &'static str, call_id: &str, detail: Option<String>) {
        if let Some(tx) = self.streams.lock().expect("live lock").get(tenant) {
            let _ = tx.send(CallNotice {
                kind,
                call_id: call_id.to_string(),
                at_ms: now_ms(),
                detail,
            });
        }
    }

    pub fn list(&self, tenant: &str) -> Vec<LiveCallInfo> {
        let mut v: Vec<LiveCallInfo> = self
            .calls
            .lock()
            .expect("live lock")
            .values()
            .filter(|e| e.info.tenant == tenant)
            .map(|e| e.info.clone())
            .collect();
        v.sort_by_key(|c| c.started_ms);
        v
    }

    pub fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        let calls = self.calls.lock().expect("live lock");
        match calls.get(call_id) {
            Some(e) if e.info.tenant == tenant => e.task.send(CallMsg::Hangup).is_ok(),
            _ => false,
        }
    }

    pub fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallNotice> {
        self.streams
            .lock()
            .expect("live lock")
            .entry(tenant.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }
}
