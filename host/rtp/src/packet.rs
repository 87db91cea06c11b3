//! RTP and RTCP packets on the wire (RFC 3550), and telling them apart when
//! they share a port (RFC 5761).
//!
//! Parsing never panics and never trusts a length field: every count and
//! length read from the packet is checked against the bytes actually there,
//! and a packet that does not add up is refused with a [`PacketError`]. The
//! relay sees bytes from anyone on the internet, so this is the first line of
//! defence. The payload is borrowed from the input buffer (no copy on the hot
//! path); the CSRC list and header extension are copied only when present,
//! which is rare for telephony endpoints.

use thiserror::Error;

/// The only RTP/RTCP version in use (RFC 3550 §5.1).
pub const RTP_VERSION: u8 = 2;

/// Bytes of the fixed RTP header, before CSRCs and extension.
pub const RTP_HEADER_LEN: usize = 12;

/// Why bytes were refused as RTP or RTCP.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("packet too short: {len} bytes, need at least {need}")]
    TooShort { len: usize, need: usize },
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    #[error("CSRC list of {count} entries runs past the end of the packet")]
    CsrcTruncated { count: u8 },
    #[error("header extension runs past the end of the packet")]
    ExtensionTruncated,
    #[error("padding length {pad} does not fit in {available} bytes")]
    BadPadding { pad: usize, available: usize },
    #[error("RTCP packet length {words} words runs past the end of the compound packet")]
    RtcpLengthMismatch { words: u16 },
    #[error("RTCP packet type {packet_type} has {count} items that do not fit its length")]
    RtcpBodyTruncated { packet_type: u8, count: u8 },
    #[error("cannot build packet: {0}")]
    Unbuildable(&'static str),
}

/// What a datagram on a media port is (RFC 5761 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Rtp,
    Rtcp,
    /// Not version 2 or too short for either (STUN, garbage, ...).
    Other,
}

/// Classifies a datagram that arrived on a port carrying both RTP and RTCP.
///
/// RFC 5761 §4 demultiplexes on the second octet: RTCP packet types live in
/// 192–223 (SR 200, RR 201, SDES 202, BYE 203, APP 204, and the feedback and
/// XR types 205–207 phones also send), a range RTP payload types 64–95 with
/// the marker bit would collide with, which is why those payload types are not
/// used when multiplexing.
pub fn classify(buf: &[u8]) -> PacketKind {
    if buf.len() < 4 || buf[0] >> 6 != RTP_VERSION {
        return PacketKind::Other;
    }
    if (192..=223).contains(&buf[1]) {
        if buf.len() >= 8 {
            PacketKind::Rtcp
        } else {
            PacketKind::Other
        }
    } else if buf.len() >= RTP_HEADER_LEN {
        PacketKind::Rtp
    } else {
        PacketKind::Other
    }
}

/// An RTP header extension (RFC 3550 §5.3.1): a profile-defined 16-bit id and
/// a body whose length is a multiple of four bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExtension {
    pub profile: u16,
    pub data: Vec<u8>,
}

/// The RTP header fields, used both for parsing and building.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    pub marker: bool,
    /// 0–127.
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// At most 15 entries.
    pub csrcs: Vec<u32>,
    pub extension: Option<HeaderExtension>,
}

/// A parsed RTP packet whose payload borrows the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub header: RtpHeader,
    /// The payload with any padding removed.
    pub payload: &'a [u8],
    /// Number of padding bytes that followed the payload (0 when the P bit was clear).
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses one RTP packet, refusing anything RFC 3550 §5.1 and A.1 call
    /// invalid: wrong version, CSRCs or extension past the end, padding
    /// count of zero or larger than what follows the header.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        if buf.len() < RTP_HEADER_LEN {
            return Err(PacketError::TooShort {
                len: buf.len(),
                need: RTP_HEADER_LEN,
            });
        }
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(PacketError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let csrc_count = buf[0] & 0x0f;
        let marker = buf[1] & 0x80 != 0;
        let payload_type = buf[1] & 0x7f;
        let sequence = u16::from_be_bytes([buf[2], buf[3]]);
        let timestamp = be32(&buf[4..8]);
        let ssrc = be32(&buf[8..12]);

        let mut pos = RTP_HEADER_LEN;
        let csrc_end = pos + 4 * usize::from(csrc_count);
        if csrc_end > buf.len() {
            return Err(PacketError::CsrcTruncated { count: csrc_count });
        }
        let csrcs = buf[pos..csrc_end].chunks_exact(4).map(be32).collect();
        pos = csrc_end;

        let extension = if has_extension {
            if pos + 4 > buf.len() {
                return Err(PacketError::ExtensionTruncated);
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            let start = pos + 4;
            let end = start + 4 * words;
            if end > buf.len() {
                return Err(PacketError::ExtensionTruncated);
            }
            pos = end;
            Some(HeaderExtension {
                profile,
                data: buf[start..end].to_vec(),
            })
        } else {
            None
        };

        let mut end = buf.len();
        let mut padding = 0u8;
        if has_padding {
            // The last octet counts the padding, itself included, so zero is
            // meaningless and anything reaching into the header is forged.
            let pad = usize::from(buf[buf.len() - 1]);
            let available = buf.len() - pos;
            if pad == 0 || pad > available {
                return Err(PacketError::BadPadding { pad, available });
            }
            end -= pad;
            padding = pad as u8;
        }

        Ok(RtpPacket {
            header: RtpHeader {
                marker,
                payload_type,
                sequence,
                timestamp,
                ssrc,
                csrcs,
                extension,
            },
            payload: &buf[pos..end],
            padding,
        })
    }
}

impl RtpHeader {
    /// Appends this header and `payload` to `out` as one RTP packet.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), PacketError> {
        self.write_padded(payload, 0, out)
    }

    /// Like [`write`](Self::write), with `padding` bytes of padding (0 for
    /// none); SRTP and some encoders pad to a block size.
    pub fn write_padded(
        &self,
        payload: &[u8],
        padding: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), PacketError> {
        if self.payload_type > 127 {
            return Err(PacketError::Unbuildable("payload type above 127"));
        }
        if self.csrcs.len() > 15 {
            return Err(PacketError::Unbuildable("more than 15 CSRCs"));
        }
        if let Some(ext) = &self.extension
            && (!ext.data.len().is_multiple_of(4) || ext.data.len() / 4 > usize::from(u16::MAX))
        {
            return Err(PacketError::Unbuildable(
                "extension length not a multiple of 4 or too long",
            ));
        }
        let mut b0 = (RTP_VERSION << 6) | self.csrcs.len() as u8;
        if padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(((self.marker as u8) << 7) | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in &self.csrcs {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&((ext.data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(&ext.data);
        }
        out.extend_from_slice(payload);
        if padding > 0 {
            out.extend(std::iter::repeat_n(0u8, usize::from(padding) - 1));
            out.push(padding);
        }
        Ok(())
    }

    /// The packet as a new buffer.
    pub fn to_bytes(&self, payload: &[u8]) -> Result<Vec<u8>, PacketError> {
        let mut out = Vec::with_capacity(RTP_HEADER_LEN + 4 * self.csrcs.len() + payload.len());
        self.write(payload, &mut out)?;
        Ok(out)
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------- RTCP

/// RTCP packet types (RFC 3550 §12.1).
pub mod rtcp_type {
    pub const SR: u8 = 200;
    pub const RR: u8 = 201;
    pub const SDES: u8 = 202;
    pub const BYE: u8 = 203;
    pub const APP: u8 = 204;
}

/// One reception report block (RFC 3550 §6.4.1), in SRs and RRs alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost; 24-bit signed on the wire (duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | max seq).
    pub highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0 if none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

const REPORT_BLOCK_LEN: usize = 24;

/// Sender Report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    pub ssrc: u32,
    /// 64-bit NTP timestamp (seconds since 1900 << 32 | fraction).
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: Vec<ReportBlock>,
}

/// Receiver Report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    pub ssrc: u32,
    pub reports: Vec<ReportBlock>,
}

/// BYE (RFC 3550 §6.6): the sources leaving, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bye {
    pub sources: Vec<u32>,
    /// Reason text; invalid UTF-8 is replaced rather than refused.
    pub reason: Option<String>,
}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport(ReceiverReport),
    Bye(Bye),
    /// Any other type (SDES, APP, feedback, XR): kept opaque.
    Other {
        packet_type: u8,
        count: u8,
        body: Vec<u8>,
    },
}

/// Parses a compound RTCP packet into its parts.
///
/// Each part's length field must land exactly inside the datagram (RFC 3550
/// A.2's validity check), and its declared report/source count must fit in
/// that length. SDES, APP and feedback packets are kept opaque: the media
/// layer only needs the reports (for quality) and BYE (to notice a leg leave).
pub fn parse_rtcp(buf: &[u8]) -> Result<Vec<RtcpPacket>, PacketError> {
    if buf.len() < 8 {
        return Err(PacketError::TooShort {
            len: buf.len(),
            need: 8,
        });
    }
    let mut packets = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(PacketError::TooShort {
                len: rest.len(),
                need: 4,
            });
        }
        let version = rest[0] >> 6;
        if version != RTP_VERSION {
            return Err(PacketError::BadVersion(version));
        }
        let has_padding = rest[0] & 0x20 != 0;
        let count = rest[0] & 0x1f;
        let packet_type = rest[1];
        let words = u16::from_be_bytes([rest[2], rest[3]]);
        let total = 4 * (usize::from(words) + 1);
        if total > rest.len() {
            return Err(PacketError::RtcpLengthMismatch { words });
        }
        let mut body = &rest[4..total];
        if has_padding {
            let pad = usize::from(*body.last().unwrap_or(&0));
            if pad == 0 || pad > body.len() {
                return Err(PacketError::BadPadding {
                    pad,
                    available: body.len(),
                });
            }
            body = &body[..body.len() - pad];
        }
        let truncated = PacketError::RtcpBodyTruncated { packet_type, count };
        let packet = match packet_type {
            rtcp_type::SR => {
                if body.len() < 24 {
                    return Err(truncated);
                }
                let reports = parse_report_blocks(&body[24..], count).ok_or(truncated)?;
                RtcpPacket::SenderReport(SenderReport {
                    ssrc: be32(&body[0..4]),
                    ntp_timestamp: (u64::from(be32(&body[4..8])) << 32)
                        | u64::from(be32(&body[8..12])),
                    rtp_timestamp: be32(&body[12..16]),
                    packet_count: be32(&body[16..20]),
                    octet_count: be32(&body[20..24]),
                    reports,
                })
            }
            rtcp_type::RR => {
                if body.len() < 4 {
                    return Err(truncated);
                }
                let reports = parse_report_blocks(&body[4..], count).ok_or(truncated)?;
                RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: be32(&body[0..4]),
                    reports,
                })
            }
            rtcp_type::BYE => {
                let ids_len = 4 * usize::from(count);
                if body.len() < ids_len {
                    return Err(truncated);
                }
                let sources = body[..ids_len].chunks_exact(4).map(be32).collect();
                let tail = &body[ids_len..];
                let reason = match tail.first() {
                    Some(&len) if len > 0 => {
                        let text = tail.get(1..1 + usize::from(len)).ok_or(truncated)?;
                        Some(String::from_utf8_lossy(text).into_owned())
                    }
                    _ => None,
                };
                RtcpPacket::Bye(Bye { sources, reason })
            }
            _ => RtcpPacket::Other {
                packet_type,
                count,
                body: body.to_vec(),
            },
        };
        packets.push(packet);
        rest = &rest[total..];
    }
    Ok(packets)
}

fn parse_report_blocks(buf: &[u8], count: u8) -> Option<Vec<ReportBlock>> {
    let need = REPORT_BLOCK_LEN * usize::from(count);
    // Bytes after the blocks are profile-specific extensions (RFC 3550 §6.4.1): ignored.
    let blocks = buf.get(..need)?;
    Some(
        blocks
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(|b| {
                // Sign-extend the 24-bit cumulative loss.
                let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
                ReportBlock {
                    ssrc: be32(&b[0..4]),
                    fraction_lost: b[4],
                    cumulative_lost: lost,
                    highest_sequence: be32(&b[8..12]),
                    jitter: be32(&b[12..16]),
                    last_sr: be32(&b[16..20]),
                    delay_since_last_sr: be32(&b[20..24]),
                }
            })
            .collect(),
    )
}

fn write_report_blocks(blocks: &[ReportBlock], out: &mut Vec<u8>) {
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        out.push(b.fraction_lost);
        // Clamp to the 24-bit signed range rather than wrap: a wrapped loss
        // count would tell the peer the opposite of the truth.
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff);
        out.extend_from_slice(&lost.to_be_bytes()[1..4]);
        out.extend_from_slice(&b.highest_sequence.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.last_sr.to_be_bytes());
        out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
}

impl RtcpPacket {
    /// Appends this packet to `out` (several calls build a compound packet).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        let start = out.len();
        // Header placeholder; the count and length are filled in below.
        out.extend_from_slice(&[0; 4]);
        let (packet_type, count) = match self {
            RtcpPacket::SenderReport(sr) => {
                if sr.reports.len() > 31 {
                    out.truncate(start);
                    return Err(PacketError::Unbuildable("more than 31 report blocks"));
                }
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                write_report_blocks(&sr.reports, out);
                (rtcp_type::SR, sr.reports.len() as u8)
            }
            RtcpPacket::ReceiverReport(rr) => {
                if rr.reports.len() > 31 {
                    out.truncate(start);
                    return Err(PacketError::Unbuildable("more than 31 report blocks"));
                }
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                write_report_blocks(&rr.reports, out);
                (rtcp_type::RR, rr.reports.len() as u8)
            }
            RtcpPacket::Bye(bye) => {
                if bye.sources.len() > 31 {
                    out.truncate(start);
                    return Err(PacketError::Unbuildable("more than 31 BYE sources"));
                }
                for s in &bye.sources {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                if let Some(reason) = &bye.reason {
                    // The length octet caps the reason at 255 bytes; cut on a
                    // character boundary so the text stays valid UTF-8.
                    let mut len = reason.len().min(255);
                    while !reason.is_char_boundary(len) {
                        len -= 1;
                    }
                    out.push(len as u8);
                    out.extend_from_slice(&reason.as_bytes()[..len]);
                }
                // Pad with zeros to a 32-bit boundary (RFC 3550 §6.6).
                while !(out.len() - start).is_multiple_of(4) {
                    out.push(0);
                }
                (rtcp_type::BYE, bye.sources.len() as u8)
            }
            RtcpPacket::Other {
                packet_type,
                count,
                body,
            } => {
                if *count > 31 || !body.len().is_multiple_of(4) {
                    out.truncate(start);
                    return Err(PacketError::Unbuildable(
                        "count above 31 or body not a multiple of 4",
                    ));
                }
                out.extend_from_slice(body);
                (*packet_type, *count)
            }
        };
        let words = (out.len() - start) / 4 - 1;
        let Ok(words) = u16::try_from(words) else {
            out.truncate(start);
            return Err(PacketError::Unbuildable("RTCP packet longer than 256 KiB"));
        };
        out[start] = (RTP_VERSION << 6) | count;
        out[start + 1] = packet_type;
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
        Ok(())
    }
}

/// Builds a compound RTCP packet from its parts.
pub fn build_rtcp(packets: &[RtcpPacket]) -> Result<Vec<u8>, PacketError> {
    let mut out = Vec::new();
    for p in packets {
        p.write(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Prng;

    #[test]
    fn parses_minimal_rtp() {
        let bytes = [
            0x80, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe,
        ];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert!(!p.header.marker);
        assert_eq!(p.header.payload_type, 0);
        assert_eq!(p.header.sequence, 0x1234);
        assert_eq!(p.header.timestamp, 320);
        assert_eq!(p.header.ssrc, 0xdead_beef);
        assert_eq!(p.payload, &[0xff, 0xfe]);
        assert_eq!(p.padding, 0);
        assert!(p.header.csrcs.is_empty());
        assert!(p.header.extension.is_none());
    }

    #[test]
    fn round_trips_every_field() {
        let header = RtpHeader {
            marker: true,
            payload_type: 101,
            sequence: 65535,
            timestamp: 0xffff_ff00,
            ssrc: 7,
            csrcs: vec![1, 2, 3],
            extension: Some(HeaderExtension {
                profile: 0xbede,
                data: vec![0x10, 0xaa, 0, 0],
            }),
        };
        let payload = [1u8, 2, 3, 4, 5];
        let mut out = Vec::new();
        header.write_padded(&payload, 3, &mut out).unwrap();
        assert_eq!(out.len(), 12 + 12 + 8 + 5 + 3);
        let p = RtpPacket::parse(&out).unwrap();
        assert_eq!(p.header, header);
        assert_eq!(p.payload, &payload);
        assert_eq!(p.padding, 3);
    }

    #[test]
    fn refuses_malformed_rtp() {
        let good = RtpHeader {
            payload_type: 8,
            ..Default::default()
        }
        .to_bytes(&[0; 4])
        .unwrap();
        assert!(matches!(
            RtpPacket::parse(&good[..11]),
            Err(PacketError::TooShort { len: 11, need: 12 })
        ));
        let mut v1 = good.clone();
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(PacketError::BadVersion(1)));
        let mut csrc = good.clone();
        csrc[0] |= 0x02; // two CSRCs = 8 bytes, only 4 follow
        assert_eq!(
            RtpPacket::parse(&csrc),
            Err(PacketError::CsrcTruncated { count: 2 })
        );
        let mut ext = good.clone();
        ext[0] |= 0x10;
        ext[14] = 0;
        ext[15] = 5; // 20 bytes of extension announced, none there
        assert_eq!(RtpPacket::parse(&ext), Err(PacketError::ExtensionTruncated));
        let mut pad0 = good.clone();
        pad0[0] |= 0x20;
        *pad0.last_mut().unwrap() = 0;
        assert!(matches!(
            RtpPacket::parse(&pad0),
            Err(PacketError::BadPadding { pad: 0, .. })
        ));
        let mut pad_big = good.clone();
        pad_big[0] |= 0x20;
        *pad_big.last_mut().unwrap() = 5;
        assert!(matches!(
            RtpPacket::parse(&pad_big),
            Err(PacketError::BadPadding {
                pad: 5,
                available: 4
            })
        ));
        // Padding may eat the whole payload, but not more.
        let mut pad_all = good.clone();
        pad_all[0] |= 0x20;
        *pad_all.last_mut().unwrap() = 4;
        assert_eq!(RtpPacket::parse(&pad_all).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn refuses_unbuildable_headers() {
        let mut out = Vec::new();
        let h = RtpHeader {
            payload_type: 128,
            ..Default::default()
        };
        assert!(h.write(&[], &mut out).is_err());
        let h = RtpHeader {
            csrcs: vec![0; 16],
            ..Default::default()
        };
        assert!(h.write(&[], &mut out).is_err());
        let h = RtpHeader {
            extension: Some(HeaderExtension {
                profile: 1,
                data: vec![0; 3],
            }),
            ..Default::default()
        };
        assert!(h.write(&[], &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn classifies_rtp_and_rtcp() {
        let rtp = RtpHeader {
            payload_type: 0,
            marker: true,
            ..Default::default()
        }
        .to_bytes(&[0; 160])
        .unwrap();
        assert_eq!(classify(&rtp), PacketKind::Rtp);
        let te = RtpHeader {
            payload_type: 101,
            marker: true,
            ..Default::default()
        }
        .to_bytes(&[0; 4])
        .unwrap();
        assert_eq!(classify(&te), PacketKind::Rtp);
        for pt in 200..=204u8 {
            let mut rtcp = vec![0x80, pt, 0, 1, 0, 0, 0, 1];
            assert_eq!(classify(&rtcp), PacketKind::Rtcp, "type {pt}");
            rtcp[0] = 0x00;
            assert_eq!(classify(&rtcp), PacketKind::Other);
        }
        // STUN binding request starts with 0x00 0x01.
        assert_eq!(
            classify(&[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]),
            PacketKind::Other
        );
        assert_eq!(classify(&[0x80]), PacketKind::Other);
    }

    #[test]
    fn rtcp_sr_rr_bye_round_trip() {
        let block = ReportBlock {
            ssrc: 0x1111_2222,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 42,
            last_sr: 0xabcd_ef01,
            delay_since_last_sr: 65536,
        };
        let packets = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 9,
                ntp_timestamp: 0xe000_0000_8000_0000,
                rtp_timestamp: 16000,
                packet_count: 100,
                octet_count: 16000,
                reports: vec![block],
            }),
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 10,
                reports: vec![block, ReportBlock::default()],
            }),
            RtcpPacket::Bye(Bye {
                sources: vec![9, 10],
                reason: Some("hangup".into()),
            }),
            RtcpPacket::Bye(Bye {
                sources: vec![11],
                reason: None,
            }),
        ];
        let bytes = build_rtcp(&packets).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(classify(&bytes), PacketKind::Rtcp);
        // SR header: V=2, RC=1, PT=200, length 12 words.
        assert_eq!(&bytes[..4], &[0x81, 200, 0, 12]);
        assert_eq!(parse_rtcp(&bytes).unwrap(), packets);
    }

    #[test]
    fn rtcp_keeps_unknown_types_and_skips_padding() {
        // SDES with one chunk, then an RR with padding of 4.
        let mut bytes = vec![0x81, 202, 0, 2, 0, 0, 0, 5, 1, 1, b'x', 0];
        bytes.extend_from_slice(&[0xa0, 201, 0, 2, 0, 0, 0, 6, 0, 0, 0, 4]);
        let parsed = parse_rtcp(&bytes).unwrap();
        assert_eq!(
            parsed,
            vec![
                RtcpPacket::Other {
                    packet_type: 202,
                    count: 1,
                    body: vec![0, 0, 0, 5, 1, 1, b'x', 0],
                },
                RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: 6,
                    reports: vec![],
                }),
            ]
        );
    }

    #[test]
    fn rtcp_refuses_bad_lengths() {
        // RR claiming one report block but carrying none.
        let bytes = [0x81, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(
            parse_rtcp(&bytes),
            Err(PacketError::RtcpBodyTruncated {
                packet_type: 201,
                count: 1
            })
        );
        // Length field past the end.
        let bytes = [0x80, 201, 0, 9, 0, 0, 0, 1];
        assert_eq!(
            parse_rtcp(&bytes),
            Err(PacketError::RtcpLengthMismatch { words: 9 })
        );
        // Trailing bytes that are not a whole packet.
        let bytes = [0x80, 201, 0, 1, 0, 0, 0, 1, 0x80];
        assert!(matches!(
            parse_rtcp(&bytes),
            Err(PacketError::TooShort { .. })
        ));
        // BYE whose reason length runs off the end.
        let bytes = [0x81, 203, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', b'c'];
        assert!(parse_rtcp(&bytes).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Prng::new(0x5eed);
        let mut buf = Vec::new();
        let mut rtp_ok = 0;
        for i in 0..50_000 {
            let len = rng.below(80) as usize;
            buf.clear();
            buf.extend((0..len).map(|_| rng.next_u32() as u8));
            // Bias half the inputs towards version 2 so the deeper paths run.
            if i % 2 == 0 && !buf.is_empty() {
                buf[0] = (buf[0] & 0x3f) | 0x80;
            }
            if let Ok(p) = RtpPacket::parse(&buf) {
                rtp_ok += 1;
                // Whatever parses re-serialises to the same bytes, padding included.
                let mut again = Vec::new();
                p.header
                    .write_padded(p.payload, p.padding, &mut again)
                    .unwrap();
                assert_eq!(again.len(), buf.len());
            }
            let _ = parse_rtcp(&buf);
            let _ = classify(&buf);
        }
        assert!(rtp_ok > 1000, "only {rtp_ok} random packets parsed");
    }

    #[test]
    fn mutated_valid_packets_never_panic() {
        let mut rng = Prng::new(77);
        let rtcp = build_rtcp(&[
            RtcpPacket::SenderReport(SenderReport {
                reports: vec![ReportBlock::default(); 2],
                ..Default::default()
            }),
            RtcpPacket::Bye(Bye {
                sources: vec![1],
                reason: Some("bye".into()),
            }),
        ])
        .unwrap();
        for _ in 0..20_000 {
            let mut b = rtcp.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(b.len() as u32) as usize;
                b[at] = rng.next_u32() as u8;
            }
            b.truncate(rng.below(b.len() as u32 + 1) as usize);
            if let Ok(parts) = parse_rtcp(&b) {
                // Parsed RTCP can always be rebuilt.
                let _ = build_rtcp(&parts);
            }
            let _ = RtpPacket::parse(&b);
        }
    }
}
