//! Host capabilities, one module each. Each implements the bindgen `Host`
//! trait of its WIT interface for [`crate::state::PluginState`], always
//! within the invocation's (tenant, plugin) scope.

pub mod config;
pub mod contacts;
pub mod directory;
pub mod http;
pub mod kv;
pub mod log;
pub(crate) mod stdio;

use crate::bindings::switchyard::plugin::{flow_types, queue_types, types};
use crate::state::PluginState;

// Type-only interfaces: nothing to implement, but the linker wants them.
impl types::Host for PluginState {}
impl flow_types::Host for PluginState {}
impl queue_types::Host for PluginState {}
