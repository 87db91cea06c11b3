//! Media for Switchyard: RTP anchored in the host.
//!
//! * [`ports`] — the RTP/RTCP port pool (even RTP port, RTCP on the next).
//! * [`session`] — a call's media without I/O: legs (RTP endpoints with
//!   latching, G.711 law, RFC 4733 digits, RTP timeout, one outbound
//!   stream each) joined by bridges with a matrix of who hears whom —
//!   relayed packet by packet between two, mixed beyond — shared sources
//!   (music on hold), prompts, the call recording and message taps.
//! * [`room`] — a conference room's mixer without I/O: participants of
//!   many calls, each hearing every talker but itself, silent ones left
//!   out of the sum, prompts to one, tones to all, waiting music.
//! * [`station`] — a shared music source: one loop, encoded once per law,
//!   on one timeline, heard by every caller waiting in a queue.
//! * [`task`] — the tokio task that moves packets between the legs'
//!   sockets and the session, runs its clock, writes recordings, and
//!   reports to the call engine.
//! * [`srtp`] — a SIP phone's SRTP with SDES keys, terminated in front
//!   of the session like a browser's leg.
//! * [`webrtc`] — a browser's WebRTC media (ICE, DTLS-SRTP, Opus)
//!   terminated without I/O and presented to the session as a PCMU leg.
//!
//! The codecs, DTMF, tones, WAV and stream state are `switchyard-rtp`'s;
//! SDP offer/answer is `switchyard-sdp`'s.

pub mod ports;
pub mod room;
pub mod room_task;
pub mod session;
pub mod srtp;
pub mod station;
pub mod task;
pub mod webrtc;

pub use ports::{PortPool, RtpPorts};
pub use room::MemberId;
pub use room_task::{RoomEvent, RoomHandle, Sink};
pub use session::{
    BridgeId, LegConfig, LegId, Listener, MediaSession, MessageEnd, PlayItem, SourceId,
};
pub use srtp::SrtpLeg;
pub use station::Station;
pub use switchyard_rtp::tones::ToneSpec;
pub use switchyard_rtp::wav::Channels;
pub use task::{LegCounts, MediaEvent, MediaHandle};
pub use webrtc::{WebRtcCodec, WebRtcError, WebRtcLeg};
