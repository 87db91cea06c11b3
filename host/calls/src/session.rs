//! What the tenant's flow does with a call's legs — a **session** — as a
//! state machine with no I/O and no clock inside.
//!
//! A session owns any number of [`Leg`]s: the caller's first (or, for
//! click-to-call and callbacks, a party we dial first), then every party
//! the flow dials or a transfer brings in. Its inputs are leg traffic
//! (`handle_request`, `handle_response`…), media events, timers and the
//! flow plugin's decisions; its outputs are [`Command`]s the thin driver
//! carries out: send SIP, ask the plugin, resolve dial targets, operate
//! media, write the record.
//!
//! Where things are decided, once for every state:
//!
//! * a flow action becomes legs, media and timers in [`Session::run_actions`];
//! * a leg's event (answered, failed, hung up, cancelled, offer, refer…)
//!   means what [`Session::on_leg_event`] says; a REFER with `Replaces`
//!   (attended transfer) moves a party between two sessions (`attended`);
//! * what ends the call — the caller's CANCEL or BYE, an operator's hang-up,
//!   an RTP timeout, Timer H, the maximum duration — goes through
//!   [`Session::end`], which knows what to cancel, BYE or answer in each
//!   phase and which side hung up.
//!
//! ```text
//!  new ─► Deciding ──decision──► run actions ─┬─► Playing / Gathering / Pausing / Recording ─event─► Deciding
//!            ▲                                ├─► Resolving ─devices─► Ringing ─answer─► Bridged ─REFER─► Resolving
//!            │                                │                          │ all failed / ring timeout      │
//!            └────────── dial-finished ◄──────┴──────────────────────────┘◄─────────── transfer failed ───┘
//!  any phase ─end(why)─► Ending (flow's hangup event, record) ─record written─► Done (held BYEs/answers go out)
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use switchyard_plugins::flow_types::{
    Action, Decision, Dial, DialMode, DialOutcome, DialResult, DialTarget, Event, Gather, Gathered,
    HangupBy, HangupInfo, Prompt, RejectReason, TransferOutcome, TransferResult,
};
use switchyard_plugins::types::{CallSnapshot, Disposition, HangupSide, LegRecord};
use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::transaction::TransactionKey;

use crate::calls_in_progress::CallState;
use crate::leg::{Leg, LegEvent, Out, Replaces, ReqId};

mod attended;
mod conference;
mod monitor;
mod pickup;
mod queue;
mod sdp;
mod three_way;
pub use attended::{HandOver, Moving};
pub use conference::ConferenceCommand;
pub use monitor::{MonitorMode, MonitorRecord};
pub use queue::{QueueCommand, QueueExit, TransferTarget};
pub use sdp::{Endpoint, Negotiator, PassThrough, Renegotiation};

/// A leg of a session: the same id names its media endpoint.
pub use switchyard_media::LegId;

/// Where a dial target rings: one registered device, a SIP URI, or a
/// number through a trunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// The target as the flow named it (`1002`, a number): the record's
    /// and the flow's name for the leg.
    pub label: String,
    /// A complete INVITE for the device without a body (the driver built
    /// it: Request-URI, From with our tag, To, Call-ID, CSeq, Contact,
    /// caller ID rules of the trunk).
    pub invite: Message,
    pub peer: Peer,
    /// Our Contact for this leg.
    pub contact: String,
    /// The party's SRTP policy (its extension's or trunk's).
    pub srtp: switchyard_sdp::SrtpPolicy,
}

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Most plugin decisions one call may take (a flow looping between
    /// `goto-flow`s is cut off).
    pub max_decisions: usize,
    /// Ring time when a dial gives none.
    pub default_ring: Duration,
    /// No call lasts longer (from its start).
    pub max_duration: Option<Duration>,
    /// The longest voicemail message.
    pub voicemail_max: Duration,
    /// Timer H (64·T1): how long a 2xx we send waits for its ACK.
    pub ack_timeout: Duration,
    /// The tenant's queue extensions (number → queue): a blind transfer
    /// to one puts the caller into that queue.
    pub queue_extensions: std::sync::Arc<HashMap<String, String>>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_decisions: 64,
            default_ring: Duration::from_secs(30),
            max_duration: Some(crate::DEFAULT_MAX_CALL_DURATION),
            voicemail_max: Duration::from_secs(180),
            ack_timeout: switchyard_sip::timers::TimerConfig::default().transaction_timeout(),
            queue_extensions: Default::default(),
        }
    }
}

/// What the caller hears while the host holds the call.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Play prompts to a leg; `played(id)` comes back when they end.
    Play {
        leg: LegId,
        prompts: Vec<Prompt>,
        id: u64,
    },
    /// Ringback tone to a leg, looping, until stopped.
    Ringback {
        leg: LegId,
    },
    /// Music on hold to a leg, looping, until stopped.
    MusicOnHold {
        leg: LegId,
    },
    /// Stop whatever is played to a leg.
    Stop {
        leg: LegId,
    },
    /// Put two legs in one bridge: each hears the other.
    Connect {
        a: LegId,
        b: LegId,
    },
    /// Take a leg out of its bridge.
    Disconnect {
        leg: LegId,
    },
    /// `leg`'s keys are commands to the host (a supervisor's): never
    /// passed on to those who hear it.
    KeepKeys {
        leg: LegId,
    },
    /// Whether `listener` hears `source`, both in the call's bridge
    /// (supervision's matrix).
    Hears {
        listener: LegId,
        source: LegId,
        on: bool,
    },
    /// Record what a leg says (voicemail, record-audio); ends with
    /// `message_ended`.
    StartMessage {
        leg: LegId,
        max: Duration,
        finish_key: Option<char>,
        kind: MessageKind,
    },
    /// The call ended while a message was recorded: keep what was said
    /// (a caller who hangs up after speaking has left a voicemail).
    StopMessage {
        leg: LegId,
    },
    /// A mailbox's greeting (the flow's, else the mailbox's own, else the
    /// default) then a beep; `played(id)` comes back when it ends.
    PlayGreeting {
        leg: LegId,
        mailbox: String,
        greeting: Option<Prompt>,
        id: u64,
    },
    /// The music of `queue` to a waiting caller, looping, until stopped
    /// (one shared stream per queue).
    QueueMusic {
        leg: LegId,
        queue: String,
    },
    /// Start the call recording (by the tenant's rules) with `leg` on the
    /// left channel.
    StartRecording {
        leg: LegId,
    },
    PauseRecording(bool),
    /// The leg left the call: free its endpoint.
    Close {
        leg: LegId,
    },
}

/// What a recorded message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// The flow's `record-audio`: `record-finished` goes back to it.
    RecordAudio,
    /// A voicemail for `mailbox`: stored, announced, and the call ends.
    Voicemail { mailbox: String },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send SIP on a leg (a [`ReqId`] names its client transaction).
    Sip {
        leg: LegId,
        out: Out,
    },
    /// Ask the flow plugin; answer with [`Session::handle_decision`]
    /// (the tenant's fallback decision when the plugin fails). `pin`
    /// names a flow to switch to first (`goto-flow`).
    Decide {
        pin: Option<String>,
        event: Event,
        state: Option<Vec<u8>>,
    },
    /// Find the devices of dial targets; answer with
    /// [`Session::handle_devices`]. `caller_id` is the number the dial
    /// asks to present; `transfer` marks an agent's REFER, whose target
    /// is an extension if the tenant has one by that name, else a number.
    Resolve {
        targets: Vec<DialTarget>,
        caller_id: Option<String>,
        transfer: bool,
    },
    /// Find credentials for a challenged leg (a trunk's); answer with
    /// [`Session::handle_credentials`].
    Authorize {
        leg: LegId,
        invite: Message,
        challenge: Message,
    },
    Media(MediaCommand),
    /// Tell the tenant's queue engine about the waiting caller.
    Queue(QueueCommand),
    /// Ask the tenant's conference service (see `conference`).
    Conference(ConferenceCommand),
    /// Find the devices of `target` (an extension, else a number) and
    /// ring them into the bridge ([`Session::add_parties`]): three-way
    /// calling.
    AddParty {
        target: String,
    },
    /// Party `label` (an extension, or a number) answered and joined the
    /// bridge.
    Joined {
        label: String,
    },
    /// An attended transfer: ask the call that owns the dialog
    /// `replaces` names to hand over the party on its other side
    /// (`referrer` must be a party of that dialog); answer with
    /// [`Session::take_over`] or [`Session::handle_replace_failed`].
    Replace {
        leg: LegId,
        replaces: Replaces,
        referrer: String,
    },
    Live {
        state: CallState,
        agent: Option<String>,
    },
    /// A supervisor started monitoring `agent` or switched mode, or
    /// (`None`) left.
    Monitoring {
        supervisor: String,
        agent: String,
        mode: Option<MonitorMode>,
    },
    /// Tell the flow the call ended (its answer is ignored).
    HangupEvent(HangupInfo),
    /// The call is over: store this record, then call
    /// [`Session::handle_record_written`].
    WriteRecord(Box<Record>),
    /// Nothing more will come from this session.
    Finished,
}

/// The call record as the session knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub snapshot: CallSnapshot,
    pub end_time: u64,
    pub disposition: Disposition,
    pub hangup_by: Option<HangupSide>,
    pub sip_code: u16,
    pub agent: Option<String>,
    /// The queue whose agent took the call.
    pub queue: Option<String>,
    pub legs: Vec<LegRecord>,
    /// Who supervised the call, in which modes, for how long.
    pub monitors: Vec<MonitorRecord>,
}

/// Why a call ends from outside its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// An operator or supervisor through the API.
    Operator,
    /// A leg sent no RTP for the timeout.
    RtpTimeout(LegId),
    /// The maximum call duration ran out.
    MaxDuration,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the plugin.
    Deciding,
    /// The first leg is one we dial and it has not answered yet.
    Originating {
        deadline: Instant,
    },
    Playing {
        id: u64,
    },
    Gathering(GatherState),
    Pausing {
        until: Instant,
    },
    /// A prompt before a message (a voicemail greeting, record-audio's
    /// beep); the message starts when it ends.
    Prelude {
        id: u64,
        max: Duration,
        finish_key: Option<char>,
        kind: MessageKind,
    },
    Recording {
        kind: MessageKind,
    },
    /// Waiting for the driver to resolve the targets of dial group
    /// `group`.
    Resolving {
        dial: Dial,
        group: usize,
        /// A transfer by the agent (REFER), not the flow's dial.
        transfer_from: Option<LegId>,
    },
    Ringing(Ringing),
    /// The caller waits in a queue (see `queue`).
    Queued(queue::Queued),
    /// The queue's agent answered and hears the whisper (play `id`);
    /// the caller still hears the music.
    Whispering {
        agent: LegId,
        id: u64,
    },
    /// The caller is in (or on the way into) a conference room.
    Conference(conference::InRoom),
    /// Legs talking in one bridge (the caller among them, unless it
    /// left a call of three or more).
    Bridged {
        members: Vec<LegId>,
        /// Parties being dialled into the bridge (a three-way call).
        joining: Vec<LegId>,
    },
    /// The flow's `hangup` event and the record are under way.
    Ending,
    Done,
}

#[derive(Debug)]
struct GatherState {
    gather: Gather,
    digits: String,
    /// The prompts are still playing (the first-digit timer starts when
    /// they end).
    play_id: Option<u64>,
    deadline: Option<Instant>,
}

#[derive(Debug)]
struct Ringing {
    dial: Dial,
    group: usize,
    legs: Vec<LegId>,
    deadline: Instant,
    codes: Vec<u16>,
    transfer_from: Option<LegId>,
}

struct Party {
    leg: Leg,
    /// Index in the record's legs (`None` for the caller).
    record: Option<usize>,
    label: String,
}

pub struct Session {
    config: SessionConfig,
    caller: LegId,
    parties: BTreeMap<LegId, Party>,
    next_leg: u32,
    /// ReqId of a leg → which leg (the driver reports responses by leg).
    phase: Phase,
    sdp: Box<dyn Negotiator + Send>,
    snapshot: CallSnapshot,
    flow_state: Option<Vec<u8>>,
    decisions: usize,
    /// Actions of the current decision not run yet.
    actions: VecDeque<Action>,
    /// The actions run to their end without asking the plugin: it failed
    /// (the tenant's fallback runs) or the API scripted the call
    /// (click-to-call).
    scripted: bool,
    next_media_id: u64,
    /// The instant and wall-clock time the session started: every time
    /// stamp is derived from these and `now`, one clock for the call.
    start: Instant,
    start_ms: u64,
    /// The host answered the caller (200 sent).
    answered_by_host: bool,
    disposition: Disposition,
    hangup_by: Option<HangupSide>,
    sip_code: u16,
    agent: Option<String>,
    /// The queue whose agent answered.
    queue: Option<String>,
    /// The leg of the queue's agent who answered: the engine hears when
    /// it leaves the call (the agent's wrap-up starts).
    queue_agent: Option<LegId>,
    /// The flow's last `enqueue`, to join again if the agent who
    /// answered leaves before the caller is connected.
    enqueued: Option<switchyard_plugins::flow_types::Enqueue>,
    legs: Vec<LegRecord>,
    /// Provisional statuses relayed to the caller.
    provisional_sent: Vec<u16>,
    /// SIP that tells a party its call is over: sent once the record is
    /// durable.
    held: Vec<(LegId, Out)>,
    record_written: bool,
    /// The agent's leg whose attended transfer waits for the other
    /// call's party (see `attended`).
    replacing: Option<LegId>,
    /// Legs we re-offered on our own (not a peer's offer passed on):
    /// their answer is only read.
    own_offers: Vec<LegId>,
    /// Supervisors on the call now, and every supervision so far.
    monitors: Vec<monitor::Monitoring>,
    monitor_records: Vec<MonitorRecord>,
    /// Supervisors' phones ringing to join (started by the API).
    ringing_monitors: Vec<monitor::RingingMonitor>,
    /// A party keying in a three-way call's number.
    keying: Option<three_way::Keying>,
    commands: VecDeque<Command>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("call_id", &self.snapshot.call_id)
            .field("phase", &self.phase)
            .finish()
    }
}

impl Session {
    /// A session for an incoming call: `caller` is its leg (authenticated
    /// and admitted, not answered), `snapshot` what the flow sees. The
    /// first command asks the flow about `call-started`.
    pub fn incoming(
        now: Instant,
        now_ms: u64,
        caller: Leg,
        snapshot: CallSnapshot,
        sdp: Box<dyn Negotiator + Send>,
        config: SessionConfig,
    ) -> Session {
        let mut s = Session::with_first_leg(now, now_ms, caller, None, snapshot, sdp, config);
        s.live(CallState::Routing, None);
        s.decide(now, None, Event::CallStarted);
        s
    }

    /// A session for an incoming call that runs `script` without asking
    /// the flow (a feature code's confirmation, say).
    pub fn incoming_scripted(
        now: Instant,
        now_ms: u64,
        caller: Leg,
        snapshot: CallSnapshot,
        sdp: Box<dyn Negotiator + Send>,
        config: SessionConfig,
        script: Vec<Action>,
    ) -> Session {
        let mut s = Session::with_first_leg(now, now_ms, caller, None, snapshot, sdp, config);
        s.scripted = true;
        s.live(CallState::Routing, None);
        s.actions = script.into();
        s.run_actions(now);
        s
    }

    /// A session whose first leg is one we dial (click-to-call, a
    /// callback): `first` rings; when it answers, `script` runs as a
    /// decision would, without the flow plugin (a `dial` of the customer,
    /// usually). The first leg is the session's caller from then on.
    #[allow(clippy::too_many_arguments)]
    pub fn outgoing(
        now: Instant,
        now_ms: u64,
        first: Device,
        ring: Duration,
        snapshot: CallSnapshot,
        mut sdp: Box<dyn Negotiator + Send>,
        config: SessionConfig,
        script: Vec<Action>,
    ) -> Session {
        let mut invite = first.invite;
        if first.peer.transport.is_websocket() {
            sdp.dialling_browser(LegId(0));
        }
        sdp.dialling_srtp(LegId(0), first.srtp);
        if let Some(body) = sdp.offer_to(LegId(0), &snapshot) {
            invite.headers.push("Content-Type", "application/sdp");
            invite.body = body;
        }
        let leg =
            Leg::outgoing(invite, first.peer, first.contact).with_ack_timeout(config.ack_timeout);
        let record = LegRecord {
            target: first.label.clone(),
            start_time: now_ms,
            answer_time: None,
            end_time: 0,
            sip_code: 0,
        };
        let mut s = Session::with_first_leg(now, now_ms, leg, Some(record), snapshot, sdp, config);
        s.scripted = true;
        // The party we rang first is the agent of the call record.
        s.agent = Some(first.label.clone());
        if let Some(p) = s.parties.get_mut(&s.caller) {
            p.label = first.label.clone();
        }
        s.actions = script.into();
        s.phase = Phase::Originating {
            deadline: now + ring,
        };
        s.live(CallState::Ringing, None);
        s.collect_transmits();
        s
    }

    fn with_first_leg(
        now: Instant,
        now_ms: u64,
        first: Leg,
        record: Option<LegRecord>,
        snapshot: CallSnapshot,
        sdp: Box<dyn Negotiator + Send>,
        config: SessionConfig,
    ) -> Session {
        let caller_id = LegId(0);
        let mut parties = BTreeMap::new();
        let legs: Vec<LegRecord> = record.into_iter().collect();
        parties.insert(
            caller_id,
            Party {
                leg: first,
                record: (!legs.is_empty()).then_some(0),
                label: snapshot.caller.number.clone(),
            },
        );
        Session {
            config,
            caller: caller_id,
            parties,
            next_leg: 1,
            phase: Phase::Deciding,
            sdp,
            snapshot,
            flow_state: None,
            decisions: 0,
            actions: VecDeque::new(),
            scripted: false,
            next_media_id: 0,
            start: now,
            start_ms: now_ms,
            answered_by_host: false,
            disposition: Disposition::Failed,
            hangup_by: None,
            sip_code: 0,
            agent: None,
            queue: None,
            queue_agent: None,
            enqueued: None,
            legs,
            provisional_sent: Vec::new(),
            held: Vec::new(),
            record_written: false,
            replacing: None,
            own_offers: Vec::new(),
            monitors: Vec::new(),
            monitor_records: Vec::new(),
            ringing_monitors: Vec::new(),
            keying: None,
            commands: VecDeque::new(),
        }
    }

    /// What the flow sees of the call (tags, answer time, flow).
    pub fn snapshot(&self) -> &CallSnapshot {
        &self.snapshot
    }

    /// The record's legs so far (a leg still up has no end time: 0).
    pub fn legs(&self) -> &[LegRecord] {
        &self.legs
    }

    /// The caller's leg.
    /// Who is on the caller's leg: the caller's number, or for a call the
    /// host placed, the extension or number it rang first.
    pub fn caller_label(&self) -> &str {
        self.parties
            .get(&self.caller)
            .map_or(&self.snapshot.caller.number, |p| &p.label)
    }

    pub fn caller(&self) -> LegId {
        self.caller
    }

    /// The leg whose dialog in-dialog request `req` belongs to.
    pub fn leg_of(&self, req: &Message) -> Option<LegId> {
        self.parties
            .iter()
            .find(|(_, p)| p.leg.owns(req))
            .map(|(id, _)| *id)
    }

    /// The leg whose dialog has Call-ID `call_id`.
    pub fn leg_with_call_id(&self, call_id: &str) -> Option<LegId> {
        self.parties
            .iter()
            .find(|(_, p)| p.leg.call_id() == call_id)
            .map(|(id, _)| *id)
    }

    /// Every Call-ID of the session's legs (the dispatcher routes by them).
    pub fn call_ids(&self) -> impl Iterator<Item = &str> {
        self.parties.values().map(|p| p.leg.call_id())
    }

    /// Some leg we dialled has no final answer yet: a 2xx may still cross
    /// our CANCEL, and its leg must ACK and BYE it.
    pub fn legs_dialing(&self) -> bool {
        self.parties.values().any(|p| p.leg.is_dialing())
    }

    /// The call is over and everything is sent.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The next thing for the driver to do.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.collect_transmits();
        self.commands.pop_front()
    }

    /// When [`Session::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::Pausing { until } => Some(*until),
            Phase::Gathering(g) => g.deadline,
            Phase::Ringing(r) => Some(r.deadline),
            Phase::Originating { deadline } => Some(*deadline),
            Phase::Queued(_) => self.queue_deadline(),
            _ => None,
        };
        let max = match self.phase {
            Phase::Ending | Phase::Done => None,
            _ => self.config.max_duration.map(|d| self.start + d),
        };
        let legs = self.parties.values().filter_map(|p| p.leg.poll_timeout());
        phase
            .into_iter()
            .chain(max)
            .chain(legs)
            .chain(self.monitor_deadline())
            .chain(self.conference_deadline())
            .min()
    }

    // ---- inputs ----------------------------------------------------------

    /// An in-dialog request for leg `leg` (found with [`Session::leg_of`]).
    pub fn handle_request(&mut self, now: Instant, leg: LegId, key: TransactionKey, req: Message) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.handle_request(now, key, req);
        }
        self.pump(now);
    }

    /// The caller's CANCEL.
    pub fn handle_cancel(&mut self, now: Instant) {
        let caller = self.caller;
        if let Some(p) = self.parties.get_mut(&caller) {
            p.leg.handle_cancel();
        }
        self.pump(now);
    }

    /// The ACK for a 2xx on `leg`.
    pub fn handle_ack(&mut self, now: Instant, leg: LegId) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.handle_ack();
        }
        self.pump(now);
    }

    /// The stack's Timer H fired for a 2xx we sent on `leg`.
    pub fn handle_ack_timeout(&mut self, now: Instant, leg: LegId) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.handle_ack_timeout();
        }
        self.pump(now);
    }

    /// A response to client transaction `id` of `leg`.
    pub fn handle_response(&mut self, now: Instant, leg: LegId, id: ReqId, resp: Message) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.handle_response(now, id, resp);
        }
        self.pump(now);
    }

    /// Client transaction `id` of `leg` timed out.
    pub fn handle_request_timeout(&mut self, now: Instant, leg: LegId, id: ReqId) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.handle_request_timeout(id);
        }
        self.pump(now);
    }

    /// The plugin's decision.
    pub fn handle_decision(&mut self, now: Instant, decision: Decision) {
        if !matches!(self.phase, Phase::Deciding) {
            return;
        }
        self.flow_state = decision.state;
        self.actions = decision.actions.into();
        self.run_actions(now);
        self.pump(now);
    }

    /// The plugin failed (trap, timeout, memory, not installed): the
    /// tenant's fallback actions run to their end — a blocking action's
    /// event goes on with the next fallback action instead of asking the
    /// failed plugin again.
    pub fn handle_plugin_failed(&mut self, now: Instant, fallback: Decision) {
        if !matches!(self.phase, Phase::Deciding) {
            return;
        }
        tracing::warn!(call = %self.snapshot.call_id, "flow plugin failed: fallback");
        self.scripted = true;
        self.actions = fallback.actions.into();
        self.run_actions(now);
        self.pump(now);
    }

    /// The devices the last [`Command::Resolve`] found (none: nobody to
    /// ring).
    pub fn handle_devices(&mut self, now: Instant, devices: Vec<Device>) {
        let Phase::Resolving {
            dial,
            group,
            transfer_from,
        } = std::mem::replace(&mut self.phase, Phase::Deciding)
        else {
            return;
        };
        self.ring(now, dial, group, transfer_from, devices);
        self.pump(now);
    }

    /// Credentials for a challenged leg: the INVITE again with them, or
    /// `None` (the leg fails).
    pub fn handle_credentials(
        &mut self,
        now: Instant,
        leg: LegId,
        invite: Option<Message>,
        status: u16,
    ) {
        if let Some(p) = self.parties.get_mut(&leg) {
            match invite {
                Some(inv) => p.leg.retry(inv),
                None => p.leg.give_up(status),
            }
        }
        self.pump(now);
    }

    /// A key pressed on `leg` (RFC 4733 or SIP INFO).
    pub fn handle_digit(&mut self, now: Instant, leg: LegId, digit: char) {
        if self.monitor_key(leg, digit) || self.three_way_key(now, leg, digit) {
        } else if leg == self.caller {
            self.caller_digit(now, digit);
        }
        self.pump(now);
    }

    /// Prompts with `id` finished playing.
    pub fn handle_played(&mut self, now: Instant, id: u64) {
        if self.queue_played(now, id) || self.conference_played(now, id) {
            return self.pump(now);
        }
        match &mut self.phase {
            Phase::Playing { id: p } if *p == id => {
                self.decide(now, None, Event::PlayFinished);
            }
            Phase::Prelude { id: p, .. } if *p == id => {
                let Phase::Prelude {
                    max,
                    finish_key,
                    kind,
                    ..
                } = std::mem::replace(&mut self.phase, Phase::Deciding)
                else {
                    unreachable!()
                };
                self.start_message(max, finish_key, kind);
            }
            Phase::Gathering(g) if g.play_id == Some(id) => {
                g.play_id = None;
                g.deadline =
                    Some(now + Duration::from_millis(u64::from(g.gather.first_digit_timeout_ms)));
            }
            _ => {}
        }
        self.pump(now);
    }

    /// A message recording (record-audio, voicemail) ended and was stored.
    pub fn handle_message_ended(
        &mut self,
        now: Instant,
        recording: switchyard_plugins::flow_types::Recording,
    ) {
        match &self.phase {
            Phase::Recording {
                kind: MessageKind::RecordAudio,
            } => self.decide(now, None, Event::RecordFinished(recording)),
            Phase::Recording {
                kind: MessageKind::Voicemail { .. },
            } => {
                // Left: the host hangs up (the flow hears `hangup`).
                self.phase = Phase::Deciding;
                self.disposition = Disposition::Voicemail;
                self.end(now, HangupSide::System);
            }
            _ => {}
        }
        self.pump(now);
    }

    /// Something from outside ends the call.
    pub fn handle_end(&mut self, now: Instant, why: EndReason) {
        tracing::info!(call = %self.snapshot.call_id, ?why, "ending the call");
        self.end(now, HangupSide::System);
        self.pump(now);
    }

    /// Timers: the phase's and the legs'.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self
            .config
            .max_duration
            .is_some_and(|d| now >= self.start + d)
            && !matches!(self.phase, Phase::Ending | Phase::Done)
        {
            self.handle_end(now, EndReason::MaxDuration);
            return;
        }
        for p in self.parties.values_mut() {
            if p.leg.poll_timeout().is_some_and(|t| now >= t) {
                p.leg.handle_timeout(now);
            }
        }
        self.queue_timeout(now);
        self.monitor_timeout(now);
        self.conference_timeout(now);
        match &mut self.phase {
            Phase::Pausing { until } if now >= *until => {
                self.phase = Phase::Deciding;
                self.run_actions(now);
            }
            Phase::Gathering(g) if g.deadline.is_some_and(|t| now >= t) => {
                let digits = std::mem::take(&mut g.digits);
                let event = if digits.is_empty() {
                    Event::GatherTimeout
                } else {
                    Event::Digits(Gathered {
                        digits,
                        finished_by_key: false,
                    })
                };
                self.decide(now, None, event);
            }
            Phase::Originating { deadline } if now >= *deadline => {
                self.disposition = Disposition::NoAnswer;
                self.hang_up_leg(self.caller, 487);
                self.end(now, HangupSide::System);
            }
            Phase::Ringing(r) if now >= r.deadline => {
                let legs = r.legs.clone();
                for l in legs {
                    self.hang_up_leg(l, 487);
                }
                if let Phase::Ringing(r) = &mut self.phase {
                    r.codes.push(480);
                    r.deadline = now + Duration::from_secs(3600);
                }
                self.ring_exhausted(now, Some(DialOutcome::NoAnswer));
            }
            _ => {}
        }
        self.pump(now);
    }

    /// The record is durable: what was held goes out.
    pub fn handle_record_written(&mut self, now: Instant) {
        self.record_written = true;
        for (leg, out) in std::mem::take(&mut self.held) {
            self.commands.push_back(Command::Sip { leg, out });
        }
        self.phase = Phase::Done;
        self.commands.push_back(Command::Finished);
        let _ = now;
    }

    // ---- inside ----------------------------------------------------------

    fn wall_ms(&self, now: Instant) -> u64 {
        self.start_ms + now.saturating_duration_since(self.start).as_millis() as u64
    }

    fn live(&mut self, state: CallState, agent: Option<String>) {
        self.commands.push_back(Command::Live { state, agent });
    }

    fn decide(&mut self, now: Instant, pin: Option<String>, event: Event) {
        if matches!(self.phase, Phase::Ending | Phase::Done) {
            return;
        }
        if self.scripted && pin.is_none() {
            self.phase = Phase::Deciding;
            return self.run_actions(now);
        }
        self.scripted = false;
        self.decisions += 1;
        if self.decisions > self.config.max_decisions {
            tracing::warn!(call = %self.snapshot.call_id, "flow took too many decisions: ending the call");
            self.actions.clear();
            self.phase = Phase::Deciding;
            self.finish_flow(now);
            return;
        }
        if let Some(flow) = &pin {
            self.snapshot.flow = flow.clone();
            self.flow_state = None;
        }
        self.phase = Phase::Deciding;
        let state = self.flow_state.take();
        self.commands
            .push_back(Command::Decide { pin, event, state });
    }

    /// Run the decision's actions in order until one blocks (it produces
    /// the event that resumes the flow) or the call ends.
    fn run_actions(&mut self, now: Instant) {
        while let Some(action) = self.actions.pop_front() {
            if matches!(self.phase, Phase::Ending | Phase::Done) {
                return;
            }
            match action {
                Action::SetTag(tag) => self.snapshot.tags.push(tag),
                Action::Answer => {
                    self.answer_caller(now);
                }
                // Without media the host cannot answer: what a media
                // action would have waited for comes at once (nothing was
                // played, heard or recorded).
                Action::Play(_) if !self.answer_caller(now) => {
                    return self.decide(now, None, Event::PlayFinished);
                }
                Action::Gather(_) if !self.answer_caller(now) => {
                    return self.decide(now, None, Event::GatherTimeout);
                }
                Action::RecordAudio(_) if !self.answer_caller(now) => {
                    let nothing = switchyard_plugins::flow_types::Recording {
                        id: String::new(),
                        duration_ms: 0,
                        finished_by_key: None,
                    };
                    return self.decide(now, None, Event::RecordFinished(nothing));
                }
                Action::Voicemail(v) if !self.answer_caller(now) => {
                    tracing::warn!(call = %self.snapshot.call_id, mailbox = %v.mailbox, "voicemail needs anchored media: 480");
                    return self.end(now, HangupSide::System);
                }
                Action::Play(prompts) => {
                    let id = self.play(self.caller, prompts);
                    self.phase = Phase::Playing { id };
                    return;
                }
                Action::Gather(g) => {
                    let play_id =
                        (!g.prompts.is_empty()).then(|| self.play(self.caller, g.prompts.clone()));
                    let deadline = play_id
                        .is_none()
                        .then(|| now + Duration::from_millis(u64::from(g.first_digit_timeout_ms)));
                    self.phase = Phase::Gathering(GatherState {
                        gather: g,
                        digits: String::new(),
                        play_id,
                        deadline,
                    });
                    return;
                }
                Action::Pause(ms) => {
                    self.phase = Phase::Pausing {
                        until: now + Duration::from_millis(u64::from(ms)),
                    };
                    return;
                }
                Action::RecordAudio(r) => {
                    let max = Duration::from_secs(u64::from(r.max_seconds));
                    let kind = MessageKind::RecordAudio;
                    if r.beep {
                        let id = self.play(
                            self.caller,
                            vec![Prompt::Tone(switchyard_plugins::flow_types::Tone::Beep)],
                        );
                        self.phase = Phase::Prelude {
                            id,
                            max,
                            finish_key: r.finish_on_key,
                            kind,
                        };
                    } else {
                        self.start_message(max, r.finish_on_key, kind);
                    }
                    return;
                }
                Action::Voicemail(v) => {
                    self.live(CallState::Voicemail, None);
                    self.next_media_id += 1;
                    let id = self.next_media_id;
                    self.media(MediaCommand::PlayGreeting {
                        leg: self.caller,
                        mailbox: v.mailbox.clone(),
                        greeting: v.greeting,
                        id,
                    });
                    self.phase = Phase::Prelude {
                        id,
                        max: self.config.voicemail_max,
                        finish_key: Some('#'),
                        kind: MessageKind::Voicemail { mailbox: v.mailbox },
                    };
                    return;
                }
                Action::Dial(dial) => {
                    self.resolve(dial, 0, None);
                    return;
                }
                Action::Enqueue(e) => {
                    self.enqueue(now, e);
                    return;
                }
                Action::Conference(c) => {
                    self.conference(now, c);
                    return;
                }
                Action::GotoFlow(flow) => {
                    self.actions.clear();
                    self.decide(now, Some(flow), Event::CallStarted);
                    return;
                }
                Action::Reject(reason) => {
                    let (code, d) = match reason {
                        RejectReason::Busy => (486, Disposition::Busy),
                        RejectReason::Decline => (603, Disposition::Rejected),
                        RejectReason::Unavailable => (480, Disposition::Rejected),
                    };
                    if !self.answered_by_host {
                        self.disposition = d;
                        self.sip_code = code;
                        self.caller_leg().reject(code, "");
                    }
                    return self.end(now, HangupSide::System);
                }
                Action::Hangup => {
                    if !self.answered_by_host {
                        self.disposition = Disposition::Rejected;
                    }
                    return self.end(now, HangupSide::System);
                }
                other => {
                    tracing::warn!(call = %self.snapshot.call_id, action = ?other, "action not available yet: ending the call");
                    return self.end(now, HangupSide::System);
                }
            }
        }
        // The plugin has nothing more to do with the call: it ends, as
        // Twilio ends a finished TwiML document.
        if matches!(self.phase, Phase::Deciding) {
            self.end(now, HangupSide::System);
        }
    }

    fn start_message(&mut self, max: Duration, finish_key: Option<char>, kind: MessageKind) {
        let leg = self.caller;
        self.media(MediaCommand::StartMessage {
            leg,
            max,
            finish_key,
            kind: kind.clone(),
        });
        self.phase = Phase::Recording { kind };
    }

    fn caller_leg(&mut self) -> &mut Leg {
        let caller = self.caller;
        &mut self.parties.get_mut(&caller).expect("the caller's leg").leg
    }

    fn media(&mut self, m: MediaCommand) {
        self.commands.push_back(Command::Media(m));
    }

    fn play(&mut self, leg: LegId, prompts: Vec<Prompt>) -> u64 {
        self.next_media_id += 1;
        let id = self.next_media_id;
        self.media(MediaCommand::Play { leg, prompts, id });
        id
    }

    /// The host answers the caller itself (IVR, voicemail…); `false`
    /// when it cannot: without anchored media the host has no SDP of its
    /// own, and a 200 without one would be no answer to the caller's
    /// offer.
    fn answer_caller(&mut self, now: Instant) -> bool {
        if self.answered_by_host {
            return true;
        }
        if self.caller_leg().is_final_sent() {
            return false;
        }
        let Some(body) = self.sdp.answer_caller() else {
            return false;
        };
        self.caller_leg().answer(now, Some(body));
        self.answered_by_host = true;
        self.live(CallState::Ivr, None);
        self.sip_code = 200;
        self.snapshot.answer_time = Some(self.wall_ms(now));
        true
    }

    fn caller_digit(&mut self, now: Instant, digit: char) {
        if self.queue_digit(now, digit) || self.conference_digit(now, digit) {
            return;
        }
        let Phase::Gathering(g) = &mut self.phase else {
            return;
        };
        let finish = g.gather.finish_on_key;
        if g.play_id.take().is_some() {
            // A key stops the prompt (barge-in).
            let caller = self.caller;
            self.media(MediaCommand::Stop { leg: caller });
        }
        self.gather_key(now, digit, finish);
    }

    fn gather_key(&mut self, now: Instant, digit: char, finish: Option<char>) {
        let Phase::Gathering(g) = &mut self.phase else {
            return;
        };
        if Some(digit) == finish {
            let digits = std::mem::take(&mut g.digits);
            return self.decide(
                now,
                None,
                Event::Digits(Gathered {
                    digits,
                    finished_by_key: true,
                }),
            );
        }
        g.digits.push(digit);
        if g.digits.len() >= usize::from(g.gather.max_digits.max(1)) {
            let digits = std::mem::take(&mut g.digits);
            return self.decide(
                now,
                None,
                Event::Digits(Gathered {
                    digits,
                    finished_by_key: false,
                }),
            );
        }
        g.deadline = Some(now + Duration::from_millis(u64::from(g.gather.inter_digit_timeout_ms)));
    }

    /// The targets of dial group `group` (one per target when sequential,
    /// all at once when simultaneous).
    fn group_targets(dial: &Dial, group: usize) -> Option<Vec<DialTarget>> {
        match dial.mode {
            DialMode::Simultaneous => (group == 0).then(|| dial.targets.clone()),
            DialMode::Sequential => dial.targets.get(group).map(|t| vec![t.clone()]),
        }
    }

    fn resolve(&mut self, dial: Dial, group: usize, transfer_from: Option<LegId>) {
        let Some(targets) = Self::group_targets(&dial, group) else {
            return;
        };
        self.commands.push_back(Command::Resolve {
            targets,
            caller_id: dial.caller_id.clone(),
            transfer: transfer_from.is_some(),
        });
        self.phase = Phase::Resolving {
            dial,
            group,
            transfer_from,
        };
    }

    fn ring(
        &mut self,
        now: Instant,
        dial: Dial,
        group: usize,
        transfer_from: Option<LegId>,
        devices: Vec<Device>,
    ) {
        let ring = if dial.ring_timeout_secs == 0 {
            self.config.default_ring
        } else {
            Duration::from_secs(u64::from(dial.ring_timeout_secs))
        };
        let mut legs = Vec::new();
        for d in devices {
            legs.push(self.open_leg(now, d));
        }
        let nobody = legs.is_empty();
        self.phase = Phase::Ringing(Ringing {
            dial,
            group,
            legs,
            deadline: now + ring,
            codes: Vec::new(),
            transfer_from,
        });
        if nobody {
            if let Phase::Ringing(r) = &mut self.phase {
                r.codes.push(480);
            }
            return self.ring_exhausted(now, Some(DialOutcome::Failed));
        }
        self.live(CallState::Ringing, None);
        // A caller the host answered hears ringback from us: no 180 can
        // reach it any more.
        if self.answered_by_host {
            let caller = self.caller;
            self.media(MediaCommand::Ringback { leg: caller });
        }
    }

    /// A new leg towards `d`, with our offer; its INVITE goes out.
    fn open_leg(&mut self, now: Instant, d: Device) -> LegId {
        self.legs.push(LegRecord {
            target: d.label.clone(),
            start_time: self.wall_ms(now),
            answer_time: None,
            end_time: 0,
            sip_code: 0,
        });
        let id = self.open_party(d);
        if let Some(p) = self.parties.get_mut(&id) {
            p.record = Some(self.legs.len() - 1);
        }
        id
    }

    /// Dial a device, as a party outside the record's legs (a
    /// supervisor's phone).
    fn open_party(&mut self, d: Device) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        let mut invite = d.invite;
        if d.peer.transport.is_websocket() {
            self.sdp.dialling_browser(id);
        }
        self.sdp.dialling_srtp(id, d.srtp);
        if let Some(body) = self.sdp.offer_to(id, &self.snapshot) {
            invite.headers.push("Content-Type", "application/sdp");
            invite.body = body;
        }
        let leg =
            Leg::outgoing(invite, d.peer, d.contact).with_ack_timeout(self.config.ack_timeout);
        self.parties.insert(
            id,
            Party {
                leg,
                record: None,
                label: d.label,
            },
        );
        id
    }

    fn stamp_answer(&mut self, now: Instant, id: LegId) {
        let at = self.wall_ms(now);
        if let Some(i) = self.parties.get(&id).and_then(|p| p.record) {
            self.legs[i].answer_time = Some(at);
            self.legs[i].sip_code = 200;
        }
    }

    /// Every leg of the ringing group failed, or its ring time ran out:
    /// the next group, or the flow hears how the dial ended.
    fn ring_exhausted(&mut self, now: Instant, outcome: Option<DialOutcome>) {
        let Phase::Ringing(r) = std::mem::replace(&mut self.phase, Phase::Deciding) else {
            return;
        };
        let code = pick_code(&r.codes);
        let outcome = outcome
            .filter(|o| *o == DialOutcome::NoAnswer)
            .unwrap_or_else(|| outcome_of(code));
        if Self::group_targets(&r.dial, r.group + 1).is_some() {
            return self.resolve(r.dial, r.group + 1, r.transfer_from);
        }
        if self.answered_by_host {
            let caller = self.caller;
            self.media(MediaCommand::Stop { leg: caller });
        } else {
            self.sip_code = code;
        }
        let result = DialResult {
            outcome,
            answered_by: None,
            sip_code: code,
            talk_seconds: 0,
        };
        if r.transfer_from.is_some() {
            // The transfer target did not take the call: back to the flow.
            self.live(CallState::Routing, None);
            return self.decide(
                now,
                None,
                Event::TransferResult(TransferResult {
                    outcome: TransferOutcome::Failed,
                    sip_code: code,
                }),
            );
        }
        self.disposition = match outcome {
            DialOutcome::Busy => Disposition::Busy,
            DialOutcome::NoAnswer => Disposition::NoAnswer,
            _ => Disposition::Failed,
        };
        self.decide(now, None, Event::DialFinished(result));
    }

    /// End a leg: CANCEL, BYE or nothing, as its state needs; its record
    /// gets `code` if it never had one.
    fn hang_up_leg(&mut self, leg: LegId, code: u16) {
        if let Some(p) = self.parties.get_mut(&leg) {
            p.leg.hang_up("");
            if let Some(i) = p.record
                && let Some(r) = self.legs.get_mut(i)
                && r.sip_code == 0
            {
                r.sip_code = code;
            }
        }
    }

    /// Hang up a party that answered but is not wanted (too late, or its
    /// answer unusable): its BYE goes now when the call goes on without
    /// it, instead of being held for the call's record at the end, which
    /// would leave the party in a silent call until then.
    fn hang_up_late(&mut self, leg: LegId, code: u16) {
        self.hang_up_leg(leg, code);
        if !matches!(self.phase, Phase::Ending | Phase::Done) && leg != self.caller {
            self.release_held(leg);
        }
    }

    /// Drain every leg's events until nothing new happens.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            let ids: Vec<LegId> = self.parties.keys().copied().collect();
            for id in ids {
                // What the leg sends goes out before what its events
                // cause (the callee's ACK before the caller's 200).
                self.collect_transmits_of(id);
                while let Some(ev) = self.parties.get_mut(&id).and_then(|p| p.leg.poll_event()) {
                    progressed = true;
                    self.on_leg_event(now, id, ev);
                }
            }
            if !progressed {
                break;
            }
        }
        self.collect_transmits();
    }

    /// Move the legs' SIP into commands, holding what ends a call until
    /// the record is durable.
    fn collect_transmits(&mut self) {
        // Called on every poll: no list of ids is built.
        for (id, p) in self.parties.iter_mut() {
            route_transmits(
                *id,
                &mut p.leg,
                self.record_written,
                &mut self.held,
                &mut self.commands,
            );
        }
    }

    fn collect_transmits_of(&mut self, id: LegId) {
        if let Some(p) = self.parties.get_mut(&id) {
            route_transmits(
                id,
                &mut p.leg,
                self.record_written,
                &mut self.held,
                &mut self.commands,
            );
        }
    }

    /// What a leg's event means for the call — decided here for every
    /// phase.
    fn on_leg_event(&mut self, now: Instant, id: LegId, ev: LegEvent) {
        let is_caller = id == self.caller;
        if is_caller && matches!(self.phase, Phase::Originating { .. }) {
            return self.first_leg_event(now, ev);
        }
        if self.monitor_rings(id) {
            return self.monitor_leg_event(now, id, ev);
        }
        match ev {
            LegEvent::Progress { status, sdp } => self.callee_progress(id, status, sdp),
            LegEvent::Answered { sdp } if self.offer_of(id).is_some() => {
                self.queue_answered(now, id, sdp)
            }
            LegEvent::Answered { sdp } => self.callee_answered(now, id, sdp),
            LegEvent::Failed { status } => {
                self.queue_offer_failed(id);
                self.callee_failed(now, id, status)
            }
            LegEvent::Challenged { response } => {
                if let Some(p) = self.parties.get(&id) {
                    let invite = p.leg.invite().clone();
                    self.commands.push_back(Command::Authorize {
                        leg: id,
                        invite,
                        challenge: response,
                    });
                }
            }
            LegEvent::Cancelled => {
                self.disposition = Disposition::Cancelled;
                self.sip_code = 487;
                self.end(now, HangupSide::Caller);
            }
            LegEvent::HungUp => {
                let side = if is_caller {
                    HangupSide::Caller
                } else {
                    HangupSide::Callee
                };
                if self.is_member(id) {
                    self.member_left(now, id, side);
                } else if is_caller {
                    if !self.answered_by_host {
                        self.disposition = Disposition::Cancelled;
                    }
                    self.end(now, HangupSide::Caller);
                } else if self.whispered_agent_left(now, id) {
                } else {
                    // A leg that already left (a transferor's late BYE):
                    // only its own record changes, and it hears at once.
                    self.leg_ended(now, id);
                    self.release_held(id);
                }
            }
            LegEvent::AckTimeout | LegEvent::SessionExpired => {
                if self.is_member(id) {
                    self.member_left(now, id, HangupSide::System);
                } else if is_caller {
                    self.end(now, HangupSide::System);
                }
            }
            LegEvent::Offer { sdp, .. } => self.renegotiate(now, id, sdp),
            LegEvent::OfferAnswered { sdp } if self.own_offers.contains(&id) => {
                self.own_offer_answered(id, sdp)
            }
            LegEvent::OfferFailed { status } if self.own_offers.contains(&id) => {
                self.own_offers.retain(|l| *l != id);
                tracing::warn!(call = %self.snapshot.call_id, leg = id.0, status, "our re-offer failed: media may not flow");
            }
            LegEvent::OfferAnswered { sdp } => self.offer_answered(now, id, sdp),
            LegEvent::OfferFailed { status } => self.offer_failed(id, status),
            LegEvent::Digit(d) => {
                if self.monitor_key(id, d) || self.three_way_key(now, id, d) {
                } else if is_caller {
                    self.caller_digit(now, d);
                }
            }
            LegEvent::Refer {
                target,
                replaces: Some(replaces),
            } => self.attended_refer(id, target, replaces),
            LegEvent::Refer { target, .. } => self.refer(now, id, target),
            LegEvent::Closed => {
                self.leg_ended(now, id);
                // A party that left a call that goes on is answered now.
                let going_on = !matches!(self.phase, Phase::Ending | Phase::Done);
                if going_on && id != self.caller && !self.is_member(id) {
                    self.release_held(id);
                }
            }
        }
    }

    /// The first leg we dialled answered or failed.
    fn first_leg_event(&mut self, now: Instant, ev: LegEvent) {
        match ev {
            LegEvent::Answered { sdp } => {
                let first = self.caller;
                if let Some(body) = &sdp
                    && let Err(e) = self.sdp.remote_answer(first, body)
                {
                    tracing::warn!(call = %self.snapshot.call_id, error = ?e, "the first party's answer is unusable");
                }
                self.stamp_answer(now, first);
                // Its dialog is up: the host holds it as it holds an
                // answered caller (ringback, prompts, then the bridge).
                self.answered_by_host = true;
                self.sip_code = 200;
                self.snapshot.answer_time = Some(self.wall_ms(now));
                self.phase = Phase::Deciding;
                self.live(CallState::Routing, None);
                self.run_actions(now);
            }
            LegEvent::Failed { status } => {
                if let Some(i) = self.parties.get(&self.caller).and_then(|p| p.record) {
                    self.legs[i].sip_code = status;
                }
                self.sip_code = status;
                self.disposition = match outcome_of(status) {
                    DialOutcome::Busy => Disposition::Busy,
                    DialOutcome::NoAnswer => Disposition::NoAnswer,
                    _ => Disposition::Failed,
                };
                self.end(now, HangupSide::System);
            }
            LegEvent::Challenged { response } => {
                let invite = self.caller_leg().invite().clone();
                let leg = self.caller;
                self.commands.push_back(Command::Authorize {
                    leg,
                    invite,
                    challenge: response,
                });
            }
            LegEvent::Closed => self.leg_ended(now, self.caller),
            _ => {}
        }
    }

    fn callee_progress(&mut self, id: LegId, status: u16, sdp: Option<Vec<u8>>) {
        if !matches!(&self.phase, Phase::Ringing(r) if r.legs.contains(&id)) {
            return;
        }
        let early = sdp.is_some_and(|b| self.sdp.remote_answer(id, &b).is_ok());
        if self.answered_by_host {
            // Early media from the callee replaces our ringback.
            if early {
                let caller = self.caller;
                self.media(MediaCommand::Stop { leg: caller });
                self.media(MediaCommand::Connect { a: caller, b: id });
            }
            return;
        }
        if status == 100 || self.provisional_sent.contains(&status) && !early {
            return;
        }
        self.provisional_sent.push(status);
        let body = if early {
            let caller = self.caller;
            self.media(MediaCommand::Connect { a: caller, b: id });
            self.sdp.caller_answer_for(id)
        } else {
            None
        };
        self.caller_leg().progress(status, body);
    }

    fn callee_answered(&mut self, now: Instant, id: LegId, sdp: Option<Vec<u8>>) {
        if matches!(&self.phase, Phase::Bridged { joining, .. } if joining.contains(&id)) {
            return self.joiner_answered(now, id, sdp);
        }
        let Phase::Ringing(r) = &self.phase else {
            // Not ringing any more (answered elsewhere, caller gone): the
            // late answer is hung up.
            return self.hang_up_late(id, 200);
        };
        if !r.legs.contains(&id) {
            return self.hang_up_late(id, 200);
        }
        // An answer we cannot use (plain RTP from a party that must use
        // SRTP, no codec in common) would be a call nobody hears: the
        // party is hung up and counts as one that refused, so the others
        // ring on and the flow hears the failure, as Asterisk and
        // FreeSWITCH end a call whose answer does not negotiate.
        if let Some(body) = &sdp
            && let Err(status) = self.sdp.remote_answer(id, body)
        {
            tracing::warn!(call = %self.snapshot.call_id, status, "callee's answer unusable: hung up");
            self.hang_up_late(id, status);
            return self.callee_failed(now, id, status);
        }
        let Phase::Ringing(r) = &self.phase else {
            return;
        };
        let others: Vec<LegId> = r.legs.iter().copied().filter(|l| *l != id).collect();
        let transfer_from = r.transfer_from;
        for o in others {
            self.hang_up_leg(o, 487);
        }
        let label = self.parties.get(&id).map(|p| p.label.clone());
        self.stamp_answer(now, id);
        let caller = self.caller;
        self.answer_caller_with(now, id);
        self.media(MediaCommand::Connect { a: caller, b: id });
        if transfer_from.is_none() || self.agent.is_none() {
            self.media(MediaCommand::StartRecording { leg: caller });
        } else {
            self.media(MediaCommand::PauseRecording(false));
        }
        if let Some(from) = transfer_from
            && let Some(p) = self.parties.get_mut(&from)
        {
            // The transfer is done: the transferor hears so, and its
            // leg ends (as Asterisk and FreeSWITCH end it; a phone that
            // sends its own BYE first crosses ours harmlessly).
            p.leg.notify_refer("SIP/2.0 200 OK", true);
            p.leg.hang_up("");
            self.release_held(from);
        }
        self.disposition = Disposition::Answered;
        if self.agent.is_none() || transfer_from.is_some() {
            self.agent = label.clone();
        }
        self.phase = Phase::Bridged {
            members: vec![caller, id],
            joining: Vec::new(),
        };
        self.live(CallState::Answered, self.agent.clone());
    }

    /// Party `id` answered for the caller: a caller the host holds stops
    /// hearing ringback; one still ringing gets its 200 with the answer
    /// for `id`.
    fn answer_caller_with(&mut self, now: Instant, id: LegId) {
        if self.answered_by_host {
            let caller = self.caller;
            self.media(MediaCommand::Stop { leg: caller });
        } else {
            let body = self.sdp.caller_answer_for(id);
            self.caller_leg().answer(now, body);
            self.sip_code = 200;
            self.snapshot.answer_time = Some(self.wall_ms(now));
        }
    }

    fn callee_failed(&mut self, now: Instant, id: LegId, status: u16) {
        if let Some(i) = self.parties.get(&id).and_then(|p| p.record)
            && self.legs[i].sip_code == 0
        {
            self.legs[i].sip_code = status;
        }
        if let Phase::Bridged { joining, .. } = &mut self.phase {
            joining.retain(|j| *j != id);
            return;
        }
        let Phase::Ringing(r) = &mut self.phase else {
            return;
        };
        if !r.legs.contains(&id) {
            return;
        }
        r.codes.push(status);
        r.legs.retain(|l| *l != id);
        if let Some(from) = r.transfer_from
            && r.legs.is_empty()
            && let Some(p) = self.parties.get_mut(&from)
        {
            p.leg.notify_refer(
                &format!(
                    "SIP/2.0 {status} {}",
                    switchyard_sip::message::build::reason_phrase(status)
                ),
                true,
            );
        }
        if r.legs.is_empty() {
            self.ring_exhausted(now, None);
        }
    }

    /// A leg's dialog is over: stamp its record, free its media.
    fn leg_ended(&mut self, now: Instant, id: LegId) {
        if let Some(i) = self.parties.get(&id).and_then(|p| p.record)
            && self.legs[i].end_time == 0
        {
            self.legs[i].end_time = self.wall_ms(now);
        }
        self.monitor_left(now, id);
        if id != self.caller {
            self.media(MediaCommand::Close { leg: id });
        }
    }

    /// A leg offered new SDP (hold, resume). Bridged: passed on to the
    /// other party, whose answer comes back; otherwise answered here.
    fn renegotiate(&mut self, now: Instant, id: LegId, sdp: Vec<u8>) {
        let other = self.counterpart(id);
        match self.sdp.reoffer(id, other, &sdp) {
            Ok(Renegotiation::Answer(body)) => {
                if let Some(p) = self.parties.get_mut(&id) {
                    p.leg.answer_offer(now, Some(body));
                }
                self.hold_music(id);
            }
            Ok(Renegotiation::Forward(offer)) => {
                let other = other.expect("forwarded only to a party");
                if let Some(p) = self.parties.get_mut(&other) {
                    p.leg.offer(offer);
                }
            }
            Err(code) => {
                if let Some(p) = self.parties.get_mut(&id) {
                    p.leg.refuse_offer(code);
                }
            }
        }
    }

    /// Our re-INVITE to `id` was answered: answer the offer it carried.
    fn offer_answered(&mut self, now: Instant, id: LegId, sdp: Option<Vec<u8>>) {
        let Some(from) = self.counterpart(id) else {
            return;
        };
        let answer = sdp.and_then(|b| self.sdp.reanswered(from, id, &b).ok());
        if let Some(p) = self.parties.get_mut(&from) {
            match answer {
                Some(body) => p.leg.answer_offer(now, Some(body)),
                None => p.leg.refuse_offer(488),
            }
        }
        self.hold_music(from);
    }

    fn offer_failed(&mut self, id: LegId, status: u16) {
        let Some(from) = self.counterpart(id) else {
            return;
        };
        if let Some(p) = self.parties.get_mut(&from) {
            p.leg.refuse_offer(if status == 491 { 491 } else { 488 });
        }
    }

    /// After `leg` renegotiated: if it holds the others, they hear music on
    /// hold and the recording pauses; when it resumes, back to the bridge.
    fn hold_music(&mut self, leg: LegId) {
        let Phase::Bridged { members, .. } = &self.phase else {
            return;
        };
        let held: Vec<LegId> = members.iter().copied().filter(|m| *m != leg).collect();
        let holds = self.sdp.holds(leg);
        for h in held {
            self.media(if holds {
                MediaCommand::MusicOnHold { leg: h }
            } else {
                MediaCommand::Stop { leg: h }
            });
        }
        self.media(MediaCommand::PauseRecording(holds));
    }

    /// A blind transfer asked by the agent: it leaves (its BYE comes when
    /// it likes), the caller hears ringback while the target rings, and
    /// the agent hears how it went (RFC 3515 NOTIFYs).
    fn refer(&mut self, now: Instant, id: LegId, target: String) {
        // A blind transfer moves the caller: only its one counterpart
        // may ask for it.
        if id == self.caller || self.counterpart(id) != Some(self.caller) {
            if let Some(p) = self.parties.get_mut(&id) {
                p.leg.refuse_refer(403, "Only The Agent Transfers");
            }
            return;
        }
        if let Some(queue) = self.config.queue_extensions.get(&target).cloned() {
            // A queue's extension: the caller waits in the queue again
            // (as a transfer through the API does); the agent is told the
            // transfer worked and is hung up.
            if let Some(p) = self.parties.get_mut(&id) {
                p.leg.accept_refer();
                p.leg.notify_refer("SIP/2.0 200 OK", true);
            }
            tracing::info!(call = %self.snapshot.call_id, %target, %queue, "blind transfer into a queue");
            let _ = self.handle_transfer(now, queue::TransferTarget::Queue(queue));
            return;
        }
        self.agent_left(id);
        if let Some(p) = self.parties.get_mut(&id) {
            p.leg.accept_refer();
        }
        tracing::info!(call = %self.snapshot.call_id, %target, "blind transfer");
        let caller = self.caller;
        self.media(MediaCommand::Disconnect { leg: id });
        self.media(MediaCommand::Disconnect { leg: caller });
        self.media(MediaCommand::PauseRecording(true));
        // The caller's dialog is the host's again, as in the IVR.
        self.answered_by_host = true;
        self.live(CallState::Ringing, None);
        let dial = Dial {
            targets: vec![DialTarget::Extension(target)],
            mode: DialMode::Simultaneous,
            ring_timeout_secs: 0,
            caller_id: None,
        };
        self.resolve(dial, 0, Some(id));
        let _ = now;
    }

    /// A leg left a call that goes on: what it was told is not held
    /// for the record (which comes when the whole call ends).
    fn release_held(&mut self, id: LegId) {
        self.collect_transmits_of(id);
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(l, _)| *l == id);
        self.held = rest;
        for (leg, out) in mine {
            self.commands.push_back(Command::Sip { leg, out });
        }
    }

    fn is_member(&self, id: LegId) -> bool {
        matches!(&self.phase, Phase::Bridged { members, .. } if members.contains(&id))
    }

    /// The one leg `id` talks to, in a bridge of two.
    fn counterpart(&self, id: LegId) -> Option<LegId> {
        match &self.phase {
            Phase::Bridged { members, .. } if members.len() == 2 && members.contains(&id) => {
                members.iter().copied().find(|m| *m != id)
            }
            _ => None,
        }
    }

    /// A member of the bridge left: the others keep talking while two or
    /// more are left; the last one is hung up.
    fn member_left(&mut self, now: Instant, id: LegId, side: HangupSide) {
        let Phase::Bridged { members, .. } = &mut self.phase else {
            return;
        };
        members.retain(|m| *m != id);
        let left = members.len();
        self.agent_left(id);
        self.leg_ended(now, id);
        if left >= 2 {
            tracing::info!(call = %self.snapshot.call_id, leg = id.0, left, "a party left the bridge");
            self.media(MediaCommand::Disconnect { leg: id });
            return self.release_held(id);
        }
        self.end(now, side);
    }

    /// Dial `device` into the bridge (a three-way call): when it answers
    /// it hears everyone and everyone hears it. `None` when the call is
    /// not bridged.
    pub fn add_party(&mut self, now: Instant, device: Device) -> Option<LegId> {
        if !matches!(self.phase, Phase::Bridged { .. }) {
            return None;
        }
        let id = self.open_leg(now, device);
        if let Phase::Bridged { joining, .. } = &mut self.phase {
            joining.push(id);
        }
        self.pump(now);
        Some(id)
    }

    /// A party dialled into the bridge answered or failed.
    fn joiner_answered(&mut self, now: Instant, id: LegId, sdp: Option<Vec<u8>>) {
        if let Some(body) = &sdp
            && let Err(e) = self.sdp.remote_answer(id, body)
        {
            tracing::warn!(call = %self.snapshot.call_id, error = ?e, "the party's answer is unusable");
        }
        self.stamp_answer(now, id);
        let Phase::Bridged { members, joining } = &mut self.phase else {
            return;
        };
        joining.retain(|j| *j != id);
        let anchor = members[0];
        members.push(id);
        self.media(MediaCommand::Connect { a: anchor, b: id });
        if let Some(p) = self.parties.get(&id) {
            self.commands.push_back(Command::Joined {
                label: p.label.clone(),
            });
        }
        self.others_joining_stop(id);
        self.reapply_monitors();
    }

    /// The call ends: `side` hung up. Whatever is ringing is cancelled,
    /// whoever is connected is hung up, an unanswered caller gets its
    /// final answer; then the flow hears `hangup` and the record is
    /// written.
    fn end(&mut self, now: Instant, side: HangupSide) {
        if matches!(self.phase, Phase::Ending | Phase::Done) {
            return;
        }
        self.hangup_by.get_or_insert(side);
        self.queue_ending();
        self.conference_ending();
        if let Phase::Recording { kind } = &self.phase {
            // What the caller said before hanging up is kept.
            if matches!(kind, MessageKind::Voicemail { .. }) {
                self.disposition = Disposition::Voicemail;
            }
            let leg = self.caller;
            self.media(MediaCommand::StopMessage { leg });
        }
        self.finish_flow(now);
    }

    /// Tell the flow and write the record.
    fn finish_flow(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Ending | Phase::Done) {
            return;
        }
        // The flow ended the call unless somebody else did first.
        self.hangup_by.get_or_insert(HangupSide::System);
        let ids: Vec<LegId> = self.parties.keys().copied().collect();
        for id in ids {
            if id == self.caller {
                if !self.caller_leg().is_final_sent() {
                    if self.sip_code < 300 {
                        self.sip_code = 480;
                    }
                    let code = self.sip_code;
                    self.caller_leg().reject(code, "");
                } else {
                    self.caller_leg().hang_up("");
                }
            } else {
                self.hang_up_leg(id, 487);
            }
        }
        self.phase = Phase::Ending;
        let end = self.wall_ms(now);
        for l in self.legs.iter_mut().filter(|l| l.end_time == 0) {
            l.end_time = end;
        }
        let by = match self.hangup_by {
            Some(HangupSide::Caller) => HangupBy::Caller,
            Some(HangupSide::Callee) => HangupBy::Callee,
            _ => HangupBy::System,
        };
        self.commands.push_back(Command::HangupEvent(HangupInfo {
            by,
            at: end,
            sip_code: self.sip_code,
        }));
        let record = Record {
            snapshot: self.snapshot.clone(),
            end_time: end,
            disposition: self.disposition,
            hangup_by: self.hangup_by,
            sip_code: self.sip_code,
            agent: self.agent.clone(),
            queue: self.queue.clone(),
            legs: self.legs.clone(),
            monitors: self.monitor_records(end),
        };
        self.commands
            .push_back(Command::WriteRecord(Box::new(record)));
        self.collect_transmits();
    }
}

/// Move `leg`'s SIP into commands, holding what ends a call until the
/// record is durable.
fn route_transmits(
    id: LegId,
    leg: &mut Leg,
    record_written: bool,
    held: &mut Vec<(LegId, Out)>,
    commands: &mut VecDeque<Command>,
) {
    while let Some(out) = leg.poll_transmit() {
        if out.ends_call && !record_written {
            held.push((id, out));
        } else {
            commands.push_back(Command::Sip { leg: id, out });
        }
    }
}

/// The code that best describes why nobody answered (RFC 3261 §16.7's
/// spirit: busy beats the rest).
pub(crate) fn pick_code(codes: &[u16]) -> u16 {
    for preferred in [486, 600, 603, 480, 408] {
        if codes.contains(&preferred) {
            return preferred;
        }
    }
    codes.iter().copied().min().unwrap_or(480)
}

pub(crate) fn outcome_of(code: u16) -> DialOutcome {
    match code {
        486 | 600 | 603 => DialOutcome::Busy,
        408 | 480 | 487 => DialOutcome::NoAnswer,
        _ => DialOutcome::Failed,
    }
}

#[cfg(test)]
mod tests;
