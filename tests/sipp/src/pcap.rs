//! Audio for SIPp to send: an RTP stream (G.711 µ-law tones, silence and
//! RFC 4733 key presses) written as a pcap file that SIPp's
//! `play_pcap_audio` replays with its recorded timing, to the address the
//! far end's SDP gives.
//!
//! ```no_run
//! let mut rtp = switchyard_sipp::pcap::RtpScript::new();
//! rtp.silence(500).digit('1', 120).tone(440.0, 1000);
//! rtp.write_pcap(std::path::Path::new("/tmp/caller.pcap")).unwrap();
//! ```
//!
//! The packets are IPv4/UDP in Ethernet frames (the link type SIPp reads);
//! addresses and ports are placeholders that SIPp rewrites.

use std::io::Write;
use std::path::Path;

/// 20 ms of 8 kHz audio.
const FRAME: usize = 160;
/// The telephone-event payload type the scenarios offer.
pub const EVENT_PT: u8 = 101;

/// An RTP stream being scripted, 20 ms a packet.
#[derive(Debug, Clone)]
pub struct RtpScript {
    /// (send time in µs, RTP packet)
    packets: Vec<(u64, Vec<u8>)>,
    seq: u16,
    /// RTP timestamp of the next audio frame.
    timestamp: u32,
    ssrc: u32,
    /// Samples produced so far, for continuous tone phase.
    sample: u64,
    /// Next send time, µs.
    at_us: u64,
    marker: bool,
}

impl Default for RtpScript {
    fn default() -> Self {
        Self::new()
    }
}

fn ulaw(sample: i16) -> u8 {
    // ITU-T G.711 µ-law: bias, segment, 4-bit mantissa, inverted.
    const BIAS: i32 = 0x84;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = (s + BIAS).min(0x7FFF);
    let mut exp = 7;
    let mut mask = 0x4000;
    while exp > 0 && s & mask == 0 {
        exp -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exp + 3)) & 0x0F;
    !(sign | (exp << 4) as u8 | mantissa as u8)
}

impl RtpScript {
    pub fn new() -> RtpScript {
        RtpScript {
            packets: Vec::new(),
            seq: 1000,
            timestamp: 16_000,
            ssrc: 0x5157_0001,
            sample: 0,
            at_us: 0,
            marker: true,
        }
    }

    fn push(&mut self, marker: bool, pt: u8, timestamp: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(if marker { 0x80 } else { 0 } | pt);
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.packets.push((self.at_us, p));
        self.seq = self.seq.wrapping_add(1);
        self.at_us += 20_000;
    }

    fn audio(&mut self, ms: u32, f: impl Fn(u64) -> i16) -> &mut Self {
        for _ in 0..(ms / 20) {
            let frame: Vec<u8> = (0..FRAME as u64)
                .map(|i| ulaw(f(self.sample + i)))
                .collect();
            let marker = std::mem::take(&mut self.marker);
            self.push(marker, 0, self.timestamp, &frame);
            self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
            self.sample += FRAME as u64;
        }
        self
    }

    /// A sine tone at `freq` Hz for `ms` (amplitude about −10 dBFS).
    pub fn tone(&mut self, freq: f64, ms: u32) -> &mut Self {
        self.audio(ms, |n| {
            (10_000.0 * (2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin()) as i16
        })
    }

    /// Silence (µ-law zero) for `ms`.
    pub fn silence(&mut self, ms: u32) -> &mut Self {
        self.audio(ms, |_| 0)
    }

    /// A key held for `ms` as RFC 4733 telephone-events: one event every
    /// 20 ms with a growing duration, then three end packets, all with the
    /// timestamp of the event's start; audio resumes after it.
    pub fn digit(&mut self, key: char, ms: u32) -> &mut Self {
        let event = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => key as u8 - b'A' + 12,
            other => panic!("{other:?} is not a DTMF key"),
        };
        let start = self.timestamp;
        let frames = (ms / 20).max(1);
        for i in 1..=frames {
            let duration = (i * FRAME as u32) as u16;
            self.push(
                i == 1,
                EVENT_PT,
                start,
                &[event, 10, (duration >> 8) as u8, duration as u8],
            );
        }
        let duration = (frames * FRAME as u32) as u16;
        for _ in 0..3 {
            let at = self.at_us;
            self.push(
                false,
                EVENT_PT,
                start,
                &[event, 0x80 | 10, (duration >> 8) as u8, duration as u8],
            );
            // The end packets go out together, as phones send them.
            self.at_us = at;
        }
        self.at_us += 20_000;
        self.timestamp = self.timestamp.wrapping_add(frames * FRAME as u32);
        self.sample += u64::from(frames) * FRAME as u64;
        self
    }

    /// How long the stream lasts.
    pub fn duration_ms(&self) -> u64 {
        self.at_us / 1000
    }

    /// Write the stream as a pcap file (Ethernet, IPv4, UDP).
    pub fn write_pcap(&self, path: &Path) -> std::io::Result<()> {
        let mut out = Vec::new();
        // Global header: magic, version 2.4, GMT, accuracy, snaplen,
        // link type 1 (Ethernet).
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        let base_s: u64 = 1_700_000_000;
        for (at_us, rtp) in &self.packets {
            let udp_len = 8 + rtp.len();
            let ip_len = 20 + udp_len;
            let mut frame = Vec::with_capacity(14 + ip_len);
            frame.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
            let mut ip = vec![
                0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
            ];
            ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            let sum = ip
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum::<u32>();
            let folded = (sum & 0xFFFF) + (sum >> 16);
            let checksum = !((folded & 0xFFFF) + (folded >> 16)) as u16;
            ip[10..12].copy_from_slice(&checksum.to_be_bytes());
            frame.extend_from_slice(&ip);
            frame.extend_from_slice(&6000u16.to_be_bytes());
            frame.extend_from_slice(&6002u16.to_be_bytes());
            frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
            frame.extend_from_slice(&0u16.to_be_bytes());
            frame.extend_from_slice(rtp);
            let ts = base_s * 1_000_000 + at_us;
            out.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
        std::fs::File::create(path)?.write_all(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_g711_reference_points() {
        assert_eq!(ulaw(0), 0xFF);
        assert_eq!(ulaw(-1), 0x7F);
        assert_eq!(ulaw(32_767), 0x80);
        assert_eq!(ulaw(-32_768), 0x00);
    }

    #[test]
    fn a_key_press_is_one_event_with_three_end_packets() {
        let mut s = RtpScript::new();
        s.silence(40).digit('#', 100).silence(20);
        let pts: Vec<u8> = s.packets.iter().map(|(_, p)| p[1] & 0x7f).collect();
        assert_eq!(pts, vec![0, 0, 101, 101, 101, 101, 101, 101, 101, 101, 0]);
        let events: Vec<&Vec<u8>> = s
            .packets
            .iter()
            .map(|(_, p)| p)
            .filter(|p| p[1] & 0x7f == 101)
            .collect();
        assert!(
            events.iter().all(|p| p[4..8] == events[0][4..8]),
            "one timestamp per key press"
        );
        assert_eq!(events[0][12], 11);
        assert_eq!(events.iter().filter(|p| p[13] & 0x80 != 0).count(), 3);
        assert_eq!(
            events[0][1] & 0x80,
            0x80,
            "the first event packet is marked"
        );
        let times: Vec<u64> = s.packets.iter().map(|(t, _)| *t).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(s.duration_ms(), 40 + 100 + 20 + 20);
    }

    #[test]
    fn the_file_is_a_pcap_sipp_can_read() {
        let mut s = RtpScript::new();
        s.tone(440.0, 60);
        let path = std::env::temp_dir().join(format!("sy-pcap-{}.pcap", std::process::id()));
        s.write_pcap(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        // 24-byte header, then 3 records of 16 + 14 + 20 + 8 + 172 bytes.
        assert_eq!(bytes.len(), 24 + 3 * (16 + 14 + 20 + 8 + 172));
    }
}
