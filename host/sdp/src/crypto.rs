//! SDES key exchange for SRTP (RFC 4568): the `a=crypto` attribute, the
//! suites this host speaks, and the per-leg policy that says whether a
//! leg may, must or must not use SRTP.
//!
//! The attribute stays among a section's verbatim attributes (parsing and
//! writing an SDP never loses it); [`MediaDescription::cryptos`] reads the
//! usable lines typed, and negotiation writes ours with [`Crypto::value`].
//!
//! Only the two suites every SIP phone with SRTP has are taken:
//! `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32`, with a single
//! `inline:` key of 30 bytes (16 of key, 14 of salt). A line with another
//! suite, an MKI, several keys or session parameters is not usable and is
//! skipped, as RFC 4568 §6.1 lets an answerer do with what it does not
//! understand.

use std::fmt;

use crate::model::{Attribute, MediaDescription};

/// Master key and salt, concatenated (RFC 4568 §6.1: `key||salt`).
pub const KEY_LEN: usize = 30;

/// An SRTP crypto suite (RFC 4568 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag.
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag on SRTP (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    pub const fn as_str(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn parse(s: &str) -> Option<CryptoSuite> {
        match s {
            "AES_CM_128_HMAC_SHA1_80" => Some(CryptoSuite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(CryptoSuite::AesCm128HmacSha1_32),
            _ => None,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One usable `a=crypto:<tag> <suite> inline:<key||salt>` line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: CryptoSuite,
    pub key: [u8; KEY_LEN],
}

impl fmt::Debug for Crypto {
    // The key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Crypto {
    /// Reads an attribute value (what follows `a=crypto:`); `None` when
    /// it is malformed or not one this host can use.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut words = value.split_ascii_whitespace();
        let tag = words.next()?;
        // RFC 4568 §9.1: 1*9DIGIT.
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let tag = tag.parse().ok()?;
        let suite = CryptoSuite::parse(words.next()?)?;
        let key_params = words.next()?;
        if words.next().is_some() || key_params.contains(';') {
            // Session parameters (UNENCRYPTED_SRTP, KDR, …) or several
            // keys: not something we can honour.
            return None;
        }
        let inline = key_params.strip_prefix("inline:")?;
        let mut parts = inline.split('|');
        let key = decode_base64(parts.next()?)?;
        for p in parts {
            // A lifetime is fine (we rekey never and calls are short); an
            // MKI would change the packet format.
            if p.contains(':') {
                return None;
            }
        }
        Some(Crypto {
            tag,
            suite,
            key: key.try_into().ok()?,
        })
    }

    /// The attribute value to write.
    pub fn value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite,
            encode_base64(&self.key)
        )
    }

    /// As an attribute of a section.
    pub fn attribute(&self) -> Attribute {
        Attribute::new("crypto", Some(&self.value()))
    }
}

impl MediaDescription {
    /// The section's usable `a=crypto` lines, in the writer's order of
    /// preference.
    pub fn cryptos(&self) -> impl Iterator<Item = Crypto> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name == "crypto")
            .filter_map(|a| Crypto::parse(a.value.as_deref()?))
    }

    /// The section has `a=crypto` lines at all (usable or not).
    pub fn has_crypto(&self) -> bool {
        self.attributes.iter().any(|a| a.name == "crypto")
    }
}

/// Whether a leg (an extension's phone, a trunk) uses SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SrtpPolicy {
    /// Plain RTP only: an `RTP/SAVP`-only offer is refused, `a=crypto`
    /// on an `RTP/AVP` offer is ignored.
    #[default]
    Off,
    /// SRTP when the leg offers it, plain RTP otherwise; we offer plain.
    Optional,
    /// SRTP only: we offer `RTP/SAVP`, and a plain offer or answer is
    /// refused (488).
    Required,
}

impl SrtpPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            SrtpPolicy::Off => "off",
            SrtpPolicy::Optional => "optional",
            SrtpPolicy::Required => "required",
        }
    }

    pub fn parse(s: &str) -> Option<SrtpPolicy> {
        match s {
            "off" => Some(SrtpPolicy::Off),
            "optional" => Some(SrtpPolicy::Optional),
            "required" => Some(SrtpPolicy::Required),
            _ => None,
        }
    }
}

impl fmt::Display for SrtpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a leg's negotiation settled for SRTP: the suite, the key the
/// peer encrypts with (to decrypt what it sends) and ours (to encrypt
/// what we send it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: CryptoSuite,
    /// The `a=crypto` tag both sides used.
    pub tag: u32,
    /// Our key: what we send is encrypted with it.
    pub local: [u8; KEY_LEN],
    /// The peer's key: what it sends us is decrypted with it.
    pub remote: [u8; KEY_LEN],
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as `inline:` keys are.
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads standard base64; padding is optional (some phones leave it
/// out). `None` on anything else.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of a proper length.
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_rfc_4648() {
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(encode_base64(b"foob"), "Zm9vYg==");
        assert_eq!(decode_base64("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(decode_base64("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_base64("Zm9vYmE=").unwrap(), b"fooba");
        assert!(decode_base64("Zm9v*").is_none());
        let key: Vec<u8> = (0..30).collect();
        assert_eq!(decode_base64(&encode_base64(&key)).unwrap(), key);
    }

    #[test]
    fn the_rfc_4568_example_line_is_read() {
        // RFC 4568 §4 (its example key is 40 characters: 30 bytes).
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
        );
        assert!(c.is_none(), "an MKI is not usable");
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
        )
        .unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, CryptoSuite::AesCm128HmacSha1_80);
        assert_eq!(
            c.value(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        );
        assert!(
            Crypto::parse(
                "2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
            )
            .is_some()
        );
        assert!(
            Crypto::parse("1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
                .is_none()
        );
        assert!(
            Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVe").is_none(),
            "short key"
        );
        assert!(Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP").is_none());
    }

    #[test]
    fn policies_read_and_write() {
        for p in [SrtpPolicy::Off, SrtpPolicy::Optional, SrtpPolicy::Required] {
            assert_eq!(SrtpPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(SrtpPolicy::parse("yes"), None);
        assert_eq!(SrtpPolicy::default(), SrtpPolicy::Off);
    }
}
