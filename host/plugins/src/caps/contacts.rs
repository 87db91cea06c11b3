//! `contacts`: "who is calling?", answered by the tenant's active
//! crm-connector plugin, run with its own limits in its own store. Any
//! failure of the connector is `none` to the asking flow.
//!
//! The connector's invocation takes its own slot of the tenant's
//! concurrency cap; when none is free the answer is `none` (never a wait
//! that could deadlock flows holding every slot).

use std::future::Future;
use std::pin::Pin;

use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::contacts::{self, Host};
use crate::bindings::switchyard::plugin::types::Contact;
use crate::transcript::{Answer, Ask, taped};

/// Whoever answers lookups: the tenant runtime, which runs its
/// crm-connector. Any failure is `None`.
pub(crate) trait ContactLookup: Send + Sync {
    /// The contact behind `number`, if the CRM knows one.
    fn lookup(&self, number: String) -> Pin<Box<dyn Future<Output = Option<Contact>> + Send>>;
}

/// What one invocation's `contacts` import reaches: the tenant's lookup.
pub(crate) struct ContactsState {
    crm: Box<dyn ContactLookup>,
}

impl ContactsState {
    pub(crate) fn new(crm: Box<dyn ContactLookup>) -> Self {
        Self { crm }
    }
}

impl Host for Granted<'_, ContactsState> {
    async fn lookup(&mut self, number: String) -> wasmtime::Result<Option<Contact>> {
        // Boxed (by `ContactLookup`): this future runs another invocation,
        // whose future type would otherwise make this one recursive. A
        // crm-connector cannot import `contacts`, so there is no cycle.
        // In a transcript, the answer is what the CRM connector made of
        // its HTTP responses; a replay reaches neither.
        Ok(taped!(
            self,
            Ask::Contact {
                number: number.clone()
            },
            Answer::Contact,
            {
                let fut = self.state("contacts")?.crm.lookup(number);
                fut.await
            }
        ))
    }
}

/// Links `contacts` (0.2.0 and 0.1.0) to the state `get` finds in the store
/// data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, ContactsState>,
) -> wasmtime::Result<()> {
    contacts::add_to_linker::<T, HasCap<ContactsState>>(l, get)?;
    super::v0_1::add_contacts(l, get)
}
