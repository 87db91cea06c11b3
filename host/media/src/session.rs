//! The media of one call, without I/O and without a clock inside.
//!
//! A call has two legs: 0 is the caller, 1 the party it is connected to.
//! What a leg hears comes from one of two places:
//!
//! * **the host** — a [`Player`] queue of prompts and tones (IVR prompts,
//!   ringback while an answered caller waits for an agent, music on hold),
//!   sent as our own RTP stream at 20 ms ticks;
//! * **the other leg** — relayed packet by packet once [`MediaSession::set_relay`]
//!   is on and nothing is being played to the leg.
//!
//! What a leg says can be heard by:
//!
//! * the call engine — RFC 4733 digits, each reported once;
//! * a **call recording** tap — both legs decoded, caller left and agent
//!   right, taken every tick so the channels stay aligned; pausable;
//! * a **message** tap — the caller alone, for voicemail and
//!   `record-audio`, which ends on a finish key, on silence or at its
//!   maximum length.
//!
//! Relay rules (RFC 4961 latching, PCMU↔PCMA transcoding, telephone-event
//! payload types rewritten, RTP timeout) are the same whatever the leg
//! hears. The tokio task in [`crate::task`] feeds this with datagrams and
//! ticks and does what it answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_rtp::FRAME_SAMPLES;
use switchyard_rtp::dtmf::DtmfReceiver;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{PacketKind, RtpPacket, classify};
use switchyard_rtp::player::Player;
use switchyard_rtp::stream::{RtpReceiver, RtpSender, Verdict};
use switchyard_rtp::tones::ToneSpec;

/// Leg numbers.
pub const CALLER: usize = 0;
pub const AGENT: usize = 1;

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

/// Something to play to a leg.
#[derive(Debug, Clone)]
pub enum PlayItem {
    /// 8 kHz mono samples (a decoded prompt file), shared between calls.
    Samples(Arc<[i16]>),
    Tone(ToneSpec),
}

/// Why a message recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageEnd {
    /// The caller pressed the finish key.
    Key(char),
    /// The caller said nothing for the silence limit.
    Silence,
    /// The maximum length was reached.
    MaxLength,
}

/// What one datagram produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// Bytes for the other leg, and where they go.
    pub forward: Option<(SocketAddr, Vec<u8>)>,
    /// A key the sender of the packet pressed.
    pub digit: Option<char>,
    /// The message recording ended (by its finish key).
    pub message_end: Option<MessageEnd>,
}

/// What one 20 ms tick produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickOutput {
    /// Our own packets: (leg, destination, bytes).
    pub sends: Vec<(usize, SocketAddr, Vec<u8>)>,
    /// Plays that finished this tick: (leg, the id given to `play`).
    pub played: Vec<(usize, u64)>,
    /// 20 ms of the call recording: (caller, agent).
    pub recorded: Option<(Vec<i16>, Vec<i16>)>,
    /// 20 ms of the message being recorded.
    pub message: Option<Vec<i16>>,
    /// The message recording ended (silence or maximum length).
    pub message_end: Option<MessageEnd>,
}

/// A frame whose peak stays under this is silence (about −36 dBFS: line
/// noise and a quiet room, not speech).
const SILENCE_PEAK: i16 = 500;

/// Most decoded audio kept per leg between ticks (100 ms): a leg whose
/// clock runs fast loses its oldest samples rather than drifting the
/// recording's channels apart.
const HEARD_CAP: usize = 5 * FRAME_SAMPLES;

struct Leg {
    cfg: Option<LegConfig>,
    receiver: RtpReceiver,
    dtmf: DtmfReceiver,
    /// Our own stream towards this leg (prompts, tones, music).
    sender: RtpSender,
    player: Player,
    /// The play whose end the call engine waits for, by its id.
    reporting: Option<u64>,
    /// When the leg was (re)configured; the RTP timeout counts from the
    /// later of this and its last packet.
    quiet_since: Instant,
    /// Decoded audio from this leg not yet taken by a tap.
    heard: VecDeque<i16>,
    ignored: u64,
    forwarded: u64,
}

struct MessageTap {
    finish_key: Option<char>,
    frames_left: u32,
    silence_frames: u32,
    silent_for: u32,
}

/// The media state of one call.
pub struct MediaSession {
    legs: [Leg; 2],
    relay: bool,
    /// The call recording: `Some(paused)` while it runs.
    call_tap: Option<bool>,
    message: Option<MessageTap>,
    encode_buf: Vec<u8>,
}

impl MediaSession {
    /// A session whose legs are not configured yet; `ssrcs` are our own
    /// streams' synchronisation sources (random in production).
    pub fn new(now: Instant, ssrcs: [u32; 2]) -> MediaSession {
        let leg = |ssrc: u32| Leg {
            cfg: None,
            receiver: RtpReceiver::new(8000, now),
            dtmf: DtmfReceiver::new(),
            sender: RtpSender::new(ssrc, 0, (ssrc >> 16) as u16, ssrc.rotate_left(7)),
            player: Player::new(),
            reporting: None,
            quiet_since: now,
            heard: VecDeque::new(),
            ignored: 0,
            forwarded: 0,
        };
        MediaSession {
            legs: [leg(ssrcs[0]), leg(ssrcs[1])],
            relay: false,
            call_tap: None,
            message: None,
            encode_buf: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    /// The leg answered or renegotiated (re-INVITE): new codec, new
    /// address, and it may latch anew.
    pub fn configure(&mut self, now: Instant, leg: usize, cfg: LegConfig) {
        let l = &mut self.legs[leg];
        if l.cfg.is_some() {
            l.receiver.unlatch();
        }
        // The RTP timeout counts from now: a leg that just answered, or
        // came back from hold, has not had time to send.
        l.quiet_since = now;
        l.sender.set_payload_type(cfg.law.payload_type());
        l.cfg = Some(cfg);
    }

    pub fn is_configured(&self, leg: usize) -> bool {
        self.legs[leg].cfg.is_some()
    }

    /// Connect the legs to each other (an agent answered) or not.
    pub fn set_relay(&mut self, on: bool) {
        self.relay = on;
    }

    /// Play `items` to `leg`, replacing whatever it was playing; its end
    /// is reported with `id` (so a stale end is never mistaken for the
    /// end of a later play). A looping queue (music on hold, ringback)
    /// never ends.
    pub fn play(&mut self, leg: usize, items: Vec<PlayItem>, looping: bool, id: u64) {
        let l = &mut self.legs[leg];
        l.player.stop();
        for item in items {
            match item {
                PlayItem::Samples(s) => l.player.enqueue(s),
                PlayItem::Tone(t) => l.player.enqueue_tone(t),
            }
        }
        l.player.set_looping(looping);
        l.reporting = (!looping).then_some(id);
    }

    /// Stop what `leg` hears from us; whether something was playing.
    pub fn stop(&mut self, leg: usize) -> bool {
        let l = &mut self.legs[leg];
        l.reporting = None;
        l.player.stop()
    }

    pub fn is_playing(&self, leg: usize) -> bool {
        self.legs[leg].player.is_playing()
    }

    /// Start recording the conversation (both legs, every tick).
    pub fn start_recording(&mut self) {
        for l in &mut self.legs {
            l.heard.clear();
        }
        self.call_tap = Some(false);
    }

    /// Pause or resume the call recording (nothing is written meanwhile).
    pub fn pause_recording(&mut self, paused: bool) {
        if let Some(p) = self.call_tap.as_mut() {
            *p = paused;
        }
    }

    pub fn stop_recording(&mut self) {
        self.call_tap = None;
    }

    /// Start recording what the caller says, for at most `max`, ended by
    /// `finish_key` or by `silence` without speech.
    pub fn start_message(&mut self, max: Duration, finish_key: Option<char>, silence: Duration) {
        let frames = |d: Duration| (d.as_millis() / 20).max(1) as u32;
        self.legs[CALLER].heard.clear();
        self.message = Some(MessageTap {
            finish_key,
            frames_left: frames(max),
            silence_frames: frames(silence),
            silent_for: 0,
        });
    }

    /// End the message recording early (the caller hung up).
    pub fn stop_message(&mut self) {
        self.message = None;
    }

    /// Whether ticks have work: something to play or a tap to fill. The
    /// driver only runs its 20 ms clock then, so a plain relayed call
    /// costs no timer wake-ups.
    pub fn needs_tick(&self) -> bool {
        self.call_tap.is_some()
            || self.message.is_some()
            || self.legs.iter().any(|l| l.player.is_playing())
    }

    fn taps(&self, leg: usize) -> bool {
        self.call_tap == Some(false) || (leg == CALLER && self.message.is_some())
    }

    /// A datagram arrived on `leg`'s RTP socket from `from`.
    pub fn handle(&mut self, now: Instant, leg: usize, from: SocketAddr, bytes: &[u8]) -> Output {
        let mut out = Output::default();
        let tapped = self.taps(leg);
        if classify(bytes) != PacketKind::Rtp {
            self.legs[leg].ignored += 1;
            return out;
        }
        let Ok(pkt) = RtpPacket::parse(bytes) else {
            self.legs[leg].ignored += 1;
            return out;
        };
        let [a, b] = &mut self.legs;
        let (src, dst) = if leg == 0 { (a, &*b) } else { (b, &*a) };
        let Some(src_cfg) = src.cfg else {
            src.ignored += 1;
            return out;
        };
        if src.receiver.receive(now, from, &pkt) == Verdict::WrongSource {
            src.ignored += 1;
            return out;
        }
        let pt = pkt.header.payload_type;
        let is_event = Some(pt) == src_cfg.event_pt;
        if is_event {
            out.digit = src
                .dtmf
                .receive(pkt.header.timestamp, pkt.payload)
                .map(|d| d.digit);
        } else if tapped && let Some(law) = Law::from_payload_type(pt) {
            src.heard
                .extend(pkt.payload.iter().map(|&b| law.decode_sample(b)));
            let excess = src.heard.len().saturating_sub(HEARD_CAP);
            src.heard.drain(..excess);
        }
        if leg == CALLER
            && let Some(d) = out.digit
            && self
                .message
                .as_ref()
                .is_some_and(|m| m.finish_key == Some(d))
        {
            self.message = None;
            out.message_end = Some(MessageEnd::Key(d));
        }
        // Relay only between connected legs, and not over what we play.
        let Some(dst_cfg) = dst.cfg.filter(|_| self.relay && !dst.player.is_playing()) else {
            return out;
        };
        let Some(to) = dst.receiver.latched_source().or(dst_cfg.remote) else {
            return out;
        };
        let mut header = pkt.header.clone();
        let mut payload = pkt.payload.to_vec();
        if is_event {
            match dst_cfg.event_pt {
                Some(other) => header.payload_type = other,
                None => return out,
            }
        } else if let Some(law) = Law::from_payload_type(pt)
            && law != dst_cfg.law
        {
            law.transcode(dst_cfg.law, &mut payload);
            header.payload_type = dst_cfg.law.payload_type();
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

    /// One 20 ms tick: our own frames for legs we play to, the taps' audio.
    pub fn tick(&mut self) -> TickOutput {
        let mut out = TickOutput::default();
        for (i, l) in self.legs.iter_mut().enumerate() {
            let Some(cfg) = l.cfg else { continue };
            if !l.player.is_playing() {
                continue;
            }
            match l.player.next_frame() {
                Some(frame) => {
                    let to = l.receiver.latched_source().or(cfg.remote);
                    self.encode_buf.clear();
                    cfg.law.encode(&frame, &mut self.encode_buf);
                    let mut bytes = Vec::with_capacity(12 + FRAME_SAMPLES);
                    l.sender.write_frame(&self.encode_buf, &mut bytes);
                    if let Some(to) = to {
                        out.sends.push((i, to, bytes));
                    }
                }
                None => l.sender.skip_frame(),
            }
            if !l.player.is_playing()
                && let Some(id) = l.reporting.take()
            {
                out.played.push((i, id));
            }
        }
        let mut take = |leg: usize| -> Vec<i16> {
            let heard = &mut self.legs[leg].heard;
            let n = heard.len().min(FRAME_SAMPLES);
            let mut frame: Vec<i16> = heard.drain(..n).collect();
            frame.resize(FRAME_SAMPLES, 0);
            frame
        };
        if let Some(m) = self.message.as_mut() {
            let frame = take(CALLER);
            let loud = frame
                .iter()
                .any(|s| s.unsigned_abs() >= SILENCE_PEAK as u16);
            m.silent_for = if loud { 0 } else { m.silent_for + 1 };
            m.frames_left -= 1;
            out.message = Some(frame);
            if m.frames_left == 0 {
                out.message_end = Some(MessageEnd::MaxLength);
            } else if m.silent_for >= m.silence_frames {
                out.message_end = Some(MessageEnd::Silence);
            }
            if out.message_end.is_some() {
                self.message = None;
            }
        }
        if self.call_tap == Some(false) {
            out.recorded = Some((take(CALLER), take(AGENT)));
        }
        out
    }

    /// A leg that has sent nothing for `timeout` (dead phone, lost
    /// network): the call should end.
    pub fn timed_out(&self, now: Instant, timeout: Duration) -> Option<usize> {
        (0..2).find(|&i| {
            let l = &self.legs[i];
            let last = l
                .receiver
                .last_packet_at()
                .map_or(l.quiet_since, |t| t.max(l.quiet_since));
            l.cfg.is_some_and(|c| c.sends) && now.saturating_duration_since(last) >= timeout
        })
    }

    /// Packets relayed from `leg` and packets from it that were ignored.
    pub fn counts(&self, leg: usize) -> (u64, u64) {
        (self.legs[leg].forwarded, self.legs[leg].ignored)
    }

    /// Where media for `leg` goes now: its latched source, else its SDP.
    pub fn destination(&self, leg: usize) -> Option<SocketAddr> {
        let l = &self.legs[leg];
        l.receiver.latched_source().or(l.cfg.and_then(|c| c.remote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_rtp::dtmf::TelephoneEvent;
    use switchyard_rtp::packet::RtpHeader;
    use switchyard_rtp::tones::tone_amplitude;

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

    fn cfg(law: Law, event_pt: u8, port: u16) -> LegConfig {
        LegConfig {
            law,
            event_pt: Some(event_pt),
            remote: Some(addr(port)),
            sends: true,
        }
    }

    /// A caller on PCMU (events 101) and an agent on PCMA (events 96),
    /// connected.
    fn bridged(now: Instant) -> MediaSession {
        let mut s = MediaSession::new(now, [1, 2]);
        s.configure(now, CALLER, cfg(Law::Pcmu, 101, 4000));
        s.configure(now, AGENT, cfg(Law::Pcma, 96, 5000));
        s.set_relay(true);
        s
    }

    fn key(event: u8, end: bool, duration: u16) -> Vec<u8> {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
        .to_vec()
    }

    /// µ-law bytes of a tone at `freq` Hz, 20 ms starting at sample `at`.
    fn tone_frame(freq: f64, at: usize) -> Vec<u8> {
        let samples: Vec<i16> = (at..at + FRAME_SAMPLES)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin()) as i16
            })
            .collect();
        let mut out = Vec::new();
        Law::Pcmu.encode(&samples, &mut out);
        out
    }

    #[test]
    fn audio_is_transcoded_towards_the_other_law_and_latching_wins_over_sdp() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        let out = s.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]));
        let (to, bytes) = out.forward.unwrap();
        assert_eq!(to, addr(5000), "B has not latched: its SDP address");
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header.payload_type, 8);
        assert!(
            p.payload.iter().all(|&b| b == 0xD5),
            "µ-law silence is A-law silence"
        );
        // B speaks from a NATed address: its media now goes there.
        let back = s.handle(t0, 1, addr(6000), &rtp(8, 1, 0, &[0xD5; 160]));
        assert_eq!(
            back.forward.unwrap().0,
            addr(4002),
            "A latched on its real source"
        );
        let again = s.handle(t0, 0, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]));
        assert_eq!(again.forward.unwrap().0, addr(6000));
    }

    #[test]
    fn a_stranger_is_ignored_once_latched_and_garbage_never_forwarded() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        assert!(
            s.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward
                .is_some()
        );
        assert!(
            s.handle(t0, 0, addr(9999), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward
                .is_none()
        );
        assert!(
            s.handle(t0, 0, addr(4002), b"\x00garbage")
                .forward
                .is_none()
        );
        assert_eq!(s.counts(0), (1, 2));
    }

    #[test]
    fn digits_are_reported_once_and_forwarded_with_the_other_legs_event_type() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
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
            let out = s.handle(
                t0,
                0,
                addr(4002),
                &rtp(101, i as u16, 8000, &key(5, end, dur)),
            );
            let (_, bytes) = out.forward.unwrap();
            assert_eq!(RtpPacket::parse(&bytes).unwrap().header.payload_type, 96);
            digits.extend(out.digit);
        }
        assert_eq!(digits, vec!['5']);
    }

    #[test]
    fn a_silent_leg_times_out_counting_from_when_it_was_configured() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        // The agent answers after a long IVR: it has its own 30 s.
        let t1 = t0 + Duration::from_secs(40);
        s.configure(t1, AGENT, cfg(Law::Pcmu, 101, 5000));
        s.handle(t1, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]));
        assert_eq!(
            s.timed_out(t1 + Duration::from_secs(29), Duration::from_secs(30)),
            None
        );
        s.handle(
            t1 + Duration::from_secs(29),
            0,
            addr(4002),
            &rtp(0, 2, 160, &[0xFF; 160]),
        );
        assert_eq!(
            s.timed_out(t1 + Duration::from_secs(31), Duration::from_secs(30)),
            Some(AGENT)
        );
        // A held leg (sendonly from us → it says recvonly) never times out.
        let mut held = cfg(Law::Pcmu, 101, 5000);
        held.sends = false;
        s.configure(t1, AGENT, held);
        assert_eq!(
            s.timed_out(t1 + Duration::from_secs(31), Duration::from_secs(30)),
            None
        );
    }

    #[test]
    fn a_prompt_is_sent_as_our_own_stream_and_its_end_reported() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, [0xAB, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcma, 101, 4000));
        assert!(!s.needs_tick());
        let prompt: Arc<[i16]> = vec![1000i16; 3 * FRAME_SAMPLES + 10].into();
        s.play(CALLER, vec![PlayItem::Samples(prompt)], false, 9);
        assert!(s.needs_tick());
        let mut seqs = Vec::new();
        let mut ended_at = None;
        for i in 0..6 {
            let out = s.tick();
            for (leg, to, bytes) in &out.sends {
                assert_eq!((*leg, *to), (CALLER, addr(4000)));
                let p = RtpPacket::parse(bytes).unwrap();
                assert_eq!(p.header.payload_type, 8, "in the caller's law");
                assert_eq!(p.header.ssrc, 0xAB);
                assert_eq!(p.payload.len(), FRAME_SAMPLES);
                seqs.push(p.header.sequence);
            }
            if out.played == vec![(CALLER, 9)] {
                ended_at.get_or_insert(i);
            }
        }
        assert_eq!(
            seqs.len(),
            4,
            "3 frames and a partial one padded with silence"
        );
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
        assert_eq!(
            ended_at,
            Some(3),
            "reported on the tick that sent the last frame"
        );
        assert!(!s.needs_tick());
    }

    #[test]
    fn what_we_play_to_a_leg_wins_over_the_relay_until_it_stops() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.play(
            AGENT,
            vec![PlayItem::Tone(ToneSpec::ringback(
                switchyard_rtp::tones::Region::Europe,
            ))],
            true,
            1,
        );
        assert!(
            s.handle(t0, 0, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward
                .is_none()
        );
        for _ in 0..100 {
            assert!(s.tick().played.is_empty(), "a looping queue never ends");
        }
        assert!(s.stop(AGENT));
        assert!(
            s.handle(t0, 0, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward
                .is_some()
        );
    }

    #[test]
    fn the_call_recording_keeps_each_party_on_its_own_channel_and_pauses() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.start_recording();
        let mut left = Vec::new();
        let mut right = Vec::new();
        for i in 0..25u16 {
            s.handle(
                t0,
                0,
                addr(4002),
                &rtp(
                    0,
                    i,
                    u32::from(i) * 160,
                    &tone_frame(440.0, usize::from(i) * 160),
                ),
            );
            let out = s.tick();
            let (l, r) = out.recorded.unwrap();
            left.extend(l);
            right.extend(r);
        }
        assert!(
            tone_amplitude(&left, 440.0) > 3000.0,
            "the caller is on the left"
        );
        assert!(right.iter().all(|&x| x == 0), "the agent said nothing");
        s.pause_recording(true);
        s.handle(
            t0,
            0,
            addr(4002),
            &rtp(0, 30, 30 * 160, &tone_frame(440.0, 0)),
        );
        assert!(
            s.tick().recorded.is_none(),
            "nothing is written while paused"
        );
        s.pause_recording(false);
        assert!(s.tick().recorded.is_some());
    }

    #[test]
    fn a_message_ends_on_its_finish_key_on_silence_or_at_its_length() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        // Finish key.
        s.start_message(Duration::from_secs(60), Some('#'), Duration::from_secs(5));
        for i in 0..10u16 {
            s.handle(
                t0,
                0,
                addr(4002),
                &rtp(
                    0,
                    i,
                    u32::from(i) * 160,
                    &tone_frame(300.0, usize::from(i) * 160),
                ),
            );
            assert!(s.tick().message.is_some());
        }
        let out = s.handle(t0, 0, addr(4002), &rtp(101, 11, 9999, &key(11, false, 160)));
        assert_eq!(out.digit, Some('#'));
        assert_eq!(out.message_end, Some(MessageEnd::Key('#')));
        assert!(s.tick().message.is_none());
        // Silence: 1 s of nothing after speech.
        s.start_message(Duration::from_secs(60), Some('#'), Duration::from_secs(1));
        let mut ticks = 0;
        let end = loop {
            ticks += 1;
            if let Some(e) = s.tick().message_end {
                break e;
            }
        };
        assert_eq!((end, ticks), (MessageEnd::Silence, 50));
        // Maximum length, while the caller keeps talking.
        s.start_message(Duration::from_millis(200), None, Duration::from_secs(1));
        let mut end = None;
        for i in 0..20u16 {
            s.handle(
                t0,
                0,
                addr(4002),
                &rtp(
                    0,
                    100 + i,
                    u32::from(i) * 160,
                    &tone_frame(300.0, usize::from(i) * 160),
                ),
            );
            if let Some(e) = s.tick().message_end {
                end = Some((e, i));
                break;
            }
        }
        assert_eq!(end, Some((MessageEnd::MaxLength, 9)));
    }
}
