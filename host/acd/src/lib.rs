//! The queue and agent engine (ACD) of one tenant, as a state machine
//! with no I/O and no clock inside.
//!
//! Everything the engine learns comes in through a method that takes
//! `now: Instant` (a caller joins, an agent logs in, a phone answered, the
//! strategy plugin answered, a timer fired); everything it wants done
//! comes out of [`Acd::poll_output`] as an [`Output`] (ask the strategy,
//! ring these agents, cancel those rings, announce, let the caller go,
//! log this), and [`Acd::poll_timeout`] says when [`Acd::handle_timeout`]
//! wants to run. Wall-clock stamps are `start_ms + (now - start)`, so a
//! test drives the whole engine on a fake clock and gets the same log
//! every time.
//!
//! Why a state machine: the peers' queue engines stall — agents stuck
//! "reserved", waiting callers nobody offers (see the design notes). Here
//! [`Acd::check_invariants`] states the promises (no agent reserved for two
//! calls, every reserved agent belongs to a live offer, no caller waits
//! while an eligible agent is free) and the tests check them after every
//! step.
//!
//! ```text
//!  Agent states
//!                 login                    ranked + rung
//!  LoggedOut ──────────────► Available ──────────────────► Reserved
//!      ▲    ◄── logout (any)   ▲  │  ▲                      │ │ │
//!      │                       │  │  │ other call ends      │ │ └ ring timeout ×N ─► Paused("no-answer")
//!      │                       │  │  └──── OnOtherCall ◄────┘ │   (fail/timeout <N, cancel ─► Available)
//!      │                       │  └─ other call (ring_in_use off)
//!      │      wrap-up ends     │                   answered   ▼
//!      │   WrapUp ◄────────────┼──────────────────────────── OnCall
//!      │    (call_ended)       │ unpause                      │ pause asked during the call
//!      │                     Paused ◄─────────────────────────┘ (starts at call end)
//!
//!  Call (queue entry) phases
//!              dispatch: an eligible agent is free
//!  join ─► Waiting ───────────────────────────────► Ranking ──(answer / fail / 2 s)──► Offering
//!            ▲   ▲                                                                     │  │
//!            │   └───────────── nobody left to ring (re-ranked) ◄──────────────────────┘  │ answered
//!            │                                                                            ▼
//!            │  request_callback: placeholder, same place               Connected ─call_ended─► gone
//!            └─► (placeholder) Ranking ─► Dialing ─Connected─► Connected
//!                                           └─NotAnswered─► Waiting after retry_interval
//!                                                            (max_attempts ─► Exit CallbackFailed)
//!  Any queued entry: hang-up ─► Exit Abandoned; max_wait ─► Timeout; leave key ─► Key;
//!  last member logs out with leave_when_empty ─► Empty.
//! ```
//!
//! Distribution order across the tenant is priority (high first), then
//! the time the caller joined — the time a callback placeholder keeps. A
//! ranking holds its candidates, so an entry further back gets an agent
//! only if no entry ahead of it could take that agent (skills).

mod agent;
mod callback;
mod config;
mod engine;
pub mod figures;
mod log;
mod queue;

#[cfg(test)]
mod tests;

pub use agent::{AgentState, AgentStatus};
pub use callback::{CallbackOutcome, Placeholder};
pub use config::{AgentConfig, JoinEmpty, Membership, QueueConfig, RingMode};
pub use engine::{
    Acd, CALLBACK_NUMBER_TAG, CALLBACK_REPORT_TIMEOUT, Candidate, LeaveReason, Output, QueueInfo,
    RANKING_TIMEOUT, Refusal, WaitingCall,
};
pub use log::{EventKind, ExitReason, QueueEvent};
pub use queue::QueueStatus;
