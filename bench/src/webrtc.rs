//! `webrtc`: browser calls (issue #16) — what the host pays per browser.
//!
//! ```text
//! switchyard-bench webrtc [--calls N] [--seconds S] [--setups K]
//!     [--registrations M] [--connections C] [--only calls|dtls|wss]
//! ```
//!
//! 1. **Transcoding calls per core.** N host [`WebRtcLeg`]s each answer a
//!    str0m `Rtc` playing Chrome (Opus offered first, PCMU, full ICE),
//!    connected in memory on a fake clock; then S simulated seconds of
//!    two-way audio in 20 ms frames: the browser encodes a tone with libopus
//!    (48 kHz, as Chrome does) and sends it, the leg decodes it to PCMU for
//!    the session (`poll_rtp`), the session's PCMU goes back through
//!    `send_rtp` (encoded to Opus) and the browser receives and decodes it.
//!    Every tick runs the browsers first, then all host legs, then the
//!    browsers again, so the host's work is one block timed with the
//!    thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`); the browsers' cost is
//!    timed the same way and reported apart. Frames are counted both ways
//!    and checked: a loss fails the run. One thread.
//! 2. **DTLS handshake CPU.** K legs set up one after another (answer, ICE,
//!    DTLS until connected): the host's CPU per setup, mean and p99.
//! 3. **WSS registration rate.** The real server in-process with HTTPS on
//!    127.0.0.1 (its self-signed development certificate) and a tenant of
//!    extensions with known passwords (`sip_server`'s); a generator on its
//!    own thread keeps C connections going, each a new TLS connection,
//!    WebSocket upgrade (`sip` subprotocol), REGISTER/401/REGISTER/200 and
//!    close, M in all. Registrations per second, and the server's CPU per
//!    registration: the process's CPU (`getrusage`) minus the generator
//!    thread's.

use std::collections::VecDeque;
use std::f64::consts::TAU;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use switchyard_media::{WebRtcCodec, WebRtcLeg};
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use crate::sip_server::{numbers, password, tenant_json};

const STEP: Duration = Duration::from_millis(20);
const FRAMES_PER_SECOND: u64 = 50;

struct Args {
    calls: usize,
    seconds: u64,
    setups: usize,
    registrations: usize,
    connections: usize,
    only: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: switchyard-bench webrtc [--calls N] [--seconds S] [--setups K] \
         [--registrations M] [--connections C] [--only calls|dtls|wss]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Args {
    let mut out = Args {
        calls: 200,
        seconds: 5,
        setups: 200,
        registrations: 2000,
        connections: 50,
        only: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else { usage() };
        let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--calls" => out.calls = number(),
            "--seconds" => out.seconds = number() as u64,
            "--setups" => out.setups = number(),
            "--registrations" => out.registrations = number(),
            "--connections" => out.connections = number(),
            "--only" => out.only = Some(value.clone()),
            _ => usage(),
        }
    }
    if out.calls == 0 || out.seconds == 0 || out.setups == 0 || out.connections == 0 {
        usage();
    }
    out
}

pub fn run(args: &[String]) {
    let args = parse(args);
    let wants = |part: &str| args.only.as_deref().is_none_or(|o| o == part);
    if wants("calls") {
        transcoding(args.calls, args.seconds);
    }
    if wants("dtls") {
        handshakes(args.setups);
    }
    if wants("wss") {
        registrations(args.registrations, args.connections);
    }
}

/// CPU time of the calling thread.
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

/// User + system CPU time of the whole process.
fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn host_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 20000 + (i % 40000) as u16))
}

fn browser_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 20000 + (i % 40000) as u16))
}

/// A str0m peer configured like Chrome's audio: Opus first, then PCMU.
fn chrome(now: Instant, addr: SocketAddr) -> Rtc {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    rtc
}

/// One call: the host's leg, its browser, and the datagrams between them.
struct Pair {
    index: usize,
    leg: WebRtcLeg,
    browser: Rtc,
    mid: Mid,
    browser_connected: bool,
    browser_timeout: Instant,
    to_host: Vec<Vec<u8>>,
    to_browser: Vec<Vec<u8>>,
    /// Opus payload type of the browser, once connected.
    opus_pt: Option<Pt>,
    /// The host's answer asked for narrowband Opus (`maxplaybackrate`).
    narrowband: bool,
    encoder: Option<opus::Encoder>,
    decoder: Option<opus::Decoder>,
    /// Browser: frames sent, received (and decoded to 20 ms).
    sent: u64,
    received: u64,
    bad_received: u64,
    /// Host: PCMU frames out to the session, and frames the session sent.
    pcmu_out: u64,
    bad_pcmu: u64,
    last_seq: Option<u16>,
    session_sent: u64,
    session_seq: u16,
    session_ts: u32,
}

impl Pair {
    /// The browser offers, the leg answers (the answer is host CPU, added
    /// to `host_cpu`).
    fn new(now: Instant, index: usize, host_cpu: &mut Duration) -> Pair {
        let mut browser = chrome(now, browser_addr(index));
        let mut change = browser.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        let offer = offer.to_sdp_string();
        let t0 = thread_cpu();
        let (leg, answer) = WebRtcLeg::answer(now, &offer, host_addr(index)).expect("answered");
        *host_cpu += thread_cpu() - t0;
        assert_eq!(leg.codec(), Some(WebRtcCodec::Opus), "Opus is chosen");
        let narrowband = answer.contains("maxplaybackrate=8000");
        let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).expect("answer parses");
        browser
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        let mut pair = Pair {
            index,
            leg,
            browser,
            mid,
            browser_connected: false,
            browser_timeout: now,
            to_host: Vec::new(),
            to_browser: Vec::new(),
            opus_pt: None,
            narrowband,
            encoder: None,
            decoder: None,
            sent: 0,
            received: 0,
            bad_received: 0,
            pcmu_out: 0,
            bad_pcmu: 0,
            last_seq: None,
            session_sent: 0,
            session_seq: 1,
            session_ts: 0,
        };
        pair.drain_browser();
        pair
    }

    fn connected(&self) -> bool {
        self.leg.is_connected() && self.browser_connected
    }

    /// The browser's outputs: datagrams queued for the host, media counted.
    fn drain_browser(&mut self) {
        loop {
            match self.browser.poll_output().expect("browser output") {
                Output::Timeout(t) => {
                    self.browser_timeout = t;
                    break;
                }
                Output::Transmit(t) => self.to_host.push(t.contents.into()),
                Output::Event(Event::Connected) => self.browser_connected = true,
                Output::Event(Event::MediaData(d)) => {
                    let ok = Some(d.pt) == self.opus_pt
                        && self.decoder.as_mut().is_some_and(|dec| {
                            let mut pcm = [0i16; 5760];
                            matches!(dec.decode(&d.data, &mut pcm, false), Ok(960))
                        });
                    if ok {
                        self.received += 1;
                    } else {
                        self.bad_received += 1;
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Browser side of a tick: timers, what the host sent, and (when
    /// `frame` is given) one 20 ms Opus frame of the tone.
    fn browser_tick(&mut self, now: Instant, frame: Option<&[i16]>) {
        for bytes in std::mem::take(&mut self.to_browser) {
            let receive = Receive::new(
                Protocol::Udp,
                host_addr(self.index),
                browser_addr(self.index),
                &bytes,
            )
            .expect("a datagram str0m knows");
            self.browser
                .handle_input(Input::Receive(now, receive))
                .expect("browser input");
            self.drain_browser();
        }
        if self.browser_timeout <= now {
            self.browser
                .handle_input(Input::Timeout(now))
                .expect("browser timeout");
            self.drain_browser();
        }
        if let (Some(pcm), Some(pt), Some(enc)) = (frame, self.opus_pt, self.encoder.as_mut()) {
            let mut out = [0u8; 1275];
            let n = enc.encode(pcm, &mut out).expect("opus encode");
            let t = MediaTime::new(960 * self.sent, Frequency::FORTY_EIGHT_KHZ);
            self.browser
                .writer(self.mid)
                .expect("writer")
                .write(pt, now, t, out[..n].to_vec())
                .expect("browser write");
            self.sent += 1;
            self.drain_browser();
        }
    }

    /// Host side of a tick: what the browser sent, timers, the PCMU the
    /// leg made for the session, and (when given) the session's PCMU.
    fn host_tick(&mut self, now: Instant, session: Option<&[u8]>) {
        let from = browser_addr(self.index);
        for bytes in self.to_host.drain(..) {
            self.leg.handle_datagram(now, from, &bytes);
        }
        if self.leg.poll_timeout().is_some_and(|t| t <= now) {
            self.leg.handle_timeout(now);
        }
        while let Some(rtp) = self.leg.poll_rtp() {
            match RtpPacket::parse(&rtp) {
                Ok(p) if p.header.payload_type == 0 && p.payload.len() == 160 => {
                    if self
                        .last_seq
                        .is_some_and(|s| s.wrapping_add(1) != p.header.sequence)
                    {
                        self.bad_pcmu += 1;
                    }
                    self.last_seq = Some(p.header.sequence);
                    self.pcmu_out += 1;
                }
                _ => self.bad_pcmu += 1,
            }
        }
        if let Some(rtp) = session {
            self.leg.send_rtp(now, rtp);
        }
        while let Some((to, bytes)) = self.leg.poll_transmit() {
            debug_assert_eq!(to, from);
            self.to_browser.push(bytes);
        }
    }

    /// The session's next PCMU packet (built outside the host's timing:
    /// it is the other leg's work).
    fn session_packet(&mut self, payload: &[u8]) -> Vec<u8> {
        let rtp = RtpHeader {
            payload_type: 0,
            sequence: self.session_seq,
            timestamp: self.session_ts,
            ssrc: 0x5eed_0000 + self.index as u32,
            ..Default::default()
        }
        .to_bytes(payload)
        .expect("rtp");
        self.session_seq = self.session_seq.wrapping_add(1);
        self.session_ts = self.session_ts.wrapping_add(160);
        self.session_sent += 1;
        rtp
    }

    /// Ready for audio: the browser's Opus payload type, encoder, decoder.
    fn start_audio(&mut self) {
        let pt = self
            .browser
            .writer(self.mid)
            .expect("writer")
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .expect("Opus negotiated")
            .pt();
        self.opus_pt = Some(pt);
        let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .expect("opus encoder");
        // What Chrome sends for speech: 32 kbit/s fullband by default;
        // told `maxplaybackrate=8000`, narrowband at 12 kbit/s (WebRTC's
        // default for a narrowband peer).
        if self.narrowband {
            enc.set_max_bandwidth(opus::Bandwidth::Narrowband)
                .expect("bandwidth");
            enc.set_bitrate(opus::Bitrate::Bits(12_000))
                .expect("bitrate");
        } else {
            enc.set_bitrate(opus::Bitrate::Bits(32_000))
                .expect("bitrate");
        }
        self.encoder = Some(enc);
        self.decoder = Some(opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder"));
    }
}

/// Connects every pair (10 ms steps of fake time); returns the host's CPU
/// spent on each (not counting the answer).
fn connect_all(pairs: &mut [Pair], now: &mut Instant) -> Vec<Duration> {
    let mut cpu = vec![Duration::ZERO; pairs.len()];
    for _ in 0..500 {
        if pairs.iter().all(Pair::connected) {
            return cpu;
        }
        for (p, c) in pairs.iter_mut().zip(&mut cpu) {
            let t0 = thread_cpu();
            p.host_tick(*now, None);
            *c += thread_cpu() - t0;
            p.browser_tick(*now, None);
            // Answers within the same instant, like a LAN.
            let t0 = thread_cpu();
            p.host_tick(*now, None);
            *c += thread_cpu() - t0;
            p.browser_tick(*now, None);
        }
        *now += Duration::from_millis(10);
    }
    panic!("not every call connected within 5 s of fake time");
}

fn tone_48k(freq: f64, frames: usize) -> Vec<Vec<i16>> {
    (0..frames)
        .map(|f| {
            (f * 960..(f + 1) * 960)
                .map(|i| (8000.0 * (TAU * freq * i as f64 / 48_000.0).sin()) as i16)
                .collect()
        })
        .collect()
}

fn pcmu_tone(freq: f64) -> Vec<u8> {
    // 400 Hz: exactly 8 periods in 160 samples, so one payload repeats
    // seamlessly.
    let pcm: Vec<i16> = (0..160)
        .map(|i| (8000.0 * (TAU * freq * f64::from(i) / 8000.0).sin()) as i16)
        .collect();
    let mut out = Vec::with_capacity(160);
    Law::Pcmu.encode(&pcm, &mut out);
    out
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn transcoding(calls: usize, seconds: u64) {
    println!("== transcoding calls: {calls} calls, {seconds} s of two-way 20 ms audio, one thread");
    let mut now = Instant::now();
    let mut setup_cpu = Duration::ZERO;
    let mut pairs: Vec<Pair> = (0..calls)
        .map(|i| Pair::new(now, i, &mut setup_cpu))
        .collect();
    let connect = connect_all(&mut pairs, &mut now);
    setup_cpu += connect.iter().sum::<Duration>();
    for p in &mut pairs {
        p.start_audio();
    }
    println!(
        "setup: {calls} legs connected, host CPU {:.3} s ({:.2} ms a leg)",
        secs(setup_cpu),
        secs(setup_cpu) * 1000.0 / calls as f64
    );

    // The browser's tone: 1 s of 1 kHz (20 ms frames), repeated.
    let tone = tone_48k(1000.0, 50);
    let pcmu = pcmu_tone(400.0);
    let ticks = seconds * FRAMES_PER_SECOND;
    let mut host = Duration::ZERO;
    let mut browser = Duration::ZERO;
    let mut session: Vec<Vec<u8>> = vec![Vec::new(); calls];
    let wall = Instant::now();
    // Two ticks more without new audio: what is in flight arrives.
    for tick in 0..ticks + 2 {
        let sending = tick < ticks;
        let t0 = thread_cpu();
        for (p, s) in pairs.iter_mut().zip(&mut session) {
            p.browser_tick(now, sending.then(|| &tone[tick as usize % 50][..]));
            *s = if sending {
                p.session_packet(&pcmu)
            } else {
                Vec::new()
            };
        }
        let t1 = thread_cpu();
        for (p, s) in pairs.iter_mut().zip(&session) {
            p.host_tick(now, (!s.is_empty()).then_some(&s[..]));
        }
        let t2 = thread_cpu();
        for p in &mut pairs {
            p.browser_tick(now, None);
        }
        let t3 = thread_cpu();
        host += t2 - t1;
        browser += (t1 - t0) + (t3 - t2);
        now += STEP;
    }
    let wall = wall.elapsed();

    let sum = |f: fn(&Pair) -> u64| pairs.iter().map(f).sum::<u64>();
    let sent = sum(|p| p.sent);
    let pcmu_out = sum(|p| p.pcmu_out);
    let session_sent = sum(|p| p.session_sent);
    let received = sum(|p| p.received);
    let bad = sum(|p| p.bad_pcmu) + sum(|p| p.bad_received);
    let call_seconds = (calls as u64 * seconds) as f64;
    let per_call_second = secs(host) / call_seconds;
    println!(
        "browser → host: {sent} Opus frames sent, {pcmu_out} PCMU frames to the session \
         (lost {})",
        sent.saturating_sub(pcmu_out)
    );
    println!(
        "host → browser: {session_sent} PCMU frames from the session, {received} Opus frames \
         decoded by the browsers (lost {})",
        session_sent.saturating_sub(received)
    );
    println!(
        "host CPU {:.3} s for {call_seconds:.0} call-seconds: {:.1} µs a call-second, \
         {:.2} µs a frame each way",
        secs(host),
        per_call_second * 1e6,
        per_call_second * 1e6 / (2.0 * FRAMES_PER_SECOND as f64)
    );
    println!(
        "calls per core (host, transcoding Opus <-> PCMU over DTLS-SRTP): {:.0}",
        1.0 / per_call_second
    );
    println!(
        "browser side (information): {:.3} s CPU, {:.1} µs a call-second; wall {:.2} s",
        secs(browser),
        secs(browser) / call_seconds * 1e6,
        secs(wall)
    );
    assert_eq!(bad, 0, "malformed or out-of-sequence frames");
    assert_eq!(sent, pcmu_out, "frames lost browser → host");
    assert_eq!(session_sent, received, "frames lost host → browser");
}

fn handshakes(setups: usize) {
    println!("== DTLS handshake: {setups} legs set up one after another (answer, ICE, DTLS)");
    let mut now = Instant::now();
    let mut each = Vec::with_capacity(setups);
    for i in 0..setups {
        let mut cpu = Duration::ZERO;
        let mut pair = vec![Pair::new(now, i, &mut cpu)];
        cpu += connect_all(&mut pair, &mut now)[0];
        each.push(cpu);
    }
    each.sort();
    let mean = each.iter().sum::<Duration>() / setups as u32;
    let p = |q: f64| each[((setups as f64 * q).ceil() as usize).clamp(1, setups) - 1];
    println!(
        "host CPU a setup: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         ({:.0} setups a second per core)",
        secs(mean) * 1e3,
        secs(p(0.5)) * 1e3,
        secs(p(0.99)) * 1e3,
        secs(each[setups - 1]) * 1e3,
        1.0 / secs(mean)
    );
}

fn write_credentials(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("data dir");
    let text: String = numbers(n)
        .map(|x| format!("{x}:{}\n", password(&x)))
        .collect();
    std::fs::write(dir.join("demo-credentials.txt"), text).expect("credentials");
}

/// A rustls client that trusts exactly the certificate in `pem`.
fn client_trusting(pem: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.expect("PEM")).expect("a certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every registration pays a full handshake, as a browser's first
    // connection does (no session resumption).
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// One browser registering: TLS, WebSocket upgrade, REGISTER, 401,
/// REGISTER with credentials, 200, close.
async fn register_once(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    ext: &str,
    call_id: &str,
) -> Result<(), String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        req,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(tls)),
    )
    .await
    .map_err(|e| format!("connect: {e}"))?;
    let uri = "sip:demo.localhost";
    let aor = format!("<sip:{ext}@demo.localhost>");
    let mut auth = String::new();
    for cseq in 1..=2 {
        let text = format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK{call_id}r{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: {aor};tag=ws{cseq}\r\nTo: {aor}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\nContact: <sip:x7k2@df7jal23ls0d.invalid;transport=ws>;expires=300\r\n\
             {auth}Content-Length: 0\r\n\r\n"
        );
        ws.send(tungstenite::Message::text(text))
            .await
            .map_err(|e| e.to_string())?;
        let reply = loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(t))) => break t.as_str().to_owned(),
                Some(Ok(tungstenite::Message::Binary(b))) => {
                    break String::from_utf8_lossy(&b).into_owned();
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".into()),
            }
        };
        if reply.starts_with("SIP/2.0 200") {
            let _ = ws.close(None).await;
            return Ok(());
        }
        if !reply.starts_with("SIP/2.0 401") {
            return Err(reply.lines().next().unwrap_or_default().to_owned());
        }
        let challenge = reply
            .lines()
            .find_map(|l| l.strip_prefix("WWW-Authenticate:"))
            .ok_or("401 without a challenge")?
            .trim();
        let answer =
            switchyard_sip::auth::answer_challenge(challenge, "REGISTER", uri, ext, &password(ext))
                .map_err(|e| format!("cannot answer the challenge: {e}"))?;
        auth = format!("Authorization: {answer}\r\n");
    }
    Err("not registered after credentials".into())
}

fn registrations(total: usize, connections: usize) {
    let extensions = 1000usize.min(total.max(3));
    println!(
        "== WSS registrations: {total} (each a new TLS connection), {connections} at a time, \
         {extensions} extensions"
    );
    let dir = std::env::temp_dir().join(format!("sy-bench-wss-{}", std::process::id()));
    write_credentials(&dir, extensions);
    let cfg = switchyard_server::Config {
        data_dir: dir.clone(),
        sip_listen: "127.0.0.1:0".parse().expect("address"),
        http_listen: "127.0.0.1:0".parse().expect("address"),
        https_listen: Some("127.0.0.1:0".parse().expect("address")),
        rtp_ports: (0, 0),
        tenant_json: Some(tenant_json(extensions)),
        ..switchyard_server::Config::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let running = rt
        .block_on(switchyard_server::start(cfg))
        .unwrap_or_else(|e| panic!("starting the server: {e:#}"));
    let https = running.https.expect("HTTPS served");
    let cert = running.certificate.clone().expect("a certificate");
    let tls = client_trusting(&std::fs::read(&cert.cert).expect("certificate file"));
    let url = format!("wss://localhost:{}/ws", https.port());

    // The generator: its own thread and single-threaded runtime, so its
    // CPU can be told apart from the server's.
    let generator = std::thread::spawn(move || {
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let cpu0 = thread_cpu();
        let proc0 = process_cpu();
        let wall = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failures = client.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (url, tls, next) = (url.clone(), tls.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    let mut failed = VecDeque::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n >= total {
                            break failed;
                        }
                        let ext = (1001 + n % extensions).to_string();
                        let call_id = format!("wssbench{n}");
                        if let Err(e) = register_once(&url, tls.clone(), &ext, &call_id).await {
                            failed.push_back(e);
                        }
                    }
                }));
            }
            let mut failed = Vec::new();
            for t in tasks {
                failed.extend(t.await.expect("task"));
            }
            failed
        });
        (
            wall.elapsed(),
            thread_cpu() - cpu0,
            process_cpu() - proc0,
            failures,
        )
    });
    let (wall, client_cpu, process, failures) = generator.join().expect("generator");
    let ok = total - failures.len();
    let server_cpu = process.saturating_sub(client_cpu);
    println!(
        "{ok} registered, {} failed{} in {:.2} s: {:.0} registrations a second",
        failures.len(),
        failures
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        secs(wall),
        ok as f64 / secs(wall)
    );
    println!(
        "CPU: process {:.2} s, generator thread {:.2} s, server (the rest) {:.2} s = \
         {:.0} µs a registration ({:.0} registrations a second per core of server CPU)",
        secs(process),
        secs(client_cpu),
        secs(server_cpu),
        secs(server_cpu) / ok.max(1) as f64 * 1e6,
        ok as f64 / secs(server_cpu)
    );
    drop(running);
    rt.shutdown_timeout(Duration::from_secs(2));
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "registrations failed");
}
