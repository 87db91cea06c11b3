//! `queue-wait`: callers waiting in a queue with music. The real
//! `switchyard` binary serves a tenant whose queue `support` (extension
//! 600) has `--agents` members, all logged out, so it never serves: every
//! call placed waits, hearing the queue's music and its announcements.
//! The number of waiting callers rises in steps (calls stay up); each
//! step is measured for a while once its calls are up: the server's CPU
//! (share of one core, and per waiting caller), its resident memory
//! (and the growth per caller since the server was idle), and the RTP it
//! sends the callers (packets a second against the 50 a second per
//! caller a phone expects; the machine's UDP drop counters say whether
//! packets missing were lost in a full socket buffer — ours, when this
//! generator gets too little CPU on a busy machine).
//!
//! ```text
//! switchyard-bench queue-wait --switchyard PATH
//!     [--steps 500,1000,2000] [--step-secs 20] [--setup-rate 100]
//!     [--settle-secs 5] [--agents 200] [--ports LOW-HIGH]
//!     [--rtp-ports LOW-HIGH] [--csv FILE]
//! ```
//!
//! Each caller's phone sends RTP too (20 ms PCMU from the rtp-load
//! generator), as a real one does: the server's RTP timeout would end a
//! silent call, and receiving it is part of what a waiting caller costs.
//! The SIP UA, the RTP generator and the CPU counters are `rtp-load`'s.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::rtp_load::cpu;
use crate::rtp_load::sip_ua::{SipCall, SipConfig, SipUa};
use crate::rtp_load::streams::{Generator, PACKET_MS};
use crate::serve::{self, Server, http, rss_kib};

struct Args {
    run: serve::RunArgs,
    steps: Vec<usize>,
    agents: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: switchyard-bench queue-wait --switchyard PATH [--steps 500,1000,2000] \
         [--step-secs 20] [--setup-rate 100] [--settle-secs 5] [--agents 200] \
         [--ports LOW-HIGH] [--rtp-ports LOW-HIGH] [--csv FILE]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Args {
    let mut a = Args {
        run: serve::RunArgs::new(5.0),
        steps: vec![500, 1000, 2000],
        agents: 200,
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
            "--steps" => {
                a.steps = v
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--agents" => a.agents = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.run.switchyard.as_os_str().is_empty()
        || a.steps.is_empty()
        || a.steps.windows(2).any(|w| w[0] >= w[1])
    {
        usage();
    }
    a
}

/// The agents' extensions.
fn agent_numbers(n: usize) -> impl Iterator<Item = String> {
    (2001..2001 + n).map(|x| x.to_string())
}

/// The demo tenant without call recording, with `agents` more extensions
/// that are all `support`'s members.
fn tenant_json(agents: usize) -> Value {
    let mut t: Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).expect("demo tenant JSON");
    // Its own features (so on no plan): everything but recording.
    t["recording"] = false.into();
    t.as_object_mut().expect("an object").remove("plan");
    for x in agent_numbers(agents) {
        let ext = json!({ "number": x, "name": format!("Agent {x}") });
        t["extensions"]
            .as_array_mut()
            .expect("extensions")
            .push(ext);
        t["agents"][&x] = json!({ "skills": ["broadband"] });
    }
    t["queues"]["support"]["members"] = agent_numbers(agents).collect();
    t
}

/// `support` never serves: its agents logged out, room for every caller,
/// no timeout within the run.
fn never_serving(s: &Server, agents: usize) -> Result<(), String> {
    let path = "/api/tenants/demo/queues/support";
    let (status, body) = http(s.http, "GET", path, &s.token, None)?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {body}"));
    }
    let mut q: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    q["max_waiting"] = 100_000.into();
    q["timeout_secs"] = 3600.into();
    if let Some(list) = q["agents"].as_array_mut() {
        for a in list {
            a["logged_in"] = false.into();
        }
    }
    let (status, body) = http(s.http, "PUT", path, &s.token, Some(&q))?;
    if status != 200 {
        return Err(format!("PUT {path}: {status} {body}"));
    }
    for x in agent_numbers(agents) {
        let path = format!("/api/tenants/demo/agents/{x}/state");
        let (status, body) = http(
            s.http,
            "POST",
            &path,
            &s.token,
            Some(&json!({"action": "logout"})),
        )?;
        if status != 200 {
            return Err(format!("POST {path}: {status} {body}"));
        }
    }
    Ok(())
}

pub fn run(args: &[String]) {
    let args = parse(args);
    let tenant = tenant_json(args.agents);
    let server = match serve::start(
        &args.run.switchyard,
        "queue-wait",
        &tenant,
        args.run.rtp_ports,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("queue-wait: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = never_serving(&server, args.agents) {
        eprintln!("queue-wait: setting up the queue: {e}");
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("queue-wait")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(ramp(&args, &server));
    rt.shutdown_background();
    drop(server);
    std::process::exit(code);
}

const CSV_HEADER: &str = "callers,callers_up,setup_failed,secs,sut_cores,sut_pct_core_per_caller,\
rss_mib,rss_idle_mib,rss_kib_per_caller,rx_pps,rx_pps_expected,rx_pct,host_cores,\
udp_rcvbuf_errors,udp_sndbuf_errors";

async fn ramp(args: &Args, server: &Server) -> i32 {
    let pid = server.child.id();
    let max = *args.steps.last().expect("steps");
    let ip: IpAddr = [127, 0, 0, 1].into();
    let generator = Arc::new(Generator::new(
        ip,
        args.run.ports,
        max + 16,
        1,
        tokio::runtime::Handle::current(),
    ));
    let cfg = SipConfig {
        server: server.sip,
        ip,
        domain: "demo.localhost".into(),
        caller: "1001".into(),
        caller_password: "bench-1001".into(),
        callee: "600".into(),
        callee_password: String::new(),
    };
    let ua = match SipUa::start(cfg, generator.clone()).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("queue-wait: SIP sockets: {e}");
            return 1;
        }
    };
    // The idle server's footprint, once start-up work is done.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (c0, t0) = (cpu::process_ns(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_cores = (cpu::process_ns(pid) - c0) as f64 / 1e9 / t0.elapsed().as_secs_f64();
    let rss_idle = rss_kib(pid);
    eprintln!(
        "== queue-wait: idle server: {:.2} % of a core, {:.1} MiB resident",
        100.0 * idle_cores,
        rss_idle as f64 / 1024.0
    );
    let mut csv = args.run.csv.as_ref().map(|path| {
        let mut f = std::fs::File::create(path).expect("CSV file");
        writeln!(f, "{CSV_HEADER}").expect("CSV write");
        f
    });
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut calls: Vec<SipCall> = Vec::new();
    let mut failed_total = 0;
    for &target in &args.steps {
        let want = target.saturating_sub(calls.len());
        eprintln!(
            "== queue-wait: {want} more callers ({} → {target}) at {}/s",
            calls.len(),
            args.run.setup_rate
        );
        let (mut new, failed) =
            serve::place_calls(&ua, &generator, want, args.run.setup_rate, |_| {
                ("600".into(), false)
            })
            .await;
        failed_total += failed;
        calls.append(&mut new);
        tokio::time::sleep(Duration::from_secs_f64(args.run.settle_secs)).await;
        let drops0 = cpu::udp_drops();
        let (c0, h0, r0, t0) = (
            cpu::process_ns(pid),
            cpu::host_idle_secs(),
            generator.non_probes(),
            Instant::now(),
        );
        tokio::time::sleep(Duration::from_secs_f64(args.run.step_secs)).await;
        let (c1, h1, r1, secs) = (
            cpu::process_ns(pid),
            cpu::host_idle_secs(),
            generator.non_probes(),
            t0.elapsed().as_secs_f64(),
        );
        let drops = cpu::udp_drops().since(drops0);
        let up = calls.len();
        let cores = (c1 - c0) as f64 / 1e9 / secs;
        let rss = rss_kib(pid);
        let rx_pps = (r1 - r0) as f64 / secs;
        let expected = up as f64 * 1000.0 / PACKET_MS as f64;
        let row = [
            target.to_string(),
            up.to_string(),
            failed_total.to_string(),
            format!("{secs:.1}"),
            format!("{cores:.3}"),
            format!("{:.4}", 100.0 * cores / up.max(1) as f64),
            format!("{:.1}", rss as f64 / 1024.0),
            format!("{:.1}", rss_idle as f64 / 1024.0),
            format!(
                "{:.1}",
                rss.saturating_sub(rss_idle) as f64 / up.max(1) as f64
            ),
            format!("{rx_pps:.0}"),
            format!("{expected:.0}"),
            format!("{:.2}", 100.0 * rx_pps / expected.max(1.0)),
            format!("{:.2}", (nproc - (h1 - h0) / secs).max(0.0)),
            drops.rcvbuf_errors.to_string(),
            drops.sndbuf_errors.to_string(),
        ];
        eprintln!(
            "queue-wait: {up} callers waiting ({failed_total} failed): server {:.1} % of a core \
             = {:.4} % per caller; RSS {:.1} MiB (+{:.1} KiB per caller); music received \
             {rx_pps:.0} packets/s of {expected:.0} ({:.2} %); machine {} cores busy; UDP \
             drops: {} full receive buffers, {} full send buffers",
            100.0 * cores,
            100.0 * cores / up.max(1) as f64,
            rss as f64 / 1024.0,
            rss.saturating_sub(rss_idle) as f64 / up.max(1) as f64,
            100.0 * rx_pps / expected.max(1.0),
            row[12],
            row[13],
            row[14],
        );
        if let Some(f) = csv.as_mut() {
            writeln!(f, "{}", row.join(",")).expect("CSV write");
        }
        if up < target / 2 {
            eprintln!("== queue-wait: most calls failed, stopping");
            break;
        }
    }
    generator.stop();
    for c in calls {
        let _ = tokio::time::timeout(Duration::from_secs(2), ua.hangup(c)).await;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_has_the_agents_as_members_and_nothing_is_recorded() {
        let t = tenant_json(3);
        assert_eq!(
            t["queues"]["support"]["members"],
            json!(["2001", "2002", "2003"])
        );
        assert_eq!(t["recording"], false);
        assert_eq!(t.get("plan"), None);
        assert_eq!(t["extensions"].as_array().map(Vec::len), Some(3 + 3));
        assert!(t["agents"]["2003"]["skills"].is_array());
    }
}
