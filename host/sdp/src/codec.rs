//! The codecs the PBX negotiates and their RTP payload types (RFC 3551).
//!
//! PCMU and PCMA have static payload types (0 and 8) and may be offered
//! without an `rtpmap`; an `rtpmap` still wins when present, so a phone
//! that maps PCMU to a dynamic type is understood too. `telephone-event`
//! (RFC 4733) always has a dynamic type (96–127) named by an `rtpmap`.

use std::fmt;

/// A codec the PBX can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// RFC 4733 DTMF events at 8 kHz, dynamic payload type.
    TelephoneEvent,
}

/// The payload type we use for `telephone-event` in our own offers; the
/// de facto value across SIP phones.
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

/// The RTP clock of every codec here.
pub const CLOCK_RATE: u32 = 8000;

/// The events we offer and answer: DTMF 0–9, `*`, `#`, A–D and flash.
pub const TELEPHONE_EVENTS: &str = "0-16";

impl Codec {
    /// The encoding name as written in `rtpmap`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::TelephoneEvent => "telephone-event",
        }
    }

    pub const fn clock_rate(self) -> u32 {
        CLOCK_RATE
    }

    /// The RFC 3551 static payload type, if the codec has one.
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::TelephoneEvent => None,
        }
    }

    /// The payload type we write in our own offers.
    pub const fn default_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::TelephoneEvent => DEFAULT_TELEPHONE_EVENT_PT,
        }
    }

    /// A codec that carries the voice itself (not events).
    pub const fn is_voice(self) -> bool {
        matches!(self, Codec::Pcmu | Codec::Pcma)
    }

    /// The static assignment of a payload type without `rtpmap`.
    pub const fn from_static_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The codec an `rtpmap` names. Encoding names are case-insensitive
    /// (RFC 4855 §3); G.711 must be 8 kHz mono, `telephone-event` 8 kHz
    /// (the 48 kHz one that goes with Opus is not ours).
    pub fn from_encoding(name: &str, clock_rate: u32, params: Option<&str>) -> Option<Codec> {
        if clock_rate != CLOCK_RATE {
            return None;
        }
        let mono = matches!(params, None | Some("1"));
        if name.eq_ignore_ascii_case("PCMU") && mono {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") && mono {
            Some(Codec::Pcma)
        } else if name.eq_ignore_ascii_case("telephone-event") {
            Some(Codec::TelephoneEvent)
        } else {
            None
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}
