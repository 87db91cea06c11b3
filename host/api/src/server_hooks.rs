//! What the API needs from the running server: its live calls and a hook
//! to hear about configuration changes. The API crate owns these traits so
//! that it depends on neither the call engine nor the server.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// A call in progress, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveCall {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// What the caller dialled (a DID, an extension…).
    pub dialled: String,
    /// `routing`, `ringing`, `ivr`, `voicemail` or `answered` (the call
    /// engine's `CallState`).
    pub state: String,
    /// ms since the Unix epoch.
    pub started_ms: u64,
    /// The agent's extension once a queue call is answered.
    pub agent: Option<String>,
}

impl LiveCall {
    /// Whether `extension` takes part in the call (an agent sees only these).
    pub fn involves(&self, extension: &str) -> bool {
        self.caller == extension
            || self.callee == extension
            || self.agent.as_deref() == Some(extension)
    }
}

/// One notice on the tenant's event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallEvent {
    /// The SSE event name: `started`, a state the call entered (`ringing`,
    /// `ivr`, `voicemail`, `answered`), or `ended`.
    pub kind: String,
    pub call_id: String,
    /// ms since the Unix epoch.
    pub at_ms: u64,
    pub detail: Option<String>,
}

/// The server's live calls, per tenant. Every method is tenant-scoped: a
/// call id of another tenant is unknown.
pub trait LiveCalls: Send + Sync {
    fn list(&self, tenant: &str) -> Vec<LiveCall>;
    /// Whether the call existed (and is being hung up).
    fn hangup(&self, tenant: &str, call_id: &str) -> bool;
    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallEvent>;
    /// Ring `agent_extension`, then dial `number`; the new call's id, or
    /// why it could not start.
    fn click_to_call(
        &self,
        tenant: &str,
        agent_extension: &str,
        number: &str,
    ) -> Result<String, String>;
}

/// Told after every configuration change of a tenant, so the server can
/// rebuild its live view (domains, extensions, numbers, plugin runtime).
pub trait ConfigChanged: Send + Sync {
    fn tenant_changed(&self, tenant: &str);
}

/// No calls at all: for tests and a server without a call engine.
pub struct NoLiveCalls;

impl LiveCalls for NoLiveCalls {
    fn list(&self, _: &str) -> Vec<LiveCall> {
        Vec::new()
    }
    fn hangup(&self, _: &str, _: &str) -> bool {
        false
    }
    fn subscribe(&self, _: &str) -> broadcast::Receiver<CallEvent> {
        // The sender is dropped at once: the stream ends immediately.
        broadcast::channel(1).1
    }
    fn click_to_call(&self, _: &str, _: &str, _: &str) -> Result<String, String> {
        Err("no call engine is running".into())
    }
}

/// Ignores changes.
pub struct NoChanges;

impl ConfigChanged for NoChanges {
    fn tenant_changed(&self, _: &str) {}
}
