//! `contacts`: "who is calling?", answered by the tenant's active
//! crm-connector plugin, run with its own limits in its own store. Any
//! failure of the connector is `none` to the asking flow.
//!
//! The connector's invocation takes its own slot of the tenant's
//! concurrency cap; when none is free the answer is `none` (never a wait
//! that could deadlock flows holding every slot).

use crate::bindings::switchyard::plugin::contacts::Host;
use crate::bindings::switchyard::plugin::types::Contact;
use crate::state::PluginState;

impl Host for PluginState {
    async fn lookup(&mut self, number: String) -> wasmtime::Result<Option<Contact>> {
        let tenant = self.tenant.clone();
        // Boxed: this future runs another invocation (which has its own
        // future type), so the type would otherwise be recursive. A
        // crm-connector cannot import `contacts`, so there is no cycle.
        let fut: std::pin::Pin<Box<dyn Future<Output = Option<Contact>> + Send>> =
            Box::pin(async move { tenant.crm_lookup(&number).await });
        Ok(fut.await)
    }
}
