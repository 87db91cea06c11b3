//! Typed state between the events of one call.
//!
//! The host hands back, with every event, the bytes the plugin returned with
//! its previous decision. These helpers keep them as JSON of your own type:
//!
//! ```no_run
//! #[derive(serde::Serialize, serde::Deserialize, Default)]
//! struct Menu { node: String, retries: u8 }
//! # fn f(state: Option<Vec<u8>>) -> Result<(), String> {
//! let mut menu: Menu = switchyard_sdk::state::load(state)?;
//! menu.retries += 1;
//! let bytes = switchyard_sdk::state::save(&menu)?;
//! # let _ = bytes; Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decode the state; `T::default()` when there is none (first event).
pub fn load<T: DeserializeOwned + Default>(state: Option<Vec<u8>>) -> Result<T, String> {
    match state {
        None => Ok(T::default()),
        Some(bytes) if bytes.is_empty() => Ok(T::default()),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("state does not decode: {e}"))
        }
    }
}

/// Encode the state for the next event.
pub fn save<T: Serialize>(state: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(state).map_err(|e| format!("state does not encode: {e}"))
}
