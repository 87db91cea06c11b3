//! One call: the caller's leg (A), the legs we ring (B), and the loop that
//! turns every step into a call-flow plugin event and runs the actions the
//! plugin returns.
//!
//! ```text
//! INVITE ─► authenticate (407) ─► snapshot ─► flow.handle(call-started)
//!   ┌──────────────────────────────────────────────┘
//!   ▼ actions, in order
//!   dial ─► B legs in parallel (or one by one) ─► 180/183 relayed to A
//!     ├─ a B leg answers ─► ACK B, CANCEL the others, 200 to A ─► bridged
//!     │                      until BYE from either side (re-INVITEs pass)
//!     └─ busy / no answer / failed ─► flow.handle(dial-finished) ─► …
//!   answer, play, gather, pause, record-audio, voicemail ─► the host
//!     answers the caller itself (200 with our SDP) and plays, listens and
//!     records on the caller's leg (`call/media.rs`); a later dial plays
//!     ringback to the caller and connects the agent without a new 200
//!   reject ─► 486 / 603 / 480      hangup ─► BYE or 480
//!   goto-flow ─► the other flow's call-started
//! end ─► flow.handle(hangup) ─► call record: store + reporter plugins
//! ```
//! Queues, conferences and transfers by the flow are not built yet: those
//! actions end the call with 480 after logging why.

use std::sync::Arc;
use std::time::Duration;

use switchyard_plugins::flow_types::{
    Action, Decision, Dial, DialMode, DialOutcome, DialResult, DialTarget, Event, HangupBy,
    HangupInfo, RejectReason,
};
use switchyard_plugins::types::{
    CallRecord, CallSnapshot, Direction, Disposition, HangupSide, LegRecord, Party,
};
use switchyard_plugins::{Pinned, PluginFailure};
use switchyard_sip::dialog::Dialog;
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use switchyard_store::{Cdr, CdrLeg, CdrRepo, Disposition as StoredDisposition, RegistrationRepo};
use switchyard_transport::ClientEvent;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::anchor::{self, Anchor, CALLEE, CALLER};
use crate::auth::{Kind, authenticate};
use crate::calls_in_progress::{CallState, LiveCallInfo};
use crate::deadlines::Deadlines;
use crate::metrics::Metrics;
use crate::resolve::{RequestFacts, Resolution, resolve};
use crate::session::{outcome_of, pick_code};
use crate::trunk::{CallGate, GateTicket, OverCap, Trunk};
use crate::{ALLOW, CallMsg, Shared, Tenant};
use futures_util::FutureExt;
use switchyard_clock::unix_ms;
use switchyard_sdp::Direction as SdpDirection;

mod media;

/// Most plugin decisions one call may take (a flow that loops forever
/// between `goto-flow`s is cut off).
const MAX_DECISIONS: usize = 64;

/// Ring time when a dial gives none.
const DEFAULT_RING_SECS: u32 = 30;

/// Start the task for a new INVITE.
pub(crate) fn start(shared: Arc<Shared>, key: TransactionKey, invite: Message, peer: Peer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let call_id = invite.call_id().to_string();
    shared
        .calls
        .lock()
        .expect("calls lock")
        .insert(call_id.clone(), tx.clone());
    tokio::spawn(async move {
        let mut call = Call::new(shared.clone(), tx.clone(), rx, key, invite, peer);
        // A bug that panics must end this call, not leak it: the caller is
        // answered (or hung up), the call leaves the live list and every
        // map, and its ports, caps and gauges are released (by `abandon`,
        // the closing steps and the drops below), and the panic is counted.
        let outcome = std::panic::AssertUnwindSafe(call.run())
            .catch_unwind()
            .await;
        if outcome.is_err() {
            call.abandon();
        }
        // Whatever path ended the call: its last messages go out and its
        // ports go back (both are normally done already, in `finish`).
        call.send_closing();
        call.close_media().await;
        // Forget every Call-ID this task owned — unless a newer task took
        // it over (the INVITE that answers our 407 has the same Call-ID).
        let mut calls = shared.calls.lock().expect("calls lock");
        for id in call.call_ids.iter().chain(std::iter::once(&call_id)) {
            if calls.get(id).is_some_and(|s| s.same_channel(&tx)) {
                calls.remove(id);
            }
        }
    });
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

/// Why a call ended before or after answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Still going: the flow goes on.
    No,
    Yes,
}

/// A B leg being rung.
struct Ringing {
    target: String,
    key: TransactionKey,
    invite: Message,
    peer: Peer,
    done: bool,
    leg: usize,
    /// The trunk a number goes out through: its credentials answer a
    /// carrier's 401/407 once.
    trunk: Option<Arc<Trunk>>,
    auth_tried: bool,
}

/// One device to ring.
struct Device {
    label: String,
    uri: String,
    peer: Peer,
    trunk: Option<Arc<Trunk>>,
}

/// A message that tells a party the call is over (the 200 to a BYE, our
/// BYE, a final non-2xx to the INVITE). Held until the call record is
/// durable: a party that saw its call end will find it in the records,
/// even if the host is killed right after (issue 11, item 5).
enum Closing {
    Respond(TransactionKey, Message),
    Request(Message, Peer),
}

/// The answered B leg.
struct Bridge {
    b: Dialog,
    b_peer: Peer,
    a: Dialog,
    answered_by: String,
    answered_at: Instant,
}

struct Call {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<CallMsg>,
    rx: mpsc::UnboundedReceiver<CallMsg>,
    a_key: TransactionKey,
    a_invite: Message,
    a_peer: Peer,
    a_tag: String,
    tenant: Option<Arc<Tenant>>,
    snapshot: Option<CallSnapshot>,
    /// The final response to A was sent.
    final_sent: bool,
    answer_ms: Option<u64>,
    start_ms: u64,
    sip_code: u16,
    disposition: Disposition,
    hangup_by: Option<HangupSide>,
    agent: Option<String>,
    legs: Vec<LegRecord>,
    call_ids: Vec<String>,
    flow_plugin: Option<(String, u32)>,
    provisional_sent: Vec<u16>,
    /// Places this call holds under the tenant's and trunks' caps.
    tickets: Vec<GateTicket>,
    /// The call's anchored media, when the host anchors it.
    anchor: Option<Anchor>,
    /// The caller's dialog, once the host answered the call itself.
    a_dialog: Option<Dialog>,
    /// The call recording being written, and its stored id once done.
    recording_path: Option<std::path::PathBuf>,
    recording: Option<String>,
    /// Timer H and the maximum duration.
    deadlines: Deadlines,
    /// Sent once the record is stored ([`Closing`]).
    closing: Vec<Closing>,
}

fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Call {
    fn new(
        shared: Arc<Shared>,
        tx: mpsc::UnboundedSender<CallMsg>,
        rx: mpsc::UnboundedReceiver<CallMsg>,
        a_key: TransactionKey,
        a_invite: Message,
        a_peer: Peer,
    ) -> Call {
        let deadlines = Deadlines::new(
            std::time::Instant::now(),
            shared.settings.max_call_duration,
            shared.settings.ack_timeout,
        );
        Call {
            shared,
            tx,
            rx,
            a_key,
            a_invite,
            a_peer,
            a_tag: random_token(),
            tenant: None,
            snapshot: None,
            final_sent: false,
            answer_ms: None,
            start_ms: unix_ms(),
            sip_code: 0,
            disposition: Disposition::Failed,
            hangup_by: None,
            agent: None,
            legs: Vec::new(),
            call_ids: Vec::new(),
            flow_plugin: None,
            provisional_sent: Vec::new(),
            tickets: Vec::new(),
            anchor: None,
            a_dialog: None,
            recording_path: None,
            recording: None,
            deadlines,
            closing: Vec::new(),
        }
    }

    /// Answer `key` with `resp` once the call record is durable.
    fn respond_closing(&mut self, key: TransactionKey, resp: Message) {
        self.closing.push(Closing::Respond(key, resp));
    }

    /// Send what [`Closing`] held back: the record is durable (or could
    /// not be written, and waiting longer would not help).
    fn send_closing(&mut self) {
        for c in std::mem::take(&mut self.closing) {
            match c {
                Closing::Respond(key, resp) => self.shared.stack.respond(&key, resp),
                Closing::Request(req, peer) => {
                    let _ = self.shared.stack.send_request(req, peer);
                }
            }
        }
    }

    /// End the call with `req` to `peer` (a BYE), sent once the call
    /// record is durable.
    fn request_closing(&mut self, req: Message, peer: Peer) {
        self.closing.push(Closing::Request(req, peer));
    }

    /// Stop the call's media and give its ports back; returns once they
    /// are free.
    async fn close_media(&mut self) {
        if let Some(a) = self.anchor.take() {
            a.media.close().await;
        }
    }

    /// Send a final (or provisional) answer on the A leg.
    fn answer_a(&mut self, status: u16, reason: &str) {
        if self.final_sent {
            return;
        }
        let mut r = response(&self.a_invite, status, reason, Some(&self.a_tag));
        if status < 300 {
            r.headers
                .push("Contact", self.contact(self.a_peer.transport));
        }
        if status >= 200 {
            self.final_sent = true;
            self.sip_code = status;
        }
        // A final failure ends a call that will have a record: it goes
        // out once the record is stored. Before the flow (404, 403…)
        // there is no record, and nothing to wait for.
        if status >= 300 && self.snapshot.is_some() {
            let key = self.a_key.clone();
            return self.respond_closing(key, r);
        }
        self.shared.stack.respond(&self.a_key, r);
    }

    fn contact(&self, transport: Transport) -> String {
        let mut addr = self.shared.stack.local_addr(transport);
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let dialled = self
            .snapshot
            .as_ref()
            .map(|s| s.dialled.as_str())
            .unwrap_or("pbx");
        match transport {
            Transport::Udp => format!("<sip:{dialled}@{addr}>"),
            Transport::Tcp => format!("<sip:{dialled}@{addr};transport=tcp>"),
        }
    }

    async fn run(&mut self) {
        let user_of = |v: Option<&str>| {
            v.and_then(|v| NameAddr::parse(v).ok())
                .and_then(|a| SipUri::parse(&a.uri).ok())
                .and_then(|u| u.user_decoded())
                .unwrap_or_default()
        };
        let caller = user_of(self.a_invite.headers.get("From"));
        let caller_name = self
            .a_invite
            .headers
            .get("From")
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|a| a.display);
        let dialled = SipUri::parse(self.a_invite.uri())
            .ok()
            .and_then(|u| u.user_decoded())
            .unwrap_or_default();

        let facts = RequestFacts::of(&self.a_invite, self.a_peer.addr);
        let (tenant, direction) = match resolve(&self.shared.tenants(), &facts) {
            // Carrier traffic for one of the tenant's DIDs: trusted by
            // address.
            Resolution::Trunk(tenant, trunk) => {
                if let Err(over) = self.admit(
                    &trunk.gate,
                    trunk.max_concurrent_calls,
                    trunk.max_calls_per_second,
                ) {
                    return self.over_cap(&tenant.id, &trunk.name, over);
                }
                (tenant, Direction::Inbound)
            }
            Resolution::Extension(tenant) => {
                if !authenticate(
                    &self.shared,
                    &tenant,
                    &self.a_key,
                    &self.a_invite,
                    self.a_peer,
                    &caller,
                    Kind::Proxy,
                ) {
                    self.final_sent = true;
                    return;
                }
                (tenant, Direction::Internal)
            }
            Resolution::UnknownNumber => return self.answer_a(404, "Unknown Number"),
            Resolution::UnknownDomain => return self.answer_a(404, "Unknown Domain"),
        };
        self.tenant = Some(tenant.clone());
        if tenant.suspended {
            return self.answer_a(403, "Tenant Suspended");
        }
        if self
            .a_invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok())
            == Some(0)
        {
            return self.answer_a(483, "");
        }
        if let Err(over) = self.admit(
            &tenant.gate,
            tenant.max_concurrent_calls,
            tenant.max_calls_per_second,
        ) {
            return self.over_cap(&tenant.id, "tenant", over);
        }
        if !self.a_invite.body.is_empty() {
            match Anchor::new(&self.shared, &self.a_invite.body).await {
                Ok(a) => self.anchor = a,
                Err((code, reason)) => return self.answer_a(code, &reason),
            }
        }
        let flow = tenant.flow_for(&dialled).to_string();
        self.snapshot = Some(CallSnapshot {
            call_id: self.a_invite.call_id().to_string(),
            tenant: tenant.id.clone(),
            direction,
            caller: Party {
                number: caller.clone(),
                display_name: caller_name.or_else(|| {
                    tenant
                        .extensions
                        .get(&caller)
                        .and_then(|e| e.display_name.clone())
                }),
            },
            callee: Party {
                number: dialled.clone(),
                display_name: tenant
                    .extensions
                    .get(&dialled)
                    .and_then(|e| e.display_name.clone()),
            },
            dialled: dialled.clone(),
            tags: Vec::new(),
            start_time: self.start_ms,
            answer_time: None,
            time_zone: tenant.time_zone.clone(),
            flow: flow.clone(),
            plugin_version: 0,
        });
        let label = Metrics::tenant(&tenant.id);
        self.shared.metrics.call_setups.get_or_create(&label).inc();
        // Decremented when dropped: also when the call task panics.
        let _active = ActiveCall::count(&self.shared, &label);
        self.shared.in_progress.start(
            LiveCallInfo {
                call_id: self.a_invite.call_id().to_string(),
                tenant: tenant.id.clone(),
                caller: caller.clone(),
                callee: dialled.clone(),
                dialled: dialled.clone(),
                state: CallState::Routing,
                started_ms: self.start_ms,
                agent: None,
            },
            self.tx.clone(),
        );
        crate::call_log::started(self.snapshot.as_ref(), self.a_peer.addr);
        self.flow_loop(tenant.clone(), flow).await;
        self.finish(&tenant).await;
        if self.disposition != Disposition::Answered {
            self.shared
                .metrics
                .call_failures
                .get_or_create(&crate::metrics::OutcomeLabel {
                    tenant: tenant.id.clone(),
                    disposition: stored(self.disposition).to_string(),
                })
                .inc();
        }
    }

    /// After a panic in `run`: answer or hang up the caller and take the
    /// call off the live list. Best effort — the call's state may be
    /// half-changed — but everything it holds is released when it drops.
    fn abandon(&mut self) {
        let call_id = self.a_invite.call_id().to_string();
        tracing::error!(call = %call_id, "call task panicked: call ended");
        self.shared.metrics.task_panicked("call");
        if !self.final_sent {
            self.answer_a(500, "Server Internal Error");
        } else if self.a_dialog.is_some() {
            self.bye_caller(HangupSide::System);
        }
        self.shared.in_progress.end(&call_id, Some("failed".into()));
    }

    /// Take a place under `gate`'s caps for the rest of the call.
    fn admit(
        &mut self,
        gate: &Arc<CallGate>,
        concurrent: u32,
        per_second: u32,
    ) -> Result<(), OverCap> {
        let ticket = CallGate::admit(gate, concurrent, per_second, std::time::Instant::now())?;
        self.tickets.push(ticket);
        Ok(())
    }

    /// 503 with Retry-After: a cap of the tenant or its trunk is reached.
    fn over_cap(&mut self, tenant: &str, what: &str, over: OverCap) {
        tracing::info!(%tenant, limit = what, cap = over.what, "call refused: over the cap");
        let mut r = response(
            &self.a_invite,
            503,
            "Service Unavailable",
            Some(&self.a_tag),
        );
        r.headers
            .push("Retry-After", over.retry_after_secs.to_string());
        self.final_sent = true;
        self.sip_code = 503;
        self.shared.stack.respond(&self.a_key, r);
    }

    fn pin(&mut self, tenant: &Tenant, flow: &str) -> Result<Pinned, PluginFailure> {
        let pinned = tenant.runtime.pin_flow(flow)?;
        self.flow_plugin = Some((pinned.name.clone(), pinned.number));
        if let Some(s) = self.snapshot.as_mut() {
            s.flow = flow.to_string();
            s.plugin_version = pinned.number;
        }
        Ok(pinned)
    }

    async fn decide(
        &mut self,
        tenant: &Tenant,
        pinned: Option<&Pinned>,
        event: &Event,
        state: Option<Vec<u8>>,
    ) -> Decision {
        let snapshot = self.snapshot.clone().expect("snapshot set before the flow");
        let label = Metrics::tenant(&tenant.id);
        let started = std::time::Instant::now();
        let result = match pinned {
            Some(p) => tenant.runtime.invoke_flow(p, &snapshot, event, state).await,
            None => Err(PluginFailure::NotInstalled(snapshot.flow.clone())),
        };
        let m = &self.shared.metrics;
        m.plugin_invocations.get_or_create(&label).inc();
        m.plugin_latency
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            m.plugin_errors.get_or_create(&label).inc();
        }
        match result {
            Ok(d) => d,
            Err(failure) => {
                tracing::warn!(tenant = %tenant.id, call = %snapshot.call_id, %failure, "flow plugin failed: fallback");
                tenant.runtime.fallback_decision()
            }
        }
    }

    async fn flow_loop(&mut self, tenant: Arc<Tenant>, first_flow: String) {
        let mut pinned = self.pin(&tenant, &first_flow).ok();
        let mut event = Event::CallStarted;
        let mut state: Option<Vec<u8>> = None;
        for _ in 0..MAX_DECISIONS {
            let decision = self
                .decide(&tenant, pinned.as_ref(), &event, state.take())
                .await;
            state = decision.state.clone();
            let mut next: Option<Event> = None;
            for action in decision.actions {
                match action {
                    Action::SetTag(tag) => {
                        if let Some(s) = self.snapshot.as_mut() {
                            s.tags.push(tag);
                        }
                    }
                    Action::Answer => {
                        self.answer_by_host();
                    }
                    Action::Play(prompts) => match self.play(&tenant, &prompts).await {
                        Some(e) => {
                            next = Some(e);
                            break;
                        }
                        None => return,
                    },
                    Action::Gather(g) => match self.gather(&tenant, &g).await {
                        Some(e) => {
                            next = Some(e);
                            break;
                        }
                        None => return,
                    },
                    Action::RecordAudio(r) => match self.record_audio(&tenant, &r).await {
                        Some(e) => {
                            next = Some(e);
                            break;
                        }
                        None => return,
                    },
                    Action::Voicemail(v) => {
                        return self
                            .voicemail(&tenant, &v.mailbox, v.greeting.as_ref())
                            .await;
                    }
                    Action::Pause(ms) if self.a_dialog.is_some() => {
                        if !self.pause_answered(ms).await {
                            return;
                        }
                    }
                    Action::Pause(ms) => {
                        if self.wait(Duration::from_millis(u64::from(ms))).await == End::Yes {
                            return;
                        }
                    }
                    Action::Reject(_) | Action::Hangup if self.a_dialog.is_some() => {
                        return self.bye_caller(HangupSide::System);
                    }
                    Action::Reject(reason) => {
                        let (code, d) = match reason {
                            RejectReason::Busy => (486, Disposition::Busy),
                            RejectReason::Decline => (603, Disposition::Rejected),
                            RejectReason::Unavailable => (480, Disposition::Rejected),
                        };
                        self.disposition = d;
                        self.hangup_by = Some(HangupSide::System);
                        return self.answer_a(code, "");
                    }
                    Action::Hangup => {
                        self.hangup_by = Some(HangupSide::System);
                        self.disposition = Disposition::Rejected;
                        return self.answer_a(480, "");
                    }
                    Action::GotoFlow(flow) => {
                        pinned = self.pin(&tenant, &flow).ok();
                        state = None;
                        next = Some(Event::CallStarted);
                        break;
                    }
                    Action::Dial(dial) => match self.dial(&tenant, dial).await {
                        Some(result) => {
                            next = Some(Event::DialFinished(result));
                            break;
                        }
                        None => return,
                    },
                    other => {
                        tracing::warn!(tenant = %tenant.id, action = ?other, "action not available yet (queues, conferences, transfers): ending the call");
                        if self.a_dialog.is_some() {
                            return self.bye_caller(HangupSide::System);
                        }
                        self.hangup_by = Some(HangupSide::System);
                        return self.answer_a(480, "");
                    }
                }
            }
            match next {
                Some(e) => event = e,
                None => {
                    // The plugin has nothing more to do with the call: end
                    // it as Twilio ends a finished TwiML document.
                    if self.a_dialog.is_some() {
                        return self.bye_caller(HangupSide::System);
                    }
                    self.hangup_by = Some(HangupSide::System);
                    return self.answer_a(480, "");
                }
            }
        }
        tracing::warn!(tenant = %tenant.id, "flow took too many decisions: ending the call");
        if self.a_dialog.is_some() {
            return self.bye_caller(HangupSide::System);
        }
        self.answer_a(480, "");
    }

    /// Wait, watching the caller: `End::Yes` if the caller cancelled.
    async fn wait(&mut self, d: Duration) -> End {
        let until = Instant::now() + d;
        let a_call = self.a_invite.call_id().to_string();
        loop {
            tokio::select! {
                _ = sleep_until(until) => return End::No,
                msg = next_msg(&mut self.rx, &mut self.deadlines, &a_call) => match msg {
                    Some(CallMsg::Cancel { .. }) => {
                        self.caller_cancelled();
                        return End::Yes;
                    }
                    Some(CallMsg::Hangup) => {
                        self.system_hangup();
                        return End::Yes;
                    }
                    Some(other) => self.stray(other),
                    None => return End::Yes,
                }
            }
        }
    }

    /// Hung up by the host (the API) before an answer.
    fn system_hangup(&mut self) {
        self.hangup_by = Some(HangupSide::System);
        self.disposition = Disposition::Rejected;
        self.answer_a(480, "Hung Up By The Operator");
    }

    fn caller_cancelled(&mut self) {
        self.answer_a(487, "");
        self.disposition = Disposition::Cancelled;
        self.hangup_by = Some(HangupSide::Caller);
    }

    /// A message that does not fit the call's state.
    fn stray(&mut self, msg: CallMsg) {
        if let CallMsg::Request { key, request, .. } = msg {
            self.shared
                .stack
                .respond(&key, response(&request, 481, "", Some(&self.a_tag)));
        }
    }

    /// Where a target rings: every registered device of an extension
    /// (or of a ring group's members), a SIP URI, or a number through the
    /// tenant's trunk.
    async fn resolve(&mut self, tenant: &Tenant, target: &DialTarget) -> Vec<Device> {
        let ext_devices = |ext: &str| -> Vec<Device> {
            let now = unix_ms();
            self.shared
                .store
                .bindings(&tenant.id, ext, now)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|b| {
                    let peer = device_peer(&b)?;
                    Some(Device {
                        label: ext.to_string(),
                        uri: b.contact,
                        peer,
                        trunk: None,
                    })
                })
                .collect()
        };
        match target {
            DialTarget::Extension(e) => ext_devices(e),
            DialTarget::RingGroup(g) => tenant
                .ring_groups
                .get(g)
                .map(|members| members.iter().flat_map(|m| ext_devices(m)).collect())
                .unwrap_or_default(),
            DialTarget::SipUri(u) => SipUri::parse(u)
                .ok()
                .and_then(|p| {
                    let addr = p.host_port().parse().ok()?;
                    Some(vec![Device {
                        label: u.clone(),
                        uri: u.clone(),
                        peer: Peer {
                            transport: Transport::Udp,
                            addr,
                        },
                        trunk: None,
                    }])
                })
                .unwrap_or_default(),
            DialTarget::Number(n) => {
                let Some(trunk) = tenant.trunks.first().cloned() else {
                    tracing::info!(tenant = %tenant.id, number = %n, "no trunk for an outside number");
                    return Vec::new();
                };
                if let Err(over) = self.admit(
                    &trunk.gate,
                    trunk.max_concurrent_calls,
                    trunk.max_calls_per_second,
                ) {
                    tracing::info!(tenant = %tenant.id, trunk = %trunk.name, cap = over.what, "outbound call over the trunk's cap");
                    return Vec::new();
                }
                let Some(peer) = trunk.peer().await else {
                    return Vec::new();
                };
                if let Some(s) = self.snapshot.as_mut()
                    && s.direction == Direction::Internal
                {
                    s.direction = Direction::Outbound;
                }
                vec![Device {
                    label: n.clone(),
                    uri: format!("sip:{n}@{}", trunk.host),
                    peer,
                    trunk: Some(trunk),
                }]
            }
        }
    }

    /// Ring the dial's targets. `Some(result)` when the dial ended without
    /// a conversation (the flow goes on); `None` when the call is over.
    async fn dial(&mut self, tenant: &Tenant, dial: Dial) -> Option<DialResult> {
        let ring = Duration::from_secs(u64::from(if dial.ring_timeout_secs == 0 {
            DEFAULT_RING_SECS
        } else {
            dial.ring_timeout_secs
        }));
        let groups: Vec<Vec<DialTarget>> = match dial.mode {
            DialMode::Simultaneous => vec![dial.targets.clone()],
            DialMode::Sequential => dial.targets.iter().map(|t| vec![t.clone()]).collect(),
        };
        let mut last = DialResult {
            outcome: DialOutcome::Failed,
            answered_by: None,
            sip_code: 404,
            talk_seconds: 0,
        };
        for group in groups {
            let mut devices = Vec::new();
            for t in &group {
                devices.extend(self.resolve(tenant, t).await);
            }
            if devices.is_empty() {
                last = DialResult {
                    outcome: DialOutcome::Failed,
                    answered_by: None,
                    sip_code: 480,
                    talk_seconds: 0,
                };
                continue;
            }
            match self.ring(devices, ring, dial.caller_id.as_deref()).await {
                RingResult::Answered(bridge) => {
                    let mut bridge = *bridge;
                    // The conversation, and the agent's blind transfers.
                    loop {
                        let Bridged::Transfer(to) = self.bridged(bridge).await else {
                            return None;
                        };
                        let target = if tenant.extensions.contains_key(&to) {
                            DialTarget::Extension(to.clone())
                        } else {
                            DialTarget::Number(to.clone())
                        };
                        tracing::info!(call = %self.a_invite.call_id(), %to, "blind transfer");
                        let devices = self.resolve(tenant, &target).await;
                        let result = if devices.is_empty() {
                            RingResult::NotAnswered(DialResult {
                                outcome: DialOutcome::Failed,
                                answered_by: None,
                                sip_code: 480,
                                talk_seconds: 0,
                            })
                        } else {
                            self.ring(devices, ring, None).await
                        };
                        match result {
                            RingResult::Answered(b) => bridge = *b,
                            RingResult::CallerGone => return None,
                            // Nobody took the transfer: back to the flow.
                            RingResult::NotAnswered(r) => {
                                if let Some(a) = self.anchor.as_ref() {
                                    a.media.stop(CALLER);
                                }
                                return Some(r);
                            }
                        }
                    }
                }
                RingResult::CallerGone => return None,
                RingResult::NotAnswered(r) => {
                    if self.a_dialog.is_some()
                        && let Some(a) = self.anchor.as_ref()
                    {
                        a.media.stop(CALLER);
                        a.relay(false);
                    }
                    last = r
                }
            }
        }
        if self.a_dialog.is_none() {
            self.sip_code = last.sip_code;
        }
        self.disposition = match last.outcome {
            DialOutcome::Busy => Disposition::Busy,
            DialOutcome::NoAnswer => Disposition::NoAnswer,
            _ => Disposition::Failed,
        };
        Some(last)
    }

    async fn ring(
        &mut self,
        devices: Vec<Device>,
        ring: Duration,
        caller_id: Option<&str>,
    ) -> RingResult {
        let snapshot = self.snapshot.clone().expect("snapshot");
        let tenant = self.tenant.clone().expect("tenant");
        let domain = tenant.realm().to_string();
        let (events_tx, mut events) = mpsc::unbounded_channel::<(usize, ClientEvent)>();
        let mut legs: Vec<Ringing> = Vec::new();
        let max_forwards = self
            .a_invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .saturating_sub(1);
        for (i, device) in devices.into_iter().enumerate() {
            let Device {
                label: target,
                uri,
                peer,
                trunk,
            } = device;
            let call_id = format!("{}@switchyard", random_token());
            // Carriers see the trunk's caller-ID rule and their own domain.
            let (from_number, domain) = match &trunk {
                Some(t) => (
                    t.presented_number(caller_id, &snapshot.caller.number)
                        .to_string(),
                    t.domain().to_string(),
                ),
                None => (
                    caller_id.unwrap_or(&snapshot.caller.number).to_string(),
                    domain.clone(),
                ),
            };
            let display = snapshot
                .caller
                .display_name
                .as_deref()
                .map(|d| format!("\"{}\" ", d.replace('"', "")))
                .unwrap_or_default();
            let mut inv = Message::request("INVITE", &uri);
            inv.headers.push(
                "From",
                format!(
                    "{display}<sip:{from_number}@{domain}>;tag={}",
                    random_token()
                ),
            );
            inv.headers.push("To", format!("<sip:{target}@{domain}>"));
            inv.headers.push("Call-ID", call_id.clone());
            inv.headers.push("CSeq", "1 INVITE");
            inv.headers.push("Max-Forwards", max_forwards.to_string());
            inv.headers.push("Contact", self.contact(peer.transport));
            inv.headers.push("Allow", ALLOW);
            if let Some(anchor) = &mut self.anchor {
                inv.headers.push("Content-Type", "application/sdp");
                inv.body = anchor.callee_offer();
            } else if !self.a_invite.body.is_empty() {
                let ct = self
                    .a_invite
                    .headers
                    .get("Content-Type")
                    .unwrap_or("application/sdp");
                inv.headers.push("Content-Type", ct.to_string());
                inv.body = self.a_invite.body.clone();
            }
            self.shared
                .calls
                .lock()
                .expect("calls lock")
                .insert(call_id.clone(), self.tx.clone());
            self.call_ids.push(call_id);
            let (key, mut rx) = self.shared.stack.send_request(inv.clone(), peer);
            let fwd = events_tx.clone();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    if fwd.send((i, e)).is_err() {
                        break;
                    }
                }
            });
            self.legs.push(LegRecord {
                target: target.clone(),
                start_time: unix_ms(),
                answer_time: None,
                end_time: 0,
                sip_code: 0,
            });
            legs.push(Ringing {
                target,
                key,
                invite: inv,
                peer,
                done: false,
                leg: self.legs.len() - 1,
                trunk,
                auth_tried: false,
            });
        }
        self.shared
            .in_progress
            .update(self.a_invite.call_id(), CallState::Ringing, None);
        // A caller the host answered hears ringback from us: no 180 can
        // reach it any more.
        if self.a_dialog.is_some()
            && let Some(a) = self.anchor.as_ref()
        {
            let tone = media::ringback_for(&tenant.time_zone);
            a.media
                .play(CALLER, vec![switchyard_media::PlayItem::Tone(tone)], true);
        }
        // Kept for legs that must be sent again with credentials.
        let fwd_tx = events_tx;
        let deadline = Instant::now() + ring;
        let mut codes: Vec<u16> = Vec::new();
        let a_call = self.a_invite.call_id().to_string();
        loop {
            if legs.iter().all(|l| l.done) {
                let code = pick_code(&codes);
                return RingResult::NotAnswered(DialResult {
                    outcome: outcome_of(code),
                    answered_by: None,
                    sip_code: code,
                    talk_seconds: 0,
                });
            }
            tokio::select! {
                _ = sleep_until(deadline) => {
                    self.cancel_legs(&mut legs, None, 408);
                    return RingResult::NotAnswered(DialResult {
                        outcome: DialOutcome::NoAnswer,
                        answered_by: None,
                        sip_code: 480,
                        talk_seconds: 0,
                    });
                }
                msg = next_msg(&mut self.rx, &mut self.deadlines, &a_call) => match msg {
                    Some(CallMsg::Cancel { .. }) | None => {
                        self.cancel_legs(&mut legs, None, 487);
                        self.caller_cancelled();
                        return RingResult::CallerGone;
                    }
                    Some(CallMsg::Hangup) if self.a_dialog.is_some() => {
                        self.cancel_legs(&mut legs, None, 487);
                        self.bye_caller(HangupSide::System);
                        return RingResult::CallerGone;
                    }
                    Some(CallMsg::Hangup) => {
                        self.cancel_legs(&mut legs, None, 487);
                        self.system_hangup();
                        return RingResult::CallerGone;
                    }
                    Some(CallMsg::Request { key, request, .. })
                        if self.a_dialog.is_some() && request.call_id() == self.a_invite.call_id() =>
                    {
                        if let Some(media::Heard::Gone) = self.caller_request(key, request) {
                            self.cancel_legs(&mut legs, None, 487);
                            self.disposition = Disposition::Cancelled;
                            return RingResult::CallerGone;
                        }
                    }
                    Some(other) => self.stray(other),
                },
                Some((i, ev)) = events.recv() => {
                    let leg = &mut legs[i];
                    if leg.done {
                        continue;
                    }
                    match ev {
                        ClientEvent::Timeout => {
                            leg.done = true;
                            self.legs[leg.leg].sip_code = 408;
                            self.legs[leg.leg].end_time = unix_ms();
                            codes.push(408);
                        }
                        ClientEvent::Response(resp) if resp.status() < 200 => {
                            self.relay_provisional(&resp);
                        }
                        ClientEvent::Response(resp) if resp.status() < 300 => {
                            leg.done = true;
                            let b = Dialog::uac(&leg.invite, &resp);
                            // Media first: the callee talks as soon as it
                            // has our ACK.
                            if let Some(anchor) = self.anchor.as_mut()
                                && let Err(e) = anchor.callee_answered(&resp.body)
                            {
                                tracing::warn!(error = %e, "callee's answer unusable: media may not flow");
                            }
                            self.shared.stack.send_ack(b.ack(b.local_cseq), leg.peer);
                            let (b_peer, answered_by, rec) = (leg.peer, leg.target.clone(), leg.leg);
                            self.cancel_legs(&mut legs, Some(i), 487);
                            self.legs[rec].answer_time = Some(unix_ms());
                            self.legs[rec].sip_code = resp.status();
                            if let Some(a) = self.a_dialog.clone() {
                                // The host answered the caller already:
                                // connect the agent, no new 200.
                                if let Some(anchor) = self.anchor.as_ref() {
                                    anchor.media.stop(CALLER);
                                }
                                self.disposition = Disposition::Answered;
                                self.agent = Some(answered_by.clone());
                                self.shared.in_progress.update(self.a_invite.call_id(), CallState::Answered, Some(&answered_by));
                                self.start_call_recording(&tenant);
                                return RingResult::Answered(Box::new(Bridge {
                                    b,
                                    b_peer,
                                    a,
                                    answered_by,
                                    answered_at: Instant::now(),
                                }));
                            }
                            // 200 to the caller with the callee's SDP.
                            let mut ok = response(&self.a_invite, 200, "", Some(&self.a_tag));
                            ok.headers.push("Contact", self.contact(self.a_peer.transport));
                            ok.headers.push("Allow", ALLOW);
                            if let Some(anchor) = self.anchor.as_ref() {
                                ok.headers.push("Content-Type", "application/sdp");
                                ok.body = anchor.caller_answer();
                            } else if !resp.body.is_empty() {
                                ok.headers.push("Content-Type", resp.headers.get("Content-Type").unwrap_or("application/sdp").to_string());
                                ok.body = resp.body.clone();
                            }
                            self.final_sent = true;
                            self.sip_code = 200;
                            self.answer_ms = Some(unix_ms());
                            self.disposition = Disposition::Answered;
                            self.agent = Some(answered_by.clone());
                            if let Some(s) = self.snapshot.as_mut() {
                                s.answer_time = self.answer_ms;
                            }
                            self.shared.stack.respond(&self.a_key, ok);
                            self.deadlines.answered(std::time::Instant::now());
                            self.shared.in_progress.update(
                                self.a_invite.call_id(),
                                CallState::Answered,
                                Some(&answered_by),
                            );
                            let a = Dialog::uas(&self.a_invite, &self.a_tag);
                            self.start_call_recording(&tenant);
                            return RingResult::Answered(Box::new(Bridge {
                                b,
                                b_peer,
                                a,
                                answered_by,
                                answered_at: Instant::now(),
                            }));
                        }
                        ClientEvent::Response(resp)
                            if matches!(resp.status(), 401 | 407) && !leg.auth_tried && leg.trunk.is_some() =>
                        {
                            leg.auth_tried = true;
                            let retry = leg.trunk.as_ref().and_then(|t| t.authorize(&leg.invite, &resp));
                            match retry {
                                Some(next) => {
                                    let (key, mut rx) = self.shared.stack.send_request(next.clone(), leg.peer);
                                    leg.key = key;
                                    leg.invite = next;
                                    let fwd = fwd_tx.clone();
                                    tokio::spawn(async move {
                                        while let Some(e) = rx.recv().await {
                                            if fwd.send((i, e)).is_err() {
                                                break;
                                            }
                                        }
                                    });
                                }
                                None => {
                                    leg.done = true;
                                    self.legs[leg.leg].sip_code = resp.status();
                                    self.legs[leg.leg].end_time = unix_ms();
                                    codes.push(resp.status());
                                }
                            }
                        }
                        ClientEvent::Response(resp) => {
                            leg.done = true;
                            self.legs[leg.leg].sip_code = resp.status();
                            self.legs[leg.leg].end_time = unix_ms();
                            codes.push(resp.status());
                        }
                    }
                }
            }
        }
    }

    fn cancel_legs(&mut self, legs: &mut [Ringing], keep: Option<usize>, code: u16) {
        for (i, l) in legs.iter_mut().enumerate() {
            if Some(i) == keep || l.done {
                continue;
            }
            self.shared.stack.cancel(&l.key);
            l.done = true;
            self.legs[l.leg].sip_code = code;
            self.legs[l.leg].end_time = unix_ms();
        }
    }

    fn relay_provisional(&mut self, resp: &Message) {
        if self.a_dialog.is_some() {
            // Answered by the host: early media from the callee replaces
            // our ringback; nothing is signalled to the caller.
            if !resp.body.is_empty()
                && let Some(anchor) = self.anchor.as_mut()
                && anchor.callee_answered(&resp.body).is_ok()
            {
                anchor.media.stop(CALLER);
            }
            return;
        }
        let status = resp.status();
        if status == 100 || self.provisional_sent.contains(&status) && resp.body.is_empty() {
            return;
        }
        self.provisional_sent.push(status);
        let mut r = response(&self.a_invite, status, "", Some(&self.a_tag));
        r.headers
            .push("Contact", self.contact(self.a_peer.transport));
        if !resp.body.is_empty() {
            // Early media: anchored, the caller hears it through us.
            let body = match self.anchor.as_mut() {
                Some(anchor) => match anchor.callee_answered(&resp.body) {
                    Ok(()) => Some(anchor.caller_answer()),
                    Err(_) => None,
                },
                None => Some(resp.body.clone()),
            };
            if let Some(body) = body {
                r.headers.push("Content-Type", "application/sdp");
                r.body = body;
            }
        }
        self.shared.stack.respond(&self.a_key, r);
    }

    /// The conversation: relay BYE and re-INVITEs until one side hangs
    /// up, or the agent transfers the caller (REFER).
    async fn bridged(&mut self, mut br: Bridge) -> Bridged {
        crate::call_log::answered(self.snapshot.as_ref(), &br.answered_by);
        let mut transfer = None;
        let a_call = self.a_invite.call_id().to_string();
        loop {
            let msg = tokio::select! {
                m = next_msg(&mut self.rx, &mut self.deadlines, &a_call) => m,
                ev = anchor::next_event(&mut self.anchor) => match ev {
                    Some(switchyard_media::MediaEvent::Timeout { leg }) => {
                        tracing::info!(call = %a_call, leg = leg.0, "RTP timeout: hanging up");
                        Some(CallMsg::Hangup)
                    }
                    Some(switchyard_media::MediaEvent::Digit { leg, digit }) => {
                        tracing::debug!(call = %a_call, leg = leg.0, %digit, "digit");
                        continue;
                    }
                    Some(switchyard_media::MediaEvent::RecordingFailed(e)) => {
                        tracing::error!(call = %a_call, error = %e, "call recording failed");
                        continue;
                    }
                    Some(_) | None => continue,
                },
            };
            let Some(msg) = msg else {
                break;
            };
            let (key, request) = match msg {
                CallMsg::Request { key, request, .. } => (key, request),
                CallMsg::Hangup => {
                    let bye_a = br.a.request("BYE");
                    let bye_b = br.b.request("BYE");
                    self.request_closing(bye_a, self.a_peer);
                    self.request_closing(bye_b, br.b_peer);
                    self.hangup_by = Some(HangupSide::System);
                    break;
                }
                // ACKs for our 2xx, late CANCELs: nothing to do.
                _ => continue,
            };
            let from_a = request.call_id() == a_call;
            let b_peer = br.b_peer;
            let (this, other, other_peer) = if from_a {
                (&mut br.a, &mut br.b, br.b_peer)
            } else {
                (&mut br.b, &mut br.a, self.a_peer)
            };
            if !this.accept_remote_cseq(&request) {
                let tag = this.local_tag.clone();
                self.shared.stack.respond(
                    &key,
                    response(&request, 500, "CSeq Out Of Order", Some(&tag)),
                );
                continue;
            }
            let tag = this.local_tag.clone();
            match request.method() {
                "BYE" => {
                    let bye = other.request("BYE");
                    self.respond_closing(key, response(&request, 200, "", Some(&tag)));
                    self.request_closing(bye, other_peer);
                    self.hangup_by = Some(if from_a {
                        HangupSide::Caller
                    } else {
                        HangupSide::Callee
                    });
                    break;
                }
                "INVITE" | "UPDATE" => {
                    // Hold / resume: pass the offer through and the answer
                    // back (media anchoring comes with the media issue).
                    this.refresh_target(&request);
                    let mut fwd = other.request(request.method());
                    let contact_transport = other_peer.transport;
                    fwd.headers.push("Contact", self.contact(contact_transport));
                    let x_leg = if from_a { CALLER } else { CALLEE };
                    if let (Some(anchor), false) = (self.anchor.as_mut(), request.body.is_empty()) {
                        match anchor.reoffer(x_leg, &request.body) {
                            Ok(offer) => {
                                fwd.headers.push("Content-Type", "application/sdp");
                                fwd.body = offer;
                            }
                            Err(r) => {
                                let (code, reason) = anchor::refusal_status(&r);
                                self.shared
                                    .stack
                                    .respond(&key, response(&request, code, &reason, Some(&tag)));
                                continue;
                            }
                        }
                    } else if !request.body.is_empty() {
                        fwd.headers.push(
                            "Content-Type",
                            request
                                .headers
                                .get("Content-Type")
                                .unwrap_or("application/sdp")
                                .to_string(),
                        );
                        fwd.body = request.body.clone();
                    }
                    let cseq = other.local_cseq;
                    let (_, mut rx) = self.shared.stack.send_request(fwd, other_peer);
                    let mut answered = false;
                    while let Some(ev) = rx.recv().await {
                        match ev {
                            ClientEvent::Response(r) if r.status() < 200 => continue,
                            ClientEvent::Response(r) => {
                                if r.status() < 300 && request.method() == "INVITE" {
                                    other.refresh_target(&r);
                                    self.shared.stack.send_ack(other.ack(cseq), other_peer);
                                }
                                let mut back = response(&request, r.status(), "", Some(&tag));
                                back.headers
                                    .push("Contact", self.contact(self.a_peer.transport));
                                let anchored = self
                                    .anchor
                                    .as_mut()
                                    .filter(|_| r.status() < 300 && !request.body.is_empty());
                                if let Some(anchor) = anchored {
                                    match anchor.reanswered(x_leg, &r.body) {
                                        Ok(answer) => {
                                            back.headers.push("Content-Type", "application/sdp");
                                            back.body = answer;
                                        }
                                        Err(e) => {
                                            tracing::warn!(error = %e, "re-INVITE answer unusable")
                                        }
                                    }
                                } else if !r.body.is_empty() {
                                    back.headers.push(
                                        "Content-Type",
                                        r.headers
                                            .get("Content-Type")
                                            .unwrap_or("application/sdp")
                                            .to_string(),
                                    );
                                    back.body = r.body.clone();
                                }
                                // Music before the answer goes out: the
                                // resumed phone talks at once.
                                if r.status() < 300 {
                                    self.hold_music(x_leg);
                                }
                                self.shared.stack.respond(&key, back);
                                if r.status() < 300 && from_a && request.method() == "INVITE" {
                                    self.deadlines.answered(std::time::Instant::now());
                                }
                                answered = true;
                                break;
                            }
                            ClientEvent::Timeout => break,
                        }
                    }
                    if !answered {
                        self.shared
                            .stack
                            .respond(&key, response(&request, 408, "", Some(&tag)));
                    }
                }
                "INFO" | "OPTIONS" => {
                    self.shared
                        .stack
                        .respond(&key, response(&request, 200, "", Some(&tag)));
                }
                // A blind transfer by the agent: the host carries it out
                // (the agent's leg ends now, the caller waits with ringback
                // while the target rings; recording pauses meanwhile).
                "REFER" if !from_a => {
                    let Some(to) = request
                        .headers
                        .get("Refer-To")
                        .and_then(|v| NameAddr::parse(v).ok())
                        .and_then(|a| SipUri::parse(&a.uri).ok())
                        .and_then(|u| u.user_decoded())
                        .filter(|u| !u.is_empty())
                    else {
                        self.shared.stack.respond(
                            &key,
                            response(&request, 400, "Refer-To Without A User", Some(&tag)),
                        );
                        continue;
                    };
                    self.shared
                        .stack
                        .respond(&key, response(&request, 202, "", Some(&tag)));
                    let mut notify = this.request("NOTIFY");
                    notify.headers.push("Event", "refer");
                    notify
                        .headers
                        .push("Subscription-State", "terminated;reason=noresource");
                    notify
                        .headers
                        .push("Contact", self.contact(b_peer.transport));
                    notify
                        .headers
                        .push("Content-Type", "message/sipfrag;version=2.0");
                    notify.body = b"SIP/2.0 200 OK\r\n".to_vec();
                    let _ = self.shared.stack.send_request(notify, b_peer);
                    let bye = this.request("BYE");
                    let _ = self.shared.stack.send_request(bye, b_peer);
                    transfer = Some(to);
                    break;
                }
                "REFER" => {
                    self.shared.stack.respond(
                        &key,
                        response(&request, 403, "Only The Agent Transfers", Some(&tag)),
                    );
                }
                _ => {
                    self.shared
                        .stack
                        .respond(&key, response(&request, 501, "", Some(&tag)));
                }
            }
        }
        let end = unix_ms();
        for l in self.legs.iter_mut().filter(|l| l.end_time == 0) {
            l.end_time = end;
        }
        let _ = (&br.answered_by, br.answered_at);
        match transfer {
            Some(to) => {
                if let Some(a) = self.anchor.as_mut() {
                    a.callee_gone();
                    a.media.pause_recording(true);
                }
                // The caller's dialog is the host's again, as in the IVR.
                self.a_dialog = Some(br.a);
                Bridged::Transfer(to)
            }
            None => Bridged::Ended,
        }
    }

    /// After `leg` renegotiated: if it holds the other party (sendonly or
    /// inactive), that party hears music on hold from us; when it takes
    /// the call back, the music stops and the relay resumes.
    fn hold_music(&mut self, leg: switchyard_media::LegId) {
        let Some(direction) = self.anchor.as_ref().and_then(|a| a.direction(leg)) else {
            return;
        };
        let held = anchor::other(leg);
        let music = match (direction, self.tenant.clone()) {
            (SdpDirection::SendOnly | SdpDirection::Inactive, Some(t)) => {
                Some(self.music_on_hold(&t))
            }
            _ => None,
        };
        if let Some(a) = self.anchor.as_ref() {
            match music {
                Some(items) => {
                    a.media.play(held, items, true);
                    a.media.pause_recording(true);
                }
                None => {
                    a.media.stop(held);
                    a.media.pause_recording(false);
                }
            }
        }
    }

    /// Tell the flow the call ended, then write the call record.
    async fn finish(&mut self, tenant: &Tenant) {
        let Some(snapshot) = self.snapshot.clone() else {
            return;
        };
        if !self.final_sent {
            self.answer_a(480, "");
        }
        self.finish_call_recording(tenant).await;
        // The call is over: its ports go back now, not after the record
        // and the reporters.
        self.close_media().await;
        let end_ms = unix_ms();
        if let Some((name, _)) = self.flow_plugin.clone()
            && let Ok(p) = tenant.runtime.pin_flow(&snapshot.flow)
            && p.name == name
        {
            let by = match self.hangup_by {
                Some(HangupSide::Caller) => HangupBy::Caller,
                Some(HangupSide::Callee) => HangupBy::Callee,
                _ => HangupBy::System,
            };
            let ev = Event::Hangup(HangupInfo {
                by,
                at: end_ms,
                sip_code: self.sip_code,
            });
            let _ = tenant.runtime.invoke_flow(&p, &snapshot, &ev, None).await;
        }
        let (flow_plugin, plugin_version) = match &self.flow_plugin {
            Some((n, v)) => (Some(n.clone()), Some(*v)),
            None => (None, None),
        };
        let record = CallRecord {
            call_id: snapshot.call_id.clone(),
            tenant: tenant.id.clone(),
            direction: snapshot.direction,
            caller: snapshot.caller.clone(),
            callee: snapshot.callee.clone(),
            dialled: snapshot.dialled.clone(),
            start_time: self.start_ms,
            answer_time: self.answer_ms,
            end_time: end_ms,
            disposition: self.disposition,
            hangup_by: self.hangup_by,
            sip_code: self.sip_code,
            queue: None,
            agent: self.agent.clone(),
            tags: snapshot.tags.clone(),
            recording: self.recording.clone(),
            flow_plugin: flow_plugin.clone(),
            plugin_version,
            legs: self.legs.clone(),
        };
        let cdr = Cdr {
            id: random_token(),
            tenant: tenant.id.clone(),
            call_id: record.call_id.clone(),
            direction: match record.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
                Direction::Internal => "internal",
            }
            .to_string(),
            caller: record.caller.number.clone(),
            caller_name: record.caller.display_name.clone(),
            callee: record.callee.number.clone(),
            dialled: record.dialled.clone(),
            start_ms: record.start_time,
            answer_ms: record.answer_time,
            end_ms,
            disposition: stored(record.disposition),
            hangup_by: record.hangup_by.map(|h| {
                match h {
                    HangupSide::Caller => "caller",
                    HangupSide::Callee => "callee",
                    HangupSide::System => "system",
                }
                .to_string()
            }),
            sip_code: record.sip_code,
            queue: None,
            agent: record.agent.clone(),
            tags: record.tags.clone(),
            recording: record.recording.clone(),
            flow_plugin,
            plugin_version,
            legs: record
                .legs
                .iter()
                .map(|l| CdrLeg {
                    target: l.target.clone(),
                    start_ms: l.start_time,
                    answer_ms: l.answer_time,
                    end_ms: l.end_time,
                    sip_code: l.sip_code,
                })
                .collect(),
        };
        // The write waits for a flush (shared with other calls ending at
        // the same moment): on the blocking pool, not on a worker that
        // SIP handling needs.
        let store = self.shared.store.clone();
        match tokio::task::spawn_blocking(move || store.insert_cdr(&cdr)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "call record not stored"),
            Err(e) => tracing::error!(error = %e, "call record not stored"),
        }
        // Durable (or failed for good): now the parties may see the end.
        self.send_closing();
        self.answer_late_requests();
        // Only now does the call leave the live list: whoever sees it end
        // finds its record.
        self.shared.in_progress.end(
            &snapshot.call_id,
            Some(stored(self.disposition).to_string()),
        );
        crate::call_log::ended(&record, &snapshot.flow);
        for (plugin, r) in tenant.runtime.report_call_record(&record).await {
            if let Err(f) = r {
                tracing::warn!(tenant = %tenant.id, %plugin, %f, "reporter failed");
            }
        }
    }
}

impl Call {
    /// Requests that reached the task after the call ended (both sides
    /// hung up at once): a BYE is answered 200 (the call is over, as it
    /// asked), anything else 481.
    fn answer_late_requests(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let CallMsg::Request { key, request, .. } = msg {
                let code = if request.method() == "BYE" { 200 } else { 481 };
                let tag = request.to_tag().map(str::to_string);
                self.shared
                    .stack
                    .respond(&key, response(&request, code, "", tag.as_deref()));
            }
        }
    }
}

/// The call's next message, watching its deadlines: the caller's ACK stops
/// Timer H; Timer H or the maximum duration running out (or the stack's
/// own Timer H) comes back as [`CallMsg::Hangup`], which every state of
/// the call already answers by ending it (BYE once answered, 480 before).
pub(super) async fn next_msg(
    rx: &mut mpsc::UnboundedReceiver<CallMsg>,
    deadlines: &mut Deadlines,
    a_call: &str,
) -> Option<CallMsg> {
    loop {
        let next = deadlines.next().map(Instant::from_std);
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = async {
                match next {
                    Some(t) => sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                match deadlines.expired(std::time::Instant::now()) {
                    Some(why) => {
                        tracing::info!(call = %a_call, reason = why.as_str(), "ending the call");
                        return Some(CallMsg::Hangup);
                    }
                    // Woken a little early: look again.
                    None => continue,
                }
            }
        };
        match msg {
            Some(CallMsg::Ack { ref request }) if request.call_id() == a_call => {
                deadlines.acked();
            }
            Some(CallMsg::AckTimeout) => {
                tracing::info!(call = %a_call, reason = crate::deadlines::Expiry::AckTimeout.as_str(), "ending the call");
                return Some(CallMsg::Hangup);
            }
            _ => {}
        }
        return msg;
    }
}

/// Where requests to a registered device go: the Contact's own address
/// when it names the host the REGISTER came from (two sockets of one
/// machine are fine), the REGISTER's source otherwise — a phone behind NAT
/// puts a private address in its Contact that cannot be reached (what
/// `rport` fixes for Via); over TCP that source is the phone's own
/// connection, which the transport reuses.
pub(crate) fn device_peer(b: &switchyard_store::Binding) -> Option<Peer> {
    let source: std::net::SocketAddr = b.source.parse().ok()?;
    let transport = if b.transport == "TCP" {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let contact = NameAddr::parse(&b.contact)
        .ok()
        .and_then(|a| SipUri::parse(&a.uri).ok())
        .or_else(|| SipUri::parse(&b.contact).ok());
    let addr = contact
        .and_then(|u| u.host_port().parse::<std::net::SocketAddr>().ok())
        .filter(|a| a.ip() == source.ip())
        .unwrap_or(source);
    Some(Peer { transport, addr })
}

/// How a conversation ended.
enum Bridged {
    /// A side hung up.
    Ended,
    /// The agent transferred the caller to this extension or number.
    Transfer(String),
}

enum RingResult {
    Answered(Box<Bridge>),
    NotAnswered(DialResult),
    CallerGone,
}

/// The names `call_failures` counts calls under: every disposition but
/// `answered` (the series `/metrics` shows from a tenant's start).
pub(crate) fn unanswered_names() -> impl Iterator<Item = &'static str> {
    StoredDisposition::ALL
        .into_iter()
        .filter(|d| *d != StoredDisposition::Answered)
        .map(StoredDisposition::as_str)
}

/// The record's disposition (the plugins' WIT type) as stored and shown.
fn stored(d: Disposition) -> StoredDisposition {
    match d {
        Disposition::Answered => StoredDisposition::Answered,
        Disposition::NoAnswer => StoredDisposition::NoAnswer,
        Disposition::Busy => StoredDisposition::Busy,
        Disposition::Failed => StoredDisposition::Failed,
        Disposition::Cancelled => StoredDisposition::Cancelled,
        Disposition::Voicemail => StoredDisposition::Voicemail,
        Disposition::Rejected => StoredDisposition::Rejected,
    }
}
