//! The relay between the two legs of a call, without I/O.
//!
//! Each packet that arrives on a leg's socket is handed to
//! [`Relay::handle`] with the time and the source address; it says what to
//! send to the other leg, and which digit (if any) the caller pressed.
//!
//! * Latching (symmetric RTP, RFC 4961): the first source a leg hears from
//!   is where that leg's media goes from then on, whatever its SDP said —
//!   that is what makes phones behind NAT work. Packets from any other
//!   source are ignored once latched.
//! * Transcoding: when the legs negotiated different G.711 laws, audio is
//!   converted (PCMU↔PCMA) and its payload type rewritten.
//! * DTMF: RFC 4733 events are reported once per key press and forwarded
//!   with the other leg's telephone-event payload type (dropped when the
//!   other leg has none).
//! * RTP timeout: [`Relay::timed_out`] names a leg that went silent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_rtp::dtmf::DtmfReceiver;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{PacketKind, RtpPacket, classify};
use switchyard_rtp::stream::{RtpReceiver, Verdict};

/// What was negotiated for one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegConfig {
    pub law: Law,
    /// The leg's telephone-event payload type, if it has one.
    pub event_pt: Option<u8>,
    /// Where its SDP says to send RTP (until the leg latches).
    pub remote: Option<SocketAddr>,
    /// The leg said it sends RTP (sendrecv or sendonly): only such a leg
    /// can time out — a held phone is silent on purpose.
    pub sends: bool,
}

/// What one packet produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayOutput {
    /// Bytes for the other leg, and where they go.
    pub forward: Option<(SocketAddr, Vec<u8>)>,
    /// A key the sender of the packet pressed.
    pub digit: Option<char>,
}

struct Leg {
    cfg: LegConfig,
    receiver: RtpReceiver,
    dtmf: DtmfReceiver,
    /// Packets dropped as not RTP or not from the latched source.
    ignored: u64,
    forwarded: u64,
}

/// The relay of one call: leg 0 and leg 1.
pub struct Relay {
    legs: [Leg; 2],
}

impl Relay {
    pub fn new(now: Instant, a: LegConfig, b: LegConfig) -> Relay {
        let leg = |cfg| Leg {
            cfg,
            receiver: RtpReceiver::new(8000, now),
            dtmf: DtmfReceiver::new(),
            ignored: 0,
            forwarded: 0,
        };
        Relay {
            legs: [leg(a), leg(b)],
        }
    }

    /// The leg renegotiated (a re-INVITE): new codec, new address, and it
    /// may latch anew.
    pub fn renegotiate(&mut self, leg: usize, cfg: LegConfig) {
        let l = &mut self.legs[leg];
        l.cfg = cfg;
        l.receiver.unlatch();
    }

    /// Where media for `leg` goes now: its latched source, else its SDP.
    pub fn destination(&self, leg: usize) -> Option<SocketAddr> {
        let l = &self.legs[leg];
        l.receiver.latched_source().or(l.cfg.remote)
    }

    /// A datagram arrived on `leg`'s RTP socket from `from`.
    pub fn handle(
        &mut self,
        now: Instant,
        leg: usize,
        from: SocketAddr,
        bytes: &[u8],
    ) -> RelayOutput {
        let mut out = RelayOutput::default();
        if classify(bytes) != PacketKind::Rtp {
            self.legs[leg].ignored += 1;
            return out;
        }
        let Ok(pkt) = RtpPacket::parse(bytes) else {
            self.legs[leg].ignored += 1;
            return out;
        };
        let (src, dst) = if leg == 0 {
            let [a, b] = &mut self.legs;
            (a, &*b)
        } else {
            let [a, b] = &mut self.legs;
            (b, &*a)
        };
        if src.receiver.receive(now, from, &pkt) == Verdict::WrongSource {
            src.ignored += 1;
            return out;
        }
        let Some(to) = dst.receiver.latched_source().or(dst.cfg.remote) else {
            return out;
        };
        let pt = pkt.header.payload_type;
        let mut header = pkt.header.clone();
        let mut payload = pkt.payload.to_vec();
        if Some(pt) == src.cfg.event_pt {
            out.digit = src
                .dtmf
                .receive(pkt.header.timestamp, pkt.payload)
                .map(|d| d.digit);
            match dst.cfg.event_pt {
                Some(other) => header.payload_type = other,
                None => return out,
            }
        } else if let Some(law) = Law::from_payload_type(pt)
            && law != dst.cfg.law
        {
            law.transcode(dst.cfg.law, &mut payload);
            header.payload_type = dst.cfg.law.payload_type();
        }
        match header.to_bytes(&payload) {
            Ok(bytes) => {
                src.forwarded += 1;
                out.forward = Some((to, bytes));
            }
            Err(_) => src.ignored += 1,
        }
        out
    }

    /// A leg that has sent nothing for `timeout` (dead phone, lost
    /// network): the call should end.
    pub fn timed_out(&self, now: Instant, timeout: Duration) -> Option<usize> {
        (0..2).find(|&i| self.legs[i].cfg.sends && self.legs[i].receiver.is_timed_out(now, timeout))
    }

    /// Packets relayed from `leg` and packets from it that were ignored.
    pub fn counts(&self, leg: usize) -> (u64, u64) {
        (self.legs[leg].forwarded, self.legs[leg].ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_rtp::dtmf::TelephoneEvent;
    use switchyard_rtp::packet::RtpHeader;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], p))
    }

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc: 7,
            csrcs: vec![],
            extension: None,
        }
        .to_bytes(payload)
        .unwrap()
    }

    fn relay(now: Instant) -> Relay {
        Relay::new(
            now,
            LegConfig {
                law: Law::Pcmu,
                event_pt: Some(101),
                remote: Some(addr(4000)),
                sends: true,
            },
            LegConfig {
                law: Law::Pcma,
                event_pt: Some(96),
                remote: Some(addr(5000)),
                sends: true,
            },
        )
    }

    #[test]
    fn audio_is_transcoded_towards_the_other_law_and_latching_wins_over_sdp() {
        let t0 = Instant::now();
        let mut r = relay(t0);
        let ulaw_silence = [0xFFu8; 160];
        let out = r.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &ulaw_silence));
        let (to, bytes) = out.forward.unwrap();
        assert_eq!(to, addr(5000), "B has not latched: its SDP address");
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header.payload_type, 8);
        assert!(
            p.payload.iter().all(|&b| b == 0xD5),
            "µ-law silence is A-law silence"
        );
        // B speaks from a NATed address: its media now goes there.
        let back = r.handle(t0, 1, addr(6000), &rtp(8, 1, 0, &[0xD5; 160]));
        assert_eq!(
            back.forward.unwrap().0,
            addr(4002),
            "A latched on its real source"
        );
        let again = r.handle(t0, 0, addr(4002), &rtp(0, 2, 160, &ulaw_silence));
        assert_eq!(again.forward.unwrap().0, addr(6000));
    }

    #[test]
    fn a_stranger_is_ignored_once_latched_and_garbage_never_forwarded() {
        let t0 = Instant::now();
        let mut r = relay(t0);
        assert!(
            r.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward
                .is_some()
        );
        assert!(
            r.handle(t0, 0, addr(9999), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward
                .is_none()
        );
        assert!(
            r.handle(t0, 0, addr(4002), b"\x00garbage")
                .forward
                .is_none()
        );
        assert_eq!(r.counts(0), (1, 2));
    }

    #[test]
    fn digits_are_reported_once_and_forwarded_with_the_other_legs_event_type() {
        let t0 = Instant::now();
        let mut r = relay(t0);
        let ev = |end, dur| {
            TelephoneEvent {
                event: 5,
                end,
                volume: 10,
                duration: dur,
            }
            .to_bytes()
        };
        let mut digits = Vec::new();
        for (i, (end, dur)) in [
            (false, 160),
            (false, 320),
            (true, 480),
            (true, 480),
            (true, 480),
        ]
        .into_iter()
        .enumerate()
        {
            let out = r.handle(t0, 0, addr(4002), &rtp(101, i as u16, 8000, &ev(end, dur)));
            let (_, bytes) = out.forward.unwrap();
            assert_eq!(RtpPacket::parse(&bytes).unwrap().header.payload_type, 96);
            digits.extend(out.digit);
        }
        assert_eq!(digits, vec!['5']);
    }

    #[test]
    fn a_silent_leg_times_out() {
        let t0 = Instant::now();
        let mut r = relay(t0);
        r.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]));
        let later = t0 + Duration::from_secs(31);
        r.handle(later, 0, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]));
        assert_eq!(r.timed_out(later, Duration::from_secs(30)), Some(1));
    }
}
