//! The media of one call, without I/O and without a clock inside.
//!
//! A call's media is a set of **legs** and **bridges**:
//!
//! * a leg is one RTP endpoint, named by the [`LegId`] its owner chose:
//!   its latching, codec (G.711 law), RFC 4733 digits, RTP timeout, the
//!   prompts played to it, its message tap, and its one outbound RTP
//!   stream (one SSRC for its whole life). Legs are added and removed at
//!   any time, any number of them;
//! * a bridge joins legs with a matrix of who hears whom (everybody
//!   everybody else when a leg joins; [`MediaSession::set_hears`] changes
//!   it). A leg is in at most one bridge; joining another moves it, with
//!   no renegotiation since its codec does not change.
//!
//! What a leg hears is decided per listener:
//!
//! * something played to it ([`MediaSession::play`]: IVR prompts,
//!   ringback) wins over everything else until it ends or is stopped;
//! * **exactly one other leg** → that leg's packets are relayed as they
//!   arrive, without decoding (PCMU↔PCMA transcoded per byte, telephone
//!   events given the listener's payload type) — a two-party call is two
//!   such listeners and costs what a plain relay costs;
//! * **several sources**, or a shared source ([`MediaSession::create_source`]:
//!   one music-on-hold player heard by many legs or bridges) → a mix every
//!   20 ms tick: the sources it hears decoded, summed in `i32` (its own
//!   audio is never among them), clipped to `i16`, encoded in its law;
//! * **nothing** → nothing is sent (no packets, not even silence).
//!
//! Whatever a leg hears goes out in its own stream: relayed packets are
//! rewritten with the leg's SSRC, and sequence numbers and timestamps
//! mapped by offsets chosen when the relay starts, so that they run on
//! from the leg's last packet; the first packet after a switch (relay ↔
//! our own audio, or another source) carries the marker bit.
//!
//! An RFC 4733 event is only relayed to a listener that heard it start:
//! the end packets of a key pressed before two legs were bridged (sent
//! three times, RFC 4733 §2.5.1.4) never reach the new listener. In a mix
//! a digit heard by the listener is regenerated in its stream.
//!
//! Taps: the **call recording** takes one leg (left) and the legs it is
//! bridged with, mixed (right), every tick; a **message** tap records one
//! leg for voicemail and `record-audio`, ended by a finish key, silence or
//! its maximum length.
//!
//! The tokio task in [`crate::task`] feeds this with datagrams and ticks
//! and does what it answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_rtp::FRAME_SAMPLES;
use switchyard_rtp::dtmf::DtmfReceiver;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{PacketKind, RtpHeader, RtpPacket, classify};
use switchyard_rtp::player::Player;
use switchyard_rtp::stream::{RtpReceiver, RtpSender, Verdict};
use switchyard_rtp::tones::ToneSpec;

use crate::station::{Station, Tuned};

/// A leg of a call, named by its owner (the call engine uses the same ids
/// for its SIP legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg{}", self.0)
    }
}

/// A bridge, as [`MediaSession::create_bridge`] numbered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeId(pub u32);

/// A shared source, as [`MediaSession::create_source`] numbered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// Who hears a shared source: one leg, or every leg in a bridge (those
/// that join later too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    Leg(LegId),
    Bridge(BridgeId),
}

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

/// What one datagram produced. Kept by the session and reused, so the
/// relay does not allocate per packet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// Packets to send: (the leg whose socket sends it, destination, bytes
    /// in `buf`).
    forwards: Vec<(LegId, SocketAddr, Range<usize>)>,
    buf: Vec<u8>,
    /// A key the sender of the packet pressed.
    pub digit: Option<char>,
    /// The sender's message recording ended (by its finish key).
    pub message_end: Option<MessageEnd>,
    /// The sender is lent to a room: its audio (in this law, at this
    /// range of the datagram) goes there.
    pub lent: Option<(Law, Range<usize>)>,
}

impl Output {
    fn clear(&mut self) {
        self.forwards.clear();
        self.buf.clear();
        self.digit = None;
        self.message_end = None;
        self.lent = None;
    }

    /// Packets to send: from which leg's socket, to where, what.
    pub fn forwards(&self) -> impl Iterator<Item = (LegId, SocketAddr, &[u8])> + '_ {
        self.forwards
            .iter()
            .map(|(leg, to, r)| (*leg, *to, &self.buf[r.clone()]))
    }

    /// The packet for `leg`, if there is one.
    pub fn forward_to(&self, leg: LegId) -> Option<(SocketAddr, &[u8])> {
        self.forwards()
            .find(|(l, _, _)| *l == leg)
            .map(|(_, to, b)| (to, b))
    }
}

/// What one 20 ms tick produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickOutput {
    /// Our own packets: (leg, destination, bytes).
    pub sends: Vec<(LegId, SocketAddr, Vec<u8>)>,
    /// Plays that finished this tick: (leg, the id given to `play`).
    pub played: Vec<(LegId, u64)>,
    /// 20 ms of the call recording: (the recorded leg, what it is bridged
    /// with mixed).
    pub recorded: Option<(Vec<i16>, Vec<i16>)>,
    /// 20 ms of each message being recorded.
    pub messages: Vec<(LegId, Vec<i16>)>,
    /// Message recordings that ended (silence or maximum length).
    pub message_ends: Vec<(LegId, MessageEnd)>,
}

/// A frame whose peak stays under this is silence (about −36 dBFS: line
/// noise and a quiet room, not speech).
const SILENCE_PEAK: i16 = 500;

/// Most decoded audio kept per leg between ticks (100 ms): a leg whose
/// clock runs fast loses its oldest samples rather than drifting a mix or
/// the recording's channels apart.
const HEARD_CAP: usize = 5 * FRAME_SAMPLES;

const FRAME: u32 = FRAME_SAMPLES as u32;

/// Length of a digit regenerated into a mix (samples, 100 ms).
const REGENERATED_DIGIT: u16 = 800;

/// What a leg's outbound stream carries right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutMode {
    /// Nothing since the last switch.
    Idle,
    /// Our own frames (prompts, mixes), from the [`RtpSender`].
    Own,
    /// Packets of `from`'s stream `ssrc`, mapped by the offsets.
    Relay {
        from: LegId,
        ssrc: u32,
        seq_off: u16,
        ts_off: u32,
    },
}

/// One leg's outbound RTP stream: one SSRC, sequence numbers and
/// timestamps that keep increasing whatever it carries.
struct Outbound {
    sender: RtpSender,
    mode: OutMode,
    /// Sequence number of the next packet.
    next_seq: u16,
    /// Timestamp of the last audio packet sent, and when.
    last: Option<(u32, Instant)>,
    /// A digit to regenerate from the next frame of ours: (digit, event
    /// payload type). Started there, once the timeline is where it goes on.
    digit: Option<(char, u8)>,
}

impl Outbound {
    fn new(ssrc: u32) -> Outbound {
        let sender = RtpSender::new(ssrc, 0, (ssrc >> 16) as u16, ssrc.rotate_left(7));
        Outbound {
            next_seq: sender.sequence(),
            sender,
            mode: OutMode::Idle,
            last: None,
            digit: None,
        }
    }

    /// The timestamp to go on with at `now`: the last packet's plus the
    /// time since (at least one frame, so nothing overlaps).
    fn resume_ts(&self, now: Instant) -> u32 {
        match self.last {
            None => self.sender.timestamp(),
            Some((ts, at)) => {
                let samples = now.saturating_duration_since(at).as_micros() * 8 / 1000;
                let samples = u32::try_from(samples).unwrap_or(u32::MAX / 2);
                ts.wrapping_add(samples.clamp(FRAME, u32::MAX / 2))
            }
        }
    }

    /// A packet of `from` relayed into this stream: its marker, sequence
    /// number and timestamp here.
    fn relay(&mut self, now: Instant, from: LegId, h: &RtpHeader, event: bool) -> (bool, u16, u32) {
        let mut marker = h.marker;
        let anchored = matches!(self.mode,
            OutMode::Relay { from: f, ssrc, .. } if f == from && ssrc == h.ssrc);
        if !anchored {
            let ts = self.resume_ts(now);
            self.mode = OutMode::Relay {
                from,
                ssrc: h.ssrc,
                seq_off: self.next_seq.wrapping_sub(h.sequence),
                ts_off: ts.wrapping_sub(h.timestamp),
            };
            // The marker of an event packet means "new event": left alone.
            marker |= !event;
        }
        let OutMode::Relay {
            seq_off, ts_off, ..
        } = self.mode
        else {
            unreachable!("anchored above")
        };
        let seq = h.sequence.wrapping_add(seq_off);
        let ts = h.timestamp.wrapping_add(ts_off);
        if seq.wrapping_sub(self.next_seq) < 0x8000 {
            self.next_seq = seq.wrapping_add(1);
        }
        if !event
            && self
                .last
                .is_none_or(|(l, _)| ts.wrapping_sub(l) < 0x8000_0000)
        {
            self.last = Some((ts, now));
        }
        (marker, seq, ts)
    }

    /// One frame of our own audio, appended to `out` as a packet.
    fn own_frame(&mut self, now: Instant, payload: &[u8], out: &mut Vec<u8>) {
        if self.mode != OutMode::Own {
            let ts = self.resume_ts(now);
            self.sender.resume(self.next_seq, ts);
            self.mode = OutMode::Own;
        }
        if let Some((d, pt)) = self.digit.take() {
            let _ = self.sender.start_digit(d, REGENERATED_DIGIT, pt);
        }
        let ts = self.sender.timestamp();
        self.sender.write_frame(payload, out);
        self.next_seq = self.sender.sequence();
        self.last = Some((ts, now));
    }

    /// A tick of our own audio with nothing to send.
    fn own_skip(&mut self) {
        if self.mode == OutMode::Own {
            self.sender.skip_frame();
        }
    }

    /// A tick on which the leg got nothing of ours: the next frame of ours
    /// starts from the clock again.
    fn not_own(&mut self) {
        if self.mode == OutMode::Own {
            self.mode = OutMode::Idle;
        }
    }
}

struct MessageTap {
    finish_key: Option<char>,
    frames_left: u32,
    silence_frames: u32,
    silent_for: u32,
}

struct Leg {
    id: LegId,
    cfg: Option<LegConfig>,
    receiver: RtpReceiver,
    dtmf: DtmfReceiver,
    /// Timestamp (identity) of the last telephone event this leg sent.
    last_event: Option<u32>,
    out: Outbound,
    player: Player,
    /// The station it listens to (queue music), when the player is idle:
    /// frames taken ready-encoded from the shared loop.
    music: Option<Tuned>,
    /// The play whose end the call engine waits for, by its id.
    reporting: Option<u64>,
    /// When the leg was (re)configured; the RTP timeout counts from the
    /// later of this and its last packet.
    quiet_since: Instant,
    bridge: Option<BridgeId>,
    message: Option<MessageTap>,
    /// Events this leg must not be given: (source, event timestamp) of
    /// events that started before it heard the source.
    muted_events: Vec<(LegId, u32)>,
    /// Its keys are commands to us (a supervisor's 4/5/6): reported,
    /// never relayed or regenerated to anybody.
    keys_private: bool,
    /// Lent to a conference room ([`MediaSession::lend`]): what it says
    /// goes there, what it hears comes from there.
    lent: bool,
    // What `plan` worked out from the bridges and sources:
    /// The legs it hears (ids, and their indices now).
    hears: Vec<LegId>,
    hears_ix: Vec<usize>,
    /// The shared sources it hears (indices).
    hears_shared: Vec<usize>,
    /// It hears exactly one leg: that leg's packets are relayed to it.
    relay_from: Option<LegId>,
    /// It hears several sources: mixed every tick.
    mixes: bool,
    /// The listeners this leg's packets are relayed to (indices).
    relay_to: Vec<usize>,
    /// Its audio is decoded (for a mix or a tap).
    decode: bool,
    /// Decoded audio from this leg not yet taken by a tick.
    heard: VecDeque<i16>,
    /// This tick's 20 ms of it.
    frame: [i16; FRAME_SAMPLES],
    ignored: u64,
    forwarded: u64,
}

impl Leg {
    /// Something of ours is played to it (a prompt or a station): it wins
    /// over what it hears from its bridge.
    fn plays(&self) -> bool {
        self.player.is_playing() || self.music.is_some()
    }

    fn destination(&self) -> Option<SocketAddr> {
        self.receiver
            .latched_source()
            .or(self.cfg.and_then(|c| c.remote))
    }

    /// It starts hearing `source` now: `source`'s event in progress (if
    /// any) is not for it.
    fn mute_events_of(&mut self, source: LegId, last_event: Option<u32>) {
        self.muted_events.retain(|(s, _)| *s != source);
        if let Some(ts) = last_event {
            self.muted_events.push((source, ts));
        }
    }
}

struct Bridge {
    id: BridgeId,
    /// (listener, source) pairs that do not hear each other; everybody
    /// else hears everybody else.
    deaf: Vec<(LegId, LegId)>,
}

struct Source {
    id: SourceId,
    player: Player,
    listeners: Vec<Listener>,
    /// Legs that hear it, as `plan` worked out.
    heard_by: usize,
    frame: [i16; FRAME_SAMPLES],
}

struct CallTap {
    left: LegId,
    paused: bool,
}

/// The media state of one call.
pub struct MediaSession {
    legs: Vec<Leg>,
    bridges: Vec<Bridge>,
    sources: Vec<Source>,
    next_bridge: u32,
    next_source: u32,
    call_tap: Option<CallTap>,
    out: Output,
    encode_buf: Vec<u8>,
}

impl Default for MediaSession {
    fn default() -> Self {
        Self::new()
    }
}

fn clip(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

impl MediaSession {
    /// A session without legs.
    pub fn new() -> MediaSession {
        MediaSession {
            legs: Vec::new(),
            bridges: Vec::new(),
            sources: Vec::new(),
            next_bridge: 0,
            next_source: 0,
            call_tap: None,
            out: Output::default(),
            encode_buf: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    fn ix(&self, leg: LegId) -> Option<usize> {
        self.legs.iter().position(|l| l.id == leg)
    }

    /// Add a leg, not configured yet; `ssrc` is its outbound stream's
    /// synchronisation source for its whole life (random in production).
    /// A leg of that id already there is replaced.
    pub fn add_leg(&mut self, now: Instant, id: LegId, ssrc: u32) {
        self.remove_leg(id);
        self.legs.push(Leg {
            id,
            cfg: None,
            receiver: RtpReceiver::new(8000, now),
            dtmf: DtmfReceiver::new(),
            last_event: None,
            out: Outbound::new(ssrc),
            player: Player::new(),
            music: None,
            reporting: None,
            quiet_since: now,
            bridge: None,
            message: None,
            muted_events: Vec::new(),
            keys_private: false,
            lent: false,
            hears: Vec::new(),
            hears_ix: Vec::new(),
            hears_shared: Vec::new(),
            relay_from: None,
            mixes: false,
            relay_to: Vec::new(),
            decode: false,
            heard: VecDeque::new(),
            frame: [0; FRAME_SAMPLES],
            ignored: 0,
            forwarded: 0,
        });
        self.plan();
    }

    /// Remove a leg (it hung up): out of its bridge, its sources, its taps.
    pub fn remove_leg(&mut self, id: LegId) {
        let Some(i) = self.ix(id) else { return };
        self.legs.remove(i);
        for b in &mut self.bridges {
            b.deaf.retain(|(l, s)| *l != id && *s != id);
        }
        for s in &mut self.sources {
            s.listeners.retain(|l| *l != Listener::Leg(id));
        }
        self.plan();
    }

    /// The legs, in the order they were added.
    pub fn legs(&self) -> impl Iterator<Item = LegId> + '_ {
        self.legs.iter().map(|l| l.id)
    }

    /// The leg answered or renegotiated (re-INVITE): new codec, new
    /// address, and it may latch anew.
    pub fn configure(&mut self, now: Instant, leg: LegId, cfg: LegConfig) {
        let Some(i) = self.ix(leg) else { return };
        let l = &mut self.legs[i];
        if l.cfg.is_some() {
            l.receiver.unlatch();
        }
        // The RTP timeout counts from now: a leg that just answered, or
        // came back from hold, has not had time to send.
        l.quiet_since = now;
        l.out.sender.set_payload_type(cfg.law.payload_type());
        l.cfg = Some(cfg);
    }

    pub fn is_configured(&self, leg: LegId) -> bool {
        self.ix(leg).is_some_and(|i| self.legs[i].cfg.is_some())
    }

    /// A new, empty bridge. Ids are numbered from 0 in creation order.
    pub fn create_bridge(&mut self) -> BridgeId {
        let id = BridgeId(self.next_bridge);
        self.next_bridge += 1;
        self.bridges.push(Bridge {
            id,
            deaf: Vec::new(),
        });
        id
    }

    /// Remove a bridge; its legs are in no bridge any more.
    pub fn destroy_bridge(&mut self, bridge: BridgeId) {
        self.bridges.retain(|b| b.id != bridge);
        for l in &mut self.legs {
            if l.bridge == Some(bridge) {
                l.bridge = None;
            }
        }
        for s in &mut self.sources {
            s.listeners.retain(|l| *l != Listener::Bridge(bridge));
        }
        self.plan();
    }

    /// Put `leg` in `bridge` (out of the one it was in): it hears everybody
    /// there and everybody hears it. False for an unknown leg or bridge.
    pub fn join(&mut self, leg: LegId, bridge: BridgeId) -> bool {
        let Some(i) = self.ix(leg) else { return false };
        if !self.bridges.iter().any(|b| b.id == bridge) {
            return false;
        }
        if self.legs[i].bridge == Some(bridge) {
            return true;
        }
        self.forget_matrix(leg);
        self.legs[i].bridge = Some(bridge);
        self.plan();
        true
    }

    /// Take `leg` out of its bridge: it hears nobody and nobody hears it.
    pub fn leave(&mut self, leg: LegId) {
        let Some(i) = self.ix(leg) else { return };
        if self.legs[i].bridge.take().is_some() {
            self.forget_matrix(leg);
            self.plan();
        }
    }

    fn forget_matrix(&mut self, leg: LegId) {
        for b in &mut self.bridges {
            b.deaf.retain(|(l, s)| *l != leg && *s != leg);
        }
    }

    /// The bridge `leg` is in.
    pub fn bridge_of(&self, leg: LegId) -> Option<BridgeId> {
        self.ix(leg).and_then(|i| self.legs[i].bridge)
    }

    /// Whether `listener` hears `source`, both in `bridge`. False when
    /// either is not in it (or they are the same leg).
    pub fn set_hears(
        &mut self,
        bridge: BridgeId,
        listener: LegId,
        source: LegId,
        on: bool,
    ) -> bool {
        let inside = |s: &Self, l: LegId| s.bridge_of(l) == Some(bridge);
        if listener == source || !inside(self, listener) || !inside(self, source) {
            return false;
        }
        let Some(b) = self.bridges.iter_mut().find(|b| b.id == bridge) else {
            return false;
        };
        b.deaf.retain(|p| *p != (listener, source));
        if !on {
            b.deaf.push((listener, source));
        }
        self.plan();
        true
    }

    /// Lend `leg` to a conference room: it leaves its bridge and what is
    /// played to it stops; from now on its audio is handed out
    /// ([`Output::lent`]) and nothing is sent to it from here (the room
    /// sends on its socket). Its keys are still reported. Returns where
    /// its stream stands, for the room to run on from; `None` for a leg
    /// not configured yet.
    pub fn lend(&mut self, now: Instant, leg: LegId) -> Option<crate::room::Stream> {
        let i = self.ix(leg)?;
        let cfg = self.legs[i].cfg?;
        self.leave(leg);
        let l = &mut self.legs[i];
        l.player.stop();
        l.music = None;
        l.reporting = None;
        l.lent = true;
        let stream = crate::room::Stream {
            law: cfg.law,
            ssrc: l.out.sender.ssrc(),
            seq: l.out.next_seq,
            ts: l.out.resume_ts(now),
            to: l.destination(),
        };
        l.out.mode = OutMode::Idle;
        self.plan();
        Some(stream)
    }

    /// Keep `leg`'s keys to ourselves: they are still reported, but never
    /// relayed or regenerated to the legs that hear it (a supervisor's
    /// mode keys).
    pub fn keep_keys(&mut self, leg: LegId) {
        if let Some(i) = self.ix(leg) {
            self.legs[i].keys_private = true;
        }
    }

    /// Whether `listener` hears `source` now.
    pub fn hears(&self, listener: LegId, source: LegId) -> bool {
        self.ix(listener)
            .is_some_and(|i| self.legs[i].hears.contains(&source))
    }

    /// A source not of any leg, e.g. one music-on-hold player heard by
    /// many legs and bridges: its player advances once per tick, its frame
    /// is mixed into every listener. A source that is not looping goes
    /// silent at its end.
    pub fn create_source(&mut self, items: Vec<PlayItem>, looping: bool) -> SourceId {
        let id = SourceId(self.next_source);
        self.next_source += 1;
        let mut player = Player::new();
        enqueue(&mut player, items);
        player.set_looping(looping);
        self.sources.push(Source {
            id,
            player,
            listeners: Vec::new(),
            heard_by: 0,
            frame: [0; FRAME_SAMPLES],
        });
        id
    }

    pub fn remove_source(&mut self, source: SourceId) {
        self.sources.retain(|s| s.id != source);
        self.plan();
    }

    /// Whether `listener` (a leg, or every leg of a bridge) hears `source`.
    pub fn set_hears_source(&mut self, listener: Listener, source: SourceId, on: bool) -> bool {
        let Some(s) = self.sources.iter_mut().find(|s| s.id == source) else {
            return false;
        };
        s.listeners.retain(|l| *l != listener);
        if on {
            s.listeners.push(listener);
        }
        self.plan();
        true
    }

    /// Work out from the bridges, sources and taps what each leg hears,
    /// relays, mixes and decodes. Run on every change of those, never per
    /// packet.
    fn plan(&mut self) {
        let n = self.legs.len();
        let mut hears: Vec<Vec<LegId>> = Vec::with_capacity(n);
        for i in 0..n {
            let l = &self.legs[i];
            let v = match l
                .bridge
                .and_then(|b| self.bridges.iter().find(|x| x.id == b))
            {
                None => Vec::new(),
                Some(b) => self
                    .legs
                    .iter()
                    .filter(|o| {
                        o.id != l.id && o.bridge == Some(b.id) && !b.deaf.contains(&(l.id, o.id))
                    })
                    .map(|o| o.id)
                    .collect(),
            };
            hears.push(v);
        }
        for s in &mut self.sources {
            s.heard_by = 0;
        }
        let last_events: Vec<(LegId, Option<u32>)> =
            self.legs.iter().map(|l| (l.id, l.last_event)).collect();
        let ids: Vec<LegId> = self.legs.iter().map(|l| l.id).collect();
        for (i, now_hears) in hears.into_iter().enumerate() {
            let shared: Vec<usize> = self
                .sources
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.listeners.iter().any(|x| match *x {
                        Listener::Leg(id) => id == ids[i],
                        Listener::Bridge(b) => self.legs[i].bridge == Some(b),
                    })
                })
                .map(|(k, _)| k)
                .collect();
            for &k in &shared {
                self.sources[k].heard_by += 1;
            }
            let l = &mut self.legs[i];
            for (src, ev) in &last_events {
                if now_hears.contains(src) && !l.hears.contains(src) {
                    l.mute_events_of(*src, *ev);
                }
            }
            let relay_from = match (now_hears.as_slice(), shared.is_empty()) {
                ([one], true) => Some(*one),
                _ => None,
            };
            if relay_from != l.relay_from && matches!(l.out.mode, OutMode::Relay { .. }) {
                l.out.mode = OutMode::Idle;
            }
            l.relay_from = relay_from;
            l.mixes = relay_from.is_none() && !(now_hears.is_empty() && shared.is_empty());
            l.hears_ix = now_hears
                .iter()
                .filter_map(|s| ids.iter().position(|x| x == s))
                .collect();
            l.hears = now_hears;
            l.hears_shared = shared;
            l.relay_to.clear();
        }
        // Who relays to whom, and whose audio is decoded.
        let tapped = self.tapped();
        for i in 0..n {
            if let Some(from) = self.legs[i].relay_from
                && let Some(j) = ids.iter().position(|x| *x == from)
            {
                self.legs[j].relay_to.push(i);
            }
        }
        for j in 0..n {
            let mixed = self.legs.iter().any(|l| l.mixes && l.hears_ix.contains(&j));
            let l = &mut self.legs[j];
            l.decode = mixed || l.message.is_some() || tapped.contains(&l.id);
            if !l.decode {
                l.heard.clear();
            }
        }
    }

    /// The legs the running call recording takes: the left one and those
    /// it hears (a supervisor who only listens or whispers is not heard by
    /// the recorded party, so not recorded either).
    fn tapped(&self) -> Vec<LegId> {
        let Some(tap) = self.call_tap.as_ref().filter(|t| !t.paused) else {
            return Vec::new();
        };
        let Some(i) = self.ix(tap.left) else {
            return Vec::new();
        };
        let mut v = self.legs[i].hears.clone();
        v.push(tap.left);
        v
    }

    /// Play `items` to `leg`, replacing whatever it was playing, over what
    /// it hears from its bridge; its end is reported with `id` (so a stale
    /// end is never mistaken for the end of a later play). A looping queue
    /// (music on hold, ringback) never ends.
    pub fn play(&mut self, leg: LegId, items: Vec<PlayItem>, looping: bool, id: u64) {
        let Some(i) = self.ix(leg) else { return };
        let l = &mut self.legs[i];
        l.player.stop();
        l.music = None;
        enqueue(&mut l.player, items);
        l.player.set_looping(looping);
        l.reporting = (!looping).then_some(id);
    }

    /// Stop what `leg` hears from us; whether something was playing.
    pub fn stop(&mut self, leg: LegId) -> bool {
        let Some(i) = self.ix(leg) else { return false };
        self.legs[i].reporting = None;
        let was = self.legs[i].player.stop() | self.legs[i].music.take().is_some();
        if was {
            self.hearing_resumes(i);
        }
        was
    }

    /// Leg `i` hears its bridge again after a play: events begun meanwhile
    /// are not for it.
    fn hearing_resumes(&mut self, i: usize) {
        for k in 0..self.legs[i].hears_ix.len() {
            let j = self.legs[i].hears_ix[k];
            let (src, ev) = (self.legs[j].id, self.legs[j].last_event);
            self.legs[i].mute_events_of(src, ev);
        }
    }

    pub fn is_playing(&self, leg: LegId) -> bool {
        self.ix(leg).is_some_and(|i| self.legs[i].plays())
    }

    /// Let `leg` listen to `station` (queue music), replacing whatever it
    /// was playing, over what it hears from its bridge, until [`stop`] or a
    /// [`play`]. Like a looping play it never ends; unlike one, nothing is
    /// decoded or encoded for it: it joins the station's timeline where it
    /// is now and is sent the station's ready-encoded frames. Its stream
    /// runs on from its last packet (same SSRC, sequence numbers and
    /// timestamps continuing), as across any two plays.
    ///
    /// [`stop`]: Self::stop
    /// [`play`]: Self::play
    pub fn listen(&mut self, leg: LegId, station: Station) {
        let Some(i) = self.ix(leg) else { return };
        let l = &mut self.legs[i];
        if l.music.as_ref().is_some_and(|m| m.station.same(&station)) {
            return;
        }
        l.player.stop();
        l.reporting = None;
        l.music = Some(Tuned::new(station));
    }

    /// Start recording the conversation: `left` on the left channel, the
    /// legs it is bridged with mixed on the right, every tick.
    pub fn start_recording(&mut self, left: LegId) {
        for l in &mut self.legs {
            l.heard.clear();
        }
        self.call_tap = Some(CallTap {
            left,
            paused: false,
        });
        self.plan();
    }

    /// Pause or resume the call recording (nothing is written meanwhile).
    pub fn pause_recording(&mut self, paused: bool) {
        if let Some(t) = self.call_tap.as_mut() {
            t.paused = paused;
        }
        self.plan();
    }

    pub fn stop_recording(&mut self) {
        self.call_tap = None;
        self.plan();
    }

    /// Start recording what `leg` says, for at most `max`, ended by
    /// `finish_key` or by `silence` without speech.
    pub fn start_message(
        &mut self,
        leg: LegId,
        max: Duration,
        finish_key: Option<char>,
        silence: Duration,
    ) {
        let Some(i) = self.ix(leg) else { return };
        let frames = |d: Duration| (d.as_millis() / 20).max(1) as u32;
        let l = &mut self.legs[i];
        l.heard.clear();
        l.message = Some(MessageTap {
            finish_key,
            frames_left: frames(max),
            silence_frames: frames(silence),
            silent_for: 0,
        });
        self.plan();
    }

    /// End `leg`'s message recording early (the caller hung up).
    pub fn stop_message(&mut self, leg: LegId) {
        if let Some(i) = self.ix(leg) {
            self.legs[i].message = None;
            self.plan();
        }
    }

    /// Whether ticks have work: something to play or mix, or a tap to
    /// fill. The driver only runs its 20 ms clock then, so a plain relayed
    /// call costs no timer wake-ups.
    pub fn needs_tick(&self) -> bool {
        self.call_tap.is_some()
            || self
                .legs
                .iter()
                .any(|l| l.plays() || l.message.is_some() || l.mixes)
    }

    /// Whether arriving packets may wait for the next tick to be read:
    /// the clock runs ([`Self::needs_tick`]), nothing is relayed from any
    /// leg as it arrives, and no leg is lent to a room (whose own clock
    /// would take them late). A packet read at the tick is then used as if
    /// read on arrival — mixed, recorded, its keys reported — since ticks
    /// are where all of that happens, and the driver reads its sockets at
    /// its 20 ms tick instead of waking for every packet: half the wake-ups
    /// for a caller who only listens (hold music, prompts, a queue).
    pub fn reads_at_tick(&self) -> bool {
        self.needs_tick() && self.legs.iter().all(|l| l.relay_to.is_empty() && !l.lent)
    }

    /// Whether all that ticks send is a station's music (a caller waiting
    /// in a queue, or on hold with the queue's music): no prompt, no mix,
    /// no recording, nothing relayed or lent. The driver may then send
    /// several frames at one tick: the station's frames are ready, and
    /// nothing the far end says is waiting to be mixed in.
    pub fn sends_only_music(&self) -> bool {
        self.reads_at_tick()
            && self.call_tap.is_none()
            && self.legs.iter().all(|l| {
                l.message.is_none()
                    && !l.mixes
                    && !l.player.is_playing()
                    && (l.music.is_some() || l.hears.is_empty())
            })
    }

    /// A datagram arrived on `leg`'s RTP socket from `from`.
    pub fn handle(&mut self, now: Instant, leg: LegId, from: SocketAddr, bytes: &[u8]) -> &Output {
        self.out.clear();
        let Some(si) = self.ix(leg) else {
            return &self.out;
        };
        if classify(bytes) != PacketKind::Rtp {
            self.legs[si].ignored += 1;
            return &self.out;
        }
        let Ok(pkt) = RtpPacket::parse(bytes) else {
            self.legs[si].ignored += 1;
            return &self.out;
        };
        let src = &mut self.legs[si];
        let Some(src_cfg) = src.cfg else {
            src.ignored += 1;
            return &self.out;
        };
        if src.receiver.receive(now, from, &pkt) == Verdict::WrongSource {
            src.ignored += 1;
            return &self.out;
        }
        let pt = pkt.header.payload_type;
        let ts = pkt.header.timestamp;
        let is_event = Some(pt) == src_cfg.event_pt;
        let src_law = Law::from_payload_type(pt);
        if is_event {
            src.last_event = Some(ts);
            self.out.digit = src.dtmf.receive(ts, pkt.payload).map(|d| d.digit);
        } else if src.decode
            && let Some(law) = src_law
        {
            src.heard
                .extend(pkt.payload.iter().map(|&b| law.decode_sample(b)));
            let excess = src.heard.len().saturating_sub(HEARD_CAP);
            src.heard.drain(..excess);
        }
        if let Some(d) = self.out.digit {
            if let Some(m) = &src.message
                && m.finish_key == Some(d)
            {
                src.message = None;
                self.out.message_end = Some(MessageEnd::Key(d));
                self.plan();
            }
            if !self.legs[si].keys_private {
                self.regenerate(si, d);
            }
        }
        if is_event && self.legs[si].keys_private {
            return &self.out;
        }
        if self.legs[si].lent {
            if !is_event && let Some(law) = src_law {
                let at = pkt.payload.as_ptr() as usize - bytes.as_ptr() as usize;
                self.out.lent = Some((law, at..at + pkt.payload.len()));
            }
            return &self.out;
        }
        let src_id = self.legs[si].id;
        let payload_at = pkt.payload.as_ptr() as usize - bytes.as_ptr() as usize;
        let payload = payload_at..payload_at + pkt.payload.len();
        let mut forwarded = false;
        for k in 0..self.legs[si].relay_to.len() {
            let di = self.legs[si].relay_to[k];
            let dst = &mut self.legs[di];
            // Nothing is relayed over what we play to the listener.
            let Some(dst_cfg) = dst.cfg.filter(|_| !dst.plays()) else {
                continue;
            };
            let Some(to) = dst.destination() else {
                continue;
            };
            let mut transcode = None;
            let out_pt = if is_event {
                if dst.muted_events.contains(&(src_id, ts)) {
                    continue;
                }
                match dst_cfg.event_pt {
                    Some(p) => p,
                    None => continue,
                }
            } else if let Some(law) = src_law {
                if law != dst_cfg.law {
                    transcode = Some((law, dst_cfg.law));
                }
                dst_cfg.law.payload_type()
            } else {
                pt
            };
            let (marker, seq, out_ts) = dst.out.relay(now, src_id, &pkt.header, is_event);
            let buf = &mut self.out.buf;
            let start = buf.len();
            buf.extend_from_slice(bytes);
            let p = &mut buf[start..];
            p[1] = (u8::from(marker) << 7) | (out_pt & 0x7f);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&out_ts.to_be_bytes());
            p[8..12].copy_from_slice(&dst.out.sender.ssrc().to_be_bytes());
            if let Some((a, b)) = transcode {
                a.transcode(b, &mut p[payload.clone()]);
            }
            let end = buf.len();
            self.out.forwards.push((dst.id, to, start..end));
            forwarded = true;
        }
        if forwarded {
            self.legs[si].forwarded += 1;
        }
        &self.out
    }

    /// Digit `d` from leg `si`: regenerated towards the listeners that mix
    /// it (those it is relayed to get its own event packets).
    fn regenerate(&mut self, si: usize, d: char) {
        for l in &mut self.legs {
            if l.mixes
                && l.hears_ix.contains(&si)
                && !l.plays()
                && let Some(pt) = l.cfg.and_then(|c| c.event_pt)
            {
                l.out.digit = Some((d, pt));
            }
        }
    }

    /// One 20 ms tick at `now`: our own frames for legs we play to or mix
    /// for, the taps' audio.
    pub fn tick(&mut self, now: Instant) -> TickOutput {
        let mut out = TickOutput::default();
        for l in &mut self.legs {
            if l.decode {
                let n = l.heard.len().min(FRAME_SAMPLES);
                for (k, s) in l.heard.drain(..n).enumerate() {
                    l.frame[k] = s;
                }
                l.frame[n..].fill(0);
            }
        }
        for s in &mut self.sources {
            if s.heard_by > 0 {
                s.frame = s.player.next_frame().unwrap_or([0; FRAME_SAMPLES]);
            }
        }
        let mut acc = [0i32; FRAME_SAMPLES];
        let mut pcm = [0i16; FRAME_SAMPLES];
        for i in 0..self.legs.len() {
            let Some(cfg) = self.legs[i].cfg.filter(|_| !self.legs[i].lent) else {
                continue;
            };
            let frame = if self.legs[i].player.is_playing() {
                let l = &mut self.legs[i];
                let frame = l.player.next_frame();
                if frame.is_none() {
                    l.out.own_skip();
                }
                if !l.player.is_playing() {
                    if let Some(id) = l.reporting.take() {
                        out.played.push((l.id, id));
                    }
                    self.hearing_resumes(i);
                }
                frame
            } else if self.legs[i].music.is_some() {
                // The station's frame as it is: no decoding, no encoding.
                let l = &mut self.legs[i];
                let mut bytes = Vec::with_capacity(12 + FRAME_SAMPLES);
                if let Some(music) = l.music.as_mut() {
                    let k = music.next_frame(now);
                    l.out
                        .own_frame(now, music.station.payload(cfg.law, k), &mut bytes);
                }
                if let Some(to) = l.destination() {
                    out.sends.push((l.id, to, bytes));
                }
                continue;
            } else if self.legs[i].mixes {
                acc.fill(0);
                let l = &self.legs[i];
                for &j in &l.hears_ix {
                    for (a, &s) in acc.iter_mut().zip(&self.legs[j].frame) {
                        *a += i32::from(s);
                    }
                }
                for &k in &l.hears_shared {
                    for (a, &s) in acc.iter_mut().zip(&self.sources[k].frame) {
                        *a += i32::from(s);
                    }
                }
                for (p, &a) in pcm.iter_mut().zip(&acc) {
                    *p = clip(a);
                }
                Some(pcm)
            } else {
                self.legs[i].out.not_own();
                None
            };
            let Some(frame) = frame else { continue };
            let l = &mut self.legs[i];
            self.encode_buf.clear();
            cfg.law.encode(&frame, &mut self.encode_buf);
            let mut bytes = Vec::with_capacity(12 + FRAME_SAMPLES);
            l.out.own_frame(now, &self.encode_buf, &mut bytes);
            if let Some(to) = l.destination() {
                out.sends.push((l.id, to, bytes));
            }
        }
        let mut ended = false;
        for l in &mut self.legs {
            let Some(m) = l.message.as_mut() else {
                continue;
            };
            let loud = l
                .frame
                .iter()
                .any(|s| s.unsigned_abs() >= SILENCE_PEAK as u16);
            m.silent_for = if loud { 0 } else { m.silent_for + 1 };
            m.frames_left -= 1;
            out.messages.push((l.id, l.frame.to_vec()));
            let end = if m.frames_left == 0 {
                Some(MessageEnd::MaxLength)
            } else if m.silent_for >= m.silence_frames {
                Some(MessageEnd::Silence)
            } else {
                None
            };
            if let Some(e) = end {
                out.message_ends.push((l.id, e));
                l.message = None;
                ended = true;
            }
        }
        if ended {
            self.plan();
        }
        if let Some(tap) = self.call_tap.as_ref().filter(|t| !t.paused) {
            // Left: the recorded party; right: what it hears of the others.
            let left_ix = self.ix(tap.left);
            let left =
                left_ix.map_or_else(|| vec![0; FRAME_SAMPLES], |i| self.legs[i].frame.to_vec());
            acc.fill(0);
            for &j in left_ix.map_or(&[][..], |i| &self.legs[i].hears_ix[..]) {
                for (a, &s) in acc.iter_mut().zip(&self.legs[j].frame) {
                    *a += i32::from(s);
                }
            }
            let right = acc.iter().map(|&a| clip(a)).collect();
            out.recorded = Some((left, right));
        }
        out
    }

    /// A leg that has sent nothing for `timeout` (dead phone, lost
    /// network): the call should end.
    pub fn timed_out(&self, now: Instant, timeout: Duration) -> Option<LegId> {
        self.legs
            .iter()
            .find(|l| {
                let last = l
                    .receiver
                    .last_packet_at()
                    .map_or(l.quiet_since, |t| t.max(l.quiet_since));
                l.cfg.is_some_and(|c| c.sends) && now.saturating_duration_since(last) >= timeout
            })
            .map(|l| l.id)
    }

    /// Packets relayed from `leg` and packets from it that were ignored.
    pub fn counts(&self, leg: LegId) -> (u64, u64) {
        self.ix(leg)
            .map_or((0, 0), |i| (self.legs[i].forwarded, self.legs[i].ignored))
    }

    /// Where media for `leg` goes now: its latched source, else its SDP.
    pub fn destination(&self, leg: LegId) -> Option<SocketAddr> {
        self.ix(leg).and_then(|i| self.legs[i].destination())
    }

    /// The SSRC of `leg`'s outbound stream.
    pub fn ssrc(&self, leg: LegId) -> Option<u32> {
        self.ix(leg).map(|i| self.legs[i].out.sender.ssrc())
    }
}

pub(crate) fn enqueue(player: &mut Player, items: Vec<PlayItem>) {
    for item in items {
        match item {
            PlayItem::Samples(s) => player.enqueue(s),
            PlayItem::Tone(t) => player.enqueue_tone(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_rtp::dtmf::TelephoneEvent;
    use switchyard_rtp::packet::RtpHeader;
    use switchyard_rtp::packet::RtpPacket;
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

    const CALLER: LegId = LegId(0);
    const AGENT: LegId = LegId(1);

    /// Two legs, not configured, with their SSRCs.
    fn two_legs(now: Instant, ssrcs: [u32; 2]) -> MediaSession {
        let mut s = MediaSession::new();
        s.add_leg(now, CALLER, ssrcs[0]);
        s.add_leg(now, AGENT, ssrcs[1]);
        s
    }

    /// A caller on PCMU (events 101) and an agent on PCMA (events 96),
    /// connected.
    fn bridged(now: Instant) -> MediaSession {
        let mut s = two_legs(now, [1, 2]);
        s.configure(now, CALLER, cfg(Law::Pcmu, 101, 4000));
        s.configure(now, AGENT, cfg(Law::Pcma, 96, 5000));
        let b = s.create_bridge();
        assert!(s.join(CALLER, b) && s.join(AGENT, b));
        s
    }

    fn fwd(out: &Output, to: LegId) -> Option<(SocketAddr, Vec<u8>)> {
        out.forward_to(to).map(|(a, b)| (a, b.to_vec()))
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
        let out = s.handle(t0, CALLER, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]));
        let (to, bytes) = fwd(out, AGENT).unwrap();
        assert_eq!(to, addr(5000), "B has not latched: its SDP address");
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header.payload_type, 8);
        assert!(
            p.payload.iter().all(|&b| b == 0xD5),
            "µ-law silence is A-law silence"
        );
        // B speaks from a NATed address: its media now goes there.
        let back = s.handle(t0, AGENT, addr(6000), &rtp(8, 1, 0, &[0xD5; 160]));
        assert_eq!(
            fwd(back, CALLER).unwrap().0,
            addr(4002),
            "A latched on its real source"
        );
        let again = s.handle(t0, CALLER, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]));
        assert_eq!(fwd(again, AGENT).unwrap().0, addr(6000));
    }

    #[test]
    fn a_stranger_is_ignored_once_latched_and_garbage_never_forwarded() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        assert!(
            s.handle(t0, CALLER, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_some()
        );
        assert!(
            s.handle(t0, CALLER, addr(9999), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_none()
        );
        assert!(
            s.handle(t0, CALLER, addr(4002), b"\x00garbage")
                .forward_to(AGENT)
                .is_none()
        );
        assert_eq!(s.counts(CALLER), (1, 2));
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
                CALLER,
                addr(4002),
                &rtp(101, i as u16, 8000, &key(5, end, dur)),
            );
            let (_, bytes) = fwd(out, AGENT).unwrap();
            assert_eq!(RtpPacket::parse(&bytes).unwrap().header.payload_type, 96);
            digits.extend(out.digit);
        }
        assert_eq!(digits, vec!['5']);
    }

    /// A leg lent to a room: its stream is handed over where it stands,
    /// its audio is handed out, its keys still reported, and nothing is
    /// sent to it or relayed from it here.
    #[test]
    fn a_leg_lent_to_a_room_hands_its_audio_out_and_gets_nothing_from_here() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.play(
            CALLER,
            vec![PlayItem::Samples(vec![5i16; 1600].into())],
            false,
            1,
        );
        s.tick(t0);
        let stream = s.lend(t0, CALLER).expect("configured");
        assert_eq!(stream.law, Law::Pcmu);
        assert_eq!(stream.ssrc, 1);
        assert_eq!(stream.to, Some(addr(4000)));
        assert_eq!(s.bridge_of(CALLER), None, "out of its bridge");
        let bytes = rtp(0, 1, 160, &[0x55; 160]);
        let out = s.handle(t0, CALLER, addr(4002), &bytes);
        let (law, range) = out.lent.clone().expect("handed out");
        assert_eq!((law, &bytes[range]), (Law::Pcmu, &[0x55u8; 160][..]));
        assert!(fwd(out, AGENT).is_none());
        let out = s.handle(
            t0,
            CALLER,
            addr(4002),
            &rtp(101, 2, 320, &key(1, false, 160)),
        );
        assert_eq!(out.digit, Some('1'));
        assert!(
            !s.tick(t0).sends.iter().any(|(l, _, _)| *l == CALLER),
            "the room sends to it, not us"
        );
    }

    /// A supervisor's keys switch modes: reported to us, never heard by
    /// the legs that hear the supervisor, relayed or mixed.
    #[test]
    fn a_leg_whose_keys_are_kept_reports_them_and_passes_none_on() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.keep_keys(CALLER);
        let mut digits = Vec::new();
        for (i, end) in [false, true, true].into_iter().enumerate() {
            let out = s.handle(
                t0,
                CALLER,
                addr(4002),
                &rtp(101, i as u16, 8000, &key(5, end, 480)),
            );
            assert!(fwd(out, AGENT).is_none(), "the event is not relayed");
            digits.extend(out.digit);
        }
        assert_eq!(digits, vec!['5']);
        // Audio still is.
        let out = s.handle(t0, CALLER, addr(4002), &rtp(0, 9, 8160, &[0xFF; 160]));
        assert!(fwd(out, AGENT).is_some());
    }

    #[test]
    fn a_silent_leg_times_out_counting_from_when_it_was_configured() {
        let t0 = Instant::now();
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        // The agent answers after a long IVR: it has its own 30 s.
        let t1 = t0 + Duration::from_secs(40);
        s.configure(t1, AGENT, cfg(Law::Pcmu, 101, 5000));
        s.handle(t1, CALLER, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]));
        assert_eq!(
            s.timed_out(t1 + Duration::from_secs(29), Duration::from_secs(30)),
            None
        );
        s.handle(
            t1 + Duration::from_secs(29),
            CALLER,
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
        let mut s = two_legs(t0, [0xAB, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcma, 101, 4000));
        assert!(!s.needs_tick());
        let prompt: Arc<[i16]> = vec![1000i16; 3 * FRAME_SAMPLES + 10].into();
        s.play(CALLER, vec![PlayItem::Samples(prompt)], false, 9);
        assert!(s.needs_tick());
        let mut seqs = Vec::new();
        let mut ended_at = None;
        for i in 0..6 {
            let out = s.tick(t0);
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
    fn packets_wait_for_the_tick_only_while_nothing_is_relayed_or_lent() {
        let t0 = Instant::now();
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        assert!(!s.reads_at_tick(), "no clock: read on arrival");
        // A caller on their own, hearing a prompt (or a queue's music).
        let prompt: Arc<[i16]> = vec![1000i16; 10 * FRAME_SAMPLES].into();
        s.play(CALLER, vec![PlayItem::Samples(prompt.clone())], false, 1);
        assert!(s.reads_at_tick());
        // Bridged with the agent: the agent's packets are relayed to the
        // caller once the prompt ends, and the caller's to the agent now.
        let mut s = bridged(t0);
        s.play(CALLER, vec![PlayItem::Samples(prompt)], false, 1);
        assert!(s.needs_tick() && !s.reads_at_tick());
        // A leg lent to a room: the room takes its audio on its own clock,
        // even while another leg of the call hears a prompt.
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        s.configure(t0, AGENT, cfg(Law::Pcma, 96, 5000));
        s.play(
            CALLER,
            vec![PlayItem::Samples(vec![5i16; 1600].into())],
            false,
            1,
        );
        assert!(s.reads_at_tick());
        s.lend(t0, AGENT).expect("configured");
        assert!(s.needs_tick() && !s.reads_at_tick());
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
            s.handle(t0, CALLER, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_none()
        );
        for _ in 0..100 {
            assert!(s.tick(t0).played.is_empty(), "a looping queue never ends");
        }
        assert!(s.stop(AGENT));
        assert!(
            s.handle(t0, CALLER, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_some()
        );
    }

    /// The packets `leg` was sent on one tick at `now`.
    fn sent_to(s: &mut MediaSession, now: Instant, leg: LegId) -> Vec<RtpHeader> {
        s.tick(now)
            .sends
            .iter()
            .filter(|(l, _, _)| *l == leg)
            .map(|(_, _, b)| RtpPacket::parse(b).unwrap().header)
            .collect()
    }

    #[test]
    fn frames_may_go_in_pairs_only_while_nothing_but_a_stations_music_is_sent() {
        let t0 = Instant::now();
        let music: Arc<[i16]> = vec![300i16; 8000].into();
        let station = Station::new(music, t0);
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        assert!(!s.sends_only_music(), "nothing to send");
        s.listen(CALLER, station.clone());
        assert!(s.sends_only_music(), "a caller waiting with music");
        // Two ticks at once (the driver's pair) send two consecutive
        // frames of the station, numbered one after the other.
        let a = s.tick(t0).sends[0].2.clone();
        let b = s.tick(t0 + Duration::from_millis(20)).sends[0].2.clone();
        let (a, b) = (RtpPacket::parse(&a).unwrap(), RtpPacket::parse(&b).unwrap());
        assert_eq!(b.header.sequence, a.header.sequence.wrapping_add(1));
        assert_eq!(b.header.timestamp, a.header.timestamp.wrapping_add(160));
        // An announcement over the music: one frame a tick again.
        let prompt: Arc<[i16]> = vec![1000i16; 10 * FRAME_SAMPLES].into();
        s.play(CALLER, vec![PlayItem::Samples(prompt)], false, 1);
        assert!(!s.sends_only_music());
        // Bridged with the agent: relayed, one frame a tick.
        let mut s = bridged(t0);
        s.listen(CALLER, station);
        assert!(!s.sends_only_music());
    }

    #[test]
    fn two_legs_on_one_station_hear_the_same_bytes_at_the_same_instant() {
        let t0 = Instant::now();
        let music: Arc<[i16]> = (0..8000)
            .map(|i| ((i * 97) % 20000) as i16)
            .collect::<Vec<_>>()
            .into();
        // On the air since a while before these callers came.
        let station = Station::new(music, t0 - Duration::from_millis(3210));
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        s.configure(t0, AGENT, cfg(Law::Pcmu, 101, 5000));
        s.listen(CALLER, station.clone());
        s.listen(AGENT, station.clone());
        assert!(s.needs_tick() && s.is_playing(CALLER));
        for k in 0..30u64 {
            let now = t0 + Duration::from_millis(20 * k);
            let out = s.tick(now);
            let payloads: Vec<Vec<u8>> = out
                .sends
                .iter()
                .map(|(_, _, b)| RtpPacket::parse(b).unwrap().payload.to_vec())
                .collect();
            assert_eq!(payloads.len(), 2);
            assert_eq!(payloads[0], payloads[1], "tick {k}");
            assert_eq!(
                payloads[0],
                station.payload(Law::Pcmu, station.frame_at(now)),
                "the frame on the air"
            );
        }
        // Each in its own law: an A-law leg gets the A-law encoding of the
        // same instant.
        s.configure(t0, AGENT, cfg(Law::Pcma, 96, 5000));
        let now = t0 + Duration::from_millis(600);
        let out = s.tick(now);
        let (_, _, b) = out.sends.iter().find(|(l, _, _)| *l == AGENT).unwrap();
        let p = RtpPacket::parse(b).unwrap();
        assert_eq!(p.header.payload_type, 8);
        assert_eq!(p.payload, station.payload(Law::Pcma, station.frame_at(now)));
        // Listening again to the same station changes nothing.
        s.listen(CALLER, station);
        assert_eq!(
            sent_to(&mut s, now + Duration::from_millis(20), CALLER).len(),
            1
        );
    }

    #[test]
    fn the_stream_runs_on_from_prompt_to_station_to_prompt() {
        let t0 = Instant::now();
        let mut s = two_legs(t0, [0xAB, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        let station = Station::new(vec![3000i16; 4000].into(), t0);
        let prompt: Arc<[i16]> = vec![1000i16; 3 * FRAME_SAMPLES].into();
        let mut headers = Vec::new();
        let mut k = 0u64;
        let mut tick = |s: &mut MediaSession, headers: &mut Vec<RtpHeader>| {
            let now = t0 + Duration::from_millis(20 * k);
            k += 1;
            let out = s.tick(now);
            headers.extend(
                out.sends
                    .iter()
                    .map(|(_, _, b)| RtpPacket::parse(b).unwrap().header),
            );
            out.played
        };
        s.play(CALLER, vec![PlayItem::Samples(prompt.clone())], false, 1);
        let mut ended = false;
        while !ended {
            ended = tick(&mut s, &mut headers) == vec![(CALLER, 1)];
        }
        // The announcement is over: music, then the next announcement
        // interrupts it, then music again.
        s.listen(CALLER, station.clone());
        for _ in 0..5 {
            tick(&mut s, &mut headers);
        }
        s.play(CALLER, vec![PlayItem::Samples(prompt)], false, 2);
        for _ in 0..3 {
            tick(&mut s, &mut headers);
        }
        s.listen(CALLER, station);
        for _ in 0..3 {
            tick(&mut s, &mut headers);
        }
        assert!(s.stop(CALLER) && !s.is_playing(CALLER) && !s.needs_tick());
        assert_eq!(headers.len(), 3 + 5 + 3 + 3);
        assert!(headers.iter().all(|h| h.ssrc == 0xAB));
        for w in headers.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(FRAME));
        }
    }

    #[test]
    fn a_station_is_not_overheard_by_the_bridge_and_a_play_replaces_it() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.listen(AGENT, Station::new(Vec::<i16>::new().into(), t0));
        assert!(
            s.handle(t0, CALLER, addr(4002), &rtp(0, 1, 0, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_none(),
            "nothing relayed over the music"
        );
        let h = sent_to(&mut s, t0, AGENT);
        assert_eq!(
            h.len(),
            1,
            "an empty prompt's station is silence, still sent"
        );
        s.play(
            AGENT,
            vec![PlayItem::Samples(vec![5i16; 10].into())],
            false,
            7,
        );
        assert_eq!(s.tick(t0).played, vec![(AGENT, 7)]);
        assert!(!s.is_playing(AGENT), "the play replaced the station");
        assert!(
            s.handle(t0, CALLER, addr(4002), &rtp(0, 2, 160, &[0xFF; 160]))
                .forward_to(AGENT)
                .is_some()
        );
    }

    #[test]
    fn the_call_recording_keeps_each_party_on_its_own_channel_and_pauses() {
        let t0 = Instant::now();
        let mut s = bridged(t0);
        s.start_recording(CALLER);
        let mut left = Vec::new();
        let mut right = Vec::new();
        for i in 0..25u16 {
            s.handle(
                t0,
                CALLER,
                addr(4002),
                &rtp(
                    0,
                    i,
                    u32::from(i) * 160,
                    &tone_frame(440.0, usize::from(i) * 160),
                ),
            );
            let out = s.tick(t0);
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
            CALLER,
            addr(4002),
            &rtp(0, 30, 30 * 160, &tone_frame(440.0, 0)),
        );
        assert!(
            s.tick(t0).recorded.is_none(),
            "nothing is written while paused"
        );
        s.pause_recording(false);
        assert!(s.tick(t0).recorded.is_some());
    }

    /// A supervisor in the bridge whom the caller does not hear (listen,
    /// whisper) is not in the caller's recording; once the caller hears
    /// them (barge), they are.
    #[test]
    fn the_recordings_other_channel_is_what_the_recorded_party_hears() {
        const SUP: LegId = LegId(2);
        let t0 = Instant::now();
        let mut s = MediaSession::new();
        let b = s.create_bridge();
        for (leg, port) in [(CALLER, 4000), (AGENT, 5000), (SUP, 6000)] {
            s.add_leg(t0, leg, u32::from(port));
            s.configure(t0, leg, cfg(Law::Pcmu, 101, port));
            assert!(s.join(leg, b));
        }
        // Whisper: only the agent hears the supervisor.
        assert!(s.set_hears(b, CALLER, SUP, false));
        s.start_recording(CALLER);
        let talk = |s: &mut MediaSession, from: usize| {
            let mut right = Vec::new();
            for i in from..from + 25 {
                let at = i * FRAME_SAMPLES;
                let (seq, ts) = (i as u16, (i * FRAME_SAMPLES) as u32);
                s.handle(
                    t0,
                    AGENT,
                    addr(5000),
                    &rtp(0, seq, ts, &tone_frame(700.0, at)),
                );
                s.handle(
                    t0,
                    SUP,
                    addr(6000),
                    &rtp(0, seq, ts, &tone_frame(1300.0, at)),
                );
                right.extend(s.tick(t0).recorded.unwrap().1);
            }
            right
        };
        let right = talk(&mut s, 0);
        assert!(
            tone_amplitude(&right, 700.0) > 3000.0,
            "the agent is recorded"
        );
        assert!(
            tone_amplitude(&right, 1300.0) < 100.0,
            "the whispering supervisor is not"
        );
        // Barge: the caller hears the supervisor, so does the recording.
        assert!(s.set_hears(b, CALLER, SUP, true));
        let right = talk(&mut s, 25);
        assert!(tone_amplitude(&right, 700.0) > 3000.0);
        assert!(tone_amplitude(&right, 1300.0) > 3000.0);
    }

    #[test]
    fn a_message_ends_on_its_finish_key_on_silence_or_at_its_length() {
        let t0 = Instant::now();
        let mut s = two_legs(t0, [1, 2]);
        s.configure(t0, CALLER, cfg(Law::Pcmu, 101, 4000));
        // Finish key.
        s.start_message(
            CALLER,
            Duration::from_secs(60),
            Some('#'),
            Duration::from_secs(5),
        );
        for i in 0..10u16 {
            s.handle(
                t0,
                CALLER,
                addr(4002),
                &rtp(
                    0,
                    i,
                    u32::from(i) * 160,
                    &tone_frame(300.0, usize::from(i) * 160),
                ),
            );
            assert!(!s.tick(t0).messages.is_empty());
        }
        let out = s.handle(
            t0,
            CALLER,
            addr(4002),
            &rtp(101, 11, 9999, &key(11, false, 160)),
        );
        assert_eq!(out.digit, Some('#'));
        assert_eq!(out.message_end, Some(MessageEnd::Key('#')));
        assert!(s.tick(t0).messages.is_empty());
        // Silence: 1 s of nothing after speech.
        s.start_message(
            CALLER,
            Duration::from_secs(60),
            Some('#'),
            Duration::from_secs(1),
        );
        let mut ticks = 0;
        let end = loop {
            ticks += 1;
            if let Some(&(_, e)) = s.tick(t0).message_ends.first() {
                break e;
            }
        };
        assert_eq!((end, ticks), (MessageEnd::Silence, 50));
        // Maximum length, while the caller keeps talking.
        s.start_message(
            CALLER,
            Duration::from_millis(200),
            None,
            Duration::from_secs(1),
        );
        let mut end = None;
        for i in 0..20u16 {
            s.handle(
                t0,
                CALLER,
                addr(4002),
                &rtp(
                    0,
                    100 + i,
                    u32::from(i) * 160,
                    &tone_frame(300.0, usize::from(i) * 160),
                ),
            );
            if let Some(&(_, e)) = s.tick(t0).message_ends.first() {
                end = Some((e, i));
                break;
            }
        }
        assert_eq!(end, Some((MessageEnd::MaxLength, 9)));
    }
}
