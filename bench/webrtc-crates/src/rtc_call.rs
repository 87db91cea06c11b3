//! webrtc-rs's sans-IO core, `rtc` 0.21 (default features: ring), on both
//! sides. The host's peer is ICE-lite (`SettingEngineBuilder::with_lite`)
//! like str0m's. Interceptors: RTCP sender and receiver reports only (all
//! a PBX's audio leg needs), or `rtc`'s default set (NACK, transport-cc
//! feedback, reports), which is closer to what str0m does out of the box.
//!
//! `rtc` sends and receives whole RTP packets (the caller writes the
//! header: SSRC, sequence, timestamp), where str0m takes and gives media
//! frames; for 20 ms audio one frame is one packet, so the work compared
//! is the same.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMU, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::{Call, PAYLOAD, thread_cpu};

/// From `cargo tree` on this crate (see the README).
pub const BUILD_NOTE: &str = "crypto-ring (default); C: ring's own C/asm (cc build), no cmake";

fn host_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 20000 + (i % 40000) as u16))
}

fn browser_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 20000 + (i % 40000) as u16))
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn pcmu() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_PCMU.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// A peer with Opus (111) and PCMU (0), RTCP reports, one host candidate
/// on `local`; ICE-lite when `lite`. `aes256` puts SRTP_AEAD_AES_256_GCM
/// first, as str0m does (rtc's own order starts with AES-128-GCM), so the
/// per-packet figures can also be compared on the same SRTP profile.
/// `defaults`: rtc's default interceptors (NACK, transport-cc feedback,
/// reports) instead of reports only, which is closer to what str0m does by
/// default (it answers transport-cc).
fn peer(
    now: Instant,
    local: SocketAddr,
    lite: bool,
    aes256: bool,
    defaults: bool,
) -> RTCPeerConnection {
    let mut media = MediaEngine::default();
    for (rtp_codec, payload_type) in [(opus(), 111), (pcmu(), 0)] {
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec,
                    payload_type,
                },
                RtpCodecKind::Audio,
            )
            .expect("codec registered");
    }
    let registry = if defaults {
        register_default_interceptors(Registry::new(), &mut media).expect("interceptors")
    } else {
        configure_rtcp_reports(Registry::new())
    };
    let mut settings = SettingEngineBuilder::new().with_lite(lite);
    if aes256 {
        settings = settings.with_srtp_protection_profiles(vec![
            SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        ]);
    }
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_setting_engine(settings.build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(now)
        .expect("peer connection");
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .expect("host candidate");
    pc.add_local_candidate(
        RTCIceCandidate::from(&candidate)
            .to_json()
            .expect("candidate json"),
    )
    .expect("local candidate");
    pc
}

/// The peer's audio track: one encoding with our SSRC.
fn track(ssrc: u32, who: &str) -> MediaStreamTrack {
    let coding = RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: opus(),
        ..Default::default()
    };
    MediaStreamTrack::new(
        format!("{who}-stream"),
        format!("{who}-audio"),
        format!("{who}-audio"),
        RtpCodecKind::Audio,
        vec![coding],
    )
}

/// One `rtc` peer and what it emitted that the driver cares about.
struct Peer {
    pc: RTCPeerConnection,
    transport: TransportContext,
    sender: RTCRtpSenderId,
    ssrc: u32,
    connected: bool,
    frames: u64,
    /// Datagrams sent (RTP, RTCP, STUN, DTLS).
    datagrams: u64,
    out: Vec<BytesMut>,
    opus: Option<u8>,
    seq: u16,
    ts: u32,
}

impl Peer {
    fn new(
        pc: RTCPeerConnection,
        sender: RTCRtpSenderId,
        ssrc: u32,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Peer {
        Peer {
            pc,
            transport: TransportContext {
                local_addr: local,
                peer_addr: remote,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            sender,
            ssrc,
            connected: false,
            frames: 0,
            datagrams: 0,
            out: Vec::new(),
            opus: None,
            seq: 1,
            ts: 0,
        }
    }

    /// Everything the peer has for us: datagrams, events, received RTP.
    fn drain(&mut self) {
        while let Some(msg) = self.pc.poll_write() {
            debug_assert_eq!(msg.transport.peer_addr, self.transport.peer_addr);
            self.datagrams += 1;
            self.out.push(msg.message);
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                assert_ne!(
                    state,
                    RTCPeerConnectionState::Failed,
                    "rtc connection failed"
                );
                if state == RTCPeerConnectionState::Connected {
                    self.connected = true;
                }
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message {
                assert_eq!(
                    packet.payload[..],
                    PAYLOAD,
                    "rtc delivered a different payload"
                );
                self.frames += 1;
            }
        }
    }

    fn step(&mut self, now: Instant, incoming: Vec<BytesMut>, frame: Option<&[u8]>) {
        for message in incoming {
            self.pc
                .handle_read(TaggedBytesMut {
                    now,
                    transport: self.transport,
                    message,
                })
                .expect("rtc read");
        }
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now).expect("rtc timeout");
        }
        if let (Some(data), Some(pt)) = (frame, self.opus) {
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: self.seq,
                    timestamp: self.ts,
                    ssrc: self.ssrc,
                    ..Default::default()
                },
                payload: Bytes::copy_from_slice(data),
            };
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(960);
            self.pc
                .rtp_sender(self.sender)
                .expect("sender")
                .write_rtp(now, packet)
                .expect("rtc write");
        }
        self.drain();
    }

    fn find_opus(&mut self) {
        let pt = self
            .pc
            .rtp_sender(self.sender)
            .expect("sender")
            .get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS))
            .expect("Opus negotiated")
            .payload_type;
        self.opus = Some(pt);
    }
}

/// `AES256` and `DEFAULTS`: see [`peer`].
pub struct RtcCall<const AES256: bool, const DEFAULTS: bool> {
    host: Peer,
    browser: Peer,
}

impl<const AES256: bool, const DEFAULTS: bool> Call for RtcCall<AES256, DEFAULTS> {
    fn new(now: Instant, index: usize) -> (Self, Duration) {
        let (h, b) = (host_addr(index), browser_addr(index));
        let browser_ssrc = 0xb000_0000 + index as u32;
        let mut browser = peer(now, b, false, AES256, DEFAULTS);
        let browser_sender = browser
            .add_track(track(browser_ssrc, "browser"))
            .expect("browser track");
        let offer = browser.create_offer(None).expect("an offer");
        browser
            .set_local_description(now, offer.clone())
            .expect("browser local description");
        // The host gets the offer as text, as it does from SIP.
        let offer = offer.sdp;

        let t0 = thread_cpu();
        let host_ssrc = 0x4000_0000 + index as u32;
        let mut pc = peer(now, h, true, AES256, DEFAULTS);
        pc.set_remote_description(
            now,
            RTCSessionDescription::offer(offer).expect("offer parses"),
        )
        .expect("offer accepted");
        let host_sender = pc.add_track(track(host_ssrc, "host")).expect("host track");
        let answer = pc.create_answer(None).expect("an answer");
        pc.set_local_description(now, answer.clone())
            .expect("host local description");
        let mut host = Peer::new(pc, host_sender, host_ssrc, h, b);
        host.drain();
        let cpu = thread_cpu() - t0;
        assert!(
            answer.sdp.contains("a=ice-lite"),
            "the host answers as ICE-lite"
        );

        browser
            .set_remote_description(
                now,
                RTCSessionDescription::answer(answer.sdp).expect("answer parses"),
            )
            .expect("answer accepted");
        let mut browser = Peer::new(browser, browser_sender, browser_ssrc, b, h);
        browser.drain();
        (RtcCall { host, browser }, cpu)
    }

    fn host_step(&mut self, now: Instant, frame: Option<&[u8]>) {
        let incoming = std::mem::take(&mut self.browser.out);
        self.host.step(now, incoming, frame);
    }

    fn browser_step(&mut self, now: Instant, frame: Option<&[u8]>) {
        let incoming = std::mem::take(&mut self.host.out);
        self.browser.step(now, incoming, frame);
    }

    fn connected(&self) -> bool {
        self.host.connected && self.browser.connected
    }

    fn in_flight(&self) -> bool {
        !self.host.out.is_empty() || !self.browser.out.is_empty()
    }

    fn start_media(&mut self) {
        self.host.find_opus();
        self.browser.find_opus();
    }

    fn delivered(&self) -> (u64, u64) {
        (self.host.frames, self.browser.frames)
    }

    fn host_datagrams(&self) -> u64 {
        self.host.datagrams
    }

    fn each_datagram(&self, f: &mut dyn FnMut(&[u8])) {
        for d in self.host.out.iter().chain(&self.browser.out) {
            f(d);
        }
    }
}
