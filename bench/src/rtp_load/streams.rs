//! The RTP generator and measurer: one UDP socket per call leg, G.711
//! PCMU packets of 20 ms (160 bytes, 50 a second) sent from it at exact
//! 1 ms-slotted pacing, and the packets relayed to it counted.
//!
//! Every packet carries, in its payload, the sending leg's id, its index,
//! the measurement window it was sent in, the time it was due and the time
//! it actually left (nanoseconds since a common base, same process, same
//! clock). So the receiver knows per stream what was lost, duplicated or
//! reordered, and the transit time of every packet, whatever the relay in
//! between did to sequence numbers or SSRCs.
//!
//! Sending happens on plain threads (a sleep to each 1 ms slot, then every
//! stream due in it); receiving on a tokio runtime, one task per socket.
//! The socket is shared (one fd duplicated) so packets leave from the
//! address the relay latches onto, as a phone's would.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::hist::{Hist, Snapshot};

pub const PACKET_MS: u64 = 20;
const PAYLOAD: usize = 160;
const HEADER: usize = 12;
const MAGIC: u32 = 0x5359_4d52; // "SYMR"
/// A packet this late is useless to a phone's jitter buffer.
const LATE_NS: u64 = 60_000_000;

/// What a probe packet says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub stream: u32,
    pub index: u32,
    pub window: u32,
    pub due_ns: u64,
    pub sent_ns: u64,
}

impl Probe {
    /// An RTP packet (PCMU, 20 ms) carrying this probe; the rest of the
    /// payload is µ-law silence.
    pub fn write(&self, ssrc: u32, buf: &mut [u8; HEADER + PAYLOAD]) {
        buf[0] = 0x80;
        buf[1] = if self.index == 0 { 0x80 } else { 0 }; // marker, PT 0
        buf[2..4].copy_from_slice(&(self.index as u16).to_be_bytes());
        buf[4..8].copy_from_slice(&self.index.wrapping_mul(160).to_be_bytes());
        buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
        let p = &mut buf[HEADER..];
        p[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        p[4..8].copy_from_slice(&self.stream.to_be_bytes());
        p[8..12].copy_from_slice(&self.index.to_be_bytes());
        p[12..16].copy_from_slice(&self.window.to_be_bytes());
        p[16..24].copy_from_slice(&self.due_ns.to_be_bytes());
        p[24..32].copy_from_slice(&self.sent_ns.to_be_bytes());
        p[32..].fill(0xFF);
    }

    /// The probe in a received RTP packet (no CSRCs or extension: the
    /// relays under test forward the header as it came).
    pub fn read(packet: &[u8]) -> Option<Probe> {
        if packet.len() < HEADER + 32 || packet[0] >> 6 != 2 {
            return None;
        }
        let p = &packet[HEADER..];
        let u32_at = |i: usize| u32::from_be_bytes(p[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_be_bytes(p[i..i + 8].try_into().expect("8 bytes"));
        (u32_at(0) == MAGIC).then(|| Probe {
            stream: u32_at(4),
            index: u32_at(8),
            window: u32_at(12),
            due_ns: u64_at(16),
            sent_ns: u64_at(24),
        })
    }
}

/// Counters of one stream (one sending leg) in the current window.
#[derive(Default)]
struct StreamStats {
    sent: AtomicU32,
    received: AtomicU32,
    duplicates: AtomicU32,
    reordered: AtomicU32,
    late: AtomicU32,
    /// Sums of the RFC 3550 jitter estimate at each packet, ns, and the
    /// number of packets summed: the mean estimate over the window.
    jitter_path_sum: AtomicU64,
    jitter_rtp_sum: AtomicU64,
    jitter_n: AtomicU32,
    jitter_send_sum: AtomicU64,
    jitter_send_n: AtomicU32,
    /// Its call is over: it sends no more.
    stopped: AtomicBool,
}

struct Shared {
    base: Instant,
    /// The window the senders stamp on packets (0: not measured).
    window_tx: AtomicU32,
    /// The window the receivers count (kept after the senders stop, for
    /// packets still in flight).
    window_rx: AtomicU32,
    stop: AtomicBool,
    streams: Box<[StreamStats]>,
    transit: Hist,
    lateness: Hist,
    send_errors: AtomicU64,
    /// Packets a socket got from a second stream: cross-talk.
    foreign: AtomicU64,
    /// Datagrams that were not our probes.
    garbage: AtomicU64,
    /// Every datagram the legs received.
    received: AtomicU64,
    /// Datagrams that were not our probes, never reset.
    non_probes: AtomicU64,
}

impl Shared {
    fn ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// A bound leg, receiving; it sends once [`Generator::start`] gives it a
/// destination.
pub struct Leg {
    pub id: u32,
    pub local: SocketAddr,
    sock: std::net::UdpSocket,
}

struct SendStream {
    id: u32,
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    ssrc: u32,
    index: u32,
    /// RFC 3550 jitter of our own pacing (due → sent), ns.
    jitter: f64,
    last_lateness: Option<i64>,
    /// Sends µ-law silence (no probe): a participant who says nothing.
    silent: bool,
}

pub struct Generator {
    shared: Arc<Shared>,
    senders: Vec<mpsc::Sender<SendStream>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    next_id: AtomicU32,
    ip: IpAddr,
    ports: (u16, u16),
    next_port: Mutex<u16>,
    rt: tokio::runtime::Handle,
}

/// The figures of one measurement window.
#[derive(Debug, Default, Clone)]
pub struct WindowStats {
    pub streams: u32,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub streams_with_loss: u32,
    pub max_stream_loss_pct: f64,
    pub duplicates: u64,
    pub reordered: u64,
    pub late: u64,
    /// Mean over streams of the mean RFC 3550 jitter, µs: of the path
    /// (from the time each packet left), of the RTP timeline (from the
    /// time it was due: what a phone would see), and of our own pacing.
    pub jitter_path_us: f64,
    pub jitter_path_max_us: f64,
    pub jitter_rtp_us: f64,
    pub jitter_send_us: f64,
    pub transit_p50_us: f64,
    pub transit_p99_us: f64,
    pub transit_p999_us: f64,
    pub transit_max_us: f64,
    pub lateness_p50_us: f64,
    pub lateness_p99_us: f64,
    pub lateness_max_us: f64,
    pub send_errors: u64,
    pub foreign: u64,
    pub garbage: u64,
}

impl Generator {
    /// `max_streams` legs at most, bound on `ip` in `ports`; `tx_threads`
    /// pacing threads; receivers on `rt`.
    pub fn new(
        ip: IpAddr,
        ports: (u16, u16),
        max_streams: usize,
        tx_threads: usize,
        rt: tokio::runtime::Handle,
    ) -> Generator {
        let shared = Arc::new(Shared {
            base: Instant::now(),
            window_tx: AtomicU32::new(0),
            window_rx: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            streams: (0..max_streams).map(|_| StreamStats::default()).collect(),
            transit: Hist::default(),
            lateness: Hist::default(),
            send_errors: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            garbage: AtomicU64::new(0),
            received: AtomicU64::new(0),
            non_probes: AtomicU64::new(0),
        });
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for n in 0..tx_threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let sh = shared.clone();
            let spread = tx_threads.max(1) as u32;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("rtp-send-{n}"))
                    .spawn(move || send_loop(&sh, &rx, spread))
                    .expect("sender thread"),
            );
            senders.push(tx);
        }
        Generator {
            shared,
            senders,
            threads: Mutex::new(threads),
            next_id: AtomicU32::new(0),
            ip,
            ports,
            next_port: Mutex::new(ports.0),
            rt,
        }
    }

    fn bind(&self) -> io::Result<std::net::UdpSocket> {
        let (low, high) = self.ports;
        let mut next = self.next_port.lock().expect("port lock");
        for _ in low..=high {
            let port = *next;
            *next = if port >= high { low } else { port + 1 };
            if let Ok(s) = std::net::UdpSocket::bind((self.ip, port)) {
                return Ok(s);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("no free port in {low}-{high}"),
        ))
    }

    /// Bind a leg and start receiving on it.
    pub fn open(&self) -> io::Result<Leg> {
        let id = self.next_id.fetch_add(1, Relaxed);
        if id as usize >= self.shared.streams.len() {
            return Err(io::Error::other("more legs than --max-calls allows"));
        }
        let sock = self.bind()?;
        sock.set_nonblocking(true)?;
        let local = sock.local_addr()?;
        let rx = sock.try_clone()?;
        let sh = self.shared.clone();
        self.rt.spawn(async move {
            match tokio::net::UdpSocket::from_std(rx) {
                Ok(s) => receive_loop(&sh, s).await,
                Err(e) => eprintln!("rtp-load: receiving socket: {e}"),
            }
        });
        Ok(Leg { id, local, sock })
    }

    /// Send from `leg` to `dest` every 20 ms from now on.
    pub fn start(&self, leg: Leg, dest: SocketAddr) {
        self.start_with(leg, dest, false);
    }

    /// As [`Generator::start`]; `silent` sends µ-law silence instead of
    /// probes (a conference participant who does not talk; probes are
    /// loud as audio).
    pub fn start_with(&self, leg: Leg, dest: SocketAddr, silent: bool) {
        let n = self.senders.len();
        let s = SendStream {
            id: leg.id,
            sock: leg.sock,
            dest,
            ssrc: 0x1000_0000 ^ leg.id.wrapping_mul(2_654_435_761),
            index: 0,
            jitter: 0.0,
            last_lateness: None,
            silent,
        };
        let _ = self.senders[leg.id as usize % n].send(s);
    }

    /// Begin measurement window `w` (≥ 1): packets sent from now on are
    /// stamped with it and counted where they arrive.
    pub fn begin_window(&self, w: u32) {
        // Whatever trickled in since the last window is not this one's.
        for s in self.shared.streams.iter() {
            reset(s);
        }
        self.shared.transit.take();
        self.shared.lateness.take();
        self.shared.send_errors.store(0, Relaxed);
        self.shared.foreign.store(0, Relaxed);
        self.shared.garbage.store(0, Relaxed);
        self.shared.window_rx.store(w, Relaxed);
        self.shared.window_tx.store(w, Relaxed);
    }

    /// Stop stamping; packets in flight are still counted until
    /// [`Generator::collect`].
    pub fn end_sending(&self) {
        self.shared.window_tx.store(0, Relaxed);
    }

    /// The window's figures; counting stops.
    pub fn collect(&self) -> WindowStats {
        let sh = &self.shared;
        sh.window_rx.store(0, Relaxed);
        let mut w = WindowStats::default();
        let (mut jp, mut jr, mut js, mut jn, mut jsn) = (0.0, 0.0, 0.0, 0u32, 0u32);
        for s in sh.streams.iter() {
            let sent = u64::from(s.sent.load(Relaxed));
            if sent == 0 {
                continue;
            }
            let got = u64::from(s.received.load(Relaxed));
            w.streams += 1;
            w.sent += sent;
            w.received += got;
            let lost = sent.saturating_sub(got);
            w.lost += lost;
            if lost > 0 {
                w.streams_with_loss += 1;
                w.max_stream_loss_pct =
                    w.max_stream_loss_pct.max(100.0 * lost as f64 / sent as f64);
            }
            w.duplicates += u64::from(s.duplicates.load(Relaxed));
            w.reordered += u64::from(s.reordered.load(Relaxed));
            w.late += u64::from(s.late.load(Relaxed));
            let n = s.jitter_n.load(Relaxed);
            if n > 0 {
                let path = s.jitter_path_sum.load(Relaxed) as f64 / f64::from(n) / 1e3;
                jp += path;
                jr += s.jitter_rtp_sum.load(Relaxed) as f64 / f64::from(n) / 1e3;
                jn += 1;
                w.jitter_path_max_us = w.jitter_path_max_us.max(path);
            }
            let n = s.jitter_send_n.load(Relaxed);
            if n > 0 {
                js += s.jitter_send_sum.load(Relaxed) as f64 / f64::from(n) / 1e3;
                jsn += 1;
            }
        }
        if jn > 0 {
            w.jitter_path_us = jp / f64::from(jn);
            w.jitter_rtp_us = jr / f64::from(jn);
        }
        if jsn > 0 {
            w.jitter_send_us = js / f64::from(jsn);
        }
        let us = |ns: u64| ns as f64 / 1e3;
        let t: Snapshot = sh.transit.take();
        w.transit_p50_us = us(t.quantile(0.5));
        w.transit_p99_us = us(t.quantile(0.99));
        w.transit_p999_us = us(t.quantile(0.999));
        w.transit_max_us = us(t.max());
        let l = sh.lateness.take();
        w.lateness_p50_us = us(l.quantile(0.5));
        w.lateness_p99_us = us(l.quantile(0.99));
        w.lateness_max_us = us(l.max());
        w.send_errors = sh.send_errors.load(Relaxed);
        w.foreign = sh.foreign.load(Relaxed);
        w.garbage = sh.garbage.load(Relaxed);
        w
    }

    /// Datagrams received that were not our probes, since the start (not
    /// reset by windows): what the system under test sent of its own, e.g.
    /// the music `queue-wait` callers hear.
    /// Leg `id`'s call is over: it sends no more.
    pub fn stop_stream(&self, id: u32) {
        if let Some(s) = self.shared.streams.get(id as usize) {
            s.stopped.store(true, Relaxed);
        }
    }

    /// Every datagram received so far, probes or not.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Relaxed)
    }

    pub fn non_probes(&self) -> u64 {
        self.shared.non_probes.load(Relaxed)
    }

    /// Stop sending and receiving.
    pub fn stop(&self) {
        self.shared.stop.store(true, Relaxed);
        for t in self.threads.lock().expect("threads lock").drain(..) {
            let _ = t.join();
        }
    }
}

fn reset(s: &StreamStats) {
    for a in [
        &s.sent,
        &s.received,
        &s.duplicates,
        &s.reordered,
        &s.late,
        &s.jitter_n,
        &s.jitter_send_n,
    ] {
        a.store(0, Relaxed);
    }
    for a in [&s.jitter_path_sum, &s.jitter_rtp_sum, &s.jitter_send_sum] {
        a.store(0, Relaxed);
    }
}

/// One RFC 3550 §6.4.1 jitter step: `j += (|D| − j) / 16`, where D is the
/// difference of two consecutive transit times.
pub fn jitter_step(j: f64, previous_transit: Option<i64>, transit: i64) -> f64 {
    match previous_transit {
        Some(p) => j + (((transit - p).abs() as f64) - j) / 16.0,
        None => j,
    }
}

/// The pacing loop of one sender thread: every millisecond, the streams
/// whose slot it is (a stream's slot is fixed, so its packets are exactly
/// 20 ms apart on the schedule; the schedule is what the RTP timestamps
/// say, the actual departure is measured).
fn send_loop(sh: &Shared, rx: &mpsc::Receiver<SendStream>, spread: u32) {
    let slots_n = PACKET_MS as usize;
    let mut slots: Vec<Vec<SendStream>> = (0..slots_n).map(|_| Vec::new()).collect();
    let mut tick = sh.base.elapsed().as_millis() as u64 + 1;
    let mut buf = [0u8; HEADER + PAYLOAD];
    while !sh.stop.load(Relaxed) {
        while let Ok(s) = rx.try_recv() {
            slots[(s.id / spread) as usize % slots_n].push(s);
        }
        let due = sh.base + Duration::from_millis(tick);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let window = sh.window_tx.load(Relaxed);
        let due_ns = tick * 1_000_000;
        for s in &mut slots[tick as usize % slots_n] {
            if sh.streams[s.id as usize].stopped.load(Relaxed) {
                continue;
            }
            let sent_ns = sh.ns();
            Probe {
                stream: s.id,
                index: s.index,
                window,
                due_ns,
                sent_ns,
            }
            .write(s.ssrc, &mut buf);
            if s.silent {
                buf[HEADER..].fill(0xFF);
            }
            if s.sock.send_to(&buf, s.dest).is_err() {
                sh.send_errors.fetch_add(1, Relaxed);
            }
            s.index = s.index.wrapping_add(1);
            let lateness = sent_ns as i64 - due_ns as i64;
            s.jitter = jitter_step(s.jitter, s.last_lateness, lateness);
            s.last_lateness = Some(lateness);
            if window != 0 {
                let st = &sh.streams[s.id as usize];
                st.sent.fetch_add(1, Relaxed);
                st.jitter_send_sum.fetch_add(s.jitter as u64, Relaxed);
                st.jitter_send_n.fetch_add(1, Relaxed);
                sh.lateness.record(lateness.max(0) as u64);
            }
        }
        tick += 1;
    }
}

/// What a receiving socket remembers of the stream it hears.
struct RxState {
    stream: u32,
    highest: u32,
    /// Bit i: packet `highest − i` arrived.
    seen: u64,
    jitter_path: f64,
    jitter_rtp: f64,
    last_path: Option<i64>,
    last_rtp: Option<i64>,
}

async fn receive_loop(sh: &Shared, sock: tokio::net::UdpSocket) {
    let mut buf = [0u8; 2048];
    let mut state: Option<RxState> = None;
    loop {
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            // ICMP errors surface here: keep listening.
            Err(_) if !sh.stop.load(Relaxed) => continue,
            Err(_) => return,
        };
        if sh.stop.load(Relaxed) {
            return;
        }
        sh.received.fetch_add(1, Relaxed);
        let now = sh.ns();
        let Some(p) = Probe::read(&buf[..n]) else {
            sh.garbage.fetch_add(1, Relaxed);
            sh.non_probes.fetch_add(1, Relaxed);
            continue;
        };
        if p.stream as usize >= sh.streams.len() {
            sh.garbage.fetch_add(1, Relaxed);
            continue;
        }
        let st = state.get_or_insert(RxState {
            stream: p.stream,
            highest: p.index,
            seen: 0,
            jitter_path: 0.0,
            jitter_rtp: 0.0,
            last_path: None,
            last_rtp: None,
        });
        let counted = p.window != 0 && p.window == sh.window_rx.load(Relaxed);
        if st.stream != p.stream {
            // Another call's media on this leg: the relay crossed calls.
            if counted {
                sh.foreign.fetch_add(1, Relaxed);
            }
            continue;
        }
        let path = now as i64 - p.sent_ns as i64;
        let rtp = now as i64 - p.due_ns as i64;
        st.jitter_path = jitter_step(st.jitter_path, st.last_path, path);
        st.jitter_rtp = jitter_step(st.jitter_rtp, st.last_rtp, rtp);
        st.last_path = Some(path);
        st.last_rtp = Some(rtp);
        // Duplicate and order check against a 64-packet window.
        let (duplicate, reordered) = if p.index > st.highest || st.seen == 0 {
            let shift = p.index.wrapping_sub(st.highest);
            st.seen = if st.seen == 0 || shift >= 64 {
                1
            } else {
                (st.seen << shift) | 1
            };
            st.highest = p.index;
            (false, false)
        } else {
            let back = st.highest - p.index;
            if back >= 64 {
                (false, true)
            } else if st.seen & (1 << back) != 0 {
                (true, false)
            } else {
                st.seen |= 1 << back;
                (false, true)
            }
        };
        if !counted {
            continue;
        }
        let s = &sh.streams[p.stream as usize];
        if duplicate {
            s.duplicates.fetch_add(1, Relaxed);
            continue;
        }
        s.received.fetch_add(1, Relaxed);
        if reordered {
            s.reordered.fetch_add(1, Relaxed);
        }
        let transit = path.max(0) as u64;
        if transit > LATE_NS {
            s.late.fetch_add(1, Relaxed);
        }
        sh.transit.record(transit);
        s.jitter_path_sum.fetch_add(st.jitter_path as u64, Relaxed);
        s.jitter_rtp_sum.fetch_add(st.jitter_rtp as u64, Relaxed);
        s.jitter_n.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_survives_the_wire_and_is_a_pcmu_packet() {
        let p = Probe {
            stream: 7,
            index: 70_000,
            window: 3,
            due_ns: 123_456_789_000,
            sent_ns: 123_456_800_000,
        };
        let mut buf = [0u8; HEADER + PAYLOAD];
        p.write(0xabcd, &mut buf);
        assert_eq!(buf.len(), 172);
        assert_eq!(buf[0] >> 6, 2, "RTP version 2");
        assert_eq!(buf[1] & 0x7f, 0, "payload type 0 (PCMU)");
        assert_eq!(
            u16::from_be_bytes([buf[2], buf[3]]),
            (70_000u32 & 0xffff) as u16
        );
        assert_eq!(
            u32::from_be_bytes(buf[4..8].try_into().unwrap()),
            70_000 * 160
        );
        assert_eq!(Probe::read(&buf), Some(p));
        assert_eq!(Probe::read(&buf[..40]), None, "too short");
        buf[HEADER] ^= 1;
        assert_eq!(Probe::read(&buf), None, "not our magic");
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        // Constant transit: no jitter; one 16 ms step moves it 1/16 of the way.
        let mut j = 0.0;
        let mut last = None;
        for t in [5, 5, 5, 5] {
            j = jitter_step(j, last, t);
            last = Some(t);
        }
        assert_eq!(j, 0.0);
        j = jitter_step(j, last, 21);
        assert_eq!(j, 1.0);
    }

    #[test]
    fn two_legs_sending_to_each_other_lose_nothing() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let g = Generator::new(
            "127.0.0.1".parse().unwrap(),
            (47000, 47099),
            4,
            1,
            rt.handle().clone(),
        );
        let (a, b) = (g.open().unwrap(), g.open().unwrap());
        let (a_addr, b_addr) = (a.local, b.local);
        g.start(a, b_addr);
        g.start(b, a_addr);
        std::thread::sleep(Duration::from_millis(100));
        g.begin_window(1);
        std::thread::sleep(Duration::from_millis(300));
        g.end_sending();
        std::thread::sleep(Duration::from_millis(100));
        let w = g.collect();
        g.stop();
        assert_eq!(w.streams, 2);
        assert!(w.sent >= 20, "300 ms at 50 pps × 2 streams: {}", w.sent);
        assert_eq!(w.received, w.sent);
        assert_eq!((w.lost, w.duplicates, w.foreign, w.garbage), (0, 0, 0, 0));
        assert!(w.transit_p50_us > 0.0 && w.transit_max_us < 100_000.0);
    }
}
