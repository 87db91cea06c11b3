//! The contact centre of each tenant, live: its queue engine
//! ([`switchyard_acd::Acd`], sans-IO) behind a lock, and the thin async
//! part around it — a timer task, the strategy plugin's rankings, the
//! waiting calls' channels, the queue log and the agents' events.
//!
//! Every input (a call joins, an agent answers, an agent logs in through
//! the API or a feature code, a timer) takes the lock, hands the engine
//! `now`, and collects what the engine wants done; the effects run after
//! the lock is released: a signal to a call ([`QueueSignal`], which its
//! driver turns into session inputs), a ranking by the queue's
//! `queue-strategy` plugin, a notice on the live stream.
//!
//! ```text
//!   call drivers ─QueueCommand─┐        API / feature codes ─┐
//!                              ▼                             ▼
//!                  TenantQueues::input ── lock ── Acd ── poll_output ─► effects
//!                              ▲                                         │
//!   timer task ── poll_timeout ┘   strategy plugin ◄── Rank ─────────────┤
//!                                  calls ◄── Ring / Cancel / Announce / Exit
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use switchyard_acd::{
    Acd, AgentConfig, AgentState, Candidate, EventKind, ExitReason, LeaveReason, Output,
    Placeholder, QueueConfig, QueueEvent, Refusal,
};
use switchyard_media::Station;
use switchyard_plugins::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use switchyard_plugins::types::CallSnapshot;
use switchyard_plugins::{CandidateRef, candidate_columns};
use switchyard_store::{
    AgentStateRecord, AgentStateRepo, CallbackRepo, QueueLogRepo, Store, StoreError,
};
use tokio::sync::{Notify, mpsc};

use crate::calls_in_progress::NoticeKind;
use crate::session::{QueueCommand, QueueExit};
use crate::{CallMsg, Shared};
use switchyard_clock::unix_ms;

/// One queue as the tenant configured it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSetup {
    pub config: QueueConfig,
    /// The strategy name whose `queue-strategy` plugin orders the agents;
    /// none: longest idle first.
    pub strategy: Option<String>,
    /// The prompt callers hear while waiting; none: the built-in music.
    pub music: Option<String>,
    /// The comfort message; none: the built-in one.
    pub comfort: Option<String>,
    /// What the answering agent hears before the caller is connected.
    pub whisper: Option<String>,
    /// A blind transfer to this number puts the caller into the queue.
    pub extension: Option<String>,
}

/// The tenant's contact centre: queues, agents, who is logged in at first
/// start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactCentreSetup {
    pub queues: Vec<QueueSetup>,
    pub agents: Vec<AgentConfig>,
    /// Agents logged in when the host starts them for the first time.
    pub logged_in: Vec<String>,
    /// What was saved of agents when the host last ran: (extension,
    /// logged in, pause reason). It wins over `logged_in`.
    pub saved: Vec<(String, bool, Option<String>)>,
    /// Pause reasons the tenant allows (`*47` + n picks the n-th, from 1).
    pub pause_reasons: Vec<String>,
    pub feature_codes: FeatureCodes,
    /// The queues' extensions (number → queue name), made once from
    /// `queues` ([`ContactCentreSetup::index_extensions`]) and shared by
    /// every call's session.
    pub queue_extensions: Arc<HashMap<String, String>>,
}

impl ContactCentreSetup {
    /// Build [`Self::queue_extensions`] from the queues.
    pub fn index_extensions(&mut self) {
        self.queue_extensions = Arc::new(
            self.queues
                .iter()
                .filter_map(|q| Some((q.extension.clone()?, q.config.name.clone())))
                .collect(),
        );
    }
}

/// What an agent dials to change state from the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    /// Log in to every queue the agent is a member of (`*45`).
    pub login: String,
    /// Log out (`*46`).
    pub logout: String,
    /// Pause (`*47`; `*47` + n pauses with the n-th pause reason).
    pub pause: String,
    /// Unpause (`*48`).
    pub unpause: String,
    /// Supervise the call an extension talks in (`*55` + the extension),
    /// for extensions with the supervisor flag.
    pub supervise: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        FeatureCodes {
            login: "*45".into(),
            logout: "*46".into(),
            pause: "*47".into(),
            unpause: "*48".into(),
            supervise: "*55".into(),
        }
    }
}

impl FeatureCodes {
    /// The extension `dialled` asks to supervise (`*55` + EXT), if it is
    /// that code.
    pub fn supervised<'a>(&self, dialled: &'a str) -> Option<&'a str> {
        dialled
            .strip_prefix(self.supervise.as_str())
            .filter(|ext| !ext.is_empty())
    }

    /// The change `dialled` asks for, if it is one of the codes; a pause
    /// carries the reason number dialled after the code (0: none).
    pub fn parse(&self, dialled: &str) -> Option<(AgentChange, usize)> {
        if dialled == self.login {
            return Some((AgentChange::Login, 0));
        }
        if dialled == self.logout {
            return Some((AgentChange::Logout, 0));
        }
        if dialled == self.unpause {
            return Some((AgentChange::Unpause, 0));
        }
        let rest = dialled.strip_prefix(self.pause.as_str())?;
        if rest.is_empty() {
            return Some((AgentChange::Pause(String::new()), 0));
        }
        let n: usize = rest.parse().ok().filter(|_| rest.len() <= 2)?;
        Some((AgentChange::Pause(String::new()), n))
    }
}

/// What the queue engine tells a waiting call.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueSignal {
    /// Ring these agents.
    Ring {
        agents: Vec<String>,
    },
    /// Stop ringing these agents.
    CancelRing {
        agents: Vec<String>,
    },
    /// Position (1 = next) and estimated wait.
    Announce {
        position: u32,
        estimated_wait: Duration,
    },
    Comfort,
    /// The caller wants a callback but their number cannot be dialled:
    /// ask them to key one in.
    CallbackNumberWanted,
    /// The caller left the queue without an agent.
    Exit(QueueExit),
}

/// An agent's state change, for the API and the live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChange {
    Login,
    Logout,
    Pause(String),
    Unpause,
}

/// Every tenant's contact centre.
#[derive(Default)]
pub(crate) struct Queues {
    by_tenant: Mutex<HashMap<String, Arc<TenantQueues>>>,
}

impl Queues {
    /// Tenant `tenant`'s, made (with its timer task) on first use.
    pub fn tenant(&self, shared: &Arc<Shared>, tenant: &str) -> Arc<TenantQueues> {
        let mut map = self.by_tenant.lock().expect("queues lock");
        if let Some(t) = map.get(tenant) {
            return t.clone();
        }
        let (writes, rx) = mpsc::unbounded_channel();
        let t = Arc::new(TenantQueues::new(tenant, writes));
        map.insert(tenant.to_string(), t.clone());
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(timer(t.clone(), Arc::downgrade(shared)));
            tokio::spawn(writer(tenant.to_string(), shared.store.clone(), rx));
        }
        t
    }

    pub fn get(&self, tenant: &str) -> Option<Arc<TenantQueues>> {
        self.by_tenant
            .lock()
            .expect("queues lock")
            .get(tenant)
            .cloned()
    }
}

/// A waiting call as the service knows it.
struct Waiting {
    tx: mpsc::UnboundedSender<CallMsg>,
    snapshot: CallSnapshot,
    /// The caller in the tenant's CRM, once looked up.
    contact: Option<switchyard_plugins::types::Contact>,
}

struct Inner {
    acd: Acd,
    calls: HashMap<String, Waiting>,
    setups: HashMap<String, QueueSetup>,
    pause_reasons: Vec<String>,
    configured: bool,
    /// The tenant's time zone: "today" (calls and talk time of agents,
    /// the service level) starts at its midnight.
    time_zone: String,
    /// When "today" ends.
    midnight: Option<Instant>,
    /// Placeholders as last written to the store.
    stored_callbacks: BTreeSet<String>,
}

/// One tenant's queues and agents.
pub(crate) struct TenantQueues {
    tenant: String,
    inner: Mutex<Inner>,
    /// The timer task re-reads the engine's next deadline.
    wake: Notify,
    /// What goes to the store, in order (the writer task).
    writes: mpsc::UnboundedSender<Write>,
    /// Each queue's music as a station, shared by all its waiting callers
    /// (one stream per queue, not one player per caller). Its own lock:
    /// a caller going back to the music must not wait for the engine.
    stations: Mutex<HashMap<String, Station>>,
}

/// One write of the queue service to the store.
#[derive(Debug)]
enum Write {
    Log(Vec<QueueEvent>),
    Agent(String, AgentStateRecord),
    Callback(Placeholder),
    CallbackGone(String),
}

/// Apply the service's writes in the order they were made, each batch on
/// the blocking pool (a write waits for a flush).
async fn writer(tenant: String, store: Store, mut rx: mpsc::UnboundedReceiver<Write>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(w) = rx.try_recv() {
            batch.push(w);
        }
        let (store, t) = (store.clone(), tenant.clone());
        let done = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let mut log = Vec::new();
            for w in batch {
                match w {
                    Write::Log(events) => log.extend(events),
                    Write::Agent(ext, rec) => store.put_agent_state(&t, &ext, &rec)?,
                    Write::Callback(p) => store.put_callback(&t, &p)?,
                    Write::CallbackGone(call) => {
                        store.delete_callback(&t, &call)?;
                    }
                }
            }
            if !log.is_empty() {
                store.append_queue_events(&t, &log)?;
            }
            Ok(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(%tenant, error = %e, "queue log or state not stored"),
            Err(e) => tracing::error!(%tenant, error = %e, "queue log or state not stored"),
        }
    }
}

/// A ranking to ask the queue's strategy for.
struct Ranking {
    call: String,
    strategy: Option<String>,
    queue: QueueInfo,
    waiting: WaitingCall,
    candidates: Vec<Candidate>,
}

/// What the engine wants done, run outside the lock.
enum Effect {
    Signal(mpsc::UnboundedSender<CallMsg>, String, QueueSignal),
    Rank(Box<Ranking>),
    /// An agent changed state: (event name, agent and reason).
    Notice(&'static str, String),
    /// Dial `agent`, then `number`, for a placeholder that waited.
    Callback {
        placeholder: String,
        agent: String,
        number: String,
        waited: Duration,
    },
}

impl TenantQueues {
    /// A tenant's queue service before its configuration arrives; what it
    /// writes goes to `writes` (the writer task).
    fn new(tenant: &str, writes: mpsc::UnboundedSender<Write>) -> TenantQueues {
        TenantQueues {
            tenant: tenant.to_string(),
            inner: Mutex::new(Inner {
                acd: Acd::new(Instant::now(), unix_ms()),
                calls: HashMap::new(),
                setups: HashMap::new(),
                pause_reasons: Vec::new(),
                configured: false,
                time_zone: "UTC".into(),
                midnight: None,
                stored_callbacks: BTreeSet::new(),
            }),
            wake: Notify::new(),
            writes,
            stations: Mutex::new(HashMap::new()),
        }
    }

    /// The station of `queue` playing `music`: the one its callers already
    /// hear, or — the first time, or when the queue's music changed (a
    /// new prompt, a prompt file replaced: another decoded buffer) — a new
    /// one, whose loop is encoded here once. Callers moved to a new
    /// station start at its beginning; those on the old one keep it until
    /// their next announcement.
    pub fn station(&self, queue: &str, music: &Arc<[i16]>) -> Station {
        let mut stations = self.stations.lock().expect("stations lock");
        match stations.get(queue) {
            Some(s) if s.plays(music) => s.clone(),
            _ => {
                let s = Station::new(music.clone(), Instant::now());
                stations.insert(queue.to_string(), s.clone());
                s
            }
        }
    }

    /// Put the tenant's configuration in place: queues, agents (the first
    /// time, the configured agents log in).
    pub fn configure(&self, shared: &Arc<Shared>, setup: &ContactCentreSetup, time_zone: &str) {
        let callbacks = shared
            .store
            .list_callbacks(&self.tenant)
            .unwrap_or_else(|e| {
                tracing::error!(tenant = %self.tenant, error = %e, "stored callbacks unreadable");
                Vec::new()
            });
        let rejected = self.input(shared, |inner, now| {
            if !inner.configured {
                inner.stored_callbacks = callbacks.iter().map(|p| p.call.clone()).collect();
            }
            if inner.time_zone != time_zone || inner.midnight.is_none() {
                inner.time_zone = time_zone.to_string();
                inner.midnight = next_midnight(time_zone).map(|d| now + d);
            }
            for q in &setup.queues {
                inner.acd.set_queue(q.config.clone());
                inner.setups.insert(q.config.name.clone(), q.clone());
            }
            let known: Vec<String> = inner.acd.agent_ids().map(str::to_string).collect();
            for gone in known
                .iter()
                .filter(|k| !setup.agents.iter().any(|a| &a.id == *k))
            {
                inner.acd.remove_agent(gone, now);
            }
            for a in &setup.agents {
                inner.acd.set_agent(a.clone(), now);
            }
            inner.pause_reasons = setup.pause_reasons.clone();
            if !inner.configured {
                inner.configured = true;
                for a in &setup.agents {
                    match setup.saved.iter().find(|(e, _, _)| *e == a.id) {
                        Some((_, true, paused)) => {
                            inner.acd.login(&a.id, now);
                            if let Some(reason) = paused {
                                inner.acd.pause(&a.id, reason, now);
                            }
                        }
                        Some((_, false, _)) => {}
                        None if setup.logged_in.contains(&a.id) => inner.acd.login(&a.id, now),
                        None => {}
                    }
                }
                inner.acd.restore(callbacks.clone(), now)
            } else {
                Vec::new()
            }
        });
        // A queue that is gone has no one left to hear its station.
        self.stations
            .lock()
            .expect("stations lock")
            .retain(|q, _| setup.queues.iter().any(|s| s.config.name == *q));
        // Placeholders whose queue is gone cannot be served.
        for p in rejected {
            tracing::warn!(tenant = %self.tenant, call = %p.call, queue = %p.queue, "a stored callback's queue is gone: dropped");
            let _ = self.writes.send(Write::CallbackGone(p.call));
        }
    }

    /// What a call's session says about its caller.
    pub fn call_command(
        &self,
        shared: &Arc<Shared>,
        call: &str,
        command: QueueCommand,
        tx: &mpsc::UnboundedSender<CallMsg>,
        snapshot: &CallSnapshot,
        contact: Option<&switchyard_plugins::types::Contact>,
    ) {
        self.input(shared, |inner, now| match command {
            QueueCommand::Join {
                queue,
                priority,
                skills,
                tags,
                max_wait,
            } => {
                let joined = inner.acd.join(call, &queue, priority, skills, tags, now);
                match joined {
                    Ok(()) => {
                        if let Some(d) = max_wait {
                            inner.acd.limit_wait(call, d, now);
                        }
                        inner.calls.insert(
                            call.to_string(),
                            Waiting {
                                tx: tx.clone(),
                                snapshot: snapshot.clone(),
                                contact: contact.cloned(),
                            },
                        );
                    }
                    Err(refusal) => {
                        tracing::info!(call, %queue, ?refusal, "could not join the queue");
                        let exit = match refusal {
                            Refusal::Full => QueueExit::Full,
                            Refusal::NoAgents | Refusal::NoSuchQueue | Refusal::Duplicate => {
                                QueueExit::NoAgents
                            }
                        };
                        let _ = tx.send(CallMsg::Queue(QueueSignal::Exit(exit)));
                    }
                }
            }
            QueueCommand::Answered { agent } => inner.acd.offer_answered(call, &agent, now),
            QueueCommand::OfferFailed { agent } => inner.acd.offer_failed(call, &agent, now),
            QueueCommand::Key(d) => inner.acd.key(call, d, now),
            QueueCommand::CallbackNumber(number) => inner.acd.request_callback(call, &number, now),
            QueueCommand::Abandoned => {
                inner.acd.leave(call, LeaveReason::Abandoned, now);
                inner.calls.remove(call);
            }
            QueueCommand::Ended => {
                inner.acd.call_ended(call, now);
                inner.calls.remove(call);
            }
        });
    }

    /// Lines for the queue log that the engine does not make (who
    /// supervised a queue call), written in order with the engine's.
    pub fn append_log(&self, events: Vec<QueueEvent>) {
        let _ = self.writes.send(Write::Log(events));
    }

    /// A callback's customer answered (`true`), or the attempt failed.
    /// A callback asked for from outside a call (`Acd::add_callback`),
    /// stored like any placeholder; `false` when the engine refused it.
    pub fn add_callback(
        &self,
        shared: &Arc<Shared>,
        id: &str,
        queue: &str,
        number: &str,
        tags: Vec<(String, String)>,
    ) -> bool {
        self.input(shared, |inner, now| {
            inner
                .acd
                .add_callback(id, queue, number, 0, tags, now)
                .is_some()
        })
    }

    pub fn callback_result(&self, shared: &Arc<Shared>, placeholder: &str, connected: bool) {
        let outcome = if connected {
            switchyard_acd::CallbackOutcome::Connected
        } else {
            switchyard_acd::CallbackOutcome::NotAnswered
        };
        self.input(shared, |inner, now| {
            inner.acd.callback_result(placeholder, outcome, now)
        });
    }

    /// A connected callback's call ended.
    pub fn callback_ended(&self, shared: &Arc<Shared>, placeholder: &str) {
        self.input(shared, |inner, now| inner.acd.call_ended(placeholder, now));
    }

    /// Another call of extension `agent` started or ended.
    pub fn agent_busy(&self, shared: &Arc<Shared>, agent: &str, busy: bool) {
        self.input(shared, |inner, now| inner.acd.agent_busy(agent, busy, now));
    }

    /// Change an agent's state (API, feature code).
    pub fn change_agent(
        &self,
        shared: &Arc<Shared>,
        agent: &str,
        change: AgentChange,
    ) -> Result<AgentState, String> {
        self.input(shared, |inner, now| {
            if inner.acd.agent_state(agent).is_none() {
                return Err(format!("{agent} is not an agent of any queue"));
            }
            match change {
                AgentChange::Login => inner.acd.login(agent, now),
                AgentChange::Logout => inner.acd.logout(agent, now),
                AgentChange::Pause(reason) => {
                    let reason = if reason.is_empty() {
                        "break".to_string()
                    } else {
                        reason
                    };
                    if !inner.pause_reasons.is_empty() && !inner.pause_reasons.contains(&reason) {
                        return Err(format!(
                            "{reason:?} is not a pause reason of this tenant (one of {})",
                            inner.pause_reasons.join(", ")
                        ));
                    }
                    inner.acd.pause(agent, &reason, now)
                }
                AgentChange::Unpause => inner.acd.unpause(agent, now),
            }
            Ok(inner.acd.agent_state(agent).cloned().expect("known agent"))
        })
    }

    /// The n-th pause reason (from 1), for `*47n`.
    pub fn pause_reason(&self, n: usize) -> Option<String> {
        let inner = self.inner.lock().expect("queue engine lock");
        n.checked_sub(1)
            .and_then(|i| inner.pause_reasons.get(i).cloned())
    }

    /// Every agent and what the engine knows of them.
    pub fn agents(&self) -> Vec<(String, switchyard_acd::AgentView)> {
        let inner = self.inner.lock().expect("queue engine lock");
        inner
            .acd
            .agent_ids()
            .filter_map(|a| inner.acd.agent_view(a).map(|v| (a.to_string(), v)))
            .collect()
    }

    /// Queue `name` now, and the callback placeholders in it.
    pub fn queue_status(&self, name: &str) -> Option<(switchyard_acd::QueueStatus, u32)> {
        let inner = self.inner.lock().expect("queue engine lock");
        let status = inner.acd.queue_status(name, Instant::now())?;
        let callbacks = inner
            .acd
            .placeholders()
            .iter()
            .filter(|p| p.queue == name)
            .count() as u32;
        Some((status, callbacks))
    }

    /// Run `f` on the engine at `now`, then what it asked for.
    fn input<R>(&self, shared: &Arc<Shared>, f: impl FnOnce(&mut Inner, Instant) -> R) -> R {
        let now = Instant::now();
        let (r, effects) = {
            let mut inner = self.inner.lock().expect("queue engine lock");
            let r = f(&mut inner, now);
            let effects = self.collect(&mut inner);
            (r, effects)
        };
        self.run(shared, effects);
        self.wake.notify_one();
        r
    }

    fn collect(&self, inner: &mut Inner) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut log = Vec::new();
        let mut callbacks_changed = false;
        while let Some(out) = inner.acd.poll_output() {
            let signal = |call: &str, s: QueueSignal| {
                inner
                    .calls
                    .get(call)
                    .map(|w| Effect::Signal(w.tx.clone(), call.to_string(), s))
            };
            let e = match out {
                Output::Rank {
                    call,
                    queue,
                    waiting,
                    candidates,
                } => {
                    let (snapshot, contact) = inner
                        .calls
                        .get(&call)
                        .map(|w| (w.snapshot.clone(), w.contact.clone()))
                        .unwrap_or_else(|| (placeholder_snapshot(&self.tenant, &call), None));
                    let logged_in = inner
                        .acd
                        .queue_status(&queue.name, Instant::now())
                        .map_or(0, |s| s.agents_logged_in);
                    let strategy = inner
                        .setups
                        .get(&queue.name)
                        .and_then(|s| s.strategy.clone());
                    Some(Effect::Rank(Box::new(Ranking {
                        call,
                        strategy,
                        queue: QueueInfo {
                            name: queue.name,
                            waiting: queue.waiting,
                            agents_logged_in: logged_in,
                        },
                        waiting: WaitingCall {
                            call: snapshot,
                            skills: waiting.skills,
                            priority: waiting.priority,
                            waited_seconds: waiting.waited_secs,
                            last_agent: waiting.last_agent,
                            contact,
                            callback: waiting.callback,
                        },
                        candidates,
                    })))
                }
                Output::Ring { call, agents } => signal(&call, QueueSignal::Ring { agents }),
                Output::CancelRing { call, agents } => {
                    signal(&call, QueueSignal::CancelRing { agents })
                }
                Output::Announce {
                    call,
                    position,
                    estimated_wait,
                } => signal(
                    &call,
                    QueueSignal::Announce {
                        position,
                        estimated_wait,
                    },
                ),
                Output::Comfort { call } => signal(&call, QueueSignal::Comfort),
                Output::Exit { call, reason } => {
                    let exit = match reason {
                        ExitReason::Timeout => Some(QueueExit::Timeout),
                        ExitReason::Empty => Some(QueueExit::Empty),
                        ExitReason::Key => Some(QueueExit::Key),
                        ExitReason::CallbackChosen => Some(QueueExit::CallbackChosen),
                        // The call knows already (it answered or hung up);
                        // a failed callback has no caller on the line.
                        ExitReason::Answered
                        | ExitReason::Abandoned
                        | ExitReason::CallbackFailed => None,
                    };
                    let e = exit.and_then(|x| signal(&call, QueueSignal::Exit(x)));
                    if exit.is_some() {
                        inner.calls.remove(&call);
                    }
                    e
                }
                Output::AgentState {
                    agent,
                    state,
                    reason,
                } => {
                    tracing::info!(tenant = %self.tenant, %agent, state = agent_state_name(&state), %reason, "agent state");
                    let record = AgentStateRecord {
                        logged_in: state != AgentState::LoggedOut,
                        paused: match &state {
                            AgentState::Paused { reason } => Some(reason.clone()),
                            _ => None,
                        },
                    };
                    let _ = self.writes.send(Write::Agent(agent.clone(), record));
                    Some(Effect::Notice(
                        agent_event_name(&state),
                        if reason.is_empty() {
                            agent
                        } else {
                            format!("{agent} {reason}")
                        },
                    ))
                }
                Output::Log(event) => {
                    callbacks_changed |= matches!(
                        event.kind,
                        EventKind::CallbackRequested { .. }
                            | EventKind::CallbackAttempted { .. }
                            | EventKind::CallbackCompleted { .. }
                            | EventKind::CallbackFailed
                            | EventKind::Exit { .. }
                            | EventKind::Abandon { .. }
                    );
                    log.push(event);
                    None
                }
                Output::Callback {
                    placeholder,
                    agent,
                    number,
                } => {
                    let waited = inner
                        .acd
                        .placeholders()
                        .into_iter()
                        .find(|p| p.call == placeholder)
                        .map(|p| Duration::from_millis(unix_ms().saturating_sub(p.joined_ms)))
                        .unwrap_or_default();
                    Some(Effect::Callback {
                        placeholder,
                        agent,
                        number,
                        waited,
                    })
                }
                Output::CallbackNumberWanted { call } => {
                    signal(&call, QueueSignal::CallbackNumberWanted)
                }
            };
            effects.extend(e);
        }
        if !log.is_empty() {
            let _ = self.writes.send(Write::Log(log));
        }
        if callbacks_changed {
            // Placeholders are written whole after every change, and
            // those gone are deleted: what is stored is what would be
            // restored.
            let now: Vec<Placeholder> = inner.acd.placeholders();
            let ids: BTreeSet<String> = now.iter().map(|p| p.call.clone()).collect();
            for gone in inner.stored_callbacks.difference(&ids) {
                let _ = self.writes.send(Write::CallbackGone(gone.clone()));
            }
            for p in now {
                let _ = self.writes.send(Write::Callback(p));
            }
            inner.stored_callbacks = ids;
        }
        effects
    }

    fn run(&self, shared: &Arc<Shared>, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Signal(tx, call, s) => {
                    if tx.send(CallMsg::Queue(s.clone())).is_err() {
                        tracing::debug!(tenant = %self.tenant, %call, ?s, "the call is gone");
                    }
                }
                Effect::Notice(kind, detail) => shared.in_progress.notify(
                    &self.tenant,
                    NoticeKind::Agent(kind),
                    "",
                    Some(detail),
                ),
                Effect::Rank(r) => self.rank(shared, *r),
                Effect::Callback {
                    placeholder,
                    agent,
                    number,
                    waited,
                } => {
                    let started = shared
                        .tenants()
                        .by_id(&self.tenant)
                        .ok_or_else(|| "the tenant is gone".to_string())
                        .and_then(|t| {
                            crate::driver::start_callback(
                                shared,
                                t,
                                &placeholder,
                                &agent,
                                &number,
                                waited,
                            )
                        });
                    if let Err(why) = started {
                        tracing::warn!(tenant = %self.tenant, %placeholder, %agent, %number, %why, "callback not dialled");
                        self.callback_result(shared, &placeholder, false);
                    }
                }
            }
        }
    }

    /// Ask the queue's strategy plugin; no strategy, or one that fails,
    /// is answered by the engine's longest-idle fallback.
    fn rank(&self, shared: &Arc<Shared>, r: Ranking) {
        let Ranking {
            call,
            strategy,
            queue,
            waiting,
            candidates,
        } = r;
        let Some(name) = strategy else {
            let order = longest_idle(&candidates);
            return self.input(shared, |inner, now| {
                inner.acd.handle_ranking(&call, order, now)
            });
        };
        let Some(me) = shared.queues.get(&self.tenant) else {
            return;
        };
        let shared = shared.clone();
        let tenant_id = self.tenant.clone();
        tokio::spawn(async move {
            let tenant = shared.tenants().by_id(&tenant_id);
            // The strategy gets the engine's candidates as columns, built
            // from what the engine shares (no record per candidate); only a
            // strategy that takes records (0.2.0 `select`, 0.1.0) gets them.
            let started = Instant::now();
            let columns = candidate_columns(candidates.iter().map(|c| CandidateRef {
                id: &c.agent,
                skill_levels: &c.skills,
                unlevelled: &[],
                calls_today: c.calls_today,
                talk_seconds_today: c.talk_secs_today,
                last_call_end: c.last_call_end_ms,
                idle_since: c.idle_since_ms,
                order: c.order,
                penalty: c.penalty,
            }));
            let records = || candidates.iter().map(record_of).collect();
            let result = match tenant.as_ref().map(|t| t.runtime.pin_strategy(&name)) {
                Some(Ok(p)) => {
                    let t = tenant.as_ref().expect("tenant");
                    // Positions in `candidates`, which the engine keeps in
                    // the same order: no id is copied back.
                    t.runtime
                        .rank_agents(&p, &queue, &waiting, &columns, records)
                        .await
                }
                Some(Err(e)) => Err(e),
                None => return,
            };
            let label = crate::metrics::Metrics::tenant(&tenant_id);
            shared
                .metrics
                .strategy_latency
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(positions) => me.input(&shared, |inner, now| {
                    inner.acd.handle_ranked(&call, positions, now)
                }),
                Err(failure) => {
                    tracing::warn!(tenant = %tenant_id, strategy = %name, %failure, "queue strategy failed: longest idle instead");
                    shared
                        .metrics
                        .strategy_fallbacks
                        .get_or_create(&label)
                        .inc();
                    me.input(&shared, |inner, now| {
                        inner.acd.handle_ranking_failed(&call, now)
                    })
                }
            }
        });
    }
}

/// The engine's candidate as the WIT record (for strategies that take
/// records).
fn record_of(c: &Candidate) -> AgentCandidate {
    AgentCandidate {
        id: String::from(&*c.agent),
        skills: c.skills.iter().map(|(s, _)| s.clone()).collect(),
        calls_today: c.calls_today,
        talk_seconds_today: c.talk_secs_today,
        last_call_end: c.last_call_end_ms,
        order: c.order,
        skill_levels: c.skills.to_vec(),
        penalty: c.penalty,
        idle_since: c.idle_since_ms,
    }
}

/// Longest idle first, then the penalty and the member order: the
/// ordering of a queue without a strategy.
fn longest_idle(candidates: &[Candidate]) -> Vec<String> {
    let mut c: Vec<&Candidate> = candidates.iter().collect();
    c.sort_by_key(|c| (c.penalty, c.idle_since_ms, c.order));
    c.into_iter().map(|c| String::from(&*c.agent)).collect()
}

/// A queue's agents by state, under the names the API and `/metrics`
/// show (logged-out agents are in no state).
pub fn agents_by_state(s: &switchyard_acd::QueueStatus) -> [(&'static str, u32); 6] {
    [
        ("available", s.agents_available),
        ("reserved", s.agents_reserved),
        ("on-call", s.agents_on_call),
        ("busy", s.agents_on_other_call),
        ("wrap-up", s.agents_wrap_up),
        ("paused", s.agents_paused),
    ]
}

/// The name an agent state has on the live stream and in the API.
pub fn agent_state_name(s: &AgentState) -> &'static str {
    match s {
        AgentState::LoggedOut => "logged-out",
        AgentState::Available { .. } => "available",
        AgentState::Reserved { .. } => "reserved",
        AgentState::OnCall { .. } => "on-call",
        AgentState::OnOtherCall => "busy",
        AgentState::WrapUp { .. } => "wrap-up",
        AgentState::Paused { .. } => "paused",
    }
}

/// How long until the next midnight in `time_zone` (UTC for an unknown
/// zone).
fn next_midnight(time_zone: &str) -> Option<Duration> {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now().to_zoned_datetime(tz);
    let midnight = now.tomorrow().ok()?.start_of_day().ok()?;
    let secs = midnight.timestamp().as_millisecond() - now.timestamp().as_millisecond();
    Some(Duration::from_millis(secs.max(1000) as u64))
}

/// The live stream's event name for an agent entering `s`.
fn agent_event_name(s: &AgentState) -> &'static str {
    match s {
        AgentState::LoggedOut => "agent-logged-out",
        AgentState::Available { .. } => "agent-available",
        AgentState::Reserved { .. } => "agent-reserved",
        AgentState::OnCall { .. } => "agent-on-call",
        AgentState::OnOtherCall => "agent-busy",
        AgentState::WrapUp { .. } => "agent-wrap-up",
        AgentState::Paused { .. } => "agent-paused",
    }
}

/// What a strategy sees of a callback placeholder: nobody on the line.
fn placeholder_snapshot(tenant: &str, call: &str) -> CallSnapshot {
    use switchyard_plugins::types::{Direction, Party};
    CallSnapshot {
        call_id: call.to_string(),
        tenant: tenant.to_string(),
        direction: Direction::Inbound,
        caller: Party {
            number: String::new(),
            display_name: None,
        },
        callee: Party {
            number: String::new(),
            display_name: None,
        },
        dialled: String::new(),
        tags: vec!["callback".into()],
        start_time: unix_ms(),
        answer_time: None,
        time_zone: "UTC".into(),
        flow: String::new(),
        plugin_version: 0,
    }
}

/// The engine's timers: sleep until its next deadline (or a wake-up after
/// any input), then hand it the time.
async fn timer(t: Arc<TenantQueues>, shared: Weak<Shared>) {
    loop {
        let deadline = {
            let inner = t.inner.lock().expect("queue engine lock");
            [inner.acd.poll_timeout(), inner.midnight]
                .into_iter()
                .flatten()
                .min()
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = t.wake.notified() => continue,
            _ = sleep => {}
        }
        // The host is gone: so is this task.
        let Some(shared) = shared.upgrade() else {
            return;
        };
        t.input(&shared, |inner, now| {
            if inner.acd.poll_timeout().is_some_and(|d| d <= now) {
                inner.acd.handle_timeout(now);
            }
            if inner.midnight.is_some_and(|m| m <= now) {
                tracing::info!(tenant = %t.tenant, "a new day: agents' and queues' figures of today start again");
                inner.acd.reset_day();
                inner.midnight = next_midnight(&inner.time_zone).map(|d| now + d);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_queues() -> TenantQueues {
        let (writes, _rx) = mpsc::unbounded_channel();
        TenantQueues::new("t", writes)
    }

    #[test]
    fn a_queue_keeps_its_station_until_its_music_changes() {
        let q = tenant_queues();
        let music: Arc<[i16]> = vec![1i16; 800].into();
        let support = q.station("support", &music);
        assert!(support.same(&q.station("support", &music)), "one per queue");
        assert!(
            !support.same(&q.station("sales", &music)),
            "each queue its own"
        );
        let new_music: Arc<[i16]> = vec![1i16; 800].into();
        let changed = q.station("support", &new_music);
        assert!(!changed.same(&support) && changed.plays(&new_music));
        assert!(changed.same(&q.station("support", &new_music)));
    }

    #[test]
    fn the_next_midnight_is_within_a_day_in_any_zone() {
        for tz in [
            "UTC",
            "Europe/London",
            "America/New_York",
            "Asia/Kolkata",
            "No/Such",
        ] {
            let d = next_midnight(tz).expect("a midnight");
            assert!(d <= Duration::from_secs(25 * 3600), "{tz}: {d:?}");
            assert!(d >= Duration::from_secs(1));
        }
    }
}
