//! SIP for Switchyard, without I/O and without a clock inside.
//!
//! Everything here is a state machine in the style of `quinn-proto`: it is
//! told what arrived and what time it is (`handle_*(now, …)`), and it says
//! what to send (`poll_output`) and when it next needs to be woken
//! (`poll_timeout` / `handle_timeout(now)`). The tokio drivers around it only
//! move bytes and sleep until `poll_timeout`; tests drive the same code with
//! a fake clock, so Timer B's 32 seconds pass in microseconds.
//!
//! * [`auth`] — digest challenges, stateless nonces, verification against
//!   stored HA1, the failed-authentication limiter.
//! * [`timers`] — T1, T2, T4 and the timer values derived from them.
//! * [`transaction`] — the four transaction state machines of RFC 3261 §17
//!   (with the RFC 6026 `Accepted` state for 2xx to INVITE), their keys, and
//!   the table that drives many of them.

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod timers;
pub mod transaction;
