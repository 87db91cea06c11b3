//! A SIP phone's SRTP (RFC 3711) with keys from SDES (RFC 4568), without
//! I/O: the media task puts an [`SrtpLeg`] between the leg's socket and
//! the session, which sees plain RTP either way. What arrives is
//! authenticated and decrypted with the peer's key (replays dropped);
//! what the session sends the leg is encrypted with ours.
//!
//! SRTCP that arrives on the RTP port (rtcp-mux) is recognised and
//! dropped, as plain RTCP is on the RTCP port: the session does not use
//! RTCP.
//!
//! The transform is `webrtc-srtp`'s (see the workspace Cargo.toml).

use std::fmt;

use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_no_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

pub use switchyard_sdp::crypto::KEY_LEN;
use switchyard_sdp::{CryptoSuite, SrtpKeys};

const MASTER_KEY_LEN: usize = 16;
/// How far behind the newest packet a late one is still taken.
const REPLAY_WINDOW: usize = 128;

/// The transform of a suite SDES negotiated.
const fn profile(suite: CryptoSuite) -> ProtectionProfile {
    match suite {
        CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    }
}

/// The keys were refused (never with keys of the right length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpError(String);

impl fmt::Display for SrtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SRTP: {}", self.0)
    }
}

impl std::error::Error for SrtpError {}

/// Builds one direction's context from a 30-byte key||salt.
fn context(suite: CryptoSuite, key: &[u8; KEY_LEN], replay: bool) -> Result<Context, SrtpError> {
    let (master, salt) = key.split_at(MASTER_KEY_LEN);
    Context::new(
        master,
        salt,
        profile(suite),
        replay.then(|| srtp_replay_protection(REPLAY_WINDOW)),
        Some(srtcp_no_replay_protection()),
    )
    .map_err(|e| SrtpError(e.to_string()))
}

/// RTCP packet types 192–223 in the second byte (RFC 5761 §4): what
/// shares a port with RTP and is not RTP.
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && (192..=223).contains(&datagram[1])
}

/// Both directions of one leg's SRTP.
pub struct SrtpLeg {
    keys: SrtpKeys,
    inbound: Context,
    outbound: Context,
}

impl fmt::Debug for SrtpLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpLeg")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl SrtpLeg {
    pub fn new(keys: SrtpKeys) -> Result<SrtpLeg, SrtpError> {
        Ok(SrtpLeg {
            keys,
            inbound: context(keys.suite, &keys.remote, true)?,
            outbound: context(keys.suite, &keys.local, false)?,
        })
    }

    /// The keys it was made with (a renegotiation that keeps them keeps
    /// the leg, and with it the rollover counters).
    pub const fn keys(&self) -> &SrtpKeys {
        &self.keys
    }

    /// A datagram from the peer: the RTP packet inside, or `None` for
    /// SRTCP, a packet that fails authentication, a replay, or garbage.
    pub fn unprotect(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        if is_rtcp(datagram) {
            return None;
        }
        self.inbound.decrypt_rtp(datagram).ok().map(|b| b.to_vec())
    }

    /// An RTP packet for the peer, encrypted and authenticated; `None`
    /// if it is not RTP (the session only sends RTP).
    pub fn protect(&mut self, rtp: &[u8]) -> Option<Vec<u8>> {
        self.outbound.encrypt_rtp(rtp).ok().map(|b| b.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn pair(suite: CryptoSuite) -> (SrtpLeg, SrtpLeg) {
        let a: [u8; KEY_LEN] = std::array::from_fn(|i| i as u8);
        let b: [u8; KEY_LEN] = std::array::from_fn(|i| 200 - i as u8);
        let ours = SrtpLeg::new(SrtpKeys {
            tag: 1,
            suite,
            local: a,
            remote: b,
        })
        .unwrap();
        let theirs = SrtpLeg::new(SrtpKeys {
            tag: 1,
            suite,
            local: b,
            remote: a,
        })
        .unwrap();
        (ours, theirs)
    }

    #[test]
    fn what_one_side_protects_the_other_reads_both_ways() {
        for (suite, tag) in [
            (CryptoSuite::AesCm128HmacSha1_80, 10),
            (CryptoSuite::AesCm128HmacSha1_32, 4),
        ] {
            let (mut us, mut phone) = pair(suite);
            for seq in [65534u16, 65535, 0, 1] {
                let plain = rtp(seq, &[0xd5; 160]);
                let wire = us.protect(&plain).unwrap();
                assert_eq!(wire.len(), plain.len() + tag);
                assert_eq!(wire[..12], plain[..12], "the header stays clear");
                assert_ne!(wire[12..172], plain[12..], "the payload is encrypted");
                assert_eq!(phone.unprotect(&wire).unwrap(), plain);
                let back = rtp(seq, &[0x55; 160]);
                let wire = phone.protect(&back).unwrap();
                assert_eq!(us.unprotect(&wire).unwrap(), back);
                assert!(us.unprotect(&wire).is_none(), "a replay is dropped");
            }
        }
    }

    #[test]
    fn tampering_a_wrong_key_srtcp_and_garbage_are_dropped() {
        let (mut us, mut phone) = pair(CryptoSuite::AesCm128HmacSha1_80);
        let mut wire = phone.protect(&rtp(7, &[1; 160])).unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        assert!(us.unprotect(&wire).is_none(), "bad tag");
        // Our own packet read with the peer's key: wrong key.
        let mine = us.protect(&rtp(8, &[1; 160])).unwrap();
        assert!(us.unprotect(&mine).is_none());
        // An SRTCP receiver report (PT 201) and short junk.
        let rr = [
            0x80, 201, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        ];
        assert!(us.unprotect(&rr).is_none());
        for n in 0..12 {
            assert!(us.unprotect(&[0x80; 12][..n]).is_none());
        }
    }

    /// RFC 3711 Appendix B.3's master key and salt derive the session
    /// key C61E7A93…A087 and salt 30CBBC08…9AE1; for SSRC 0 and index 0
    /// the AES-CM keystream is then AES(key, salt‖0000) followed by the
    /// next counter block (computed apart from this crate), so a zero
    /// payload encrypts to exactly that.
    #[test]
    fn rfc_3711_key_derivation_vector_gives_the_expected_keystream() {
        let master: [u8; KEY_LEN] = [
            0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F, 0xA3, 0x2C, 0x06, 0xDE,
            0x41, 0x39, 0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A,
            0xAB, 0xE6,
        ];
        let mut leg = SrtpLeg::new(SrtpKeys {
            tag: 1,
            suite: CryptoSuite::AesCm128HmacSha1_80,
            local: master,
            remote: master,
        })
        .unwrap();
        let mut zero = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        zero.extend_from_slice(&[0; 32]);
        let wire = leg.protect(&zero).unwrap();
        let expected = [
            0xfa, 0x63, 0xbc, 0x46, 0x68, 0x68, 0x5b, 0x65, 0xf8, 0xfa, 0x1c, 0xe3, 0x90, 0x9c,
            0xea, 0xd5, 0x4d, 0xfb, 0x05, 0xf1, 0x54, 0xb6, 0x23, 0xdd, 0xe2, 0xbb, 0x3d, 0xd7,
            0x17, 0xdf, 0xc3, 0xfb,
        ];
        assert_eq!(wire[12..44], expected);
        assert_eq!(leg.unprotect(&wire).unwrap(), zero);
    }
}
