//! `webrtc-crates`: issue #16's choice of WebRTC crate, measured.
//!
//! ```text
//! cargo run --release --manifest-path bench/webrtc-crates/Cargo.toml -- \
//!     [--setups K] [--calls N] [--seconds S] [--only setup|media] [--crate str0m|rtc]
//! ```
//!
//! The host terminates browsers' WebRTC with str0m 0.24 (`host/media/src/
//! webrtc.rs`); the alternative named in the design is webrtc-rs, whose
//! sans-IO core is the `rtc` crate (0.21). Both are driven here the same
//! way, in the same run, so the figures compare the stacks and not two
//! machines' moods:
//!
//! * a "host" peer (ICE-lite, as the host is; both crates support it)
//!   answers a "browser" peer of the same crate (full ICE, the offerer),
//!   audio only, Opus and PCMU offered, one host candidate each;
//! * the datagrams are shuttled between them in memory and the clock is a
//!   fake `Instant` advanced by the driver (both crates take the time as
//!   an argument; only wall-clock fields such as RTCP's NTP time read the
//!   system clock);
//! * only the host side is timed, with the thread's CPU clock
//!   (`CLOCK_THREAD_CPUTIME_ID`), so the browser's work and the driver's
//!   bookkeeping are left out.
//!
//! 1. **Setup.** K setups one after another: building the host peer (its
//!    DTLS certificate included), the answer, ICE checks and the DTLS
//!    handshake until both sides report connected. Host CPU per setup:
//!    mean and p99.
//! 2. **Media.** N connected pairs, S simulated seconds of 20 ms audio
//!    both ways with a fixed 60-byte payload (Opus-sized; no codec runs, so
//!    this is the stack alone: RTP, SRTP, RTCP, timers). Host CPU per
//!    call-second, and frames delivered both ways: any loss fails the run.
//!
//! Each crate's side is in its own module behind [`Call`], so the driver
//! below is the same code for both. Besides each crate's row as the host
//! would use it, variant rows change one thing each (transport-cc, rtc's
//! interceptors, the SRTP profile) to show where a difference comes from.

mod rtc_call;
mod str0m_call;

use std::time::{Duration, Instant};

/// One 20 ms audio frame: a fixed Opus-sized payload.
const PAYLOAD: [u8; 60] = [0x5a; 60];
const STEP: Duration = Duration::from_millis(20);
const FRAMES_PER_SECOND: u64 = 50;
/// The setup loop's fake-time step, and how long a setup may take.
const SETUP_STEP: Duration = Duration::from_millis(10);
const SETUP_LIMIT: u32 = 500;
/// Exchange rounds within one fake instant: a LAN answers at once, so a
/// whole handshake flight goes back and forth without time passing.
const ROUNDS: usize = 8;

/// A host peer and its browser, with the datagrams between them. The
/// driver times only the `host_*` calls.
pub trait Call: Sized {
    /// Browser offers (untimed), host answers (timed: the CPU it took is
    /// returned with the pair).
    fn new(now: Instant, index: usize) -> (Self, Duration);
    /// The host takes what the browser sent, runs its timers if due,
    /// sends `frame` if given, and queues its output for the browser.
    fn host_step(&mut self, now: Instant, frame: Option<&[u8]>);
    /// The same for the browser.
    fn browser_step(&mut self, now: Instant, frame: Option<&[u8]>);
    /// Both sides report ICE and DTLS done.
    fn connected(&self) -> bool;
    /// Anything still queued between the two.
    fn in_flight(&self) -> bool;
    /// Looks up the negotiated payload types (untimed, once connected).
    fn start_media(&mut self);
    /// Frames with the expected payload received by (host, browser).
    fn delivered(&self) -> (u64, u64);
    /// Datagrams the host has sent so far.
    fn host_datagrams(&self) -> u64;
    /// Shows `f` every datagram now queued between the two (untimed).
    fn each_datagram(&self, f: &mut dyn FnMut(&[u8]));
}

/// A DTLS ServerHello's cipher suite and SRTP profile, IANA numbers.
type Hello = Option<(u16, Option<u16>)>;

/// The cipher suite and SRTP profile a DTLS ServerHello in `datagram`
/// chose (RFC 6347 records, RFC 5764 `use_srtp`), so the report says what
/// each pair actually negotiated: the two crates prefer different
/// profiles, which changes the per-packet cost.
fn server_hello(datagram: &[u8]) -> Hello {
    let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    let mut rest = datagram;
    while rest.len() >= 13 {
        let (kind, len) = (rest[0], usize::from(be16(rest, 11)?));
        let record = rest.get(13..13 + len)?;
        rest = &rest[13 + len..];
        // Handshake record, ServerHello message (12-byte DTLS header).
        if kind != 22 || record.first() != Some(&2) {
            continue;
        }
        let body = record.get(12..)?;
        let sid = usize::from(*body.get(34)?);
        let at = 35 + sid;
        let suite = be16(body, at)?;
        let mut ext = at + 5;
        let end = (ext + usize::from(be16(body, at + 3)?)).min(body.len());
        let mut srtp = None;
        while ext + 4 <= end {
            let (typ, elen) = (be16(body, ext)?, usize::from(be16(body, ext + 2)?));
            if typ == 14 {
                srtp = be16(body, ext + 6);
            }
            ext += 4 + elen;
        }
        return Some((suite, srtp));
    }
    None
}

/// CPU time of the calling thread: what the host's side cost, whatever
/// else the machine runs meanwhile.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs every pair until all are connected; adds each host's CPU to `cpu`.
/// `hello` receives what the first pair's DTLS ServerHello chose.
fn connect_all<C: Call>(
    pairs: &mut [C],
    cpu: &mut [Duration],
    now: &mut Instant,
    hello: &mut Hello,
) {
    for _ in 0..SETUP_LIMIT {
        for (i, (p, c)) in pairs.iter_mut().zip(cpu.iter_mut()).enumerate() {
            for _ in 0..ROUNDS {
                let t0 = thread_cpu();
                p.host_step(*now, None);
                *c += thread_cpu() - t0;
                if i == 0 && hello.is_none() {
                    p.each_datagram(&mut |d| *hello = hello.or(server_hello(d)));
                }
                p.browser_step(*now, None);
                if i == 0 && hello.is_none() {
                    p.each_datagram(&mut |d| *hello = hello.or(server_hello(d)));
                }
                if !p.in_flight() {
                    break;
                }
            }
        }
        if pairs.iter().all(C::connected) {
            return;
        }
        *now += SETUP_STEP;
    }
    panic!("not every pair connected within {SETUP_LIMIT} fake-time steps");
}

/// What the host sends besides RTP, by the first RTCP packet's type
/// (SRTCP leaves the first 8 bytes of RTCP in the clear, RFC 3711).
#[derive(Default)]
struct Mix {
    /// SR, RR, RTPFB (transport-wide feedback, NACK), anything else.
    rtcp: [u64; 4],
    stun: u64,
}

impl Mix {
    fn count(&mut self, d: &[u8]) {
        match (d.first(), d.get(1)) {
            (Some(0..=3), _) => self.stun += 1,
            (Some(128..=191), Some(&pt)) if (192..=223).contains(&pt) => {
                let i = match pt {
                    200 => 0,
                    201 => 1,
                    205 => 2,
                    _ => 3,
                };
                self.rtcp[i] += 1;
            }
            _ => {}
        }
    }
}

struct Figures {
    /// DTLS cipher suite and SRTP profile (IANA numbers) the setups chose.
    hello: Hello,
    setup_mean_us: Option<f64>,
    setup_p99_us: Option<f64>,
    per_call_second_us: Option<f64>,
}

/// K setups one after another: host CPU per setup (µs, sorted), the mean
/// of its first part (peer, certificate, offer in, answer out), and what
/// the ServerHello chose.
fn setups<C: Call>(k: usize) -> (Vec<f64>, f64, Hello) {
    let mut now = Instant::now();
    let mut out = Vec::with_capacity(k);
    let mut answers = Duration::ZERO;
    let mut hello = None;
    for i in 0..k {
        let (pair, answer) = C::new(now, i);
        answers += answer;
        let mut pairs = [pair];
        let mut cpu = [answer];
        connect_all(&mut pairs, &mut cpu, &mut now, &mut hello);
        out.push(cpu[0].as_secs_f64() * 1e6);
        // Setups are apart in time, like calls.
        now += Duration::from_secs(1);
    }
    out.sort_by(f64::total_cmp);
    (out, answers.as_secs_f64() * 1e6 / k as f64, hello)
}

/// N pairs, S seconds of 20 ms frames both ways; host µs per call-second.
fn media<C: Call>(name: &str, n: usize, seconds: u64) -> f64 {
    let mut now = Instant::now();
    let mut pairs = Vec::with_capacity(n);
    let mut cpu = Vec::with_capacity(n);
    for i in 0..n {
        let (p, c) = C::new(now, i);
        pairs.push(p);
        cpu.push(c);
    }
    connect_all(&mut pairs, &mut cpu, &mut now, &mut None);
    for p in &mut pairs {
        p.start_media();
    }
    let ticks = seconds * FRAMES_PER_SECOND;
    let datagrams_before: u64 = pairs.iter().map(C::host_datagrams).sum();
    let mut mix = Mix::default();
    let mut host = Duration::ZERO;
    // Two ticks more without new audio: what is in flight arrives.
    for tick in 0..ticks + 2 {
        now += STEP;
        let frame = (tick < ticks).then_some(&PAYLOAD[..]);
        for p in &mut pairs {
            p.browser_step(now, frame);
        }
        // The host's whole tick is one block, timed once: no per-pair
        // clock reads inside the measurement.
        let t0 = thread_cpu();
        for p in &mut pairs {
            p.host_step(now, frame);
        }
        host += thread_cpu() - t0;
        for p in &pairs {
            p.each_datagram(&mut |d| mix.count(d));
        }
    }
    // The host's last datagrams reach the browsers.
    for p in &mut pairs {
        p.browser_step(now, None);
    }
    let expected = ticks * n as u64;
    // RTP is one datagram a frame; the rest is RTCP and STUN consent.
    let datagrams = pairs.iter().map(C::host_datagrams).sum::<u64>() - datagrams_before;
    let (to_host, to_browser) = pairs
        .iter()
        .map(C::delivered)
        .fold((0, 0), |a, d| (a.0 + d.0, a.1 + d.1));
    println!(
        "{name}: media {n} calls × {seconds} s: browser → host {to_host}/{expected}, \
         host → browser {to_browser}/{expected}; host sent {datagrams} datagrams \
         ({} besides RTP), host CPU {:.3} s",
        datagrams.saturating_sub(expected),
        host.as_secs_f64()
    );
    let per = |c: u64| c as f64 / (n as u64 * seconds) as f64;
    println!(
        "{name}: host's non-RTP datagrams per call-second: {:.1} RTCP (first packet \
         SR {:.1}, RR {:.1}, transport feedback {:.1}, other {:.1}), {:.1} STUN",
        per(mix.rtcp.iter().sum()),
        per(mix.rtcp[0]),
        per(mix.rtcp[1]),
        per(mix.rtcp[2]),
        per(mix.rtcp[3]),
        per(mix.stun),
    );
    if to_host != expected || to_browser != expected {
        eprintln!("{name}: frames lost or unexpected: the run fails");
        std::process::exit(1);
    }
    host.as_secs_f64() * 1e6 / (n as u64 * seconds) as f64
}

fn run<C: Call>(name: &str, args: &Args) -> Figures {
    let mut figures = Figures {
        hello: None,
        setup_mean_us: None,
        setup_p99_us: None,
        per_call_second_us: None,
    };
    if args.only.as_deref().is_none_or(|o| o == "setup") {
        let (s, answer, hello) = setups::<C>(args.setups);
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        let p99 = s[((s.len() * 99).div_ceil(100)).saturating_sub(1)];
        println!(
            "{name}: {} setups: host CPU mean {mean:.0} µs (answer {answer:.0} µs, \
             ICE + DTLS {:.0} µs), p50 {:.0} µs, p99 {p99:.0} µs, max {:.0} µs; {}",
            s.len(),
            mean - answer,
            s[s.len() / 2],
            s[s.len() - 1],
            describe(hello),
        );
        figures.hello = hello;
        figures.setup_mean_us = Some(mean);
        figures.setup_p99_us = Some(p99);
    }
    if args.only.as_deref().is_none_or(|o| o == "media") {
        figures.per_call_second_us = Some(media::<C>(name, args.calls, args.seconds));
    }
    figures
}

struct Args {
    setups: usize,
    calls: usize,
    seconds: u64,
    only: Option<String>,
    krate: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: webrtc-crates [--setups K] [--calls N] [--seconds S] \
         [--only setup|media] [--crate str0m|rtc]"
    );
    std::process::exit(2);
}

fn parse() -> Args {
    let mut out = Args {
        setups: 200,
        calls: 200,
        seconds: 5,
        only: None,
        krate: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else { usage() };
        let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--setups" => out.setups = number(),
            "--calls" => out.calls = number(),
            "--seconds" => out.seconds = number() as u64,
            "--only" if value == "setup" || value == "media" => out.only = Some(value.clone()),
            "--crate" if value == "str0m" || value == "rtc" => out.krate = Some(value.clone()),
            _ => usage(),
        }
    }
    if out.setups == 0 || out.calls == 0 || out.seconds == 0 {
        usage();
    }
    out
}

/// Names for the IANA numbers `server_hello` finds.
fn describe(hello: Hello) -> String {
    let Some((suite, srtp)) = hello else {
        return "no ServerHello seen".to_owned();
    };
    let suite = match suite {
        0xc02b => "ECDHE_ECDSA_AES_128_GCM_SHA256".to_owned(),
        0xc02c => "ECDHE_ECDSA_AES_256_GCM_SHA384".to_owned(),
        0xc009 => "ECDHE_ECDSA_AES_128_CBC_SHA".to_owned(),
        0xcca9 => "ECDHE_ECDSA_CHACHA20_POLY1305".to_owned(),
        other => format!("suite {other:#06x}"),
    };
    let srtp = match srtp {
        Some(0x0001) => "SRTP_AES128_CM_SHA1_80".to_owned(),
        Some(0x0002) => "SRTP_AES128_CM_SHA1_32".to_owned(),
        Some(0x0007) => "SRTP_AEAD_AES_128_GCM".to_owned(),
        Some(0x0008) => "SRTP_AEAD_AES_256_GCM".to_owned(),
        Some(other) => format!("SRTP profile {other:#06x}"),
        None => "no use_srtp".to_owned(),
    };
    format!("DTLS {suite}, {srtp}")
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn main() {
    let args = parse();
    let wants = |c: &str| args.krate.as_deref().is_none_or(|k| k == c);
    let mut rows = Vec::new();
    // The first row of each crate is the comparison; the others change
    // one thing each to show where the difference comes from.
    if wants("str0m") {
        rows.push((
            "str0m (as the host)",
            "0.24.1",
            run::<str0m_call::Str0mCall<true>>("str0m", &args),
            str0m_call::BUILD_NOTE,
        ));
        rows.push((
            "str0m, no transport-cc",
            "0.24.1",
            run::<str0m_call::Str0mCall<false>>("str0m (no transport-cc)", &args),
            str0m_call::BUILD_NOTE,
        ));
    }
    if wants("rtc") {
        rows.push((
            "rtc (reports only)",
            "0.21.1",
            run::<rtc_call::RtcCall<false, false>>("rtc", &args),
            rtc_call::BUILD_NOTE,
        ));
        rows.push((
            "rtc, default interceptors",
            "0.21.1",
            run::<rtc_call::RtcCall<false, true>>("rtc (default interceptors)", &args),
            rtc_call::BUILD_NOTE,
        ));
        rows.push((
            "rtc, AES-256-GCM first",
            "0.21.1",
            run::<rtc_call::RtcCall<true, false>>("rtc (AES-256-GCM first)", &args),
            rtc_call::BUILD_NOTE,
        ));
    }
    println!();
    println!(
        "| crate | version | setup mean µs | setup p99 µs | µs per call-second | \
         calls per core (stack) | negotiated | build |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, version, f, note) in rows {
        let per_core = f.per_call_second_us.map(|us| 1e6 / us);
        println!(
            "| {name} | {version} | {} | {} | {} | {} | {} | {note} |",
            cell(f.setup_mean_us),
            cell(f.setup_p99_us),
            f.per_call_second_us
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
            cell(per_core),
            if f.hello.is_some() {
                describe(f.hello)
            } else {
                "-".to_owned()
            },
        );
    }
}
