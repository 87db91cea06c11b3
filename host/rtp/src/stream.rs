//! Per-direction RTP stream state: what we send on a leg ([`RtpSender`]) and
//! what we know about what arrives on it ([`RtpReceiver`]).
//!
//! Neither touches a socket or a clock. The sender is called once per 20 ms
//! tick by its driver and writes the packet to send; SSRC and initial
//! sequence/timestamp are chosen by the caller (RFC 3550 wants them random,
//! and randomness is I/O too). The receiver is told each packet's source
//! address and arrival instant and decides whether to accept it (symmetric
//! RTP latching), and keeps the RFC 3550 statistics a receiver report and
//! the RTP timeout need.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dtmf::{DtmfError, DtmfPacket, DtmfSender};
use crate::g711::FRAME_SAMPLES;
use crate::packet::{ReportBlock, RtpHeader, RtpPacket, SenderReport};

const FRAME: u32 = FRAME_SAMPLES as u32;

/// What [`RtpSender::write_frame`] put in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The audio frame.
    Audio,
    /// A telephone-event packet of a digit being sent; the audio frame for
    /// this tick was dropped, as RFC 4733 §2.5.1.1 asks while the event lasts.
    Event,
}

/// The state of one outgoing RTP stream.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    /// Timestamp of the next frame.
    timestamp: u32,
    /// The next packet starts a talkspurt (first packet, or after silence).
    talkspurt: bool,
    packets_sent: u32,
    octets_sent: u32,
    /// Digit being sent: its telephone-event payload type and the packets
    /// not yet sent.
    digit: Option<(u8, std::vec::IntoIter<DtmfPacket>)>,
    dtmf: DtmfSender,
}

impl RtpSender {
    pub fn new(ssrc: u32, payload_type: u8, initial_sequence: u16, initial_timestamp: u32) -> Self {
        RtpSender {
            ssrc,
            payload_type: payload_type & 0x7f,
            sequence: initial_sequence,
            timestamp: initial_timestamp,
            talkspurt: true,
            packets_sent: 0,
            octets_sent: 0,
            digit: None,
            dtmf: DtmfSender::new(),
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number of the next packet.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// Timestamp of the next frame.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Switches codec (after a re-INVITE); the timeline continues.
    /// Payload types are 7 bits; the high bit is dropped.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type & 0x7f;
    }

    pub fn packets_sent(&self) -> u32 {
        self.packets_sent
    }

    pub fn octets_sent(&self) -> u32 {
        self.octets_sent
    }

    pub fn is_sending_digit(&self) -> bool {
        self.digit.is_some()
    }

    /// One 20 ms tick with audio: appends the packet to send to `out`.
    ///
    /// The timestamp then advances by 160 samples. If a digit is being sent
    /// the tick carries its next telephone-event packet instead.
    pub fn write_frame(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Sent {
        let sent = if let Some(packet) = self.next_event_packet() {
            let (event_pt, _) = self.digit.as_ref().expect("digit in progress");
            let header = RtpHeader {
                marker: packet.marker,
                payload_type: *event_pt,
                sequence: self.sequence,
                timestamp: packet.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            };
            self.emit(&header, &packet.payload(), out);
            if self.digit.as_ref().is_some_and(|(_, rest)| rest.len() == 0) {
                self.digit = None;
            }
            Sent::Event
        } else {
            let header = RtpHeader {
                marker: self.talkspurt,
                payload_type: self.payload_type,
                sequence: self.sequence,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            };
            self.emit(&header, payload, out);
            self.talkspurt = false;
            Sent::Audio
        };
        self.timestamp = self.timestamp.wrapping_add(FRAME);
        sent
    }

    /// Continues the stream at `sequence` and `timestamp` after packets
    /// that went out under this SSRC without this sender (relayed packets
    /// rewritten into the stream): the next packet starts a talkspurt
    /// (marker bit) and the timeline runs on from there.
    pub fn resume(&mut self, sequence: u16, timestamp: u32) {
        self.sequence = sequence;
        self.timestamp = timestamp;
        self.talkspurt = true;
    }

    /// One 20 ms tick of silence (nothing to send, e.g. on hold or between
    /// prompts): the timeline advances and the next audio packet is marked
    /// as the start of a talkspurt (RFC 3551 §4.1). A digit in progress
    /// still needs its packets, so use [`write_frame`](Self::write_frame)
    /// until [`is_sending_digit`](Self::is_sending_digit) is false.
    pub fn skip_frame(&mut self) {
        self.timestamp = self.timestamp.wrapping_add(FRAME);
        self.talkspurt = true;
    }

    /// Starts sending `digit` as RFC 4733 events with payload type
    /// `event_payload_type`, lasting `duration` samples; the next ticks of
    /// [`write_frame`](Self::write_frame) carry its packets. A digit already
    /// in progress is replaced.
    pub fn start_digit(
        &mut self,
        digit: char,
        duration: u16,
        event_payload_type: u8,
    ) -> Result<(), DtmfError> {
        let packets = self.dtmf.packets(digit, self.timestamp, duration)?;
        self.digit = Some((event_payload_type & 0x7f, packets.into_iter()));
        Ok(())
    }

    fn next_event_packet(&mut self) -> Option<DtmfPacket> {
        let (_, rest) = self.digit.as_mut()?;
        rest.next()
    }

    fn emit(&mut self, header: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) {
        header
            .write(payload, out)
            .expect("a header without CSRCs or extension always serialises");
        self.sequence = self.sequence.wrapping_add(1);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(payload.len() as u32);
    }

    /// A Sender Report for this stream. `ntp_timestamp` is the wall clock
    /// now and `rtp_timestamp` the media time matching it (both from the
    /// driver, which owns the clocks).
    pub fn sender_report(
        &self,
        ntp_timestamp: u64,
        rtp_timestamp: u32,
        reports: Vec<ReportBlock>,
    ) -> SenderReport {
        SenderReport {
            ssrc: self.ssrc,
            ntp_timestamp,
            rtp_timestamp,
            packet_count: self.packets_sent,
            octet_count: self.octets_sent,
            reports,
        }
    }
}

/// What [`RtpReceiver::receive`] decided about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First packet: the stream is now latched to its source.
    Latched,
    Accepted,
    /// From another address than the latched one: drop it.
    WrongSource,
}

impl Verdict {
    pub fn is_accepted(self) -> bool {
        self != Verdict::WrongSource
    }
}

// RFC 3550 A.1: a jump forward of up to MAX_DROPOUT is loss; a jump back of
// up to MAX_MISORDER is reordering; anything else is a restart candidate.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

#[derive(Debug, Clone)]
struct SeqState {
    base: u32,
    max: u16,
    cycles: u32,
    /// Sequence number that would confirm a restart after a big jump.
    bad: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

impl SeqState {
    fn new(seq: u16) -> Self {
        SeqState {
            base: u32::from(seq),
            max: seq,
            cycles: 0,
            bad: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        }
    }

    fn update(&mut self, seq: u16) {
        let delta = seq.wrapping_sub(self.max);
        if delta < MAX_DROPOUT {
            if seq < self.max {
                self.cycles += 1 << 16;
            }
            self.max = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A big jump: believe it only when the next packet follows it,
            // then treat the stream as restarted (the sender reset itself).
            if self.bad == Some(seq) {
                *self = SeqState::new(seq);
            } else {
                self.bad = Some(seq.wrapping_add(1));
                return;
            }
        }
        // Otherwise a duplicate or late packet: counted, max unchanged.
        self.received += 1;
    }

    fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max)
    }

    fn expected(&self) -> u64 {
        u64::from(self.extended_max()) + 1 - u64::from(self.base)
    }
}

/// The state of one incoming RTP stream.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    created_at: Instant,
    source: Option<SocketAddr>,
    ignored: u64,
    ssrc: Option<u32>,
    seq: Option<SeqState>,
    /// Arrival clock origin, so arrival times can be put in RTP units.
    epoch: Option<Instant>,
    last_transit: Option<u32>,
    last_timestamp: Option<u32>,
    /// RFC 3550 A.8 estimate, in timestamp units.
    jitter: f64,
    last_packet_at: Option<Instant>,
    /// Middle 32 bits of the last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl RtpReceiver {
    /// A receiver for a stream of `clock_rate` Hz (8000 for G.711), set up
    /// at `now` (the RTP timeout counts from here until a packet arrives).
    pub fn new(clock_rate: u32, now: Instant) -> Self {
        RtpReceiver {
            // A zero rate would make every duration infinite.
            clock_rate: clock_rate.max(1),
            created_at: now,
            source: None,
            ignored: 0,
            ssrc: None,
            seq: None,
            epoch: None,
            last_transit: None,
            last_timestamp: None,
            jitter: 0.0,
            last_packet_at: None,
            last_sr: None,
        }
    }

    /// Accounts for one parsed packet from `from`, arriving at `now`.
    ///
    /// The first packet latches the stream to its source address: the far
    /// end behind NAT is wherever its packets come from, not what its SDP
    /// said (symmetric RTP, RFC 4961). After that, packets from any other
    /// address are refused and counted, so nobody can inject audio into a
    /// call by guessing its port.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, packet: &RtpPacket<'_>) -> Verdict {
        let verdict = match self.source {
            None => {
                self.source = Some(from);
                Verdict::Latched
            }
            Some(src) if src == from => Verdict::Accepted,
            Some(_) => {
                self.ignored += 1;
                return Verdict::WrongSource;
            }
        };
        let h = &packet.header;
        if self.ssrc != Some(h.ssrc) {
            // A new SSRC (the phone restarted its stream, e.g. after a
            // transfer) is a new sequence space and timeline.
            self.ssrc = Some(h.ssrc);
            self.seq = Some(SeqState::new(h.sequence));
            self.last_transit = None;
            self.last_timestamp = None;
        }
        if let Some(seq) = self.seq.as_mut() {
            seq.update(h.sequence);
        }
        self.update_jitter(now, h.timestamp);
        self.last_packet_at = Some(now);
        verdict
    }

    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        // Packets repeating the previous timestamp (RFC 4733 event updates,
        // one frame split over packets) were not sampled at their arrival
        // time, so they would read as jitter that is not there.
        if self.last_timestamp == Some(timestamp) {
            return;
        }
        self.last_timestamp = Some(timestamp);
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed = now.saturating_duration_since(epoch).as_nanos();
        let arrival = (elapsed * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Forgets the latched source (after a re-INVITE moved the far end).
    pub fn unlatch(&mut self) {
        self.source = None;
    }

    pub fn latched_source(&self) -> Option<SocketAddr> {
        self.source
    }

    /// Packets refused because they came from another source.
    pub fn ignored_packets(&self) -> u64 {
        self.ignored
    }

    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Packets counted in the current sequence space (duplicates included,
    /// as in RFC 3550).
    pub fn received(&self) -> u64 {
        self.seq.as_ref().map_or(0, |s| s.received)
    }

    /// Packets the sequence numbers say were sent.
    pub fn expected(&self) -> u64 {
        self.seq.as_ref().map_or(0, SeqState::expected)
    }

    /// Expected minus received; negative when duplicates outnumber losses.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received() as i64
    }

    /// Highest sequence number seen, extended with its wrap count.
    pub fn extended_highest_sequence(&self) -> u32 {
        self.seq.as_ref().map_or(0, SeqState::extended_max)
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(self.jitter / f64::from(self.clock_rate))
    }

    pub fn last_packet_at(&self) -> Option<Instant> {
        self.last_packet_at
    }

    /// True when nothing has arrived for `timeout` (since the last packet,
    /// or since creation if none ever came): the call's media is dead.
    pub fn is_timed_out(&self, now: Instant, timeout: Duration) -> bool {
        let since = self.last_packet_at.unwrap_or(self.created_at);
        now.saturating_duration_since(since) >= timeout
    }

    /// Notes a Sender Report from the far end, for the LSR/DLSR fields.
    pub fn on_sender_report(&mut self, now: Instant, sr: &SenderReport) {
        self.last_sr = Some(((sr.ntp_timestamp >> 16) as u32, now));
    }

    /// The report block about this stream for our next SR/RR, starting a
    /// new reporting interval. `None` before any packet arrived.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let jitter = self.jitter();
        let seq = self.seq.as_mut()?;
        let expected = seq.expected();
        let expected_interval = expected - seq.expected_prior;
        let received_interval = seq.received - seq.received_prior;
        seq.expected_prior = expected;
        seq.received_prior = seq.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let cumulative = expected as i64 - seq.received as i64;
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at).as_secs_f64() * 65536.0;
                (lsr, delay.min(f64::from(u32::MAX)) as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: cumulative.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            highest_sequence: seq.extended_max(),
            jitter,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::{DtmfReceiver, TelephoneEvent};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn sender_timeline_and_marker() {
        let mut tx = RtpSender::new(0xabc, 0, 65534, u32::MAX - 160);
        let mut out = Vec::new();
        let mut headers = Vec::new();
        for i in 0..5 {
            out.clear();
            if i == 3 {
                tx.skip_frame();
                continue;
            }
            assert_eq!(tx.write_frame(&[0xff; 160], &mut out), Sent::Audio);
            let p = RtpPacket::parse(&out).unwrap();
            assert_eq!(p.payload.len(), 160);
            headers.push(p.header);
        }
        let got: Vec<(bool, u16, u32)> = headers
            .iter()
            .map(|h| (h.marker, h.sequence, h.timestamp))
            .collect();
        assert_eq!(
            got,
            vec![
                (true, 65534, u32::MAX - 160),
                (false, 65535, u32::MAX - 160 + 160),
                (false, 0, 159),
                // Tick 3 was silence: timestamp skipped 160, new talkspurt.
                (true, 1, 159 + 320),
            ]
        );
        assert!(
            headers
                .iter()
                .all(|h| h.ssrc == 0xabc && h.payload_type == 0)
        );
        assert_eq!(tx.packets_sent(), 4);
        assert_eq!(tx.octets_sent(), 640);
        let sr = tx.sender_report(1 << 32, 1234, vec![]);
        assert_eq!((sr.packet_count, sr.octet_count, sr.ssrc), (4, 640, 0xabc));
        // An out-of-range payload type is cut to 7 bits, never a panic.
        tx.set_payload_type(0x80 | 8);
        out.clear();
        tx.write_frame(&[0xd5; 160], &mut out);
        assert_eq!(RtpPacket::parse(&out).unwrap().header.payload_type, 8);
    }

    #[test]
    fn sender_resumes_after_relayed_packets() {
        let mut tx = RtpSender::new(7, 0, 10, 1000);
        let mut out = Vec::new();
        tx.write_frame(&[0xff; 160], &mut out);
        // Packets 11..=14 went out relayed under this SSRC; we go on.
        tx.resume(15, 5000);
        out.clear();
        tx.write_frame(&[0xff; 160], &mut out);
        let h = RtpPacket::parse(&out).unwrap().header;
        assert_eq!(
            (h.marker, h.sequence, h.timestamp, h.ssrc),
            (true, 15, 5000, 7)
        );
        out.clear();
        tx.write_frame(&[0xff; 160], &mut out);
        let h = RtpPacket::parse(&out).unwrap().header;
        assert_eq!((h.marker, h.sequence, h.timestamp), (false, 16, 5160));
    }

    #[test]
    fn sender_interleaves_a_digit() {
        let mut tx = RtpSender::new(1, 8, 100, 1000);
        let mut rx = DtmfReceiver::new();
        let mut out = Vec::new();
        tx.write_frame(&[0xd5; 160], &mut out);
        tx.start_digit('5', 480, 101).unwrap();
        assert!(tx.start_digit('x', 480, 101).is_err());
        let mut kinds = Vec::new();
        let mut digits = Vec::new();
        let mut seqs = Vec::new();
        for tick in 0..8u32 {
            out.clear();
            kinds.push(tx.write_frame(&[0xd5; 160], &mut out));
            let p = RtpPacket::parse(&out).unwrap();
            seqs.push(p.header.sequence);
            if p.header.payload_type == 101 {
                assert_eq!(p.header.timestamp, 1160);
                let ev = TelephoneEvent::parse(p.payload).unwrap();
                assert_eq!(ev.event, 5);
                if let Some(d) = rx.receive(p.header.timestamp, p.payload) {
                    assert!(p.header.marker);
                    digits.push(d.digit);
                }
            } else {
                assert_eq!(p.header.payload_type, 8);
                // The timeline kept running while the digit was sent.
                assert_eq!(p.header.timestamp, 1160 + tick * 160);
            }
        }
        // 480 samples: 2 interim + 3 end packets, then audio again.
        use Sent::*;
        assert_eq!(
            kinds,
            vec![Event, Event, Event, Event, Event, Audio, Audio, Audio]
        );
        assert_eq!(digits, vec!['5']);
        assert_eq!(seqs, (101..109).collect::<Vec<u16>>());
        assert!(!tx.is_sending_digit());
    }

    fn packet(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        RtpHeader {
            sequence: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        }
        .to_bytes(&[0xff; 160])
        .unwrap()
    }

    fn feed(rx: &mut RtpReceiver, at: Instant, from: SocketAddr, seq: u16, ts: u32) -> Verdict {
        let bytes = packet(seq, ts, 42);
        rx.receive(at, from, &RtpPacket::parse(&bytes).unwrap())
    }

    #[test]
    fn latches_to_the_first_source() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        assert_eq!(rx.latched_source(), None);
        assert_eq!(feed(&mut rx, t0, addr(4000), 1, 0), Verdict::Latched);
        assert_eq!(feed(&mut rx, t0, addr(4000), 2, 160), Verdict::Accepted);
        // Same IP, other port: another source.
        assert_eq!(feed(&mut rx, t0, addr(4002), 3, 320), Verdict::WrongSource);
        assert_eq!(
            feed(
                &mut rx,
                t0,
                SocketAddr::from(([198, 51, 100, 9], 4000)),
                3,
                320
            ),
            Verdict::WrongSource
        );
        assert!(!Verdict::WrongSource.is_accepted());
        assert_eq!(rx.ignored_packets(), 2);
        assert_eq!(rx.received(), 2);
        assert_eq!(rx.latched_source(), Some(addr(4000)));
        rx.unlatch();
        assert_eq!(feed(&mut rx, t0, addr(5000), 3, 320), Verdict::Latched);
        assert_eq!(feed(&mut rx, t0, addr(4000), 4, 480), Verdict::WrongSource);
    }

    #[test]
    fn counts_loss_across_wraparound() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        let mut seq: u16 = 65000;
        let mut sent = 0u64;
        for i in 0..2000u32 {
            // Lose every tenth packet.
            if i % 10 != 9 {
                feed(&mut rx, t0, addr(1), seq, i * 160);
            }
            seq = seq.wrapping_add(1);
            sent += 1;
        }
        assert_eq!(rx.expected(), sent - 1); // the last one was lost: unknown
        assert_eq!(rx.received(), 1800);
        assert_eq!(rx.lost(), 199);
        assert_eq!(
            rx.extended_highest_sequence(),
            (1 << 16) + u32::from(seq) - 2
        );
    }

    #[test]
    fn reordering_and_duplicates() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        for s in [10u16, 12, 11, 13, 13, 14] {
            feed(&mut rx, t0, addr(1), s, u32::from(s) * 160);
        }
        assert_eq!(rx.expected(), 5);
        assert_eq!(rx.received(), 6);
        assert_eq!(rx.lost(), -1);
        assert_eq!(rx.extended_highest_sequence(), 14);
    }

    #[test]
    fn big_jump_needs_confirmation_then_restarts() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        for s in 0..10u16 {
            feed(&mut rx, t0, addr(1), s, 0);
        }
        // One stray packet far ahead is not believed.
        feed(&mut rx, t0, addr(1), 40_000, 0);
        assert_eq!(rx.extended_highest_sequence(), 9);
        assert_eq!(rx.received(), 10);
        feed(&mut rx, t0, addr(1), 10, 0);
        // Two in a row far ahead: the sender restarted.
        feed(&mut rx, t0, addr(1), 50_000, 0);
        feed(&mut rx, t0, addr(1), 50_001, 0);
        assert_eq!(rx.extended_highest_sequence(), 50_001);
        assert_eq!(rx.expected(), 1);
        assert_eq!(rx.received(), 1);
    }

    #[test]
    fn new_ssrc_starts_a_new_sequence_space() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        for s in 0..5u16 {
            feed(&mut rx, t0, addr(1), s, 0);
        }
        let other = packet(30_000, 0, 43);
        rx.receive(t0, addr(1), &RtpPacket::parse(&other).unwrap());
        assert_eq!(rx.ssrc(), Some(43));
        assert_eq!((rx.expected(), rx.received()), (1, 1));
    }

    #[test]
    fn jitter_per_rfc3550() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Perfectly paced: no jitter.
        let mut rx = RtpReceiver::new(8000, t0);
        for i in 0..100u32 {
            feed(
                &mut rx,
                t0 + ms(20 * u64::from(i)),
                addr(1),
                i as u16,
                i * 160,
            );
        }
        assert_eq!(rx.jitter(), 0);
        // Every other packet 10 ms late: |D| = 80 units each time, so the
        // estimate converges to 80 (10 ms).
        let mut rx = RtpReceiver::new(8000, t0);
        for i in 0..300u32 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            let at = t0 + ms(20 * u64::from(i) + late);
            feed(&mut rx, at, addr(1), i as u16, i * 160);
        }
        assert!((78..=80).contains(&rx.jitter()), "jitter {}", rx.jitter());
        let d = rx.jitter_duration();
        assert!(d > ms(9) && d <= ms(10), "{d:?}");
        // Repeated timestamps (DTMF updates every 20 ms) are not jitter.
        let mut rx = RtpReceiver::new(8000, t0);
        for i in 0..50u32 {
            feed(&mut rx, t0 + ms(20 * u64::from(i)), addr(1), i as u16, 800);
        }
        assert_eq!(rx.jitter(), 0);
    }

    #[test]
    fn rtp_timeout() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut rx = RtpReceiver::new(8000, t0);
        assert!(!rx.is_timed_out(t0 + s(29), s(30)));
        assert!(rx.is_timed_out(t0 + s(30), s(30)));
        feed(&mut rx, t0 + s(20), addr(1), 1, 0);
        assert_eq!(rx.last_packet_at(), Some(t0 + s(20)));
        assert!(!rx.is_timed_out(t0 + s(49), s(30)));
        assert!(rx.is_timed_out(t0 + s(50), s(30)));
        // Packets from the wrong source do not keep a call alive.
        feed(&mut rx, t0 + s(45), addr(2), 2, 160);
        assert!(rx.is_timed_out(t0 + s(50), s(30)));
    }

    #[test]
    fn random_streams_keep_consistent_counts() {
        let mut rng = crate::testutil::Prng::new(3550);
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(0, t0);
        let mut from_latched = 0u64;
        let mut from_others = 0u64;
        for i in 0..20_000u64 {
            let src = addr(1 + rng.below(3) as u16);
            let bytes = packet(rng.next_u32() as u16, rng.next_u32(), rng.below(2));
            let at = t0 + Duration::from_micros(i * 20_000 + u64::from(rng.below(5000)));
            match rx.receive(at, src, &RtpPacket::parse(&bytes).unwrap()) {
                Verdict::WrongSource => from_others += 1,
                _ => from_latched += 1,
            }
            if i % 500 == 0 {
                let _ = rx.report_block(at);
            }
        }
        assert_eq!(rx.ignored_packets(), from_others);
        assert!(from_latched > 5000 && from_others > 5000);
        let _ = rx.jitter_duration();
        assert!(rx.received() <= from_latched);
    }

    #[test]
    fn report_blocks() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000, t0);
        assert!(rx.report_block(t0).is_none());
        for s in 0..100u16 {
            if s % 4 != 1 {
                feed(&mut rx, t0, addr(1), s, u32::from(s) * 160);
            }
        }
        rx.on_sender_report(
            t0,
            &SenderReport {
                ntp_timestamp: 0x1234_5678_9abc_def0,
                ..Default::default()
            },
        );
        let rb = rx.report_block(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(rb.ssrc, 42);
        assert_eq!(rb.fraction_lost, 64); // a quarter lost
        assert_eq!(rb.cumulative_lost, 25);
        assert_eq!(rb.highest_sequence, 99);
        assert_eq!(rb.last_sr, 0x5678_9abc);
        assert_eq!(rb.delay_since_last_sr, 32768);
        // Next interval without loss.
        for s in 100..120u16 {
            feed(&mut rx, t0, addr(1), s, u32::from(s) * 160);
        }
        let rb = rx.report_block(t0).unwrap();
        assert_eq!(rb.fraction_lost, 0);
        assert_eq!(rb.cumulative_lost, 25);
    }
}
