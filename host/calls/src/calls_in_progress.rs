//! Calls in progress, per tenant, and each tenant's stream of call events
//! (for the API's live view, hang-up and event stream).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{broadcast, mpsc};

use crate::CallMsg;
use crate::session::MonitorMode;
use switchyard_clock::unix_ms;

/// Where a call in progress is; shown by the API as `state` and sent on
/// the event stream as the event's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// The call-flow plugin decides where the call goes.
    Routing,
    /// Targets are being rung.
    Ringing,
    /// The caller waits in a queue.
    Queued,
    /// The host answered the caller to play prompts and gather digits.
    Ivr,
    /// The host answered the caller to take a message.
    Voicemail,
    /// A person answered.
    Answered,
    /// The caller is in a conference room.
    Conference,
}

impl CallState {
    /// The name the API shows: `routing`, `ringing`, `queued`, `ivr`,
    /// `voicemail`, `answered`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallState::Routing => "routing",
            CallState::Ringing => "ringing",
            CallState::Queued => "queued",
            CallState::Ivr => "ivr",
            CallState::Voicemail => "voicemail",
            CallState::Answered => "answered",
            CallState::Conference => "conference",
        }
    }
}

impl std::fmt::Display for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a [`CallNotice`] says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The call appeared (`started`).
    Started,
    /// The call entered this state (named as the state).
    Entered(CallState),
    /// The call is over and its record stored (`ended`).
    Ended,
    /// A queue offers the call to an agent (their screen pop): the detail
    /// is JSON with the agent, the queue, the wait, the tags, the caller
    /// and the CRM contact.
    Offered,
    /// An agent entered a state (`agent-available`, `agent-paused`…); the
    /// call id is empty, the detail is the agent and the reason.
    Agent(&'static str),
    /// Something in a conference room (`conference-joined`, `-left`,
    /// `-muted`, `-unmuted`, `-talking`, `-silent`, `-ended`): the detail
    /// is JSON with the room and the caller.
    Conference(&'static str),
    /// A supervisor started monitoring, switched mode or left
    /// (`monitoring`): the detail is JSON with the supervisor, the agent
    /// and the mode (`null` once they left).
    Monitoring,
}

impl NoticeKind {
    /// The event name on the API's stream.
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Started => "started",
            NoticeKind::Entered(state) => state.as_str(),
            NoticeKind::Ended => "ended",
            NoticeKind::Offered => "offered",
            NoticeKind::Agent(name) => name,
            NoticeKind::Monitoring => "monitoring",
            NoticeKind::Conference(name) => name,
        }
    }
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCallInfo {
    pub call_id: String,
    pub tenant: String,
    pub caller: String,
    pub callee: String,
    pub dialled: String,
    pub state: CallState,
    pub started_ms: u64,
    pub agent: Option<String>,
    /// Supervisors on the call now: (supervisor, agent, mode).
    pub monitors: Vec<(String, String, MonitorMode)>,
}

/// One event of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallNotice {
    pub kind: NoticeKind,
    pub call_id: String,
    pub at_ms: u64,
    pub detail: Option<String>,
}

struct Entry {
    info: LiveCallInfo,
    task: mpsc::UnboundedSender<CallMsg>,
    /// Extensions whose phones ring for the call (what a pickup takes).
    ringing: Vec<String>,
}

/// The calls in progress of every tenant, and each tenant's event
/// broadcast.
#[derive(Default)]
pub struct CallsInProgress {
    calls: Mutex<HashMap<String, Entry>>,
    streams: Mutex<HashMap<String, broadcast::Sender<CallNotice>>>,
}

impl CallsInProgress {
    pub(crate) fn start(&self, info: LiveCallInfo, task: mpsc::UnboundedSender<CallMsg>) {
        self.notify(&info.tenant, NoticeKind::Started, &info.call_id, None);
        self.calls.lock().expect("calls in progress lock").insert(
            info.call_id.clone(),
            Entry {
                info,
                task,
                ringing: Vec::new(),
            },
        );
    }

    pub(crate) fn update(&self, call_id: &str, state: CallState, agent: Option<&str>) {
        let tenant = {
            let mut calls = self.calls.lock().expect("calls in progress lock");
            let Some(e) = calls.get_mut(call_id) else {
                return;
            };
            e.info.state = state;
            if let Some(a) = agent {
                e.info.agent = Some(a.to_string());
            }
            e.info.tenant.clone()
        };
        self.notify(
            &tenant,
            NoticeKind::Entered(state),
            call_id,
            agent.map(str::to_string),
        );
    }

    pub(crate) fn end(&self, call_id: &str, detail: Option<String>) {
        let gone = self
            .calls
            .lock()
            .expect("calls in progress lock")
            .remove(call_id);
        if let Some(e) = gone {
            self.notify(&e.info.tenant, NoticeKind::Ended, call_id, detail);
        }
    }

    pub(crate) fn notify(
        &self,
        tenant: &str,
        kind: NoticeKind,
        call_id: &str,
        detail: Option<String>,
    ) {
        if let Some(tx) = self
            .streams
            .lock()
            .expect("calls in progress lock")
            .get(tenant)
        {
            let _ = tx.send(CallNotice {
                kind,
                call_id: call_id.to_string(),
                at_ms: unix_ms(),
                detail,
            });
        }
    }

    pub fn list(&self, tenant: &str) -> Vec<LiveCallInfo> {
        let mut v: Vec<LiveCallInfo> = self
            .calls
            .lock()
            .expect("calls in progress lock")
            .values()
            .filter(|e| e.info.tenant == tenant)
            .map(|e| e.info.clone())
            .collect();
        v.sort_by_key(|c| c.started_ms);
        v
    }

    /// The extensions ringing for `call_id` now.
    pub(crate) fn set_ringing(&self, call_id: &str, ringing: Vec<String>) {
        if let Some(e) = self
            .calls
            .lock()
            .expect("calls in progress lock")
            .get_mut(call_id)
        {
            e.ringing = ringing;
        }
    }

    /// A supervisor started monitoring `agent` on `call_id`, switched
    /// mode, or (`None`) left: shown in the live view and sent on the
    /// stream.
    pub(crate) fn monitoring(
        &self,
        call_id: &str,
        supervisor: &str,
        agent: &str,
        mode: Option<MonitorMode>,
    ) {
        let tenant = {
            let mut calls = self.calls.lock().expect("calls in progress lock");
            let Some(e) = calls.get_mut(call_id) else {
                return;
            };
            let m = &mut e.info.monitors;
            m.retain(|(s, _, _)| s != supervisor);
            if let Some(mode) = mode {
                m.push((supervisor.to_string(), agent.to_string(), mode));
            }
            e.info.tenant.clone()
        };
        let detail = serde_json::json!({
            "supervisor": supervisor,
            "agent": agent,
            "mode": mode.map(MonitorMode::as_str),
        });
        self.notify(
            &tenant,
            NoticeKind::Monitoring,
            call_id,
            Some(detail.to_string()),
        );
    }

    /// The oldest answered call of `tenant` that extension `ext` talks
    /// in (as the caller or the party who answered): its task.
    pub(crate) fn answered_with(
        &self,
        tenant: &str,
        ext: &str,
    ) -> Option<mpsc::UnboundedSender<CallMsg>> {
        let calls = self.calls.lock().expect("calls in progress lock");
        calls
            .values()
            .filter(|e| e.info.tenant == tenant && e.info.state == CallState::Answered)
            .filter(|e| e.info.caller == ext || e.info.agent.as_deref() == Some(ext))
            .min_by_key(|e| e.info.started_ms)
            .map(|e| e.task.clone())
    }

    /// The oldest call of `tenant` ringing one of `extensions`: its task,
    /// and which extension.
    pub(crate) fn ringing_one_of(
        &self,
        tenant: &str,
        extensions: &[String],
    ) -> Option<(mpsc::UnboundedSender<CallMsg>, String)> {
        let calls = self.calls.lock().expect("calls in progress lock");
        calls
            .values()
            .filter(|e| e.info.tenant == tenant)
            .filter_map(|e| {
                let ext = e.ringing.iter().find(|r| extensions.contains(r))?;
                Some((e.info.started_ms, e.task.clone(), ext.clone()))
            })
            .min_by_key(|(started, _, _)| *started)
            .map(|(_, task, ext)| (task, ext))
    }

    pub fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        self.send(tenant, call_id, CallMsg::Hangup)
    }

    /// Tell call `call_id` of `tenant` something; false when there is no
    /// such call.
    pub(crate) fn send(&self, tenant: &str, call_id: &str, msg: CallMsg) -> bool {
        let calls = self.calls.lock().expect("calls in progress lock");
        match calls.get(call_id) {
            Some(e) if e.info.tenant == tenant => e.task.send(msg).is_ok(),
            _ => false,
        }
    }

    pub fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallNotice> {
        self.streams
            .lock()
            .expect("calls in progress lock")
            .entry(tenant.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }
}
