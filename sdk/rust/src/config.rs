//! The plugin's settings, as the tenant configured them for this plugin.
//!
//! Settings are strings; structured configuration is usually one JSON
//! setting read with [`json`].

use crate::bindings::switchyard::plugin::config as host;
use serde::de::DeserializeOwned;

/// One setting, if set.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// One setting, or `default` when it is not set.
pub fn get_or(key: &str, default: &str) -> String {
    host::get(key).unwrap_or_else(|| default.to_string())
}

/// Every setting, sorted by key.
pub fn all() -> Vec<(String, String)> {
    host::get_all()
}

/// A setting parsed with `FromStr`; `Ok(None)` when not set, `Err` naming
/// the key when it does not parse.
pub fn parse<T: std::str::FromStr>(key: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    match host::get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| format!("setting `{key}`: {e}")),
    }
}

/// A setting holding JSON, deserialized; `Ok(None)` when not set, `Err`
/// naming the key and the JSON error when it does not fit `T`.
pub fn json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, String> {
    match host::get(key) {
        None => Ok(None),
        Some(v) => from_json(key, &v).map(Some),
    }
}

/// Deserialize `text` as the JSON setting `key` (exposed for plugins that
/// unit-test their configuration natively).
pub fn from_json<T: DeserializeOwned>(key: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("setting `{key}` is not valid: {e}"))
}
