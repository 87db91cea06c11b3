//! Click-to-call: the PBX rings the agent's phone first and, once the agent
//! answers, dials the customer — third-party call control as in RFC 3725
//! flow I: the agent's 200 carries the SDP offer (our INVITE had none), the
//! customer gets that offer, and the customer's answer goes back to the
//! agent in our ACK. Then BYE from either side ends both.

use std::sync::Arc;
use std::time::Duration;

use switchyard_plugins::flow_types::DialTarget;
use switchyard_sip::dialog::Dialog;
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_store::RegistrationRepo;
use switchyard_transport::ClientEvent;
use tokio::sync::mpsc;

use crate::calls_in_progress::{CallState, LiveCallInfo};
use crate::{ALLOW, CallMsg, Shared, Tenant};
use switchyard_clock::unix_ms;

/// How long each side may ring.
const RING: Duration = Duration::from_secs(30);

fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Start a click-to-call; returns its call id.
pub(crate) fn start(
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    agent: &str,
    number: &str,
) -> Result<String, String> {
    if !tenant.extensions.contains_key(agent) {
        return Err(format!("{agent} is not an extension of {}", tenant.id));
    }
    let binding = shared
        .store
        .bindings(&tenant.id, agent, unix_ms())
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("extension {agent} has no registered device"))?;
    let agent_peer = crate::call::device_peer(&binding)
        .ok_or_else(|| format!("extension {agent}'s device has no usable address"))?;
    let call_id = format!("c2c-{}", token());
    crate::call_log::click_to_call_started(&call_id, &tenant.id, agent, number);
    let (tx, rx) = mpsc::unbounded_channel();
    shared.in_progress.start(
        LiveCallInfo {
            call_id: call_id.clone(),
            tenant: tenant.id.clone(),
            caller: agent.to_string(),
            callee: number.to_string(),
            dialled: number.to_string(),
            state: CallState::Ringing,
            started_ms: unix_ms(),
            agent: Some(agent.to_string()),
        },
        tx.clone(),
    );
    let job = Originate {
        shared,
        tenant,
        tx,
        rx,
        call_id: call_id.clone(),
        agent: agent.to_string(),
        number: number.to_string(),
        agent_uri: binding.contact,
        agent_peer,
    };
    tokio::spawn(job.run());
    Ok(call_id)
}

struct Originate {
    shared: Arc<Shared>,
    tenant: Arc<Tenant>,
    tx: mpsc::UnboundedSender<CallMsg>,
    rx: mpsc::UnboundedReceiver<CallMsg>,
    call_id: String,
    agent: String,
    number: String,
    agent_uri: String,
    agent_peer: Peer,
}

impl Originate {
    fn contact(&self, transport: Transport) -> String {
        let mut addr = self.shared.stack.local_addr(transport);
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("<sip:c2c@{addr}>")
    }

    fn invite(&self, uri: &str, from: &str, to: &str, body: Option<&[u8]>, peer: Peer) -> Message {
        let domain = self.tenant.realm();
        let leg_call_id = format!("{}@switchyard", token());
        self.shared
            .calls
            .lock()
            .expect("calls lock")
            .insert(leg_call_id.clone(), self.tx.clone());
        let mut inv = Message::request("INVITE", uri);
        inv.headers
            .push("From", format!("<sip:{from}@{domain}>;tag={}", token()));
        inv.headers.push("To", format!("<sip:{to}@{domain}>"));
        inv.headers.push("Call-ID", leg_call_id);
        inv.headers.push("CSeq", "1 INVITE");
        inv.headers.push("Contact", self.contact(peer.transport));
        inv.headers.push("Allow", ALLOW);
        if let Some(b) = body {
            inv.headers.push("Content-Type", "application/sdp");
            inv.body = b.to_vec();
        }
        inv
    }

    /// Send `inv` and wait for its final answer (or `None`).
    async fn ring(&mut self, inv: Message, peer: Peer) -> Option<Message> {
        let (key, mut rx) = self.shared.stack.send_request(inv, peer);
        let deadline = tokio::time::Instant::now() + RING;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    self.shared.stack.cancel(&key);
                    return None;
                }
                msg = self.rx.recv() => {
                    if matches!(msg, Some(CallMsg::Hangup) | None) {
                        self.shared.stack.cancel(&key);
                        return None;
                    }
                }
                ev = rx.recv() => match ev {
                    Some(ClientEvent::Response(r)) if r.status() >= 200 => return Some(r),
                    Some(ClientEvent::Response(_)) => continue,
                    Some(ClientEvent::Timeout) | None => return None,
                }
            }
        }
    }

    async fn run(mut self) {
        let started = unix_ms();
        let detail = self.connect().await;
        let duration = unix_ms().saturating_sub(started) as f64 / 1000.0;
        crate::call_log::click_to_call_ended(&self.call_id, &self.tenant.id, &detail, duration);
        let mut calls = self.shared.calls.lock().expect("calls lock");
        calls.retain(|_, s| !s.same_channel(&self.tx));
        drop(calls);
        self.shared.in_progress.end(&self.call_id, Some(detail));
    }

    async fn connect(&mut self) -> String {
        // 1. The agent, with no offer: the phone makes one in its 200.
        let inv_a = self.invite(
            &self.agent_uri.clone(),
            &self.number.clone(),
            &self.agent.clone(),
            None,
            self.agent_peer,
        );
        let Some(ok_a) = self.ring(inv_a.clone(), self.agent_peer).await else {
            return "agent did not answer".into();
        };
        if ok_a.status() >= 300 {
            return format!("agent answered {}", ok_a.status());
        }
        let mut a = Dialog::uac(&inv_a, &ok_a);
        self.shared.in_progress.update(
            &self.call_id,
            CallState::Answered,
            Some(&self.agent.clone()),
        );
        crate::call_log::click_to_call_answered(&self.call_id, &self.tenant.id, &self.agent);

        // 2. The customer, with the agent's offer.
        let target = if self.tenant.extensions.contains_key(&self.number) {
            DialTarget::Extension(self.number.clone())
        } else {
            DialTarget::Number(self.number.clone())
        };
        let customer = match &target {
            DialTarget::Extension(e) => self
                .shared
                .store
                .bindings(&self.tenant.id, e, unix_ms())
                .ok()
                .and_then(|b| b.into_iter().next())
                .and_then(|b| Some((b.contact.clone(), crate::call::device_peer(&b)?, None))),
            _ => match self.tenant.trunks.first().cloned() {
                Some(t) => t
                    .peer()
                    .await
                    .map(|p| (format!("sip:{}@{}", self.number, t.host), p, Some(t))),
                None => None,
            },
        };
        let Some((uri, peer, trunk)) = customer else {
            self.shared
                .stack
                .send_ack(a.ack(a.local_cseq), self.agent_peer);
            let _ = self
                .shared
                .stack
                .send_request(a.request("BYE"), self.agent_peer);
            return format!("{} cannot be reached", self.number);
        };
        let from = match &trunk {
            Some(t) => t.presented_number(None, &self.agent).to_string(),
            None => self.agent.clone(),
        };
        let mut inv_b = self.invite(&uri, &from, &self.number.clone(), Some(&ok_a.body), peer);
        let mut answer = self.ring(inv_b.clone(), peer).await;
        if let (Some(r), Some(t)) = (&answer, &trunk)
            && matches!(r.status(), 401 | 407)
            && let Some(next) = t.authorize(&inv_b, r)
        {
            inv_b = next;
            answer = self.ring(inv_b.clone(), peer).await;
        }
        let ok_b = match answer {
            Some(r) if r.status() < 300 => r,
            other => {
                // The customer is not coming: close the agent's dialog.
                self.shared
                    .stack
                    .send_ack(a.ack(a.local_cseq), self.agent_peer);
                let _ = self
                    .shared
                    .stack
                    .send_request(a.request("BYE"), self.agent_peer);
                return format!(
                    "customer answered {}",
                    other.map(|r| r.status()).unwrap_or(408)
                );
            }
        };
        let mut b = Dialog::uac(&inv_b, &ok_b);
        self.shared.stack.send_ack(b.ack(b.local_cseq), peer);
        // 3. The customer's answer goes to the agent in our ACK.
        let mut ack = a.ack(a.local_cseq);
        ack.headers.push("Content-Type", "application/sdp");
        ack.body = ok_b.body.clone();
        self.shared.stack.send_ack(ack, self.agent_peer);

        // 4. Talk until a BYE (or a hang-up from the API).
        let a_call = a.call_id.clone();
        loop {
            match self.rx.recv().await {
                Some(CallMsg::Request { key, request, .. }) if request.method() == "BYE" => {
                    let from_agent = request.call_id() == a_call;
                    let tag = if from_agent {
                        a.local_tag.clone()
                    } else {
                        b.local_tag.clone()
                    };
                    self.shared
                        .stack
                        .respond(&key, response(&request, 200, "", Some(&tag)));
                    if from_agent {
                        let _ = self.shared.stack.send_request(b.request("BYE"), peer);
                    } else {
                        let _ = self
                            .shared
                            .stack
                            .send_request(a.request("BYE"), self.agent_peer);
                    }
                    return if from_agent {
                        "agent hung up".into()
                    } else {
                        "customer hung up".into()
                    };
                }
                Some(CallMsg::Request { key, request, .. }) => {
                    let tag = if request.call_id() == a_call {
                        a.local_tag.clone()
                    } else {
                        b.local_tag.clone()
                    };
                    self.shared
                        .stack
                        .respond(&key, response(&request, 200, "", Some(&tag)));
                }
                Some(CallMsg::Hangup) | None => {
                    let _ = self
                        .shared
                        .stack
                        .send_request(a.request("BYE"), self.agent_peer);
                    let _ = self.shared.stack.send_request(b.request("BYE"), peer);
                    return "hung up by the operator".into();
                }
                Some(_) => continue,
            }
        }
    }
}
