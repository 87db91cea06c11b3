//! A WebRTC media leg without I/O: a browser's ICE, DTLS-SRTP and Opus
//! terminated in the host and presented to [`MediaSession`] as a plain
//! G.711 µ-law (PCMU) leg, so the session does not know the difference.
//!
//! * WebRTC itself (ICE, DTLS, SRTP/SRTCP, RTCP, SDP offer/answer, BUNDLE,
//!   rtcp-mux, RFC 4733 depacketizing) is [str0m]'s, a sans-IO library:
//!   it is told what arrived and what time it is, like the rest of this
//!   crate. Its `rust-crypto` backend is used (no OpenSSL): SRTP and
//!   hashing are RustCrypto, while its DTLS library still uses aws-lc for
//!   key exchange and signatures. Chosen over `rtc` (the `webrtc` crate's
//!   sans-IO core) by measurement: `bench/RESULTS.md` §10. The host is
//!   ICE-lite with one host candidate, the leg's RTP socket: the browser
//!   runs the checks, the host answers them.
//! * Opus is libopus through the `opus` crate (0.3, which links the system
//!   library found by pkg-config; Debian `libopus-dev`). libopus decodes
//!   straight to 8 kHz and encodes from 8 kHz mono input, so no resampler
//!   is needed: the Opus RTP clock stays 48 kHz on the wire (20 ms = 960
//!   ticks) while the PCM on this side is 160 samples at 8 kHz.
//!
//! Towards the session the leg produces ([`WebRtcLeg::poll_rtp`]) PCMU RTP
//! with its own SSRC, sequence and timestamp — 160 samples a packet,
//! whatever frame length the browser used — and RFC 4733 digits as
//! payload type [`EVENT_PT`] on the same 8 kHz timeline. What the session
//! sends to the leg ([`WebRtcLeg::send_rtp`]: PCMU, PCMA or
//! telephone-events) is encoded with the negotiated codec and written
//! through str0m. Payload type numbers on the browser side come from the
//! SDP.
//!
//! [`MediaSession`]: crate::session::MediaSession
//! [str0m]: https://docs.rs/str0m

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::crypto::dtls::DtlsCert;
use str0m::format::{Codec, CodecExtra, FormatParams};
use str0m::media::{Direction, Frequency, MediaData, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use switchyard_rtp::dtmf::TelephoneEvent;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};

/// The one RTP header extension negotiated (`urn:ietf:params:rtp-hdrext:sdes:mid`);
/// 4 is what Chrome numbers it, so an offer from Chrome keeps its id.
const MID_EXTENSION_ID: u8 = 4;

/// A media direction, as str0m and the browser's SDP see it.
pub use str0m::media::Direction as WebRtcDirection;

/// A WebRTC leg shared between the call's SDP state (which renegotiates
/// it: a browser's hold, our re-offers) and the media task (which moves
/// its packets). The SDP answer must be made at once, on the `Rtc` the
/// task drives, so both reach it under a lock neither holds for long nor
/// across an `await`.
pub type SharedWebRtcLeg = std::sync::Arc<std::sync::Mutex<WebRtcLeg>>;

/// Lock a shared leg; a panic elsewhere while it was held leaves str0m's
/// state as consistent as any error return would, so the lock is taken
/// back.
pub fn lock(leg: &SharedWebRtcLeg) -> std::sync::MutexGuard<'_, WebRtcLeg> {
    leg.lock().unwrap_or_else(|p| p.into_inner())
}

/// Payload type of the telephone-events [`WebRtcLeg::poll_rtp`] produces
/// and [`WebRtcLeg::send_rtp`] expects (the session's side, 8 kHz clock).
pub const EVENT_PT: u8 = 101;

/// Samples in one 20 ms frame at 8 kHz.
const FRAME: usize = 160;

/// The most 8 kHz samples one Opus packet decodes to (120 ms).
const MAX_DECODED: usize = 960;

/// Gaps in the browser's audio up to this many 8 kHz samples (120 ms) are
/// concealed (Opus PLC, or silence for G.711); longer ones are passed on
/// as a jump in the RTP timestamp, as a phone's loss would be.
const MAX_CONCEAL: u64 = 960;

/// Our telephone-event payload types when we offer (8 kHz and 48 kHz
/// clocks: str0m sends a digit with the one matching the audio codec).
const OFFER_EVENT_PT_8K: u8 = 101;
const OFFER_EVENT_PT_48K: u8 = 110;

/// Why a WebRTC leg could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcError {
    /// The SDP did not parse.
    BadSdp(String),
    /// The SDP has no `a=fingerprint`: DTLS-SRTP cannot be keyed.
    NoFingerprint,
    /// The SDP has no audio m-line.
    NoAudio,
    /// No codec in common: the host speaks Opus, PCMU and PCMA.
    NoCommonCodec,
    /// `accept_answer` without an outstanding offer.
    NoPendingOffer,
    /// str0m refused the session description.
    Rtc(String),
    /// libopus could not be set up.
    Opus(String),
}

impl fmt::Display for WebRtcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebRtcError::BadSdp(e) => write!(f, "malformed SDP: {e}"),
            WebRtcError::NoFingerprint => {
                write!(f, "the SDP has no a=fingerprint (DTLS-SRTP needs one)")
            }
            WebRtcError::NoAudio => write!(f, "the SDP has no audio m-line"),
            WebRtcError::NoCommonCodec => {
                write!(f, "no audio codec in common (Opus, PCMU or PCMA)")
            }
            WebRtcError::NoPendingOffer => write!(f, "no offer of ours is waiting for an answer"),
            WebRtcError::Rtc(e) => write!(f, "WebRTC session refused: {e}"),
            WebRtcError::Opus(e) => write!(f, "libopus: {e}"),
        }
    }
}

impl std::error::Error for WebRtcError {}

/// The audio codec negotiated with the browser (what the leg sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRtcCodec {
    Opus,
    Pcmu,
    Pcma,
}

impl WebRtcCodec {
    fn from_str0m(codec: Codec) -> Option<Self> {
        match codec {
            Codec::Opus => Some(WebRtcCodec::Opus),
            Codec::PCMU => Some(WebRtcCodec::Pcmu),
            Codec::PCMA => Some(WebRtcCodec::Pcma),
            _ => None,
        }
    }

    /// The codec's RTP clock ticks per 8 kHz sample.
    fn ticks_per_sample(self) -> u64 {
        match self {
            WebRtcCodec::Opus => 6,
            WebRtcCodec::Pcmu | WebRtcCodec::Pcma => 1,
        }
    }
}

/// One browser's media, terminated. See the [module](self) documentation.
pub struct WebRtcLeg {
    rtc: Rtc,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    /// Negotiated send codec and its browser-side payload type.
    send: Option<(WebRtcCodec, Pt)>,
    next_timeout: Option<Instant>,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    rtp_out: VecDeque<Vec<u8>>,
    decoder: opus::Decoder,
    encoder: opus::Encoder,
    rx: Repacketizer,
    tx: SendClock,
    /// Timestamp (session side) of the last digit written to the browser.
    digit_sent: Option<u32>,
}

impl fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("local", &self.local)
            .field("mid", &self.mid)
            .field("send", &self.send)
            .field("connected", &self.rtc.is_connected())
            .finish_non_exhaustive()
    }
}

impl WebRtcLeg {
    fn new(now: Instant, local: SocketAddr) -> Result<Self, WebRtcError> {
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            // Only the mid: str0m's standard map also negotiates
            // transport-cc, and answering it is a third of str0m's CPU a
            // call (`bench/RESULTS.md` §10, "Choice of WebRTC crate") for
            // bandwidth estimates a fixed-rate audio leg never uses.
            .clear_extension_map()
            .set_extension(MID_EXTENSION_ID, Extension::RtpMid)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .enable_pcma(true, false);
        let tele = FormatParams {
            telephone_event_max: Some(15),
            ..Default::default()
        };
        for (pt, clock) in [
            (OFFER_EVENT_PT_48K, Frequency::FORTY_EIGHT_KHZ),
            (OFFER_EVENT_PT_8K, Frequency::EIGHT_KHZ),
        ] {
            config
                .codec_config()
                .add_config(pt.into(), None, Codec::Tele, clock, None, tele);
        }
        if let Some(cert) = dtls_certificate() {
            config = config.set_dtls_cert(cert.clone());
        }
        let mut rtc = config.build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| WebRtcError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);

        let decoder = opus::Decoder::new(8000, opus::Channels::Mono)
            .map_err(|e| WebRtcError::Opus(e.to_string()))?;
        let encoder = narrowband_encoder().map_err(|e| WebRtcError::Opus(e.to_string()))?;
        Ok(WebRtcLeg {
            rtc,
            local,
            mid: None,
            pending: None,
            send: None,
            next_timeout: None,
            transmits: VecDeque::new(),
            rtp_out: VecDeque::new(),
            decoder,
            encoder,
            rx: Repacketizer::new(),
            tx: SendClock::default(),
            digit_sent: None,
        })
    }

    /// The browser offered: builds the leg and the SDP answer (ICE-lite,
    /// our DTLS fingerprint, one host candidate on `local`, rtcp-mux,
    /// BUNDLE; Opus preferred, else PCMU, else PCMA; telephone-event if
    /// offered).
    pub fn answer(
        now: Instant,
        offer_sdp: &str,
        local: SocketAddr,
    ) -> Result<(WebRtcLeg, String), WebRtcError> {
        precheck(offer_sdp)?;
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
        let mut leg = WebRtcLeg::new(now, local)?;
        let answer = leg
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(map_rtc_error)?;
        leg.drain();
        // str0m reports the browser's media (MediaAdded) only once SRTP is
        // up; the answer needs the codec now, so the mid is the offer's.
        let mid = audio_mid(offer_sdp).ok_or(WebRtcError::NoAudio)?;
        if leg.rtc.media(mid).is_none() {
            return Err(WebRtcError::NoAudio);
        }
        leg.mid = Some(mid);
        leg.choose_codec()?;
        Ok((leg, narrowband_opus(&answer.to_sdp_string())))
    }

    /// We call the browser: the leg and the offer to put in our INVITE
    /// (Opus, PCMU, PCMA, telephone-event); its answer goes to
    /// [`accept_answer`](Self::accept_answer).
    pub fn offer(now: Instant, local: SocketAddr) -> Result<(WebRtcLeg, String), WebRtcError> {
        let mut leg = WebRtcLeg::new(now, local)?;
        let mut change = leg.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| WebRtcError::Rtc("no offer produced".into()))?;
        leg.mid = Some(mid);
        leg.pending = Some(pending);
        leg.drain();
        Ok((leg, narrowband_opus(&offer.to_sdp_string())))
    }

    /// The browser's answer to [`offer`](Self::offer).
    pub fn accept_answer(&mut self, now: Instant, answer_sdp: &str) -> Result<(), WebRtcError> {
        let pending = self.pending.take().ok_or(WebRtcError::NoPendingOffer)?;
        precheck(answer_sdp)?;
        let answer = SdpAnswer::from_sdp_string(answer_sdp)
            .map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(map_rtc_error)?;
        self.drain();
        self.handle_timeout(now);
        self.choose_codec()
    }

    /// The browser offered again on the same session (hold, resume, a
    /// codec change): str0m takes it on the same `Rtc`, so the answer
    /// keeps our ICE credentials and DTLS fingerprint and the media flows
    /// on without a new handshake. An offer that would start a new DTLS
    /// association (another fingerprint) is refused by str0m.
    pub fn accept_offer(&mut self, now: Instant, offer_sdp: &str) -> Result<String, WebRtcError> {
        precheck(offer_sdp)?;
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
        // Any offer of ours still waiting is void now (str0m invalidates it).
        self.pending = None;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(map_rtc_error)?;
        self.drain();
        self.handle_timeout(now);
        self.choose_codec()?;
        Ok(narrowband_opus(&answer.to_sdp_string()))
    }

    /// We offer again in `direction` (ours: `SendOnly` puts the browser on
    /// hold, `SendRecv` takes it off); its answer goes to
    /// [`accept_answer`](Self::accept_answer). `None` when the direction is
    /// already that: str0m makes no offer for no change, and the browser
    /// need not hear of it.
    pub fn reoffer(&mut self, now: Instant, direction: Direction) -> Option<String> {
        let mid = self.mid?;
        let mut change = self.rtc.sdp_api();
        change.set_direction(mid, direction);
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        self.drain();
        self.handle_timeout(now);
        Some(narrowband_opus(&offer.to_sdp_string()))
    }

    /// The direction the browser last agreed to, seen from its side
    /// (`SendOnly` or `Inactive`: it holds us; `RecvOnly`: we hold it).
    pub fn peer_direction(&self) -> Option<Direction> {
        let media = self.rtc.media(self.mid?)?;
        Some(media.direction().invert())
    }

    /// A datagram arrived on the leg's socket (STUN, DTLS, SRTP or SRTCP;
    /// str0m demultiplexes). Anything unparseable is dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, from, self.local, bytes) else {
            tracing::debug!(%from, len = bytes.len(), "webrtc: unrecognised datagram dropped");
            return;
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(%from, error = %e, "webrtc: datagram refused");
        }
        self.drain();
    }

    /// Time passed: retransmissions, consent, RTCP.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(error = %e, "webrtc: timeout handling failed");
        }
        self.drain();
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    /// A datagram to send from the leg's socket.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// The browser's audio as PCMU RTP (20 ms, 160 samples; our SSRC,
    /// sequence and timestamp) and its digits as telephone-events
    /// ([`EVENT_PT`], 8 kHz clock): what the session takes from a G.711
    /// leg.
    pub fn poll_rtp(&mut self) -> Option<Vec<u8>> {
        self.rtp_out.pop_front()
    }

    /// The leg's own address (its ICE candidate). The session is told to
    /// send there: the media task hands what it sends to the leg instead.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// ICE and DTLS are done: media flows.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// The negotiated codec, once the offer/answer is complete.
    pub fn codec(&self) -> Option<WebRtcCodec> {
        self.send.map(|(c, _)| c)
    }

    /// The browser's payload type for the negotiated codec.
    pub fn payload_type(&self) -> Option<u8> {
        self.send.map(|(_, pt)| *pt)
    }

    /// An RTP packet the session sent to this leg (PCMU or PCMA audio, or
    /// a telephone-event on [`EVENT_PT`]): encoded with the negotiated
    /// codec and written through str0m. Dropped before the offer/answer
    /// completes, and by str0m before ICE connects.
    pub fn send_rtp(&mut self, now: Instant, rtp: &[u8]) {
        let (Some(mid), Some((codec, pt))) = (self.mid, self.send) else {
            return;
        };
        let Ok(packet) = RtpPacket::parse(rtp) else {
            return;
        };
        let header = &packet.header;
        if header.payload_type == EVENT_PT {
            self.send_digit(now, mid, codec, pt, header.timestamp, packet.payload);
            return;
        }
        let Some(law) = Law::from_payload_type(header.payload_type) else {
            return;
        };
        let at = self.tx.advance(header.timestamp);
        let media_time = MediaTime::new(at * codec.ticks_per_sample(), send_frequency(codec));
        let data = match codec {
            WebRtcCodec::Opus => {
                let mut pcm = Vec::with_capacity(packet.payload.len());
                law.decode(packet.payload, &mut pcm);
                let mut out = [0u8; 1275];
                match self.encoder.encode(&pcm, &mut out) {
                    Ok(n) => out[..n].to_vec(),
                    Err(e) => {
                        tracing::debug!(error = %e, "webrtc: opus encode failed");
                        return;
                    }
                }
            }
            WebRtcCodec::Pcmu | WebRtcCodec::Pcma => {
                let to = if codec == WebRtcCodec::Pcmu {
                    Law::Pcmu
                } else {
                    Law::Pcma
                };
                let mut bytes = packet.payload.to_vec();
                law.transcode(to, &mut bytes);
                bytes
            }
        };
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        if let Err(e) = writer.write(pt, now, media_time, data) {
            tracing::debug!(error = %e, "webrtc: audio write failed");
        }
        self.drain();
    }

    /// Forwards a digit from the session once its end arrives: str0m
    /// sends a telephone-event as a whole (start, updates and end).
    fn send_digit(
        &mut self,
        now: Instant,
        mid: Mid,
        codec: WebRtcCodec,
        pt: Pt,
        timestamp: u32,
        payload: &[u8],
    ) {
        let Ok(event) = TelephoneEvent::parse(payload) else {
            return;
        };
        if !event.end || self.digit_sent == Some(timestamp) {
            return;
        }
        self.digit_sent = Some(timestamp);
        let at = self.tx.advance(timestamp);
        let media_time = MediaTime::new(at * codec.ticks_per_sample(), send_frequency(codec));
        let millis = (u64::from(event.duration) / 8).clamp(40, 6000);
        let tele = str0m::media::TelephoneEvent {
            event: event.event,
            end: true,
            volume: event.volume,
            duration: std::time::Duration::from_millis(millis),
        };
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        if let Err(e) = writer
            .telephone_event(tele)
            .write(pt, now, media_time, Vec::new())
        {
            tracing::debug!(error = %e, "webrtc: telephone-event write failed");
        }
        self.drain();
    }

    /// Picks the send codec: the first of ours (Opus, PCMU, PCMA) the
    /// browser's SDP has.
    fn choose_codec(&mut self) -> Result<(), WebRtcError> {
        let mid = self.mid.ok_or(WebRtcError::NoAudio)?;
        let media = self.rtc.media(mid).ok_or(WebRtcError::NoAudio)?;
        let remote = media.remote_pts();
        let mut best: Option<(usize, WebRtcCodec, Pt)> = None;
        for p in self.rtc.codec_config().params() {
            let Some(codec) = WebRtcCodec::from_str0m(p.spec().codec) else {
                continue;
            };
            if !remote.is_empty() && !remote.contains(&p.pt()) {
                continue;
            }
            let rank = match codec {
                WebRtcCodec::Opus => 0,
                WebRtcCodec::Pcmu => 1,
                WebRtcCodec::Pcma => 2,
            };
            if best.is_none_or(|(r, _, _)| rank < r) {
                best = Some((rank, codec, p.pt()));
            }
        }
        let (_, codec, pt) = best.ok_or(WebRtcError::NoCommonCodec)?;
        self.send = Some((codec, pt));
        Ok(())
    }

    /// Polls str0m until it only has a timeout left (its single-mutation
    /// rule: every change is followed by a full drain).
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = Some(t);
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    self.transmits.push_back((t.destination, t.contents.into()));
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(e) => {
                    tracing::debug!(error = %e, "webrtc: poll failed");
                    self.next_timeout = None;
                    break;
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::MediaAdded(added) if added.kind == MediaKind::Audio && self.mid.is_none() => {
                self.mid = Some(added.mid);
            }
            Event::MediaData(data) if Some(data.mid) == self.mid => self.on_media(data),
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(?state, "webrtc: ICE state");
                if state == IceConnectionState::Disconnected {
                    self.rx.reset();
                }
            }
            _ => {}
        }
    }

    fn on_media(&mut self, data: MediaData) {
        if let CodecExtra::Tele(event) = data.codec_extra {
            self.rx.digit(&data, event, &mut self.rtp_out);
            return;
        }
        let Some(codec) = WebRtcCodec::from_str0m(data.params.spec().codec) else {
            return;
        };
        let at = data.time.rebase(Frequency::EIGHT_KHZ).numer();
        let Some(gap) = self.rx.gap(at) else {
            return; // late or duplicate
        };
        let mut pcm = [0i16; MAX_DECODED];
        if gap > 0 {
            if gap <= MAX_CONCEAL {
                let n = gap as usize / 20 * 20;
                let concealed = match codec {
                    WebRtcCodec::Opus => {
                        self.decoder.decode(&[], &mut pcm[..n], false).unwrap_or(0)
                    }
                    _ => 0,
                };
                pcm[concealed..n].fill(0);
                self.rx.push_pcm(&pcm[..n], &mut self.rtp_out);
            } else {
                self.rx.jump(gap);
            }
        }
        let decoded = match codec {
            WebRtcCodec::Opus => match self.decoder.decode(&data.data, &mut pcm, false) {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "webrtc: opus decode failed");
                    return;
                }
            },
            WebRtcCodec::Pcmu | WebRtcCodec::Pcma => {
                let law = if codec == WebRtcCodec::Pcmu {
                    Law::Pcmu
                } else {
                    Law::Pcma
                };
                let n = data.data.len().min(MAX_DECODED);
                for (s, &b) in pcm.iter_mut().zip(&data.data[..n]) {
                    *s = law.decode_sample(b);
                }
                n
            }
        };
        self.rx.expect_next(at + decoded as u64);
        self.rx.push_pcm(&pcm[..decoded], &mut self.rtp_out);
    }
}

/// The DTLS certificate every leg presents, made once per process:
/// making one per leg was an eighth of a leg's setup CPU. Its
/// fingerprint is in every answer, as one certificate serves all of a
/// web server's visitors; DTLS keys are still fresh for every handshake.
/// `None` (each leg makes its own) if the provider cannot make one.
fn dtls_certificate() -> Option<&'static DtlsCert> {
    static CERT: OnceLock<Option<DtlsCert>> = OnceLock::new();
    CERT.get_or_init(|| {
        str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
    })
    .as_ref()
}

/// The Opus encoder towards the browser. What it encodes comes from the
/// session as 8 kHz G.711, so it is set for that, and for cost: it is the
/// largest part of a browser call's CPU. Measured in release on this
/// project's 2-core VM with a speech prompt (`bench/RESULTS.md` §10):
/// SILK (`Voip`) at complexity 5 took ~80–105 µs a 20 ms frame with a
/// waveform SNR of 9 dB; CELT only (`LowDelay`) at complexity 0 and
/// 32 kbit/s takes ~18 µs with 24 dB (G.711 itself: 37 dB), and 2.5 ms
/// less delay. CELT has no in-band FEC; the browser conceals a loss.
fn narrowband_encoder() -> Result<opus::Encoder, opus::Error> {
    let mut encoder = opus::Encoder::new(8000, opus::Channels::Mono, opus::Application::LowDelay)?;
    encoder.set_complexity(0)?;
    encoder.set_bitrate(opus::Bitrate::Bits(32_000))?;
    Ok(encoder)
}

/// Our SDP with `maxplaybackrate=8000;sprop-maxcapturerate=8000` on the
/// Opus format (RFC 7587 §6.1): what the browser sends is played into
/// 8 kHz G.711, so it should encode narrowband. Chrome then sends SILK
/// narrowband, which libopus decodes in ~7 µs a frame instead of ~29 µs
/// for its fullband default (measured as above). str0m has no field for
/// these parameters, so they are added to its text.
fn narrowband_opus(sdp: &str) -> String {
    const PARAMS: &str = "maxplaybackrate=8000;sprop-maxcapturerate=8000";
    let opus_pts: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, enc)| enc.to_ascii_lowercase().starts_with("opus/"))
        .map(|(pt, _)| pt)
        .collect();
    let mut out = String::with_capacity(sdp.len() + 64);
    let mut has_fmtp: Vec<&str> = Vec::new();
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        if let Some((pt, params)) = body
            .strip_prefix("a=fmtp:")
            .and_then(|rest| rest.split_once(' '))
            && opus_pts.contains(&pt)
        {
            has_fmtp.push(pt);
            if !params.contains("maxplaybackrate") {
                out.push_str(&format!("{body};{PARAMS}{ending}"));
                continue;
            }
        }
        out.push_str(line);
    }
    // An Opus format without an fmtp line gets one after its rtpmap.
    for pt in opus_pts.iter().filter(|pt| !has_fmtp.contains(pt)) {
        let rtpmap = format!("a=rtpmap:{pt} ");
        if let Some(at) = out.find(&rtpmap) {
            let end = out[at..].find('\n').map_or(out.len(), |i| at + i + 1);
            out.insert_str(end, &format!("a=fmtp:{pt} {PARAMS}\r\n"));
        }
    }
    out
}

fn send_frequency(codec: WebRtcCodec) -> Frequency {
    match codec {
        WebRtcCodec::Opus => Frequency::FORTY_EIGHT_KHZ,
        WebRtcCodec::Pcmu | WebRtcCodec::Pcma => Frequency::EIGHT_KHZ,
    }
}

/// Clear errors for what str0m would refuse less legibly (or accept: an
/// offer without audio is a valid WebRTC offer, just not a call).
fn precheck(sdp: &str) -> Result<(), WebRtcError> {
    if !sdp.trim_start().starts_with("v=0") {
        return Err(WebRtcError::BadSdp("does not start with v=0".into()));
    }
    let lines = || sdp.lines().map(str::trim);
    if !lines().any(|l| l.starts_with("m=audio ")) {
        return Err(WebRtcError::NoAudio);
    }
    if !lines().any(|l| l.starts_with("a=fingerprint:")) {
        return Err(WebRtcError::NoFingerprint);
    }
    Ok(())
}

/// The `a=mid` of the first audio m-line that is not rejected (port 0).
fn audio_mid(sdp: &str) -> Option<Mid> {
    let mut in_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut fields = m.split_whitespace();
            in_audio = fields.next() == Some("audio") && fields.next() != Some("0");
        } else if in_audio && let Some(mid) = line.strip_prefix("a=mid:") {
            return Some(Mid::from(mid));
        }
    }
    None
}

fn map_rtc_error(e: str0m::RtcError) -> WebRtcError {
    let text = e.to_string();
    if text.contains("fingerprint") {
        WebRtcError::NoFingerprint
    } else {
        WebRtcError::Rtc(text)
    }
}

/// A random SSRC without a dependency for it (the hasher behind `HashMap`
/// is seeded randomly).
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// The browser's audio, cut into 160-sample PCMU packets on our own
/// timeline, and its digits on the same timeline.
struct Repacketizer {
    ssrc: u32,
    seq: u16,
    /// Timestamp of the next audio packet's first sample.
    ts: u32,
    pcm: Vec<i16>,
    /// The next expected sample (browser clock rebased to 8 kHz).
    expected: Option<u64>,
    /// The next audio packet starts a talkspurt (first, or after a jump).
    marker: bool,
    /// The digit being relayed: (browser's event timestamp, ours).
    digit: Option<(u64, u32)>,
}

impl Repacketizer {
    fn new() -> Self {
        let r = random_u32();
        Repacketizer {
            ssrc: random_u32(),
            seq: r as u16,
            ts: r.rotate_left(16),
            pcm: Vec::with_capacity(MAX_DECODED + FRAME),
            expected: None,
            marker: true,
            digit: None,
        }
    }

    fn reset(&mut self) {
        self.pcm.clear();
        self.expected = None;
        self.marker = true;
    }

    /// Samples missing before one starting at `at`: `None` when it is late
    /// or a duplicate.
    fn gap(&self, at: u64) -> Option<u64> {
        match self.expected {
            None => Some(0),
            Some(e) if at < e => None,
            Some(e) => Some(at - e),
        }
    }

    fn expect_next(&mut self, at: u64) {
        self.expected = Some(at);
    }

    /// A gap too long to conceal: the partial frame is dropped and the
    /// timeline jumps by the gap, rounded to whole frames.
    fn jump(&mut self, gap: u64) {
        let frames = gap.div_ceil(FRAME as u64) as u32;
        self.pcm.clear();
        self.ts = self.ts.wrapping_add(frames.wrapping_mul(FRAME as u32));
        self.marker = true;
    }

    fn push_pcm(&mut self, samples: &[i16], out: &mut VecDeque<Vec<u8>>) {
        self.pcm.extend_from_slice(samples);
        let mut start = 0;
        while self.pcm.len() - start >= FRAME {
            let mut payload = Vec::with_capacity(FRAME);
            Law::Pcmu.encode(&self.pcm[start..start + FRAME], &mut payload);
            start += FRAME;
            let header = RtpHeader {
                marker: std::mem::take(&mut self.marker),
                payload_type: Law::Pcmu.payload_type(),
                sequence: self.seq,
                timestamp: self.ts,
                ssrc: self.ssrc,
                ..Default::default()
            };
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(FRAME as u32);
            if let Ok(bytes) = header.to_bytes(&payload) {
                out.push_back(bytes);
            }
        }
        self.pcm.drain(..start);
    }

    /// One telephone-event report from the browser, re-stamped: the event
    /// starts at our current audio timestamp, its duration in 8 kHz units.
    fn digit(
        &mut self,
        data: &MediaData,
        event: str0m::media::TelephoneEvent,
        out: &mut VecDeque<Vec<u8>>,
    ) {
        let key = data.time.numer();
        let (marker, ts) = match self.digit {
            Some((k, ts)) if k == key => (false, ts),
            _ => {
                self.digit = Some((key, self.ts));
                (true, self.ts)
            }
        };
        let units = (event.duration.as_micros() * 8 / 1000).min(u128::from(u16::MAX)) as u16;
        let payload = TelephoneEvent {
            event: event.event,
            end: event.end,
            volume: event.volume,
            duration: units,
        }
        .to_bytes();
        let header = RtpHeader {
            marker,
            payload_type: EVENT_PT,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        if let Ok(bytes) = header.to_bytes(&payload) {
            out.push_back(bytes);
        }
    }
}

/// The session's RTP timestamps (8 kHz, 32 bits, wrapping) extended to a
/// 64-bit sample count for str0m's media time.
#[derive(Default)]
struct SendClock {
    last: Option<(u32, u64)>,
}

impl SendClock {
    fn advance(&mut self, ts: u32) -> u64 {
        let at = match self.last {
            // Far from zero, so a packet older than the first still has a time.
            None => 1 << 32,
            Some((last, at)) => {
                let delta = i64::from(ts.wrapping_sub(last) as i32);
                at.saturating_add_signed(delta)
            }
        };
        self.last = Some((ts, at));
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0 101\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n";

    #[test]
    fn opus_is_asked_for_narrowband_and_nothing_else_changes() {
        let out = narrowband_opus(ANSWER);
        assert!(out.contains(
            "a=fmtp:111 minptime=10;useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"
        ));
        assert!(
            out.contains("a=fmtp:101 0-15\r\n"),
            "telephone-event untouched"
        );
        assert_eq!(
            out.replace(";maxplaybackrate=8000;sprop-maxcapturerate=8000", ""),
            ANSWER
        );
        // Idempotent: a second pass adds nothing.
        assert_eq!(narrowband_opus(&out), out);
    }

    #[test]
    fn an_opus_format_without_fmtp_gets_one() {
        let sdp = ANSWER.replace("a=fmtp:111 minptime=10;useinbandfec=1\r\n", "");
        let out = narrowband_opus(&sdp);
        assert!(out.contains(
            "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"
        ));
        let no_opus = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert_eq!(narrowband_opus(no_opus), no_opus);
    }

    /// The cheap encoder settings keep speech clear: the demo's own menu
    /// prompt through encode and decode stays well above the ~9 dB a
    /// parametric (SILK) encoding gives, and the output is aligned to the
    /// input within the codec's few milliseconds of delay.
    #[test]
    fn the_encoder_keeps_speech_clear() {
        let wav = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/tenant-demo/prompts/main-menu.wav"
        ))
        .expect("demo prompt");
        let prompt = switchyard_rtp::wav::load_prompt(&wav).expect("prompt");
        let input = prompt.samples;
        let mut encoder = narrowband_encoder().expect("encoder");
        let mut decoder = opus::Decoder::new(8000, opus::Channels::Mono).expect("decoder");
        let (mut out, mut bytes) = (Vec::new(), 0);
        for frame in input.chunks_exact(FRAME) {
            let mut packet = [0u8; 1275];
            let n = encoder.encode(frame, &mut packet).expect("encode");
            bytes += n;
            let mut pcm = [0i16; FRAME];
            let got = decoder
                .decode(&packet[..n], &mut pcm, false)
                .expect("decode");
            out.extend_from_slice(&pcm[..got]);
        }
        let frames = input.len() / FRAME;
        let kbps = (bytes * 8 * 50 / frames) as f64 / 1000.0;
        assert!((24.0..=40.0).contains(&kbps), "{kbps} kbit/s");
        let best = (0..200)
            .map(|delay| {
                let n = input.len() - delay;
                let (mut signal, mut noise) = (0f64, 0f64);
                for (x, y) in input[..n].iter().zip(&out[delay..]) {
                    let (x, y) = (f64::from(*x), f64::from(*y));
                    signal += x * x;
                    noise += (x - y) * (x - y);
                }
                (delay, 10.0 * (signal / noise.max(1.0)).log10())
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("delays");
        assert!(best.1 >= 20.0, "SNR {:.1} dB at delay {}", best.1, best.0);
        assert!(best.0 <= 40, "delay {} samples", best.0);
    }
}
