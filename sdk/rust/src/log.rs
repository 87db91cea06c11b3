//! Logging into the tenant's plugin log (capped in length and rate).
//!
//! `switchyard_sdk::info!("caller {}", n)` and friends format like `format!`.

use crate::bindings::switchyard::plugin::log as host;
pub use host::Level;

/// Write one line at `level`.
pub fn write(level: Level, message: &str) {
    host::log(level, message)
}

/// Log at debug level, formatted like `format!`.
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, &format!($($t)*)) };
}

/// Log at info level, formatted like `format!`.
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, &format!($($t)*)) };
}

/// Log at warn level, formatted like `format!`.
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, &format!($($t)*)) };
}

/// Log at error level, formatted like `format!`.
#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, &format!($($t)*)) };
}
