//! The engine: inputs, distribution, timers, outputs.
//!
//! The owner's loop: feed every input with `now`, then drain
//! [`Acd::poll_output`] until empty, then sleep until [`Acd::poll_timeout`]
//! (or the next input) and call [`Acd::handle_timeout`]. The engine never
//! waits for anything but the owner's reports, and every wait on the
//! owner has a deadline (ranking, ring, callback report), so a lost
//! report cannot leave an agent reserved or a caller unoffered.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::agent::{Agent, AgentState};
use crate::callback::{CallbackOutcome, CallbackState, Placeholder};
use crate::config::{AgentConfig, JoinEmpty, QueueConfig, RingMode};
use crate::log::{EventKind, ExitReason, QueueEvent};
use crate::queue::{Call, Phase, Queue, QueueStatus};

/// How long the engine waits for the strategy's answer before it ranks
/// the candidates itself (counted as a fallback): a plugin that never
/// answers must not stall the queue.
pub const RANKING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the owner has to report a callback attempt
/// ([`Acd::callback_result`]) before the engine counts it as not answered
/// and frees the agent: an owner that loses the report must not leave the
/// agent reserved for ever.
pub const CALLBACK_REPORT_TIMEOUT: Duration = Duration::from_secs(180);

/// The tag of [`Acd::join`] that holds the number to call back when the
/// caller presses the callback key.
pub const CALLBACK_NUMBER_TAG: &str = "callback-number";

/// Why a caller could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoSuchQueue,
    /// The queue holds `max_len` entries already.
    Full,
    /// No member is logged in and unpaused and the queue says
    /// [`JoinEmpty::Never`].
    NoAgents,
    /// A call with this id is already known.
    Duplicate,
}

/// Why a caller left on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The caller hung up.
    Abandoned,
    /// The caller pressed the leave key (or the flow took the call back).
    Key,
}

/// The queue as the strategy sees it (WIT `queue-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub name: String,
    /// Entries waiting right now, including this one.
    pub waiting: u32,
}

/// The caller as the strategy sees it (WIT `waiting-call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCall {
    pub call: String,
    pub skills: Vec<String>,
    pub priority: u8,
    pub waited_secs: u32,
    /// The agent this caller last spoke to (the `last-agent` tag of the
    /// join), if known.
    pub last_agent: Option<String>,
    pub tags: Vec<(String, String)>,
    /// A callback placeholder (the customer is not on the line).
    pub callback: bool,
}

/// An agent who could take the call now (WIT `agent-candidate`, plus the
/// penalty and idle time the fallback uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent's id, shared with the engine (no copy per decision).
    pub agent: Arc<str>,
    /// The agent's skills and levels in this queue, shared likewise.
    pub skills: Arc<[(String, u8)]>,
    pub calls_today: u32,
    pub talk_secs_today: u32,
    pub last_call_end_ms: Option<u64>,
    /// Idle since (ms since the Unix epoch).
    pub idle_since_ms: u64,
    pub order: u32,
    pub penalty: u32,
}

/// An agent as the owner shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    pub state: AgentState,
    /// When the agent entered this state, ms since the Unix epoch.
    pub since_ms: u64,
    /// In wrap-up: when it ends, ms since the Unix epoch.
    pub wrap_up_ends_ms: Option<u64>,
    /// The queues the agent is a member of.
    pub queues: Vec<String>,
    pub calls_today: u32,
    pub talk_today: Duration,
}

/// What the owner must do or may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Ask the queue's strategy to order `candidates`; answer with
    /// [`Acd::handle_ranking`] or [`Acd::handle_ranking_failed`].
    Rank {
        call: String,
        queue: QueueInfo,
        waiting: WaitingCall,
        candidates: Vec<Candidate>,
    },
    /// Ring these agents for `call` (they are reserved); report with
    /// [`Acd::offer_answered`] / [`Acd::offer_failed`].
    Ring { call: String, agents: Vec<String> },
    /// Stop ringing these agents for `call`.
    CancelRing { call: String, agents: Vec<String> },
    /// Dial `agent` and `number` for the placeholder; report with
    /// [`Acd::callback_result`]. The agent is reserved.
    Callback {
        placeholder: String,
        agent: String,
        number: String,
    },
    /// The caller pressed the callback key but the join carried no
    /// [`CALLBACK_NUMBER_TAG`]: ask them for one, then
    /// [`Acd::request_callback`]. The call keeps waiting meanwhile.
    CallbackNumberWanted { call: String },
    /// Tell the caller their position (1 = next) and estimated wait.
    Announce {
        call: String,
        position: u32,
        estimated_wait: Duration,
    },
    /// Play the comfort message.
    Comfort { call: String },
    /// The call left the queue; the flow hears `reason` (`queue-finished`).
    Exit { call: String, reason: ExitReason },
    /// An agent changed state.
    AgentState {
        agent: String,
        state: AgentState,
        reason: String,
    },
    /// A queue log line.
    Log(QueueEvent),
}

/// The queue engine of one tenant.
#[derive(Debug)]
pub struct Acd {
    start: Instant,
    start_ms: u64,
    queues: BTreeMap<String, Queue>,
    agents: BTreeMap<String, Agent>,
    calls: BTreeMap<String, Call>,
    out: VecDeque<Output>,
    seq: u64,
    fallbacks: u64,
}

/// The first period boundary after `now`: a late `handle_timeout` gives
/// one message, not a burst of the missed ones.
fn next_period(due: Instant, every: Duration, now: Instant) -> Instant {
    let mut t = due + every.max(Duration::from_millis(1));
    while t <= now {
        t += every.max(Duration::from_millis(1));
    }
    t
}

fn wait_between(from_ms: u64, to_ms: u64) -> Duration {
    Duration::from_millis(to_ms.saturating_sub(from_ms))
}

impl Acd {
    /// An engine with no queue and no agent; `start_ms` is the wall-clock
    /// time (ms since the Unix epoch) at `start`, from which every stamp
    /// is derived.
    pub fn new(start: Instant, start_ms: u64) -> Self {
        Acd {
            start,
            start_ms,
            queues: BTreeMap::new(),
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            out: VecDeque::new(),
            seq: 0,
            fallbacks: 0,
        }
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        self.start_ms + now.saturating_duration_since(self.start).as_millis() as u64
    }

    fn instant_of(&self, ms: u64, now: Instant) -> Instant {
        let now_ms = self.wall_ms(now);
        now + Duration::from_millis(ms.saturating_sub(now_ms))
    }

    // ---- configuration -----------------------------------------------------

    /// Add a queue or replace its configuration (callers stay).
    pub fn set_queue(&mut self, cfg: QueueConfig) {
        match self.queues.get_mut(&cfg.name) {
            Some(q) => q.cfg = cfg,
            None => {
                self.queues.insert(cfg.name.clone(), Queue::new(cfg));
            }
        }
    }

    /// Add an agent (logged out) or replace their memberships.
    pub fn set_agent(&mut self, cfg: AgentConfig, now: Instant) {
        match self.agents.get_mut(&cfg.id) {
            Some(a) => a.set_cfg(cfg),
            None => {
                self.agents.insert(cfg.id.clone(), Agent::new(cfg, now));
            }
        }
        self.dispatch(now);
    }

    /// Zero the "today" counters of agents and queues (call at midnight).
    pub fn reset_day(&mut self) {
        for a in self.agents.values_mut() {
            a.calls_today = 0;
            a.talk_today = Duration::ZERO;
            a.last_call_end_ms = None;
        }
        for q in self.queues.values_mut() {
            q.answered_today = 0;
            q.within_today = 0;
            q.wait_today = Duration::ZERO;
        }
    }

    // ---- outputs and timers ------------------------------------------------

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Acd::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let agents = self.agents.values().filter_map(|a| match a.state {
            AgentState::WrapUp { until } => Some(until),
            _ => None,
        });
        let calls = self.calls.values().flat_map(|c| {
            let phase = match &c.phase {
                Phase::Ranking { until, .. } | Phase::Dialing { until, .. } => Some(*until),
                Phase::Offering { ringing, .. } => ringing.values().min().copied(),
                _ => None,
            };
            let retry = c.callback.as_ref().and_then(|cb| cb.retry_at);
            [phase, retry, c.next_announce, c.next_comfort, c.deadline]
        });
        agents.chain(calls.flatten()).min()
    }

    /// Strategy answers that fell back to longest-idle (failed, garbage or
    /// late).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// The agent's state, if the agent is known.
    pub fn agent_state(&self, agent: &str) -> Option<&AgentState> {
        self.agents.get(agent).map(|a| &a.state)
    }

    fn log(
        &mut self,
        now: Instant,
        queue: Option<&str>,
        call: Option<&str>,
        agent: Option<&str>,
        kind: EventKind,
    ) {
        let at_ms = self.wall_ms(now);
        self.out.push_back(Output::Log(QueueEvent {
            at_ms,
            queue: queue.map(str::to_owned),
            call: call.map(str::to_owned),
            agent: agent.map(str::to_owned),
            kind,
        }));
    }

    fn set_agent_state(&mut self, agent: &str, state: AgentState, reason: &str, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        // A new state, or a new pause reason, starts the time in state;
        // an Available agent whose idle stretch is only re-stamped keeps
        // its time.
        let still_available = matches!(
            (&a.state, &state),
            (AgentState::Available { .. }, AgentState::Available { .. })
        );
        if a.state != state && !still_available {
            a.state_since = now;
        }
        a.state = state.clone();
        let status = state.status();
        self.out.push_back(Output::AgentState {
            agent: agent.to_owned(),
            state,
            reason: reason.to_owned(),
        });
        self.log(
            now,
            None,
            None,
            Some(agent),
            EventKind::AgentState {
                state: status,
                reason: reason.to_owned(),
            },
        );
    }

    /// The agent is free again: Available with their idle time kept, or
    /// on their other call if they have one and do not take calls in use.
    fn make_available(&mut self, agent: &str, reason: &str, now: Instant) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        let state = if a.busy && !a.cfg().ring_in_use {
            AgentState::OnOtherCall
        } else {
            AgentState::Available {
                since: a.idle_since,
            }
        };
        self.set_agent_state(agent, state, reason, now);
    }

    // ---- agents ------------------------------------------------------------

    /// The agent logs in (unknown agents are ignored).
    pub fn login(&mut self, agent: &str, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.logged_in() {
            return;
        }
        a.idle_since = now;
        a.unanswered = 0;
        // Logged out during a queue call that is still going on: back on it.
        let on_call = self.calls.values().find_map(|c| match &c.phase {
            Phase::Connected { agent: who, .. } if who == agent => Some(c.id.clone()),
            _ => None,
        });
        match on_call {
            Some(call) => self.set_agent_state(agent, AgentState::OnCall { call }, "login", now),
            None => self.make_available(agent, "login", now),
        }
        self.dispatch(now);
    }

    /// The agent logs out. A ring for them is cancelled; a call they are on
    /// goes on (ending without wrap-up, unless they log in again first:
    /// then they are back on it).
    pub fn logout(&mut self, agent: &str, now: Instant) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        if !a.logged_in() {
            return;
        }
        self.withdraw(agent, now);
        self.end_wrap_up(agent, now);
        if let Some(a) = self.agents.get_mut(agent) {
            a.pending_pause = None;
        }
        self.set_agent_state(agent, AgentState::LoggedOut, "logout", now);
        self.leave_if_empty(agent, now);
        self.dispatch(now);
    }

    /// Forget the agent (logged out first). A call they are on goes on;
    /// its end is still logged.
    pub fn remove_agent(&mut self, agent: &str, now: Instant) {
        self.logout(agent, now);
        self.agents.remove(agent);
    }

    /// The agent pauses. During a call the pause starts when the call ends
    /// (instead of wrap-up); a ring for them is cancelled.
    pub fn pause(&mut self, agent: &str, reason: &str, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        match &a.state {
            AgentState::LoggedOut | AgentState::Paused { .. } => return,
            AgentState::OnCall { .. } => {
                a.pending_pause = Some(reason.to_owned());
                return;
            }
            _ => {}
        }
        self.end_wrap_up(agent, now);
        self.withdraw(agent, now);
        self.set_agent_state(
            agent,
            AgentState::Paused {
                reason: reason.to_owned(),
            },
            reason,
            now,
        );
        self.dispatch(now);
    }

    /// The agent ends a pause (and any pause pending for the end of a call).
    pub fn unpause(&mut self, agent: &str, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        a.pending_pause = None;
        if !matches!(a.state, AgentState::Paused { .. }) {
            return;
        }
        a.idle_since = now;
        a.unanswered = 0;
        self.make_available(agent, "unpause", now);
        self.dispatch(now);
    }

    /// Another (non-queue) call of the agent started (`true`) or ended.
    pub fn agent_busy(&mut self, agent: &str, busy: bool, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.busy == busy {
            return;
        }
        a.busy = busy;
        let ring_in_use = a.cfg().ring_in_use;
        match (&a.state, busy) {
            (AgentState::Available { .. }, true) if !ring_in_use => {
                self.set_agent_state(agent, AgentState::OnOtherCall, "other-call", now);
            }
            (AgentState::OnOtherCall, false) => {
                a.idle_since = now;
                self.make_available(agent, "other-call-ended", now);
            }
            _ => {}
        }
        self.dispatch(now);
    }

    /// Take the agent out of any offer they are reserved for (before a
    /// logout or pause): the call moves on to its next choice.
    fn withdraw(&mut self, agent: &str, now: Instant) {
        let Some(AgentState::Reserved { call }) = self.agents.get(agent).map(|a| a.state.clone())
        else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match &mut c.phase {
            Phase::Offering { ringing, .. } => {
                ringing.remove(agent);
                self.out.push_back(Output::CancelRing {
                    call: call.clone(),
                    agents: vec![agent.to_owned()],
                });
                // The call rings its next choice; the agent stays Reserved
                // (so is not picked again) until the caller of withdraw sets
                // their new state.
                self.top_up(&call, now);
            }
            Phase::Dialing { .. } => {
                c.phase = Phase::Waiting;
                self.out.push_back(Output::CancelRing {
                    call: call.clone(),
                    agents: vec![agent.to_owned()],
                });
            }
            _ => {}
        }
    }

    fn end_wrap_up(&mut self, agent: &str, now: Instant) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if let Some((call, queue, began)) = a.wrap.take() {
            let wrap = now.saturating_duration_since(began);
            self.log(
                now,
                Some(&queue),
                Some(&call),
                Some(agent),
                EventKind::WrapUpEnded { wrap },
            );
        }
    }

    /// After a logout: callers of the agent's `leave_when_empty` queues
    /// with no member logged in any more leave with `Empty`.
    fn leave_if_empty(&mut self, agent: &str, now: Instant) {
        let queues: Vec<String> = self
            .agents
            .get(agent)
            .map(|a| {
                a.cfg()
                    .memberships
                    .iter()
                    .map(|m| m.queue.clone())
                    .collect()
            })
            .unwrap_or_default();
        for q in queues {
            let Some(queue) = self.queues.get(&q) else {
                continue;
            };
            if !queue.cfg.leave_when_empty {
                continue;
            }
            let staffed = self
                .agents
                .values()
                .any(|a| a.logged_in() && a.cfg().membership(&q).is_some());
            if staffed {
                continue;
            }
            let leaving: Vec<String> = self
                .calls
                .values()
                .filter(|c| c.queue == q && c.queued() && c.callback.is_none())
                .map(|c| c.id.clone())
                .collect();
            for call in leaving {
                self.remove_waiting(&call, ExitReason::Empty, now);
            }
        }
    }

    // ---- callers -----------------------------------------------------------

    /// A caller joins `queue`. Order: `priority` high first, then join time.
    /// `tags` go to the strategy as they are; the engine itself reads two:
    /// [`CALLBACK_NUMBER_TAG`] (the number for the callback key) and
    /// `last-agent` (passed as [`WaitingCall::last_agent`]).
    pub fn join(
        &mut self,
        call: &str,
        queue: &str,
        priority: u8,
        skills: Vec<String>,
        tags: Vec<(String, String)>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let Some(q) = self.queues.get(queue) else {
            return Err(Refusal::NoSuchQueue);
        };
        if self.calls.contains_key(call) {
            return Err(Refusal::Duplicate);
        }
        let len = self
            .calls
            .values()
            .filter(|c| c.queue == queue && c.queued())
            .count() as u32;
        if q.cfg.max_len.is_some_and(|max| len >= max) {
            return Err(Refusal::Full);
        }
        if q.cfg.join_empty == JoinEmpty::Never && self.staffed(queue) == 0 {
            return Err(Refusal::NoAgents);
        }
        let cfg = &q.cfg;
        self.seq += 1;
        let last_agent = tags
            .iter()
            .find(|(k, _)| k == "last-agent")
            .map(|(_, v)| v.clone());
        let entry = Call {
            id: call.to_owned(),
            queue: queue.to_owned(),
            priority,
            skills,
            tags,
            joined_ms: self.wall_ms(now),
            seq: self.seq,
            phase: Phase::Waiting,
            next_announce: cfg.announce_every.map(|d| now + d),
            next_comfort: cfg.comfort_every.map(|d| now + d),
            deadline: cfg.max_wait.map(|d| now + d),
            callback: None,
            last_agent,
        };
        self.calls.insert(call.to_owned(), entry);
        self.log(
            now,
            Some(queue),
            Some(call),
            None,
            EventKind::Join { priority },
        );
        self.dispatch(now);
        Ok(())
    }

    /// The caller's own longest wait (the flow's `enqueue` timeout): it
    /// leaves with [`ExitReason::Timeout`] at `now + max_wait` if the
    /// queue's own limit does not come first.
    pub fn limit_wait(&mut self, call: &str, max_wait: Duration, now: Instant) {
        if let Some(c) = self.calls.get_mut(call)
            && c.queued()
            && c.callback.is_none()
        {
            let limit = now + max_wait;
            c.deadline = Some(c.deadline.map_or(limit, |d| d.min(limit)));
        }
    }

    /// Agents the engine knows, by id.
    pub fn agent_ids(&self) -> impl Iterator<Item = &str> {
        self.agents.keys().map(String::as_str)
    }

    /// What the engine knows of `agent` now.
    pub fn agent_view(&self, agent: &str) -> Option<AgentView> {
        let a = self.agents.get(agent)?;
        let wall =
            |i: Instant| self.start_ms + i.saturating_duration_since(self.start).as_millis() as u64;
        Some(AgentView {
            since_ms: wall(a.state_since),
            wrap_up_ends_ms: match &a.state {
                AgentState::WrapUp { until } => Some(wall(*until)),
                _ => None,
            },
            state: a.state.clone(),
            queues: a
                .cfg()
                .memberships
                .iter()
                .map(|m| m.queue.clone())
                .collect(),
            calls_today: a.calls_today,
            talk_today: a.talk_today,
        })
    }

    /// Members of `queue` logged in and not paused.
    fn staffed(&self, queue: &str) -> u32 {
        self.agents
            .values()
            .filter(|a| {
                a.logged_in()
                    && !matches!(a.state, AgentState::Paused { .. })
                    && a.cfg().membership(queue).is_some()
            })
            .count() as u32
    }

    /// The caller leaves on their own (hang-up or leave key). For a
    /// placeholder this cancels the callback.
    pub fn leave(&mut self, call: &str, reason: LeaveReason, now: Instant) {
        if self.calls.get(call).is_none_or(|c| !c.queued()) {
            return;
        }
        let reason = match reason {
            LeaveReason::Abandoned => {
                if let Some(number) = self.callback_on_abandon(call, now) {
                    self.callback_requested(call, &number, true, now);
                    return;
                }
                ExitReason::Abandoned
            }
            LeaveReason::Key => ExitReason::Key,
        };
        self.remove_waiting(call, reason, now);
        self.dispatch(now);
    }

    /// The number to call back a caller who hangs up now, when their queue
    /// turns abandonment into a callback and they waited long enough.
    fn callback_on_abandon(&self, call: &str, now: Instant) -> Option<String> {
        let c = self.calls.get(call)?;
        let after = self.queues.get(&c.queue)?.cfg.callback_on_abandon_after?;
        if c.callback.is_some() || wait_between(c.joined_ms, self.wall_ms(now)) < after {
            return None;
        }
        c.tags
            .iter()
            .find(|(k, _)| k == CALLBACK_NUMBER_TAG)
            .map(|(_, n)| n.clone())
    }

    /// The caller pressed `digit`: the leave key leaves, the callback key
    /// asks for a callback to the join's [`CALLBACK_NUMBER_TAG`] (or asks
    /// the owner for a number); other digits are ignored.
    pub fn key(&mut self, call: &str, digit: char, now: Instant) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        if !c.queued() || c.callback.is_some() {
            return;
        }
        let Some(q) = self.queues.get(&c.queue) else {
            return;
        };
        if q.cfg.leave_key == Some(digit) {
            self.leave(call, LeaveReason::Key, now);
        } else if q.cfg.callback_key == Some(digit) {
            match c.tags.iter().find(|(k, _)| k == CALLBACK_NUMBER_TAG) {
                Some((_, number)) => {
                    let number = number.clone();
                    self.request_callback(call, &number, now);
                }
                None => self.out.push_back(Output::CallbackNumberWanted {
                    call: call.to_owned(),
                }),
            }
        }
    }

    /// Take the entry out of the queue for good: cancel its rings, free
    /// its agents, log and announce the exit.
    fn remove_waiting(&mut self, call: &str, reason: ExitReason, now: Instant) {
        let Some(c) = self.calls.remove(call) else {
            return;
        };
        match c.phase {
            Phase::Offering { ringing, .. } if !ringing.is_empty() => {
                let agents: Vec<String> = ringing.into_keys().collect();
                self.out.push_back(Output::CancelRing {
                    call: call.to_owned(),
                    agents: agents.clone(),
                });
                for a in agents {
                    self.make_available(&a, "cancelled", now);
                }
            }
            Phase::Dialing { agent, .. } => {
                self.out.push_back(Output::CancelRing {
                    call: call.to_owned(),
                    agents: vec![agent.clone()],
                });
                self.make_available(&agent, "cancelled", now);
            }
            _ => {}
        }
        let wait = wait_between(c.joined_ms, self.wall_ms(now));
        let kind = match reason {
            ExitReason::Abandoned => EventKind::Abandon { wait },
            _ => EventKind::Exit { reason, wait },
        };
        self.log(now, Some(&c.queue), Some(call), None, kind);
        self.out.push_back(Output::Exit {
            call: call.to_owned(),
            reason,
        });
    }

    // ---- distribution ------------------------------------------------------

    /// Entries of every queue in service order.
    fn ordered(&self) -> Vec<String> {
        let mut v: Vec<&Call> = self.calls.values().filter(|c| c.queued()).collect();
        v.sort_by_key(|c| c.key());
        v.into_iter().map(|c| c.id.clone()).collect()
    }

    /// Agents held by pending rankings.
    fn claimed(&self) -> BTreeSet<String> {
        self.calls
            .values()
            .filter_map(|c| match &c.phase {
                Phase::Ranking { candidates, .. } => Some(candidates.iter().map(|a| a.to_string())),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Eligible agents for `c` not held by another ranking.
    fn free_eligible(&self, c: &Call, claimed: &BTreeSet<String>) -> Vec<String> {
        self.agents
            .values()
            .filter(|a| a.eligible(&c.queue, &c.skills) && !claimed.contains(&a.cfg().id))
            .map(|a| a.cfg().id.clone())
            .collect()
    }

    /// Entries that want an agent now, in service order (priority, then
    /// time of joining, across the tenant's queues).
    fn wanting_agents(&self) -> Vec<&Call> {
        let mut v: Vec<&Call> = self.calls.values().filter(|c| c.wants_agent()).collect();
        v.sort_by_key(|c| c.key());
        v
    }

    /// Offer whatever can be offered: walk every entry in service order
    /// and ask for a ranking for each one that wants an agent and has an
    /// eligible one. The agents of a ranking are held for it, so an entry
    /// further back can only get agents no entry ahead of it could take
    /// (skills): priority and join order are kept across the whole tenant.
    ///
    /// This runs on every event, so it borrows: ids are copied only into
    /// what leaves the engine (the ranking request and the held list).
    fn dispatch(&mut self, now: Instant) {
        // Available agents first: with every agent busy (the usual state of
        // a queue with callers waiting) there is nothing to offer, and the
        // pass must not cost waiting callers × agents eligibility checks.
        let available: Vec<&Agent> = self
            .agents
            .values()
            .filter(|a| matches!(a.state, AgentState::Available { .. }))
            .collect();
        if available.is_empty() {
            return;
        }
        let wanting = self.wanting_agents();
        if wanting.is_empty() {
            return;
        }
        // Agents held by pending rankings, and by those made in this pass.
        let mut claimed: FxHashSet<&str> = self
            .calls
            .values()
            .filter_map(|c| match &c.phase {
                Phase::Ranking { candidates, .. } => Some(candidates.iter().map(|a| &**a)),
                _ => None,
            })
            .flatten()
            .collect();
        let now_ms = self.wall_ms(now);
        let mut rankings: Vec<(String, Vec<Arc<str>>, Output)> = Vec::new();
        // Available agents no ranking holds yet.
        let mut unheld = available
            .iter()
            .filter(|a| !claimed.contains(a.cfg().id.as_str()))
            .count();
        for (i, c) in wanting.iter().enumerate() {
            if unheld == 0 {
                // Every free agent is held: nobody further back can get one.
                break;
            }
            let eligible: Vec<&Agent> = available
                .iter()
                .copied()
                .filter(|a| {
                    a.eligible(&c.queue, &c.skills) && !claimed.contains(a.cfg().id.as_str())
                })
                .collect();
            if eligible.is_empty() {
                continue;
            }
            unheld -= eligible.len();
            if i + 1 < wanting.len() {
                claimed.extend(eligible.iter().map(|a| a.cfg().id.as_str()));
            }
            let candidates: Vec<Candidate> = eligible
                .iter()
                .map(|a| self.candidate_of(a, &c.queue))
                .collect();
            let held: Vec<Arc<str>> = candidates.iter().map(|c| c.agent.clone()).collect();
            let waiting = self
                .calls
                .values()
                .filter(|x| x.queue == c.queue && x.queued())
                .count() as u32;
            let out = Output::Rank {
                call: c.id.clone(),
                queue: QueueInfo {
                    name: c.queue.clone(),
                    waiting,
                },
                waiting: WaitingCall {
                    call: c.id.clone(),
                    skills: c.skills.clone(),
                    priority: c.priority,
                    waited_secs: wait_between(c.joined_ms, now_ms).as_secs() as u32,
                    last_agent: c.last_agent.clone(),
                    tags: c.tags.clone(),
                    callback: c.callback.is_some(),
                },
                candidates,
            };
            rankings.push((c.id.clone(), held, out));
        }
        for (id, held, out) in rankings {
            self.out.push_back(out);
            if let Some(c) = self.calls.get_mut(&id) {
                c.phase = Phase::Ranking {
                    candidates: held,
                    until: now + RANKING_TIMEOUT,
                };
            }
        }
    }

    fn candidate_of(&self, a: &Agent, queue: &str) -> Candidate {
        let m = a.cfg().membership(queue);
        Candidate {
            agent: a.shared_id().clone(),
            skills: a
                .shared_skills(queue)
                .cloned()
                .unwrap_or_else(|| Arc::from([])),
            calls_today: a.calls_today,
            talk_secs_today: a.talk_today.as_secs() as u32,
            last_call_end_ms: a.last_call_end_ms,
            idle_since_ms: self.wall_ms(a.idle_since),
            order: m.map_or(0, |m| m.order),
            penalty: m.map_or(0, |m| m.penalty),
        }
    }

    /// The strategy's order for `call`, as agent ids. Ids that were not
    /// candidates (or are no longer free) are dropped; nothing usable falls
    /// back to longest-idle. See [`Acd::handle_ranked`] for the ranking as
    /// positions, which is what a plugin answers.
    pub fn handle_ranking(&mut self, call: &str, order: Vec<String>, now: Instant) {
        let Some(Phase::Ranking { candidates, .. }) = self.calls.get(call).map(|c| &c.phase) else {
            return;
        };
        // A map, not list scans: a ranking of 200 agents would otherwise
        // compare 80,000 ids.
        let at: FxHashMap<&str, u32> = candidates
            .iter()
            .enumerate()
            .map(|(i, a)| (&**a, i as u32))
            .collect();
        let positions = order
            .iter()
            .filter_map(|id| at.get(id.as_str()).copied())
            .collect();
        self.handle_ranked(call, positions, now);
    }

    /// The strategy's order for `call` as positions in the candidates of
    /// its [`Output::Rank`], best first. Positions out of range and repeats
    /// are dropped; nothing usable falls back to longest-idle. Whether each
    /// chosen agent is still free is checked when their turn to ring comes
    /// (`top_up`), not here for all of them.
    pub fn handle_ranked(&mut self, call: &str, positions: Vec<u32>, now: Instant) {
        let Some(Phase::Ranking { candidates, .. }) = self.calls.get(call).map(|c| &c.phase) else {
            return;
        };
        let mut taken = vec![false; candidates.len()];
        let chosen: Vec<Arc<str>> = positions
            .into_iter()
            .filter_map(|p| {
                let slot = taken.get_mut(p as usize)?;
                (!std::mem::replace(slot, true)).then(|| candidates[p as usize].clone())
            })
            .collect();
        if chosen.is_empty() {
            let still_free = self.longest_idle(call, candidates);
            if still_free.is_empty() {
                // Every candidate went away meanwhile: not the strategy's
                // fault, the call just waits again.
                self.start_offer(call, still_free, now);
                self.dispatch(now);
            } else {
                self.handle_ranking_failed(call, now);
            }
            return;
        }
        self.start_offer(call, chosen, now);
        self.dispatch(now);
    }

    /// The strategy failed: rank the candidates longest-idle first.
    pub fn handle_ranking_failed(&mut self, call: &str, now: Instant) {
        let Some(Phase::Ranking { candidates, .. }) = self.calls.get(call).map(|c| &c.phase) else {
            return;
        };
        self.fallbacks += 1;
        let chosen = self.longest_idle(call, candidates);
        self.start_offer(call, chosen, now);
        self.dispatch(now);
    }

    /// The fallback order: lowest penalty, then idle longest, then member
    /// order, then id — only agents still eligible.
    fn longest_idle(&self, call: &str, candidates: &[Arc<str>]) -> Vec<Arc<str>> {
        let c = &self.calls[call];
        let mut v: Vec<(u32, Instant, u32, &Arc<str>)> = candidates
            .iter()
            .filter_map(|id| {
                let a = self.agents.get(&**id)?;
                if !a.eligible(&c.queue, &c.skills) {
                    return None;
                }
                let m = a.cfg().membership(&c.queue)?;
                Some((m.penalty, a.idle_since, m.order, id))
            })
            .collect();
        v.sort();
        v.into_iter().map(|t| t.3.clone()).collect()
    }

    /// Start ringing (or dialling a callback with) the chosen agents.
    fn start_offer(&mut self, call: &str, chosen: Vec<Arc<str>>, now: Instant) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        // A callback dials one agent: the first of the choice still free.
        let first_free = c.callback.is_some().then(|| {
            chosen.iter().find(|a| {
                self.agents
                    .get(&***a)
                    .is_some_and(|x| x.eligible(&c.queue, &c.skills))
            })
        });
        let first_free = first_free.flatten().map(|a| a.to_string());
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        if let Some(cb) = &mut c.callback {
            let Some(agent) = first_free else {
                c.phase = Phase::Waiting;
                return;
            };
            let number = cb.number.clone();
            let attempt = cb.attempts + 1;
            let queue = c.queue.clone();
            c.phase = Phase::Dialing {
                agent: agent.clone(),
                until: now + CALLBACK_REPORT_TIMEOUT,
            };
            self.set_agent_state(
                &agent,
                AgentState::Reserved {
                    call: call.to_owned(),
                },
                "callback",
                now,
            );
            self.log(
                now,
                Some(&queue),
                Some(call),
                Some(&agent),
                EventKind::CallbackAttempted { attempt },
            );
            self.out.push_back(Output::Callback {
                placeholder: call.to_owned(),
                agent,
                number,
            });
            return;
        }
        c.phase = Phase::Offering {
            next: chosen.into(),
            ringing: BTreeMap::new(),
        };
        self.top_up(call, now);
    }

    /// Ring the next choices until the ring mode's width is reached; with
    /// nobody left to ring, the call waits again (and is re-ranked).
    fn top_up(&mut self, call: &str, now: Instant) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let Some(q) = self.queues.get(&c.queue) else {
            return;
        };
        let width = match q.cfg.ring_mode {
            RingMode::OneAtATime => 1,
            RingMode::All => usize::MAX,
            RingMode::FirstN(n) => n.max(1) as usize,
        };
        let timeout = q.cfg.ring_timeout;
        let (queue, skills) = (c.queue.clone(), c.skills.clone());
        let mut rung = Vec::new();
        loop {
            let Some(Phase::Offering { next, ringing }) =
                self.calls.get_mut(call).map(|c| &mut c.phase)
            else {
                return;
            };
            if ringing.len() >= width {
                break;
            }
            let Some(agent) = next.pop_front() else { break };
            if !self
                .agents
                .get(&*agent)
                .is_some_and(|a| a.eligible(&queue, &skills))
            {
                continue;
            }
            let agent = agent.to_string();
            ringing.insert(agent.clone(), now + timeout);
            self.set_agent_state(
                &agent,
                AgentState::Reserved {
                    call: call.to_owned(),
                },
                "offer",
                now,
            );
            self.log(
                now,
                Some(&queue),
                Some(call),
                Some(&agent),
                EventKind::Offer,
            );
            rung.push(agent);
        }
        if !rung.is_empty() {
            self.out.push_back(Output::Ring {
                call: call.to_owned(),
                agents: rung,
            });
        }
        if let Some(c) = self.calls.get_mut(call)
            && let Phase::Offering { ringing, .. } = &c.phase
            && ringing.is_empty()
        {
            c.phase = Phase::Waiting;
        }
    }

    /// The call `agent` was ringing for, with `agent` no longer ringing;
    /// `None` when it was not (a late or stray report from the owner).
    fn ring_ended(&mut self, call: &str, agent: &str) -> Option<&mut Call> {
        let c = self.calls.get_mut(call)?;
        let Phase::Offering { ringing, .. } = &mut c.phase else {
            return None;
        };
        ringing.remove(agent)?;
        Some(c)
    }

    /// `agent` answered `call`: the other rings stop, the call leaves the
    /// queue. Reports for agents not ringing for the call are ignored — an
    /// answer racing a [`Output::CancelRing`] loses, and the owner must
    /// drop that agent's leg.
    pub fn offer_answered(&mut self, call: &str, agent: &str, now: Instant) {
        let Some(c) = self.ring_ended(call, agent) else {
            return;
        };
        let others: Vec<String> = match &mut c.phase {
            Phase::Offering { ringing, .. } => std::mem::take(ringing).into_keys().collect(),
            _ => Vec::new(),
        };
        c.phase = Phase::Connected {
            agent: agent.to_owned(),
            since: now,
        };
        c.stop_caller_timers();
        let (queue, joined_ms) = (c.queue.clone(), c.joined_ms);
        if !others.is_empty() {
            self.out.push_back(Output::CancelRing {
                call: call.to_owned(),
                agents: others.clone(),
            });
            for a in &others {
                self.make_available(a, "answered-elsewhere", now);
            }
        }
        self.connect(call, agent, now);
        let wait = wait_between(joined_ms, self.wall_ms(now));
        if let Some(q) = self.queues.get_mut(&queue) {
            q.answered_today += 1;
            q.wait_today += wait;
            if wait <= q.cfg.service_level_threshold {
                q.within_today += 1;
            }
        }
        self.log(
            now,
            Some(&queue),
            Some(call),
            Some(agent),
            EventKind::Answer { wait },
        );
        self.out.push_back(Output::Exit {
            call: call.to_owned(),
            reason: ExitReason::Answered,
        });
        self.dispatch(now);
    }

    fn connect(&mut self, call: &str, agent: &str, now: Instant) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.unanswered = 0;
            a.calls_today += 1;
        }
        self.set_agent_state(
            agent,
            AgentState::OnCall {
                call: call.to_owned(),
            },
            "answered",
            now,
        );
    }

    /// Ringing `agent` failed at once (busy, declined, error): the call
    /// moves on to its next choice.
    pub fn offer_failed(&mut self, call: &str, agent: &str, now: Instant) {
        let Some(c) = self.ring_ended(call, agent) else {
            return;
        };
        let queue = c.queue.clone();
        self.log(
            now,
            Some(&queue),
            Some(call),
            Some(agent),
            EventKind::OfferFailed,
        );
        self.make_available(agent, "offer-failed", now);
        self.top_up(call, now);
        self.dispatch(now);
    }

    /// An answered queue call (or connected callback) ended: the agent
    /// wraps up (or starts a pause asked for during the call).
    pub fn call_ended(&mut self, call: &str, now: Instant) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        if c.queued() {
            // Still waiting: the caller hung up.
            self.leave(call, LeaveReason::Abandoned, now);
            return;
        }
        let Some(c) = self.calls.remove(call) else {
            return;
        };
        let Phase::Connected { agent, since } = c.phase else {
            return;
        };
        let talk = now.saturating_duration_since(since);
        let wrap_up = self
            .queues
            .get(&c.queue)
            .map_or(Duration::ZERO, |q| q.cfg.wrap_up);
        let end_ms = self.wall_ms(now);
        self.log(
            now,
            Some(&c.queue),
            Some(call),
            Some(&agent),
            EventKind::CallEnded { talk },
        );
        if let Some(q) = self.queues.get_mut(&c.queue) {
            q.record_handle(talk + wrap_up);
        }
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        a.talk_today += talk;
        a.last_call_end_ms = Some(end_ms);
        if a.state
            != (AgentState::OnCall {
                call: call.to_owned(),
            })
        {
            self.dispatch(now);
            return;
        }
        if let Some(reason) = a.pending_pause.take() {
            self.set_agent_state(
                &agent,
                AgentState::Paused {
                    reason: reason.clone(),
                },
                &reason,
                now,
            );
        } else if wrap_up.is_zero() {
            a.idle_since = now;
            self.log(
                now,
                Some(&c.queue),
                Some(call),
                Some(&agent),
                EventKind::WrapUpEnded {
                    wrap: Duration::ZERO,
                },
            );
            self.make_available(&agent, "call-ended", now);
        } else {
            a.wrap = Some((call.to_owned(), c.queue.clone(), now));
            self.set_agent_state(
                &agent,
                AgentState::WrapUp {
                    until: now + wrap_up,
                },
                "call-ended",
                now,
            );
        }
        self.dispatch(now);
    }

    // ---- callbacks ---------------------------------------------------------

    /// Turn the waiting caller into a placeholder that keeps their place
    /// (same priority, same join time); the caller may hang up.
    pub fn request_callback(&mut self, call: &str, number: &str, now: Instant) {
        self.callback_requested(call, number, false, now);
    }

    fn callback_requested(&mut self, call: &str, number: &str, automatic: bool, now: Instant) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        if !c.queued() || c.callback.is_some() {
            return;
        }
        // Any ring for the caller stops: the caller is leaving the line.
        if let Phase::Offering { ringing, .. } = &c.phase {
            let agents: Vec<String> = ringing.keys().cloned().collect();
            if !agents.is_empty() {
                self.out.push_back(Output::CancelRing {
                    call: call.to_owned(),
                    agents: agents.clone(),
                });
                for a in &agents {
                    self.make_available(a, "cancelled", now);
                }
            }
        }
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        if matches!(c.phase, Phase::Offering { .. }) {
            c.phase = Phase::Waiting;
        }
        c.callback = Some(CallbackState {
            number: number.to_owned(),
            attempts: 0,
            retry_at: None,
        });
        c.stop_caller_timers();
        let queue = c.queue.clone();
        let wait = wait_between(c.joined_ms, self.wall_ms(now));
        self.log(
            now,
            Some(&queue),
            Some(call),
            None,
            EventKind::CallbackRequested { automatic },
        );
        self.log(
            now,
            Some(&queue),
            Some(call),
            None,
            EventKind::Exit {
                reason: ExitReason::CallbackChosen,
                wait,
            },
        );
        self.out.push_back(Output::Exit {
            call: call.to_owned(),
            reason: ExitReason::CallbackChosen,
        });
        self.dispatch(now);
    }

    /// A callback asked for from outside a call (a web site's "call me
    /// back"): a placeholder joins `queue` now, at `priority`, and is
    /// served in its turn like one a caller asked for. `None` when it
    /// cannot: the queue is unknown, `id` is in use, or `number` already
    /// waits for a callback in that queue (asking twice keeps one place).
    pub fn add_callback(
        &mut self,
        id: &str,
        queue: &str,
        number: &str,
        priority: u8,
        tags: Vec<(String, String)>,
        now: Instant,
    ) -> Option<()> {
        let known = self.queues.contains_key(queue);
        let twice = self
            .calls
            .values()
            .any(|c| c.queue == queue && c.callback.as_ref().is_some_and(|cb| cb.number == number));
        if !known || twice || self.calls.contains_key(id) {
            return None;
        }
        self.seq += 1;
        let call = Call {
            id: id.to_owned(),
            queue: queue.to_owned(),
            priority,
            skills: Vec::new(),
            tags,
            joined_ms: self.wall_ms(now),
            seq: self.seq,
            phase: Phase::Waiting,
            next_announce: None,
            next_comfort: None,
            deadline: None,
            callback: Some(CallbackState {
                number: number.to_owned(),
                attempts: 0,
                retry_at: None,
            }),
            last_agent: None,
        };
        self.calls.insert(id.to_owned(), call);
        self.log(
            now,
            Some(queue),
            Some(id),
            None,
            EventKind::CallbackRequested { automatic: false },
        );
        self.dispatch(now);
        Some(())
    }

    /// How a callback attempt ended.
    pub fn callback_result(&mut self, placeholder: &str, outcome: CallbackOutcome, now: Instant) {
        let Some(c) = self.calls.get_mut(placeholder) else {
            return;
        };
        let Phase::Dialing { agent, .. } = &c.phase else {
            return;
        };
        let agent = agent.clone();
        let queue = c.queue.clone();
        let joined_ms = c.joined_ms;
        let Some(cb) = c.callback.as_mut() else {
            return;
        };
        cb.attempts += 1;
        match outcome {
            CallbackOutcome::Connected => {
                c.phase = Phase::Connected {
                    agent: agent.clone(),
                    since: now,
                };
                self.connect(placeholder, &agent, now);
                let wait = wait_between(joined_ms, self.wall_ms(now));
                self.log(
                    now,
                    Some(&queue),
                    Some(placeholder),
                    Some(&agent),
                    EventKind::CallbackCompleted { wait },
                );
            }
            CallbackOutcome::NotAnswered => {
                let max = self
                    .queues
                    .get(&queue)
                    .map_or(1, |q| q.cfg.callback_max_attempts);
                let retry = self
                    .queues
                    .get(&queue)
                    .map_or(Duration::ZERO, |q| q.cfg.callback_retry_interval);
                if cb.attempts >= max {
                    c.phase = Phase::Waiting;
                    self.log(
                        now,
                        Some(&queue),
                        Some(placeholder),
                        None,
                        EventKind::CallbackFailed,
                    );
                    self.make_available(&agent, "callback-not-answered", now);
                    self.remove_waiting(placeholder, ExitReason::CallbackFailed, now);
                } else {
                    cb.retry_at = Some(now + retry);
                    c.phase = Phase::Waiting;
                    self.make_available(&agent, "callback-not-answered", now);
                }
            }
        }
        self.dispatch(now);
    }

    /// The placeholders, for storage (a callback being dialled is exported
    /// as waiting: after a restart it is dialled again).
    pub fn placeholders(&self) -> Vec<Placeholder> {
        self.calls
            .values()
            .filter(|c| c.queued())
            .filter_map(|c| {
                let cb = c.callback.as_ref()?;
                Some(Placeholder {
                    call: c.id.clone(),
                    queue: c.queue.clone(),
                    priority: c.priority,
                    skills: c.skills.clone(),
                    tags: c.tags.clone(),
                    number: cb.number.clone(),
                    joined_ms: c.joined_ms,
                    attempts: cb.attempts,
                    retry_at_ms: cb.retry_at.map(|t| self.wall_ms(t)),
                })
            })
            .collect()
    }

    /// Put stored placeholders back, each in its place; returns those that
    /// could not be (unknown queue or id already in use).
    pub fn restore(&mut self, placeholders: Vec<Placeholder>, now: Instant) -> Vec<Placeholder> {
        let mut sorted = placeholders;
        sorted.sort_by_key(|p| p.joined_ms);
        let mut rejected = Vec::new();
        let now_ms = self.wall_ms(now);
        for p in sorted {
            if !self.queues.contains_key(&p.queue) || self.calls.contains_key(&p.call) {
                rejected.push(p);
                continue;
            }
            self.seq += 1;
            let retry_at = p
                .retry_at_ms
                .filter(|&ms| ms > now_ms)
                .map(|ms| self.instant_of(ms, now));
            let last_agent = p
                .tags
                .iter()
                .find(|(k, _)| k == "last-agent")
                .map(|(_, v)| v.clone());
            let call = Call {
                id: p.call.clone(),
                queue: p.queue,
                priority: p.priority,
                skills: p.skills,
                tags: p.tags,
                joined_ms: p.joined_ms,
                seq: self.seq,
                phase: Phase::Waiting,
                next_announce: None,
                next_comfort: None,
                deadline: None,
                callback: Some(CallbackState {
                    number: p.number,
                    attempts: p.attempts,
                    retry_at,
                }),
                last_agent,
            };
            self.calls.insert(p.call, call);
        }
        self.dispatch(now);
        rejected
    }

    // ---- timers ------------------------------------------------------------

    /// Run whatever is due at `now`: wrap-ups, late rankings, ring
    /// timeouts, callback retries, max waits, announcements.
    pub fn handle_timeout(&mut self, now: Instant) {
        let wrapped: Vec<String> = self
            .agents
            .values()
            .filter(|a| matches!(a.state, AgentState::WrapUp { until } if until <= now))
            .map(|a| a.cfg().id.clone())
            .collect();
        for agent in wrapped {
            self.end_wrap_up(&agent, now);
            if let Some(a) = self.agents.get_mut(&agent) {
                a.idle_since = now;
            }
            self.make_available(&agent, "wrap-up-ended", now);
        }
        // Positions are counted along the way (entries in service order,
        // those still queued after their own timers), not by scanning the
        // queue for each caller: a pass over 2,000 waiting callers was
        // quadratic. Staffing is counted once per queue and pass.
        let ids: Vec<String> = self.ordered();
        let mut ahead: HashMap<String, u32> = HashMap::new();
        let mut staffed: HashMap<String, u32> = HashMap::new();
        for id in ids {
            let Some(queue) = self.calls.get(&id).map(|c| c.queue.clone()) else {
                continue;
            };
            let position = ahead.get(&queue).copied().unwrap_or(0) + 1;
            self.call_timers(&id, position, &mut staffed, now);
            if self.calls.get(&id).is_some_and(|c| c.queued()) {
                ahead.insert(queue, position);
            }
        }
        self.dispatch(now);
    }

    /// The timers of entry `id`, at `position` in its queue.
    fn call_timers(
        &mut self,
        id: &str,
        position: u32,
        staffed: &mut HashMap<String, u32>,
        now: Instant,
    ) {
        let Some(c) = self.calls.get(id) else { return };
        if c.deadline.is_some_and(|t| t <= now) {
            self.remove_waiting(id, ExitReason::Timeout, now);
            return;
        }
        let ranking_late = matches!(c.phase, Phase::Ranking { until, .. } if until <= now);
        let dial_late = match &c.phase {
            Phase::Dialing { agent, until } if *until <= now => Some(agent.clone()),
            _ => None,
        };
        if ranking_late {
            self.handle_ranking_failed(id, now);
        }
        if let Some(agent) = dial_late {
            self.out.push_back(Output::CancelRing {
                call: id.to_owned(),
                agents: vec![agent],
            });
            self.callback_result(id, CallbackOutcome::NotAnswered, now);
        }
        self.ring_timeouts(id, now);
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if let Some(cb) = c.callback.as_mut()
            && cb.retry_at.is_some_and(|t| t <= now)
        {
            cb.retry_at = None;
        }
        let Some(cfg) = self.queues.get(&c.queue).map(|q| &q.cfg) else {
            return;
        };
        let (announce_every, comfort_every) = (cfg.announce_every, cfg.comfort_every);
        if let (Some(t), Some(every)) = (c.next_announce, announce_every)
            && t <= now
        {
            c.next_announce = Some(next_period(t, every, now));
            let queue = c.queue.clone();
            let agents = match staffed.get(&queue) {
                Some(n) => *n,
                None => {
                    let n = self.staffed(&queue);
                    staffed.insert(queue.clone(), n);
                    n
                }
            };
            let estimated_wait = self.queues[&queue].estimate(position, agents);
            self.out.push_back(Output::Announce {
                call: id.to_owned(),
                position,
                estimated_wait,
            });
        }
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if let (Some(t), Some(every)) = (c.next_comfort, comfort_every)
            && t <= now
        {
            c.next_comfort = Some(next_period(t, every, now));
            self.out.push_back(Output::Comfort {
                call: id.to_owned(),
            });
        }
    }

    fn ring_timeouts(&mut self, id: &str, now: Instant) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let Phase::Offering { ringing, .. } = &mut c.phase else {
            return;
        };
        let expired: Vec<String> = ringing
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(a, _)| a.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for a in &expired {
            ringing.remove(a);
        }
        let queue = c.queue.clone();
        let limit = self
            .queues
            .get(&queue)
            .map_or(0, |q| q.cfg.auto_pause_after);
        self.out.push_back(Output::CancelRing {
            call: id.to_owned(),
            agents: expired.clone(),
        });
        for agent in &expired {
            self.log(
                now,
                Some(&queue),
                Some(id),
                Some(agent),
                EventKind::RingNoAnswer,
            );
            let Some(a) = self.agents.get_mut(agent) else {
                continue;
            };
            a.unanswered += 1;
            if limit > 0 && a.unanswered >= limit {
                self.set_agent_state(
                    agent,
                    AgentState::Paused {
                        reason: "no-answer".into(),
                    },
                    "no-answer",
                    now,
                );
            } else {
                self.make_available(agent, "ring-no-answer", now);
            }
        }
        self.top_up(id, now);
    }

    // ---- live view and checks ---------------------------------------------

    /// The live figures of `queue` (WIT `queue-status` and more).
    pub fn queue_status(&self, queue: &str, now: Instant) -> Option<QueueStatus> {
        let q = self.queues.get(queue)?;
        let now_ms = self.wall_ms(now);
        let entries: Vec<&Call> = self
            .calls
            .values()
            .filter(|c| c.queue == queue && c.queued())
            .collect();
        let mut s = QueueStatus {
            name: queue.to_owned(),
            waiting: entries.len() as u32,
            longest_wait: entries
                .iter()
                .map(|c| wait_between(c.joined_ms, now_ms))
                .max()
                .unwrap_or_default(),
            agents_logged_in: 0,
            agents_available: 0,
            agents_reserved: 0,
            agents_on_call: 0,
            agents_on_other_call: 0,
            agents_wrap_up: 0,
            agents_paused: 0,
            average_wait: if q.answered_today == 0 {
                Duration::ZERO
            } else {
                q.wait_today / q.answered_today
            },
            service_level_today: (q.answered_today > 0)
                .then(|| q.within_today as f64 / q.answered_today as f64),
        };
        for a in self
            .agents
            .values()
            .filter(|a| a.cfg().membership(queue).is_some() && a.logged_in())
        {
            s.agents_logged_in += 1;
            match a.state {
                AgentState::Available { .. } => s.agents_available += 1,
                AgentState::Reserved { .. } => s.agents_reserved += 1,
                AgentState::OnCall { .. } => s.agents_on_call += 1,
                AgentState::OnOtherCall => s.agents_on_other_call += 1,
                AgentState::WrapUp { .. } => s.agents_wrap_up += 1,
                AgentState::Paused { .. } => s.agents_paused += 1,
                AgentState::LoggedOut => {}
            }
        }
        Some(s)
    }

    /// Check the engine's promises; `Err` says which one broke. Meant for
    /// tests and debug builds, after every step:
    ///
    /// * every Reserved agent belongs to a live offer of that call (ringing
    ///   or dialling its callback), and every ringing or dialled agent is
    ///   Reserved for that call — so no agent is reserved for two calls;
    /// * every agent OnCall is the agent of that connected call;
    /// * no entry is left offering with nobody ringing;
    /// * no entry that wants an agent is left while an eligible agent is
    ///   Available and not held by a pending ranking (distribution never
    ///   stalls).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut holder: BTreeMap<&str, &str> = BTreeMap::new();
        for c in self.calls.values() {
            let held: Vec<&String> = match &c.phase {
                Phase::Offering { ringing, .. } => {
                    if ringing.is_empty() {
                        return Err(format!("{} is offering with nobody ringing", c.id));
                    }
                    ringing.keys().collect()
                }
                Phase::Dialing { agent, .. } => vec![agent],
                _ => vec![],
            };
            for a in held {
                if let Some(other) = holder.insert(a, &c.id) {
                    return Err(format!("agent {a} held by {other} and {}", c.id));
                }
                let reserved = self
                    .agents
                    .get(a)
                    .is_some_and(|x| x.state == AgentState::Reserved { call: c.id.clone() });
                if !reserved {
                    return Err(format!(
                        "agent {a} rings for {} but is {:?}",
                        c.id,
                        self.agents.get(a).map(|x| &x.state)
                    ));
                }
            }
        }
        for a in self.agents.values() {
            if let AgentState::Reserved { call } = &a.state
                && holder.get(a.cfg().id.as_str()) != Some(&call.as_str())
            {
                return Err(format!(
                    "agent {} reserved for {call} without a live offer",
                    a.cfg().id
                ));
            }
        }
        for a in self.agents.values() {
            if let AgentState::OnCall { call } = &a.state {
                let connected = self.calls.get(call).is_some_and(
                    |c| matches!(&c.phase, Phase::Connected { agent, .. } if *agent == a.cfg().id),
                );
                if !connected {
                    return Err(format!(
                        "agent {} on call {call} that is not connected to them",
                        a.cfg().id
                    ));
                }
            }
        }
        let claimed = self.claimed();
        for c in self.calls.values().filter(|c| c.wants_agent()) {
            if let Some(a) = self.free_eligible(c, &claimed).first() {
                return Err(format!("{} waits while {a} is available", c.id));
            }
        }
        Ok(())
    }
}
