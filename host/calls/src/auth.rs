//! Digest authentication of requests from extensions: 401 for REGISTER,
//! 407 for INVITE (RFC 3261 §22), MD5 and SHA-256 offered (RFC 8760) in
//! the configured order,
//! nonces that expire into `stale=true`, and a per-address limiter: an
//! address that keeps failing is refused for a while, and the block is
//! logged.

use std::time::Instant;

use switchyard_sip::auth::{Verdict, challenge, params, verify};
use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;

use crate::{Shared, Tenant};

/// Which challenge: 401/WWW-Authenticate (registrar) or
/// 407/Proxy-Authenticate (calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Registrar,
    Proxy,
}

fn unix_now() -> u64 {
    switchyard_clock::unix_ms() / 1000
}

/// Check the request's credentials for extension `user`. Returns true when
/// authenticated; otherwise the request has been answered (challenge,
/// 403) and the caller must stop.
pub(crate) fn authenticate(
    shared: &Shared,
    tenant: &Tenant,
    key: &TransactionKey,
    req: &Message,
    peer: Peer,
    user: &str,
    kind: Kind,
) -> bool {
    let ip = peer.addr.ip();
    let now = Instant::now();
    if shared
        .limiter
        .lock()
        .expect("limiter lock")
        .is_blocked(ip, now)
    {
        shared.stack.respond(
            key,
            response(req, 403, "Too Many Failed Attempts", Some("syauth")),
        );
        return false;
    }
    let header = match kind {
        Kind::Registrar => "Authorization",
        Kind::Proxy => "Proxy-Authorization",
    };
    // Only a Digest answer for our realm counts; anything else (an unknown
    // scheme, another realm) gets a fresh challenge (RFC 4475 regaut01).
    // A header that cannot be read at all but names our realm is a 400.
    let mut unreadable = None;
    let ours = req
        .headers
        .get_all(header)
        .find(|v| match params::parse(v) {
            Ok(p) => p.is_digest() && p.get("realm") == Some(tenant.realm()),
            Err(e) => {
                if v.contains(tenant.realm()) {
                    unreadable = Some(e);
                }
                false
            }
        });
    let Some(authorization) = ours else {
        if let Some(e) = unreadable {
            shared.stack.respond(
                key,
                response(req, 400, &format!("{header}: {e}"), Some("syauth")),
            );
        } else {
            send_challenge(shared, tenant, key, req, &peer, kind, false);
        }
        return false;
    };
    let verdict = verify(
        req.method(),
        req.uri(),
        authorization,
        tenant.realm(),
        &shared.nonces,
        unix_now(),
        |u| tenant.extensions.get(u).map(|e| e.credentials.clone()),
    );
    match verdict {
        Verdict::Authenticated { username } if username == user => {
            shared
                .limiter
                .lock()
                .expect("limiter lock")
                .record_success(ip);
            true
        }
        Verdict::Authenticated { username } => {
            tracing::info!(tenant = %tenant.id, %username, claimed = %user, "credentials of another extension");
            shared
                .stack
                .respond(key, response(req, 403, "Forbidden", Some("syauth")));
            false
        }
        Verdict::Stale => {
            send_challenge(shared, tenant, key, req, &peer, kind, true);
            false
        }
        // The right password on a nonce already used with this count: a
        // captured header sent again, or a client's own retry. A fresh
        // challenge lets a real phone go on and gives a replay nothing.
        Verdict::Replayed => {
            tracing::info!(source = %peer.addr, tenant = %tenant.id, user, "digest nonce reused: challenged again");
            shared
                .metrics
                .auth_replays
                .get_or_create(&crate::metrics::Metrics::tenant(&tenant.id))
                .inc();
            send_challenge(shared, tenant, key, req, &peer, kind, true);
            false
        }
        Verdict::Malformed(why) => {
            shared
                .stack
                .respond(key, response(req, 400, &why, Some("syauth")));
            false
        }
        Verdict::Rejected(why) => {
            let blocked = shared
                .limiter
                .lock()
                .expect("limiter lock")
                .record_failure(ip, now);
            if let Some(until) = blocked {
                tracing::warn!(
                    source = %ip,
                    tenant = %tenant.id,
                    seconds = until.saturating_duration_since(now).as_secs(),
                    "too many failed authentications: address blocked"
                );
            }
            tracing::info!(source = %peer.addr, tenant = %tenant.id, user, why, "authentication failed");
            shared
                .stack
                .respond(key, response(req, 403, "Forbidden", Some("syauth")));
            false
        }
    }
}

fn send_challenge(
    shared: &Shared,
    tenant: &Tenant,
    key: &TransactionKey,
    req: &Message,
    peer: &Peer,
    kind: Kind,
    stale: bool,
) {
    let (status, header) = match kind {
        Kind::Registrar => (401, "WWW-Authenticate"),
        Kind::Proxy => (407, "Proxy-Authenticate"),
    };
    let nonce = shared.nonces.issue(unix_now());
    let mut r = response(req, status, "", Some("syauth"));
    // Clients that read one challenge read the first (SIPp, most phones)
    // — except the browsers' SIP stacks: JsSIP keeps the last of several,
    // and like SIP.js it knows only MD5. Over WebSocket the order is
    // turned round, so the one they read is the first-preferred one
    // (MD5 by default); clients that choose still see every algorithm.
    let mut algorithms = shared.settings.digest_algorithms.clone();
    if peer.transport.is_websocket() {
        algorithms.reverse();
    }
    for alg in algorithms {
        r.headers
            .push(header, challenge(tenant.realm(), &nonce, alg, stale));
    }
    shared.stack.respond(key, r);
}
