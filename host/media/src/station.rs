//! A shared music source — a "station": one loop of music heard by every
//! caller waiting in a queue, like a radio.
//!
//! A thousand callers each running their own [`Player`] over the same
//! loop would decode (copy) and G.711-encode the same frames a thousand
//! times every 20 ms. A station does that work once, when it is built: the
//! loop is encoded once per law (PCMU and PCMA), and there is one timeline
//! for everybody, counted in 20 ms frames from the station's epoch. A
//! caller's media only takes the 160 bytes for the frame it is at and puts
//! them in a packet.
//!
//! The station holds no clock: whoever asks says what time it is
//! ([`Station::frame_at`]), so the media session stays sans-IO and its
//! tests run on a fake clock.
//!
//! [`Player`]: switchyard_rtp::player::Player

use std::sync::Arc;
use std::time::Instant;

use switchyard_rtp::FRAME_SAMPLES;
use switchyard_rtp::g711::Law;

const FRAME_MICROS: u128 = 20_000;

/// A loop of music with one timeline, pre-encoded in both laws. Cheap to
/// clone (shared); every clone is the same station.
#[derive(Clone)]
pub struct Station(Arc<Inner>);

struct Inner {
    /// The music it was built from, to tell whether a cached station is
    /// still the current one ([`Station::plays`]).
    samples: Arc<[i16]>,
    /// Frame 0 of the timeline.
    epoch: Instant,
    /// Length of the loop in samples (never 0: an empty prompt is a frame
    /// of silence).
    len: usize,
    /// The loop encoded, followed by its start again up to one frame, so
    /// that a frame beginning anywhere in the loop — also across the point
    /// where it starts over, and in a loop shorter than a frame — is one
    /// contiguous slice.
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl std::fmt::Debug for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Station")
            .field("len", &self.0.len)
            .field("epoch", &self.0.epoch)
            .finish()
    }
}

impl Station {
    /// A station playing `samples` (8 kHz mono) in a loop, its frame 0 at
    /// `epoch`.
    pub fn new(samples: Arc<[i16]>, epoch: Instant) -> Station {
        let silence = [0i16; FRAME_SAMPLES];
        let music: &[i16] = if samples.is_empty() {
            &silence
        } else {
            &samples
        };
        let len = music.len();
        let unrolled: Vec<i16> = music
            .iter()
            .copied()
            .cycle()
            .take(len + FRAME_SAMPLES)
            .collect();
        let encode = |law: Law| {
            let mut out = Vec::with_capacity(unrolled.len());
            law.encode(&unrolled, &mut out);
            out.into_boxed_slice()
        };
        Station(Arc::new(Inner {
            pcmu: encode(Law::Pcmu),
            pcma: encode(Law::Pcma),
            samples,
            epoch,
            len,
        }))
    }

    /// Whether this station was built from exactly `samples` (the same
    /// shared buffer, not merely equal audio).
    pub fn plays(&self, samples: &Arc<[i16]>) -> bool {
        Arc::ptr_eq(&self.0.samples, samples)
    }

    /// Whether two handles are the same station.
    pub fn same(&self, other: &Station) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The frame of the timeline that is on the air at `now`.
    pub fn frame_at(&self, now: Instant) -> u64 {
        let micros = now.saturating_duration_since(self.0.epoch).as_micros();
        u64::try_from(micros / FRAME_MICROS).unwrap_or(u64::MAX)
    }

    /// The 20 ms payload of frame `index` in `law`.
    pub fn payload(&self, law: Law, index: u64) -> &[u8] {
        let len = self.0.len as u64;
        // (index × 160) mod len without overflow for any index.
        let start = ((index % len) * FRAME_SAMPLES as u64 % len) as usize;
        let bytes = match law {
            Law::Pcmu => &self.0.pcmu,
            Law::Pcma => &self.0.pcma,
        };
        &bytes[start..start + FRAME_SAMPLES]
    }
}

/// A leg listening to a station: where it is on the timeline. Each tick
/// moves it one frame on, so its audio is continuous whatever the phase
/// of its own 20 ms clock against the station's; it jumps back to the
/// station's frame only when it has drifted off (a stalled task, a late
/// tick made up), so every listener stays within a few frames of the
/// others.
#[derive(Debug, Clone)]
pub(crate) struct Tuned {
    pub station: Station,
    /// The frame sent last; `None` until the first.
    at: Option<u64>,
}

/// How far a listener may run behind the station's frame (late ticks are
/// made up in a burst) or ahead of it (its clock's phase) before it is
/// put back on the station's frame.
const BEHIND: u64 = 2;
const AHEAD: u64 = 1;

impl Tuned {
    pub fn new(station: Station) -> Tuned {
        Tuned { station, at: None }
    }

    /// The frame to send on the tick at `now`.
    pub fn next_frame(&mut self, now: Instant) -> u64 {
        let on_air = self.station.frame_at(now);
        let next = match self.at {
            Some(at) => {
                let next = at + 1;
                if next + BEHIND < on_air || next > on_air + AHEAD {
                    on_air
                } else {
                    next
                }
            }
            None => on_air,
        };
        self.at = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ramp(len: usize) -> Arc<[i16]> {
        (0..len)
            .map(|i| (i as i16).wrapping_mul(37))
            .collect::<Vec<_>>()
            .into()
    }

    fn encoded(law: Law, samples: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        law.encode(samples, &mut out);
        out
    }

    #[test]
    fn frames_follow_the_loop_across_its_end_in_both_laws() {
        let t0 = Instant::now();
        let music = ramp(400); // 2.5 frames
        let s = Station::new(music.clone(), t0);
        let lap: Vec<i16> = music
            .iter()
            .copied()
            .cycle()
            .take(6 * FRAME_SAMPLES)
            .collect();
        for law in [Law::Pcmu, Law::Pcma] {
            for k in 0..6 {
                assert_eq!(
                    s.payload(law, k as u64),
                    &encoded(law, &lap[k * FRAME_SAMPLES..(k + 1) * FRAME_SAMPLES])[..],
                    "{law:?} frame {k}"
                );
            }
        }
    }

    #[test]
    fn an_empty_prompt_is_silence_and_a_short_odd_one_repeats_within_a_frame() {
        let t0 = Instant::now();
        let empty = Station::new(Vec::<i16>::new().into(), t0);
        let silence = encoded(Law::Pcma, &[0; FRAME_SAMPLES]);
        for k in [0, 1, 1_000_000, u64::MAX] {
            assert_eq!(empty.payload(Law::Pcma, k), &silence[..]);
        }
        let odd = ramp(7);
        let s = Station::new(odd.clone(), t0);
        let lap: Vec<i16> = odd
            .iter()
            .copied()
            .cycle()
            .take(3 * FRAME_SAMPLES)
            .collect();
        assert_eq!(
            s.payload(Law::Pcmu, 2),
            &encoded(Law::Pcmu, &lap[2 * FRAME_SAMPLES..])[..]
        );
        assert_eq!(s.payload(Law::Pcmu, u64::MAX).len(), FRAME_SAMPLES);
    }

    #[test]
    fn the_timeline_counts_frames_from_the_epoch() {
        let t0 = Instant::now();
        let s = Station::new(ramp(8000), t0 + Duration::from_millis(5));
        assert_eq!(s.frame_at(t0), 0, "before its epoch: frame 0");
        assert_eq!(s.frame_at(t0 + Duration::from_millis(24)), 0);
        assert_eq!(s.frame_at(t0 + Duration::from_millis(25)), 1);
        assert_eq!(s.frame_at(t0 + Duration::from_secs(2)), 99);
    }

    #[test]
    fn a_listener_advances_a_frame_a_tick_and_rejoins_the_station_when_off() {
        let t0 = Instant::now();
        let s = Station::new(ramp(8000), t0);
        let mut t = Tuned::new(s.clone());
        // Ticks 1 ms before each frame boundary, with ±2 ms of jitter:
        // never a repeated or skipped frame.
        let mut got = Vec::new();
        for k in 0..10u64 {
            let jitter = if k % 2 == 0 { 19 + 2 } else { 19 - 2 };
            got.push(t.next_frame(t0 + Duration::from_millis(20 * k + jitter)));
        }
        assert_eq!(got, (1..11).collect::<Vec<_>>());
        // The task stalled for a second: back on the air.
        assert_eq!(t.next_frame(t0 + Duration::from_millis(1210)), 60);
    }

    #[test]
    fn clones_are_the_same_station_and_know_their_music() {
        let music = ramp(10);
        let s = Station::new(music.clone(), Instant::now());
        assert!(s.same(&s.clone()));
        assert!(s.plays(&music));
        assert!(!s.plays(&ramp(10)), "equal audio, another prompt");
        assert!(!s.same(&Station::new(music, Instant::now())));
    }
}
