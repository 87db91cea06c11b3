//! RFC 4733 telephone-events: the 4-byte payload, a receiver that turns the
//! packet stream of a key press into exactly one digit, and a sender that
//! regenerates a digit as the packet sequence a phone would send.
//!
//! One key press is many packets: a start packet (marker bit set), interim
//! updates every packetisation interval with a growing duration, and the end
//! packet (E bit) sent three times because it is the one that matters. All
//! of them carry the same RTP timestamp, the instant the event began, so that
//! timestamp is the event's identity (RFC 4733 §2.5.1.2).

use thiserror::Error;

/// Length of one event in the payload.
pub const EVENT_LEN: usize = 4;

/// Samples between interim packets (20 ms at 8 kHz).
pub const PACKET_INTERVAL: u32 = 160;

/// Times the end packet is sent (RFC 4733 §2.5.1.4).
pub const END_REPEATS: usize = 3;

/// Default volume (−dBm0) of regenerated events; RFC 4733 §2.3.4 notes
/// 0 to −36 dBm0 must be accepted by receivers.
pub const DEFAULT_VOLUME: u8 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtmfError {
    #[error("telephone-event payload of {0} bytes, need at least 4")]
    TooShort(usize),
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(char),
}

/// One telephone-event (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0–9 digits, 10 `*`, 11 `#`, 12–15 A–D, others non-DTMF.
    pub event: u8,
    /// End of event.
    pub end: bool,
    /// Power level in −dBm0, 0–63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event of a payload. A longer payload (several
    /// events, RFC 4733 §2.5.1.5) is accepted; the rest is not needed to
    /// recognise a digit.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let b = payload
            .get(..EVENT_LEN)
            .ok_or(DtmfError::TooShort(payload.len()))?;
        Ok(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload (reserved bit zero, volume masked to 6 bits).
    pub fn to_bytes(self) -> [u8; EVENT_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            ((self.end as u8) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The DTMF character, if this event is one.
    pub fn digit(self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// Maps an event code to its DTMF character.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Maps a DTMF character (lower-case a–d accepted) to its event code.
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// A digit recognised by [`DtmfReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    pub digit: char,
    /// RTP timestamp of the event's start: its identity.
    pub timestamp: u32,
}

/// How many recent events are remembered, so that a late retransmission of
/// an earlier event's end packet (reordering, the three end packets
/// straddling the next key press) is not taken for a new press.
const HISTORY: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Seen {
    timestamp: u32,
    event: u8,
    ended: bool,
    max_duration: u16,
}

/// Turns telephone-event packets into digits, each reported exactly once.
///
/// A digit is reported on the first packet seen of its event, whichever it
/// is: reporting at the start lets a key press interrupt a prompt without
/// waiting for the key to be released, and if the start packet was lost an
/// interim or end packet still brings the digit in.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    recent: Vec<Seen>,
    next_slot: usize,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload).
    /// Returns the digit when this packet is the first of a new DTMF event;
    /// `None` for repeats, non-DTMF events and malformed payloads.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Option<DtmfDigit> {
        let ev = TelephoneEvent::parse(payload).ok()?;
        if let Some(seen) = self.recent.iter_mut().find(|s| s.timestamp == timestamp) {
            seen.ended |= ev.end;
            seen.max_duration = seen.max_duration.max(ev.duration);
            return None;
        }
        // An event longer than 0xFFFF samples (8 s) continues under a new
        // timestamp (RFC 4733 §2.5.1.3): same code, previous segment not
        // ended and at full duration. That is the same key press.
        let continuation = self.last().is_some_and(|last| {
            !last.ended && last.event == ev.event && last.max_duration == u16::MAX
        });
        self.remember(Seen {
            timestamp,
            event: ev.event,
            ended: ev.end,
            max_duration: ev.duration,
        });
        if continuation {
            return None;
        }
        Some(DtmfDigit {
            digit: ev.digit()?,
            timestamp,
        })
    }

    fn last(&self) -> Option<&Seen> {
        if self.recent.is_empty() {
            return None;
        }
        let idx = (self.next_slot + self.recent.len() - 1) % self.recent.len();
        self.recent.get(idx)
    }

    fn remember(&mut self, seen: Seen) {
        if self.recent.len() < HISTORY {
            self.recent.push(seen);
            self.next_slot = self.recent.len() % HISTORY;
        } else {
            self.recent[self.next_slot] = seen;
            self.next_slot = (self.next_slot + 1) % HISTORY;
        }
    }
}

/// One packet of a regenerated event, for the stream to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// When to send it, in samples after the event's start.
    pub offset: u32,
    /// Set on the first packet only.
    pub marker: bool,
    /// RTP timestamp: the event's start, the same on every packet.
    pub timestamp: u32,
    pub event: TelephoneEvent,
}

impl DtmfPacket {
    pub fn payload(&self) -> [u8; EVENT_LEN] {
        self.event.to_bytes()
    }
}

/// Produces the packet sequence of one key press.
#[derive(Debug, Clone, Copy)]
pub struct DtmfSender {
    pub volume: u8,
}

impl Default for DtmfSender {
    fn default() -> Self {
        DtmfSender {
            volume: DEFAULT_VOLUME,
        }
    }
}

impl DtmfSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// The packets for `digit` starting at RTP timestamp `start`, lasting
    /// `duration` samples (rounded up to whole 20 ms packets, at least one).
    ///
    /// The first packet carries the marker bit; one packet follows every
    /// 160 samples with the duration covered so far; the end packet goes out
    /// three times, 20 ms apart, so a single lost packet does not leave the
    /// far end holding the key down.
    pub fn packets(
        &self,
        digit: char,
        start: u32,
        duration: u16,
    ) -> Result<Vec<DtmfPacket>, DtmfError> {
        let event = digit_to_event(digit).ok_or(DtmfError::NotADigit(digit))?;
        let step = PACKET_INTERVAL;
        let frames = u32::from(duration).div_ceil(step).max(1);
        // Keep the total inside the 16-bit field.
        let frames = frames.min(u32::from(u16::MAX) / step);
        let total = frames * step;
        let mut out = Vec::with_capacity(frames as usize + END_REPEATS);
        let te = |end: bool, dur: u32| TelephoneEvent {
            event,
            end,
            volume: self.volume,
            duration: dur as u16,
        };
        for i in 0..frames - 1 {
            out.push(DtmfPacket {
                offset: i * step,
                marker: i == 0,
                timestamp: start,
                event: te(false, (i + 1) * step),
            });
        }
        for r in 0..END_REPEATS as u32 {
            out.push(DtmfPacket {
                offset: (frames - 1 + r) * step,
                marker: frames == 1 && r == 0,
                timestamp: start,
                event: te(true, total),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Prng;

    #[test]
    fn payload_round_trip() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        let bytes = ev.to_bytes();
        assert_eq!(bytes, [11, 0x8a, 0x05, 0x00]);
        assert_eq!(TelephoneEvent::parse(&bytes).unwrap(), ev);
        assert_eq!(ev.digit(), Some('#'));
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(DtmfError::TooShort(3))
        );
        // The reserved bit is ignored on input.
        let ev = TelephoneEvent::parse(&[5, 0x40 | 7, 0, 160]).unwrap();
        assert_eq!(
            (ev.event, ev.end, ev.volume, ev.duration),
            (5, false, 7, 160)
        );
    }

    #[test]
    fn event_digit_mapping() {
        let all = "0123456789*#ABCD";
        for (code, ch) in all.chars().enumerate() {
            assert_eq!(event_to_digit(code as u8), Some(ch));
            assert_eq!(digit_to_event(ch), Some(code as u8));
        }
        assert_eq!(digit_to_event('b'), Some(13));
        assert_eq!(event_to_digit(16), None); // flash
        assert_eq!(digit_to_event('E'), None);
    }

    /// What a typical phone sends for one press: start, interims, 3 ends.
    fn phone_press(event: u8, frames: u16) -> Vec<[u8; 4]> {
        let mut v = Vec::new();
        for i in 1..=frames {
            v.push(
                TelephoneEvent {
                    event,
                    end: false,
                    volume: 10,
                    duration: i * 160,
                }
                .to_bytes(),
            );
        }
        for _ in 0..3 {
            v.push(
                TelephoneEvent {
                    event,
                    end: true,
                    volume: 10,
                    duration: frames * 160,
                }
                .to_bytes(),
            );
        }
        v
    }

    #[test]
    fn each_press_is_reported_once() {
        let mut rx = DtmfReceiver::new();
        let mut got = Vec::new();
        for (n, (ch, code)) in [('1', 1u8), ('1', 1), ('#', 11)].into_iter().enumerate() {
            let ts = 8000 + n as u32 * 4000;
            for p in phone_press(code, 5) {
                if let Some(d) = rx.receive(ts, &p) {
                    assert_eq!(d.digit, ch);
                    assert_eq!(d.timestamp, ts);
                    got.push(d.digit);
                }
            }
        }
        assert_eq!(got, vec!['1', '1', '#']);
    }

    #[test]
    fn lost_start_still_reports_and_late_ends_do_not_repeat() {
        let mut rx = DtmfReceiver::new();
        let first = phone_press(2, 4);
        let second = phone_press(3, 4);
        // Start packet of the first press lost: an interim brings it in.
        assert_eq!(rx.receive(100, &first[1]).map(|d| d.digit), Some('2'));
        assert_eq!(rx.receive(5000, &second[0]).map(|d| d.digit), Some('3'));
        // The first press's end packets arrive late, after the second began.
        for p in &first[4..] {
            assert_eq!(rx.receive(100, p), None);
        }
        for p in &second[1..] {
            assert_eq!(rx.receive(5000, p), None);
        }
        // Garbage and non-DTMF events are not digits.
        assert_eq!(rx.receive(9000, &[1, 2]), None);
        assert_eq!(rx.receive(9100, &[16, 0, 0, 160]), None);
    }

    #[test]
    fn timestamp_wraparound_is_just_another_key() {
        let mut rx = DtmfReceiver::new();
        let ts = u32::MAX - 10;
        let n = phone_press(0, 3)
            .iter()
            .filter_map(|p| rx.receive(ts, p))
            .count();
        assert_eq!(n, 1);
        let n = phone_press(0, 3)
            .iter()
            .filter_map(|p| rx.receive(150, p))
            .count();
        assert_eq!(n, 1);
    }

    #[test]
    fn very_long_press_spanning_segments_is_one_digit() {
        let mut rx = DtmfReceiver::new();
        let full = TelephoneEvent {
            event: 5,
            end: false,
            volume: 10,
            duration: u16::MAX,
        };
        assert!(rx.receive(0, &[5, 10, 0, 160]).is_some());
        assert!(rx.receive(0, &full.to_bytes()).is_none());
        // Next segment starts where the first one's duration ran out.
        assert!(rx.receive(65535, &[5, 10, 0, 160]).is_none());
        assert!(rx.receive(65535, &[5, 0x80 | 10, 1, 0]).is_none());
        // Pressing 5 again afterwards is a new digit.
        assert!(rx.receive(80000, &[5, 10, 0, 160]).is_some());
    }

    #[test]
    fn sender_sequence_shape() {
        let pkts = DtmfSender::new().packets('9', 1000, 800).unwrap();
        // 100 ms: 4 interim (160..640) + 3 ends at 800.
        assert_eq!(pkts.len(), 7);
        assert!(pkts[0].marker);
        assert!(pkts[1..].iter().all(|p| !p.marker));
        assert!(
            pkts.iter()
                .all(|p| p.timestamp == 1000 && p.event.event == 9)
        );
        let durations: Vec<u16> = pkts.iter().map(|p| p.event.duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = pkts.iter().map(|p| p.event.end).collect();
        assert_eq!(ends, vec![false, false, false, false, true, true, true]);
        let offsets: Vec<u32> = pkts.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, vec![0, 160, 320, 480, 640, 800, 960]);
        assert_eq!(pkts[4].payload(), [9, 0x80 | 10, 0x03, 0x20]);
        // A very short press is a marked end packet, three times.
        let short = DtmfSender::new().packets('*', 0, 10).unwrap();
        assert_eq!(short.len(), 3);
        assert!(short[0].marker && short[0].event.end && short[0].event.duration == 160);
        assert!(DtmfSender::new().packets('x', 0, 800).is_err());
    }

    #[test]
    fn sender_output_is_received_as_one_digit() {
        let mut rx = DtmfReceiver::new();
        let mut digits = String::new();
        for (i, ch) in "0123456789*#ABCD".chars().enumerate() {
            let ts = (i as u32) * 2400;
            for p in DtmfSender::new().packets(ch, ts, 1600).unwrap() {
                if let Some(d) = rx.receive(p.timestamp, &p.payload()) {
                    digits.push(d.digit);
                }
            }
        }
        assert_eq!(digits, "0123456789*#ABCD");
    }

    #[test]
    fn random_payloads_never_panic() {
        let mut rng = Prng::new(4733);
        let mut rx = DtmfReceiver::new();
        for _ in 0..20_000 {
            let len = rng.below(9) as usize;
            let p: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            let _ = rx.receive(rng.below(64), &p);
        }
    }
}
