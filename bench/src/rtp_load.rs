//! `rtp-load`: the media relay benchmark. N concurrent calls, each
//! carrying G.711 PCMU RTP both ways (20 ms packets, 50 a second each
//! way), relayed by the system under test between two of our sockets; the
//! number of calls rises in steps, and each step is measured for a while
//! once all its calls are up.
//!
//! ```text
//! switchyard-bench rtp-load --mode switchyard --server ADDR      # SIP through Switchyard
//! switchyard-bench rtp-load --mode rtpengine --ng ADDR           # rtpengine's ng protocol
//! switchyard-bench rtp-load --mode direct                        # no relay: the harness floor
//!     [--steps 100,250,500] [--step-secs 20] [--setup-rate 100] [--settle-secs 3]
//!     [--sut-pid PID[,PID]] [--csv FILE] [--system NAME] [--ports LOW-HIGH]
//!     [--tx-threads 1] [--rx-threads 1] [--max-calls N] [--keep-going]
//!     [--domain D --caller 1001 --callee 1002]   # passwords bench-<extension>
//! ```
//!
//! Calls stay up from one step to the next (a step adds calls). Per step:
//! packets sent and received in the window, loss (overall, streams with
//! any, worst stream), duplicates, reordered and late (> 60 ms) packets,
//! RFC 3550 jitter of the path and of our own pacing, transit-time
//! percentiles, and the CPU of the system under test (`--sut-pid`) and of
//! this generator from the scheduler's run time, and of the machine (from
//! its idle time). The ramp stops after the first step with any packet
//! lost or later than 60 ms, with the machine's cores ≥ 95 % busy, or
//! where the generator sent under 98 % of the packets its schedule asked
//! for (unless `--keep-going`).

pub(crate) mod cpu;
mod hist;
mod ng;
pub(crate) mod sip_ua;
pub(crate) mod streams;

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use ng::NgClient;
use sip_ua::{SipCall, SipConfig, SipUa, sdp_media_addr, sdp_offer};
use streams::{Generator, WindowStats};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Switchyard,
    Rtpengine,
    Direct,
}

struct Args {
    mode: Mode,
    server: SocketAddr,
    ng: SocketAddr,
    steps: Vec<usize>,
    step_secs: f64,
    setup_rate: f64,
    settle_secs: f64,
    sut_pids: Vec<u32>,
    csv: Option<String>,
    system: String,
    ip: IpAddr,
    ports: (u16, u16),
    tx_threads: usize,
    rx_threads: usize,
    max_calls: usize,
    keep_going: bool,
    domain: String,
    caller: String,
    callee: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: switchyard-bench rtp-load --mode switchyard|rtpengine|direct \
         [--server ADDR] [--ng ADDR] [--steps N,N,..] [--step-secs S] [--setup-rate R] \
         [--settle-secs S] [--sut-pid PID[,PID]] [--csv FILE] [--system NAME] \
         [--ports LOW-HIGH] [--tx-threads N] [--rx-threads N] [--max-calls N] [--keep-going] \
         [--domain D] [--caller EXT] [--callee EXT]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Args {
    let mut a = Args {
        mode: Mode::Direct,
        server: "127.0.0.1:5060".parse().expect("address"),
        ng: "127.0.0.1:2223".parse().expect("address"),
        steps: vec![100, 250, 500, 1000, 1500, 2000],
        step_secs: 20.0,
        setup_rate: 100.0,
        settle_secs: 3.0,
        sut_pids: Vec::new(),
        csv: None,
        system: String::new(),
        ip: "127.0.0.1".parse().expect("address"),
        ports: (10000, 19999),
        tx_threads: 1,
        rx_threads: 1,
        max_calls: 0,
        keep_going: false,
        domain: "demo.localhost".into(),
        caller: "1001".into(),
        callee: "1002".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--keep-going" {
            a.keep_going = true;
            continue;
        }
        let Some(v) = it.next() else { usage() };
        let num = |v: &str| v.parse::<f64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--mode" => {
                a.mode = match v.as_str() {
                    "switchyard" => Mode::Switchyard,
                    "rtpengine" => Mode::Rtpengine,
                    "direct" => Mode::Direct,
                    _ => usage(),
                }
            }
            "--server" => a.server = v.parse().unwrap_or_else(|_| usage()),
            "--ng" => a.ng = v.parse().unwrap_or_else(|_| usage()),
            "--steps" => {
                a.steps = v
                    .split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--step-secs" => a.step_secs = num(v),
            "--setup-rate" => a.setup_rate = num(v).max(1.0),
            "--settle-secs" => a.settle_secs = num(v),
            "--sut-pid" => {
                a.sut_pids = v
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--csv" => a.csv = Some(v.clone()),
            "--system" => a.system = v.clone(),
            "--ip" => a.ip = v.parse().unwrap_or_else(|_| usage()),
            "--ports" => {
                let (lo, hi) = v.split_once('-').unwrap_or_else(|| usage());
                a.ports = (
                    lo.parse().unwrap_or_else(|_| usage()),
                    hi.parse().unwrap_or_else(|_| usage()),
                );
            }
            "--tx-threads" => a.tx_threads = num(v) as usize,
            "--rx-threads" => a.rx_threads = num(v) as usize,
            "--max-calls" => a.max_calls = num(v) as usize,
            "--domain" => a.domain = v.clone(),
            "--caller" => a.caller = v.clone(),
            "--callee" => a.callee = v.clone(),
            _ => usage(),
        }
    }
    if a.steps.is_empty() || a.steps.windows(2).any(|w| w[0] >= w[1]) {
        eprintln!("--steps must rise");
        usage();
    }
    if a.max_calls == 0 {
        a.max_calls = *a.steps.last().expect("steps");
    }
    if a.system.is_empty() {
        a.system = format!("{:?}", a.mode).to_lowercase();
    }
    a
}

/// How calls are set up and torn down.
enum Control {
    Sip(Arc<SipUa>),
    Ng(Arc<NgClient>),
    Direct,
}

enum Call {
    Sip(SipCall),
    Ng { call_id: String, from_tag: String },
    Direct,
}

impl Control {
    async fn call(&self, generator: &Generator, n: usize) -> Result<Call, String> {
        match self {
            Control::Sip(ua) => ua.call(generator).await.map(Call::Sip),
            Control::Direct => {
                let a = generator.open().map_err(|e| e.to_string())?;
                let b = generator.open().map_err(|e| e.to_string())?;
                let (a_addr, b_addr) = (a.local, b.local);
                generator.start(a, b_addr);
                generator.start(b, a_addr);
                Ok(Call::Direct)
            }
            Control::Ng(client) => {
                let a = generator.open().map_err(|e| e.to_string())?;
                let b = generator.open().map_err(|e| e.to_string())?;
                let call_id = format!("sy-media-{}-{n}", std::process::id());
                let (from_tag, to_tag) = (format!("a{n}"), format!("b{n}"));
                let for_b = client
                    .offer(&call_id, &from_tag, &sdp_offer(a.local, n as u64))
                    .await?;
                let for_a = client
                    .answer(&call_id, &from_tag, &to_tag, &sdp_offer(b.local, n as u64))
                    .await?;
                let b_to = sdp_media_addr(&for_b).ok_or("offer reply without media")?;
                let a_to = sdp_media_addr(&for_a).ok_or("answer reply without media")?;
                generator.start(a, a_to);
                generator.start(b, b_to);
                Ok(Call::Ng { call_id, from_tag })
            }
        }
    }

    async fn hangup(&self, call: Call) -> Result<(), String> {
        match (self, call) {
            (Control::Sip(ua), Call::Sip(c)) => ua.hangup(c).await,
            (Control::Ng(client), Call::Ng { call_id, from_tag }) => {
                client.delete(&call_id, &from_tag).await
            }
            _ => Ok(()),
        }
    }
}

/// One step's figures, as a CSV line.
struct Row {
    calls: usize,
    calls_up: usize,
    setup_failed: usize,
    secs: f64,
    w: WindowStats,
    sut_cores: f64,
    gen_cores: f64,
    host_cores: f64,
    remote_byes: u64,
    drops: cpu::UdpDrops,
}

const CSV_HEADER: &str = "system,calls,calls_up,setup_failed,secs,streams,sent,received,lost,loss_pct,\
streams_with_loss,max_stream_loss_pct,duplicates,reordered,late,jitter_path_us,jitter_path_max_us,\
jitter_rtp_us,jitter_send_us,transit_p50_us,transit_p99_us,transit_p999_us,transit_max_us,\
lateness_p50_us,lateness_p99_us,lateness_max_us,send_errors,foreign,garbage,remote_byes,\
sut_cores,gen_cores,host_cores,sut_us_per_call,calls_per_sut_core,udp_rcvbuf_errors,udp_no_ports,\
paced_pct";

impl Row {
    /// Packets sent in the window as a share of what the schedule asked
    /// for (every leg of every call up, 50 a second): under ~98 % the
    /// generator itself could not keep the pace, and the step says more
    /// about the machine than about the relay.
    fn paced_pct(&self) -> f64 {
        let due = 2.0 * self.calls_up as f64 * self.secs * 1000.0 / streams::PACKET_MS as f64;
        if due <= 0.0 {
            0.0
        } else {
            100.0 * self.w.sent as f64 / due
        }
    }

    fn loss_pct(&self) -> f64 {
        if self.w.sent == 0 {
            0.0
        } else {
            100.0 * self.w.lost as f64 / self.w.sent as f64
        }
    }

    /// CPU of the system under test per relayed call: µs per second of
    /// call, i.e. millionths of a core.
    fn sut_us_per_call(&self) -> f64 {
        if self.calls_up == 0 {
            0.0
        } else {
            self.sut_cores * 1e6 / self.calls_up as f64
        }
    }

    fn calls_per_core(&self) -> f64 {
        if self.sut_cores <= 0.0 {
            0.0
        } else {
            self.calls_up as f64 / self.sut_cores
        }
    }

    fn csv(&self, system: &str) -> String {
        let w = &self.w;
        format!(
            "{system},{},{},{},{:.1},{},{},{},{},{:.4},{},{:.2},{},{},{},{:.1},{:.1},{:.1},{:.1},\
             {:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{},{},{},{},{:.3},{:.3},{:.3},{:.1},{:.0},{},{},{:.2}",
            self.calls,
            self.calls_up,
            self.setup_failed,
            self.secs,
            w.streams,
            w.sent,
            w.received,
            w.lost,
            self.loss_pct(),
            w.streams_with_loss,
            w.max_stream_loss_pct,
            w.duplicates,
            w.reordered,
            w.late,
            w.jitter_path_us,
            w.jitter_path_max_us,
            w.jitter_rtp_us,
            w.jitter_send_us,
            w.transit_p50_us,
            w.transit_p99_us,
            w.transit_p999_us,
            w.transit_max_us,
            w.lateness_p50_us,
            w.lateness_p99_us,
            w.lateness_max_us,
            w.send_errors,
            w.foreign,
            w.garbage,
            self.remote_byes,
            self.sut_cores,
            self.gen_cores,
            self.host_cores,
            self.sut_us_per_call(),
            self.calls_per_core(),
            self.drops.rcvbuf_errors,
            self.drops.no_ports,
            self.paced_pct(),
        )
    }

    fn human(&self, system: &str) -> String {
        let w = &self.w;
        format!(
            "{system}: {} calls up ({} failed), {:.1} s: sent {} ({:.2} % of schedule) received {} lost {} ({:.4} %, \
             {} streams), dup {} reord {} late {}; jitter path {:.1} µs (max {:.1}), rtp {:.1}, \
             own pacing {:.1}; transit p50 {:.0} p99 {:.0} p99.9 {:.0} max {:.0} µs; \
             send lateness p99 {:.0} µs; SUT {:.3} cores ({:.1} µs/call/s, {:.0} calls/core), \
             generator {:.3}, host {:.2}; UDP drops: {} full buffers, {} to closed ports",
            self.calls_up,
            self.setup_failed,
            self.secs,
            w.sent,
            self.paced_pct(),
            w.received,
            w.lost,
            self.loss_pct(),
            w.streams_with_loss,
            w.duplicates,
            w.reordered,
            w.late,
            w.jitter_path_us,
            w.jitter_path_max_us,
            w.jitter_rtp_us,
            w.jitter_send_us,
            w.transit_p50_us,
            w.transit_p99_us,
            w.transit_p999_us,
            w.transit_max_us,
            w.lateness_p99_us,
            self.sut_cores,
            self.sut_us_per_call(),
            self.calls_per_core(),
            self.gen_cores,
            self.host_cores,
            self.drops.rcvbuf_errors,
            self.drops.no_ports,
        )
    }
}

pub fn run(args: &[String]) {
    let args = parse(args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.rx_threads.max(1))
        .thread_name("rtp-load")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(ramp(args));
    rt.shutdown_background();
    std::process::exit(code);
}

async fn ramp(args: Args) -> i32 {
    let generator = Arc::new(Generator::new(
        args.ip,
        args.ports,
        2 * args.max_calls + 16,
        args.tx_threads,
        tokio::runtime::Handle::current(),
    ));
    let control = match args.mode {
        Mode::Direct => Control::Direct,
        Mode::Rtpengine => {
            let client = match NgClient::connect(args.ng).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("rtp-load: ng socket: {e}");
                    return 1;
                }
            };
            if let Err(e) = client.ping().await {
                eprintln!("rtp-load: rtpengine at {}: {e}", args.ng);
                return 1;
            }
            Control::Ng(Arc::new(client))
        }
        Mode::Switchyard => {
            let pw = |ext: &str| format!("bench-{ext}");
            let cfg = SipConfig {
                server: args.server,
                ip: args.ip,
                domain: args.domain.clone(),
                caller_password: pw(&args.caller),
                callee_password: pw(&args.callee),
                caller: args.caller.clone(),
                callee: args.callee.clone(),
            };
            let ua = match SipUa::start(cfg, generator.clone()).await {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("rtp-load: SIP sockets: {e}");
                    return 1;
                }
            };
            if let Err(e) = ua.register_callee().await {
                eprintln!("rtp-load: registering {}: {e}", args.callee);
                return 1;
            }
            Control::Sip(ua)
        }
    };
    let control = Arc::new(control);
    let mut csv = args.csv.as_ref().map(|path| {
        let mut f = std::fs::File::create(path).expect("CSV file");
        writeln!(f, "{CSV_HEADER}").expect("CSV write");
        f
    });
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut calls: Vec<Call> = Vec::new();
    let mut failed_total = 0;
    let mut code = 0;
    for (i, &target) in args.steps.iter().enumerate() {
        let want = target.saturating_sub(calls.len());
        eprintln!(
            "== {}: setting up {want} more calls ({} → {target}) at {}/s",
            args.system,
            calls.len(),
            args.setup_rate
        );
        let (mut new, failed, reasons) =
            set_up(&control, &generator, calls.len(), want, args.setup_rate).await;
        failed_total += failed;
        if failed > 0 {
            eprintln!("   {failed} calls failed: {reasons}");
        }
        calls.append(&mut new);
        tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;

        let byes0 = remote_byes(&control);
        let drops0 = cpu::udp_drops();
        let (s0, g0, h0, t0) = (
            cpu::processes_ns(&args.sut_pids),
            cpu::process_ns(std::process::id()),
            cpu::host_idle_secs(),
            Instant::now(),
        );
        generator.begin_window(i as u32 + 1);
        eprintln!(
            "== {}: {} calls up: measuring for {} s",
            args.system,
            calls.len(),
            args.step_secs
        );
        tokio::time::sleep(Duration::from_secs_f64(args.step_secs)).await;
        generator.end_sending();
        let (s1, g1, h1, secs) = (
            cpu::processes_ns(&args.sut_pids),
            cpu::process_ns(std::process::id()),
            cpu::host_idle_secs(),
            t0.elapsed().as_secs_f64(),
        );
        // Packets still in flight are counted for a second more.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let w = generator.collect();
        let drops = cpu::udp_drops().since(drops0);
        let row = Row {
            calls: target,
            calls_up: calls.len(),
            setup_failed: failed_total,
            secs,
            w,
            sut_cores: (s1 - s0) as f64 / 1e9 / secs,
            gen_cores: (g1 - g0) as f64 / 1e9 / secs,
            host_cores: (nproc - (h1 - h0) / secs).max(0.0),
            remote_byes: remote_byes(&control) - byes0,
            drops,
        };
        eprintln!("{}", row.human(&args.system));
        if let Some(f) = csv.as_mut() {
            writeln!(f, "{}", row.csv(&args.system)).expect("CSV write");
            f.flush().expect("CSV flush");
        }
        let why = if row.w.lost > 0 || row.w.sent == 0 {
            Some("loss")
        } else if row.w.late > 0 {
            Some("packets later than 60 ms, lost to a phone's jitter buffer")
        } else if row.paced_pct() < 98.0 {
            Some("the generator could not keep the pace")
        } else if row.host_cores >= 0.95 * nproc {
            Some("the machine's cores are busy")
        } else {
            None
        };
        if let Some(why) = why
            && !args.keep_going
        {
            eprintln!("== {}: stopping after {target} calls ({why})", args.system);
            break;
        }
        if calls.len() < target / 2 {
            eprintln!("== {}: most calls failed, stopping", args.system);
            code = 1;
            break;
        }
    }
    generator.stop();
    let n = calls.len();
    let t = Instant::now();
    let ended = tear_down(&control, calls).await;
    eprintln!(
        "== {}: {ended} of {n} calls ended cleanly in {:.1} s",
        args.system,
        t.elapsed().as_secs_f64()
    );
    code
}

fn remote_byes(control: &Control) -> u64 {
    match control {
        Control::Sip(ua) => ua.remote_byes.load(Relaxed),
        _ => 0,
    }
}

/// `want` calls at `rate` a second, concurrently; the calls that came
/// up, the number that failed and the first few reasons.
async fn set_up(
    control: &Arc<Control>,
    generator: &Arc<Generator>,
    first: usize,
    want: usize,
    rate: f64,
) -> (Vec<Call>, usize, String) {
    let mut tasks = Vec::with_capacity(want);
    let start = Instant::now();
    for k in 0..want {
        let at = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let (c, g) = (control.clone(), generator.clone());
        tasks.push(tokio::spawn(async move { c.call(&g, first + k).await }));
    }
    let mut up = Vec::with_capacity(want);
    let mut failed = 0;
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        match t.await {
            Ok(Ok(call)) => up.push(call),
            Ok(Err(e)) => {
                failed += 1;
                *reasons.entry(e).or_default() += 1;
            }
            Err(e) => {
                failed += 1;
                *reasons.entry(e.to_string()).or_default() += 1;
            }
        }
    }
    let reasons = reasons
        .iter()
        .take(5)
        .map(|(r, n)| format!("{n}× {r}"))
        .collect::<Vec<_>>()
        .join("; ");
    (up, failed, reasons)
}

/// Hang up every call, 500 a second, within 60 s; how many ended cleanly.
async fn tear_down(control: &Arc<Control>, calls: Vec<Call>) -> usize {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(calls.len());
    for (k, call) in calls.into_iter().enumerate() {
        tokio::time::sleep_until((start + Duration::from_millis(2 * k as u64)).into()).await;
        let c = control.clone();
        tasks.push(tokio::spawn(async move { c.hangup(call).await }));
    }
    let mut ok = 0;
    for t in tasks {
        if let Ok(Ok(Ok(()))) = tokio::time::timeout(Duration::from_secs(60), t).await {
            ok += 1;
        }
    }
    ok
}
