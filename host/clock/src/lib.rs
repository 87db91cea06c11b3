//! The wall clock of the host crates: every timestamp Switchyard stores,
//! shows or compares (call records, registrations, plugin versions, live
//! calls, API objects) is milliseconds since the Unix epoch, read here.
//!
//! Durations and deadlines use `std::time::Instant` instead; this is only
//! for times that leave the process or outlive it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; 0 if the system clock is set before
/// 1970 (never a panic).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_after_2020_and_does_not_go_back() {
        let a = unix_ms();
        assert!(a > 1_577_836_800_000, "{a}");
        assert!(unix_ms() >= a);
    }
}
