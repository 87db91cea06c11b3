//! A conference room's mixer, without I/O and without a clock inside.
//!
//! Every participant is a leg of its own call (its own media task reads
//! its socket); while it is in a room, what it says is handed here
//! ([`Room::push`]) and what it hears is made here, every 20 ms for the
//! whole room at once ([`Room::tick`]), and sent on its own stream (its
//! SSRC, sequence numbers and timestamps running on from its call's).
//!
//! What a participant hears:
//!
//! * something played to it alone (the participant count, "you are
//!   muted") wins until it ends;
//! * while the room waits for its moderator, the waiting music;
//! * otherwise the mix: every participant that **talks** and is not
//!   muted, minus itself, plus the room's tones (joins, leaves). Silent
//!   participants are left out of the sum, so a large room costs what its
//!   talkers cost: everybody who does not talk hears the same sum, which
//!   is encoded once per law and shared.
//!
//! Talking is a frame whose peak passes [`TALK_PEAK`], held for
//! [`HANGOVER`] frames after the last loud one so that the gaps between
//! words do not cut the speaker in and out; a change is reported for the
//! live stream.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use switchyard_rtp::FRAME_SAMPLES;
use switchyard_rtp::g711::Law;
use switchyard_rtp::player::Player;
use switchyard_rtp::stream::RtpSender;

use crate::session::PlayItem;
use crate::station::{Station, Tuned};

/// A frame whose peak passes this is speech (about −30 dBFS).
pub const TALK_PEAK: i16 = 1_000;
/// Frames a talker stays in the mix after its last loud frame (300 ms).
pub const HANGOVER: u32 = 15;
/// Most audio kept per participant between ticks (100 ms): a phone whose
/// clock runs fast loses its oldest samples, not its place in time.
const HEARD_CAP: usize = 5 * FRAME_SAMPLES;

/// A participant, as the room's owner numbered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// Where a participant's stream stood when its call lent it to the room:
/// the room's packets run on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    pub law: Law,
    pub ssrc: u32,
    /// Sequence number and timestamp of the next packet.
    pub seq: u16,
    pub ts: u32,
    /// Where its RTP goes.
    pub to: Option<SocketAddr>,
}

struct Member {
    id: MemberId,
    law: Law,
    to: Option<SocketAddr>,
    out: RtpSender,
    heard: VecDeque<i16>,
    frame: [i16; FRAME_SAMPLES],
    muted: bool,
    /// Frames left of its hangover (0: not talking).
    talking: u32,
    /// Prompts to it alone.
    player: Player,
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct RoomTick {
    /// Packets to send: (participant, destination, bytes).
    pub sends: Vec<(MemberId, SocketAddr, Vec<u8>)>,
    /// Participants that started (`true`) or stopped talking.
    pub talking: Vec<(MemberId, bool)>,
    /// The room's mix (every talker and the tones), for its recording.
    pub mix: Vec<i16>,
}

/// A conference room's audio.
#[derive(Default)]
pub struct Room {
    members: Vec<Member>,
    /// The room's own sounds, heard by everybody (join and leave tones).
    tones: Player,
    /// Waiting for the moderator: everybody hears this instead of the mix.
    music: Option<Tuned>,
    encode_buf: Vec<u8>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("members", &self.members.len())
            .finish()
    }
}

impl Room {
    pub fn new() -> Room {
        Room::default()
    }

    /// Participant `id` joins with its stream as its call left it.
    pub fn add(&mut self, id: MemberId, stream: Stream, muted: bool) {
        self.remove(id);
        let mut out = RtpSender::new(
            stream.ssrc,
            stream.law.payload_type(),
            stream.seq,
            stream.ts,
        );
        // The first packet of ours starts a talkspurt (marker bit).
        out.resume(stream.seq, stream.ts);
        self.members.push(Member {
            id,
            law: stream.law,
            to: stream.to,
            out,
            heard: VecDeque::with_capacity(HEARD_CAP),
            frame: [0; FRAME_SAMPLES],
            muted,
            talking: 0,
            player: Player::new(),
        });
    }

    /// Participant `id` left: where its stream stands, for its call.
    pub fn remove(&mut self, id: MemberId) -> Option<(u16, u32)> {
        let i = self.members.iter().position(|m| m.id == id)?;
        let m = self.members.swap_remove(i);
        Some((m.out.sequence(), m.out.timestamp()))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, id: MemberId) -> bool {
        self.members.iter().any(|m| m.id == id)
    }

    /// What participant `id` said (G.711 bytes in `law`, as received).
    pub fn push(&mut self, id: MemberId, law: Law, payload: &[u8]) {
        let Some(m) = self.members.iter_mut().find(|m| m.id == id) else {
            return;
        };
        m.heard
            .extend(payload.iter().map(|&b| law.decode_sample(b)));
        let excess = m.heard.len().saturating_sub(HEARD_CAP);
        m.heard.drain(..excess);
    }

    /// Its RTP goes to `to` from now on (the phone's address changed).
    pub fn set_destination(&mut self, id: MemberId, to: SocketAddr) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.to = Some(to);
        }
    }

    /// Mute or unmute `id`: a muted participant is heard by nobody.
    pub fn set_muted(&mut self, id: MemberId, muted: bool) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.muted = muted;
        }
    }

    pub fn is_muted(&self, id: MemberId) -> bool {
        self.members.iter().any(|m| m.id == id && m.muted)
    }

    /// Play `items` to `id` alone (over nothing: it hears the room again
    /// once they end).
    pub fn play_to(&mut self, id: MemberId, items: Vec<PlayItem>) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.player.stop();
            crate::session::enqueue(&mut m.player, items);
        }
    }

    /// Play `items` into the mix: everybody hears them.
    pub fn play_all(&mut self, items: Vec<PlayItem>) {
        crate::session::enqueue(&mut self.tones, items);
    }

    /// Everybody hears `station` instead of each other (waiting for the
    /// moderator), or (`None`) the room again.
    pub fn set_music(&mut self, station: Option<Station>) {
        self.music = station.map(Tuned::new);
    }

    pub fn has_music(&self) -> bool {
        self.music.is_some()
    }

    /// One 20 ms tick at `now`.
    pub fn tick(&mut self, now: Instant) -> RoomTick {
        let mut out = RoomTick::default();
        // What each one said this tick, and who talks.
        for m in &mut self.members {
            let n = m.heard.len().min(FRAME_SAMPLES);
            for (k, s) in m.heard.drain(..n).enumerate() {
                m.frame[k] = s;
            }
            m.frame[n..].fill(0);
            let loud = m.frame.iter().any(|s| s.unsigned_abs() >= TALK_PEAK as u16);
            let was = m.talking > 0;
            m.talking = if loud {
                HANGOVER
            } else {
                m.talking.saturating_sub(1)
            };
            if was != (m.talking > 0) {
                out.talking.push((m.id, m.talking > 0));
            }
        }
        let mut total = [0i32; FRAME_SAMPLES];
        if let Some(tone) = self.tones.next_frame() {
            for (t, &s) in total.iter_mut().zip(&tone) {
                *t += i32::from(s);
            }
        }
        for m in self.members.iter().filter(|m| m.talking > 0 && !m.muted) {
            for (t, &s) in total.iter_mut().zip(&m.frame) {
                *t += i32::from(s);
            }
        }
        out.mix = total.iter().map(|&t| clip(t)).collect();
        // The sum heard by everybody not in it, encoded once per law.
        let mut shared: [Option<Arc<[u8]>>; 2] = [None, None];
        let music = self.music.as_mut().map(|t| {
            let k = t.next_frame(now);
            (t, k)
        });
        let mut pcm = [0i16; FRAME_SAMPLES];
        for m in &mut self.members {
            let Some(to) = m.to else {
                if !m.player.is_playing() {
                    m.out.skip_frame();
                }
                continue;
            };
            let mut bytes = Vec::with_capacity(12 + FRAME_SAMPLES);
            if m.player.is_playing() {
                let frame = m.player.next_frame().unwrap_or([0; FRAME_SAMPLES]);
                self.encode_buf.clear();
                m.law.encode(&frame, &mut self.encode_buf);
                m.out.write_frame(&self.encode_buf, &mut bytes);
            } else if let Some((tuned, k)) = &music {
                m.out
                    .write_frame(tuned.station.payload(m.law, *k), &mut bytes);
            } else if m.talking > 0 && !m.muted {
                // Everybody but itself.
                for ((p, &t), &own) in pcm.iter_mut().zip(&total).zip(&m.frame) {
                    *p = clip(t - i32::from(own));
                }
                self.encode_buf.clear();
                m.law.encode(&pcm, &mut self.encode_buf);
                m.out.write_frame(&self.encode_buf, &mut bytes);
            } else {
                let slot = &mut shared[usize::from(m.law == Law::Pcma)];
                let payload = slot.get_or_insert_with(|| {
                    let mut enc = Vec::with_capacity(FRAME_SAMPLES);
                    m.law.encode(&out.mix, &mut enc);
                    enc.into()
                });
                m.out.write_frame(payload, &mut bytes);
            }
            out.sends.push((m.id, to, bytes));
        }
        out
    }
}

fn clip(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_rtp::packet::RtpPacket;
    use switchyard_rtp::tones::{ToneSpec, tone_amplitude};

    fn stream(law: Law, port: u16) -> Stream {
        Stream {
            law,
            ssrc: u32::from(port),
            seq: 100,
            ts: 16_000,
            to: Some(SocketAddr::from(([10, 0, 0, 1], port))),
        }
    }

    /// 20 ms of a tone at `freq` from sample `at`, encoded in `law`.
    fn tone(law: Law, freq: f64, at: usize) -> Vec<u8> {
        let samples: Vec<i16> = (at..at + FRAME_SAMPLES)
            .map(|n| (8000.0 * (std::f64::consts::TAU * freq * n as f64 / 8000.0).sin()) as i16)
            .collect();
        let mut out = Vec::new();
        law.encode(&samples, &mut out);
        out
    }

    const FREQS: [f64; 5] = [350.0, 550.0, 800.0, 1150.0, 1600.0];

    /// Five participants (the odd ones on PCMA) each saying their tone
    /// for `frames`; what each heard, decoded.
    fn talk(room: &mut Room, now: Instant, frames: usize, talking: &[bool; 5]) -> Vec<Vec<i16>> {
        let mut heard = vec![Vec::new(); 5];
        for f in 0..frames {
            for (i, &freq) in FREQS.iter().enumerate() {
                let law = if i.is_multiple_of(2) {
                    Law::Pcmu
                } else {
                    Law::Pcma
                };
                if talking[i] {
                    room.push(MemberId(i as u64), law, &tone(law, freq, f * FRAME_SAMPLES));
                }
            }
            for (id, _, bytes) in room.tick(now).sends {
                let pkt = RtpPacket::parse(&bytes).unwrap();
                let law = Law::from_payload_type(pkt.header.payload_type).unwrap();
                let i = id.0 as usize;
                assert_eq!(
                    law,
                    if i.is_multiple_of(2) {
                        Law::Pcmu
                    } else {
                        Law::Pcma
                    }
                );
                law.decode(pkt.payload, &mut heard[i]);
            }
        }
        heard
    }

    fn five() -> Room {
        let mut room = Room::new();
        for i in 0..5u16 {
            let law = if i.is_multiple_of(2) {
                Law::Pcmu
            } else {
                Law::Pcma
            };
            room.add(MemberId(u64::from(i)), stream(law, 4000 + i), false);
        }
        room
    }

    #[test]
    fn everybody_hears_the_four_others_and_not_themselves_in_either_law() {
        let mut room = five();
        let heard = talk(&mut room, Instant::now(), 25, &[true; 5]);
        for (i, h) in heard.iter().enumerate() {
            for (j, &f) in FREQS.iter().enumerate() {
                let a = tone_amplitude(h, f);
                if i == j {
                    assert!(a < 150.0, "{i} does not hear itself: {a}");
                } else {
                    assert!(a > 5000.0, "{i} hears {j}: {a}");
                }
            }
        }
    }

    #[test]
    fn a_muted_participant_is_heard_by_nobody_and_still_hears_everybody() {
        let mut room = five();
        let now = Instant::now();
        talk(&mut room, now, 5, &[true; 5]);
        room.set_muted(MemberId(2), true);
        let heard = talk(&mut room, now, 25, &[true; 5]);
        for (i, h) in heard.iter().enumerate() {
            let muted = tone_amplitude(h, FREQS[2]);
            assert!(muted < 150.0, "{i} does not hear the muted one: {muted}");
        }
        assert!(tone_amplitude(&heard[2], FREQS[0]) > 5000.0);
        assert!(room.is_muted(MemberId(2)));
    }

    #[test]
    fn the_silent_share_one_encoded_mix_and_talking_is_reported_with_its_hangover() {
        let mut room = five();
        let now = Instant::now();
        room.push(MemberId(0), Law::Pcmu, &tone(Law::Pcmu, 440.0, 0));
        let t = room.tick(now);
        assert_eq!(t.talking, [(MemberId(0), true)]);
        // The talker hears nobody; the silent ones of one law get the
        // same bytes (only their headers differ).
        let payload = |i: usize| RtpPacket::parse(&t.sends[i].2).unwrap().payload.to_vec();
        let by_id = |id: u64| t.sends.iter().position(|s| s.0 == MemberId(id)).unwrap();
        assert_eq!(payload(by_id(2)), payload(by_id(4)));
        assert!(payload(by_id(0)).iter().all(|&b| b == 0xFF || b == 0x7F));
        // Quiet: still talking for the hangover, then not.
        for _ in 0..HANGOVER - 1 {
            assert!(room.tick(now).talking.is_empty());
        }
        assert_eq!(room.tick(now).talking, [(MemberId(0), false)]);
    }

    #[test]
    fn a_participants_stream_runs_on_from_its_calls_with_a_marker() {
        let mut room = five();
        let t = room.tick(Instant::now());
        let first = RtpPacket::parse(&t.sends[0].2).unwrap().header;
        assert_eq!((first.sequence, first.timestamp), (100, 16_000));
        assert!(first.marker);
        let t = room.tick(Instant::now());
        let next = RtpPacket::parse(&t.sends[0].2).unwrap().header;
        assert_eq!(
            (next.sequence, next.timestamp, next.marker),
            (101, 16_160, false)
        );
        assert_eq!(room.remove(t.sends[0].0), Some((102, 16_320)));
        assert_eq!(room.len(), 4);
    }

    #[test]
    fn a_prompt_to_one_and_a_tone_to_all_and_the_waiting_music() {
        let mut room = five();
        let now = Instant::now();
        room.play_to(
            MemberId(1),
            vec![PlayItem::Samples(vec![3000i16; 800].into())],
        );
        room.play_all(vec![PlayItem::Tone(ToneSpec::beep())]);
        let t = room.tick(now);
        let heard = |t: &RoomTick, id: u64| {
            let (_, _, b) = t.sends.iter().find(|s| s.0 == MemberId(id)).unwrap();
            let pkt = RtpPacket::parse(b).unwrap();
            let mut pcm = Vec::new();
            Law::from_payload_type(pkt.header.payload_type)
                .unwrap()
                .decode(pkt.payload, &mut pcm);
            pcm
        };
        assert!(
            heard(&t, 1).iter().all(|&s| (s - 3000).abs() < 100),
            "its prompt"
        );
        assert!(
            tone_amplitude(&heard(&t, 0), 1000.0) > 1000.0,
            "the room's tone"
        );
        assert!(tone_amplitude(&t.mix, 1000.0) > 1000.0, "recorded too");
        let music: Arc<[i16]> = vec![1234i16; 1600].into();
        room.set_music(Some(Station::new(music, now)));
        let t = room.tick(now);
        assert!(
            heard(&t, 3).iter().all(|&s| (s - 1234).abs() < 100),
            "the music"
        );
    }
}
