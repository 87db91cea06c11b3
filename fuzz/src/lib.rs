//! One fuzz target per parser that reads bytes from outside (issue 11):
//! SIP over the wire (the whole receive path of the endpoint, and the
//! message layer with its header grammars), digest credentials and
//! challenges, SDP, RTP/RTCP with RFC 4733 events, and WAV
//! uploads.
//!
//! Each target is a plain function of the input bytes that panics only on a
//! bug: the libFuzzer binaries (`fuzz/libfuzzer`, built with coverage flags
//! by `bench/fuzz`) and the corpus replay test (`tests/corpus.rs`, part of
//! `cargo test`) call the same code, so an input found once stays a test.
//!
//! Besides "no panic", a target asserts what must hold for any input that
//! is accepted — our own output reads back — because a parser that accepts
//! something its writer cannot reproduce is a bug a crash search misses.

pub mod digest;
pub mod media;
pub mod sip;

pub use digest::digest;
pub use media::{rtp, sdp, wav};
pub use sip::{sip_endpoint, sip_message};

/// A fuzz target: the input bytes, and a panic for a bug.
pub type Target = fn(&[u8]);

/// Every target by name; the name is its corpus folder and its libFuzzer
/// binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("sip_endpoint", sip_endpoint),
    ("sip_message", sip_message),
    ("digest", digest),
    ("sdp", sdp),
    ("rtp", rtp),
    ("wav", wav),
];
