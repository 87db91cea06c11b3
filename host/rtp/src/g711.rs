//! G.711 µ-law (PCMU) and A-law (PCMA), computed from ITU-T G.711's segment
//! definitions, with the decode and cross-transcode tables built at compile
//! time.
//!
//! Decoding is a 256-entry table lookup. Encoding is computed (a
//! `leading_zeros` and a few shifts), cheaper than a 64 KiB table that would
//! sit in cache next to everything else. The relay transcodes PCMU↔PCMA when
//! the two legs negotiated different laws; that goes through a 256-entry
//! byte-to-byte table (decode one law, re-encode in the other), so it is one
//! lookup per sample and can be done in place in the packet buffer.

/// Samples per 20 ms frame at 8 kHz; also bytes per G.711 frame.
pub const FRAME_SAMPLES: usize = 160;

/// Static RTP payload types of the two laws (RFC 3551 §6).
pub const PT_PCMU: u8 = 0;
pub const PT_PCMA: u8 = 8;

// µ-law works on a 14-bit magnitude with a bias of 33 (132 in 16-bit scale)
// so every segment boundary is a power of two; the clip keeps
// magnitude + bias inside 15 bits.
const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample to µ-law.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    if s > ULAW_CLIP {
        s = ULAW_CLIP;
    }
    s += ULAW_BIAS;
    // s is in 132..=32767: its top bit is bit 7..=14, giving segment 0..=7.
    let exponent = (31 - s.leading_zeros()) as i32 - 7;
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    // µ-law bytes are sent inverted (G.711 §2: even bits and sign complemented).
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Encodes one 16-bit linear sample to A-law.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    // A-law quantises 13 bits; the even bits of the code are inverted (0x55)
    // and the sign bit is set for positive values.
    let s = (sample as i32) >> 3;
    let (mask, mag) = if s >= 0 { (0xd5, s) } else { (0x55, -s - 1) };
    let (segment, mantissa) = if mag < 32 {
        (0, (mag >> 1) & 0x0f)
    } else if mag > 4095 {
        (7, 0x0f)
    } else {
        let seg = (31 - mag.leading_zeros()) as i32 - 4;
        (seg, (mag >> seg) & 0x0f)
    };
    (((segment << 4) | mantissa) ^ mask) as u8
}

const fn ulaw_decode_computed(byte: u8) -> i16 {
    let u = !byte;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    // The midpoint of the quantisation interval, bias removed.
    let mag = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

const fn alaw_decode_computed(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let m = ((a & 0x0f) as i32) << 4;
    let segment = ((a & 0x70) >> 4) as i32;
    // Midpoint of the interval in 16-bit scale: segment 0 and 1 share a step.
    let mag = match segment {
        0 => m + 8,
        1 => m + 0x108,
        _ => (m + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

const fn build_decode(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_computed(i as u8)
        } else {
            ulaw_decode_computed(i as u8)
        };
        i += 1;
    }
    t
}

const fn build_transcode(from_alaw: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if from_alaw {
            linear_to_ulaw(alaw_decode_computed(i as u8))
        } else {
            linear_to_alaw(ulaw_decode_computed(i as u8))
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_decode(false);
static ALAW_DECODE: [i16; 256] = build_decode(true);
static ULAW_TO_ALAW: [u8; 256] = build_transcode(false);
static ALAW_TO_ULAW: [u8; 256] = build_transcode(true);

/// Decodes one µ-law byte.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    ULAW_DECODE[usize::from(byte)]
}

/// Decodes one A-law byte.
pub fn alaw_to_linear(byte: u8) -> i16 {
    ALAW_DECODE[usize::from(byte)]
}

/// One µ-law byte as A-law.
pub fn ulaw_to_alaw(byte: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(byte)]
}

/// One A-law byte as µ-law.
pub fn alaw_to_ulaw(byte: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(byte)]
}

/// Rewrites a µ-law payload as A-law, in place.
pub fn transcode_ulaw_to_alaw(buf: &mut [u8]) {
    for b in buf {
        *b = ULAW_TO_ALAW[usize::from(*b)];
    }
}

/// Rewrites an A-law payload as µ-law, in place.
pub fn transcode_alaw_to_ulaw(buf: &mut [u8]) {
    for b in buf {
        *b = ALAW_TO_ULAW[usize::from(*b)];
    }
}

/// The two G.711 laws, for code that handles either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl Law {
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Pcmu => PT_PCMU,
            Law::Pcma => PT_PCMA,
        }
    }

    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            PT_PCMU => Some(Law::Pcmu),
            PT_PCMA => Some(Law::Pcma),
            _ => None,
        }
    }

    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Law::Pcmu => linear_to_ulaw(sample),
            Law::Pcma => linear_to_alaw(sample),
        }
    }

    pub fn decode_sample(self, byte: u8) -> i16 {
        match self {
            Law::Pcmu => ulaw_to_linear(byte),
            Law::Pcma => alaw_to_linear(byte),
        }
    }

    /// Appends the encoding of `samples` to `out`.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        out.extend(samples.iter().map(|&s| self.encode_sample(s)));
    }

    /// Appends the decoding of `bytes` to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            Law::Pcmu => &ULAW_DECODE,
            Law::Pcma => &ALAW_DECODE,
        };
        out.extend(bytes.iter().map(|&b| table[usize::from(b)]));
    }

    /// Converts a payload in this law to `to`, in place (no-op when equal).
    pub fn transcode(self, to: Law, buf: &mut [u8]) {
        match (self, to) {
            (Law::Pcmu, Law::Pcma) => transcode_ulaw_to_alaw(buf),
            (Law::Pcma, Law::Pcmu) => transcode_alaw_to_ulaw(buf),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_encodes_to_the_idle_codes() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn extremes() {
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
    }

    #[test]
    fn known_values_from_g711_tables() {
        // Segment boundaries of µ-law (G.711 Table 2a, in 16-bit scale).
        assert_eq!(linear_to_ulaw(1000), 0xce);
        assert_eq!(ulaw_to_linear(0xce), 988);
        assert_eq!(linear_to_ulaw(-1000), 0x4e);
        assert_eq!(linear_to_alaw(1000), 0xfa);
        assert_eq!(alaw_to_linear(0xfa), 1008);
        assert_eq!(linear_to_alaw(-1000), 0x7a);
    }

    #[test]
    fn decode_then_encode_is_identity() {
        for b in 0..=255u8 {
            // 0x7f is µ-law's negative zero; it decodes to 0 which encodes as +0.
            if b != 0x7f {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(b)), b, "µ-law {b:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "A-law {b:#x}");
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step() {
        for x in i16::MIN..=i16::MAX {
            let mag = i32::from(x).abs();
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(x)));
            // Half a quantisation step is at most 1/32 of the biased
            // magnitude; beyond the clip level the error grows to the clip.
            let bound = if mag > ULAW_CLIP {
                mag - 32124
            } else {
                (mag + ULAW_BIAS) / 32 + 1
            };
            assert!((i32::from(x) - u).abs() <= bound, "µ-law {x} -> {u}");
            let a = i32::from(alaw_to_linear(linear_to_alaw(x)));
            let bound = (mag / 32).max(8) + 8;
            assert!((i32::from(x) - a).abs() <= bound, "A-law {x} -> {a}");
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut last_u = i32::MIN;
        let mut last_a = i32::MIN;
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(x)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(x)));
            assert!(u >= last_u && a >= last_a, "at {x}");
            last_u = u;
            last_a = a;
        }
    }

    #[test]
    fn transcoding_preserves_the_signal() {
        let mut buf: Vec<u8> = (0..=255).collect();
        transcode_ulaw_to_alaw(&mut buf);
        for (i, &a) in buf.iter().enumerate() {
            let orig = i32::from(ulaw_to_linear(i as u8));
            let got = i32::from(alaw_to_linear(a));
            assert!((orig - got).abs() <= orig.abs() / 16 + 16, "{i:#x}");
        }
        transcode_alaw_to_ulaw(&mut buf);
        // µ-law → A-law → µ-law lands within one µ-law step of the start.
        for (i, &u) in buf.iter().enumerate() {
            let orig = i32::from(ulaw_to_linear(i as u8));
            let got = i32::from(ulaw_to_linear(u));
            assert!((orig - got).abs() <= orig.abs() / 16 + 8, "{i:#x}");
        }
        assert_eq!(ulaw_to_alaw(0xff), 0xd5);
        // A-law has no zero code: its idle +8 is µ-law code 1 (0xfe), as in
        // G.711 Table 4.
        assert_eq!(alaw_to_ulaw(0xd5), 0xfe);
        assert_eq!(alaw_to_ulaw(0x55), 0x7e);
    }

    #[test]
    fn law_helpers() {
        assert_eq!(Law::from_payload_type(0), Some(Law::Pcmu));
        assert_eq!(Law::from_payload_type(8), Some(Law::Pcma));
        assert_eq!(Law::from_payload_type(18), None);
        let samples = [0i16, 1000, -1000, 20000];
        let mut enc = Vec::new();
        Law::Pcma.encode(&samples, &mut enc);
        assert_eq!(enc[0], 0xd5);
        let mut copy = enc.clone();
        Law::Pcma.transcode(Law::Pcmu, &mut copy);
        assert_eq!(copy[0], 0xfe);
        assert_eq!(copy[1], linear_to_ulaw(1008));
        Law::Pcmu.transcode(Law::Pcmu, &mut copy);
        assert_eq!(copy[0], 0xfe);
        let mut dec = Vec::new();
        Law::Pcma.decode(&enc, &mut dec);
        assert_eq!(dec[1], 1008);
    }
}
