//! `directory`: a read-only view of the tenant's extensions, ring groups and
//! queues. The call engine implements [`Directory`]; [`InMemoryDirectory`]
//! serves tests and the demo.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::bindings::switchyard::plugin::directory::{Extension, Host, QueueStatus};
use crate::state::PluginState;

/// The tenant's directory as plugins see it. Implementations answer for the
/// one tenant they were created for.
pub trait Directory: Send + Sync {
    /// An extension by number.
    fn extension(&self, number: &str) -> Option<Extension>;
    /// Members of a ring group, in ring order.
    fn ring_group_members(&self, name: &str) -> Option<Vec<String>>;
    /// Live status of a queue.
    fn queue_status(&self, name: &str) -> Option<QueueStatus>;
}

/// A directory kept in memory.
#[derive(Default)]
pub struct InMemoryDirectory {
    extensions: RwLock<HashMap<String, Extension>>,
    ring_groups: RwLock<HashMap<String, Vec<String>>>,
    queues: RwLock<HashMap<String, QueueStatus>>,
}

impl InMemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds or replaces an extension.
    pub fn put_extension(&self, ext: Extension) {
        self.extensions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ext.number.clone(), ext);
    }
    /// Adds or replaces a ring group.
    pub fn put_ring_group(&self, name: &str, members: Vec<String>) {
        self.ring_groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), members);
    }
    /// Adds or replaces a queue's status.
    pub fn put_queue(&self, status: QueueStatus) {
        self.queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(status.name.clone(), status);
    }
}

impl Directory for InMemoryDirectory {
    fn extension(&self, number: &str) -> Option<Extension> {
        self.extensions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(number)
            .cloned()
    }
    fn ring_group_members(&self, name: &str) -> Option<Vec<String>> {
        self.ring_groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
    fn queue_status(&self, name: &str) -> Option<QueueStatus> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

impl Host for PluginState {
    async fn get_extension(&mut self, number: String) -> wasmtime::Result<Option<Extension>> {
        Ok(self.tenant.directory().extension(&number))
    }
    async fn ring_group_members(&mut self, name: String) -> wasmtime::Result<Option<Vec<String>>> {
        Ok(self.tenant.directory().ring_group_members(&name))
    }
    async fn get_queue_status(&mut self, name: String) -> wasmtime::Result<Option<QueueStatus>> {
        Ok(self.tenant.directory().queue_status(&name))
    }
}
