//! Agent states and what the engine remembers about each agent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::AgentConfig;

/// Where an agent stands. Exactly one state at a time: an agent reserved
/// for one call cannot be reserved for another, by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    /// Free for a queue call; `since` is when the agent last became idle
    /// (login, end of wrap-up, unpause, end of another call) — a missed
    /// offer does not reset it, so longest-idle stays fair.
    Available {
        since: Instant,
    },
    /// Ringing for (or being dialled for the callback of) `call`.
    Reserved {
        call: String,
    },
    OnCall {
        call: String,
    },
    /// Busy on a call that is not from a queue, with `ring_in_use` off.
    OnOtherCall,
    WrapUp {
        until: Instant,
    },
    Paused {
        reason: String,
    },
}

impl AgentState {
    /// The state without its data, as logged.
    pub fn status(&self) -> AgentStatus {
        match self {
            AgentState::LoggedOut => AgentStatus::LoggedOut,
            AgentState::Available { .. } => AgentStatus::Available,
            AgentState::Reserved { .. } => AgentStatus::Reserved,
            AgentState::OnCall { .. } => AgentStatus::OnCall,
            AgentState::OnOtherCall => AgentStatus::OnOtherCall,
            AgentState::WrapUp { .. } => AgentStatus::WrapUp,
            AgentState::Paused { .. } => AgentStatus::Paused,
        }
    }
}

/// [`AgentState`] without instants: what the queue log and the figures use.
/// As JSON (feature `serde`): `logged-out`, `available`, `reserved`,
/// `on-call`, `on-other-call`, `wrap-up`, `paused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum AgentStatus {
    LoggedOut,
    Available,
    Reserved,
    OnCall,
    OnOtherCall,
    WrapUp,
    Paused,
}

/// The engine's record of one agent.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    cfg: AgentConfig,
    /// The id and each membership's skills, shared: every decision hands
    /// them to the strategy for each candidate, and with 200 candidates
    /// copying them was most of the engine's share of a decision.
    shared_id: Arc<str>,
    shared_skills: Vec<Arc<[(String, u8)]>>,
    pub state: AgentState,
    /// Start of the current idle stretch (see [`AgentState::Available`]).
    pub idle_since: Instant,
    /// On another call (reported by `agent_busy`), whatever the state.
    pub busy: bool,
    /// Offers in a row that rang out; reset by an answer or an unpause.
    pub unanswered: u32,
    pub calls_today: u32,
    pub talk_today: Duration,
    pub last_call_end_ms: Option<u64>,
    /// A pause asked for during a call: it starts when the call ends,
    /// instead of wrap-up.
    pub pending_pause: Option<String>,
    /// The call and queue whose wrap-up is running, and when it began.
    pub wrap: Option<(String, String, Instant)>,
    /// When the agent entered its current state (its status or pause
    /// reason last changed): "time in state" on agents' and supervisors'
    /// screens.
    pub state_since: Instant,
}

impl Agent {
    pub fn new(cfg: AgentConfig, now: Instant) -> Self {
        Agent {
            shared_id: cfg.id.as_str().into(),
            shared_skills: shared_skills(&cfg),
            cfg,
            state: AgentState::LoggedOut,
            idle_since: now,
            busy: false,
            unanswered: 0,
            calls_today: 0,
            talk_today: Duration::ZERO,
            last_call_end_ms: None,
            pending_pause: None,
            wrap: None,
            state_since: now,
        }
    }

    pub fn cfg(&self) -> &AgentConfig {
        &self.cfg
    }

    /// Replace the memberships (the id stays).
    pub fn set_cfg(&mut self, cfg: AgentConfig) {
        self.shared_skills = shared_skills(&cfg);
        self.cfg = cfg;
    }

    /// The id, shared.
    pub fn shared_id(&self) -> &Arc<str> {
        &self.shared_id
    }

    /// The skills of the agent's membership of `queue`, shared.
    pub fn shared_skills(&self, queue: &str) -> Option<&Arc<[(String, u8)]>> {
        let i = self.cfg.memberships.iter().position(|m| m.queue == queue)?;
        self.shared_skills.get(i)
    }

    pub fn logged_in(&self) -> bool {
        self.state != AgentState::LoggedOut
    }

    /// Could this agent take a call of `queue` needing `skills` right now?
    pub fn eligible(&self, queue: &str, skills: &[String]) -> bool {
        matches!(self.state, AgentState::Available { .. })
            && self.cfg.membership(queue).is_some_and(|m| {
                skills
                    .iter()
                    .all(|s| m.skills.iter().any(|(k, lvl)| k == s && *lvl > 0))
            })
    }
}

fn shared_skills(cfg: &AgentConfig) -> Vec<Arc<[(String, u8)]>> {
    cfg.memberships
        .iter()
        .map(|m| m.skills.as_slice().into())
        .collect()
}
