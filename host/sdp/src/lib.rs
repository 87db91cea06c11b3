//! SDP for Switchyard, without I/O: a strict parser and writer, and the
//! offer/answer of an anchoring B2BUA (RFC 3264) for G.711 and RFC 4733
//! `telephone-event`.
//!
//! With media anchoring the PBX terminates SDP on every leg: it answers a
//! caller's offer with its own address and port, offers its own SDP to
//! callees, renegotiates on re-INVITE (hold and resume), refuses with 488
//! when nothing is common and with 400 when the SDP is malformed.
//!
//! * [`model`] — [`SessionDescription`] (alias [`Sdp`]): origin, session
//!   name, connection addresses, `m=` sections with `rtpmap`, `fmtp`,
//!   `ptime`, `maxptime`, `rtcp` and direction; other attributes and lines
//!   kept verbatim.
//! * [`codec`] — [`Codec`]: PCMU (PT 0), PCMA (PT 8), `telephone-event`
//!   (dynamic PT), static vs dynamic payload types (RFC 3551).
//! * [`crypto`] — SDES for SRTP (RFC 4568): `a=crypto` lines
//!   ([`Crypto`]), the suites ([`CryptoSuite`]), a leg's [`SrtpPolicy`]
//!   and the keys a negotiation settles ([`SrtpKeys`]).
//! * [`parse`] — the strict parser; errors name the line.
//! * [`write`](mod@write) — CRLF, RFC 4566 line order.
//! * [`negotiate`] — [`answer`], [`offer`], [`accept_answer`],
//!   [`peer_holds`], [`LocalSession`]; [`answer_srtp`] and [`offer_srtp`]
//!   under a leg's SRTP policy.
//!
//! # Why not the `sdp` crate (webrtc-rs)
//!
//! Its documentation and source were read before writing this. It was not
//! used, because it does not meet what this crate must guarantee:
//!
//! * **Errors do not name the line.** `sdp::Error` reports
//!   `SdpInvalidSyntax(String)` / `SdpInvalidValue(String)` /
//!   `SyntaxError { s, p }` with the offending token or the field and a
//!   position within it, never a line number. A 400 has to say where the
//!   SDP is wrong.
//! * **It is not typed where a PBX needs types.** Connection addresses
//!   stay strings, ports are `isize` in a `RangedPort`, and `rtpmap`,
//!   `fmtp` and direction are generic key/value attributes. Every caller
//!   would re-parse and re-check them, with its own error paths.
//! * **WebRTC is what it is built for** (ICE, DTLS fingerprints,
//!   extmap). None of that applies to SIP phones speaking `RTP/AVP`.
//! * **More dependencies.** It pulls in `url`, `rand` and `substring`. It
//!   is also not yet in the workspace: the workspace has no `webrtc` crate.
//!   This crate has no dependencies at all.
//!
//! The strict parser and writer needed here are about 700 lines. Each
//! check is visible where it is made, and a test drives them with byte
//! flips, line shuffles and truncations. They never panic: nothing indexes
//! by position.
//!
//! # Example
//!
//! ```
//! use switchyard_sdp::{Codec, LocalSession, MediaEndpoint, Sdp, answer};
//!
//! let body = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\n\
//!             c=IN IP4 192.0.2.10\r\nt=0 0\r\n\
//!             m=audio 49170 RTP/AVP 8 0 101\r\n\
//!             a=rtpmap:101 telephone-event/8000\r\n";
//! let offer = Sdp::parse(body.as_bytes()).unwrap();
//! let us = MediaEndpoint::new("198.51.100.1".parse().unwrap(), 30000);
//! let supported = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];
//! let a = answer(&offer, &us, &supported).unwrap();
//! assert_eq!(a.negotiated.codec, Codec::Pcma);
//! assert_eq!(a.negotiated.telephone_event, Some(101));
//! assert_eq!(a.negotiated.remote_rtp, Some("192.0.2.10:49170".parse().unwrap()));
//!
//! let mut session = LocalSession::new(4711, 1);
//! let reply = a.to_sdp(&mut session).to_string();
//! assert!(reply.contains("m=audio 30000 RTP/AVP 8 101\r\n"));
//! ```

pub mod codec;
pub mod crypto;
pub mod model;
pub mod negotiate;
pub mod parse;
pub mod write;

pub use codec::Codec;
pub use crypto::{Crypto, CryptoSuite, SrtpKeys, SrtpPolicy};
pub use model::{
    AddressType, Attribute, Connection, Direction, Fmtp, MediaDescription, Origin, OtherLine,
    Proto, Rtcp, RtpMap, Sdp, SessionDescription,
};
pub use negotiate::{
    Answer, LocalSession, MediaEndpoint, Negotiated, Refusal, accept_answer, answer, answer_srtp,
    offer, offer_srtp, peer_holds,
};
pub use parse::ParseError;
