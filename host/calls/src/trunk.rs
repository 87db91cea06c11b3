//! SIP trunks: the carrier side of a tenant.
//!
//! * Outbound registration ([`register_loop`]): REGISTER to the carrier,
//!   answering its 401/407 with the trunk's credentials, refreshed before
//!   it expires, retried with back-off when the carrier refuses or is
//!   silent. The state is visible through [`Trunk::registration`].
//! * Inbound: an INVITE whose source matches a trunk's addresses is carrier
//!   traffic (no digest: carriers are trusted by address) when it is for a
//!   DID of the trunk's own tenant and not for another tenant's domain
//!   ([`crate::resolve`] decides).
//! * Outbound calls: a `number` dial target goes out through the tenant's
//!   trunk with its caller-ID rule; a 401/407 from the carrier is answered
//!   once with the trunk's credentials.
//! * Caps: concurrent calls and calls per second, per trunk and per tenant
//!   ([`CallGate`]); over a cap the call gets 503 with Retry-After.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use switchyard_sip::auth::answer_challenge;
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_transport::{ClientEvent, SipStack};

/// Concurrent calls and calls per second under caps (0 = no cap).
#[derive(Debug, Default)]
pub struct CallGate {
    active: AtomicU32,
    /// Start of the current one-second window and calls started in it.
    window: Mutex<(Option<Instant>, u32)>,
}

/// Refusal by a [`CallGate`]: answer 503 with this Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverCap {
    pub retry_after_secs: u32,
    pub what: &'static str,
}

/// A call counted by a gate until dropped.
#[derive(Debug)]
pub struct GateTicket {
    gate: Arc<CallGate>,
}

impl Drop for GateTicket {
    fn drop(&mut self) {
        self.gate.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CallGate {
    /// Admit a new call, or say when to come back.
    pub fn admit(
        gate: &Arc<CallGate>,
        max_concurrent: u32,
        max_per_second: u32,
        now: Instant,
    ) -> Result<GateTicket, OverCap> {
        {
            let mut w = gate.window.lock().expect("gate lock");
            let fresh =
                w.0.is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1));
            if fresh {
                *w = (Some(now), 0);
            }
            if max_per_second > 0 && w.1 >= max_per_second {
                return Err(OverCap {
                    retry_after_secs: 1,
                    what: "calls per second",
                });
            }
            w.1 += 1;
        }
        let before = gate.active.fetch_add(1, Ordering::SeqCst);
        if max_concurrent > 0 && before >= max_concurrent {
            gate.active.fetch_sub(1, Ordering::SeqCst);
            return Err(OverCap {
                retry_after_secs: 5,
                what: "concurrent calls",
            });
        }
        Ok(GateTicket { gate: gate.clone() })
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::SeqCst)
    }
}

/// Where the outbound registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Not configured to register, or not tried yet.
    Idle,
    Registered {
        expires_secs: u32,
    },
    /// The carrier refused (status) or did not answer (408).
    Failed {
        status: u16,
    },
}

/// One carrier trunk of a tenant.
#[derive(Debug)]
pub struct Trunk {
    pub name: String,
    /// `host:port` of the carrier.
    pub host: String,
    pub transport: Transport,
    pub username: Option<String>,
    pub password: Option<String>,
    pub register: bool,
    pub register_expires: u32,
    /// Domain for our From/To when registering and calling; the carrier
    /// host when `None`.
    pub from_domain: Option<String>,
    pub max_concurrent_calls: u32,
    pub max_calls_per_second: u32,
    /// Number presented on outbound calls.
    pub caller_id: Option<String>,
    /// Let a flow's `dial.caller-id` through instead of `caller_id`.
    pub allow_caller_id_passthrough: bool,
    /// `ip` or `ip:port` entries whose INVITEs are this carrier's.
    pub inbound_addresses: Vec<String>,
    /// SRTP for the carrier's media (off, optional, required).
    pub srtp: switchyard_sdp::SrtpPolicy,
    pub gate: Arc<CallGate>,
    pub registration: Mutex<Registration>,
    /// Set when the trunk was replaced or removed: its registration loop
    /// ends at its next wake-up.
    pub stopped: std::sync::atomic::AtomicBool,
}

impl Trunk {
    /// A place for one more call under the trunk's caps.
    pub fn admit_call(&self) -> Result<GateTicket, OverCap> {
        CallGate::admit(
            &self.gate,
            self.max_concurrent_calls,
            self.max_calls_per_second,
            std::time::Instant::now(),
        )
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub fn domain(&self) -> &str {
        let d = self.from_domain.as_deref().unwrap_or(&self.host);
        d.split(':').next().unwrap_or(d)
    }

    /// Does a request from `source` come from this carrier?
    pub fn matches_source(&self, source: SocketAddr) -> bool {
        self.inbound_addresses
            .iter()
            .any(|a| match a.parse::<SocketAddr>() {
                Ok(exact) => exact == source,
                Err(_) => a
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip == source.ip()),
            })
    }

    /// The carrier's address (DNS resolved now).
    pub async fn peer(&self) -> Option<Peer> {
        let addr = tokio::net::lookup_host(&self.host).await.ok()?.next()?;
        Some(Peer {
            transport: self.transport,
            addr,
        })
    }

    /// The From number for an outbound call: the flow's choice when the
    /// trunk lets it through, else the trunk's number, else the caller's.
    pub fn presented_number<'a>(
        &'a self,
        flow_choice: Option<&'a str>,
        caller: &'a str,
    ) -> &'a str {
        match (flow_choice, &self.caller_id) {
            (Some(c), _) if self.allow_caller_id_passthrough => c,
            (_, Some(own)) => own,
            (Some(c), None) => c,
            (None, None) => caller,
        }
    }

    /// `request` again with credentials answering `challenge_response`
    /// (a 401 or 407), its CSeq one higher. `None` without credentials or
    /// when the challenge cannot be answered.
    pub fn authorize(&self, request: &Message, challenge_response: &Message) -> Option<Message> {
        let (user, pass) = (self.username.as_deref()?, self.password.as_deref()?);
        let (challenge_header, answer_header) = match challenge_response.status() {
            401 => ("WWW-Authenticate", "Authorization"),
            407 => ("Proxy-Authenticate", "Proxy-Authorization"),
            _ => return None,
        };
        // The first challenge we can answer (MD5 or SHA-256).
        let answer = challenge_response
            .headers
            .get_all(challenge_header)
            .find_map(|c| answer_challenge(c, request.method(), request.uri(), user, pass).ok())?;
        let mut next = request.clone();
        next.headers.remove("Via");
        next.headers.remove("Authorization");
        next.headers.remove("Proxy-Authorization");
        let (n, method) = request.cseq()?;
        next.headers.set("CSeq", format!("{} {method}", n + 1));
        next.headers.push(answer_header, answer);
        Some(next)
    }
}

/// Keep the trunk registered while the process runs.
pub async fn register_loop(stack: SipStack, trunk: Arc<Trunk>) {
    if !trunk.register {
        return;
    }
    let call_id = format!("{:016x}@switchyard", rand::random::<u64>());
    let tag = format!("{:08x}", rand::random::<u32>());
    let mut cseq = 0u32;
    let mut backoff = Duration::from_secs(30);
    loop {
        if trunk.is_stopped() {
            return;
        }
        let Some(peer) = trunk.peer().await else {
            tracing::warn!(trunk = %trunk.name, host = %trunk.host, "trunk host does not resolve");
            *trunk.registration.lock().expect("trunk lock") = Registration::Failed { status: 404 };
            tokio::time::sleep(backoff).await;
            continue;
        };
        cseq += 1;
        let user = trunk
            .username
            .clone()
            .unwrap_or_else(|| "switchyard".into());
        let domain = trunk.domain().to_string();
        let contact_addr = stack.advertised_addr(peer.transport);
        let mut req = Message::request("REGISTER", &format!("sip:{}", trunk.host));
        req.headers
            .push("From", format!("<sip:{user}@{domain}>;tag={tag}"));
        req.headers.push("To", format!("<sip:{user}@{domain}>"));
        req.headers.push("Call-ID", call_id.clone());
        req.headers.push("CSeq", format!("{cseq} REGISTER"));
        req.headers
            .push("Contact", format!("<sip:{user}@{contact_addr}>"));
        req.headers
            .push("Expires", trunk.register_expires.to_string());
        let mut outcome = send_and_wait(&stack, req.clone(), peer).await;
        if let Some(resp) = &outcome
            && matches!(resp.status(), 401 | 407)
            && let Some(authed) = trunk.authorize(&req, resp)
        {
            cseq += 1;
            outcome = send_and_wait(&stack, authed, peer).await;
        }
        let state = match &outcome {
            Some(r) if (200..300).contains(&r.status()) => {
                let granted = granted_expires(r).unwrap_or(trunk.register_expires);
                Registration::Registered {
                    expires_secs: granted,
                }
            }
            Some(r) => Registration::Failed { status: r.status() },
            None => Registration::Failed { status: 408 },
        };
        tracing::info!(trunk = %trunk.name, ?state, "trunk registration");
        let wait = match state {
            Registration::Registered { expires_secs } => {
                backoff = Duration::from_secs(30);
                // Refresh well before the carrier forgets us.
                Duration::from_secs(u64::from(expires_secs.max(10)) * 8 / 10)
            }
            _ => {
                let w = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(300));
                w
            }
        };
        *trunk.registration.lock().expect("trunk lock") = state;
        tokio::time::sleep(wait).await;
    }
}

async fn send_and_wait(stack: &SipStack, req: Message, peer: Peer) -> Option<Message> {
    let (_, mut rx) = stack.send_request(req, peer);
    while let Some(ev) = rx.recv().await {
        match ev {
            ClientEvent::Response(r) if r.status() >= 200 => return Some(r),
            ClientEvent::Response(_) => continue,
            ClientEvent::Timeout => return None,
        }
    }
    None
}

/// The expiry the registrar granted: the Contact's `expires` or Expires.
fn granted_expires(r: &Message) -> Option<u32> {
    r.headers
        .values("Contact")
        .first()
        .and_then(|c| switchyard_sip::message::param(c, "expires"))
        .and_then(|e| e.parse().ok())
        .or_else(|| r.headers.get("Expires").and_then(|e| e.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_count_concurrency_and_rate() {
        let gate = Arc::new(CallGate::default());
        let t0 = Instant::now();
        let a = CallGate::admit(&gate, 2, 0, t0).unwrap();
        let _b = CallGate::admit(&gate, 2, 0, t0).unwrap();
        assert_eq!(
            CallGate::admit(&gate, 2, 0, t0).unwrap_err().what,
            "concurrent calls"
        );
        drop(a);
        let _c = CallGate::admit(&gate, 2, 0, t0).unwrap();
        let rate = Arc::new(CallGate::default());
        let _x = CallGate::admit(&rate, 0, 2, t0).unwrap();
        let _y = CallGate::admit(&rate, 0, 2, t0).unwrap();
        let over = CallGate::admit(&rate, 0, 2, t0 + Duration::from_millis(500)).unwrap_err();
        assert_eq!((over.what, over.retry_after_secs), ("calls per second", 1));
        assert!(CallGate::admit(&rate, 0, 2, t0 + Duration::from_secs(1)).is_ok());
    }

    fn trunk(caller_id: Option<&str>, passthrough: bool) -> Trunk {
        Trunk {
            name: "t".into(),
            host: "127.0.0.1:5080".into(),
            transport: Transport::Udp,
            username: Some("u".into()),
            password: Some("p".into()),
            register: false,
            register_expires: 300,
            from_domain: None,
            max_concurrent_calls: 0,
            max_calls_per_second: 0,
            caller_id: caller_id.map(str::to_string),
            allow_caller_id_passthrough: passthrough,
            inbound_addresses: vec!["10.0.0.1".into(), "127.0.0.1:5081".into()],
            srtp: Default::default(),
            gate: Arc::default(),
            registration: Mutex::new(Registration::Idle),
            stopped: Default::default(),
        }
    }

    #[test]
    fn caller_id_rules_and_source_matching() {
        let own = trunk(Some("+15550100"), false);
        assert_eq!(own.presented_number(Some("+1999"), "1001"), "+15550100");
        let pass = trunk(Some("+15550100"), true);
        assert_eq!(pass.presented_number(Some("+1999"), "1001"), "+1999");
        assert_eq!(pass.presented_number(None, "1001"), "+15550100");
        assert!(own.matches_source("10.0.0.1:9999".parse().unwrap()));
        assert!(own.matches_source("127.0.0.1:5081".parse().unwrap()));
        assert!(!own.matches_source("127.0.0.1:5082".parse().unwrap()));
        assert_eq!(own.domain(), "127.0.0.1");
    }
}
