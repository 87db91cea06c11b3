//! The session description as a PBX sees it (RFC 4566 / RFC 8866).
//!
//! What offer/answer needs is typed: the origin, connection addresses,
//! `m=` lines, `rtpmap`, `fmtp`, `ptime`, `maxptime`, `rtcp` and the
//! direction. Everything else is kept verbatim (other attributes, and the
//! `i=`/`u=`/`e=`/`p=`/`b=`/`r=`/`z=`/`k=` lines) so that a description
//! read and written again says the same thing.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::codec::Codec;

/// Media direction attribute (RFC 3264 §5.1, RFC 4566 §6), always from the
/// point of view of whoever wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Builds a direction from "sends" and "receives".
    pub const fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The writer of this direction sends RTP.
    pub const fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// The writer of this direction wants to receive RTP.
    pub const fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: what the peer does is the
    /// opposite of what we do (sendonly ↔ recvonly). This is how an answer
    /// mirrors an offer (RFC 3264 §6.1).
    pub const fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// Both restrictions at once, e.g. what we want and what the peer allows.
    pub const fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The attribute name (`sendrecv`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Reads the attribute name; `None` for anything else.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `IP4` or `IP6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressType {
    Ip4,
    Ip6,
}

impl AddressType {
    pub const fn of(ip: IpAddr) -> AddressType {
        match ip {
            IpAddr::V4(_) => AddressType::Ip4,
            IpAddr::V6(_) => AddressType::Ip6,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            AddressType::Ip4 => "IP4",
            AddressType::Ip6 => "IP6",
        }
    }
}

/// `o=<username> <sess-id> <sess-version> IN <addrtype> <address>`.
///
/// The id and version are kept as the digit strings they were written as:
/// RFC 4566 only says "numeric", and real phones use values wider than 64
/// bits often enough that refusing them would cost calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub address_type: AddressType,
    /// An IP address or a host name (both are legal in `o=`).
    pub address: String,
}

/// `c=IN <addrtype> <address>[/<ttl>[/<count>]]`.
///
/// Only IP addresses are accepted: a host name would need DNS before any
/// RTP could flow, and no phone sends one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub address: IpAddr,
    /// The multicast `/ttl/count` part, verbatim without the first slash.
    pub multicast: Option<String>,
}

impl Connection {
    pub const fn new(address: IpAddr) -> Connection {
        Connection {
            address,
            multicast: None,
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<params>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    /// Encoding parameters: the channel count for audio.
    pub params: Option<String>,
}

impl RtpMap {
    /// The codec this names, if it is one the PBX handles.
    pub fn codec(&self) -> Option<Codec> {
        Codec::from_encoding(&self.encoding, self.clock_rate, self.params.as_deref())
    }
}

/// `a=fmtp:<pt> <params>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub payload_type: u8,
    pub params: String,
}

/// `a=rtcp:<port> [IN <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// Any other attribute, `a=<name>` or `a=<name>:<value>`, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn new(name: impl Into<String>, value: Option<&str>) -> Attribute {
        Attribute {
            name: name.into(),
            value: value.map(str::to_string),
        }
    }
}

/// A line the PBX does not interpret (`i=`, `u=`, `e=`, `p=`, `b=`, `r=`,
/// `z=`, `k=`), kept to be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    pub kind: char,
    pub value: String,
}

/// The transport of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `RTP/AVP` (RFC 3551): plain RTP, what the PBX speaks.
    RtpAvp,
    /// `RTP/SAVP` (RFC 3711): SRTP.
    RtpSavp,
    /// `RTP/AVPF` (RFC 4585): RTP with feedback.
    RtpAvpf,
    /// `RTP/SAVPF`.
    RtpSavpf,
    /// Anything else, verbatim (`udptl`, `UDP/TLS/RTP/SAVPF`, `TCP/BFCP`, …).
    Other(String),
}

impl Proto {
    pub fn parse(s: &str) -> Proto {
        match s {
            "RTP/AVP" => Proto::RtpAvp,
            "RTP/SAVP" => Proto::RtpSavp,
            "RTP/AVPF" => Proto::RtpAvpf,
            "RTP/SAVPF" => Proto::RtpSavpf,
            other => Proto::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Proto::RtpAvp => "RTP/AVP",
            Proto::RtpSavp => "RTP/SAVP",
            Proto::RtpAvpf => "RTP/AVPF",
            Proto::RtpSavpf => "RTP/SAVPF",
            Proto::Other(s) => s,
        }
    }

    /// The formats are RTP payload types (RFC 4566 §5.14), so `rtpmap` and
    /// `fmtp` apply.
    pub fn is_rtp(&self) -> bool {
        match self {
            Proto::Other(s) => s.contains("RTP/"),
            _ => true,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `image`, `application`, …
    pub media: String,
    pub port: u16,
    /// The `/<number of ports>` suffix of the port, if written.
    pub port_count: Option<u16>,
    pub proto: Proto,
    /// The formats as written; for RTP protocols they are payload types
    /// 0–127 (the parser checks).
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<Fmtp>,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    pub rtcp: Option<Rtcp>,
    /// The direction written in this section (see
    /// [`SessionDescription::direction_of`] for the one that applies).
    pub direction: Option<Direction>,
    pub attributes: Vec<Attribute>,
    pub other_lines: Vec<OtherLine>,
}

impl MediaDescription {
    /// An empty section with these values; everything optional is unset.
    pub fn new(media: &str, port: u16, proto: Proto, formats: Vec<String>) -> MediaDescription {
        MediaDescription {
            media: media.to_string(),
            port,
            port_count: None,
            proto,
            formats,
            connection: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            ptime: None,
            maxptime: None,
            rtcp: None,
            direction: None,
            attributes: Vec::new(),
            other_lines: Vec::new(),
        }
    }

    pub fn is_audio(&self) -> bool {
        self.media == "audio"
    }

    /// Port 0: the stream is rejected or disabled (RFC 3264 §5.1, §6).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// The formats read as payload types, in the writer's order of
    /// preference; formats that are not numbers (non-RTP media) are skipped.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok().filter(|pt| *pt <= 127))
    }

    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }

    pub fn fmtp(&self, payload_type: u8) -> Option<&Fmtp> {
        self.fmtps.iter().find(|m| m.payload_type == payload_type)
    }

    /// The codec a payload type stands for in this section: its `rtpmap`
    /// when there is one, else the RFC 3551 static assignment (only PT 0
    /// and 8 matter here; dynamic types 96–127 mean nothing without an
    /// `rtpmap`).
    pub fn codec_of(&self, payload_type: u8) -> Option<Codec> {
        match self.rtpmap(payload_type) {
            Some(map) => map.codec(),
            None => Codec::from_static_payload_type(payload_type),
        }
    }

    /// The first payload type listed for `codec`.
    pub fn payload_type_of(&self, codec: Codec) -> Option<u8> {
        self.payload_types()
            .find(|pt| self.codec_of(*pt) == Some(codec))
    }

    /// Where RTCP goes: the `a=rtcp` port (and address) if given, else the
    /// RTP port + 1 (RFC 3550 §11).
    pub fn rtcp_address(&self, rtp: SocketAddr) -> Option<SocketAddr> {
        match &self.rtcp {
            Some(r) => {
                let ip = r.connection.as_ref().map_or(rtp.ip(), |c| c.address);
                Some(SocketAddr::new(ip, r.port))
            }
            None => rtp
                .port()
                .checked_add(1)
                .map(|p| SocketAddr::new(rtp.ip(), p)),
        }
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    pub session_name: String,
    pub connection: Option<Connection>,
    /// `t=` lines as (start, stop); `t=0 0` for every SIP call.
    pub times: Vec<(u64, u64)>,
    /// Session-level direction: the default for every section.
    pub direction: Option<Direction>,
    pub attributes: Vec<Attribute>,
    pub other_lines: Vec<OtherLine>,
    pub media: Vec<MediaDescription>,
}

/// The name the rest of the host uses.
pub type Sdp = SessionDescription;

impl SessionDescription {
    /// The connection address that applies to section `index`: its own
    /// `c=` or the session's.
    pub fn connection_of(&self, index: usize) -> Option<&Connection> {
        let m = self.media.get(index)?;
        m.connection.as_ref().or(self.connection.as_ref())
    }

    /// The direction that applies to section `index` as written: its own
    /// attribute, the session's, or `sendrecv` (RFC 4566 §6).
    pub fn direction_of(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(|m| m.direction)
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }

    /// What the writer really does on section `index`: the written
    /// direction, except that a connection address of 0.0.0.0 (or `::`)
    /// means "do not send to me" — RFC 2543 hold, which RFC 3264 §8.4 still
    /// asks answerers to understand.
    pub fn effective_direction(&self, index: usize) -> Direction {
        let written = self.direction_of(index);
        let unspecified = self
            .connection_of(index)
            .is_some_and(|c| c.address.is_unspecified());
        if unspecified {
            Direction::from_flags(written.sends(), false)
        } else {
            written
        }
    }

    /// Where the writer receives RTP on section `index`; `None` when the
    /// stream is rejected, or on hold with a 0.0.0.0 address.
    pub fn rtp_address_of(&self, index: usize) -> Option<SocketAddr> {
        let m = self.media.get(index)?;
        let c = self.connection_of(index)?;
        if m.port == 0 || c.address.is_unspecified() {
            return None;
        }
        Some(SocketAddr::new(c.address, m.port))
    }

    /// Index of the first audio section that is not rejected.
    pub fn first_active_audio(&self) -> Option<usize> {
        self.media
            .iter()
            .position(|m| m.is_audio() && !m.is_rejected())
    }
}
