//! Media for Switchyard: RTP anchored in the host.
//!
//! * [`ports`] — the RTP/RTCP port pool (even RTP port, RTCP on the next).
//! * [`session`] — a call's media without I/O: what each leg hears (our
//!   prompts, tones and music, or the other leg relayed with latching,
//!   PCMU↔PCMA transcoding and RFC 4733 digits), digits reported, the
//!   call recording and message taps, RTP timeout.
//! * [`task`] — the tokio task that moves packets between the legs'
//!   sockets and the session, runs its clock, writes recordings, and
//!   reports to the call engine.
//!
//! The codecs, DTMF, tones, WAV and stream state are `switchyard-rtp`'s;
//! SDP offer/answer is `switchyard-sdp`'s.

pub mod ports;
pub mod session;
pub mod task;

pub use ports::{PortPool, RtpPorts};
pub use session::{AGENT, CALLER, LegConfig, MediaSession, MessageEnd, PlayItem};
pub use switchyard_rtp::tones::ToneSpec;
pub use switchyard_rtp::wav::Channels;
pub use task::{LegCounts, MediaEvent, MediaHandle};
