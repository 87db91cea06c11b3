//! The call engine: where a SIP request becomes registrar work or a call
//! whose every decision is a tenant plugin event.
//!
//! * [`Pbx::run`] — the dispatcher: reads what the SIP stack delivers and
//!   sends REGISTER to [`registrar`], OPTIONS to a 200, a new INVITE to a
//!   fresh call (`driver`), and in-dialog requests to the call task
//!   that owns the Call-ID.
//! * [`auth`] — digest challenges for REGISTER (401) and INVITE (407),
//!   with the failed-authentication limiter per source address.
//! * [`registrar`] — bindings in the store, Expires / Min-Expires,
//!   `Contact: *`.
//! * [`leg`] and [`session`] — a call's SIP dialogs and what its flow
//!   does with them, as sans-IO state machines; `driver` is the thin
//!   tokio task around each session (the only async code of a call).
//! * [`resolve`] — whose a new INVITE is: an extension of a served domain
//!   or a carrier on a trunk (the order that keeps tenants apart).
//! * [`tenant`] — tenants by SIP domain and by DID.
//! * [`trunk`] — carrier trunks: outbound registration, caller ID,
//!   challenges, call caps.
//! * [`rating`] — what a finished call's trunk minutes cost (the tenant's
//!   ledger), and whether a prepaid tenant may still call out.

pub mod anchor;
mod audio;
pub mod auth;
pub mod call_log;
mod caller_rules;
pub mod calls_in_progress;
mod cdr_log;
pub mod conference;
pub mod credit;
mod crm_log;
mod driver;
pub mod leg;
pub mod leg_sdp;
pub mod mail;
pub mod metrics;
mod notices;
pub mod overload;
pub mod queues;
pub mod rating;
pub mod registrar;
pub mod resolve;
pub mod session;
pub mod tenant;
pub mod trunk;
pub mod web_calls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_sip::auth::{FailedAuthLimiter, Nonces};
use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::SipUri;
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use switchyard_store::Store;
use switchyard_transport::{Incoming, SipStack};
use tokio::sync::mpsc;

pub use switchyard_media::Channels as RecordingChannels;
pub use switchyard_sdp::SrtpPolicy;
pub use tenant::{ExtensionAccount, Tenant, Tenants};

/// Methods the PBX handles (the `Allow` header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER";

/// Engine settings.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Shortest registration accepted (423 below).
    pub min_expires: u32,
    /// Longest registration granted.
    pub max_expires: u32,
    /// Failed authentications per address before a block…
    pub auth_failures: u32,
    /// …within this window…
    pub auth_window: Duration,
    /// …and how long the block lasts.
    pub auth_block: Duration,
    /// Nonce lifetime (older nonces get `stale=true`).
    pub nonce_lifetime: Duration,
    /// Digest challenges offered, in this order. MD5 comes first by
    /// default because many phones (and SIPp) answer only the first
    /// challenge and know only MD5; RFC 8760 clients that look at every
    /// challenge can still pick SHA-256.
    pub digest_algorithms: Vec<switchyard_sip::auth::DigestAlgorithm>,
    /// Media anchoring: RTP goes through the host on these ports. `None`
    /// passes SDP through untouched (the phones then talk directly).
    pub media: Option<MediaSettings>,
    /// Timer H, 64·T1 (RFC 3261 §13.3.1.4): a caller that has not ACKed
    /// our 2xx this long is sent a BYE and the call ends. The server sets
    /// it from the SIP stack's T1.
    pub ack_timeout: Duration,
    /// No call lasts longer (from its INVITE); `None` is no limit. What
    /// ends a call whose parties went silent on hold, or vanished without
    /// a BYE where the RTP timeout cannot see it.
    pub max_call_duration: Option<Duration>,
    /// The operator's SMTP relay, for voicemail to e-mail and missed-call
    /// alerts; `None` sends no e-mail.
    pub mail: Option<mail::MailSettings>,
    /// When the host is behind, new INVITEs and REGISTERs are refused
    /// with 503 and `Retry-After` (see [`overload`]).
    pub overload: overload::OverloadConfig,
}

/// The default maximum call duration: 4 hours, Twilio's default `<Dial>`
/// time limit (14,400 s). Asterisk and FreeSWITCH set none by default and
/// leave it to dialplan (`L()`/`S()`, `execute_on_answer sched_hangup`),
/// which is how abandoned calls pile up; a contact centre's real calls end
/// long before 4 hours, and an operator who needs longer raises it.
pub const DEFAULT_MAX_CALL_DURATION: Duration = Duration::from_secs(4 * 3600);

/// Where anchored RTP lives.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// The address RTP sockets bind to; also the one in our SDP unless
    /// `public_ip` is given.
    pub ip: std::net::IpAddr,
    /// The address in our SDP and a browser's ICE candidate when peers
    /// reach us at another address than `ip`: a host behind 1:1 NAT
    /// (Asterisk's `external_media_address`, FreeSWITCH's `ext-rtp-ip`).
    pub public_ip: Option<std::net::IpAddr>,
    pub low_port: u16,
    pub high_port: u16,
    /// A leg that sends no RTP this long ends the call.
    pub rtp_timeout: Duration,
}

impl MediaSettings {
    /// The RTP timeout the README documents: rtpengine's default (30 s),
    /// well past any jitter or a phone's re-INVITE, short enough that a
    /// dead phone does not hold a call and its ports for minutes.
    pub const DEFAULT_RTP_TIMEOUT: Duration = Duration::from_secs(30);

    /// Where peers send RTP: `public_ip`, else `ip`.
    pub fn advertised_ip(&self) -> std::net::IpAddr {
        self.public_ip.unwrap_or(self.ip)
    }
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            min_expires: 60,
            max_expires: 7200,
            auth_failures: 10,
            auth_window: Duration::from_secs(60),
            auth_block: Duration::from_secs(300),
            // Short: a phone answers a challenge at once, and a captured
            // nonce is worth something only this long (RFC 7616 §5.5).
            nonce_lifetime: Duration::from_secs(60),
            digest_algorithms: vec![
                switchyard_sip::auth::DigestAlgorithm::Md5,
                switchyard_sip::auth::DigestAlgorithm::Sha256,
            ],
            media: None,
            ack_timeout: switchyard_sip::timers::TimerConfig::default().transaction_timeout(),
            max_call_duration: Some(DEFAULT_MAX_CALL_DURATION),
            mail: None,
            overload: overload::OverloadConfig::default(),
        }
    }
}

/// What a call task receives from the dispatcher.
/// Why something asked of a live call through the API was refused (each
/// says why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// What was asked names nothing of the tenant (a supervisor that is
    /// not an extension, a target that is no number).
    Invalid(String),
    /// Not allowed (an extension without the supervisor flag).
    Forbidden(String),
    /// No such live call of the tenant.
    NoCall(String),
    /// Not now: the call has no agent talking yet, it is the supervisor's
    /// own, nobody of the queue is free.
    Conflict(String),
}

#[derive(Debug)]
pub enum CallMsg {
    Request {
        key: TransactionKey,
        request: Message,
        peer: Peer,
    },
    Ack {
        request: Message,
    },
    Cancel {
        invite: TransactionKey,
    },
    /// Hang up now (operator or supervisor through the API).
    Hangup,
    /// A 2xx the call sent on dialog `call_id` was never ACKed (the
    /// stack's Timer H).
    AckTimeout {
        call_id: String,
    },
    /// The tenant's queue engine, about this call's waiting caller.
    Queue(queues::QueueSignal),
    /// Send the caller elsewhere (API): into a queue or to an extension.
    Transfer(session::TransferTarget),
    /// A phone that picks this ringing call up: its incoming leg, and
    /// its extension.
    Adopt(Box<leg::Leg>, String),
    /// The conference service, about this call's participant.
    Conference(conference::ConferenceSignal),
    /// A supervisor's phone (its incoming leg and extension) that
    /// monitors `agent`, who talks in this call, in `mode`.
    Monitor {
        leg: Box<leg::Leg>,
        supervisor: String,
        agent: String,
        mode: session::MonitorMode,
    },
    /// Add a third party (an extension, else a number) to this bridged
    /// call (API).
    AddParty(String),
    /// Ring `supervisor`'s phones to monitor `agent` in this call (API).
    MonitorByDialling {
        supervisor: String,
        agent: String,
        mode: session::MonitorMode,
    },
    /// An attended transfer in call `keeper` names one of this call's
    /// dialogs: hand the party on its other side over (see
    /// `session::attended`), or refuse.
    HandOver {
        replaces: leg::Replaces,
        tenant: String,
        referrer: String,
        keeper: mpsc::UnboundedSender<CallMsg>,
        referrer_leg: session::LegId,
    },
    /// The party another call handed over for our attended transfer.
    TakeOver {
        referrer_leg: session::LegId,
        party: Box<session::Moving>,
    },
    /// The call our attended transfer named keeps its caller: give it
    /// the party on our referrer's other side, which replaces its leg
    /// `replaced_leg` there.
    GiveUp {
        referrer_leg: session::LegId,
        to: mpsc::UnboundedSender<CallMsg>,
        replaced_leg: session::LegId,
    },
    /// The other call refused our attended transfer (a SIP status).
    ReplaceRefused {
        referrer_leg: session::LegId,
        status: u16,
    },
}

pub(crate) struct Shared {
    pub stack: SipStack,
    pub store: Store,
    /// Writes call records, many to a flush (`cdr_log`).
    pub cdr_log: cdr_log::CdrLog,
    /// Swapped whole when a tenant changes; readers clone the `Arc`.
    pub tenants: std::sync::RwLock<Arc<Tenants>>,
    pub settings: CallSettings,
    pub nonces: Nonces,
    pub limiter: Mutex<FailedAuthLimiter>,
    /// Call-ID (of any leg) → the task that owns it.
    pub calls: Mutex<HashMap<String, mpsc::UnboundedSender<CallMsg>>>,
    /// Calls in progress and each tenant's event stream.
    pub in_progress: calls_in_progress::CallsInProgress,
    pub metrics: metrics::Metrics,
    /// RTP ports, when media is anchored.
    pub ports: Option<Arc<switchyard_media::PortPool>>,
    /// Decoded prompt files: (tenant, name) → ((created, size), samples).
    /// A re-upload changes the stamp and is decoded again.
    #[allow(clippy::type_complexity)]
    pub prompts: Mutex<HashMap<(String, String), ((u64, u64), Arc<[i16]>)>>,
    /// Each tenant's queues and agents, live.
    pub queues: queues::Queues,
    /// Each tenant's CRM call logging in the background.
    pub crm_logs: Arc<crm_log::CrmLogs>,
    /// Conference rooms in use.
    pub conferences: conference::Conferences,
    /// The operator's SMTP relay, when configured.
    pub mailer: Option<mail::Mailer>,
    /// Live trunk calls of tenants whose minutes cost, per tenant: what a
    /// prepaid balance has left while they talk.
    pub credit: Mutex<HashMap<String, credit::CreditWatch>>,
    /// Tickets of web visitors' calls ("call us" on a tenant's widget).
    pub web_calls: Mutex<web_calls::WebCallTickets>,
    /// Whether new INVITEs and REGISTERs are taken on (overload control).
    pub overload: Mutex<overload::OverloadGate>,
}

/// The PBX: SIP stack + tenants + store.
#[derive(Clone)]
pub struct Pbx {
    shared: Arc<Shared>,
}

/// A [`Pbx`] that may be gone: see [`Pbx::downgrade`].
#[derive(Clone)]
pub struct WeakPbx(std::sync::Weak<Shared>);

impl WeakPbx {
    /// The engine, while it lives.
    pub fn upgrade(&self) -> Option<Pbx> {
        self.0.upgrade().map(|shared| Pbx { shared })
    }
}

impl Shared {
    pub(crate) fn tenants(&self) -> Arc<Tenants> {
        self.tenants.read().expect("tenants lock").clone()
    }

    /// The call task that owns `call_id`.
    fn task_for(&self, call_id: &str) -> Option<mpsc::UnboundedSender<CallMsg>> {
        self.calls.lock().expect("calls lock").get(call_id).cloned()
    }
}

impl Pbx {
    /// `plugins`: the host the tenants' plugin runtimes run on (its figures
    /// are in the metrics).
    pub fn new(
        stack: SipStack,
        store: Store,
        tenants: Tenants,
        settings: CallSettings,
        plugins: switchyard_plugins::PluginHost,
    ) -> Pbx {
        let key: [u8; 32] = rand::random();
        let ports = settings.media.as_ref().map(|m| {
            Arc::new(switchyard_media::PortPool::new(
                m.ip,
                m.low_port,
                m.high_port,
            ))
        });
        let metrics = metrics::Metrics::for_server(stack.tcp_stats(), plugins);
        // Checked by the server before it gets here (`MailSettings::check`).
        let mailer = settings.mail.as_ref().and_then(|m| {
            mail::Mailer::new(m)
                .inspect_err(|e| tracing::error!(error = %e, "e-mail is off"))
                .ok()
        });
        for t in tenants.all() {
            metrics.add_tenant(&t.id, driver::unanswered_names());
        }
        let overload = overload::OverloadGate::new(Instant::now(), settings.overload.clone());
        Pbx {
            shared: Arc::new(Shared {
                nonces: Nonces::new(&key, settings.nonce_lifetime),
                limiter: Mutex::new(FailedAuthLimiter::new(
                    settings.auth_failures,
                    settings.auth_window,
                    settings.auth_block,
                )),
                cdr_log: cdr_log::CdrLog::start(store.clone()),
                store,
                tenants: std::sync::RwLock::new(Arc::new(tenants)),
                settings,
                calls: Mutex::new(HashMap::new()),
                prompts: Mutex::new(HashMap::new()),
                in_progress: calls_in_progress::CallsInProgress::default(),
                queues: queues::Queues::default(),
                crm_logs: Default::default(),
                conferences: Default::default(),
                credit: Mutex::new(HashMap::new()),
                web_calls: Mutex::new(web_calls::WebCallTickets::default()),
                overload: Mutex::new(overload),
                mailer,
                metrics,
                ports,
                stack,
            }),
        }
    }

    /// Put every tenant's queues and agents in place (at start; later
    /// changes come through [`Pbx::upsert_tenant`]).
    pub fn start_queues(&self) {
        for t in self.tenants().all() {
            self.configure_queues(t);
        }
    }

    fn configure_queues(&self, t: &Tenant) {
        if t.contact_centre == queues::ContactCentreSetup::default()
            && self.shared.queues.get(&t.id).is_none()
        {
            return;
        }
        self.shared.queues.tenant(&self.shared, &t.id).configure(
            &self.shared,
            &t.contact_centre,
            &t.time_zone,
        );
    }

    /// The tenant's agents and what the queue engine knows of them.
    pub fn agents(&self, tenant: &str) -> Vec<(String, switchyard_acd::AgentView)> {
        self.shared
            .queues
            .get(tenant)
            .map(|q| q.agents())
            .unwrap_or_default()
    }

    /// Change agent `agent`'s state: the state it is in now, or why not.
    pub fn change_agent(
        &self,
        tenant: &str,
        agent: &str,
        change: queues::AgentChange,
    ) -> Result<switchyard_acd::AgentState, String> {
        match self.shared.queues.get(tenant) {
            Some(q) => q.change_agent(&self.shared, agent, change),
            None => Err(format!("{agent} is not an agent of any queue")),
        }
    }

    /// Put `number` in `tenant`'s queue `queue` as a callback that waits
    /// its turn (a web site's "call me back"), tagged `source` = `source`:
    /// its placeholder's id. Refused: a queue the tenant does not have
    /// ([`Refused::Invalid`]), a number already waiting for a callback in
    /// it ([`Refused::Conflict`]).
    /// A ticket for one browser call from `tenant`'s widget `widget` to
    /// its number `number` ([`web_calls`]); `Err` when the tenant has no
    /// such number.
    pub fn issue_web_call(
        &self,
        tenant: &str,
        widget: &str,
        number: &str,
    ) -> Result<String, String> {
        let tenants = self.shared.tenants();
        let known = tenants
            .by_id(tenant)
            .is_some_and(|t| t.numbers.contains_key(number));
        if !known {
            return Err(format!("{tenant} has no number {number}"));
        }
        let call = web_calls::WebCall {
            tenant: tenant.to_string(),
            widget: widget.to_string(),
            number: number.to_string(),
        };
        Ok(self
            .shared
            .web_calls
            .lock()
            .expect("web calls lock")
            .issue(call, std::time::Instant::now()))
    }

    pub fn request_callback(
        &self,
        tenant: &str,
        queue: &str,
        number: &str,
        source: &str,
    ) -> Result<String, Refused> {
        let t = self
            .tenants()
            .by_id(tenant)
            .ok_or_else(|| Refused::Invalid(format!("no tenant {tenant}")))?;
        if !t
            .contact_centre
            .queues
            .iter()
            .any(|q| q.config.name == queue)
        {
            return Err(Refused::Invalid(format!("no queue {queue:?}")));
        }
        let id = format!("{source}-{}", driver::random_token());
        let tags = vec![("source".to_string(), source.to_string())];
        let queues = self.shared.queues.tenant(&self.shared, tenant);
        if queues.add_callback(&self.shared, &id, queue, number, tags) {
            tracing::info!(%tenant, %queue, %number, %source, placeholder = %id, "callback requested");
            Ok(id)
        } else {
            Err(Refused::Conflict(format!(
                "{number} already waits for a callback in {queue}"
            )))
        }
    }

    /// Queue `name` of `tenant` now, with its callback placeholders.
    pub fn queue_status(
        &self,
        tenant: &str,
        name: &str,
    ) -> Option<(switchyard_acd::QueueStatus, u32)> {
        self.shared.queues.get(tenant)?.queue_status(name)
    }

    /// Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        // The transport counts messages whose handling panicked; bring the
        // counter up to date before rendering.
        let sip = self
            .shared
            .metrics
            .task_panics
            .get_or_create(&metrics::TaskLabel {
                task: "sip-message".into(),
            });
        let seen = self.shared.stack.handler_panics();
        if seen > sip.get() {
            sip.inc_by(seen - sip.get());
        }
        self.shared
            .metrics
            .rtp_ports_in_use
            .set(self.rtp_ports_in_use() as i64);
        self.queue_metrics();
        self.shared.metrics.render()
    }

    /// Every tenant's queues as they are now, into the queue gauges.
    fn queue_metrics(&self) {
        use crate::metrics::{QueueLabel, QueueStateLabel};
        let m = &self.shared.metrics;
        for t in self.tenants().all() {
            let Some(q) = self.shared.queues.get(&t.id) else {
                continue;
            };
            for setup in &t.contact_centre.queues {
                let name = &setup.config.name;
                let Some((s, _)) = q.queue_status(name) else {
                    continue;
                };
                let label = QueueLabel {
                    tenant: t.id.clone(),
                    queue: name.clone(),
                };
                m.queue_waiting.get_or_create(&label).set(s.waiting.into());
                m.queue_longest_wait
                    .get_or_create(&label)
                    .set(s.longest_wait.as_secs() as i64);
                if let Some(sl) = s.service_level_today {
                    m.queue_service_level.get_or_create(&label).set(sl);
                }
                for (state, n) in queues::agents_by_state(&s) {
                    m.queue_agents
                        .get_or_create(&QueueStateLabel {
                            tenant: t.id.clone(),
                            queue: name.clone(),
                            state: state.into(),
                        })
                        .set(n.into());
                }
            }
        }
    }

    /// An agent saved the wrap-up of `call_id` (stored already): a CRM log
    /// waiting for it goes now, with it.
    pub fn wrap_up_saved(&self, tenant: &str, call_id: &str, w: &switchyard_store::WrapUp) {
        self.shared.crm_logs.wrap_up_saved(tenant, call_id, w);
    }

    /// The plugin runtime tenant `tenant`'s new calls use.
    pub fn plugin_runtime(&self, tenant: &str) -> Option<switchyard_plugins::TenantRuntime> {
        self.tenants().by_id(tenant).map(|t| t.runtime.clone())
    }

    /// Calls in progress of `tenant`.
    pub fn live_calls(&self, tenant: &str) -> Vec<calls_in_progress::LiveCallInfo> {
        self.shared.in_progress.list(tenant)
    }

    /// A handle that does not keep the engine alive (for what the engine
    /// itself holds, such as the plugin host's mail relay).
    pub fn downgrade(&self) -> WeakPbx {
        WeakPbx(Arc::downgrade(&self.shared))
    }

    /// Whether the operator configured an e-mail relay (and it started).
    pub fn sends_mail(&self) -> bool {
        self.shared.mailer.is_some()
    }

    /// Takes a message for `tenant` from elsewhere than a call (a reporter
    /// plugin's `mail.send`): through the same relay, hourly share and
    /// `switchyard_mails_total` as the host's own e-mail, so a tenant's
    /// plugins and its voicemail share one limit. `Ok` once the message is
    /// accepted; it is sent in the background. `what` names the sender in
    /// the log.
    pub fn send_mail(
        &self,
        tenant: &str,
        what: &'static str,
        mail: mail::Mail,
    ) -> Result<(), mail::MailError> {
        notices::submit(&self.shared, tenant, what, mail)
    }

    /// Hang up call `call_id` of `tenant`; false when there is no such call.
    pub fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        self.shared.in_progress.hangup(tenant, call_id)
    }

    /// Transfer the caller of call `call_id` away from its agent: `to` is
    /// `queue:NAME` or an extension. `Err` when there is no such call or
    /// target.
    pub fn transfer(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), String> {
        let t = self
            .tenants()
            .by_id(tenant)
            .ok_or_else(|| format!("unknown tenant {tenant}"))?;
        let target = match to.strip_prefix("queue:") {
            Some(q) if t.contact_centre.queues.iter().any(|s| s.config.name == q) => {
                session::TransferTarget::Queue(q.to_string())
            }
            Some(q) => return Err(format!("{q:?} is not a queue of this tenant")),
            None if t.extensions.contains_key(to) => session::TransferTarget::Extension(to.into()),
            None => return Err(format!("{to:?} is neither `queue:NAME` nor an extension")),
        };
        if self
            .shared
            .in_progress
            .send(tenant, call_id, CallMsg::Transfer(target))
        {
            Ok(())
        } else {
            Err(format!("no live call {call_id:?}"))
        }
    }

    /// Supervise a live call (API): ring `supervisor`'s phones; the first
    /// to answer joins the call in `mode`, listening to or talking with
    /// the call's agent.
    pub fn monitor(
        &self,
        tenant: &str,
        call_id: &str,
        supervisor: &str,
        mode: session::MonitorMode,
    ) -> Result<(), Refused> {
        let t = self
            .tenants()
            .by_id(tenant)
            .ok_or_else(|| Refused::NoCall(format!("unknown tenant {tenant}")))?;
        let call = self
            .shared
            .in_progress
            .list(tenant)
            .into_iter()
            .find(|c| c.call_id == call_id)
            .ok_or_else(|| Refused::NoCall(format!("no live call {call_id:?}")))?;
        match t.extensions.get(supervisor) {
            None => {
                return Err(Refused::Invalid(format!(
                    "{supervisor:?} is not an extension of this tenant"
                )));
            }
            Some(e) if !e.supervisor => {
                return Err(Refused::Forbidden(format!(
                    "extension {supervisor} may not supervise (its supervisor flag is off)"
                )));
            }
            Some(_) => {}
        }
        let agent = match (&call.agent, call.state) {
            (Some(a), calls_in_progress::CallState::Answered) => a.clone(),
            _ => {
                return Err(Refused::Conflict(format!(
                    "call {call_id:?} is {}: only an answered call has an agent to supervise",
                    call.state
                )));
            }
        };
        if agent == supervisor {
            return Err(Refused::Conflict(
                "a supervisor cannot supervise their own call".into(),
            ));
        }
        let msg = CallMsg::MonitorByDialling {
            supervisor: supervisor.to_string(),
            agent,
            mode,
        };
        if self.shared.in_progress.send(tenant, call_id, msg) {
            Ok(())
        } else {
            Err(Refused::NoCall(format!("no live call {call_id:?}")))
        }
    }

    /// Three-way calling (API): ring `to` (an extension, else a number
    /// through the tenant's trunk) into the answered call `call_id`.
    pub fn add_party(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), Refused> {
        let valid = match to.strip_prefix("queue:") {
            Some(q) => self
                .tenants()
                .by_id(tenant)
                .is_some_and(|t| t.contact_centre.queues.iter().any(|s| s.config.name == q)),
            None => {
                !to.is_empty()
                    && to
                        .chars()
                        .enumerate()
                        .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'))
            }
        };
        if !valid {
            return Err(Refused::Invalid(format!(
                "{to:?} is neither an extension, a number nor `queue:NAME` of this tenant"
            )));
        }
        if let Some(q) = to.strip_prefix("queue:") {
            let free = self.shared.queues.get(tenant).is_some_and(|t| {
                t.agents().iter().any(|(_, v)| {
                    v.queues.iter().any(|x| x == q)
                        && matches!(v.state, switchyard_acd::AgentState::Available { .. })
                })
            });
            if !free {
                return Err(Refused::Conflict(format!("nobody of queue {q:?} is free")));
            }
        }
        let answered = self
            .shared
            .in_progress
            .list(tenant)
            .into_iter()
            .find(|c| c.call_id == call_id)
            .map(|c| c.state == calls_in_progress::CallState::Answered);
        match answered {
            None => Err(Refused::NoCall(format!("no live call {call_id:?}"))),
            Some(false) => Err(Refused::Conflict(format!(
                "call {call_id:?} is not answered yet"
            ))),
            Some(true) => {
                self.shared
                    .in_progress
                    .send(tenant, call_id, CallMsg::AddParty(to.to_string()));
                Ok(())
            }
        }
    }

    /// Click-to-call: ring `agent`'s phone, then dial `number` (an
    /// extension, or an outside number through the tenant's trunk).
    pub fn click_to_call(&self, tenant: &str, agent: &str, number: &str) -> Result<String, String> {
        let t = self
            .tenants()
            .by_id(tenant)
            .ok_or_else(|| format!("unknown tenant {tenant}"))?;
        driver::start_outgoing(self.shared.clone(), t, agent, number)
    }

    /// The tenant's conference rooms in use, with their participants.
    pub fn conferences(&self, tenant: &str) -> Vec<conference::RoomView> {
        self.shared.conferences.list(tenant)
    }

    /// Mute or unmute participant `call_id` of `room`; false when there
    /// is no such participant.
    pub fn conference_mute(&self, tenant: &str, room: &str, call_id: &str, muted: bool) -> bool {
        self.tenants().by_id(tenant).is_some_and(|t| {
            self.shared
                .conferences
                .set_muted(&self.shared, &t, room, call_id, muted)
        })
    }

    /// Remove participant `call_id` from `room` (its call ends).
    pub fn conference_kick(&self, tenant: &str, room: &str, call_id: &str) -> bool {
        self.shared.conferences.kick(tenant, room, call_id)
    }

    /// Lock or unlock `room` (locked: only moderators join).
    pub fn conference_lock(&self, tenant: &str, room: &str, locked: bool) -> bool {
        self.shared.conferences.lock(tenant, room, locked)
    }

    /// Ring `to` (an extension, or a number through the tenant's trunk);
    /// answered, it joins `room`. The new call's id.
    pub fn conference_add(&self, tenant: &str, room: &str, to: &str) -> Result<String, String> {
        let t = self
            .tenants()
            .by_id(tenant)
            .ok_or_else(|| format!("unknown tenant {tenant}"))?;
        driver::start_conference_add(self.shared.clone(), t, room, to)
    }

    /// The tenant's call events from now on.
    pub fn subscribe(
        &self,
        tenant: &str,
    ) -> tokio::sync::broadcast::Receiver<calls_in_progress::CallNotice> {
        self.shared.in_progress.subscribe(tenant)
    }

    /// RTP port pairs held by calls right now (0 without media anchoring).
    pub fn rtp_ports_in_use(&self) -> usize {
        self.shared.ports.as_ref().map_or(0, |p| p.in_use())
    }

    /// Live calls (legs' Call-IDs are counted once per call task).
    pub fn active_calls(&self) -> usize {
        let calls = self.shared.calls.lock().expect("calls lock");
        let mut seen: Vec<&mpsc::UnboundedSender<CallMsg>> = Vec::new();
        for s in calls.values() {
            if !seen.iter().any(|o| o.same_channel(s)) {
                seen.push(s);
            }
        }
        seen.len()
    }

    /// Remove the registrations expired at `now_ms` (each logged); how
    /// many. Expired bindings route nothing already; this is their
    /// cleanup and their line in the log.
    pub fn expire_registrations(&self, now_ms: u64) -> usize {
        use switchyard_store::RegistrationRepo;
        match self.shared.store.purge_expired(now_ms) {
            Ok(gone) => {
                gone.iter().for_each(call_log::expired);
                gone.len()
            }
            Err(e) => {
                tracing::error!(error = %e, "purging expired registrations");
                0
            }
        }
    }

    /// Run `job` now and every `every` on the blocking pool (each run
    /// waits for the store), one run at a time; a late run is not made up.
    fn every(&self, every: Duration, job: impl Fn(&Pbx) + Send + Sync + 'static) {
        let pbx = self.clone();
        let job = Arc::new(job);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (p, job) = (pbx.clone(), job.clone());
                let _ = tokio::task::spawn_blocking(move || job(&p)).await;
            }
        });
    }

    /// Run [`Pbx::expire_registrations`] every `every`.
    pub fn start_registration_expiry(&self, every: Duration) {
        self.every(every, |p| {
            p.expire_registrations(switchyard_clock::unix_ms());
        });
    }

    /// Charge every tenant whose plan has monthly fees the fees of the
    /// month of `now_ms`, once a month each; how many were charged now.
    pub fn charge_monthly_fees(&self, now_ms: u64) -> usize {
        rating::charge_monthly_fees(&self.shared, now_ms)
    }

    /// Run [`Pbx::charge_monthly_fees`] now and every `every` (a month is
    /// charged once, so the first tick of a month charges it).
    pub fn start_monthly_fees(&self, every: Duration) {
        self.every(every, |p| {
            p.charge_monthly_fees(switchyard_clock::unix_ms());
        });
    }

    /// End the live trunk calls of prepaid tenants that have spent their
    /// balance, once their grace is over ([`credit::CreditWatch::check`]);
    /// the calls ended.
    pub fn check_credit(&self) -> Vec<String> {
        use switchyard_store::BillingRepo;
        let (now, now_ms) = (std::time::Instant::now(), switchyard_clock::unix_ms());
        let tenants = self.tenants();
        let mut watched: Vec<String> = {
            let credit = self.shared.credit.lock().expect("credit lock");
            credit
                .iter()
                .filter(|(_, w)| !w.is_empty())
                .map(|(t, _)| t.clone())
                .collect()
        };
        watched.sort();
        let mut ended = Vec::new();
        for id in watched {
            let Some(tenant) = tenants.by_id(&id) else {
                continue;
            };
            let account = match self.shared.store.account(&id) {
                Ok(a) if a.prepaid => a,
                _ => continue,
            };
            let to_end = {
                let mut credit = self.shared.credit.lock().expect("credit lock");
                let Some(w) = credit.get_mut(&id) else {
                    continue;
                };
                w.check(
                    &tenant.billing.rates,
                    account.balance,
                    tenant.billing.grace,
                    now,
                    now_ms,
                )
            };
            for call in to_end {
                tracing::warn!(tenant = %id, %call, balance = %account.balance,
                    "prepaid balance spent and the grace is over: call ended");
                if self.shared.in_progress.hangup(&id, &call) {
                    self.shared
                        .metrics
                        .calls_ended_unpaid
                        .get_or_create(&metrics::Metrics::tenant(&id))
                        .inc();
                    ended.push(call);
                }
            }
        }
        ended
    }

    /// Run [`Pbx::check_credit`] every `every`.
    pub fn start_credit_watch(&self, every: Duration) {
        self.every(every, |p| {
            p.check_credit();
        });
    }

    /// Start the outbound registration of every trunk that registers.
    pub fn start_trunks(&self) {
        for t in self.tenants().all() {
            self.start_tenant_trunks(t);
        }
    }

    fn start_tenant_trunks(&self, t: &Tenant) {
        for trunk in &t.trunks {
            tokio::spawn(trunk::register_loop(
                self.shared.stack.clone(),
                trunk.clone(),
            ));
        }
    }

    /// The tenants as they are now.
    pub fn tenants(&self) -> Arc<Tenants> {
        self.shared.tenants()
    }

    /// Put `t` in place of the tenant with its id (or add it). Calls in
    /// flight keep the old view; the old trunks stop registering.
    pub fn upsert_tenant(&self, t: Tenant) {
        self.start_tenant_trunks(&t);
        self.configure_queues(&t);
        self.swap_tenant(&t.id.clone(), Some(t));
    }

    /// Forget tenant `id` (deleted): its domains and DIDs stop resolving.
    pub fn remove_tenant(&self, id: &str) {
        self.swap_tenant(id, None);
    }

    /// Replace (or drop) tenant `id` in a new copy of the tenant table;
    /// the old view's trunks stop registering.
    fn swap_tenant(&self, id: &str, new: Option<Tenant>) {
        let mut guard = self.shared.tenants.write().expect("tenants lock");
        let mut next = (**guard).clone();
        if let Some(old) = next.remove(id) {
            for tr in &old.trunks {
                tr.stop();
            }
        }
        if let Some(t) = new {
            self.shared
                .metrics
                .add_tenant(&t.id, driver::unanswered_names());
            next.add(t);
        }
        *guard = Arc::new(next);
    }

    /// Serve until the stack's channel closes.
    pub async fn run(self, mut incoming: mpsc::UnboundedReceiver<Incoming>) {
        let probe = tokio::spawn(lag_probe(Arc::downgrade(&self.shared)));
        let _probe = AbortOnDrop(probe);
        while let Some(msg) = incoming.recv().await {
            // A panic here would stop every call of every tenant: drop the
            // one message instead (its sender retransmits or times out).
            let dispatched =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(msg)));
            if dispatched.is_err() {
                tracing::error!("dispatching a SIP message panicked: message dropped");
                self.shared.metrics.task_panicked("dispatch");
            }
        }
    }

    fn dispatch(&self, msg: Incoming) {
        let s = &self.shared;
        match msg {
            Incoming::Request {
                key,
                request,
                peer,
                received,
            } => {
                let now = Instant::now();
                let new = matches!(request.method(), "REGISTER")
                    || (request.method() == "INVITE" && request.to_tag().is_none());
                let admission = {
                    let mut gate = s.overload.lock().unwrap_or_else(|p| p.into_inner());
                    gate.observe(now, now.saturating_duration_since(received));
                    new.then(|| gate.admit(now, peer.addr.ip()))
                };
                if let Some(overload::Admission::Refuse { retry_after_secs }) = admission {
                    // Before digest, plugin, ports or store: the cheapest
                    // answer there is, and one the peer retries later.
                    s.metrics
                        .overload_refused
                        .get_or_create(&metrics::MethodLabel {
                            method: request.method().to_string(),
                        })
                        .inc();
                    let mut r = response(&request, 503, "", Some("sy503"));
                    r.headers.push("Retry-After", retry_after_secs.to_string());
                    s.stack.respond(&key, r);
                    return;
                }
                match (request.method(), s.task_for(request.call_id())) {
                    (_, Some(task)) if request.to_tag().is_some() => {
                        let _ = task.send(CallMsg::Request { key, request, peer });
                    }
                    ("REGISTER", _) => {
                        let shared = self.shared.clone();
                        tokio::spawn(async move {
                            registrar::handle_guarded(&shared, key, request, peer);
                        });
                    }
                    ("OPTIONS", _) => self.options(key, &request),
                    ("INVITE", _) if request.to_tag().is_none() => {
                        driver::start_incoming(self.shared.clone(), key, request, peer);
                    }
                    ("INVITE" | "BYE" | "INFO" | "UPDATE", _) => {
                        self.reply(&key, &request, 481);
                    }
                    // A transfer makes sense only inside a call.
                    ("REFER", _) => {
                        let r = response(&request, 403, "REFER Only Within A Call", Some("sy403"));
                        s.stack.respond(&key, r);
                    }
                    (m, _) if is_known_method(m) => {
                        let mut r = response(&request, 405, "", Some("sy405"));
                        r.headers.push("Allow", ALLOW);
                        s.stack.respond(&key, r);
                    }
                    _ => self.reply(&key, &request, 501),
                }
            }
            Incoming::Ack { request, .. } => {
                if let Some(task) = s.task_for(request.call_id()) {
                    let _ = task.send(CallMsg::Ack { request });
                }
            }
            Incoming::Cancel { invite, request } => {
                if let Some(task) = s.task_for(request.call_id()) {
                    let _ = task.send(CallMsg::Cancel { invite });
                }
            }
            // RFC 3261 §13.3.1.4: the call that sent the 2xx BYEs the
            // dialog and ends.
            Incoming::AckTimeout { call_id, .. } => match s.task_for(&call_id) {
                Some(task) => {
                    let _ = task.send(CallMsg::AckTimeout { call_id });
                }
                None => tracing::info!(%call_id, "2xx never acknowledged; the call is over"),
            },
        }
    }

    fn options(&self, key: TransactionKey, req: &Message) {
        // Max-Forwards 0 only matters for requests we would forward; an
        // OPTIONS to us is answered (RFC 4475 zeromf).
        let mut r = response(req, 200, "", Some("syopt"));
        r.headers.push("Allow", ALLOW);
        r.headers.push("Accept", "application/sdp");
        r.headers.push("Supported", "");
        self.shared.stack.respond(&key, r);
    }

    fn reply(&self, key: &TransactionKey, req: &Message, status: u16) {
        self.shared
            .stack
            .respond(key, response(req, status, "", Some("syerr")));
    }
}

/// Aborts its task when dropped (the lag probe ends with the dispatcher).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the lag probe's timer is set.
const LAG_PROBE_EVERY: Duration = Duration::from_millis(20);

/// Overload control's second signal: how late a timer fires on the
/// runtime. When every worker is busy, the probe (like every message's
/// task) waits its turn, and that lateness is the host's lag even when
/// no request is waiting in the dispatcher's channel (the UDP reader
/// behind, its datagrams queued in the kernel).
async fn lag_probe(shared: std::sync::Weak<Shared>) {
    loop {
        let set = Instant::now();
        tokio::time::sleep(LAG_PROBE_EVERY).await;
        let now = Instant::now();
        let late = now.saturating_duration_since(set + LAG_PROBE_EVERY);
        let Some(s) = shared.upgrade() else { return };
        let shedding = {
            let mut gate = s.overload.lock().unwrap_or_else(|p| p.into_inner());
            gate.observe(now, late);
            gate.shedding()
        };
        s.metrics.overload_shedding.set(i64::from(shedding));
    }
}

fn is_known_method(m: &str) -> bool {
    matches!(m, "SUBSCRIBE" | "NOTIFY" | "MESSAGE" | "PRACK" | "PUBLISH")
}

/// The tenant a request is for: the Request-URI's host, else the To's,
/// else the From's (a phone that dials `sip:1002@192.0.2.1`).
pub(crate) fn tenant_of(tenants: &Tenants, req: &Message) -> Option<Arc<Tenant>> {
    let host_of = |v: Option<&str>| {
        v.and_then(|v| switchyard_sip::message::addr::NameAddr::parse(v).ok())
            .and_then(|a| SipUri::parse(&a.uri).ok())
            .map(|u| u.host)
    };
    let ruri = SipUri::parse(req.uri()).ok().map(|u| u.host);
    [
        ruri,
        host_of(req.headers.get("To")),
        host_of(req.headers.get("From")),
    ]
    .into_iter()
    .flatten()
    .find_map(|h| tenants.by_domain(&h))
}
