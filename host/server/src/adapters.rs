//! The server's side of the API's traits: live calls come from the call
//! engine, and a configuration change rebuilds the tenant from the store.

use switchyard_api::{CallEvent, ConfigChanged, LiveCall, LiveCalls};
use switchyard_calls::Pbx;
use switchyard_plugins::PluginHost;
use switchyard_store::{Store, TenantRepo};
use tokio::sync::broadcast;

/// Live calls, hang-up and the event stream, from the call engine.
pub struct LiveAdapter {
    pub pbx: Pbx,
}

impl LiveCalls for LiveAdapter {
    fn list(&self, tenant: &str) -> Vec<LiveCall> {
        self.pbx
            .live_calls(tenant)
            .into_iter()
            .map(|c| LiveCall {
                call_id: c.call_id,
                caller: c.caller,
                callee: c.callee,
                dialled: c.dialled,
                state: c.state.to_string(),
                started_ms: c.started_ms,
                agent: c.agent,
            })
            .collect()
    }

    fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        self.pbx.hangup(tenant, call_id)
    }

    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallEvent> {
        // Re-publish the engine's notices in the API's type.
        let mut from = self.pbx.subscribe(tenant);
        let (tx, rx) = broadcast::channel(256);
        tokio::spawn(async move {
            loop {
                match from.recv().await {
                    Ok(n) => {
                        let e = CallEvent {
                            kind: n.kind.to_string(),
                            call_id: n.call_id,
                            at_ms: n.at_ms,
                            detail: n.detail,
                        };
                        if tx.send(e).is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        rx
    }

    fn click_to_call(&self, tenant: &str, agent: &str, number: &str) -> Result<String, String> {
        self.pbx.click_to_call(tenant, agent, number)
    }
}

/// Rebuilds a tenant's running view after the API changed it.
pub struct Reloader {
    pub store: Store,
    pub host: PluginHost,
    pub pbx: Pbx,
}

impl ConfigChanged for Reloader {
    fn tenant_changed(&self, tenant: &str) {
        match self.store.get_tenant(tenant) {
            Ok(Some(_)) => match crate::tenant_view::load_tenant(&self.store, &self.host, tenant) {
                Ok(t) => self.pbx.upsert_tenant(t),
                Err(e) => tracing::error!(%tenant, error = %e, "tenant not reloaded"),
            },
            Ok(None) => self.pbx.remove_tenant(tenant),
            Err(e) => tracing::error!(%tenant, error = %e, "tenant not reloaded"),
        }
    }
}
