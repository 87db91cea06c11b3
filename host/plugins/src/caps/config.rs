//! `config`: the settings the tenant gave a plugin at install.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::config::{self, Host};

/// What one invocation's `config` import reads: the plugin version's
/// settings (shared, never copied).
pub(crate) struct ConfigState {
    settings: Arc<BTreeMap<String, String>>,
}

impl ConfigState {
    pub(crate) fn new(settings: Arc<BTreeMap<String, String>>) -> Self {
        Self { settings }
    }
}

impl Host for Granted<'_, ConfigState> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.state("config")?.settings.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        // A BTreeMap iterates sorted by key, as the WIT promises.
        Ok(self
            .state("config")?
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// Links `config` (0.2.0 and 0.1.0) to the state `get` finds in the store
/// data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, ConfigState>,
) -> wasmtime::Result<()> {
    config::add_to_linker::<T, HasCap<ConfigState>>(l, get)?;
    super::v0_1::add_config(l, get)
}
