//! `directory`: a read-only view of the tenant's extensions, ring groups and
//! queues. The call engine implements [`Directory`]; [`InMemoryDirectory`]
//! serves tests and the demo.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::directory::{self, Extension, Host, QueueStatus};
use crate::transcript::{Answer, Ask, taped};

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

/// What one invocation's `directory` import reads: the tenant's directory.
pub(crate) struct DirectoryState {
    directory: Arc<dyn Directory>,
}

impl DirectoryState {
    pub(crate) fn new(directory: Arc<dyn Directory>) -> Self {
        Self { directory }
    }
}

impl Host for Granted<'_, DirectoryState> {
    async fn get_extension(&mut self, number: String) -> wasmtime::Result<Option<Extension>> {
        Ok(taped!(
            self,
            Ask::Extension {
                number: number.clone()
            },
            Answer::Extension,
            self.state("directory")?.directory.extension(&number)
        ))
    }
    async fn ring_group_members(&mut self, name: String) -> wasmtime::Result<Option<Vec<String>>> {
        Ok(taped!(
            self,
            Ask::RingGroup { name: name.clone() },
            Answer::Members,
            self.state("directory")?.directory.ring_group_members(&name)
        ))
    }
    async fn get_queue_status(&mut self, name: String) -> wasmtime::Result<Option<QueueStatus>> {
        Ok(taped!(
            self,
            Ask::QueueStatus { name: name.clone() },
            Answer::Queue,
            self.state("directory")?.directory.queue_status(&name)
        ))
    }
}

/// Links `directory` (0.2.0 and 0.1.0) to the state `get` finds in the store
/// data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, DirectoryState>,
) -> wasmtime::Result<()> {
    directory::add_to_linker::<T, HasCap<DirectoryState>>(l, get)?;
    super::v0_1::add_directory(l, get)
}
