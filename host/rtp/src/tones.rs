//! Call-progress tones as 8 kHz 16-bit PCM, and a Goertzel detector.
//!
//! A tone is one or two sine components switched by a cadence (on/off
//! segments repeated forever) and optionally cut after a total length (the
//! beep). Each sample is computed from its index, not by accumulating a
//! phase, so the frequency never drifts however long ringback plays, and a
//! generator can be started at any point. The Goertzel filter measures the
//! power of a single frequency over a block: tests use it to prove a tone
//! (or a recording of one) is at the right frequency and not elsewhere.

use crate::g711::FRAME_SAMPLES;

/// Sample rate of everything in this crate.
pub const SAMPLE_RATE: u32 = 8000;

const SAMPLES_PER_MS: u32 = SAMPLE_RATE / 1000;

/// On/off pattern in milliseconds, repeated; empty means always on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cadence {
    pub pattern: Vec<(u32, u32)>,
}

impl Cadence {
    pub fn continuous() -> Self {
        Cadence::default()
    }

    pub fn on_off(on_ms: u32, off_ms: u32) -> Self {
        Cadence {
            pattern: vec![(on_ms, off_ms)],
        }
    }

    /// Whether the tone sounds at sample `n`.
    fn is_on(&self, n: u64) -> bool {
        let period: u64 = self
            .pattern
            .iter()
            .map(|&(on, off)| u64::from(on + off) * u64::from(SAMPLES_PER_MS))
            .sum();
        if period == 0 {
            return true;
        }
        let mut pos = n % period;
        for &(on, off) in &self.pattern {
            let on = u64::from(on) * u64::from(SAMPLES_PER_MS);
            let off = u64::from(off) * u64::from(SAMPLES_PER_MS);
            if pos < on {
                return true;
            }
            if pos < on + off {
                return false;
            }
            pos -= on + off;
        }
        false
    }
}

/// Ringback conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// 440+480 Hz, 2 s on, 4 s off.
    NorthAmerica,
    /// CEPT: 425 Hz, 1 s on, 4 s off.
    Europe,
    /// 400+450 Hz, 0.4 on 0.2 off 0.4 on 2.0 off.
    UnitedKingdom,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    /// Sine components in Hz (empty for silence).
    pub frequencies: Vec<f64>,
    /// Peak amplitude of each component.
    pub amplitude: i16,
    pub cadence: Cadence,
    /// Total length in ms; `None` plays until stopped.
    pub length_ms: Option<u32>,
}

// Roughly −16 dBm0 per component: audible, well clear of clipping when two
// components add up.
const TONE_AMPLITUDE: i16 = 4000;

impl ToneSpec {
    pub fn ringback(region: Region) -> Self {
        let (frequencies, cadence) = match region {
            Region::NorthAmerica => (vec![440.0, 480.0], Cadence::on_off(2000, 4000)),
            Region::Europe => (vec![425.0], Cadence::on_off(1000, 4000)),
            Region::UnitedKingdom => (
                vec![400.0, 450.0],
                Cadence {
                    pattern: vec![(400, 200), (400, 2000)],
                },
            ),
        };
        ToneSpec {
            frequencies,
            amplitude: TONE_AMPLITUDE,
            cadence,
            length_ms: None,
        }
    }

    /// Ringback with any cadence, e.g. a tenant's own.
    pub fn ringback_with(frequencies: Vec<f64>, cadence: Cadence) -> Self {
        ToneSpec {
            frequencies,
            amplitude: TONE_AMPLITUDE,
            cadence,
            length_ms: None,
        }
    }

    /// Busy: 480+620 Hz, 0.5 s on, 0.5 s off.
    pub fn busy() -> Self {
        ToneSpec {
            frequencies: vec![480.0, 620.0],
            amplitude: TONE_AMPLITUDE,
            cadence: Cadence::on_off(500, 500),
            length_ms: None,
        }
    }

    /// Congestion (reorder): 480+620 Hz, 0.25 s on, 0.25 s off.
    pub fn congestion() -> Self {
        ToneSpec {
            frequencies: vec![480.0, 620.0],
            amplitude: TONE_AMPLITUDE,
            cadence: Cadence::on_off(250, 250),
            length_ms: None,
        }
    }

    /// The voicemail beep: 1000 Hz for 250 ms, then done.
    pub fn beep() -> Self {
        ToneSpec {
            frequencies: vec![1000.0],
            amplitude: 2 * TONE_AMPLITUDE,
            cadence: Cadence::continuous(),
            length_ms: Some(250),
        }
    }

    /// Silence, for `length_ms` or until stopped.
    pub fn silence(length_ms: Option<u32>) -> Self {
        ToneSpec {
            frequencies: Vec::new(),
            amplitude: 0,
            cadence: Cadence::continuous(),
            length_ms,
        }
    }

    pub fn generator(self) -> ToneGenerator {
        ToneGenerator::new(self)
    }
}

/// Produces a tone's samples, frame by frame.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    /// Index of the next sample.
    n: u64,
    end: Option<u64>,
}

impl ToneGenerator {
    pub fn new(spec: ToneSpec) -> Self {
        let end = spec
            .length_ms
            .map(|ms| u64::from(ms) * u64::from(SAMPLES_PER_MS));
        ToneGenerator { spec, n: 0, end }
    }

    /// Samples generated so far.
    pub fn position(&self) -> u64 {
        self.n
    }

    pub fn is_finished(&self) -> bool {
        self.end.is_some_and(|end| self.n >= end)
    }

    fn sample(&self, n: u64) -> i16 {
        if !self.spec.cadence.is_on(n) {
            return 0;
        }
        let t = n as f64 / f64::from(SAMPLE_RATE);
        let v: f64 = self
            .spec
            .frequencies
            .iter()
            .map(|&f| {
                // Reduce to one cycle before sin() so precision does not
                // decay as n grows.
                let cycles = (f * t).fract();
                (cycles * std::f64::consts::TAU).sin()
            })
            .sum();
        (v * f64::from(self.spec.amplitude))
            .round()
            .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
    }

    /// Fills `buf` with the next samples; a finished tone leaves the rest
    /// of `buf` silent. Returns how many samples were tone.
    pub fn fill(&mut self, buf: &mut [i16]) -> usize {
        let mut written = 0;
        for slot in buf.iter_mut() {
            if self.is_finished() {
                *slot = 0;
                continue;
            }
            *slot = self.sample(self.n);
            self.n += 1;
            written += 1;
        }
        written
    }

    /// The next 20 ms frame, or `None` once the tone's length is over. The
    /// last frame of a tone whose length is not whole frames ends in silence.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        if self.is_finished() {
            return None;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        self.fill(&mut frame);
        Some(frame)
    }
}

/// Goertzel filter: the energy of one frequency over a block of samples,
/// without a full FFT.
#[derive(Debug, Clone, Copy)]
pub struct Goertzel {
    coeff: f64,
}

impl Goertzel {
    pub fn new(frequency: f64, sample_rate: f64) -> Self {
        Goertzel {
            coeff: 2.0 * (std::f64::consts::TAU * frequency / sample_rate).cos(),
        }
    }

    /// |X(f)|² over the block.
    pub fn power(&self, block: &[i16]) -> f64 {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in block {
            let s = f64::from(x) + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }

    /// Estimated peak amplitude of a sine at this frequency: exact when the
    /// block holds a whole number of its cycles.
    pub fn amplitude(&self, block: &[i16]) -> f64 {
        if block.is_empty() {
            return 0.0;
        }
        2.0 * self.power(block).max(0.0).sqrt() / block.len() as f64
    }
}

/// Amplitude of `frequency` in 8 kHz `samples` (see [`Goertzel::amplitude`]).
pub fn tone_amplitude(samples: &[i16], frequency: f64) -> f64 {
    Goertzel::new(frequency, f64::from(SAMPLE_RATE)).amplitude(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(spec: ToneSpec, samples: usize) -> Vec<i16> {
        let mut g = spec.generator();
        let mut v = vec![0; samples];
        g.fill(&mut v);
        v
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Asserts the block holds `present` at about `amp` and nothing at `absent`.
    fn assert_tone(block: &[i16], present: &[f64], amp: f64, absent: &[f64]) {
        for &f in present {
            let a = tone_amplitude(block, f);
            assert!(
                (a - amp).abs() < amp * 0.02,
                "{f} Hz: amplitude {a}, want {amp}"
            );
        }
        for &f in absent {
            let a = tone_amplitude(block, f);
            assert!(a < amp * 0.05, "{f} Hz should be absent, got {a}");
        }
    }

    #[test]
    fn us_ringback_frequencies_and_cadence() {
        let s = take(ToneSpec::ringback(Region::NorthAmerica), 8000 * 7);
        // 400 samples = 50 ms: 440 and 480 Hz fall on exact bins.
        assert_tone(&s[..400], &[440.0, 480.0], 4000.0, &[500.0, 1000.0, 400.0]);
        assert_tone(&s[15_000..15_400], &[440.0, 480.0], 4000.0, &[1000.0]);
        // On for 2 s, off for 4 s, on again at 6 s.
        assert!(rms(&s[15_840..16_000]) > 1000.0);
        assert!(s[16_000..48_000].iter().all(|&x| x == 0));
        assert!(rms(&s[48_000..48_160]) > 1000.0);
    }

    #[test]
    fn european_and_uk_ringback() {
        let s = take(ToneSpec::ringback(Region::Europe), 8000 * 5 + 800);
        assert_tone(&s[..320], &[425.0], 4000.0, &[450.0, 400.0, 500.0]);
        assert!(rms(&s[7_840..8_000]) > 1000.0);
        assert!(s[8_000..40_000].iter().all(|&x| x == 0));
        assert!(rms(&s[40_000..40_160]) > 1000.0);

        let s = take(ToneSpec::ringback(Region::UnitedKingdom), 8000 * 3);
        assert_tone(&s[..160], &[400.0, 450.0], 4000.0, &[1000.0]);
        // 0.4 on, 0.2 off, 0.4 on, 2.0 off.
        assert!(rms(&s[3_000..3_200]) > 1000.0);
        assert!(s[3_200..4_800].iter().all(|&x| x == 0));
        assert!(rms(&s[4_800..5_000]) > 1000.0);
        assert!(s[8_000..24_000].iter().all(|&x| x == 0));
    }

    #[test]
    fn custom_cadence() {
        let spec = ToneSpec::ringback_with(vec![440.0, 480.0], Cadence::on_off(100, 100));
        let s = take(spec, 3200);
        assert!(rms(&s[..800]) > 1000.0);
        assert!(s[800..1600].iter().all(|&x| x == 0));
        assert!(rms(&s[1600..2400]) > 1000.0);
    }

    #[test]
    fn busy_and_congestion() {
        let s = take(ToneSpec::busy(), 16_000);
        assert_tone(&s[..400], &[480.0, 620.0], 4000.0, &[440.0, 1000.0]);
        assert!(rms(&s[3_800..4_000]) > 1000.0);
        assert!(s[4_000..8_000].iter().all(|&x| x == 0));
        assert!(rms(&s[8_000..8_200]) > 1000.0);

        let s = take(ToneSpec::congestion(), 8_000);
        assert_tone(&s[..400], &[480.0, 620.0], 4000.0, &[440.0]);
        assert!(s[2_000..4_000].iter().all(|&x| x == 0));
        assert!(rms(&s[4_000..4_200]) > 1000.0);
    }

    #[test]
    fn beep_is_250_ms_of_1khz() {
        let mut g = ToneSpec::beep().generator();
        let mut all = Vec::new();
        while let Some(frame) = g.next_frame() {
            all.extend_from_slice(&frame);
        }
        // 2000 samples = 12.5 frames: 13 frames, the last half silent.
        assert_eq!(all.len(), 13 * FRAME_SAMPLES);
        assert_tone(&all[..2000], &[1000.0], 8000.0, &[440.0, 1500.0]);
        assert!(all[2000..].iter().all(|&x| x == 0));
        assert!(g.is_finished());
        assert_eq!(g.next_frame(), None);
    }

    #[test]
    fn silence() {
        let mut g = ToneSpec::silence(Some(40)).generator();
        assert_eq!(g.next_frame(), Some([0; FRAME_SAMPLES]));
        assert_eq!(g.next_frame(), Some([0; FRAME_SAMPLES]));
        assert_eq!(g.next_frame(), None);
        let mut endless = ToneSpec::silence(None).generator();
        for _ in 0..100 {
            assert_eq!(endless.next_frame(), Some([0; FRAME_SAMPLES]));
        }
    }

    #[test]
    fn no_drift_after_an_hour() {
        let mut g = ToneSpec::busy().generator();
        // Skip an hour in one go (n is the only state).
        g.n = 3600 * 8000;
        let mut block = [0i16; 400];
        g.fill(&mut block);
        assert_tone(&block, &[480.0, 620.0], 4000.0, &[440.0]);
    }

    #[test]
    fn goertzel_rejects_neighbours() {
        let s = take(ToneSpec::beep(), 400);
        let g = Goertzel::new(1000.0, 8000.0);
        assert!((g.amplitude(&s) - 8000.0).abs() < 50.0);
        assert!(tone_amplitude(&s, 1100.0) < 100.0);
        assert_eq!(g.amplitude(&[]), 0.0);
        assert!(tone_amplitude(&[0; 400], 1000.0) == 0.0);
    }
}
