//! The prompt format check: what the media player can play without
//! transcoding is WAV, 8 kHz, mono, 16-bit PCM or 8-bit µ-law. Anything else
//! is refused at upload with a message naming those formats, rather than
//! failing later, mid-call.

/// The formats accepted, for refusal messages.
pub const ACCEPTED: &str = "WAV (RIFF) 8000 Hz mono, 16-bit PCM or 8-bit mu-law (G.711)";

/// What an accepted prompt holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavInfo {
    /// `pcm16` or `mulaw`.
    pub encoding: &'static str,
    pub duration_ms: u64,
}

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_MULAW: u16 = 7;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Check a prompt; the error says what is wrong and what is accepted.
pub fn check(bytes: &[u8]) -> Result<WavInfo, String> {
    let refuse = |why: String| Err(format!("{why}; accepted: {ACCEPTED}"));
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return refuse("not a WAV file (no RIFF/WAVE header)".into());
    }
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    let mut data_len: Option<u32> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32le(bytes, at + 4).unwrap_or(0);
        let body = at + 8;
        match id {
            b"fmt " => {
                let (Some(mut format), Some(channels), Some(rate), Some(bits)) = (
                    u16le(bytes, body),
                    u16le(bytes, body + 2),
                    u32le(bytes, body + 4),
                    u16le(bytes, body + 14),
                ) else {
                    return refuse("truncated fmt chunk".into());
                };
                if format == WAVE_FORMAT_EXTENSIBLE {
                    // The real format is the first two bytes of the
                    // sub-format GUID, after cbSize, valid bits and mask.
                    match u16le(bytes, body + 24) {
                        Some(f) => format = f,
                        None => return refuse("truncated extensible fmt chunk".into()),
                    }
                }
                fmt = Some((format, channels, rate, bits));
            }
            b"data" => {
                // Some writers leave the size of a streamed data chunk at
                // 0 or 0xFFFFFFFF; what is in the file is what plays.
                let in_file = (bytes.len() - body) as u64;
                data_len = Some(u64::from(size).min(in_file) as u32);
                break;
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = body + size as usize + (size as usize & 1);
    }
    let Some((format, channels, rate, bits)) = fmt else {
        return refuse("no fmt chunk".into());
    };
    let Some(data_len) = data_len else {
        return refuse("no data chunk".into());
    };
    let encoding = match (format, bits) {
        (WAVE_FORMAT_PCM, 16) => "pcm16",
        (WAVE_FORMAT_MULAW, 8) => "mulaw",
        (WAVE_FORMAT_PCM, b) => return refuse(format!("{b}-bit PCM")),
        (f, b) => return refuse(format!("audio format {f} with {b} bits per sample")),
    };
    if channels != 1 {
        return refuse(format!("{channels} channels"));
    }
    if rate != 8000 {
        return refuse(format!("{rate} Hz"));
    }
    let bytes_per_ms = if encoding == "pcm16" { 16 } else { 8 };
    Ok(WavInfo {
        encoding,
        duration_ms: u64::from(data_len) / bytes_per_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&format.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits / 8;
        v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        // An odd-sized extra chunk, to exercise padding.
        v.extend_from_slice(b"LIST");
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(b"abc\0");
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn accepts_pcm16_and_mulaw_8k_mono() {
        let pcm = check(&wav(1, 1, 8000, 16, &[0; 1600])).unwrap();
        assert_eq!(
            pcm,
            WavInfo {
                encoding: "pcm16",
                duration_ms: 100
            }
        );
        let ulaw = check(&wav(7, 1, 8000, 8, &[0xff; 800])).unwrap();
        assert_eq!(
            ulaw,
            WavInfo {
                encoding: "mulaw",
                duration_ms: 100
            }
        );
    }

    #[test]
    fn refuses_other_formats_naming_the_accepted_ones() {
        for (bytes, why) in [
            (wav(1, 1, 16000, 16, &[0; 10]), "16000 Hz"),
            (wav(1, 2, 8000, 16, &[0; 10]), "2 channels"),
            (wav(1, 1, 8000, 8, &[0; 10]), "8-bit PCM"),
            (wav(6, 1, 8000, 8, &[0; 10]), "audio format 6"),
            (b"ID3\x03 not a wav".to_vec(), "not a WAV"),
            (b"RIFF\0\0\0\0WAVE".to_vec(), "no fmt chunk"),
        ] {
            let e = check(&bytes).unwrap_err();
            assert!(e.contains(why), "{e}");
            assert!(e.contains(ACCEPTED), "{e}");
        }
    }

    #[test]
    fn refuses_missing_data() {
        let mut v = wav(1, 1, 8000, 16, &[]);
        v.truncate(v.len() - 8);
        assert!(check(&v).unwrap_err().contains("no data chunk"));
    }
}
