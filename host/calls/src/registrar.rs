//! REGISTER (RFC 3261 §10): digest authentication, bindings kept in the
//! store (so they survive a restart), several contacts per extension,
//! Expires / Min-Expires (423), `Contact: *` with `Expires: 0`.

use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use switchyard_store::{Binding, RegistrationRepo};

use crate::auth::{Kind, authenticate};
use crate::call_log;
use crate::{Shared, tenant_of};
use switchyard_clock::unix_ms;

/// [`handle`], with a panic answered 500 and counted instead of leaving
/// the phone without an answer.
pub(crate) fn handle_guarded(shared: &Shared, key: TransactionKey, req: Message, peer: Peer) {
    let answer = response(&req, 500, "Server Internal Error", Some("syreg"));
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handle(shared, key.clone(), req, peer)
    }));
    if handled.is_err() {
        tracing::error!("REGISTER handling panicked: answered 500");
        shared.metrics.task_panicked("registrar");
        shared.stack.respond(&key, answer);
    }
}

pub(crate) fn handle(shared: &Shared, key: TransactionKey, req: Message, peer: Peer) {
    let reply = |status: u16, reason: &str| {
        shared
            .stack
            .respond(&key, response(&req, status, reason, Some("syreg")));
    };
    let Some(tenant) = tenant_of(&shared.tenants(), &req) else {
        return reply(404, "Unknown Domain");
    };
    if tenant.suspended {
        return reply(403, "Tenant Suspended");
    }
    let to = req
        .headers
        .get("To")
        .and_then(|v| NameAddr::parse(v).ok())
        .and_then(|a| SipUri::parse(&a.uri).ok());
    let Some(ext) = to.and_then(|u| u.user_decoded()) else {
        return reply(400, "To Without User");
    };
    if !tenant.extensions.contains_key(&ext) {
        // Challenge anyway so that a scan cannot tell which extensions
        // exist; the digest check then fails as for a wrong password.
    }
    if !authenticate(shared, &tenant, &key, &req, peer, &ext, Kind::Registrar) {
        return;
    }
    let default_expires = req
        .headers
        .get("Expires")
        .and_then(|e| e.trim().parse::<u32>().ok())
        .unwrap_or(3600);
    let contacts = req.headers.values("Contact");
    let now = unix_ms();
    let store = &shared.store;
    let fail = |e: switchyard_store::StoreError| {
        tracing::error!(error = %e, "registrar store");
        shared
            .stack
            .respond(&key, response(&req, 500, "Store Error", Some("syreg")));
    };

    // What was live before this REGISTER: which bindings it adds, renews
    // or removes (for the log).
    let before = match store.bindings(&tenant.id, &ext, now) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let was_live = |contact: &str| before.iter().any(|b| b.contact == contact);

    if contacts.iter().any(|c| c.trim() == "*") {
        // RFC 3261 §10.3 step 6: `*` only alone and with Expires: 0.
        if contacts.len() != 1 || default_expires != 0 {
            return reply(400, "Wildcard Contact Needs Expires 0");
        }
        if let Err(e) = store.remove_all_bindings(&tenant.id, &ext) {
            return fail(e);
        }
        for b in &before {
            call_log::unregistered(&tenant.id, &ext, &b.contact);
        }
    } else {
        let (call_id, cseq) = (
            req.call_id().to_string(),
            req.cseq().map(|c| c.0).unwrap_or(0),
        );
        for c in &contacts {
            let Ok(addr) = NameAddr::parse(c) else {
                return reply(400, "Bad Contact");
            };
            let expires = addr
                .param("expires")
                .and_then(|e| e.parse::<u32>().ok())
                .unwrap_or(default_expires);
            if expires == 0 {
                if let Err(e) = store.remove_binding(&tenant.id, &ext, &addr.uri) {
                    return fail(e);
                }
                if was_live(&addr.uri) {
                    call_log::unregistered(&tenant.id, &ext, &addr.uri);
                }
                continue;
            }
            if expires < shared.settings.min_expires {
                let mut r = response(&req, 423, "", Some("syreg"));
                r.headers
                    .push("Min-Expires", shared.settings.min_expires.to_string());
                return shared.stack.respond(&key, r);
            }
            let expires = expires.min(shared.settings.max_expires);
            let b = Binding {
                tenant: tenant.id.clone(),
                extension: ext.clone(),
                contact: addr.uri.clone(),
                q: addr.param("q").and_then(|q| q.parse().ok()),
                expires_at_ms: now + u64::from(expires) * 1000,
                call_id: call_id.clone(),
                cseq,
                source: peer.addr.to_string(),
                transport: peer.transport.via_name().to_string(),
                user_agent: req.headers.get("User-Agent").map(str::to_string),
            };
            if let Err(e) = store.put_binding(&b) {
                return fail(e);
            }
            if was_live(&b.contact) {
                call_log::refreshed(&b, expires);
            } else {
                call_log::registered(&b, expires);
            }
        }
    }
    let bindings = match store.bindings(&tenant.id, &ext, now) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    if peer.transport.reliable() {
        // Requests to the phone go over the connection it registered on
        // (`device_peer`; RFC 5626's flow, for TCP, TLS and WebSocket):
        // the transport must not close it as idle while a binding made
        // over it lives. An unregister gives it back to the idle limit.
        let source = peer.addr.to_string();
        let until = bindings
            .iter()
            .filter(|b| b.source == source)
            .map(|b| b.expires_at_ms)
            .max()
            .map(|at| {
                std::time::Instant::now() + std::time::Duration::from_millis(at.saturating_sub(now))
            });
        shared.stack.keep_open(peer, until);
    }
    let mut r = response(&req, 200, "", Some("syreg"));
    for b in &bindings {
        let left = b.expires_at_ms.saturating_sub(now) / 1000;
        r.headers
            .push("Contact", format!("<{}>;expires={left}", b.contact));
    }
    r.headers.push("Date", httpdate_now());
    shared
        .metrics
        .registrations
        .get_or_create(&crate::metrics::Metrics::tenant(&tenant.id))
        .inc();
    shared.stack.respond(&key, r);
}

/// RFC 1123 date for the Date header (phones set their clocks from it).
fn httpdate_now() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
