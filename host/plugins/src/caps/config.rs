//! `config`: the settings the tenant gave a plugin at install.

use crate::bindings::switchyard::plugin::config::Host;
use crate::state::PluginState;

impl Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.plugin.config.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        // A BTreeMap iterates sorted by key, as the WIT promises.
        Ok(self
            .plugin
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
