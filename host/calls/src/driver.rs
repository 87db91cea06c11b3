//! The thin tokio driver around a [`Session`]: the only async code of a
//! call. It feeds the session what arrives (SIP from the dispatcher and
//! the stack's client transactions, media events, the plugin's decisions,
//! resolved devices, the clock) and carries out the [`Command`]s the
//! session returns: SIP to the stack, media operations to the call's
//! [`Anchor`], flow invocations to the tenant's runtime, the record to
//! the store. It decides nothing about the call itself.
//!
//! ```text
//!  dispatcher ─CallMsg─┐      stack client events ─┐   media events ─┐
//!                      ▼                           ▼                  ▼
//!                  Driver::run ── handle_* ──► Session ── poll_command ──► execute
//!                      ▲   plugin decisions, devices, stored messages (work)   │
//!                      └───────────────────────────────────────────────────────┘
//! ```
//!
//! An incoming call is admitted first ([`admit`]): authenticated, under
//! its caps, with an offer the host can answer; click-to-call starts a
//! session whose first leg is the agent's phone ([`start_outgoing`]).

mod admit;
mod devices;
mod record;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use switchyard_media::{MediaEvent, MessageEnd, PlayItem};
use switchyard_plugins::flow_types::{
    Action, Decision, Dial, DialMode, DialTarget, Event, Recording,
};
use switchyard_plugins::types::{CallSnapshot, Direction, Notice, NoticeKind, Party};
use switchyard_plugins::{Pinned, PluginFailure};
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use switchyard_store::{CdrRepo, RegistrationRepo};
use switchyard_transport::ClientEvent;
use tokio::sync::mpsc;

use crate::anchor::Anchor;
use crate::audio;
use crate::calls_in_progress::{CallState, LiveCallInfo};
use crate::leg::{Leg, ReqId, Transmit};
use crate::metrics::Metrics;
use crate::notices;
use crate::session::{
    Command, Device, HandOver, LegId, MediaCommand, MessageKind, MonitorMode, Moving, Negotiator,
    PassThrough, Record, Session, SessionConfig,
};
use crate::trunk::{GateTicket, Trunk};
use crate::{CallMsg, Shared, Tenant};
use switchyard_clock::unix_ms;

pub(crate) use devices::{device_peer, random_token};
pub(crate) use record::unanswered_names;

/// How long the first party of a click-to-call rings.
const ORIGINATE_RING: Duration = Duration::from_secs(30);

/// The longest a finished call waits for its legs to settle: Timer B /
/// F (64·T1) and a margin.
const LINGER: Duration = Duration::from_secs(40);

/// The caller's leg (the first leg of every session).
const FIRST: LegId = LegId(0);

/// Our Contact, per transport: `<sip:USER@our-address;transport=…>`.
#[derive(Clone)]
pub(crate) struct Contacts {
    by_transport: [String; Transport::ALL.len()],
}

impl Contacts {
    fn new(shared: &Shared, user: &str) -> Contacts {
        let contact = |t: Transport| {
            let addr = shared.stack.advertised_addr(t);
            match t.uri_param() {
                Some(param) => format!("<sip:{user}@{addr};transport={param}>"),
                None => format!("<sip:{user}@{addr}>"),
            }
        };
        Contacts {
            by_transport: Transport::ALL.map(contact),
        }
    }

    pub(crate) fn on(&self, t: Transport) -> String {
        let i = Transport::ALL
            .iter()
            .position(|x| *x == t)
            .expect("every transport is in ALL");
        self.by_transport[i].clone()
    }
}

fn session_config(shared: &Shared, tenant: &Tenant) -> SessionConfig {
    SessionConfig {
        max_duration: shared.settings.max_call_duration,
        ack_timeout: shared.settings.ack_timeout,
        queue_extensions: tenant.contact_centre.queue_extensions.clone(),
        ..SessionConfig::default()
    }
}

/// Route `call_id`'s requests to `tx`.
fn own(shared: &Shared, call_id: &str, tx: &mpsc::UnboundedSender<CallMsg>) {
    shared
        .calls
        .lock()
        .expect("calls lock")
        .insert(call_id.to_string(), tx.clone());
}

/// Start the call of a new INVITE.
pub(crate) fn start_incoming(
    shared: Arc<Shared>,
    key: TransactionKey,
    invite: Message,
    peer: Peer,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let call_id = invite.call_id().to_string();
    own(&shared, &call_id, &tx);
    tokio::spawn(async move {
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let start_ms = unix_ms();
        let Some(admitted) = admit::admit(&shared, &key, &invite, peer, FIRST, start_ms, media_tx)
        else {
            // Refused and answered; the INVITE that answers our 407 has
            // the same Call-ID and may have a task of its own by now.
            disown(&shared, [call_id.as_str()], &tx);
            return;
        };
        let contacts = Contacts::new(&shared, &admitted.snapshot.dialled);
        let caller = Leg::incoming(
            key,
            invite.clone(),
            peer,
            contacts.on(peer.transport),
            devices::random_token(),
            shared.settings.ack_timeout,
        );
        let negotiator: Box<dyn Negotiator + Send> = match &admitted.anchor {
            Some(a) => Box::new(a.clone()),
            None => Box::new(PassThrough::new(invite.body.clone())),
        };
        crate::call_log::started(Some(&admitted.snapshot), peer.addr);
        if let Some(wanted) = pickup_wants(&admitted.tenant, &admitted.snapshot) {
            match shared
                .in_progress
                .ringing_one_of(&admitted.tenant.id, &wanted)
            {
                Some((task, ext)) => {
                    tracing::info!(tenant = %admitted.tenant.id, by = %admitted.snapshot.caller.number, %ext, "pickup");
                    // The ringing call answers this INVITE from now on.
                    own(&shared, &call_id, &task);
                    let label = admitted.snapshot.caller.number.clone();
                    let _ = task.send(CallMsg::Adopt(Box::new(caller), label));
                }
                None => {
                    refuse(&shared, caller, 480, "Nothing To Pick Up");
                    disown(&shared, [call_id.as_str()], &tx);
                }
            }
            if let Some(a) = admitted.anchor {
                a.close().await;
            }
            return;
        }
        if let Some(wanted) = supervise_wants(&admitted.tenant, &admitted.snapshot) {
            let supervisor = admitted.snapshot.caller.number.clone();
            let task = match wanted {
                Ok(agent) => shared
                    .in_progress
                    .answered_with(&admitted.tenant.id, &agent)
                    .map(|task| (task, agent))
                    .ok_or(480),
                Err(code) => Err(code),
            };
            let refused = match task {
                Ok((task, agent)) => {
                    tracing::info!(tenant = %admitted.tenant.id, %supervisor, %agent, "supervise");
                    // The supervised call answers this INVITE from now on.
                    own(&shared, &call_id, &task);
                    let msg = CallMsg::Monitor {
                        leg: Box::new(caller),
                        supervisor,
                        agent,
                        mode: MonitorMode::Listen,
                    };
                    match task.send(msg) {
                        Ok(()) => None,
                        // It ended meanwhile.
                        Err(mpsc::error::SendError(CallMsg::Monitor { leg, .. })) => {
                            Some((*leg, 480))
                        }
                        Err(_) => unreachable!("the message sent comes back"),
                    }
                }
                Err(code) => Some((caller, code)),
            };
            if let Some((caller, code)) = refused {
                tracing::info!(tenant = %admitted.tenant.id, by = %admitted.snapshot.caller.number, dialled = %admitted.snapshot.dialled, code, "supervision refused");
                refuse(&shared, caller, code, "");
                disown(&shared, [call_id.as_str()], &tx);
            }
            if let Some(a) = admitted.anchor {
                a.close().await;
            }
            return;
        }
        let script = feature_code(&shared, &admitted.tenant, &admitted.snapshot)
            .or_else(|| crate::caller_rules::script(&shared, &admitted.tenant, &admitted.snapshot));
        let session = match script {
            Some(script) => Session::incoming_scripted(
                now,
                start_ms,
                caller,
                admitted.snapshot.clone(),
                negotiator,
                session_config(&shared, &admitted.tenant),
                script,
            ),
            None => Session::incoming(
                now,
                start_ms,
                caller,
                admitted.snapshot.clone(),
                negotiator,
                session_config(&shared, &admitted.tenant),
            ),
        };
        let max_forwards = invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .saturating_sub(1);
        // A canary of the flow's plugin takes its share of callers.
        let pinned = admitted
            .tenant
            .runtime
            .pin_flow_for(&admitted.snapshot.flow, &admitted.snapshot.caller.number)
            .ok();
        let driver = Driver::new(
            shared,
            admitted.tenant,
            session,
            (tx, rx),
            admitted.anchor,
            media_rx,
            contacts,
            admitted.tickets,
            max_forwards,
            pinned,
        );
        driver.run_guarded().await;
    });
}

/// Count a flow decision of plugin version `p` (a canary beside its stable
/// version, in `/metrics`).
fn count_version_decision(shared: &Shared, tenant: &str, p: &Pinned, ok: bool) {
    shared
        .metrics
        .plugin_version_decisions
        .get_or_create(&crate::metrics::VersionLabel {
            tenant: tenant.to_string(),
            plugin: p.name.clone(),
            version: p.number.to_string(),
            outcome: if ok { "ok" } else { "failed" }.into(),
        })
        .inc();
}

/// Answer an INVITE that no call takes with `code`.
fn refuse(shared: &Shared, mut leg: Leg, code: u16, reason: &str) {
    leg.reject(code, reason);
    while let Some(out) = leg.poll_transmit() {
        if let Transmit::Respond { key, msg } = out.transmit {
            shared.stack.respond(&key, msg);
        }
    }
}

/// What a supervision code (`*55` + EXT) asks for: the extension to
/// supervise, or the refusal — 403 for an extension without the
/// supervisor flag, 404 for an extension the tenant does not have (or
/// oneself). `None`: not the code, or not dialled by an extension.
fn supervise_wants(tenant: &Tenant, s: &CallSnapshot) -> Option<Result<String, u16>> {
    if s.direction != Direction::Internal {
        return None;
    }
    let me = tenant.extensions.get(&s.caller.number)?;
    let ext = tenant.contact_centre.feature_codes.supervised(&s.dialled)?;
    if !me.supervisor {
        return Some(Err(403));
    }
    if ext == me.number || !tenant.extensions.contains_key(ext) {
        return Some(Err(404));
    }
    Some(Ok(ext.to_string()))
}

/// What a pickup code asks for: `**EXT` the call ringing extension EXT,
/// `*8` a call ringing another member of the caller's pickup group, or,
/// for an extension in no pickup group, of a ring group it is in. `None`:
/// not a pickup code of an extension of this tenant.
fn pickup_wants(tenant: &Tenant, s: &CallSnapshot) -> Option<Vec<String>> {
    if s.direction != Direction::Internal || !tenant.extensions.contains_key(&s.caller.number) {
        return None;
    }
    let me = &s.caller.number;
    if let Some(ext) = s.dialled.strip_prefix("**") {
        return (tenant.extensions.contains_key(ext) && ext != me).then(|| vec![ext.to_string()]);
    }
    if s.dialled == "*8" {
        let group: Vec<String> = match tenant
            .extensions
            .get(me)
            .and_then(|e| e.pickup_group.as_ref())
        {
            Some(g) => tenant
                .extensions
                .values()
                .filter(|e| e.pickup_group.as_ref() == Some(g) && e.number != *me)
                .map(|e| e.number.clone())
                .collect(),
            None => tenant
                .ring_groups
                .values()
                .filter(|members| members.contains(me))
                .flatten()
                .filter(|m| *m != me)
                .cloned()
                .collect(),
        };
        return Some(group);
    }
    None
}

/// An agent's feature code (`*45` log in, `*46` log out, `*47`[n]
/// pause, `*48` unpause, by default): the change is made at once and the
/// script answers with a short confirmation. `None`: not a feature code
/// of an extension of this tenant.
fn feature_code(shared: &Arc<Shared>, tenant: &Tenant, s: &CallSnapshot) -> Option<Vec<Action>> {
    if s.direction != Direction::Internal || !tenant.extensions.contains_key(&s.caller.number) {
        return None;
    }
    let (change, n) = tenant.contact_centre.feature_codes.parse(&s.dialled)?;
    let queues = shared.queues.tenant(shared, &tenant.id);
    let change = match change {
        crate::queues::AgentChange::Pause(_) => {
            crate::queues::AgentChange::Pause(queues.pause_reason(n).unwrap_or_default())
        }
        c => c,
    };
    let prompt = match queues.change_agent(shared, &s.caller.number, change.clone()) {
        Ok(_) => match change {
            crate::queues::AgentChange::Login => "sy-agent-logged-in",
            crate::queues::AgentChange::Logout => "sy-agent-logged-out",
            crate::queues::AgentChange::Pause(_) => "sy-agent-paused",
            crate::queues::AgentChange::Unpause => "sy-agent-unpaused",
        },
        Err(why) => {
            tracing::info!(tenant = %tenant.id, agent = %s.caller.number, dialled = %s.dialled, %why, "feature code refused");
            "sy-feature-failed"
        }
    };
    Some(vec![
        Action::Answer,
        Action::Play(vec![
            switchyard_plugins::flow_types::Prompt::Silence(300),
            switchyard_plugins::flow_types::Prompt::File(prompt.into()),
        ]),
        Action::Hangup,
    ])
}

/// Click-to-call: ring `agent`'s phone; when it answers, dial `number`
/// (an extension, or an outside number through the tenant's trunk). One
/// session like any call: anchored, recorded by the tenant's rules, with
/// a record and reporter notices. Returns the call's id.
pub(crate) fn start_outgoing(
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    agent: &str,
    number: &str,
) -> Result<String, String> {
    let call_id = format!("c2c-{}", devices::random_token());
    crate::call_log::click_to_call_started(&call_id, &tenant.id, agent, number);
    let script = vec![dial_of(&tenant, number)];
    originate(&shared, tenant, agent, number, &call_id, script, None)
}

/// Add `target` to conference `room` (API): an extension's phone rings
/// showing the room calling; a number is called through the tenant's
/// trunk. Answered, it joins the room (no PIN: it was invited).
pub(crate) fn start_conference_add(
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    room: &str,
    target: &str,
) -> Result<String, String> {
    let call_id = format!("conf-add-{}", devices::random_token());
    tracing::info!(tenant = %tenant.id, %room, %target, %call_id, "dialling into a conference");
    let script = vec![Action::Conference(
        switchyard_plugins::flow_types::Conference {
            room: room.to_string(),
            moderator: false,
            muted: false,
        },
    )];
    if tenant.extensions.contains_key(target) {
        return originate(&shared, tenant, target, room, &call_id, script, None);
    }
    let number = target.strip_prefix('+').unwrap_or(target);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{target:?} is neither an extension nor a number"));
    }
    if tenant.trunks.is_empty() {
        return Err("the tenant has no trunk to call a number through".into());
    }
    let (Some(pool), Some(settings)) = (shared.ports.clone(), shared.settings.media.clone()) else {
        return Err("dialling out needs media anchoring (serve with --rtp-ports)".into());
    };
    // The carrier sees the trunk's own number (a room has none).
    let snapshot = originated(&tenant, &call_id, room, target, "conference");
    let target = target.to_string();
    tokio::spawn(async move {
        let contacts = Contacts::new(&shared, "c2c");
        let calling = devices::Calling {
            snapshot: snapshot.clone(),
            caller_id: None,
            max_forwards: 70,
            contacts: contacts.clone(),
            offer: None,
        };
        let found =
            devices::resolve(&shared, &tenant, &[DialTarget::Number(target)], &calling).await;
        launch(
            shared,
            tenant,
            found,
            snapshot,
            contacts,
            script,
            None,
            (pool, settings),
        );
    });
    Ok(call_id)
}

/// Dial `number`: an extension of the tenant, else a number through its
/// trunk.
fn dial_of(tenant: &Tenant, number: &str) -> Action {
    let target = if tenant.extensions.contains_key(number) {
        DialTarget::Extension(number.to_string())
    } else {
        DialTarget::Number(number.to_string())
    };
    Action::Dial(Dial {
        targets: vec![target],
        mode: DialMode::Simultaneous,
        ring_timeout_secs: 0,
        caller_id: None,
    })
}

/// A callback that keeps the caller's place: the queue engine chose
/// `agent` for `placeholder`; the agent's phone rings first and hears
/// whom they call back and how long that customer waited, then the
/// customer is dialled (an extension, or a number through the tenant's
/// trunk). The queue engine hears whether the customer answered.
pub(crate) fn start_callback(
    shared: &Arc<Shared>,
    tenant: Arc<Tenant>,
    placeholder: &str,
    agent: &str,
    number: &str,
    waited: Duration,
) -> Result<String, String> {
    let call_id = format!("cb-{}", devices::random_token());
    tracing::info!(tenant = %tenant.id, %placeholder, %agent, %number, ?waited, %call_id, "dialling a callback");
    let mut whisper = vec![
        switchyard_plugins::flow_types::Prompt::Silence(300),
        switchyard_plugins::flow_types::Prompt::File("sy-callback-for".into()),
    ];
    for d in number.chars().filter(char::is_ascii_digit) {
        whisper.extend(audio::number(u64::from(d.to_digit(10).unwrap_or(0))));
    }
    whisper.push(switchyard_plugins::flow_types::Prompt::File(
        "sy-waited-minutes".into(),
    ));
    whisper.extend(audio::number(waited.as_secs() / 60));
    let script = vec![Action::Play(whisper), dial_of(&tenant, number)];
    originate(
        shared,
        tenant,
        agent,
        number,
        &call_id,
        script,
        Some(placeholder.to_string()),
    )
}

/// A call whose first leg is `agent`'s phone, showing `number` calling;
/// when it answers, `script` runs (a whisper, then the dial of `number`;
/// or a conference room to join).
fn originate(
    shared: &Arc<Shared>,
    tenant: Arc<Tenant>,
    agent: &str,
    number: &str,
    call_id: &str,
    script: Vec<Action>,
    callback: Option<String>,
) -> Result<String, String> {
    let shared = shared.clone();
    if !tenant.extensions.contains_key(agent) {
        return Err(format!("{agent} is not an extension of {}", tenant.id));
    }
    let (Some(pool), Some(settings)) = (shared.ports.clone(), shared.settings.media.clone()) else {
        // Without media of its own the host would have to carry the
        // agent's offer to the customer and the answer back in an ACK.
        return Err("click-to-call needs media anchoring (serve with --rtp-ports)".into());
    };
    let binding = shared
        .store
        .bindings(&tenant.id, agent, unix_ms())
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("extension {agent} has no registered device"))?;
    let peer = device_peer(&binding)
        .ok_or_else(|| format!("extension {agent}'s device has no usable address"))?;
    let flow = if callback.is_some() {
        "callback"
    } else {
        "click-to-call"
    };
    let snapshot = originated(&tenant, call_id, agent, number, flow);
    let contacts = Contacts::new(&shared, "c2c");
    // The agent's phone sees the customer's number calling.
    let mut invite = Message::request("INVITE", &binding.contact);
    let domain = tenant.realm().to_string();
    invite.headers.push(
        "From",
        format!("<sip:{number}@{domain}>;tag={}", devices::random_token()),
    );
    invite.headers.push("To", format!("<sip:{agent}@{domain}>"));
    invite
        .headers
        .push("Call-ID", format!("{}@switchyard", devices::random_token()));
    invite.headers.push("CSeq", "1 INVITE");
    invite.headers.push("Max-Forwards", "70");
    invite.headers.push("Contact", contacts.on(peer.transport));
    invite.headers.push("Allow", crate::ALLOW);
    let first = Device {
        label: agent.to_string(),
        invite,
        peer,
        contact: contacts.on(peer.transport),
        srtp: tenant
            .extensions
            .get(agent)
            .map(|e| e.srtp)
            .unwrap_or_default(),
    };
    let found = devices::Found {
        devices: vec![first],
        ..devices::Found::default()
    };
    launch(
        shared,
        tenant,
        found,
        snapshot,
        contacts,
        script,
        callback,
        (pool, settings),
    );
    Ok(call_id.to_string())
}

/// The snapshot of a call the host places: from `caller` to `callee`.
fn originated(
    tenant: &Tenant,
    call_id: &str,
    caller: &str,
    callee: &str,
    flow: &str,
) -> CallSnapshot {
    CallSnapshot {
        call_id: call_id.to_string(),
        tenant: tenant.id.clone(),
        direction: Direction::Internal,
        caller: Party {
            number: caller.to_string(),
            display_name: tenant.display_name(caller),
        },
        callee: Party {
            number: callee.to_string(),
            display_name: tenant.display_name(callee),
        },
        dialled: callee.to_string(),
        tags: Vec::new(),
        start_time: unix_ms(),
        answer_time: None,
        time_zone: tenant.time_zone.clone(),
        flow: flow.into(),
        plugin_version: 0,
    }
}

/// Start a call the host places: its first leg rings `found`'s first
/// device (the trunk it goes through, and its place there, are the
/// call's); when it answers, `script` runs.
#[allow(clippy::too_many_arguments)]
fn launch(
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    mut found: devices::Found,
    snapshot: CallSnapshot,
    contacts: Contacts,
    script: Vec<Action>,
    callback: Option<String>,
    (pool, settings): (Arc<switchyard_media::PortPool>, crate::MediaSettings),
) {
    if found.devices.is_empty() {
        tracing::info!(call = %snapshot.call_id, "nothing to ring for the call");
        return;
    }
    let first = found.devices.swap_remove(0);
    let now = Instant::now();
    let start_ms = snapshot.start_time;
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let anchor = Anchor::new(&pool, &settings, FIRST, media_tx);
    let (tx, rx) = mpsc::unbounded_channel();
    own(&shared, first.invite.call_id(), &tx);
    let session = Session::outgoing(
        now,
        start_ms,
        first,
        ORIGINATE_RING,
        snapshot,
        Box::new(anchor.clone()),
        session_config(&shared, &tenant),
        script,
    );
    let mut driver = Driver::new(
        shared,
        tenant,
        session,
        (tx, rx),
        Some(anchor),
        media_rx,
        contacts,
        std::mem::take(&mut found.tickets),
        70,
        None,
    );
    for (call_id, trunk) in found.trunks {
        driver.trunks.insert(call_id, trunk);
        driver.outbound = true;
    }
    driver.callback = callback.map(|p| (p, false));
    tokio::spawn(driver.run_guarded());
}

/// Forget `ids` — unless a newer task took one over.
fn disown<'a>(
    shared: &Shared,
    ids: impl IntoIterator<Item = &'a str>,
    tx: &mpsc::UnboundedSender<CallMsg>,
) {
    let mut calls = shared.calls.lock().expect("calls lock");
    for id in ids {
        if calls.get(id).is_some_and(|s| s.same_channel(tx)) {
            calls.remove(id);
        }
    }
}

/// One call counted in the `active_calls` gauge while this lives.
struct ActiveCall {
    shared: Arc<Shared>,
    label: crate::metrics::TenantLabel,
}

impl ActiveCall {
    fn count(shared: &Arc<Shared>, label: &crate::metrics::TenantLabel) -> ActiveCall {
        shared.metrics.active_calls.get_or_create(label).inc();
        ActiveCall {
            shared: shared.clone(),
            label: label.clone(),
        }
    }
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        self.shared
            .metrics
            .active_calls
            .get_or_create(&self.label)
            .dec();
    }
}

/// Slow work the driver waits for without stopping the call.
enum Work {
    /// The flow plugin answered (or failed).
    Decided(Result<Decision, PluginFailure>),
    /// A dial group's devices.
    Found(devices::Found),
    /// A message (record-audio, voicemail) ended and is stored.
    MessageStored(Recording),
    /// The devices of an agent the queue offers the call to.
    Offer(String, devices::Found),
    /// The waiting caller in the tenant's CRM.
    Contact(Option<switchyard_plugins::types::Contact>),
    /// The devices of a third party to ring into the bridge.
    Party(devices::Found),
    /// The phones of a supervisor to ring (the API's supervision of
    /// `agent` in a mode).
    Supervisor(String, MonitorMode, devices::Found),
}

struct Driver {
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    session: Session,
    /// The session's id: the caller's Call-ID (or click-to-call's own).
    call_id: String,
    tx: mpsc::UnboundedSender<CallMsg>,
    rx: mpsc::UnboundedReceiver<CallMsg>,
    /// Every leg's Call-ID routed here.
    call_ids: Vec<String>,
    anchor: Option<Anchor>,
    media_events: mpsc::UnboundedReceiver<MediaEvent>,
    client_tx: mpsc::UnboundedSender<(LegId, ReqId, ClientEvent)>,
    client_rx: mpsc::UnboundedReceiver<(LegId, ReqId, ClientEvent)>,
    /// Our client transactions by leg and request.
    requests: HashMap<(LegId, ReqId), TransactionKey>,
    /// The media task's play ids → the session's.
    plays: HashMap<u64, u64>,
    work: FuturesUnordered<BoxFuture<'static, Work>>,
    contacts: Contacts,
    max_forwards: u32,
    /// The flow plugin version deciding the call.
    pinned: Option<Pinned>,
    /// Trunks of dialled legs (by Call-ID), and the legs whose carrier
    /// challenge was answered once already.
    trunks: HashMap<String, Arc<Trunk>>,
    challenged: HashSet<String>,
    /// Places under the tenant's and trunks' caps.
    tickets: Vec<GateTicket>,
    /// A number went out through a trunk: the call is outbound.
    outbound: bool,
    /// The call recording being written, and its stored id once done.
    recording_path: Option<PathBuf>,
    recording: Option<String>,
    /// The message being recorded.
    message: Option<(PathBuf, MessageKind)>,
    record: Option<switchyard_plugins::types::CallRecord>,
    /// Counted in `active_calls` until the call is over for everybody.
    active: Option<ActiveCall>,
    /// The queue the caller waits in, and since when.
    queued: Option<(String, Instant)>,
    /// The agent of the queue who took the call (busy through the queue
    /// engine itself), and the tenant's extensions busy on this call.
    queue_agent: Option<String>,
    busy: Vec<String>,
    /// A callback's placeholder, and whether its customer answered.
    callback: Option<(String, bool)>,
    /// The queued caller's CRM contact, once looked up.
    contact: Option<switchyard_plugins::types::Contact>,
    /// A join held until the CRM look-up answers.
    pending_join: Option<crate::session::QueueCommand>,
    /// The extensions last told to the live list as ringing.
    ringing: Vec<String>,
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    fn new(
        shared: Arc<Shared>,
        tenant: Arc<Tenant>,
        session: Session,
        (tx, rx): (
            mpsc::UnboundedSender<CallMsg>,
            mpsc::UnboundedReceiver<CallMsg>,
        ),
        anchor: Option<Anchor>,
        media_events: mpsc::UnboundedReceiver<MediaEvent>,
        contacts: Contacts,
        tickets: Vec<GateTicket>,
        max_forwards: u32,
        pinned: Option<Pinned>,
    ) -> Driver {
        let call_id = session.snapshot().call_id.clone();
        let label = Metrics::tenant(&tenant.id);
        shared.metrics.call_setups.get_or_create(&label).inc();
        let active = ActiveCall::count(&shared, &label);
        let s = session.snapshot();
        shared.in_progress.start(
            LiveCallInfo {
                call_id: call_id.clone(),
                tenant: tenant.id.clone(),
                caller: s.caller.number.clone(),
                callee: s.callee.number.clone(),
                dialled: s.dialled.clone(),
                state: CallState::Routing,
                started_ms: s.start_time,
                agent: None,
                monitors: Vec::new(),
            },
            tx.clone(),
        );
        let call_ids = session.call_ids().map(str::to_string).collect();
        let (client_tx, client_rx) = mpsc::unbounded_channel();
        Driver {
            shared,
            tenant,
            session,
            call_id,
            tx,
            rx,
            call_ids,
            anchor,
            media_events,
            client_tx,
            client_rx,
            requests: HashMap::new(),
            plays: HashMap::new(),
            work: FuturesUnordered::new(),
            contacts,
            max_forwards,
            pinned,
            trunks: HashMap::new(),
            challenged: HashSet::new(),
            tickets,
            outbound: false,
            recording_path: None,
            recording: None,
            message: None,
            record: None,
            active: Some(active),
            queued: None,
            queue_agent: None,
            busy: Vec::new(),
            callback: None,
            contact: None,
            pending_join: None,
            ringing: Vec::new(),
        }
    }

    /// This call's queue engine (the tenant's).
    fn queues(&self) -> Arc<crate::queues::TenantQueues> {
        self.shared.queues.tenant(&self.shared, &self.tenant.id)
    }

    /// Three-way calling: find `target`'s devices (an extension of the
    /// tenant, else a number through its trunk); the session rings them
    /// into the bridge.
    ///
    /// A queue (`queue:NAME`, or the queue's extension as `600`) rings its
    /// agents who are free now, all at once; the first to answer joins.
    fn add_party(&mut self, target: String) {
        let queue = target
            .strip_prefix("queue:")
            .map(str::to_string)
            .or_else(|| {
                self.tenant
                    .contact_centre
                    .queue_extensions
                    .get(&target)
                    .cloned()
            });
        let targets = match queue {
            Some(q) => {
                let mut free: Vec<(Instant, String)> = self
                    .queues()
                    .agents()
                    .into_iter()
                    .filter(|(_, v)| v.queues.contains(&q))
                    .filter_map(|(ext, v)| match v.state {
                        switchyard_acd::AgentState::Available { since } => Some((since, ext)),
                        _ => None,
                    })
                    .collect();
                // Longest idle first in the INVITEs' order.
                free.sort();
                if free.is_empty() {
                    tracing::info!(call = %self.call_id, queue = %q, "three-way: nobody of the queue is free");
                }
                free.into_iter()
                    .map(|(_, ext)| DialTarget::Extension(ext))
                    .collect()
            }
            None if self.tenant.extensions.contains_key(&target) => {
                vec![DialTarget::Extension(target)]
            }
            None => vec![DialTarget::Number(target)],
        };
        self.find_devices(targets, Work::Party);
    }

    /// Look up `target`'s devices in the background (INVITEs showing this
    /// call's caller); `then` makes the work's outcome of them.
    fn find_devices(
        &mut self,
        targets: Vec<DialTarget>,
        then: impl FnOnce(devices::Found) -> Work + Send + 'static,
    ) {
        let calling = devices::Calling {
            snapshot: self.snapshot(),
            caller_id: None,
            max_forwards: self.max_forwards,
            contacts: self.contacts.clone(),
            offer: None,
        };
        let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
        self.work.push(
            async move { then(devices::resolve(&shared, &tenant, &targets, &calling).await) }
                .boxed(),
        );
    }

    /// Devices about to be rung: their dialogs are this call's, and so are
    /// the trunks they go through and the places they took there.
    fn own_devices(&mut self, found: &mut devices::Found) {
        for (call_id, trunk) in found.trunks.drain(..) {
            self.trunks.insert(call_id, trunk);
            self.outbound = true;
        }
        self.tickets.append(&mut found.tickets);
        for d in &found.devices {
            let id = d.invite.call_id().to_string();
            own(&self.shared, &id, &self.tx);
            self.call_ids.push(id);
        }
    }

    /// What the session asks the tenant's conference service.
    fn conference(&mut self, now: Instant, c: crate::session::ConferenceCommand) {
        use crate::session::ConferenceCommand;
        let conferences = &self.shared.conferences;
        let caller = self.session.caller_label().to_string();
        match c {
            ConferenceCommand::Enter {
                conference: c,
                invited,
            } => {
                let (pin, moderator) =
                    conferences.setup(&self.tenant, &c.room, &caller, c.moderator);
                let pin = pin.filter(|_| !invited);
                self.session.handle_conference_setup(now, pin, moderator);
            }
            ConferenceCommand::Join {
                room,
                moderator,
                muted,
            } => {
                let request = crate::conference::JoinRequest {
                    call_id: self.call_id.clone(),
                    task: self.tx.clone(),
                    caller,
                    moderator,
                    muted,
                };
                match conferences.join(&self.shared, &self.tenant, &room, request) {
                    Ok((mixer, member, muted)) => {
                        let leg = self.session.caller();
                        if let Some(anchor) = &self.anchor {
                            anchor.with_media(|h| h.join_room(leg, mixer, member, muted));
                        }
                        self.session.handle_conference_joined(now, muted);
                    }
                    Err(refused) => {
                        tracing::info!(call = %self.call_id, %room, ?refused, "not let into the conference");
                        self.session
                            .handle_conference_refused(now, refused.prompt());
                    }
                }
            }
            ConferenceCommand::ToggleMute => {
                conferences.toggle_mute(&self.shared, &self.tenant, &self.call_id)
            }
            ConferenceCommand::Leave => {
                conferences.leave(&self.shared, &self.tenant, &self.call_id)
            }
        }
    }

    /// A queue call that was supervised: each supervision is a line of
    /// the queue log, stamped when the supervisor left.
    fn log_monitors(&self, r: &Record) {
        let Some(queue) = &r.queue else { return };
        let events: Vec<switchyard_acd::QueueEvent> = r
            .monitors
            .iter()
            .map(|m| switchyard_acd::QueueEvent {
                at_ms: m.end_time,
                queue: Some(queue.clone()),
                call: Some(self.call_id.clone()),
                agent: Some(m.agent.clone()),
                kind: switchyard_acd::EventKind::Monitored {
                    supervisor: m.supervisor.clone(),
                    modes: m.modes.iter().map(|x| x.as_str().to_string()).collect(),
                    duration: Duration::from_millis(m.end_time.saturating_sub(m.start_time)),
                },
            })
            .collect();
        if !events.is_empty() {
            self.queues().append_log(events);
        }
    }

    /// Extension `ext` of the tenant is on this call: a queue does not
    /// offer it other calls meanwhile (ring-in-use off).
    fn mark_busy(&mut self, ext: &str) {
        if self.tenant.extensions.contains_key(ext)
            && !self.busy.iter().any(|b| b == ext)
            && self.shared.queues.get(&self.tenant.id).is_some()
        {
            self.busy.push(ext.to_string());
            self.queues().agent_busy(&self.shared, ext, true);
        }
    }

    /// The agent who last answered a call of this caller (the sticky
    /// strategies' "last agent"), from the call records.
    fn last_agent(&self) -> Option<String> {
        let number = &self.session.snapshot().caller.number;
        let filter = switchyard_store::CdrFilter {
            number: Some(number.clone()),
            disposition: Some(switchyard_store::Disposition::Answered),
            limit: 20,
            ..Default::default()
        };
        let page = self
            .shared
            .store
            .query_cdrs(&self.tenant.id, &filter)
            .ok()?;
        page.rows
            .into_iter()
            .find(|c| &c.caller == number && c.agent.is_some())
            .and_then(|c| c.agent)
    }

    /// What the agent who answers this queue call hears first: the
    /// queue's whisper prompt, and "VIP caller" for a caller tagged VIP.
    fn whisper(&self) -> Vec<switchyard_plugins::flow_types::Prompt> {
        use switchyard_plugins::flow_types::Prompt;
        let mut w: Vec<Prompt> = self
            .queue_setup()
            .and_then(|q| q.whisper.clone())
            .map(Prompt::File)
            .into_iter()
            .collect();
        let vip = self
            .session
            .snapshot()
            .tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case("vip"));
        if vip {
            w.push(Prompt::File("sy-vip".into()));
        }
        w
    }

    /// The setup of the queue the caller waits in.
    fn queue_setup(&self) -> Option<&crate::queues::QueueSetup> {
        let (queue, _) = self.queued.as_ref()?;
        self.tenant
            .contact_centre
            .queues
            .iter()
            .find(|q| &q.config.name == queue)
    }

    /// Tell the tenant's queue engine what happened to this call's caller
    /// (a join carries the CRM contact looked up for it).
    fn tell_queue(&self, q: crate::session::QueueCommand) {
        let snapshot = self.snapshot();
        self.queues().call_command(
            &self.shared,
            &self.call_id,
            q,
            &self.tx,
            &snapshot,
            self.contact.as_ref(),
        );
    }

    /// The call is over for the extensions that were busy on it (and
    /// for a callback's agent).
    fn release_busy(&mut self) {
        if let Some((placeholder, connected)) = self.callback.take() {
            let q = self.queues();
            if connected {
                q.callback_ended(&self.shared, &placeholder);
            } else {
                q.callback_result(&self.shared, &placeholder, false);
            }
        }
        for ext in std::mem::take(&mut self.busy) {
            self.queues().agent_busy(&self.shared, &ext, false);
        }
    }

    /// What the queue engine says about this call's waiting caller.
    fn on_queue(&mut self, signal: crate::queues::QueueSignal) {
        use crate::queues::QueueSignal;
        let now = Instant::now();
        match signal {
            QueueSignal::Ring { agents } => {
                let Some((queue, since)) = self.queued.clone() else {
                    return;
                };
                let mut snapshot = self.snapshot();
                let tags: Vec<String> = snapshot
                    .tags
                    .iter()
                    .filter(|t| !t.contains('='))
                    .cloned()
                    .collect();
                snapshot.tags.clear();
                let waited = now.saturating_duration_since(since).as_secs();
                for agent in &agents {
                    let detail = serde_json::json!({
                        "agent": agent,
                        "queue": queue,
                        "waited_secs": waited,
                        "tags": tags,
                        "caller": snapshot.caller.number,
                        "caller_name": snapshot.caller.display_name,
                        "contact": self.contact.as_ref().map(|c| serde_json::json!({
                            "id": c.id, "name": c.name, "company": c.company,
                            "owner": c.owner, "url": c.url, "tags": c.tags,
                        })),
                    });
                    self.shared.in_progress.notify(
                        &self.tenant.id,
                        crate::calls_in_progress::NoticeKind::Offered,
                        &self.call_id,
                        Some(detail.to_string()),
                    );
                }
                if let Some(c) = &self.contact {
                    // The CRM's name is what the agent's phone shows.
                    snapshot.caller.display_name = Some(c.name.clone());
                }
                for agent in agents {
                    let calling = devices::Calling {
                        snapshot: snapshot.clone(),
                        caller_id: None,
                        max_forwards: self.max_forwards,
                        contacts: self.contacts.clone(),
                        offer: Some(devices::QueueOffer {
                            call_id: self.call_id.clone(),
                            queue: queue.clone(),
                            waited_secs: waited,
                            tags: tags.clone(),
                            contact: self.contact.clone(),
                        }),
                    };
                    let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
                    let target = [DialTarget::Extension(agent.clone())];
                    self.work.push(
                        async move {
                            let found = devices::resolve(&shared, &tenant, &target, &calling).await;
                            Work::Offer(agent, found)
                        }
                        .boxed(),
                    );
                }
            }
            QueueSignal::CancelRing { agents } => self.session.handle_queue_cancel(now, &agents),
            QueueSignal::Announce {
                position,
                estimated_wait,
            } => {
                let key = self.queue_setup().and_then(|q| q.config.callback_key);
                let prompts = audio::queue_position(position, estimated_wait, key);
                self.session.handle_queue_announce(now, prompts);
            }
            QueueSignal::Comfort => {
                let comfort = self.queue_setup().and_then(|q| q.comfort.clone());
                self.session
                    .handle_queue_announce(now, audio::comfort(comfort.as_deref()));
            }
            QueueSignal::CallbackNumberWanted => {
                self.session
                    .handle_callback_number_wanted(now, audio::callback_number_request());
            }
            QueueSignal::Exit(exit) => {
                self.queued = None;
                let number = self.session.callback_number();
                self.session.handle_queue_exit(
                    now,
                    exit,
                    audio::callback_confirmation(number.as_deref()),
                );
            }
        }
    }

    /// Run the call; a bug that panics ends this call, not the host: the
    /// parties are told (as far as the session can still say), the call
    /// leaves the live list and every map, its ports and caps go back.
    async fn run_guarded(mut self) {
        // An extension that calls is busy for its queues meanwhile.
        let s = self.session.snapshot();
        // (The agent of a callback is the queue engine's already.)
        if s.direction != Direction::Inbound && self.callback.is_none() {
            let caller = s.caller.number.clone();
            self.mark_busy(&caller);
        }
        let outcome = std::panic::AssertUnwindSafe(self.run())
            .catch_unwind()
            .await;
        if outcome.is_err() {
            tracing::error!(call = %self.call_id, "call task panicked: call ended");
            self.shared.metrics.task_panicked("call");
            self.abandon();
            self.release_busy();
        }
        // Whatever ended the call, it spends no credit and is in no
        // conference room any more.
        self.unwatch_credit();
        self.shared
            .conferences
            .leave(&self.shared, &self.tenant, &self.call_id);
        if let Some(a) = self.anchor.take() {
            a.close().await;
        }
        self.answer_late_requests();
        disown(
            &self.shared,
            self.call_ids.iter().map(String::as_str),
            &self.tx,
        );
        self.tickets.clear();
    }

    /// After a panic: end the session and send what it says, best effort.
    fn abandon(&mut self) {
        let now = Instant::now();
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.session
                .handle_end(now, crate::session::EndReason::Operator);
            self.session.handle_record_written(now);
            let mut sip = Vec::new();
            let mut queue = Vec::new();
            while let Some(c) = self.session.poll_command() {
                match c {
                    Command::Sip { leg, out } => sip.push((leg, out.transmit)),
                    Command::Queue(q) => queue.push(q),
                    _ => {}
                }
            }
            (sip, queue)
        }));
        if let Ok((sip, queue)) = ended {
            for (leg, t) in sip {
                self.transmit(leg, t);
            }
            // The queue engine must not keep a caller (or an agent) that
            // is gone.
            for q in queue {
                self.tell_queue(q);
            }
        }
        self.shared
            .in_progress
            .end(&self.call_id, Some("failed".into()));
    }

    async fn run(&mut self) {
        loop {
            while let Some(c) = self.session.poll_command() {
                if !self.execute(c).await {
                    return;
                }
            }
            // Queue offers ring agents without a change of the call's
            // state, so who rings is also checked after every step.
            self.sync_ringing();
            let deadline = self.session.poll_timeout();
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => self.on_message(m),
                    // Every sender is gone: nobody can reach this call.
                    None => self.session.handle_end(Instant::now(), crate::session::EndReason::Operator),
                },
                Some((leg, id, ev)) = self.client_rx.recv() => self.on_client(leg, id, ev),
                Some(ev) = self.media_events.recv() => self.on_media(ev),
                Some(done) = self.work.next(), if !self.work.is_empty() => self.on_work(done),
                _ = sleep_until(deadline) => self.session.handle_timeout(Instant::now()),
            }
        }
    }

    /// Who rings for this call (what a pickup can take), told to the live
    /// list only when it changes.
    fn sync_ringing(&mut self) {
        let ringing = self.session.ringing_labels();
        if ringing != self.ringing {
            self.shared
                .in_progress
                .set_ringing(&self.call_id, ringing.clone());
            self.ringing = ringing;
        }
    }

    fn on_client(&mut self, leg: LegId, id: ReqId, ev: ClientEvent) {
        let now = Instant::now();
        match ev {
            ClientEvent::Response(r) => self.session.handle_response(now, leg, id, r),
            ClientEvent::Timeout => self.session.handle_request_timeout(now, leg, id),
        }
    }

    /// The call is over for everybody, but a leg we dialled may have no
    /// final answer yet: a CANCEL whose 487 has not come, or a 2xx that
    /// crosses it, which its leg must ACK and BYE. Those legs are served
    /// until they are answered (an INVITE transaction ends within
    /// 64·T1), so no phone is left in a call nobody hears. (A BYE of ours
    /// needs nobody: the stack retransmits it.)
    async fn linger(&mut self) {
        let until = Instant::now() + LINGER;
        loop {
            while let Some(c) = self.session.poll_command() {
                if let Command::Sip { leg, out } = c {
                    self.transmit(leg, out.transmit);
                }
            }
            if !self.session.legs_dialing() || Instant::now() >= until {
                return;
            }
            let deadline = self.session.poll_timeout().map_or(until, |t| t.min(until));
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => self.on_message(m),
                    None => return,
                },
                Some((leg, id, ev)) = self.client_rx.recv() => self.on_client(leg, id, ev),
                _ = sleep_until(Some(deadline)) => self.session.handle_timeout(Instant::now()),
            }
        }
    }

    fn on_message(&mut self, msg: CallMsg) {
        let now = Instant::now();
        match msg {
            CallMsg::Request { key, request, .. } => match self.session.leg_of(&request) {
                Some(leg) => self.session.handle_request(now, leg, key, request),
                // A request of no leg of this call (a leg that left, a
                // stale dialog) changes nothing.
                None => self
                    .shared
                    .stack
                    .respond(&key, response(&request, 481, "", request.to_tag())),
            },
            CallMsg::Ack { request } => {
                if let Some(leg) = self.session.leg_of(&request) {
                    self.session.handle_ack(now, leg);
                }
            }
            CallMsg::Cancel { .. } => self.session.handle_cancel(now),
            CallMsg::Hangup => self
                .session
                .handle_end(now, crate::session::EndReason::Operator),
            CallMsg::AckTimeout { call_id } => {
                if let Some(leg) = self.session.leg_with_call_id(&call_id) {
                    self.session.handle_ack_timeout(now, leg);
                }
            }
            CallMsg::Queue(signal) => self.on_queue(signal),
            CallMsg::Adopt(leg, label) => {
                let call_id = leg.call_id().to_string();
                self.call_ids.push(call_id);
                self.session.adopt(now, *leg, label);
            }
            CallMsg::AddParty(to) => self.add_party(to),
            CallMsg::Conference(signal) => match signal {
                crate::conference::ConferenceSignal::Ended => {
                    self.session.handle_conference_ended(now)
                }
                crate::conference::ConferenceSignal::Muted(m) => {
                    self.session.handle_conference_muted(m)
                }
            },
            CallMsg::Monitor {
                leg,
                supervisor,
                agent,
                mode,
            } => {
                let call_id = leg.call_id().to_string();
                self.call_ids.push(call_id);
                self.session.monitor(now, *leg, supervisor, agent, mode);
            }
            CallMsg::MonitorByDialling {
                supervisor,
                agent,
                mode,
            } => self.find_devices(vec![DialTarget::Extension(supervisor)], move |found| {
                Work::Supervisor(agent, mode, found)
            }),
            CallMsg::HandOver {
                replaces,
                tenant,
                referrer,
                keeper,
                referrer_leg,
            } => self.hand_over(now, replaces, tenant, referrer, keeper, referrer_leg),
            CallMsg::TakeOver {
                referrer_leg,
                party,
            } => {
                self.call_ids.push(party.leg.call_id().to_string());
                self.session.take_over(now, referrer_leg, *party);
            }
            CallMsg::GiveUp {
                referrer_leg,
                to,
                replaced_leg,
            } => self.give_up(now, referrer_leg, to, replaced_leg),
            CallMsg::ReplaceRefused {
                referrer_leg,
                status,
            } => self
                .session
                .handle_replace_failed(now, referrer_leg, status),
            CallMsg::Transfer(to) => {
                if let Err(why) = self.session.handle_transfer(now, to) {
                    tracing::info!(call = %self.call_id, %why, "transfer refused");
                }
            }
        }
    }

    /// Our session's attended transfer names dialog `replaces`: ask the
    /// call that owns it for the party on its other side.
    fn replace(&mut self, leg: LegId, replaces: crate::leg::Replaces, referrer: String) {
        let owner = self
            .shared
            .task_for(&replaces.call_id)
            .filter(|t| !t.same_channel(&self.tx));
        let msg = CallMsg::HandOver {
            replaces,
            tenant: self.tenant.id.clone(),
            referrer,
            keeper: self.tx.clone(),
            referrer_leg: leg,
        };
        if owner.is_none_or(|t| t.send(msg).is_err()) {
            self.session.handle_replace_failed(Instant::now(), leg, 481);
        }
    }

    /// Another call's attended transfer names one of our dialogs: the
    /// session decides; a party it gives up is routed to the keeper from
    /// now on, and is no longer busy on this call (the keeper marks it).
    fn hand_over(
        &mut self,
        now: Instant,
        replaces: crate::leg::Replaces,
        tenant: String,
        referrer: String,
        keeper: mpsc::UnboundedSender<CallMsg>,
        referrer_leg: LegId,
    ) {
        // Another tenant's call is as unknown as no call at all.
        let given = if tenant == self.tenant.id {
            self.session.hand_over(now, &replaces, &referrer)
        } else {
            tracing::warn!(call = %self.call_id, %tenant, "attended transfer from another tenant refused");
            Err(481)
        };
        let msg = match given {
            Ok(HandOver::Given(party)) => self.give(&keeper, referrer_leg, *party),
            Ok(HandOver::Wanted(replaced_leg)) => CallMsg::GiveUp {
                referrer_leg,
                to: self.tx.clone(),
                replaced_leg,
            },
            Err(status) => CallMsg::ReplaceRefused {
                referrer_leg,
                status,
            },
        };
        self.send_given(&keeper, msg);
    }

    /// A party our session gave up goes to call `to`, where it replaces
    /// leg `replaced`: routed there from now on, and no longer busy on
    /// this call (that call marks it).
    fn give(
        &mut self,
        to: &mpsc::UnboundedSender<CallMsg>,
        replaced: LegId,
        party: Moving,
    ) -> CallMsg {
        let id = party.leg.call_id().to_string();
        own(&self.shared, &id, to);
        self.call_ids.retain(|c| *c != id);
        self.busy.retain(|b| *b != party.label);
        CallMsg::TakeOver {
            referrer_leg: replaced,
            party: Box::new(party),
        }
    }

    /// Answer the other call of an attended transfer; a party given to
    /// a call that is gone is hung up.
    fn send_given(&self, to: &mpsc::UnboundedSender<CallMsg>, msg: CallMsg) {
        if let Err(mpsc::error::SendError(CallMsg::TakeOver { party, .. })) = to.send(msg) {
            self.hang_up_given(party.leg, to);
        }
    }

    /// The call our REFER named keeps its caller and wants our party.
    fn give_up(
        &mut self,
        now: Instant,
        referrer: LegId,
        to: mpsc::UnboundedSender<CallMsg>,
        replaced: LegId,
    ) {
        let msg = match self.session.give_up(now, referrer) {
            Ok(party) => self.give(&to, replaced, party),
            Err(status) => {
                self.session.handle_replace_failed(now, referrer, status);
                CallMsg::ReplaceRefused {
                    referrer_leg: replaced,
                    status,
                }
            }
        };
        self.send_given(&to, msg);
    }

    fn on_media(&mut self, ev: MediaEvent) {
        let now = Instant::now();
        match ev {
            MediaEvent::Digit { leg, digit } => self.session.handle_digit(now, leg, digit),
            MediaEvent::Played { id, .. } => {
                if let Some(id) = self.plays.remove(&id) {
                    self.session.handle_played(now, id);
                }
            }
            MediaEvent::Timeout { leg } => {
                tracing::info!(call = %self.call_id, leg = leg.0, "RTP timeout: hanging up");
                self.session
                    .handle_end(now, crate::session::EndReason::RtpTimeout(leg));
            }
            MediaEvent::MessageRecorded { duration, end, .. } => {
                let Some((path, kind)) = self.message.take() else {
                    return;
                };
                let store = self.store_message(path, kind, duration);
                self.work.push(
                    async move {
                        let id = store.await.unwrap_or_default();
                        Work::MessageStored(Recording {
                            id,
                            duration_ms: duration.as_millis() as u32,
                            finished_by_key: match end {
                                MessageEnd::Key(k) => Some(k.to_string()),
                                _ => None,
                            },
                        })
                    }
                    .boxed(),
                );
            }
            MediaEvent::RecordingFailed(e) => {
                tracing::error!(call = %self.call_id, error = %e, "recording failed");
            }
        }
    }

    fn on_work(&mut self, done: Work) {
        let now = Instant::now();
        match done {
            Work::Decided(Ok(d)) => self.session.handle_decision(now, d),
            Work::Decided(Err(failure)) => {
                tracing::warn!(tenant = %self.tenant.id, call = %self.call_id, %failure, "flow plugin failed: fallback");
                let fallback = self.tenant.runtime.fallback_decision();
                self.session.handle_plugin_failed(now, fallback);
            }
            Work::Found(mut found) => {
                self.own_devices(&mut found);
                self.session.handle_devices(now, found.devices);
            }
            Work::MessageStored(r) => self.session.handle_message_ended(now, r),
            Work::Contact(contact) => {
                self.contact = contact;
                if let Some(join) = self.pending_join.take() {
                    self.tell_queue(join);
                }
            }
            Work::Offer(agent, mut found) => {
                self.own_devices(&mut found);
                let whisper = self.whisper();
                self.session
                    .handle_queue_offer(now, agent, found.devices, whisper);
            }
            Work::Party(mut found) => {
                self.own_devices(&mut found);
                if !self.session.add_parties(now, found.devices) {
                    tracing::info!(call = %self.call_id, "three-way: nothing to ring, or the call is not bridged");
                }
            }
            Work::Supervisor(agent, mode, mut found) => {
                self.own_devices(&mut found);
                if !self
                    .session
                    .monitor_by_dialling(now, found.devices, agent, mode)
                {
                    tracing::info!(call = %self.call_id, "supervision: no phone of the supervisor to ring, or the agent left");
                }
            }
        }
    }

    /// What the flow sees now (the plugin version, outbound once a number
    /// went out through a trunk).
    fn snapshot(&self) -> CallSnapshot {
        let mut s = self.session.snapshot().clone();
        if let Some(p) = &self.pinned {
            s.plugin_version = p.number;
        }
        if self.outbound && s.direction == Direction::Internal {
            s.direction = Direction::Outbound;
        }
        s
    }

    fn transmit(&mut self, leg: LegId, t: Transmit) {
        let stack = &self.shared.stack;
        match t {
            Transmit::Request { id, msg, peer } => {
                let (key, mut rx) = stack.send_request(msg, peer);
                self.requests.insert((leg, id), key);
                let fwd = self.client_tx.clone();
                tokio::spawn(async move {
                    while let Some(e) = rx.recv().await {
                        if fwd.send((leg, id, e)).is_err() {
                            break;
                        }
                    }
                });
            }
            Transmit::Respond { key, msg } => stack.respond(&key, msg),
            Transmit::Ack { msg, peer } => stack.send_ack(msg, peer),
            Transmit::Cancel { id } => {
                if let Some(key) = self.requests.get(&(leg, id)) {
                    stack.cancel(key);
                }
            }
        }
    }

    /// Carry out one command; `false` when the call is over.
    async fn execute(&mut self, c: Command) -> bool {
        tracing::trace!(call = %self.call_id, command = ?c);
        let now = Instant::now();
        match c {
            Command::Sip { leg, out } => self.transmit(leg, out.transmit),
            Command::Decide { pin, event, state } => {
                if let Some(flow) = &pin {
                    let caller = self.session.snapshot().caller.number.clone();
                    self.pinned = self.tenant.runtime.pin_flow_for(flow, &caller).ok();
                }
                self.decide(event, state);
            }
            Command::Resolve {
                targets,
                caller_id,
                transfer,
            } => self.resolve(targets, caller_id, transfer),
            Command::Authorize {
                leg,
                invite,
                challenge,
            } => {
                let call_id = invite.call_id().to_string();
                let retry = match self.trunks.get(&call_id) {
                    Some(t) if self.challenged.insert(call_id) => t.authorize(&invite, &challenge),
                    _ => None,
                };
                self.session
                    .handle_credentials(now, leg, retry, challenge.status());
            }
            Command::Media(m) => self.media(m).await,
            Command::Replace {
                leg,
                replaces,
                referrer,
            } => self.replace(leg, replaces, referrer),
            Command::Queue(mut q) => {
                use crate::session::QueueCommand;
                if let QueueCommand::Join { tags, .. } = &mut q
                    && let Some(agent) = self.last_agent()
                {
                    tags.push(("last-agent".into(), agent));
                }
                match &q {
                    QueueCommand::Join { queue, .. } => {
                        self.queued = Some((queue.clone(), now));
                    }
                    QueueCommand::Answered { agent } => {
                        self.queued = None;
                        self.queue_agent = Some(agent.clone());
                    }
                    QueueCommand::Abandoned => self.queued = None,
                    _ => {}
                }
                match q {
                    // The caller is looked up in the CRM first (the
                    // music plays meanwhile): the strategy's first
                    // ranking and the agent's screen pop have the contact.
                    QueueCommand::Join { .. } => {
                        self.pending_join = Some(q);
                        let tenant = self.tenant.clone();
                        let number = self.session.snapshot().caller.number.clone();
                        self.work.push(
                            async move { Work::Contact(tenant.runtime.crm_lookup(&number).await) }
                                .boxed(),
                        );
                    }
                    // Gone before it joined: nothing to tell the engine.
                    QueueCommand::Abandoned if self.pending_join.take().is_some() => {}
                    _ if self.pending_join.is_some() => {}
                    q => self.tell_queue(q),
                }
            }
            Command::Live { state, agent } => {
                self.sync_ringing();
                if state == CallState::Answered
                    && let Some((placeholder, connected @ false)) = &mut self.callback
                {
                    *connected = true;
                    let p = placeholder.clone();
                    self.queues().callback_result(&self.shared, &p, true);
                }
                if state == CallState::Answered
                    && self.callback.is_none()
                    && let Some(a) = &agent
                    && self.queue_agent.as_ref() != Some(a)
                {
                    self.mark_busy(&a.clone());
                }
                self.shared
                    .in_progress
                    .update(&self.call_id, state, agent.as_deref());
                self.watch_credit();
                match state {
                    CallState::Ivr => crate::call_log::answered(Some(&self.snapshot()), "host"),
                    CallState::Answered => crate::call_log::answered(
                        Some(&self.snapshot()),
                        agent.as_deref().unwrap_or(""),
                    ),
                    _ => {}
                }
            }
            Command::Conference(c) => self.conference(now, c),
            Command::AddParty { target } => self.add_party(target),
            // An extension on a call is busy for its queues meanwhile.
            Command::Joined { label } => self.mark_busy(&label),
            Command::Monitoring {
                supervisor,
                agent,
                mode,
            } => self
                .shared
                .in_progress
                .monitoring(&self.call_id, &supervisor, &agent, mode),
            Command::HangupEvent(info) => {
                // The flow hears how the call ended; its answer changes
                // nothing.
                if let Some(p) = self.pinned.clone() {
                    let snapshot = self.snapshot();
                    let r = self
                        .tenant
                        .runtime
                        .invoke_flow(&p, &snapshot, &Event::Hangup(info), None)
                        .await;
                    count_version_decision(&self.shared, &self.tenant.id, &p, r.is_ok());
                }
            }
            Command::WriteRecord(r) => self.write_record(*r).await,
            Command::Finished => {
                self.finished().await;
                self.linger().await;
                return false;
            }
        }
        true
    }

    fn decide(&mut self, event: Event, state: Option<Vec<u8>>) {
        let snapshot = self.snapshot();
        let tenant = self.tenant.clone();
        let shared = self.shared.clone();
        let pinned = self.pinned.clone();
        self.work.push(
            async move {
                let label = Metrics::tenant(&tenant.id);
                let started = Instant::now();
                let result = match &pinned {
                    Some(p) => {
                        tenant
                            .runtime
                            .invoke_flow(p, &snapshot, &event, state)
                            .await
                    }
                    None => Err(PluginFailure::NotInstalled(snapshot.flow.clone())),
                };
                let m = &shared.metrics;
                m.plugin_invocations.get_or_create(&label).inc();
                m.plugin_latency
                    .get_or_create(&label)
                    .observe(started.elapsed().as_secs_f64());
                if result.is_err() {
                    m.plugin_errors.get_or_create(&label).inc();
                }
                if let Some(p) = &pinned {
                    count_version_decision(&shared, &tenant.id, p, result.is_ok());
                    m.plugin_version_latency
                        .get_or_create(&crate::metrics::PluginVersionLabel {
                            tenant: tenant.id.clone(),
                            plugin: p.name.clone(),
                            version: p.number.to_string(),
                        })
                        .observe(started.elapsed().as_secs_f64());
                }
                Work::Decided(result)
            }
            .boxed(),
        );
    }

    fn resolve(&mut self, targets: Vec<DialTarget>, caller_id: Option<String>, transfer: bool) {
        // An agent transfers to an extension, or else to a number.
        let targets: Vec<DialTarget> = targets
            .into_iter()
            .map(|t| match t {
                DialTarget::Extension(e)
                    if transfer && !self.tenant.extensions.contains_key(&e) =>
                {
                    DialTarget::Number(e)
                }
                t => t,
            })
            .collect();
        let calling = devices::Calling {
            snapshot: self.snapshot(),
            caller_id,
            max_forwards: self.max_forwards,
            contacts: self.contacts.clone(),
            offer: None,
        };
        let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
        self.work.push(
            async move { Work::Found(devices::resolve(&shared, &tenant, &targets, &calling).await) }
                .boxed(),
        );
    }

    async fn media(&mut self, m: MediaCommand) {
        let now = Instant::now();
        let Some(anchor) = self.anchor.clone() else {
            // Without media, what would be played is over at once.
            if let MediaCommand::Play { id, .. } | MediaCommand::PlayGreeting { id, .. } = m {
                self.session.handle_played(now, id);
            }
            return;
        };
        let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
        match m {
            MediaCommand::Play { leg, prompts, id } => {
                let items = audio::play_items(&shared, &tenant, &prompts);
                self.play(&anchor, leg, items, id);
            }
            MediaCommand::PlayGreeting {
                leg,
                mailbox,
                greeting,
                id,
            } => {
                let items = audio::greeting(&shared, &tenant, &mailbox, greeting.as_ref());
                self.play(&anchor, leg, items, id);
            }
            MediaCommand::Ringback { leg } => {
                let tone = audio::ringback_for(&tenant.time_zone);
                anchor.with_media(|h| h.play(leg, vec![PlayItem::Tone(tone)], true));
            }
            MediaCommand::MusicOnHold { leg } => {
                let music = audio::music_on_hold(&shared, &tenant);
                anchor.with_media(|h| h.play(leg, music, true));
            }
            MediaCommand::QueueMusic { leg, queue } => {
                let setup = tenant
                    .contact_centre
                    .queues
                    .iter()
                    .find(|q| q.config.name == queue);
                let music =
                    audio::queue_music(&shared, &tenant, setup.and_then(|q| q.music.as_deref()));
                // One loop of decoded samples is what a station is made of;
                // anything else (tones) is played to the caller alone.
                match music.as_slice() {
                    [PlayItem::Samples(samples)] => {
                        let station = self.queues().station(&queue, samples);
                        anchor.with_media(|h| h.listen(leg, station));
                    }
                    _ => {
                        anchor.with_media(|h| h.play(leg, music, true));
                    }
                }
            }
            MediaCommand::Stop { leg } => {
                anchor.with_media(|h| h.stop(leg));
            }
            MediaCommand::Connect { a, b } => anchor.connect(a, b),
            MediaCommand::Hears {
                listener,
                source,
                on,
            } => anchor.set_hears(listener, source, on),
            MediaCommand::KeepKeys { leg } => {
                anchor.with_media(|h| h.keep_keys(leg));
            }
            MediaCommand::Disconnect { leg } => {
                anchor.with_media(|h| h.leave(leg));
            }
            MediaCommand::StartMessage {
                leg,
                max,
                finish_key,
                kind,
            } => {
                let path = audio::media_tmp(&shared);
                anchor.with_media(|h| {
                    h.start_message(leg, path.clone(), max, finish_key, audio::MESSAGE_SILENCE)
                });
                self.message = Some((path, kind));
            }
            MediaCommand::StopMessage { leg } => {
                // The caller hung up while speaking: what was said is kept.
                let Some((path, kind)) = self.message.take() else {
                    return;
                };
                let stop = anchor.with_media(|h| h.stop_message(leg));
                let duration = match stop {
                    Some(s) => s.await.unwrap_or_default(),
                    None => Duration::ZERO,
                };
                self.store_message(path, kind, duration).await;
            }
            MediaCommand::StartRecording { leg } => {
                if tenant.recording.is_none() {
                    return;
                }
                if self.recording_path.is_some() {
                    // After a transfer the same recording goes on.
                    anchor.with_media(|h| h.pause_recording(false));
                    return;
                }
                let Some(channels) = tenant.recording_for(&shared.store) else {
                    shared.metrics.recording_refused(&tenant.id, "storage-full");
                    return;
                };
                let path = audio::media_tmp(&shared);
                anchor.with_media(|h| h.start_recording(path.clone(), channels, leg));
                self.recording_path = Some(path);
            }
            MediaCommand::PauseRecording(paused) => {
                anchor.with_media(|h| h.pause_recording(paused));
            }
            MediaCommand::Close { leg } => anchor.close_leg(leg),
        }
    }

    /// Play `items` to `leg`; the session hears `played(id)` when they end
    /// (at once when there is nothing to play).
    fn play(&mut self, anchor: &Anchor, leg: LegId, items: Vec<PlayItem>, id: u64) {
        let started = (!items.is_empty())
            .then(|| anchor.with_media(|h| h.play(leg, items, false)))
            .flatten();
        match started {
            Some(media_id) => {
                self.plays.insert(media_id, id);
            }
            None => self.session.handle_played(Instant::now(), id),
        }
    }

    /// Store a recorded message as the tenant's file; a voicemail is
    /// announced to the reporters. The stored id, if stored.
    fn store_message(
        &self,
        path: PathBuf,
        kind: MessageKind,
        duration: Duration,
    ) -> BoxFuture<'static, Option<String>> {
        let (shared, tenant) = (self.shared.clone(), self.tenant.clone());
        let snapshot = self.snapshot();
        async move {
            let mut meta =
                BTreeMap::from([("duration_ms".to_string(), duration.as_millis().to_string())]);
            let file_kind = match &kind {
                MessageKind::RecordAudio => {
                    meta.insert("source".into(), "record-audio".into());
                    "recording"
                }
                MessageKind::Voicemail { mailbox } => {
                    meta.insert("mailbox".into(), mailbox.clone());
                    "voicemail"
                }
            };
            // Voicemail to e-mail: the message as it is stored, attached.
            let emailed = match &kind {
                MessageKind::Voicemail { mailbox } if shared.mailer.is_some() => {
                    let to = notices::voicemail_recipients(&shared.store, &tenant.id, mailbox);
                    match to.is_empty() {
                        true => None,
                        false => {
                            let p = path.clone();
                            tokio::task::spawn_blocking(move || std::fs::read(p))
                                .await
                                .ok()
                                .and_then(Result::ok)
                                .map(|wav| (to, wav))
                        }
                    }
                }
                _ => None,
            };
            let id =
                audio::store_audio(&shared, &tenant, &snapshot, file_kind, &path, meta).await?;
            if let MessageKind::Voicemail { mailbox } = kind {
                tracing::info!(tenant = %tenant.id, %mailbox, %id, ?duration, "voicemail left");
                if let Some((to, wav)) = emailed {
                    let mail = notices::voicemail_mail(
                        to,
                        &snapshot,
                        &mailbox,
                        duration,
                        unix_ms(),
                        &id,
                        wav,
                    );
                    notices::deliver(&shared, &tenant.id, "voicemail", mail);
                }
                let notice = Notice {
                    kind: NoticeKind::VoicemailLeft,
                    call_id: snapshot.call_id.clone(),
                    at: unix_ms(),
                    queue: None,
                    agent: Some(mailbox),
                    detail: Some(id.clone()),
                };
                report_notice(&tenant, &notice).await;
            }
            Some(id)
        }
        .boxed()
    }

    /// A call nobody answered: e-mailed to every extension it rang (the
    /// one called, or each member of a ring group) that asked for it
    /// (`missed_call_email`), once each. A voicemail has its own e-mail.
    fn email_missed_call(
        &self,
        record: &switchyard_plugins::types::CallRecord,
        call: &CallSnapshot,
    ) {
        use switchyard_plugins::types::Disposition;
        use switchyard_store::{ExtensionRepo, NoticeRepo};
        if self.shared.mailer.is_none() {
            return;
        }
        let group = self
            .shared
            .store
            .notices(&self.tenant.id)
            .unwrap_or_default();
        let missed = match record.disposition {
            Disposition::NoAnswer => Some("no answer"),
            Disposition::Busy => Some("busy"),
            Disposition::Cancelled => Some("the caller hung up first"),
            _ => None,
        };
        if !group.after_hours.is_empty()
            && record.tags.iter().any(|t| t == notices::AFTER_HOURS_TAG)
        {
            let outcome = match (record.disposition, &record.agent) {
                (Disposition::Voicemail, _) => "they left a voicemail".to_string(),
                (Disposition::Answered, Some(agent)) => format!("{agent} answered"),
                // Answered by the host only: the flow's closed message.
                _ if record.answer_time.is_some() => "they heard the closed message".to_string(),
                _ => missed.unwrap_or("the call failed").to_string(),
            };
            let mail =
                notices::after_hours_mail(group.after_hours, call, &outcome, record.start_time);
            notices::deliver(&self.shared, &self.tenant.id, "after-hours call", mail);
        }
        let Some(outcome) = missed else {
            return;
        };
        if !group.missed_calls.is_empty() && call.direction == Direction::Inbound {
            let mail = notices::group_missed_call_mail(
                group.missed_calls,
                call,
                outcome,
                record.start_time,
            );
            notices::deliver(&self.shared, &self.tenant.id, "missed call", mail);
        }
        let mut rang: Vec<&str> = record.legs.iter().map(|l| l.target.as_str()).collect();
        rang.push(&record.callee.number);
        rang.push(&record.dialled);
        let mut told = std::collections::HashSet::new();
        for number in rang {
            if !self.tenant.extensions.contains_key(number) || !told.insert(number) {
                continue;
            }
            if let Ok(Some(ext)) = self.shared.store.get_extension(&self.tenant.id, number)
                && ext.missed_call_email
                && let Some(to) = ext.email
            {
                let mail = notices::missed_call_mail(to, call, number, outcome, record.start_time);
                notices::deliver(&self.shared, &self.tenant.id, "missed call", mail);
            }
        }
    }

    /// The call's trunk parts so far, for the prepaid credit watch (only
    /// for tenants whose minutes cost).
    fn watch_credit(&self) {
        if !self.tenant.billing.rates_minutes() {
            return;
        }
        let s = self.session.snapshot();
        let legs = self.session.legs().iter().map(|l| {
            let ended = (l.end_time != 0).then_some(l.end_time);
            (l.target.as_str(), l.answer_time, ended)
        });
        let parts = crate::rating::parts_of(
            s.direction == Direction::Inbound,
            &s.dialled,
            s.answer_time,
            None,
            legs,
            |n| self.tenant.extensions.contains_key(n),
        );
        let parts = parts.into_iter().map(|(_, p)| p).collect();
        self.shared
            .credit
            .lock()
            .expect("credit lock")
            .entry(self.tenant.id.clone())
            .or_default()
            .update(&self.call_id, parts);
    }

    fn unwatch_credit(&self) {
        if self.tenant.billing.rates_minutes()
            && let Some(w) = self
                .shared
                .credit
                .lock()
                .expect("credit lock")
                .get_mut(&self.tenant.id)
        {
            w.remove(&self.call_id);
        }
    }

    /// The call is over: the recording is stored, the media closed (its
    /// ports back now, not after the reporters), the record written.
    async fn write_record(&mut self, r: Record) {
        self.finish_call_recording(r.agent.as_deref()).await;
        if let Some(a) = self.anchor.take() {
            a.close().await;
        }
        let mut r = r;
        r.snapshot = self.snapshot();
        let plugin = self.pinned.as_ref().map(|p| (p.name.clone(), p.number));
        let record = record::call_record(&r, plugin, self.recording.clone());
        let cdr = record::cdr(&record, &r.monitors);
        self.log_monitors(&r);
        self.email_missed_call(&record, &r.snapshot);
        // The write waits for a flush, shared with other calls ending at
        // the same moment, on the record writer's thread (`cdr_log`).
        if let Err(e) = self.shared.cdr_log.write(cdr.clone()).await {
            tracing::error!(call = %self.call_id, error = %e, "call record not stored")
        }
        self.record = Some(record);
        self.unwatch_credit();
        // Durable (or failed for good): the parties may see the end now.
        self.session.handle_record_written(Instant::now());
        // Then its trunk minutes are charged (another flush; nobody waits
        // for it any more).
        crate::rating::charge(&self.shared, &self.tenant, &cdr).await;
    }

    async fn finish_call_recording(&mut self, agent: Option<&str>) {
        let (Some(path), Some(anchor)) = (self.recording_path.take(), self.anchor.clone()) else {
            return;
        };
        let stop = anchor.with_media(|h| h.stop_recording());
        let duration = match stop {
            Some(s) => s.await,
            None => None,
        };
        let Some(duration) = duration else {
            let _ = std::fs::remove_file(&path);
            return;
        };
        let mut meta =
            BTreeMap::from([("duration_ms".to_string(), duration.as_millis().to_string())]);
        if let Some(agent) = agent {
            meta.insert("agent".into(), agent.to_string());
        }
        let snapshot = self.snapshot();
        let Some(id) = audio::store_audio(
            &self.shared,
            &self.tenant,
            &snapshot,
            "recording",
            &path,
            meta,
        )
        .await
        else {
            return;
        };
        self.recording = Some(id.clone());
        let notice = Notice {
            kind: NoticeKind::RecordingReady,
            call_id: self.call_id.clone(),
            at: unix_ms(),
            queue: None,
            agent: agent.map(str::to_string),
            detail: Some(id),
        };
        report_notice(&self.tenant, &notice).await;
    }

    /// Everything is sent: the call leaves the live list (whoever sees
    /// it end finds its record), and the reporters hear of it.
    async fn finished(&mut self) {
        self.active = None;
        self.release_busy();
        let Some(record) = self.record.take() else {
            return;
        };
        let disposition = record::stored(record.disposition);
        self.shared
            .in_progress
            .end(&self.call_id, Some(disposition.to_string()));
        crate::call_log::ended(&record, &self.session.snapshot().flow);
        if disposition != switchyard_store::Disposition::Answered {
            self.shared
                .metrics
                .call_failures
                .get_or_create(&crate::metrics::OutcomeLabel {
                    tenant: self.tenant.id.clone(),
                    disposition: disposition.to_string(),
                })
                .inc();
        }
        for (plugin, r) in self.tenant.runtime.report_call_record(&record).await {
            if let Err(f) = r {
                tracing::warn!(tenant = %self.tenant.id, %plugin, %f, "reporter failed");
            }
        }
        // Every call is logged in the tenant's CRM, if it has a connector:
        // in the background, a few at a time, so a slow CRM never takes
        // the plugin places the tenant's routing decisions need.
        crate::crm_log::log_call(&self.shared, &self.tenant, record);
    }

    /// Requests that reached the call after it ended (both sides hung up
    /// at once): a BYE is answered 200 (the call is over, as it asked),
    /// anything else 481.
    fn answer_late_requests(&mut self) {
        // From now on a sender hears that the call is gone (a pickup or a
        // supervisor's INVITE is then refused by whoever sent it); what
        // was sent before is answered here.
        self.rx.close();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                // A phone picking up, or a supervisor, too late.
                CallMsg::Adopt(leg, _) | CallMsg::Monitor { leg, .. } => {
                    disown(&self.shared, [leg.call_id()], &self.tx);
                    refuse(&self.shared, *leg, 480, "");
                }
                CallMsg::Request { key, request, .. } => {
                    let code = if request.method() == "BYE" { 200 } else { 481 };
                    self.shared
                        .stack
                        .respond(&key, response(&request, code, "", request.to_tag()));
                }
                // An attended transfer that reaches a call already over.
                CallMsg::TakeOver { party, .. } => self.hang_up_given(party.leg, &self.tx.clone()),
                CallMsg::HandOver {
                    keeper: to,
                    referrer_leg,
                    ..
                }
                | CallMsg::GiveUp {
                    to,
                    replaced_leg: referrer_leg,
                    ..
                } => {
                    let _ = to.send(CallMsg::ReplaceRefused {
                        referrer_leg,
                        status: 481,
                    });
                }
                _ => {}
            }
        }
    }

    /// A party handed over to a call that is gone (`to`): nobody will
    /// talk to it, so it is hung up here (a BYE needs nobody: the stack
    /// retransmits it) and its Call-ID routed nowhere.
    fn hang_up_given(&self, mut leg: Leg, to: &mpsc::UnboundedSender<CallMsg>) {
        tracing::info!(call = %self.call_id, "attended transfer: the other call is gone, the party is hung up");
        disown(&self.shared, [leg.call_id()], to);
        leg.hang_up("");
        while let Some(out) = leg.poll_transmit() {
            if let Transmit::Request { msg, peer, .. } = out.transmit {
                drop(self.shared.stack.send_request(msg, peer));
            }
        }
    }
}

async fn report_notice(tenant: &Tenant, notice: &Notice) {
    for (plugin, r) in tenant.runtime.report_notice(notice).await {
        if let Err(f) = r {
            tracing::warn!(tenant = %tenant.id, %plugin, %f, "reporter failed");
        }
    }
}

/// Sleep until `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod pickup_tests {
    use super::*;
    use crate::tenant::tests::tenant;
    use switchyard_plugins::types::Party;

    fn dialling(from: &str, dialled: &str) -> CallSnapshot {
        let party = |n: &str| Party {
            number: n.into(),
            display_name: None,
        };
        CallSnapshot {
            call_id: "c".into(),
            tenant: "t".into(),
            direction: Direction::Internal,
            caller: party(from),
            callee: party(dialled),
            dialled: dialled.into(),
            tags: vec![],
            start_time: 0,
            answer_time: None,
            time_zone: "UTC".into(),
            flow: "extensions".into(),
            plugin_version: 1,
        }
    }

    fn sorted(v: Option<Vec<String>>) -> Option<Vec<String>> {
        v.map(|mut v| {
            v.sort();
            v
        })
    }

    #[test]
    fn group_pickup_takes_the_pickup_group_else_the_ring_groups() {
        let mut t = tenant("t", "t.example");
        t.ring_groups
            .insert("sales".into(), vec!["1001".into(), "1003".into()]);
        // No pickup groups: the ring groups serve.
        assert_eq!(
            pickup_wants(&t, &dialling("1001", "*8")),
            Some(vec!["1003".to_string()])
        );
        assert_eq!(pickup_wants(&t, &dialling("1002", "*8")), Some(vec![]));
        // 1001 and 1002 share a pickup group: it replaces the ring group.
        for n in ["1001", "1002"] {
            t.extensions.get_mut(n).unwrap().pickup_group = Some("desk".into());
        }
        assert_eq!(
            pickup_wants(&t, &dialling("1001", "*8")),
            Some(vec!["1002".to_string()])
        );
        assert_eq!(
            sorted(pickup_wants(&t, &dialling("1002", "*8"))),
            Some(vec!["1001".to_string()])
        );
        // 1003, in no pickup group, still has its ring group.
        assert_eq!(
            pickup_wants(&t, &dialling("1003", "*8")),
            Some(vec!["1001".to_string()])
        );
        // Directed pickup is not about groups; not of oneself.
        assert_eq!(
            pickup_wants(&t, &dialling("1003", "**1002")),
            Some(vec!["1002".to_string()])
        );
        assert_eq!(pickup_wants(&t, &dialling("1002", "**1002")), None);
        assert_eq!(pickup_wants(&t, &dialling("1002", "**9999")), None);
    }
}
