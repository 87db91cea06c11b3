//! `conference`: CPU per conference participant. The real `switchyard`
//! binary serves the demo tenant (no recording) with a routing rule that
//! sends `8NNN` to room `bench-8NNN`; `--participants` callers (rounded
//! down to whole rooms) join rooms of each size in `--rooms-of`, first
//! with everybody talking, then with one talker per room (the others send
//! µ-law silence, as a muted phone or a quiet listener does). Each
//! configuration is measured for `--step-secs` once its calls are up and
//! the join prompts are over: the server's CPU (share of one core, per
//! participant, and participants per core at that rate), its resident
//! memory, and the mixes the phones receive (50 packets a second each
//! expected). All calls are hung up between configurations.
//!
//! ```text
//! switchyard-bench conference --switchyard PATH
//!     [--rooms-of 3,10,50] [--participants 600] [--step-secs 20]
//!     [--setup-rate 100] [--settle-secs 8] [--ports LOW-HIGH]
//!     [--rtp-ports LOW-HIGH] [--csv FILE]
//! ```
//!
//! A talker's phone sends rtp-load's probe packets: as audio they are loud
//! (their binary header decodes to full-scale samples), so every talker
//! is in the mix. What the phones receive is counted whatever it carries
//! (a mix of one talker is that talker's probe again, byte for byte). The SIP UA, the RTP generator and the CPU counters are
//! `rtp-load`'s; the server's start and the call set-up are `serve`'s.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::rtp_load::cpu;
use crate::rtp_load::sip_ua::{SipCall, SipConfig, SipUa};
use crate::rtp_load::streams::{Generator, PACKET_MS};
use crate::serve::{self, rss_kib};

struct Args {
    run: serve::RunArgs,
    rooms_of: Vec<usize>,
    participants: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: switchyard-bench conference --switchyard PATH [--rooms-of 3,10,50] \
         [--participants 600] [--step-secs 20] [--setup-rate 100] [--settle-secs 8] \
         [--ports LOW-HIGH] [--rtp-ports LOW-HIGH] [--csv FILE]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Args {
    let mut a = Args {
        run: serve::RunArgs::new(8.0),
        rooms_of: vec![3, 10, 50],
        participants: 600,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(v) = it.next() else { usage() };
        match a.run.take(flag, v) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(()) => usage(),
        }
        match flag.as_str() {
            "--rooms-of" => {
                a.rooms_of = v
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--participants" => a.participants = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.run.switchyard.as_os_str().is_empty() || a.rooms_of.iter().any(|k| !(2..=999).contains(k))
    {
        usage();
    }
    a
}

/// The demo tenant without call recording, `8NNN` routed to room
/// `bench-8NNN` (rooms the tenant did not configure: the defaults).
fn tenant_json() -> Value {
    let mut t: Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).expect("demo tenant JSON");
    // Its own features (so on no plan): everything but recording.
    t["recording"] = false.into();
    t.as_object_mut().expect("an object").remove("plan");
    let rules = t["plugins"]["router"]["config"]["routes"]["rules"]
        .as_array_mut()
        .expect("the router's rules");
    rules.insert(
        0,
        json!({"match": "_8XXX", "go": {"conference": "bench-${dialled}"}}),
    );
    t
}

/// Participant `k` of rooms of `size`: its room's number, and whether it
/// is silent (`talkers` per room talk: the first ones in).
fn seat(k: usize, size: usize, talkers: usize) -> (String, bool) {
    (format!("{}", 8000 + k / size), k % size >= talkers)
}

pub fn run(args: &[String]) {
    let args = parse(args);
    let server = match serve::start(
        &args.run.switchyard,
        "conference",
        &tenant_json(),
        args.run.rtp_ports,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conference: {e}");
            std::process::exit(1);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("conference")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(steps(&args, &server));
    rt.shutdown_background();
    drop(server);
    std::process::exit(code);
}

const CSV_HEADER: &str = "room_size,talkers_per_room,participants,participants_up,setup_failed,\
secs,sut_cores,sut_pct_core_per_participant,participants_per_core,rss_mib,rx_pps,\
rx_pps_expected,rx_pct,host_cores,udp_rcvbuf_errors,udp_sndbuf_errors";

async fn steps(args: &Args, server: &serve::Server) -> i32 {
    let pid = server.child.id();
    let ip: IpAddr = [127, 0, 0, 1].into();
    let configurations: Vec<(usize, usize)> = args
        .rooms_of
        .iter()
        .flat_map(|&size| [(size, size), (size, 1)])
        .collect();
    let generator = Arc::new(Generator::new(
        ip,
        args.run.ports,
        // Every configuration's legs are new ones.
        (args.participants + 16) * configurations.len(),
        1,
        tokio::runtime::Handle::current(),
    ));
    let cfg = SipConfig {
        server: server.sip,
        ip,
        domain: "demo.localhost".into(),
        caller: "1001".into(),
        caller_password: "bench-1001".into(),
        callee: "800".into(),
        callee_password: String::new(),
    };
    let ua = match SipUa::start(cfg, generator.clone()).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("conference: SIP sockets: {e}");
            return 1;
        }
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut csv = args.run.csv.as_ref().map(|path| {
        let mut f = std::fs::File::create(path).expect("CSV file");
        writeln!(f, "{CSV_HEADER}").expect("CSV write");
        f
    });
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for (size, talkers) in configurations {
        let want = args.participants / size * size;
        eprintln!(
            "== conference: {want} participants in rooms of {size}, {talkers} talking per room"
        );
        let (calls, failed): (Vec<SipCall>, usize) =
            serve::place_calls(&ua, &generator, want, args.run.setup_rate, |k| {
                seat(k, size, talkers)
            })
            .await;
        tokio::time::sleep(Duration::from_secs_f64(args.run.settle_secs)).await;
        let drops0 = cpu::udp_drops();
        let (c0, h0, r0, t0) = (
            cpu::process_ns(pid),
            cpu::host_idle_secs(),
            generator.received(),
            Instant::now(),
        );
        tokio::time::sleep(Duration::from_secs_f64(args.run.step_secs)).await;
        let (c1, h1, r1, secs) = (
            cpu::process_ns(pid),
            cpu::host_idle_secs(),
            generator.received(),
            t0.elapsed().as_secs_f64(),
        );
        let drops = cpu::udp_drops().since(drops0);
        let up = calls.len();
        let cores = (c1 - c0) as f64 / 1e9 / secs;
        let rx_pps = (r1 - r0) as f64 / secs;
        let expected = up as f64 * 1000.0 / PACKET_MS as f64;
        let per_core = up as f64 / cores.max(1e-9);
        let row = [
            size.to_string(),
            talkers.to_string(),
            want.to_string(),
            up.to_string(),
            failed.to_string(),
            format!("{secs:.1}"),
            format!("{cores:.3}"),
            format!("{:.4}", 100.0 * cores / up.max(1) as f64),
            format!("{per_core:.0}"),
            format!("{:.1}", rss_kib(pid) as f64 / 1024.0),
            format!("{rx_pps:.0}"),
            format!("{expected:.0}"),
            format!("{:.2}", 100.0 * rx_pps / expected.max(1.0)),
            format!("{:.2}", (nproc - (h1 - h0) / secs).max(0.0)),
            drops.rcvbuf_errors.to_string(),
            drops.sndbuf_errors.to_string(),
        ];
        eprintln!(
            "conference: rooms of {size}, {talkers} talking: {up} participants ({failed} failed): \
             server {:.1} % of a core = {:.4} % per participant = {per_core:.0} participants per \
             core; mixes received {rx_pps:.0} packets/s of {expected:.0} ({:.2} %); machine {} \
             cores busy; UDP drops: {} / {}",
            100.0 * cores,
            100.0 * cores / up.max(1) as f64,
            100.0 * rx_pps / expected.max(1.0),
            row[13],
            row[14],
            row[15],
        );
        if let Some(f) = csv.as_mut() {
            writeln!(f, "{}", row.join(",")).expect("CSV write");
        }
        for c in calls {
            generator.stop_stream(c.leg);
            let _ = tokio::time::timeout(Duration::from_secs(2), ua.hangup(c)).await;
        }
        // The rooms empty and close before the next configuration.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    generator.stop();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_fill_rooms_in_turn_and_the_first_ones_talk() {
        assert_eq!(seat(0, 10, 1), ("8000".into(), false));
        assert_eq!(seat(1, 10, 1), ("8000".into(), true));
        assert_eq!(seat(10, 10, 1), ("8001".into(), false));
        assert_eq!(seat(29, 3, 3), ("8009".into(), false));
        let t = tenant_json();
        assert_eq!(
            t["plugins"]["router"]["config"]["routes"]["rules"][0]["go"]["conference"],
            "bench-${dialled}"
        );
        assert_eq!(t["recording"], false);
        assert_eq!(t.get("plan"), None);
    }
}
