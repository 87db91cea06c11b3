//! What the kernel counts: a process's threads' exact run time from the
//! scheduler (`/proc/<pid>/task/*/schedstat`, nanoseconds, the same source
//! as `bench/run`), children included; the whole machine's busy time; and
//! UDP datagrams dropped (a full receive buffer is loss that is nobody's
//! relay logic — the counters say where it happened).

use std::fs;

/// Run time of `pid`'s threads alive now and, recursively, of its
/// children, in ns (a thread that has ended no longer counts).
pub fn process_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let path = task.path();
        if let Ok(s) = fs::read_to_string(path.join("schedstat")) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = fs::read_to_string(path.join("children")) {
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                total += process_ns(child);
            }
        }
    }
    total
}

/// Sum over `pids`.
pub fn processes_ns(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| process_ns(p)).sum()
}

/// The machine's idle time (idle + iowait, all CPUs) from `/proc/stat`,
/// in seconds. With a tickless idle this is exact, where the busy fields
/// are sampled at the tick and undercount short bursts (this kernel's
/// `CONFIG_TICK_CPU_ACCOUNTING`): busy = wall × CPUs − idle, as
/// `bench/run` computes it. `/proc/stat` counts in USER_HZ, 100 on Linux.
pub fn host_idle_secs() -> f64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    idle as f64 / 100.0
}

/// UDP drop counters of this network namespace (`/proc/net/snmp`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UdpDrops {
    /// Datagrams to a port nobody listens on.
    pub no_ports: u64,
    /// Datagrams dropped because the receiving socket's buffer was full.
    pub rcvbuf_errors: u64,
    pub sndbuf_errors: u64,
}

pub fn udp_drops() -> UdpDrops {
    parse_udp_drops(&fs::read_to_string("/proc/net/snmp").unwrap_or_default())
}

fn parse_udp_drops(snmp: &str) -> UdpDrops {
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return UdpDrops::default();
    };
    let get = |name: &str| {
        names
            .split_whitespace()
            .position(|n| n == name)
            .and_then(|i| values.split_whitespace().nth(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    UdpDrops {
        no_ports: get("NoPorts"),
        rcvbuf_errors: get("RcvbufErrors"),
        sndbuf_errors: get("SndbufErrors"),
    }
}

impl UdpDrops {
    pub fn since(self, before: UdpDrops) -> UdpDrops {
        UdpDrops {
            no_ports: self.no_ports.saturating_sub(before.no_ports),
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(before.rcvbuf_errors),
            sndbuf_errors: self.sndbuf_errors.saturating_sub(before.sndbuf_errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_run_time_grows_while_we_spin() {
        // Spin until the count has grown by 20 ms of run time: how long
        // that takes on the wall clock depends on what else the machine
        // runs (a loaded CI machine gives us a fraction of a core), so the
        // wall clock only bounds the wait.
        // The sum is over the threads alive at each reading: another
        // test's thread that ends in between takes its time with it, so
        // the sum may fall (hence saturating).
        let me = std::process::id();
        let before = process_ns(me);
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while process_ns(me).saturating_sub(before) < 20_000_000 {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(20),
                "spun 20 s of wall time and schedstat counted only {} ns",
                process_ns(me).saturating_sub(before)
            );
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(
            host_idle_secs() > 0.0,
            "the machine has been idle at some point"
        );
    }

    #[test]
    fn udp_drop_counters_are_read_by_name() {
        let snmp = "Ip: Forwarding\nIp: 1\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            Udp: 100 7 40 90 33 2\n\
            UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            UdpLite: 0 0 0 0 0 0\n";
        let d = parse_udp_drops(snmp);
        assert_eq!(
            d,
            UdpDrops {
                no_ports: 7,
                rcvbuf_errors: 33,
                sndbuf_errors: 2
            }
        );
        assert_eq!(
            d.since(UdpDrops {
                no_ports: 5,
                rcvbuf_errors: 40,
                sndbuf_errors: 0
            })
            .no_ports,
            2
        );
        assert_eq!(parse_udp_drops("garbage"), UdpDrops::default());
    }
}
