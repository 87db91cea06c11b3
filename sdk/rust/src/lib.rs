//! # switchyard-sdk: write Switchyard plugins in Rust
//!
//! A Switchyard plugin is a WebAssembly component (target `wasm32-wasip2`)
//! that implements one world of the `switchyard:plugin` WIT package. This
//! SDK builds against `switchyard:plugin@0.2.2`; components built with the
//! SDK of 0.1.0 keep working unchanged on hosts that serve 0.2.0 (they are
//! given the events and queue data 0.1.0 knew: see the host's
//! `host/plugins/README.md`).
//!
//! New in 0.2.0: the flow event [`flow::Event::QueueFinished`] (why the
//! caller left a queue: [`flow::QueueExit`]; a flow must handle it where it
//! handled `queue-timeout`/`queue-overflow` before), and for strategies
//! the CRM `contact` and `callback` of [`queue::WaitingCall`], the
//! `skill-levels`, `penalty` and `idle-since` of [`queue::AgentCandidate`]
//! and the `agents-logged-in` of [`queue::QueueInfo`]; helpers
//! [`flow::queue_gave_up`], [`queue::skill_level`] and
//! [`queue::stick_to_callers_agent`]. New in 0.2.1: strategies are exported
//! as the `queue-ranker` world and may rank candidates as columns
//! ([`QueueStrategy::rank`], [`queue::Candidates`]). New in 0.2.2:
//! reporters may send e-mail through the operator's relay ([`mail::send`]),
//! and a reporter exported with [`export_billing_reporter!`] also hears of
//! the tenant's account, such as a prepaid balance running low
//! ([`BillingReporter`], [`account`]).
//! This crate gives you the host's types, helpers for its capabilities
//! (key-value, config, directory, contacts, HTTP, e-mail, logging),
//! builders for actions, typed state between events, and one export macro
//! per world:
//!
//! | world | implement | export with |
//! |---|---|---|
//! | `call-flow` | [`CallFlow`] | [`export_call_flow!`] |
//! | `queue-ranker` (the queue-strategy role) | [`QueueStrategy`] | [`export_queue_strategy!`] |
//! | `crm-connector` | [`CrmConnector`] | [`export_crm_connector!`] |
//! | `reporter` | [`Reporter`] | [`export_reporter!`] |
//! | `billing-reporter` (the reporter role, plus account notices) | [`Reporter`] and [`BillingReporter`] | [`export_billing_reporter!`] |
//!
//! ## A call flow in twenty lines
//!
//! ```no_run
//! use switchyard_sdk::flow::{self, Event};
//! use switchyard_sdk::{CallFlow, CallSnapshot, config};
//!
//! pub struct Hello;
//!
//! impl CallFlow for Hello {
//!     fn handle(call: CallSnapshot, event: Event, _state: Option<Vec<u8>>) -> flow::Result {
//!         match event {
//!             Event::CallStarted => {
//!                 let agent = config::get("agent").unwrap_or_else(|| "1001".into());
//!                 flow::decide([
//!                     flow::answer(),
//!                     flow::play([flow::say(format!("Hello {}", call.caller.number))]),
//!                     flow::dial([flow::ext(&agent)]).ring_timeout(20).into(),
//!                 ])
//!             }
//!             Event::DialFinished(_) => flow::decide([flow::voicemail(&call.callee.number)]),
//!             _ => flow::decide([]),
//!         }
//!     }
//! }
//!
//! switchyard_sdk::export_call_flow!(Hello);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (crate type
//! `cdylib`): the `.wasm` file is the component to upload. The export glue
//! is generated for `wasm32` only, so the same crate also builds natively,
//! where its logic can be unit-tested; make the plugin type `pub` so the
//! native build does not call it unused.
//!
//! Plugins run sandboxed with budgets on CPU, wall-clock time, memory, state
//! size and number of actions; a plugin that exceeds one is stopped and the
//! call falls back to the tenant's safe default. A fresh instance serves each
//! event: keep per-call data in the state blob ([`state`]) and longer-lived
//! data in [`kv`]. A queue strategy's instance may make several rankings in
//! a row (the host keeps it warm), so it may parse its settings once, but
//! counters and rotations belong in [`kv`].

pub mod account;
pub mod config;
pub mod contacts;
pub mod destination;
pub mod directory;
pub mod flow;
pub mod http;
pub mod kv;
pub mod log;
pub mod mail;
pub mod queue;
pub mod state;

#[doc(hidden)]
pub use wit_bindgen;

/// Export macros, one per world; see the crate docs.
pub use switchyard_sdk_macros::{
    export_billing_reporter, export_call_flow, export_crm_connector, export_queue_strategy,
    export_reporter,
};

pub use bindings::switchyard::plugin::types::{
    CallRecord, CallSnapshot, Contact, Direction, Disposition, HangupSide, LegRecord, Notice,
    NoticeKind, Party, Timestamp,
};

/// The generated bindings of every interface a plugin may import (world
/// `guest-imports`). A component imports only what its code calls; the host
/// refuses imports its world does not allow (HTTP in a call flow, say).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "switchyard:plugin/guest-imports",
        generate_all,
        // Plugins compare events and actions in their logic and tests.
        additional_derives: [PartialEq],
        additional_derives_ignore: ["stream-error"],
    });
}

/// A `call-flow` plugin: decides what happens next on a call.
pub trait CallFlow {
    /// Called once per event of a call with the state this plugin returned
    /// last time (none on `call-started`). Return the actions to run next;
    /// an `Err` is logged and the call gets the tenant's fallback.
    fn handle(call: CallSnapshot, event: flow::Event, state: Option<Vec<u8>>) -> flow::Result;
}

/// A queue strategy: orders the agents who could take a call.
///
/// [`export_queue_strategy!`] exports it as the `queue-ranker` world
/// (0.2.1), so the host calls [`QueueStrategy::rank`] with the candidates
/// as columns. Implement `select` (records, the simple shape); also
/// implement `rank` when queues are large — the default turns the columns
/// into records and calls `select`, which costs about what the host saves.
pub trait QueueStrategy {
    /// Return agent ids, best first. Ids that are not candidates are
    /// ignored; candidates left out are not offered this call.
    fn select(
        queue: queue::QueueInfo,
        call: queue::WaitingCall,
        candidates: Vec<queue::AgentCandidate>,
    ) -> Vec<String>;

    /// Return positions in `candidates`, best first. Positions out of
    /// range and repeats are ignored; candidates left out are not offered
    /// this call. By default: [`QueueStrategy::select`] over the
    /// candidates as records.
    fn rank(
        queue: queue::QueueInfo,
        call: queue::WaitingCall,
        candidates: queue::Candidates,
    ) -> Vec<u32> {
        let ids = Self::select(queue, call, candidates.records());
        ids.iter()
            .filter_map(|id| candidates.position(id).map(|p| p as u32))
            .collect()
    }
}

/// A `crm-connector` plugin: contact look-ups and call logging.
pub trait CrmConnector {
    /// The contact for a phone number, if the CRM knows one.
    fn lookup(number: String) -> Result<Option<Contact>, String>;
    /// Record a finished call in the CRM.
    fn log_call(call: CallRecord) -> Result<(), String>;
}

/// A `reporter` plugin: told about every finished call and live events.
pub trait Reporter {
    /// A call finished; its record is stored.
    fn on_call_record(call: CallRecord) -> Result<(), String>;
    /// A live event happened on a call.
    fn on_notice(notice: Notice) -> Result<(), String>;
}

/// A reporter that also hears of the tenant's account (world
/// `billing-reporter`, 0.2.2): export it with [`export_billing_reporter!`].
/// The host gives it the reporter role as any [`Reporter`]; hosts before
/// 0.2.2 do not know the world and refuse the component.
pub trait BillingReporter: Reporter {
    /// Something happened to the tenant's account (for now: the prepaid
    /// balance fell below its threshold; see [`account::AccountNoticeKind`]).
    fn on_account_notice(notice: account::AccountNotice) -> Result<(), String>;
}

/// Current time in milliseconds since the Unix epoch (the same clock as
/// [`Timestamp`]).
pub fn now_ms() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Timestamp)
        .unwrap_or(0)
}
