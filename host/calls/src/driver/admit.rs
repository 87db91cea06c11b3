//! Whether a new INVITE becomes a call: whose it is (an extension's, which
//! must authenticate, or a carrier's on a trunk), the tenant's state and
//! caps, Max-Forwards, and an SDP offer the host can answer. Everything
//! refused here is answered at once and leaves no record: no flow ran.

use std::sync::Arc;

use switchyard_media::{LegId, MediaEvent};
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use tokio::sync::mpsc;

use crate::SrtpPolicy;
use crate::anchor::Anchor;
use crate::auth::{Kind, authenticate};
use crate::resolve::{RequestFacts, Resolution, resolve};
use crate::trunk::{GateTicket, OverCap};
use crate::{Shared, Tenant};

/// A call the host takes on.
pub(crate) struct Admitted {
    pub tenant: Arc<Tenant>,
    pub snapshot: CallSnapshot,
    /// Places under the tenant's (and an inbound trunk's) caps.
    pub tickets: Vec<GateTicket>,
    /// The call's media, when the host anchors it.
    pub anchor: Option<Anchor>,
}

fn user_of(v: Option<&str>) -> String {
    v.and_then(|v| NameAddr::parse(v).ok())
        .and_then(|a| SipUri::parse(&a.uri).ok())
        .and_then(|u| u.user_decoded())
        .unwrap_or_default()
}

/// Admit `invite`, or answer it (401/407, 403, 404, 483, 503, 400/488)
/// and return `None`. `caller` names the caller's leg in the media.
pub(crate) fn admit(
    shared: &Shared,
    key: &TransactionKey,
    invite: &Message,
    peer: Peer,
    caller: LegId,
    start_ms: u64,
    events: mpsc::UnboundedSender<MediaEvent>,
) -> Option<Admitted> {
    let tag = super::devices::random_token();
    let refuse = |status: u16, reason: &str| {
        shared
            .stack
            .respond(key, response(invite, status, reason, Some(&tag)));
    };
    let mut caller_number = user_of(invite.headers.get("From"));
    let mut tickets = Vec::new();
    let facts = RequestFacts::of(invite, peer.addr);
    let web_ticket = invite
        .headers
        .get(crate::web_calls::TICKET_HEADER)
        .filter(|_| peer.transport.is_websocket());
    let mut web_tags = Vec::new();
    let resolution = match web_ticket {
        // A visitor of the tenant's web site ("call us"): the ticket
        // stands in for credentials, for the one number it names.
        Some(ticket) => {
            let dialled = SipUri::parse(invite.uri())
                .ok()
                .and_then(|u| u.user_decoded())
                .unwrap_or_default();
            let redeemed = shared.web_calls.lock().expect("web calls lock").redeem(
                ticket,
                &dialled,
                std::time::Instant::now(),
            );
            let call = match redeemed {
                Ok(call) => call,
                Err(why) => {
                    tracing::info!(source = %peer.addr, ?why, "web call refused: ticket not valid");
                    refuse(403, "Web Call Ticket Not Valid");
                    return None;
                }
            };
            let Some(tenant) = shared.tenants().by_id(&call.tenant) else {
                refuse(404, "Unknown Number");
                return None;
            };
            tracing::info!(tenant = %call.tenant, widget = %call.widget, number = %call.number, source = %peer.addr, "web call");
            caller_number = "web".into();
            web_tags = vec!["web".to_string(), format!("widget:{}", call.widget)];
            Resolution::WebVisitor(tenant)
        }
        None => resolve(&shared.tenants(), &facts),
    };
    // The caller's SRTP policy: its trunk's or its extension's (a web
    // visitor is a browser: WebRTC, never SDES).
    let mut srtp = SrtpPolicy::Off;
    let (tenant, direction) = match resolution {
        Resolution::WebVisitor(tenant) => (tenant, Direction::Inbound),
        // Carrier traffic for one of the tenant's DIDs: trusted by
        // address.
        Resolution::Trunk(tenant, trunk) => {
            match trunk.admit_call() {
                Ok(t) => tickets.push(t),
                Err(over) => return over_cap(shared, key, invite, &tenant.id, &trunk.name, over),
            }
            srtp = trunk.srtp;
            (tenant, Direction::Inbound)
        }
        Resolution::Extension(tenant) => {
            if !authenticate(
                shared,
                &tenant,
                key,
                invite,
                peer,
                &caller_number,
                Kind::Proxy,
            ) {
                return None;
            }
            if let Some(e) = tenant.extensions.get(&caller_number) {
                srtp = e.srtp;
            }
            (tenant, Direction::Internal)
        }
        Resolution::UnknownNumber => {
            refuse(404, "Unknown Number");
            return None;
        }
        Resolution::UnknownDomain => {
            refuse(404, "Unknown Domain");
            return None;
        }
    };
    if tenant.suspended {
        refuse(403, "Tenant Suspended");
        return None;
    }
    if unpaid(shared, &tenant, direction, invite) {
        shared
            .metrics
            .calls_refused_unpaid
            .get_or_create(&crate::metrics::Metrics::tenant(&tenant.id))
            .inc();
        refuse(402, "Payment Required");
        return None;
    }
    let max_forwards = invite
        .headers
        .get("Max-Forwards")
        .and_then(|m| m.trim().parse::<u32>().ok());
    if max_forwards == Some(0) {
        refuse(483, "");
        return None;
    }
    match tenant.admit_call() {
        Ok(t) => tickets.push(t),
        Err(over) => return over_cap(shared, key, invite, &tenant.id, "tenant", over),
    }
    let anchor = match (&shared.ports, &shared.settings.media) {
        (Some(pool), Some(settings)) if !invite.body.is_empty() => {
            match Anchor::for_caller(pool, settings, caller, &invite.body, srtp, events) {
                Ok(a) => Some(a),
                Err((code, reason)) if crate::anchor::is_srtp_refusal(code, &reason) => {
                    let mut r = response(invite, code, &reason, Some(&tag));
                    r.headers
                        .push("Warning", crate::anchor::SRTP_REQUIRED_WARNING);
                    shared.stack.respond(key, r);
                    return None;
                }
                Err((code, reason)) => {
                    refuse(code, &reason);
                    return None;
                }
            }
        }
        _ => None,
    };
    let caller_name = invite
        .headers
        .get("From")
        .and_then(|v| NameAddr::parse(v).ok())
        .and_then(|a| a.display)
        .or_else(|| (!web_tags.is_empty()).then(|| "Web visitor".to_string()));
    let dialled = SipUri::parse(invite.uri())
        .ok()
        .and_then(|u| u.user_decoded())
        .unwrap_or_default();
    let snapshot = CallSnapshot {
        call_id: invite.call_id().to_string(),
        tenant: tenant.id.clone(),
        direction,
        caller: Party {
            display_name: caller_name.or_else(|| tenant.display_name(&caller_number)),
            number: caller_number,
        },
        callee: Party {
            number: dialled.clone(),
            display_name: tenant.display_name(&dialled),
        },
        flow: tenant.flow_for(&dialled).to_string(),
        dialled,
        tags: web_tags,
        start_time: start_ms,
        answer_time: None,
        time_zone: tenant.time_zone.clone(),
        plugin_version: 0,
    };
    Some(Admitted {
        tenant,
        snapshot,
        tickets,
        anchor,
    })
}

/// A prepaid tenant out of balance: its extensions may not call out, and
/// calls from outside are refused unless its plan keeps them. (The
/// account is read only for such calls.)
fn unpaid(shared: &Shared, tenant: &Tenant, direction: Direction, invite: &Message) -> bool {
    let asks_trunk = match direction {
        Direction::Inbound => !tenant.billing.inbound_without_balance,
        Direction::Internal => {
            let dialled = SipUri::parse(invite.uri())
                .ok()
                .and_then(|u| u.user_decoded())
                .unwrap_or_default();
            crate::rating::dials_out(tenant, &dialled)
        }
        Direction::Outbound => false,
    };
    asks_trunk && crate::rating::account(&shared.store, &tenant.id).exhausted()
}

/// 503 with Retry-After: a cap of the tenant or its trunk is reached.
fn over_cap(
    shared: &Shared,
    key: &TransactionKey,
    invite: &Message,
    tenant: &str,
    what: &str,
    over: OverCap,
) -> Option<Admitted> {
    tracing::info!(%tenant, limit = what, cap = over.what, "call refused: over the cap");
    let tag = super::devices::random_token();
    let mut r = response(invite, 503, "Service Unavailable", Some(&tag));
    r.headers
        .push("Retry-After", over.retry_after_secs.to_string());
    shared.stack.respond(key, r);
    None
}
