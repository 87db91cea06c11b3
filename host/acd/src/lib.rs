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
//!
//!              login                        ranked and rung
//!  LoggedOut ─────────► Available ─────────────────────────────► Reserved{call}
//!      ▲                 ▲ ▲ ▲ │                                   │   │   │
//!      │                 │ │ │ │ other call starts                 │   │   │ ring times out
//!      │                 │ │ │ ▼ (ring_in_use off)                 │   │   │ N times in a row
//!   logout               │ │ │ OnOtherCall                         │   │   ▼
//!   (from any            │ │ └─ other call ends                    │   │ Paused{"no-answer"}
//!    state)              │ │                                       │   │
//!                        │ └─ ring fails, times out (<N), cancelled┘   │ answered
//!                        │                                             ▼
//!                        └─ wrap-up elapsed ◄── WrapUp{until} ◄── OnCall{call}
//!                                                         call_ended
//!   pause (Available, Reserved, WrapUp, OnOtherCall) ─► Paused{reason} ─unpause─► Available
//!   pause asked during OnCall: Paused when the call ends, instead of WrapUp
//!
//!  Queue entries (a caller, or a callback placeholder)
//!
//!  join ─► Waiting ──an eligible agent is free──► Ranking ──answer / failure / 2 s──► Offering
//!            ▲                                                                   │        │
//!            └──────────── nobody left to ring: ranked again ◄──────────────────┘        │ answered
//!                                                                                         ▼
//!  request_callback: the same entry becomes a placeholder               Connected ─call_ended─► gone
//!    (same priority, same join time) ─► Ranking ─► Dialing ──Connected──► Connected
//!                                                    └──NotAnswered──► Waiting after retry_interval
//!                                                        (max_attempts reached ─► Exit CallbackFailed)
//!
//!  Any queued entry: hang-up ─► Exit Abandoned; max_wait ─► Timeout; leave key ─► Key;
//!  the last member logs out with leave_when_empty ─► Empty (callers only).
//! ```
//!
//! Distribution order across the tenant is priority (high first), then
//! the time the caller joined — the time a callback placeholder keeps. A
//! ranking holds its candidates, so an entry further back gets an agent
//! only if no entry ahead of it could take that agent (skills). Once an
//! entry is ringing, its remaining choices are not held: an agent who
//! frees up meanwhile goes to the next entry that wants one rather than
//! idling until the ring ends.

//! A caller, an agent, a strategy that answers at once:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use switchyard_acd::*;
//!
//! let t0 = Instant::now();
//! let mut acd = Acd::new(t0, 1_700_000_000_000);
//! acd.set_queue(QueueConfig::new("support"));
//! let member = Membership { queue: "support".into(), penalty: 0, skills: vec![], order: 0 };
//! acd.set_agent(AgentConfig::new("201", vec![member]), t0);
//! acd.login("201", t0);
//! acd.join("call-1", "support", 0, vec![], vec![], t0).unwrap();
//! let mut rung = None;
//! while let Some(out) = acd.poll_output() {
//!     match out {
//!         Output::Rank { call, candidates, .. } => {
//!             // The queue-strategy plugin would order these.
//!             let order = candidates.into_iter().map(|c| c.agent.to_string()).collect();
//!             acd.handle_ranking(&call, order, t0);
//!         }
//!         Output::Ring { call, agents } => rung = Some((call, agents)),
//!         _ => {}
//!     }
//! }
//! assert_eq!(rung, Some(("call-1".to_string(), vec!["201".to_string()])));
//! let answered = t0 + Duration::from_secs(4);
//! acd.offer_answered("call-1", "201", answered);
//! assert_eq!(acd.agent_state("201"), Some(&AgentState::OnCall { call: "call-1".into() }));
//! acd.check_invariants().unwrap();
//! ```

mod agent;
mod callback;
mod config;
mod engine;
pub mod figures;
mod log;
mod queue;

#[cfg(feature = "serde")]
mod millis;

#[cfg(test)]
mod tests;

pub use agent::{AgentState, AgentStatus};
pub use callback::{CallbackOutcome, Placeholder};
pub use config::{AgentConfig, JoinEmpty, Membership, QueueConfig, RingMode};
pub use engine::{
    Acd, AgentView, CALLBACK_NUMBER_TAG, CALLBACK_REPORT_TIMEOUT, Candidate, LeaveReason, Output,
    QueueInfo, RANKING_TIMEOUT, Refusal, WaitingCall,
};
pub use log::{EventKind, ExitReason, QueueEvent};
pub use queue::QueueStatus;
