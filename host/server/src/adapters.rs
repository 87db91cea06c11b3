//! The server's side of the API's traits: live calls come from the call
//! engine, and a configuration change rebuilds the tenant from the store.

use switchyard_api::{
    CallActionError, CallEvent, ConfigChanged, LiveCall, LiveCalls, LiveMonitor, LiveParticipant,
    LiveRoom,
};
use switchyard_calls::Pbx;
use switchyard_calls::Refused;
use switchyard_plugins::PluginHost;
use switchyard_store::{Store, TenantRepo};
use tokio::sync::broadcast;

/// Live calls, hang-up and the event stream, from the call engine.
pub struct LiveAdapter {
    pub pbx: Pbx,
}

impl LiveCalls for LiveAdapter {
    fn plugin_runtime(&self, tenant: &str) -> Option<switchyard_plugins::TenantRuntime> {
        self.pbx.plugin_runtime(tenant)
    }
    fn wrap_up_saved(&self, tenant: &str, call_id: &str, wrap: &switchyard_store::WrapUp) {
        self.pbx.wrap_up_saved(tenant, call_id, wrap);
    }
    fn list(&self, tenant: &str) -> Vec<LiveCall> {
        self.pbx
            .live_calls(tenant)
            .into_iter()
            .map(|c| LiveCall {
                call_id: c.call_id,
                caller: c.caller,
                callee: c.callee,
                dialled: c.dialled,
                state: c.state.to_string(),
                started_ms: c.started_ms,
                agent: c.agent,
                monitors: c
                    .monitors
                    .into_iter()
                    .map(|(supervisor, agent, mode)| LiveMonitor {
                        supervisor,
                        agent,
                        mode: mode.as_str().to_string(),
                    })
                    .collect(),
            })
            .collect()
    }

    fn hangup(&self, tenant: &str, call_id: &str) -> bool {
        self.pbx.hangup(tenant, call_id)
    }

    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<CallEvent> {
        // Re-publish the engine's notices in the API's type.
        let mut from = self.pbx.subscribe(tenant);
        let (tx, rx) = broadcast::channel(256);
        tokio::spawn(async move {
            loop {
                match from.recv().await {
                    Ok(n) => {
                        let e = CallEvent {
                            kind: n.kind.to_string(),
                            call_id: n.call_id,
                            at_ms: n.at_ms,
                            detail: n.detail,
                        };
                        if tx.send(e).is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        rx
    }

    fn click_to_call(&self, tenant: &str, agent: &str, number: &str) -> Result<String, String> {
        self.pbx.click_to_call(tenant, agent, number)
    }

    fn transfer(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), String> {
        self.pbx.transfer(tenant, call_id, to)
    }

    fn add_party(&self, tenant: &str, call_id: &str, to: &str) -> Result<(), CallActionError> {
        self.pbx
            .add_party(tenant, call_id, to)
            .map_err(action_error)
    }

    fn conferences(&self, tenant: &str) -> Vec<LiveRoom> {
        self.pbx
            .conferences(tenant)
            .into_iter()
            .map(|r| LiveRoom {
                name: r.name,
                locked: r.locked,
                waiting: r.waiting,
                started_ms: r.started_ms,
                participants: r
                    .participants
                    .into_iter()
                    .map(|p| LiveParticipant {
                        call_id: p.call_id,
                        caller: p.caller,
                        moderator: p.moderator,
                        muted: p.muted,
                        talking: p.talking,
                        joined_ms: p.joined_ms,
                    })
                    .collect(),
            })
            .collect()
    }

    fn conference_mute(&self, tenant: &str, room: &str, call_id: &str, muted: bool) -> bool {
        self.pbx.conference_mute(tenant, room, call_id, muted)
    }

    fn conference_kick(&self, tenant: &str, room: &str, call_id: &str) -> bool {
        self.pbx.conference_kick(tenant, room, call_id)
    }

    fn conference_lock(&self, tenant: &str, room: &str, locked: bool) -> bool {
        self.pbx.conference_lock(tenant, room, locked)
    }

    fn conference_add(&self, tenant: &str, room: &str, ext: &str) -> Result<String, String> {
        self.pbx.conference_add(tenant, room, ext)
    }

    fn monitor(
        &self,
        tenant: &str,
        call_id: &str,
        supervisor: &str,
        mode: &str,
    ) -> Result<(), CallActionError> {
        let mode = mode.parse().map_err(CallActionError::Invalid)?;
        self.pbx
            .monitor(tenant, call_id, supervisor, mode)
            .map_err(action_error)
    }
}

/// Rebuilds a tenant's running view after the API changed it.
pub struct Reloader {
    pub store: Store,
    pub host: PluginHost,
    pub pbx: Pbx,
}

impl ConfigChanged for Reloader {
    fn tenant_changed(&self, tenant: &str) {
        match self.store.get_tenant(tenant) {
            Ok(Some(_)) => match crate::tenant_view::load_tenant(&self.store, &self.host, tenant) {
                Ok(t) => self.pbx.upsert_tenant(t),
                Err(e) => tracing::error!(%tenant, error = %e, "tenant not reloaded"),
            },
            Ok(None) => self.pbx.remove_tenant(tenant),
            Err(e) => tracing::error!(%tenant, error = %e, "tenant not reloaded"),
        }
    }
}

/// Queues and agents, from the call engine's queue service.
pub struct CentreAdapter {
    pub pbx: Pbx,
}

fn agent_live(extension: String, v: switchyard_acd::AgentView) -> switchyard_api::AgentLive {
    use switchyard_acd::AgentState;
    let (reason, call_id) = match &v.state {
        AgentState::Paused { reason } => (Some(reason.clone()), None),
        AgentState::Reserved { call } | AgentState::OnCall { call } => (None, Some(call.clone())),
        _ => (None, None),
    };
    switchyard_api::AgentLive {
        extension,
        state: switchyard_calls::queues::agent_state_name(&v.state).to_string(),
        reason,
        call_id,
        queues: v.queues,
        calls_today: v.calls_today,
        talk_secs_today: v.talk_today.as_secs() as u32,
        since_ms: Some(v.since_ms),
        wrap_up_ends_ms: v.wrap_up_ends_ms,
    }
}

impl switchyard_api::ContactCentre for CentreAdapter {
    fn web_call_ticket(
        &self,
        tenant: &str,
        widget: &str,
        number: &str,
    ) -> Result<String, CallActionError> {
        self.pbx
            .issue_web_call(tenant, widget, number)
            .map_err(CallActionError::Invalid)
    }

    fn request_callback(
        &self,
        tenant: &str,
        queue: &str,
        number: &str,
        source: &str,
    ) -> Result<String, CallActionError> {
        self.pbx
            .request_callback(tenant, queue, number, source)
            .map_err(action_error)
    }

    fn agents(&self, tenant: &str) -> Vec<switchyard_api::AgentLive> {
        self.pbx
            .agents(tenant)
            .into_iter()
            .map(|(ext, v)| agent_live(ext, v))
            .collect()
    }

    fn change_agent(
        &self,
        tenant: &str,
        extension: &str,
        change: switchyard_api::AgentChange,
    ) -> Result<switchyard_api::AgentLive, String> {
        use switchyard_calls::queues::AgentChange as C;
        let change = match change {
            switchyard_api::AgentChange::Login => C::Login,
            switchyard_api::AgentChange::Logout => C::Logout,
            switchyard_api::AgentChange::Pause { reason } => {
                C::Pause(reason.unwrap_or_else(|| "break".into()))
            }
            switchyard_api::AgentChange::Unpause => C::Unpause,
        };
        self.pbx.change_agent(tenant, extension, change)?;
        self.pbx
            .agents(tenant)
            .into_iter()
            .find(|(e, _)| e == extension)
            .map(|(e, v)| agent_live(e, v))
            .ok_or_else(|| format!("{extension} is not an agent of any queue"))
    }

    fn queue_live(&self, tenant: &str, name: &str) -> Option<switchyard_api::QueueLive> {
        let (s, callbacks) = self.pbx.queue_status(tenant, name)?;
        let agents = switchyard_calls::queues::agents_by_state(&s)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Some(switchyard_api::QueueLive {
            name: s.name,
            waiting: s.waiting.saturating_sub(callbacks),
            callbacks_waiting: callbacks,
            longest_wait_secs: s.longest_wait.as_secs() as u32,
            agents,
        })
    }
}

/// The call engine's refusal as the API's.
fn action_error(e: Refused) -> CallActionError {
    match e {
        Refused::Invalid(why) => CallActionError::Invalid(why),
        Refused::Forbidden(why) => CallActionError::Forbidden(why),
        Refused::NoCall(why) => CallActionError::NotFound(why),
        Refused::Conflict(why) => CallActionError::Conflict(why),
    }
}

/// Reporter plugins' `mail.send`, through the call engine's mailer: the
/// same relay, per-tenant hourly share and `switchyard_mails_total` as
/// voicemail and missed-call e-mail.
///
/// The plugin host is made before the call engine (the engine's tenants
/// hold plugin runtimes), so the engine is set here once it exists; a
/// message sent before that (none can be: no call, no record, no
/// reporter) would be `failed`. Weak: the engine holds the plugin host,
/// which holds this relay, and a cycle would keep both (and the plugin kv
/// database's lock) alive after the server is dropped.
pub struct PluginMail {
    pub pbx: std::sync::Arc<std::sync::OnceLock<switchyard_calls::WeakPbx>>,
}

impl switchyard_plugins::MailRelay for PluginMail {
    fn send(
        &self,
        tenant: &str,
        message: switchyard_plugins::mail::MailMessage,
    ) -> switchyard_plugins::MailFuture {
        use switchyard_calls::mail::{Mail, MailError};
        use switchyard_plugins::mail::MailError as PluginMailError;
        let result = match self.pbx.get().and_then(|p| p.upgrade()) {
            None => Err(PluginMailError::Failed(
                "the call engine is not running".into(),
            )),
            Some(pbx) if !pbx.sends_mail() => Err(PluginMailError::NotConfigured),
            Some(pbx) => pbx
                .send_mail(
                    tenant,
                    "plugin",
                    Mail {
                        to: message.to,
                        subject: message.subject,
                        body: message.body,
                        attachment: None,
                    },
                )
                .map_err(|e| match e {
                    MailError::RateLimited => PluginMailError::RateLimited,
                    MailError::Invalid(why) => PluginMailError::Invalid(why),
                    MailError::Relay(why) => PluginMailError::Failed(why),
                }),
        };
        // Accepting is synchronous; the relay is waited for in the
        // background by the engine.
        Box::pin(std::future::ready(result))
    }
}
