//! Where a dial target rings: every registered device of an extension (or
//! of a ring group's members), a SIP URI, or a number through the
//! tenant's trunk — each as the complete INVITE the session sends.

use std::sync::Arc;

use switchyard_plugins::flow_types::DialTarget;
use switchyard_plugins::types::CallSnapshot;
use switchyard_sip::endpoint::{Peer, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_store::RegistrationRepo;

use crate::session::Device;
use crate::trunk::{GateTicket, Trunk};
use crate::{ALLOW, Shared, Tenant};
use switchyard_clock::unix_ms;

/// What resolving a dial group found.
#[derive(Default)]
pub(crate) struct Found {
    pub devices: Vec<Device>,
    /// The trunk behind each device that goes out through one (by the
    /// leg's Call-ID): its credentials answer the carrier's challenge.
    pub trunks: Vec<(String, Arc<Trunk>)>,
    /// Places taken under the trunks' caps, for the rest of the call.
    pub tickets: Vec<GateTicket>,
}

/// What the INVITEs to the devices carry besides their target.
pub(crate) struct Calling {
    pub snapshot: CallSnapshot,
    /// The number the dial asks to present.
    pub caller_id: Option<String>,
    /// One less than the caller's.
    pub max_forwards: u32,
    pub contacts: super::Contacts,
    /// A queue offers the call to an agent: what their phone shows.
    pub offer: Option<QueueOffer>,
}

/// What an agent's phone is told of a queue call before answering: the
/// queue, the wait, the tags (`VIP`), in the display name (every phone
/// shows it) and in headers (for phones and panels that read them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueueOffer {
    /// The host's id of the call (its record's id), so a panel can save
    /// the agent's wrap-up on the right record.
    pub call_id: String,
    pub queue: String,
    pub waited_secs: u64,
    pub tags: Vec<String>,
    /// The caller as the tenant's CRM knows them: the screen pop. Its
    /// `url` is the caller's page in the CRM (`Call-Info`, RFC 3261
    /// §20.9: phones that show a link show this one).
    pub contact: Option<switchyard_plugins::types::Contact>,
}

/// Largest `X-Switchyard-Contact` value: a contact with more is sent
/// without its extra fields (name, company, link and tags stay), so one
/// chatty CRM record cannot push the INVITE past a UDP datagram.
const MAX_CONTACT_HEADER: usize = 1200;

/// The contact as the `X-Switchyard-Contact` header's JSON (one line:
/// JSON escapes every control character).
fn contact_header(c: &switchyard_plugins::types::Contact) -> Option<String> {
    let json = serde_json::to_string(c).ok()?;
    if json.len() <= MAX_CONTACT_HEADER {
        return Some(json);
    }
    let mut short = c.clone();
    short.fields.clear();
    serde_json::to_string(&short)
        .ok()
        .filter(|j| j.len() <= MAX_CONTACT_HEADER)
}

pub(crate) fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Where requests to a registered device go: the Contact's own address
/// when it names the host the REGISTER came from (two sockets of one
/// machine are fine), the REGISTER's source otherwise — a phone behind NAT
/// puts a private address in its Contact that cannot be reached (what
/// `rport` fixes for Via); over TCP that source is the phone's own
/// connection, which the transport reuses; over TLS and WebSocket always
/// that connection.
pub(crate) fn device_peer(b: &switchyard_store::Binding) -> Option<Peer> {
    let source: std::net::SocketAddr = b.source.parse().ok()?;
    let transport = Transport::from_name(&b.transport).unwrap_or(Transport::Udp);
    if transport.reliable() && transport != Transport::Tcp {
        // TLS and WebSocket devices are reached only down the connection
        // they registered on (a browser's Contact names `*.invalid`).
        return Some(Peer {
            transport,
            addr: source,
        });
    }
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

/// One place to ring before its INVITE is written.
struct Place {
    label: String,
    uri: String,
    peer: Peer,
    trunk: Option<Arc<Trunk>>,
}

/// The registered devices of extension `ext`.
fn extension(shared: &Shared, tenant: &Tenant, ext: &str) -> Vec<Place> {
    shared
        .store
        .bindings(&tenant.id, ext, unix_ms())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| {
            Some(Place {
                label: ext.to_string(),
                peer: device_peer(&b)?,
                uri: b.contact,
                trunk: None,
            })
        })
        .collect()
}

/// Whether extension `ext`'s own caller rules let this call from outside
/// ring it (calls between the tenant's own phones are never screened; a
/// store that cannot say lets the call ring).
fn admits(shared: &Shared, tenant: &Tenant, ext: &str, calling: &Calling) -> bool {
    use switchyard_plugins::types::Direction;
    use switchyard_store::CallerRuleRepo;
    if calling.snapshot.direction != Direction::Inbound {
        return true;
    }
    let rules = shared
        .store
        .extension_rules(&tenant.id, ext)
        .unwrap_or_default();
    let caller = &calling.snapshot.caller.number;
    let admitted = switchyard_store::extension_admits(&rules, caller);
    if !admitted {
        tracing::info!(tenant = %tenant.id, extension = %ext, %caller,
            "the extension's own caller rules screen the caller out: not rung");
        shared
            .metrics
            .caller_rule_calls
            .get_or_create(&crate::metrics::ActionLabel {
                tenant: tenant.id.clone(),
                action: "extension-screened".into(),
            })
            .inc();
    }
    admitted
}

/// Find the devices of `targets`. A number takes a place under its
/// trunk's caps (none left: nothing to ring).
pub(crate) async fn resolve(
    shared: &Shared,
    tenant: &Tenant,
    targets: &[DialTarget],
    calling: &Calling,
) -> Found {
    let mut places = Vec::new();
    let mut tickets = Vec::new();
    for target in targets {
        match target {
            DialTarget::Extension(e) if admits(shared, tenant, e, calling) => {
                places.extend(extension(shared, tenant, e))
            }
            DialTarget::Extension(_) => {}
            DialTarget::RingGroup(g) => {
                for m in tenant.ring_groups.get(g).into_iter().flatten() {
                    if admits(shared, tenant, m, calling) {
                        places.extend(extension(shared, tenant, m));
                    }
                }
            }
            DialTarget::SipUri(u) => {
                if let Some(addr) = SipUri::parse(u)
                    .ok()
                    .and_then(|p| p.host_port().parse().ok())
                {
                    places.push(Place {
                        label: u.clone(),
                        uri: u.clone(),
                        peer: Peer {
                            transport: Transport::Udp,
                            addr,
                        },
                        trunk: None,
                    });
                }
            }
            DialTarget::Number(n) => {
                let Some(trunk) = tenant.trunks.first().cloned() else {
                    tracing::info!(tenant = %tenant.id, number = %n, "no trunk for an outside number");
                    continue;
                };
                // A forward, transfer or three-way call out spends the
                // balance like a call dialled out.
                if crate::rating::account(&shared.store, &tenant.id).exhausted() {
                    tracing::info!(tenant = %tenant.id, number = %n, "prepaid balance exhausted: not dialled");
                    shared
                        .metrics
                        .calls_refused_unpaid
                        .get_or_create(&crate::metrics::Metrics::tenant(&tenant.id))
                        .inc();
                    continue;
                }
                match trunk.admit_call() {
                    Ok(t) => tickets.push(t),
                    Err(over) => {
                        tracing::info!(tenant = %tenant.id, trunk = %trunk.name, cap = over.what, "outbound call over the trunk's cap");
                        continue;
                    }
                }
                let Some(peer) = trunk.peer().await else {
                    continue;
                };
                places.push(Place {
                    label: n.clone(),
                    uri: format!("sip:{n}@{}", trunk.host),
                    peer,
                    trunk: Some(trunk),
                });
            }
        }
    }
    let mut found = Found {
        tickets,
        ..Found::default()
    };
    for p in places {
        let device = invite(tenant, &p, calling);
        if let Some(t) = p.trunk {
            found.trunks.push((device.invite.call_id().to_string(), t));
        }
        found.devices.push(device);
    }
    found
}

/// The INVITE (without a body) that rings `p`.
fn invite(tenant: &Tenant, p: &Place, calling: &Calling) -> Device {
    let snapshot = &calling.snapshot;
    // Carriers see the trunk's caller-ID rule and their own domain.
    let (from_number, domain) = match &p.trunk {
        Some(t) => (
            t.presented_number(calling.caller_id.as_deref(), &snapshot.caller.number)
                .to_string(),
            t.domain().to_string(),
        ),
        None => (
            calling
                .caller_id
                .clone()
                .unwrap_or_else(|| snapshot.caller.number.clone()),
            tenant.realm().to_string(),
        ),
    };
    let name = match &calling.offer {
        // "VIP support: Alice" — the screen pop every phone can show.
        Some(o) => {
            let mut parts: Vec<&str> = o.tags.iter().map(String::as_str).collect();
            parts.push(&o.queue);
            let who = snapshot
                .caller
                .display_name
                .as_deref()
                .unwrap_or(&snapshot.caller.number);
            Some(format!("{}: {who}", parts.join(" ")))
        }
        None => snapshot.caller.display_name.clone(),
    };
    let display = name
        .map(|d| format!("\"{}\" ", d.replace(['"', '\\'], "")))
        .unwrap_or_default();
    let contact = calling.contacts.on(p.peer.transport);
    let mut inv = Message::request("INVITE", &p.uri);
    inv.headers.push(
        "From",
        format!(
            "{display}<sip:{from_number}@{domain}>;tag={}",
            random_token()
        ),
    );
    let to = if p.label.starts_with("sip:") {
        format!("<{}>", p.label)
    } else {
        format!("<sip:{}@{domain}>", p.label)
    };
    inv.headers.push("To", to);
    inv.headers
        .push("Call-ID", format!("{}@switchyard", random_token()));
    inv.headers.push("CSeq", "1 INVITE");
    inv.headers
        .push("Max-Forwards", calling.max_forwards.to_string());
    inv.headers.push("Contact", contact.clone());
    inv.headers.push("Allow", ALLOW);
    if let Some(o) = &calling.offer {
        inv.headers.push("X-Switchyard-Call-Id", o.call_id.clone());
        inv.headers.push("X-Switchyard-Queue", o.queue.clone());
        inv.headers
            .push("X-Switchyard-Wait", o.waited_secs.to_string());
        if !o.tags.is_empty() {
            inv.headers.push("X-Switchyard-Tags", o.tags.join(","));
        }
        if let Some(url) = o
            .contact
            .as_ref()
            .and_then(|c| c.url.as_deref())
            .filter(|u| !u.contains(['<', '>', '\r', '\n']))
        {
            inv.headers
                .push("Call-Info", format!("<{url}>;purpose=info"));
        }
        if let Some(json) = o.contact.as_ref().and_then(contact_header) {
            inv.headers.push("X-Switchyard-Contact", json);
        }
    }
    let srtp = match &p.trunk {
        Some(t) => t.srtp,
        None => tenant
            .extensions
            .get(&p.label)
            .map(|e| e.srtp)
            .unwrap_or_default(),
    };
    Device {
        label: p.label.clone(),
        invite: inv,
        peer: p.peer,
        contact,
        srtp,
    }
}
