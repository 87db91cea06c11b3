//! Read-only view of the tenant's directory: extensions, ring groups, queues.

use crate::bindings::switchyard::plugin::directory as host;
pub use host::{Extension, QueueStatus};

/// The extension `number`, if the tenant has it.
pub fn extension(number: &str) -> Option<Extension> {
    host::get_extension(number)
}

/// Member extensions of a ring group, in ring order.
pub fn ring_group_members(name: &str) -> Option<Vec<String>> {
    host::ring_group_members(name)
}

/// Live status of a queue (waiting callers, available agents, waits).
pub fn queue_status(name: &str) -> Option<QueueStatus> {
    host::get_queue_status(name)
}
