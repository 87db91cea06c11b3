//! WAV prompts in, WAV recordings out.
//!
//! Prompts are what tenants upload: they are accepted only as 8 kHz mono,
//! either 16-bit PCM or G.711 (µ-law, format 7; A-law, format 6), because
//! that is what the phones hear; resampling or downmixing at upload would
//! silently change what the tenant made. Anything else is refused with a
//! message naming the accepted formats, since that message is shown to the
//! person uploading.
//!
//! hound reads the PCM files, but refuses format tags 6 and 7, so the file
//! is first walked with a small RIFF chunk reader of our own: it describes
//! the format for the error message, and decodes the G.711 data chunk
//! itself. Recordings are written with hound: 8 kHz 16-bit PCM, mono, or
//! stereo with the caller on the left and the agent on the right.

use std::io::{Cursor, Seek, Write};
use std::time::Duration;

use thiserror::Error;

use crate::g711::{self, FRAME_SAMPLES};
use crate::tones::SAMPLE_RATE;

/// The formats a prompt may be in, as shown to the uploader.
pub const ACCEPTED_FORMATS: &str = "WAV 8 kHz mono 16-bit PCM, µ-law or A-law";

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_ULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

#[derive(Debug, Error)]
pub enum WavError {
    #[error("not a WAV file ({0}); accepted: {ACCEPTED_FORMATS}")]
    NotWav(&'static str),
    #[error("unsupported prompt: {0}; accepted: {ACCEPTED_FORMATS}")]
    Unsupported(WavFormat),
    #[error("malformed WAV file ({0}); accepted: {ACCEPTED_FORMATS}")]
    Malformed(String),
    #[error("writing WAV: {0}")]
    Write(#[from] hound::Error),
}

/// A WAV file's format, as its `fmt ` chunk declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// Format tag, with WAVE_FORMAT_EXTENSIBLE resolved to its sub-format.
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
}

impl std::fmt::Display for WavFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Hz ", self.sample_rate)?;
        match self.channels {
            1 => write!(f, "mono ")?,
            2 => write!(f, "stereo ")?,
            n => write!(f, "{n}-channel ")?,
        }
        write!(f, "{}-bit ", self.bits_per_sample)?;
        match self.format_tag {
            FORMAT_PCM => write!(f, "PCM"),
            FORMAT_FLOAT => write!(f, "IEEE float"),
            FORMAT_ALAW => write!(f, "A-law"),
            FORMAT_ULAW => write!(f, "µ-law"),
            0x0002 => write!(f, "MS ADPCM"),
            0x0011 => write!(f, "IMA ADPCM"),
            0x0031 => write!(f, "GSM 6.10"),
            0x0055 => write!(f, "MP3"),
            tag => write!(f, "format 0x{tag:04x}"),
        }
    }
}

/// How a prompt was stored (it is always decoded to 16-bit PCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptEncoding {
    Pcm16,
    Ulaw,
    Alaw,
}

/// A prompt decoded to 8 kHz mono 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub encoding: PromptEncoding,
    pub samples: Vec<i16>,
}

impl Prompt {
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.samples.len() as u64)
    }

    /// The prompt as 20 ms frames, the last one completed with silence.
    pub fn frames(&self) -> impl Iterator<Item = [i16; FRAME_SAMPLES]> + '_ {
        self.samples.chunks(FRAME_SAMPLES).map(|chunk| {
            let mut frame = [0i16; FRAME_SAMPLES];
            frame[..chunk.len()].copy_from_slice(chunk);
            frame
        })
    }
}

fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_nanos(samples * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

struct Riff<'a> {
    format: WavFormat,
    data: &'a [u8],
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the RIFF chunks for `fmt ` and `data`.
fn read_riff(bytes: &[u8]) -> Result<Riff<'_>, WavError> {
    if bytes.len() < 12 {
        return Err(WavError::NotWav("shorter than a RIFF header"));
    }
    match &bytes[0..4] {
        b"RIFF" => {}
        b"RIFX" => return Err(WavError::NotWav("big-endian RIFX")),
        b"RF64" => return Err(WavError::NotWav("RF64")),
        _ => return Err(WavError::NotWav("no RIFF header")),
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav("RIFF file is not WAVE"));
    }
    let mut pos = 12;
    let mut format = None;
    let mut data = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = le32(bytes, pos + 4) as usize;
        let body_start = pos + 8;
        // A data chunk whose size overruns the file (a recording cut short,
        // or written to a pipe with a placeholder size) keeps what is there.
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " if format.is_none() => {
                if body.len() < 16 {
                    return Err(WavError::Malformed(
                        "fmt chunk shorter than 16 bytes".into(),
                    ));
                }
                let mut format_tag = le16(body, 0);
                if format_tag == FORMAT_EXTENSIBLE {
                    if body.len() < 40 {
                        return Err(WavError::Malformed(
                            "WAVE_FORMAT_EXTENSIBLE fmt chunk shorter than 40 bytes".into(),
                        ));
                    }
                    // The sub-format GUID starts with the plain format tag.
                    format_tag = le16(body, 24);
                }
                format = Some(WavFormat {
                    format_tag,
                    channels: le16(body, 2),
                    sample_rate: le32(body, 4),
                    bits_per_sample: le16(body, 14),
                });
            }
            b"data" if data.is_none() => data = Some(body),
            _ => {}
        }
        if format.is_some() && data.is_some() {
            break;
        }
        // Chunks are padded to an even length.
        pos = body_start.saturating_add(size).saturating_add(size & 1);
    }
    let format = format.ok_or_else(|| WavError::Malformed("no fmt chunk".into()))?;
    let data = data.ok_or_else(|| WavError::Malformed("no data chunk".into()))?;
    Ok(Riff { format, data })
}

/// Checks a prompt's format without decoding it (for upload validation).
pub fn check_prompt(bytes: &[u8]) -> Result<(WavFormat, PromptEncoding), WavError> {
    let riff = read_riff(bytes)?;
    Ok((riff.format, encoding_of(riff.format)?))
}

fn encoding_of(f: WavFormat) -> Result<PromptEncoding, WavError> {
    if f.sample_rate != SAMPLE_RATE || f.channels != 1 {
        return Err(WavError::Unsupported(f));
    }
    match (f.format_tag, f.bits_per_sample) {
        (FORMAT_PCM, 16) => Ok(PromptEncoding::Pcm16),
        (FORMAT_ULAW, 8) => Ok(PromptEncoding::Ulaw),
        (FORMAT_ALAW, 8) => Ok(PromptEncoding::Alaw),
        _ => Err(WavError::Unsupported(f)),
    }
}

/// Reads a prompt file, refusing anything but the accepted formats.
pub fn load_prompt(bytes: &[u8]) -> Result<Prompt, WavError> {
    let riff = read_riff(bytes)?;
    let encoding = encoding_of(riff.format)?;
    let samples = match encoding {
        PromptEncoding::Pcm16 => {
            let reader = hound::WavReader::new(Cursor::new(bytes))
                .map_err(|e| WavError::Malformed(e.to_string()))?;
            reader
                .into_samples::<i16>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| WavError::Malformed(e.to_string()))?
        }
        PromptEncoding::Ulaw => riff.data.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
        PromptEncoding::Alaw => riff.data.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
    };
    Ok(Prompt { encoding, samples })
}

/// Channel layout of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Mono,
    /// Caller on the left, agent on the right.
    Stereo,
}

/// Writes an 8 kHz 16-bit PCM WAV recording.
pub struct WavRecorder<W: Write + Seek> {
    writer: hound::WavWriter<W>,
    channels: Channels,
}

impl<W: Write + Seek> WavRecorder<W> {
    pub fn new(out: W, channels: Channels) -> Result<Self, WavError> {
        let spec = hound::WavSpec {
            channels: match channels {
                Channels::Mono => 1,
                Channels::Stereo => 2,
            },
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(WavRecorder {
            writer: hound::WavWriter::new(out, spec)?,
            channels,
        })
    }

    pub fn channels(&self) -> Channels {
        self.channels
    }

    /// Records one source (voicemail, a single leg). In a stereo recording
    /// it goes to the left channel, the right staying silent.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        match self.channels {
            Channels::Mono => {
                let mut w = self.writer.get_i16_writer(samples.len() as u32);
                for &s in samples {
                    w.write_sample(s);
                }
                w.flush()?;
            }
            Channels::Stereo => self.write_legs(samples, &[])?,
        }
        Ok(())
    }

    /// Records both legs for the same stretch of time. Stereo puts the
    /// caller left and the agent right; mono mixes them (saturating). The
    /// shorter side is completed with silence so the legs stay aligned.
    pub fn write_legs(&mut self, caller: &[i16], agent: &[i16]) -> Result<(), WavError> {
        let n = caller.len().max(agent.len());
        let at = |v: &[i16], i: usize| v.get(i).copied().unwrap_or(0);
        match self.channels {
            Channels::Mono => {
                let mut w = self.writer.get_i16_writer(n as u32);
                for i in 0..n {
                    w.write_sample(at(caller, i).saturating_add(at(agent, i)));
                }
                w.flush()?;
            }
            Channels::Stereo => {
                let mut w = self.writer.get_i16_writer(2 * n as u32);
                for i in 0..n {
                    w.write_sample(at(caller, i));
                    w.write_sample(at(agent, i));
                }
                w.flush()?;
            }
        }
        Ok(())
    }

    /// Samples per channel written so far.
    pub fn frames(&self) -> u32 {
        self.writer.duration()
    }

    pub fn duration(&self) -> Duration {
        samples_to_duration(u64::from(self.frames()))
    }

    /// Completes the header and returns the recording's duration.
    pub fn finish(self) -> Result<Duration, WavError> {
        let duration = self.duration();
        self.writer.finalize()?;
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Prng;
    use crate::tones::{ToneSpec, tone_amplitude};

    /// A WAV file built by hand, for the formats hound will not write.
    fn riff(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let block_align = channels * bits.div_ceil(8);
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        fmt.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        fmt.extend_from_slice(&block_align.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        // A LIST chunk of odd length first, to exercise skipping and padding.
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        out.extend_from_slice(&fmt);
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let riff_len = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff_len.to_le_bytes());
        out
    }

    fn pcm16_wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    #[test]
    fn reads_pcm16_prompt() {
        let samples: Vec<i16> = (0..500).map(|i| (i * 37 - 9000) as i16).collect();
        let p = load_prompt(&pcm16_wav(8000, 1, &samples)).unwrap();
        assert_eq!(p.encoding, PromptEncoding::Pcm16);
        assert_eq!(p.samples, samples);
        assert_eq!(p.duration(), Duration::from_micros(62_500));
        let frames: Vec<_> = p.frames().collect();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[3][..20], samples[480..]);
        assert!(frames[3][20..].iter().all(|&s| s == 0));
    }

    #[test]
    fn reads_ulaw_and_alaw_prompts() {
        let tone = {
            let mut v = vec![0i16; 800];
            ToneSpec::beep().generator().fill(&mut v);
            v
        };
        let ulaw: Vec<u8> = tone.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
        let p = load_prompt(&riff(7, 1, 8000, 8, &ulaw)).unwrap();
        assert_eq!(p.encoding, PromptEncoding::Ulaw);
        assert_eq!(p.samples.len(), 800);
        assert!((tone_amplitude(&p.samples, 1000.0) - 8000.0).abs() < 200.0);

        let alaw: Vec<u8> = tone.iter().map(|&s| g711::linear_to_alaw(s)).collect();
        let p = load_prompt(&riff(6, 1, 8000, 8, &alaw)).unwrap();
        assert_eq!(p.encoding, PromptEncoding::Alaw);
        assert_eq!(p.samples[0], g711::alaw_to_linear(alaw[0]));
        assert!((tone_amplitude(&p.samples, 1000.0) - 8000.0).abs() < 200.0);
        assert_eq!(
            check_prompt(&riff(7, 1, 8000, 8, &ulaw)).unwrap().1,
            PromptEncoding::Ulaw
        );
    }

    #[test]
    fn reads_extensible_pcm() {
        // WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, as Windows tools write it.
        let mut bytes = b"RIFF\0\0\0\0WAVEfmt \x28\0\0\0".to_vec();
        bytes.extend_from_slice(&0xfffeu16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&16000u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        bytes.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        bytes.extend_from_slice(&4u32.to_le_bytes()); // channel mask: front centre
        bytes.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
        ]);
        bytes.extend_from_slice(b"data\x04\0\0\0");
        bytes.extend_from_slice(&[0x10, 0x00, 0xf0, 0xff]);
        let len = (bytes.len() - 8) as u32;
        bytes[4..8].copy_from_slice(&len.to_le_bytes());
        assert_eq!(load_prompt(&bytes).unwrap().samples, vec![16, -16]);
    }

    #[test]
    fn refuses_other_formats_naming_the_accepted_ones() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (pcm16_wav(44100, 2, &[0; 4]), "44100 Hz stereo 16-bit PCM"),
            (pcm16_wav(16000, 1, &[0; 4]), "16000 Hz mono 16-bit PCM"),
            (pcm16_wav(8000, 2, &[0; 4]), "8000 Hz stereo 16-bit PCM"),
            (riff(1, 1, 8000, 8, &[0; 4]), "8000 Hz mono 8-bit PCM"),
            (riff(7, 2, 8000, 8, &[0; 4]), "8000 Hz stereo 8-bit µ-law"),
            (riff(6, 1, 16000, 8, &[0; 4]), "16000 Hz mono 8-bit A-law"),
            (
                riff(3, 1, 8000, 32, &[0; 8]),
                "8000 Hz mono 32-bit IEEE float",
            ),
            (riff(0x55, 1, 8000, 0, &[0; 8]), "8000 Hz mono 0-bit MP3"),
            (
                riff(0x1234, 6, 8000, 16, &[]),
                "8000 Hz 6-channel 16-bit format 0x1234",
            ),
        ];
        for (bytes, described) in cases {
            let err = load_prompt(&bytes).unwrap_err();
            assert!(matches!(err, WavError::Unsupported(_)), "{described}");
            assert_eq!(
                err.to_string(),
                format!(
                    "unsupported prompt: {described}; accepted: WAV 8 kHz mono 16-bit PCM, µ-law or A-law"
                )
            );
            assert!(check_prompt(&bytes).is_err());
        }
    }

    #[test]
    fn refuses_non_wav_and_broken_files() {
        let mp3 = b"ID3\x04\0\0\0\0\0\0 some mp3";
        let err = load_prompt(mp3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a WAV file (no RIFF header); accepted: WAV 8 kHz mono 16-bit PCM, µ-law or A-law"
        );
        assert!(matches!(load_prompt(b"RIFF"), Err(WavError::NotWav(_))));
        assert!(matches!(
            load_prompt(b"RIFF\0\0\0\0AVI LIST"),
            Err(WavError::NotWav(_))
        ));
        let no_data = &riff(7, 1, 8000, 8, &[])[..];
        let cut = &no_data[..no_data.len() - 8];
        let err = load_prompt(cut).unwrap_err();
        assert!(err.to_string().contains("no data chunk"), "{err}");
        assert!(err.to_string().ends_with(ACCEPTED_FORMATS));
        let short_fmt = b"RIFF\0\0\0\0WAVEfmt \x04\0\0\0\x01\0\x01\0";
        assert!(matches!(
            load_prompt(short_fmt),
            Err(WavError::Malformed(_))
        ));
        // A data chunk announcing more than is there keeps what is there.
        let mut overlong = riff(7, 1, 8000, 8, &[0xff; 10]);
        let at = overlong.len() - 14;
        overlong[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(load_prompt(&overlong).unwrap().samples, vec![0; 10]);
    }

    #[test]
    fn random_and_mutated_files_never_panic() {
        let mut rng = Prng::new(0x3a1e);
        let base = riff(7, 1, 8000, 8, &[0x7f; 40]);
        let pcm = pcm16_wav(8000, 1, &[5; 20]);
        for i in 0..20_000 {
            let mut b = if i % 2 == 0 {
                base.clone()
            } else {
                pcm.clone()
            };
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len() as u32) as usize;
                b[at] = rng.next_u32() as u8;
            }
            b.truncate(rng.below(b.len() as u32 + 1) as usize);
            let _ = load_prompt(&b);
        }
        for _ in 0..5_000 {
            let len = rng.below(64) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            if b.len() >= 12 {
                b[..4].copy_from_slice(b"RIFF");
                b[8..12].copy_from_slice(b"WAVE");
            }
            let _ = load_prompt(&b);
        }
    }

    #[test]
    fn stereo_recording_keeps_legs_apart() {
        let mut caller = vec![0i16; 8000];
        ToneSpec::beep().generator().fill(&mut caller[..2000]);
        let mut agent = vec![0i16; 8000];
        ToneSpec::busy().generator().fill(&mut agent);
        let mut file = Cursor::new(Vec::new());
        let mut rec = WavRecorder::new(&mut file, Channels::Stereo).unwrap();
        for (c, a) in caller.chunks(160).zip(agent.chunks(160)) {
            rec.write_legs(c, a).unwrap();
        }
        // The agent's side ran 10 ms longer: the caller is padded.
        rec.write_legs(&[], &[1; 80]).unwrap();
        assert_eq!(rec.frames(), 8080);
        let duration = rec.finish().unwrap();
        assert_eq!(duration, Duration::from_millis(1010));

        let reader = hound::WavReader::new(Cursor::new(file.into_inner())).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 8000, 16)
        );
        assert_eq!(reader.duration(), 8080);
        let all: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        let left: Vec<i16> = all.iter().step_by(2).copied().collect();
        let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
        assert!((tone_amplitude(&left[..2000], 1000.0) - 8000.0).abs() < 50.0);
        assert!(tone_amplitude(&left[..2000], 480.0) < 50.0);
        assert!((tone_amplitude(&right[..400], 480.0) - 4000.0).abs() < 50.0);
        assert!(tone_amplitude(&right[..400], 1000.0) < 50.0);
        assert_eq!(&left[8000..], &[0; 80]);
        assert_eq!(&right[8000..], &[1; 80]);
    }

    #[test]
    fn mono_recording_mixes_and_is_a_valid_prompt() {
        let mut file = Cursor::new(Vec::new());
        let mut rec = WavRecorder::new(&mut file, Channels::Mono).unwrap();
        rec.write(&[100; 160]).unwrap();
        rec.write_legs(&[30_000; 160], &[30_000; 160]).unwrap();
        rec.write_legs(&[5; 160], &[-2; 40]).unwrap();
        assert_eq!(rec.channels(), Channels::Mono);
        assert_eq!(rec.finish().unwrap(), Duration::from_millis(60));
        let p = load_prompt(file.get_ref()).unwrap();
        assert_eq!(p.samples.len(), 480);
        assert_eq!(p.samples[0], 100);
        assert_eq!(p.samples[160], i16::MAX);
        assert_eq!(p.samples[320], 3);
        assert_eq!(p.samples[479], 5);
    }

    #[test]
    fn single_source_in_stereo_goes_left() {
        let mut file = Cursor::new(Vec::new());
        let mut rec = WavRecorder::new(&mut file, Channels::Stereo).unwrap();
        rec.write(&[7; 10]).unwrap();
        assert_eq!(rec.finish().unwrap(), Duration::from_micros(1250));
        let all: Vec<i16> = hound::WavReader::new(Cursor::new(file.into_inner()))
            .unwrap()
            .into_samples()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all.len(), 20);
        assert!(all.chunks(2).all(|lr| lr == [7, 0]));
    }
}
