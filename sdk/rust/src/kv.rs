//! Key-value storage scoped to (tenant, plugin): no other plugin or tenant
//! sees these keys. Values are capped in size; keys at 256 bytes.

use crate::bindings::switchyard::plugin::kv as host;
pub use host::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value of `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    host::get(key)
}

/// Store `value` under `key`.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    host::set(key, value)
}

/// Remove `key` (no error if it was missing).
pub fn delete(key: &str) -> Result<(), Error> {
    host::delete(key)
}

/// Atomically add `delta` to the counter `key` (missing counts as 0) and
/// return the new value.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    host::increment(key, delta)
}

/// The value of the counter `key` (0 when missing).
pub fn counter(key: &str) -> Result<i64, Error> {
    host::increment(key, 0)
}

/// Keys starting with `prefix`, sorted, at most `limit`.
pub fn keys(prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
    host::list_keys(prefix, limit)
}

/// A JSON value stored under `key`.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, String> {
    match host::get(key).map_err(|e| format!("kv get {key}: {e:?}"))? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("kv {key} holds invalid JSON: {e}")),
    }
}

/// Store `value` as JSON under `key`.
pub fn set_json<T: Serialize>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| format!("kv {key}: {e}"))?;
    host::set(key, &bytes).map_err(|e| format!("kv set {key}: {e:?}"))
}
