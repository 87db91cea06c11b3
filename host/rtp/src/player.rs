//! Plays a queue of prompts and tones as 20 ms frames.
//!
//! The media task calls [`Player::next_frame`] once per tick and encodes
//! what it gets; `None` means there is nothing left to play (the IVR can
//! start its digit timer). Prompts are shared (`Arc<[i16]>`): the same music
//! on hold or greeting is played to many calls at once without a copy per
//! call. Consecutive items are joined without a gap, so a prompt of 12.5
//! frames followed by a beep does not leave a half-frame of silence between
//! them. A digit stopping the prompt is the caller's decision: it calls
//! [`Player::stop`].

use std::sync::Arc;

use crate::g711::FRAME_SAMPLES;
use crate::tones::{ToneGenerator, ToneSpec};

#[derive(Debug, Clone)]
enum Item {
    Samples(Arc<[i16]>),
    Tone(ToneSpec),
}

#[derive(Debug)]
enum Playing {
    Samples { pos: usize },
    Tone(ToneGenerator),
}

/// A queue of prompts played frame by frame.
#[derive(Debug, Default)]
pub struct Player {
    items: Vec<Item>,
    index: usize,
    playing: Option<Playing>,
    looping: bool,
    /// Samples produced since the queue last started over, to stop a
    /// looping queue of empty items from spinning.
    pass_samples: u64,
}

impl Player {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends 8 kHz mono samples to the queue.
    pub fn enqueue(&mut self, samples: impl Into<Arc<[i16]>>) {
        self.items.push(Item::Samples(samples.into()));
    }

    /// Appends a tone; one without a length plays until [`stop`](Self::stop).
    pub fn enqueue_tone(&mut self, tone: ToneSpec) {
        self.items.push(Item::Tone(tone));
    }

    /// When looping, the queue starts over once it has played through
    /// (music on hold).
    pub fn set_looping(&mut self, looping: bool) {
        self.looping = looping;
    }

    pub fn is_looping(&self) -> bool {
        self.looping
    }

    /// Whether anything is left to play. A looping queue that has played
    /// something starts over: it is still playing between two passes (at
    /// the end of a pass that filled its last frame exactly).
    pub fn is_playing(&self) -> bool {
        self.index < self.items.len() || (self.looping && self.pass_samples > 0)
    }

    /// Stops playback and empties the queue. Returns whether something was
    /// playing (so a digit that interrupted a prompt can be told apart from
    /// one pressed after it ended).
    pub fn stop(&mut self) -> bool {
        let was = self.is_playing();
        self.items.clear();
        self.index = 0;
        self.playing = None;
        self.pass_samples = 0;
        was
    }

    /// The next 20 ms frame, or `None` when the queue is done. The last
    /// frame is completed with silence.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            if self.index >= self.items.len() {
                if self.looping && self.pass_samples > 0 {
                    self.index = 0;
                    self.pass_samples = 0;
                } else {
                    break;
                }
            }
            let playing = self
                .playing
                .get_or_insert_with(|| match &self.items[self.index] {
                    Item::Samples(_) => Playing::Samples { pos: 0 },
                    Item::Tone(spec) => Playing::Tone(spec.clone().generator()),
                });
            let (n, done) = match (playing, &self.items[self.index]) {
                (Playing::Samples { pos }, Item::Samples(samples)) => {
                    let n = (FRAME_SAMPLES - filled).min(samples.len() - *pos);
                    frame[filled..filled + n].copy_from_slice(&samples[*pos..*pos + n]);
                    *pos += n;
                    (n, *pos == samples.len())
                }
                (Playing::Tone(generator), _) => {
                    let n = if generator.is_finished() {
                        0
                    } else {
                        generator.fill(&mut frame[filled..])
                    };
                    (n, generator.is_finished())
                }
                // `playing` is always built from the item at `index`.
                (Playing::Samples { .. }, Item::Tone(_)) => (0, true),
            };
            filled += n;
            self.pass_samples += n as u64;
            if done {
                self.index += 1;
                self.playing = None;
            }
        }
        if filled == 0 {
            // Done: forget the queue so the next enqueue starts afresh.
            self.stop();
            return None;
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::tone_amplitude;

    fn ramp(from: i16, len: usize) -> Vec<i16> {
        (0..len).map(|i| from + i as i16).collect()
    }

    fn drain(p: &mut Player, max_frames: usize) -> Vec<i16> {
        let mut all = Vec::new();
        for _ in 0..max_frames {
            match p.next_frame() {
                Some(f) => all.extend_from_slice(&f),
                None => break,
            }
        }
        all
    }

    #[test]
    fn plays_prompts_back_to_back_then_ends() {
        let mut p = Player::new();
        assert_eq!(p.next_frame(), None);
        p.enqueue(ramp(1, 200));
        p.enqueue(ramp(1000, 100));
        assert!(p.is_playing());
        let all = drain(&mut p, 100);
        assert_eq!(all.len(), 320);
        assert_eq!(&all[..200], &ramp(1, 200)[..]);
        // No gap between the two prompts.
        assert_eq!(&all[200..300], &ramp(1000, 100)[..]);
        assert!(all[300..].iter().all(|&s| s == 0));
        assert!(!p.is_playing());
        assert_eq!(p.next_frame(), None);
        // Exactly whole frames: no extra silent frame.
        p.enqueue(vec![7i16; 320]);
        assert_eq!(drain(&mut p, 100).len(), 320);
    }

    #[test]
    fn stop_interrupts() {
        let mut p = Player::new();
        p.enqueue(vec![5i16; 8000]);
        assert!(p.next_frame().is_some());
        assert!(p.stop());
        assert_eq!(p.next_frame(), None);
        assert!(!p.stop());
        // A new prompt after a stop starts from its beginning.
        p.enqueue(ramp(0, 160));
        assert_eq!(p.next_frame().unwrap()[..3], [0, 1, 2]);
    }

    #[test]
    fn loops_for_music_on_hold() {
        let mut p = Player::new();
        p.set_looping(true);
        assert!(p.is_looping());
        p.enqueue(ramp(0, 100));
        let all = drain(&mut p, 9);
        assert_eq!(all.len(), 1440);
        for (i, &s) in all.iter().enumerate() {
            assert_eq!(s, (i % 100) as i16, "sample {i}");
        }
        p.set_looping(false);
        // Finishes the current pass, then ends.
        let rest = drain(&mut p, 10);
        assert_eq!(rest.len(), 160);
        assert_eq!(&rest[..60], &ramp(40, 60)[..]);
        assert!(rest[60..].iter().all(|&s| s == 0));
        assert_eq!(p.next_frame(), None);
    }

    #[test]
    fn a_loop_of_whole_frames_is_still_playing_between_passes() {
        let mut p = Player::new();
        p.set_looping(true);
        p.enqueue(ramp(0, 2 * FRAME_SAMPLES));
        for k in 0..10 {
            assert!(p.is_playing(), "frame {k}");
            assert_eq!(p.next_frame().unwrap()[0], ((k % 2) * FRAME_SAMPLES) as i16);
        }
        assert!(p.stop());
        assert!(!p.is_playing());
    }

    #[test]
    fn looping_nothing_does_not_spin() {
        let mut p = Player::new();
        p.set_looping(true);
        assert_eq!(p.next_frame(), None);
        p.enqueue(Vec::<i16>::new());
        p.enqueue_tone(ToneSpec::silence(Some(0)));
        assert_eq!(p.next_frame(), None);
    }

    #[test]
    fn greeting_then_beep() {
        let mut p = Player::new();
        p.enqueue(vec![0i16; 80]);
        p.enqueue_tone(ToneSpec::beep());
        let all = drain(&mut p, 100);
        // 80 + 2000 samples = 13 frames.
        assert_eq!(all.len(), 13 * FRAME_SAMPLES);
        assert!((tone_amplitude(&all[80..2080], 1000.0) - 8000.0).abs() < 50.0);
        assert!(all[2080..].iter().all(|&s| s == 0));
    }

    #[test]
    fn endless_tone_plays_until_stopped() {
        let mut p = Player::new();
        p.enqueue_tone(ToneSpec::busy());
        p.enqueue(vec![1i16; 10]);
        assert_eq!(drain(&mut p, 500).len(), 500 * FRAME_SAMPLES);
        assert!(p.stop());
    }
}
