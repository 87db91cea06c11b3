//! RTP media for Switchyard, without I/O and without a clock inside.
//!
//! Everything here is told what arrived and what time it is (an `Instant`
//! or a sample count) and answers with what to send or play; the tokio media
//! tasks around it only move datagrams and tick every 20 ms. That keeps the
//! protocol logic testable with a fake clock and lets one media task serve
//! many legs cheaply.
//!
//! * [`packet`] — RTP header parse/build (RFC 3550), RTP/RTCP demultiplexing
//!   on one port (RFC 5761), minimal RTCP SR, RR and BYE.
//! * [`g711`] — µ-law and A-law, and PCMU↔PCMA transcoding in place.
//! * [`dtmf`] — RFC 4733 telephone-events: payloads, a receiver reporting
//!   each key press once, a sender regenerating one.
//! * [`tones`] — ringback, busy, congestion, beep and silence as 8 kHz PCM;
//!   a Goertzel detector.
//! * [`wav`] — prompt files in (8 kHz mono PCM, µ-law, A-law), recordings
//!   out (mono or stereo PCM).
//! * [`stream`] — per-leg send state (SSRC, sequence, timestamp, marker,
//!   digits) and receive state (symmetric-RTP latching, loss, jitter, RTP
//!   timeout).
//! * [`player`] — a queue of prompts and tones played as 20 ms frames,
//!   stoppable, looping for music on hold.

pub mod dtmf;
pub mod g711;
pub mod packet;
pub mod player;
pub mod stream;
pub mod tones;
pub mod wav;

#[cfg(test)]
mod testutil;

pub use g711::FRAME_SAMPLES;
pub use tones::SAMPLE_RATE;
