//! A caller waiting in a queue: what the session does between the flow's
//! `enqueue` and an agent's answer (or another way out).
//!
//! The session does not pick agents or keep the queue's order: the
//! tenant's queue engine does ([`switchyard_acd`], run by the driver's
//! `queues` service). The session tells it what happens on the call
//! ([`QueueCommand`]) and does what it is told: ring these agents' phones,
//! stop ringing those, announce, let the caller go. Everything the caller
//! hears while waiting — the queue's music, announcements over it — and
//! what an agent's answer means for the call is decided here.
//!
//! ```text
//!  enqueue ─► answer caller, join ─► Queued (music) ─ring agent─► agent legs ringing
//!                                      │  ▲ announce: prompts, then music again
//!                                      │  └─ agent leg failed (reported; the engine moves on)
//!                                      ├─ an agent answers ─► Bridged (recording starts)
//!                                      ├─ exit timeout/full/empty/no-agents/key ─► the flow decides
//!                                      ├─ exit callback chosen ─► confirmation, then hang up
//!                                      └─ caller hangs up ─► abandoned
//! ```

use std::time::{Duration, Instant};

use switchyard_plugins::flow_types::{Enqueue, Event, Prompt, QueueExit as WitExit, QueueResult};
use switchyard_plugins::types::{Disposition, HangupSide};

use super::{Command, Device, LegId, MediaCommand, Phase, Session};
use crate::calls_in_progress::CallState;

/// What the session tells the queue engine about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueCommand {
    /// The caller joins `queue`; `max_wait` is the flow's own limit.
    Join {
        queue: String,
        priority: u8,
        skills: Vec<String>,
        tags: Vec<(String, String)>,
        max_wait: Option<Duration>,
    },
    /// `agent`'s phone answered the offer.
    Answered { agent: String },
    /// `agent`'s phone could not take the offer (busy, declined, no
    /// device, error).
    OfferFailed { agent: String },
    /// The waiting caller pressed `digit`.
    Key(char),
    /// The caller keyed in the number to call back (asked for when the
    /// call's own number cannot be dialled).
    CallbackNumber(String),
    /// The caller hung up while waiting.
    Abandoned,
    /// An answered queue call ended (the agent's wrap-up starts).
    Ended,
}

/// Where an agent (or a supervisor through the API) sends the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// Back into a queue: the caller waits again (with the call's
    /// priority) for the queue's next agent.
    Queue(String),
    /// Another extension (another agent): its phones ring, the caller
    /// hears ringback; nobody answering goes back to the flow.
    Extension(String),
}

/// How a caller's wait ended, as the queue engine says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueExit {
    /// Waited the queue's (or the flow's) longest wait.
    Timeout,
    /// The queue holds its maximum already.
    Full,
    /// Nobody could answer and the queue does not let callers wait.
    NoAgents,
    /// The last agent logged out and the queue empties then.
    Empty,
    /// The caller pressed the leave key.
    Key,
    /// The caller asked to be called back: a placeholder keeps the place.
    CallbackChosen,
}

/// The queued phase's state.
#[derive(Debug)]
pub(super) struct Queued {
    pub queue: String,
    /// Agents' legs ringing for this caller.
    pub offers: Vec<(LegId, String)>,
    /// An announcement playing over the music.
    pub announcing: Option<u64>,
    /// A prompt before the call ends (a callback's confirmation).
    pub farewell: Option<u64>,
    pub since: Instant,
    /// The last key the caller pressed (the flow hears which one left).
    pub last_key: Option<char>,
    /// What the agent who answers hears before the caller is connected.
    pub whisper: Vec<Prompt>,
    /// The caller is keying in a number to be called back on.
    pub keying: Option<Keying>,
    /// The number the callback will dial, once keyed in.
    pub keyed_number: Option<String>,
}

/// A callback number being keyed in: digits until `#`, `*` gives up, and
/// so does a pause longer than [`KEYING_TIMEOUT`]; the music comes back.
#[derive(Debug)]
pub(super) struct Keying {
    pub digits: String,
    /// The request to key in, while it plays.
    pub prompt: Option<u64>,
    pub deadline: Instant,
}

/// How long the caller may pause while keying in a number.
const KEYING_TIMEOUT: Duration = Duration::from_secs(15);

/// The tag the queue engine reads for the callback number.
const CALLBACK_NUMBER_TAG: &str = "callback-number";

/// Whether `number` can be dialled back: an extension or a phone number
/// (2 to 15 digits, `+` first allowed), not `anonymous` or a SIP name.
pub fn dialable(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl Session {
    /// The flow's `enqueue`: the host answers the caller (without media
    /// it cannot hold a caller: the flow hears `queue-overflow`), the
    /// caller hears the queue's music and joins.
    pub(super) fn enqueue(&mut self, now: Instant, e: Enqueue) {
        if !self.answer_caller(now) {
            tracing::warn!(call = %self.snapshot.call_id, queue = %e.queue, "a queue needs anchored media");
            let result = QueueResult {
                queue: e.queue,
                reason: WitExit::NoAgents,
                waited_seconds: 0,
                key: None,
            };
            return self.decide(now, None, Event::QueueFinished(result));
        }
        self.enqueued = Some(e.clone());
        let caller = self.caller;
        let mut tags: Vec<(String, String)> = self
            .snapshot
            .tags
            .iter()
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (t.clone(), String::new()),
            })
            .collect();
        // A number that cannot be dialled is not given: the engine asks
        // the caller to key one in when they want a callback.
        if dialable(&self.snapshot.caller.number) {
            tags.push((
                CALLBACK_NUMBER_TAG.into(),
                self.snapshot.caller.number.clone(),
            ));
        }
        self.commands.push_back(Command::Queue(QueueCommand::Join {
            queue: e.queue.clone(),
            priority: e.priority,
            skills: e.skills,
            tags,
            max_wait: e.timeout_secs.map(|s| Duration::from_secs(u64::from(s))),
        }));
        self.media(MediaCommand::QueueMusic {
            leg: caller,
            queue: e.queue.clone(),
        });
        // Until an agent answers, the caller was not served.
        self.disposition = Disposition::NoAnswer;
        self.live(CallState::Queued, None);
        self.phase = Phase::Queued(Queued {
            queue: e.queue,
            offers: Vec::new(),
            announcing: None,
            farewell: None,
            since: now,
            last_key: None,
            whisper: Vec::new(),
            keying: None,
            keyed_number: None,
        });
    }

    /// The queue engine offers the caller to `agent`, whose devices are
    /// `devices`: their phones ring (none: the offer fails at once). The
    /// agent who answers hears `whisper` before the caller is connected.
    pub fn handle_queue_offer(
        &mut self,
        now: Instant,
        agent: String,
        devices: Vec<Device>,
        whisper: Vec<Prompt>,
    ) {
        if !matches!(&self.phase, Phase::Queued(q) if q.farewell.is_none()) || devices.is_empty() {
            self.queue_command(QueueCommand::OfferFailed { agent });
            return self.pump(now);
        }
        let mut legs = Vec::new();
        for d in devices {
            legs.push(self.open_leg(now, d));
        }
        if let Phase::Queued(q) = &mut self.phase {
            q.offers
                .extend(legs.into_iter().map(|l| (l, agent.clone())));
            q.whisper = whisper;
        }
        self.pump(now);
    }

    /// Stop ringing `agents` for this caller.
    pub fn handle_queue_cancel(&mut self, now: Instant, agents: &[String]) {
        let Phase::Queued(q) = &mut self.phase else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut q.offers)
            .into_iter()
            .partition(|(_, a)| agents.contains(a));
        q.offers = kept;
        for (leg, _) in gone {
            self.hang_up_leg(leg, 487);
        }
        self.pump(now);
    }

    /// Tell the waiting caller something (position, estimated wait, the
    /// comfort message): over the music, which comes back after.
    pub fn handle_queue_announce(&mut self, now: Instant, prompts: Vec<Prompt>) {
        let Phase::Queued(q) = &self.phase else {
            return;
        };
        if q.announcing.is_some()
            || q.farewell.is_some()
            || q.keying.is_some()
            || prompts.is_empty()
        {
            return;
        }
        let caller = self.caller;
        self.media(MediaCommand::Stop { leg: caller });
        let id = self.play(caller, prompts);
        if let Phase::Queued(q) = &mut self.phase {
            q.announcing = Some(id);
        }
        self.pump(now);
    }

    /// The caller asked for a callback but the call's number cannot be
    /// dialled: `prompts` ask for one (digits, then `#`), over nothing.
    pub fn handle_callback_number_wanted(&mut self, now: Instant, prompts: Vec<Prompt>) {
        let Phase::Queued(q) = &self.phase else {
            return;
        };
        if q.farewell.is_some() || q.keying.is_some() {
            return;
        }
        let caller = self.caller;
        self.media(MediaCommand::Stop { leg: caller });
        let prompt = (!prompts.is_empty()).then(|| self.play(caller, prompts));
        if let Phase::Queued(q) = &mut self.phase {
            q.announcing = None;
            q.keying = Some(Keying {
                digits: String::new(),
                prompt,
                deadline: now + KEYING_TIMEOUT,
            });
        }
        self.pump(now);
    }

    /// The number a callback chosen now will dial: the one keyed in, else
    /// the caller's own.
    pub fn callback_number(&self) -> Option<String> {
        match &self.phase {
            Phase::Queued(q) if q.keyed_number.is_some() => q.keyed_number.clone(),
            _ => {
                dialable(&self.snapshot.caller.number).then(|| self.snapshot.caller.number.clone())
            }
        }
    }

    /// When keying in a number gives up.
    pub(super) fn queue_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Queued(q) => q.keying.as_ref().map(|k| k.deadline),
            _ => None,
        }
    }

    /// The keying-in pause ran out: the caller waits on, with music.
    pub(super) fn queue_timeout(&mut self, now: Instant) {
        if self.queue_deadline().is_some_and(|t| now >= t) {
            self.stop_keying();
        }
    }

    /// Keying in ends without a number: back to the music.
    fn stop_keying(&mut self) {
        let Phase::Queued(q) = &mut self.phase else {
            return;
        };
        if q.keying.take().is_none() {
            return;
        }
        let queue = q.queue.clone();
        let caller = self.caller;
        self.media(MediaCommand::Stop { leg: caller });
        self.media(MediaCommand::QueueMusic { leg: caller, queue });
    }

    /// The caller's wait ended without an agent: the flow decides what
    /// comes next, or (a callback chosen) the caller hears `farewell` and
    /// the host hangs up.
    pub fn handle_queue_exit(&mut self, now: Instant, exit: QueueExit, farewell: Vec<Prompt>) {
        let Phase::Queued(q) = &mut self.phase else {
            return;
        };
        let queue = q.queue.clone();
        let waited = now.saturating_duration_since(q.since);
        let key = q.last_key;
        let offers: Vec<LegId> = q.offers.drain(..).map(|(l, _)| l).collect();
        for leg in offers {
            self.hang_up_leg(leg, 487);
        }
        let caller = self.caller;
        self.media(MediaCommand::Stop { leg: caller });
        tracing::info!(call = %self.snapshot.call_id, %queue, ?exit, "left the queue");
        if exit == QueueExit::CallbackChosen {
            self.disposition = Disposition::NoAnswer;
            if farewell.is_empty() {
                self.end(now, HangupSide::System);
            } else {
                let id = self.play(caller, farewell);
                if let Phase::Queued(q) = &mut self.phase {
                    q.farewell = Some(id);
                }
            }
            return self.pump(now);
        }
        self.live(CallState::Routing, None);
        let reason = match exit {
            QueueExit::Timeout => WitExit::Timeout,
            QueueExit::Full => WitExit::Full,
            QueueExit::NoAgents => WitExit::NoAgents,
            QueueExit::Empty => WitExit::Empty,
            QueueExit::Key => WitExit::Key,
            QueueExit::CallbackChosen => WitExit::CallbackChosen,
        };
        let result = QueueResult {
            queue,
            reason,
            waited_seconds: waited.as_secs().min(u64::from(u32::MAX)) as u32,
            key: (exit == QueueExit::Key)
                .then(|| key.map(String::from))
                .flatten(),
        };
        self.decide(now, None, Event::QueueFinished(result));
        self.pump(now);
    }

    /// Prompts `id` ended while queued: the music again after an
    /// announcement, the end after a farewell. `false`: not ours.
    pub(super) fn queue_played(&mut self, now: Instant, id: u64) -> bool {
        if let Phase::Whispering { agent, id: w } = self.phase
            && w == id
        {
            self.connect_agent(agent);
            return true;
        }
        let Phase::Queued(q) = &mut self.phase else {
            return false;
        };
        if q.farewell == Some(id) {
            self.end(now, HangupSide::System);
            return true;
        }
        if let Some(k) = &mut q.keying
            && k.prompt == Some(id)
        {
            // The request was said; the digits are awaited in silence.
            k.prompt = None;
            return true;
        }
        if q.announcing != Some(id) {
            return false;
        }
        q.announcing = None;
        let queue = q.queue.clone();
        let caller = self.caller;
        self.media(MediaCommand::QueueMusic { leg: caller, queue });
        true
    }

    /// Which agent a ringing leg is an offer of.
    pub(super) fn offer_of(&self, leg: LegId) -> Option<String> {
        match &self.phase {
            Phase::Queued(q) => q
                .offers
                .iter()
                .find(|(l, _)| *l == leg)
                .map(|(_, a)| a.clone()),
            _ => None,
        }
    }

    /// An agent's phone answered: the other offers stop, the caller and
    /// the agent talk, the recording starts.
    pub(super) fn queue_answered(&mut self, now: Instant, id: LegId, sdp: Option<Vec<u8>>) {
        let Phase::Queued(q) = std::mem::replace(&mut self.phase, Phase::Deciding) else {
            return;
        };
        let agent = q
            .offers
            .iter()
            .find(|(l, _)| *l == id)
            .map(|(_, a)| a.clone())
            .unwrap_or_default();
        // The engine releases the other agents it rang (their phones
        // stop here); they did not fail the offer.
        for (leg, _) in &q.offers {
            if *leg != id {
                self.hang_up_leg(*leg, 487);
            }
        }
        if let Some(body) = &sdp
            && let Err(e) = self.sdp.remote_answer(id, body)
        {
            tracing::warn!(call = %self.snapshot.call_id, error = ?e, "the agent's answer is unusable: media may not flow");
        }
        self.stamp_answer(now, id);
        self.queue_command(QueueCommand::Answered {
            agent: agent.clone(),
        });
        self.disposition = Disposition::Answered;
        self.agent = Some(agent);
        self.queue = Some(q.queue);
        self.queue_agent = Some(id);
        if q.whisper.is_empty() {
            return self.connect_agent(id);
        }
        // The agent hears who is calling; the caller hears the music
        // until then.
        let play = self.play(id, q.whisper);
        self.phase = Phase::Whispering {
            agent: id,
            id: play,
        };
    }

    /// The caller and the agent talk; the recording starts.
    fn connect_agent(&mut self, agent: LegId) {
        let caller = self.caller;
        self.media(MediaCommand::Stop { leg: caller });
        self.media(MediaCommand::Connect {
            a: caller,
            b: agent,
        });
        self.media(MediaCommand::StartRecording { leg: caller });
        self.phase = Phase::Bridged {
            members: vec![caller, agent],
            joining: Vec::new(),
        };
        self.live(CallState::Answered, self.agent.clone());
    }

    /// Transfer the caller of a two-party call away from its agent: the
    /// agent's leg is hung up (their queue call ends, wrap-up starts), the
    /// recording pauses and resumes in the same file when the next agent
    /// answers. `Err` says why not.
    pub fn handle_transfer(&mut self, now: Instant, to: TransferTarget) -> Result<(), String> {
        let caller = self.caller;
        let Some(agent) = self.counterpart(caller) else {
            return Err("only a call between the caller and one agent can be transferred".into());
        };
        tracing::info!(call = %self.snapshot.call_id, ?to, "transfer by the API");
        self.media(MediaCommand::Disconnect { leg: agent });
        self.media(MediaCommand::Disconnect { leg: caller });
        self.media(MediaCommand::PauseRecording(true));
        self.agent_left(agent);
        self.hang_up_leg(agent, 200);
        self.leg_ended(now, agent);
        self.release_held(agent);
        // The caller's dialog is the host's again, as in the IVR.
        self.answered_by_host = true;
        self.agent = None;
        self.phase = Phase::Deciding;
        match to {
            TransferTarget::Queue(queue) => {
                let priority = self.enqueued.as_ref().map_or(0, |e| e.priority);
                self.enqueue(
                    now,
                    Enqueue {
                        queue,
                        priority,
                        skills: Vec::new(),
                        timeout_secs: None,
                    },
                );
            }
            TransferTarget::Extension(ext) => {
                self.live(CallState::Ringing, None);
                let dial = switchyard_plugins::flow_types::Dial {
                    targets: vec![switchyard_plugins::flow_types::DialTarget::Extension(ext)],
                    mode: switchyard_plugins::flow_types::DialMode::Simultaneous,
                    ring_timeout_secs: 0,
                    caller_id: None,
                };
                self.resolve(dial, 0, None);
            }
        }
        self.pump(now);
        Ok(())
    }

    /// The agent hung up during the whisper: the engine hears the call
    /// ended for them, and the caller joins the queue again. `false`: not
    /// that case.
    pub(super) fn whispered_agent_left(&mut self, now: Instant, id: LegId) -> bool {
        if !matches!(self.phase, Phase::Whispering { agent, .. } if agent == id) {
            return false;
        }
        self.leg_ended(now, id);
        self.agent_left(id);
        self.agent = None;
        self.queue = None;
        self.phase = Phase::Deciding;
        match self.enqueued.clone() {
            Some(e) => self.enqueue(now, e),
            None => self.end(now, HangupSide::Callee),
        }
        true
    }

    /// An agent's leg failed before answering: the engine hears it (and
    /// rings the next agent, if it has one).
    pub(super) fn queue_offer_failed(&mut self, id: LegId) {
        let Phase::Queued(q) = &mut self.phase else {
            return;
        };
        let Some(pos) = q.offers.iter().position(|(l, _)| *l == id) else {
            return;
        };
        let (_, agent) = q.offers.remove(pos);
        // One failed device of several does not fail the agent.
        if !q.offers.iter().any(|(_, a)| *a == agent) {
            self.queue_command(QueueCommand::OfferFailed { agent });
        }
    }

    /// A key while waiting goes to the engine (leave, callback keys).
    pub(super) fn queue_digit(&mut self, now: Instant, digit: char) -> bool {
        let Phase::Queued(q) = &mut self.phase else {
            return false;
        };
        if q.farewell.is_some() {
            return false;
        }
        if let Some(k) = &mut q.keying {
            let stop_prompt = k.prompt.take().is_some();
            k.deadline = now + KEYING_TIMEOUT;
            match digit {
                '#' if dialable(&k.digits) => {
                    let number = std::mem::take(&mut k.digits);
                    q.keying = None;
                    q.keyed_number = Some(number.clone());
                    // The engine answers with the exit (callback chosen);
                    // the confirmation says this number back.
                    self.queue_command(QueueCommand::CallbackNumber(number));
                }
                '#' | '*' => self.stop_keying(),
                d if k.digits.len() < 15 => {
                    k.digits.push(d);
                    if stop_prompt {
                        let caller = self.caller;
                        self.media(MediaCommand::Stop { leg: caller });
                    }
                }
                _ => {}
            }
            return true;
        }
        q.last_key = Some(digit);
        self.queue_command(QueueCommand::Key(digit));
        true
    }

    /// The call ends while queued (the caller hung up, the operator): the
    /// engine counts it abandoned.
    pub(super) fn queue_ending(&mut self) {
        match &self.phase {
            Phase::Queued(q) if q.farewell.is_none() => self.queue_command(QueueCommand::Abandoned),
            _ => {
                if let Some(leg) = self.queue_agent {
                    self.agent_left(leg);
                }
            }
        }
    }

    /// Leg `id` left the call: if it is the queue's agent, the engine
    /// hears the queue call ended for them.
    pub(super) fn agent_left(&mut self, id: LegId) {
        if self.queue_agent == Some(id) {
            self.queue_agent = None;
            self.queue_command(QueueCommand::Ended);
        }
    }

    fn queue_command(&mut self, c: QueueCommand) {
        self.commands.push_back(Command::Queue(c));
    }
}
