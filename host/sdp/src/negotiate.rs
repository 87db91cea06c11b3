//! Offer/answer (RFC 3264) for an anchoring B2BUA: every leg sees the PBX
//! as its media peer, so each SDP we send carries our address and port and
//! exactly one audio stream in G.711 (PCMU or PCMA), with `telephone-event`
//! when the peer has it, at ptime 20.
//!
//! * [`answer`] — a phone offered: accept its first usable audio stream,
//!   reject the others with port 0, mirror its direction.
//! * [`offer`] — we offer, to a callee or in a re-INVITE (hold: sendonly,
//!   resume: sendrecv), numbered by a [`LocalSession`].
//! * [`accept_answer`] — check the answer to our offer and read where to
//!   send.
//! * [`peer_holds`] — does this offer put us on hold?
//!
//! `RTP/AVP` and `RTP/AVPF` are always accepted. SRTP with SDES keys
//! (RFC 4568, [`crate::crypto`]) depends on the leg's [`SrtpPolicy`]:
//! with [`answer_srtp`] an `RTP/SAVP` stream (or an `RTP/AVP` one with
//! `a=crypto`, as some phones offer) is answered with our own key when
//! the policy allows SRTP; [`offer_srtp`] offers `RTP/SAVP` with our key;
//! [`accept_answer`] reads the peer's key from the answer to such an
//! offer. A leg whose policy requires SRTP and offers or answers plain
//! RTP is refused with [`Refusal::SrtpRequired`] (488).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::codec::{Codec, TELEPHONE_EVENTS};
use crate::crypto::{Crypto, CryptoSuite, KEY_LEN, SrtpKeys, SrtpPolicy};
use crate::model::{
    AddressType, Connection, Direction, Fmtp, MediaDescription, Origin, Proto, RtpMap, Sdp,
};
use crate::parse::ParseError;

/// Our media address on one leg: where we receive RTP (RTCP on the next
/// port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaEndpoint {
    pub address: IpAddr,
    pub rtp_port: u16,
}

impl MediaEndpoint {
    pub const fn new(address: IpAddr, rtp_port: u16) -> MediaEndpoint {
        MediaEndpoint { address, rtp_port }
    }

    pub const fn rtp(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.rtp_port)
    }
}

/// Why an offer or an answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The SDP does not parse or breaks offer/answer rules; says where.
    /// A SIP request carrying it gets 400.
    Malformed(String),
    /// No audio stream with a codec in common: 488 Not Acceptable Here.
    NotAcceptable,
    /// The leg must use SRTP and offered or answered plain RTP (or no
    /// usable `a=crypto`): 488, with a Warning saying so.
    SrtpRequired,
}

impl Refusal {
    /// The SIP status to refuse an offer with.
    pub const fn status_code(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::NotAcceptable | Refusal::SrtpRequired => 488,
        }
    }
}

impl From<ParseError> for Refusal {
    fn from(e: ParseError) -> Refusal {
        Refusal::Malformed(e.to_string())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "malformed SDP: {why}"),
            Refusal::NotAcceptable => f.write_str("no audio stream with a common codec"),
            Refusal::SrtpRequired => f.write_str("SRTP is required (RTP/SAVP with a=crypto)"),
        }
    }
}

impl std::error::Error for Refusal {}

/// What one leg's negotiation settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// PCMU or PCMA.
    pub codec: Codec,
    /// The payload type to send the codec with: the number the peer's SDP
    /// uses.
    pub payload_type: u8,
    /// The payload type the peer sends the codec with: the number in our
    /// SDP. Equal to `payload_type` except when a callee answered with
    /// other numbers than we offered (allowed: RFC 3264 §6.1 says SHOULD).
    pub local_payload_type: u8,
    /// `telephone-event` type to send digits with; `None`: the peer has no
    /// RFC 4733 (digits then come by SIP INFO, if at all).
    pub telephone_event: Option<u8>,
    /// `telephone-event` type the peer's digits arrive with.
    pub local_telephone_event: Option<u8>,
    /// Where the peer wants its RTP; `None` when it gave 0.0.0.0 (hold).
    pub remote_rtp: Option<SocketAddr>,
    /// Where the peer wants RTCP (`a=rtcp`, else RTP port + 1).
    pub remote_rtcp: Option<SocketAddr>,
    /// What *we* do on this leg: whether we send to and receive from it.
    pub direction: Direction,
    /// The peer does not want our media: it said sendonly or inactive, or
    /// gave 0.0.0.0 (RFC 2543 hold).
    pub peer_holds: bool,
    /// The peer's `a=ptime`, if any.
    pub remote_ptime: Option<u32>,
    /// Index of the audio `m=` line in use.
    pub media_index: usize,
    /// SRTP keys when the leg's media is SRTP; `None`: plain RTP.
    pub srtp: Option<SrtpKeys>,
}

impl Negotiated {
    /// What the peer does on this leg, as its SDP effectively says
    /// (0.0.0.0 counted as not receiving): the mirror of [`Self::direction`].
    /// Hold is [`Direction::SendOnly`] or [`Direction::Inactive`].
    pub const fn peer_direction(&self) -> Direction {
        self.direction.reversed()
    }

    /// The peer sends us RTP on this leg.
    pub const fn peer_sends(&self) -> bool {
        self.direction.receives()
    }
}

/// The outcome of [`answer`]: what was chosen, and the answer SDP to send
/// (see [`Answer::to_sdp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub negotiated: Negotiated,
    local: MediaEndpoint,
    media: Vec<MediaDescription>,
}

impl Answer {
    /// The answer SDP under our session's origin.
    pub fn to_sdp(&self, session: &mut LocalSession) -> Sdp {
        session.describe(self.local.address, self.media.clone())
    }
}

/// The user name in our `o=` lines.
pub const ORIGIN_USERNAME: &str = "switchyard";
/// Our `s=` line.
pub const SESSION_NAME: &str = "switchyard";
/// The packetization we send and ask for, in ms.
pub const PTIME: u32 = 20;

/// Our side of one SIP dialog's SDP: the session id stays, the version
/// moves on when what we describe changes (RFC 3264 §8).
///
/// A description identical to the previous one keeps its version (a
/// session refresh answered with the same SDP is then recognisably
/// unchanged, as §8 allows); any change adds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    session_id: u64,
    version: u64,
    last: Option<Sdp>,
}

impl LocalSession {
    /// `session_id` and `initial_version` are the caller's to choose
    /// (random or clock-based; RFC 4566 suggests an NTP timestamp).
    pub const fn new(session_id: u64, initial_version: u64) -> LocalSession {
        LocalSession {
            session_id,
            version: initial_version,
            last: None,
        }
    }

    pub const fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version of the last description issued (the initial one before
    /// any).
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// A description of these streams at `address` under our origin,
    /// stamped with the right version.
    pub fn describe(&mut self, address: IpAddr, media: Vec<MediaDescription>) -> Sdp {
        let mut sdp = Sdp {
            origin: Origin {
                username: ORIGIN_USERNAME.to_string(),
                session_id: self.session_id.to_string(),
                session_version: self.version.to_string(),
                address_type: AddressType::of(address),
                address: address.to_string(),
            },
            session_name: SESSION_NAME.to_string(),
            connection: Some(Connection::new(address)),
            times: vec![(0, 0)],
            direction: None,
            attributes: Vec::new(),
            other_lines: Vec::new(),
            media,
        };
        if self.last.as_ref().is_some_and(|last| *last != sdp) {
            // Wrapping: 2^64 descriptions in one dialog never happen, and
            // this must not be the place that panics if they did.
            self.version = self.version.wrapping_add(1);
            sdp.origin.session_version = self.version.to_string();
        }
        self.last = Some(sdp.clone());
        sdp
    }
}

/// Our audio stream: the voice codecs in the order given, each with its
/// payload type, `telephone-event` with its type, ptime 20 and an explicit
/// direction (some phones only resume on an explicit `a=sendrecv`).
fn audio_section(
    port: u16,
    proto: Proto,
    voice: &[(Codec, u8)],
    telephone_event: Option<u8>,
    direction: Direction,
) -> MediaDescription {
    let mut all: Vec<(Codec, u8)> = voice.to_vec();
    if let Some(pt) = telephone_event {
        all.push((Codec::TelephoneEvent, pt));
    }
    let formats = all.iter().map(|(_, pt)| pt.to_string()).collect();
    let mut m = MediaDescription::new("audio", port, proto, formats);
    // Static types get an rtpmap too: allowed, and some gear insists.
    m.rtpmaps = all
        .iter()
        .map(|(c, pt)| RtpMap {
            payload_type: *pt,
            encoding: c.encoding_name().to_string(),
            clock_rate: c.clock_rate(),
            params: None,
        })
        .collect();
    if let Some(pt) = telephone_event {
        m.fmtps.push(Fmtp {
            payload_type: pt,
            params: TELEPHONE_EVENTS.to_string(),
        });
    }
    m.ptime = Some(PTIME);
    m.direction = Some(direction);
    m
}

/// A refused stream in an answer: same media and transport, port 0, the
/// offered formats (RFC 3264 §6: at least one must be listed).
fn rejected(m: &MediaDescription) -> MediaDescription {
    let formats = if m.formats.is_empty() {
        vec!["0".to_string()]
    } else {
        m.formats.clone()
    };
    MediaDescription::new(&m.media, 0, m.proto.clone(), formats)
}

/// The SRTP keys of an offered stream under `policy`: `Some(None)` for
/// plain RTP, `Some(Some(_))` for SRTP with the offer's first usable
/// `a=crypto` and our `key`, `None` when the stream cannot be taken.
fn stream_srtp(
    m: &MediaDescription,
    policy: SrtpPolicy,
    key: &[u8; KEY_LEN],
) -> Option<Option<SrtpKeys>> {
    let crypto = match policy {
        SrtpPolicy::Off => None,
        SrtpPolicy::Optional | SrtpPolicy::Required => m.cryptos().next(),
    };
    let keys = crypto.map(|c| SrtpKeys {
        suite: c.suite,
        tag: c.tag,
        local: *key,
        remote: c.key,
    });
    match (&m.proto, keys, policy) {
        (Proto::RtpAvp | Proto::RtpAvpf, None, SrtpPolicy::Required) => None,
        (Proto::RtpAvp | Proto::RtpAvpf, keys, _) => Some(keys),
        (Proto::RtpSavp | Proto::RtpSavpf, Some(keys), _) => Some(Some(keys)),
        _ => None,
    }
}

/// Negotiates section `index` of an offer if it is an audio stream we can
/// carry with one of `supported`, under the leg's SRTP `policy`.
fn accept_stream(
    offer: &Sdp,
    index: usize,
    supported: &[Codec],
    policy: SrtpPolicy,
    key: &[u8; KEY_LEN],
) -> Option<Negotiated> {
    let m = offer.media.get(index)?;
    if !m.is_audio() || m.is_rejected() {
        return None;
    }
    let srtp = stream_srtp(m, policy, key)?;
    // The offerer's order of preference decides among what we support.
    let (codec, payload_type) = m.payload_types().find_map(|pt| {
        m.codec_of(pt)
            .filter(|c| c.is_voice() && supported.contains(c))
            .map(|c| (c, pt))
    })?;
    let telephone_event = supported
        .contains(&Codec::TelephoneEvent)
        .then(|| m.payload_type_of(Codec::TelephoneEvent))
        .flatten();
    let peer = offer.effective_direction(index);
    let remote_rtp = offer.rtp_address_of(index);
    Some(Negotiated {
        codec,
        payload_type,
        local_payload_type: payload_type,
        telephone_event,
        local_telephone_event: telephone_event,
        remote_rtp,
        remote_rtcp: remote_rtp.and_then(|a| m.rtcp_address(a)),
        direction: peer.reversed(),
        peer_holds: !peer.receives(),
        remote_ptime: m.ptime,
        media_index: index,
        srtp,
    })
}

/// Answers a peer's offer with our endpoint: the first audio stream with a
/// codec in `supported` (in the offerer's order of preference) is
/// accepted with that one codec and, if both sides have it,
/// `telephone-event` under the offerer's payload type; every other `m=`
/// line is rejected with port 0, in the offer's order. The direction
/// mirrors the offer's (sendonly → recvonly, recvonly → sendonly, inactive
/// → inactive; 0.0.0.0 counts as not receiving).
pub fn answer(offer: &Sdp, local: &MediaEndpoint, supported: &[Codec]) -> Result<Answer, Refusal> {
    answer_srtp(offer, local, supported, SrtpPolicy::Off, &[0; KEY_LEN])
}

/// [`answer`] for a leg with an SRTP `policy`: a stream offered with a
/// usable `a=crypto` (on `RTP/SAVP`, or on `RTP/AVP` as some phones do)
/// is answered in kind with the offer's tag and suite and our `key`
/// (key‖salt, fresh and random per leg) when the policy is not
/// [`SrtpPolicy::Off`]. Under [`SrtpPolicy::Required`] a plain stream is
/// not taken, and an offer with nothing but plain streams we could have
/// carried is refused with [`Refusal::SrtpRequired`].
pub fn answer_srtp(
    offer: &Sdp,
    local: &MediaEndpoint,
    supported: &[Codec],
    policy: SrtpPolicy,
    key: &[u8; KEY_LEN],
) -> Result<Answer, Refusal> {
    let mut negotiated = None;
    let mut media = Vec::with_capacity(offer.media.len());
    for (index, m) in offer.media.iter().enumerate() {
        let accepted = match negotiated {
            None => accept_stream(offer, index, supported, policy, key),
            Some(_) => None,
        };
        match accepted {
            Some(n) => {
                let mut section = audio_section(
                    local.rtp_port,
                    m.proto.clone(),
                    &[(n.codec, n.payload_type)],
                    n.telephone_event,
                    n.direction,
                );
                if let Some(k) = n.srtp {
                    section.attributes.push(
                        Crypto {
                            tag: k.tag,
                            suite: k.suite,
                            key: k.local,
                        }
                        .attribute(),
                    );
                }
                media.push(section);
                negotiated = Some(n);
            }
            None => media.push(rejected(m)),
        }
    }
    let Some(negotiated) = negotiated else {
        let plain_would_do = policy == SrtpPolicy::Required
            && answer_srtp(offer, local, supported, SrtpPolicy::Optional, key).is_ok();
        return Err(if plain_would_do {
            Refusal::SrtpRequired
        } else {
            Refusal::NotAcceptable
        });
    };
    Ok(Answer {
        negotiated,
        local: *local,
        media,
    })
}

/// Our offer (to a callee, or a re-INVITE on any leg): one `RTP/AVP` audio
/// stream with `codecs` in the order given, each under its default payload
/// type (PCMU 0, PCMA 8, `telephone-event` 101). Hold is
/// `Direction::SendOnly` (or `Inactive` if the peer holds too), resume is
/// `Direction::SendRecv`.
pub fn offer(
    local: &MediaEndpoint,
    codecs: &[Codec],
    direction: Direction,
    session: &mut LocalSession,
) -> Sdp {
    offer_srtp(local, codecs, direction, session, None)
}

/// [`offer`], as `RTP/SAVP` with `a=crypto:1 AES_CM_128_HMAC_SHA1_80`
/// and our `srtp` key (key‖salt) when one is given.
pub fn offer_srtp(
    local: &MediaEndpoint,
    codecs: &[Codec],
    direction: Direction,
    session: &mut LocalSession,
    srtp: Option<&[u8; KEY_LEN]>,
) -> Sdp {
    let mut voice: Vec<(Codec, u8)> = Vec::new();
    for c in codecs.iter().filter(|c| c.is_voice()) {
        if !voice.iter().any(|(v, _)| v == c) {
            voice.push((*c, c.default_payload_type()));
        }
    }
    let telephone_event = codecs
        .contains(&Codec::TelephoneEvent)
        .then(|| Codec::TelephoneEvent.default_payload_type());
    let proto = match srtp {
        Some(_) => Proto::RtpSavp,
        None => Proto::RtpAvp,
    };
    let mut audio = audio_section(local.rtp_port, proto, &voice, telephone_event, direction);
    if let Some(key) = srtp {
        audio.attributes.push(
            Crypto {
                tag: 1,
                suite: CryptoSuite::AesCm128HmacSha1_80,
                key: *key,
            }
            .attribute(),
        );
    }
    session.describe(local.address, vec![audio])
}

/// Checks the answer to an offer we made and reads what it settled: the
/// answer must have one `m=` line per offered one, of the same media; an
/// audio stream must be accepted with a voice codec we offered (else
/// [`Refusal::NotAcceptable`]).
pub fn accept_answer(offer: &Sdp, answer: &Sdp) -> Result<Negotiated, Refusal> {
    if answer.media.len() != offer.media.len() {
        return Err(Refusal::Malformed(format!(
            "the answer has {} m= lines for the {} offered",
            answer.media.len(),
            offer.media.len()
        )));
    }
    for (i, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if o.media != a.media {
            return Err(Refusal::Malformed(format!(
                "m= line {} is {} in the answer but {} in the offer",
                i + 1,
                a.media,
                o.media
            )));
        }
    }
    // Our offers have one audio stream; for any other offer, the answer's
    // first accepted audio stream is the one in use.
    let (index, ours, theirs) = offer
        .media
        .iter()
        .zip(&answer.media)
        .enumerate()
        .find(|(_, (o, a))| o.is_audio() && !o.is_rejected() && !a.is_rejected())
        .map(|(i, (o, a))| (i, o, a))
        .ok_or(Refusal::NotAcceptable)?;
    let secure = |p: &Proto| matches!(p, Proto::RtpSavp | Proto::RtpSavpf);
    if secure(&ours.proto) && !secure(&theirs.proto) {
        // Plain RTP back to an SRTP-only offer: a party that must use
        // SRTP did not, not a malformed answer.
        return Err(Refusal::SrtpRequired);
    }
    if theirs.proto != ours.proto {
        return Err(Refusal::Malformed(format!(
            "the answer turns the audio transport {} into {}",
            ours.proto, theirs.proto
        )));
    }
    let (codec, payload_type, local_payload_type) = theirs
        .payload_types()
        .find_map(|pt| {
            let c = theirs.codec_of(pt).filter(|c| c.is_voice())?;
            Some((c, pt, ours.payload_type_of(c)?))
        })
        .ok_or(Refusal::NotAcceptable)?;
    let local_te = ours.payload_type_of(Codec::TelephoneEvent);
    let telephone_event = local_te.and(theirs.payload_type_of(Codec::TelephoneEvent));
    // An answer that takes one of the offered keys gives its own for the
    // same tag and suite (RFC 4568 §7.1.2). On `RTP/SAVP` it must; keys
    // on `RTP/AVP` are best effort, and an answer without is plain.
    let offered: Vec<Crypto> = ours.cryptos().collect();
    let keys = theirs.cryptos().find_map(|t| {
        let o = offered
            .iter()
            .find(|o| o.tag == t.tag && o.suite == t.suite)?;
        Some(SrtpKeys {
            suite: t.suite,
            tag: t.tag,
            local: o.key,
            remote: t.key,
        })
    });
    let srtp = match (&ours.proto, keys) {
        (Proto::RtpSavp | Proto::RtpSavpf, None) => return Err(Refusal::SrtpRequired),
        (_, keys) => keys,
    };
    let peer = answer.effective_direction(index);
    let remote_rtp = answer.rtp_address_of(index);
    Ok(Negotiated {
        codec,
        payload_type,
        local_payload_type,
        telephone_event,
        local_telephone_event: telephone_event.and(local_te),
        remote_rtp,
        remote_rtcp: remote_rtp.and_then(|a| theirs.rtcp_address(a)),
        direction: offer.direction_of(index).intersect(peer.reversed()),
        peer_holds: !peer.receives(),
        remote_ptime: theirs.ptime,
        media_index: index,
        srtp,
    })
}

/// An offer puts us on hold: its audio stream says sendonly or inactive,
/// or its address is 0.0.0.0 (RFC 2543 style). `false` without audio.
pub fn peer_holds(offer: &Sdp) -> bool {
    offer
        .first_active_audio()
        .is_some_and(|i| !offer.effective_direction(i).receives())
}
