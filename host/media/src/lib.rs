//! Media for Switchyard: RTP anchored in the host.
//!
//! * [`ports`] — the RTP/RTCP port pool (even RTP port, RTCP on the next).
//! * [`relay`] — the relay between the two legs of a call, without I/O:
//!   symmetric-RTP latching, PCMU↔PCMA transcoding, RFC 4733 digits
//!   detected and re-sent with the other leg's payload type, RTP timeout.
//! * [`sdp`] — reading offers and answers, writing ours (G.711 and
//!   telephone-event; 400 for malformed SDP, 488 with nothing in common).
//! * [`bridge`] — the tokio task that moves packets between the legs'
//!   sockets and the relay, and reports digits and dead legs.
//!
//! The codecs, DTMF and stream state are `switchyard-rtp`'s.

pub mod bridge;
pub mod ports;
pub mod relay;
pub mod sdp;

pub use bridge::{Bridge, MediaEvent};
pub use ports::{PortPool, RtpPorts};
pub use relay::{LegConfig, Relay, RelayOutput};
