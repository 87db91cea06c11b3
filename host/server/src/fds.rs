//! File descriptors: the soft limit is raised to the hard one at start,
//! and the TCP SIP connection cap is sized so that when it is reached the
//! RTP ports and the HTTP API still have descriptors of their own.

/// Descriptors kept for the HTTP API's connections (clients, event
/// streams).
pub const API_RESERVE: u64 = 256;
/// Descriptors the process needs whatever the traffic: the store and
/// plugin kv files, listeners, the runtime, compiled plugins, recordings
/// being written, plugins' outgoing HTTP.
pub const BASE_RESERVE: u64 = 128;

/// Raise the soft descriptor limit to the hard limit; returns the soft
/// limit in force afterwards (`None` when it cannot be read). `libc` is
/// already a dependency of the tree (tokio, wasmtime); the `rlimit` crate
/// would wrap the same two calls.
#[cfg(unix)]
pub fn raise_nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit struct we own. It may be
        // refused (macOS caps the soft limit below an infinite hard one):
        // then the old limit stays, and the caps are sized for it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Some(lim.rlim_cur)
}

#[cfg(not(unix))]
pub fn raise_nofile_limit() -> Option<u64> {
    None
}

/// The TCP connection cap for `configured`, given the descriptor limit
/// `nofile` and the RTP port range (one UDP socket per port), and a
/// warning when the limit is too small for everything.
///
/// When the limit holds the reserves and the RTP range, TCP gets what is
/// left (at most `configured`). When it does not even hold the RTP range,
/// media would run out of descriptors first anyway: TCP then gets a
/// quarter of what the reserves leave, media the rest.
pub fn tcp_connection_cap(
    configured: usize,
    nofile: Option<u64>,
    rtp_ports: (u16, u16),
) -> (usize, Option<String>) {
    let Some(nofile) = nofile else {
        return (configured, None);
    };
    let media = if rtp_ports.0 > 0 && rtp_ports.1 >= rtp_ports.0 {
        u64::from(rtp_ports.1 - rtp_ports.0) + 1
    } else {
        0
    };
    let budget = nofile.saturating_sub(API_RESERVE + BASE_RESERVE);
    let left = budget.saturating_sub(media);
    if left >= configured as u64 {
        return (configured, None);
    }
    let (cap, warning) = if left >= budget / 4 {
        (
            left,
            format!(
                "descriptor limit {nofile}: TCP SIP connections capped at {left} \
                 (not {configured}) to keep {media} for RTP and {} for the API",
                API_RESERVE + BASE_RESERVE
            ),
        )
    } else {
        let cap = budget / 4;
        (
            cap,
            format!(
                "descriptor limit {nofile} is below what the RTP range needs ({media} ports): \
                 TCP SIP connections capped at {cap}, media gets the rest; \
                 raise `ulimit -n` or narrow --rtp-ports"
            ),
        )
    };
    (cap as usize, Some(warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_limit_leaves_the_configured_cap() {
        assert_eq!(
            tcp_connection_cap(2048, Some(1 << 20), (10000, 20000)),
            (2048, None)
        );
        assert_eq!(tcp_connection_cap(2048, None, (10000, 20000)), (2048, None));
    }

    #[test]
    fn the_cap_leaves_room_for_rtp_and_the_api() {
        // 4096 descriptors, 1000 RTP ports: 4096 - 384 - 1000 = 2712 ≥ 2048.
        assert_eq!(tcp_connection_cap(2048, Some(4096), (20000, 20999)).0, 2048);
        // 2048 descriptors: 2048 - 384 - 1000 = 664 for TCP.
        let (cap, warning) = tcp_connection_cap(2048, Some(2048), (20000, 20999));
        assert_eq!(cap, 664);
        assert!(warning.is_some());
        assert!(cap as u64 + 1000 + API_RESERVE + BASE_RESERVE <= 2048);
    }

    #[test]
    fn a_limit_below_the_rtp_range_splits_what_is_left() {
        // The common 1024 with the default 10,001 ports: TCP gets a quarter
        // of 640, and the API reserve is untouched.
        let (cap, warning) = tcp_connection_cap(2048, Some(1024), (10000, 20000));
        assert_eq!(cap, 160);
        assert!(warning.unwrap().contains("ulimit"));
    }

    #[test]
    fn no_media_leaves_all_but_the_reserves() {
        assert_eq!(tcp_connection_cap(2048, Some(1024), (0, 0)).0, 640);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile_limit().expect("getrlimit");
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(soft, lim.rlim_cur);
    }
}
