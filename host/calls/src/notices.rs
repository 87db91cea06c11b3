//! The e-mail the host sends about calls: voicemail left (the message
//! attached) and calls missed. Who gets it is the mailbox's extension's
//! `email` (a group's mailbox: every member with one); a missed call only
//! when the extension asked for it (`missed_call_email`). Nothing is sent
//! when the operator configured no relay ([`crate::mail`]).

use std::sync::Arc;
use std::time::Duration;

use switchyard_plugins::types::CallSnapshot;
use switchyard_store::{ExtensionRepo, RingGroupRepo, Store};

use crate::Shared;
use crate::mail::{Mail, MailError, clock_duration, local_time};
use crate::metrics::MailLabel;

/// The addresses voicemail for `mailbox` goes to: the extension's, or each
/// member's of the ring group of that name; each once.
pub(crate) fn voicemail_recipients(store: &Store, tenant: &str, mailbox: &str) -> Vec<String> {
    let email_of = |number: &str| {
        store
            .get_extension(tenant, number)
            .ok()
            .flatten()
            .and_then(|e| e.email)
    };
    let mut to: Vec<String> = match store.get_extension(tenant, mailbox).ok().flatten() {
        Some(e) => e.email.into_iter().collect(),
        None => store
            .get_ring_group(tenant, mailbox)
            .ok()
            .flatten()
            .map(|g| g.members.iter().filter_map(|m| email_of(m)).collect())
            .unwrap_or_default(),
    };
    to.sort();
    to.dedup();
    to
}

/// Who called, as a person reads it: `Ann Smith <+15550100>` or the number.
fn caller(call: &CallSnapshot) -> String {
    match &call.caller.display_name {
        Some(name) if !name.is_empty() => format!("{name} <{}>", call.caller.number),
        _ => call.caller.number.clone(),
    }
}

/// The tag a flow gives a call that came in while the business was closed
/// (`business-hours` does).
pub(crate) const AFTER_HOURS_TAG: &str = "after-hours";

/// A short e-mail about call `call`: `subject`, then `what` happened,
/// when (in the tenant's time zone) and the call's id.
fn call_mail(
    to: Vec<String>,
    subject: String,
    what: String,
    call: &CallSnapshot,
    at_ms: u64,
) -> Mail {
    Mail {
        to,
        subject,
        body: format!(
            "{what}.\n\nWhen: {when}\nCall: {call_id}\n",
            when = local_time(at_ms, &call.time_zone),
            call_id = call.call_id,
        ),
        attachment: None,
    }
}

/// The e-mail about a call that came in after hours, and how it ended
/// (`outcome`: "they left a voicemail", "the caller hung up first", …).
pub(crate) fn after_hours_mail(
    to: Vec<String>,
    call: &CallSnapshot,
    outcome: &str,
    at_ms: u64,
) -> Mail {
    let from = caller(call);
    call_mail(
        to,
        format!("After-hours call from {from}"),
        format!(
            "{from} called {} while you were closed: {outcome}",
            call.dialled
        ),
        call,
        at_ms,
    )
}

/// The e-mail to the tenant's missed-calls group about a call from
/// outside that nobody answered.
pub(crate) fn group_missed_call_mail(
    to: Vec<String>,
    call: &CallSnapshot,
    outcome: &str,
    at_ms: u64,
) -> Mail {
    let from = caller(call);
    call_mail(
        to,
        format!("Missed call from {from} to {}", call.dialled),
        format!(
            "{from} called {} and nobody answered ({outcome})",
            call.dialled
        ),
        call,
        at_ms,
    )
}

/// The e-mail about a voicemail left in `mailbox`.
pub(crate) fn voicemail_mail(
    to: Vec<String>,
    call: &CallSnapshot,
    mailbox: &str,
    duration: Duration,
    at_ms: u64,
    id: &str,
    wav: Vec<u8>,
) -> Mail {
    let from = caller(call);
    Mail {
        to,
        subject: format!(
            "Voicemail from {from} for {mailbox} ({})",
            clock_duration(duration)
        ),
        body: format!(
            "{from} left a message in mailbox {mailbox}.\n\n\
             When: {when}\n\
             Length: {length}\n\
             Dialled: {dialled}\n\
             Call: {call_id}\n\n\
             The message is attached ({id}.wav).\n",
            when = local_time(at_ms, &call.time_zone),
            length = clock_duration(duration),
            dialled = call.dialled,
            call_id = call.call_id,
        ),
        attachment: Some((format!("{id}.wav"), "audio/wav".into(), wav)),
    }
}

/// The e-mail about a call to `extension` that nobody answered.
pub(crate) fn missed_call_mail(
    to: String,
    call: &CallSnapshot,
    extension: &str,
    outcome: &str,
    at_ms: u64,
) -> Mail {
    let from = caller(call);
    Mail {
        to: vec![to],
        subject: format!("Missed call from {from}"),
        body: format!(
            "{from} called {extension} and nobody answered ({outcome}).\n\n\
             When: {when}\n\
             Dialled: {dialled}\n\
             Call: {call_id}\n",
            when = local_time(at_ms, &call.time_zone),
            dialled = call.dialled,
            call_id = call.call_id,
        ),
        attachment: None,
    }
}

/// Sends `mail` for `tenant` in the background, counted by outcome; the
/// call does not wait for the relay.
pub(crate) fn deliver(shared: &Arc<Shared>, tenant: &str, what: &'static str, mail: Mail) {
    if mail.to.is_empty() {
        return;
    }
    // Refusals are logged and counted by `submit`.
    let _ = submit(shared, tenant, what, mail);
}

/// Takes `mail` for `tenant` now — within the tenant's hourly share, a
/// message that can be built — and sends it in the background. Every
/// outcome is logged and counted in `switchyard_mails_total`, whoever
/// asked (the host's own notices, a reporter plugin), so one tenant's
/// e-mail shares one hourly limit and one counter.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    tenant: &str,
    what: &'static str,
    mail: Mail,
) -> Result<(), MailError> {
    let Some(mailer) = &shared.mailer else {
        return Err(MailError::Relay("this host has no e-mail relay".into()));
    };
    let message = match mailer.accept(tenant, mail) {
        Ok(m) => m,
        Err(e) => {
            count(shared, tenant, what, &Err(e.clone()));
            return Err(e);
        }
    };
    let (shared, tenant) = (shared.clone(), tenant.to_string());
    tokio::spawn(async move {
        let Some(mailer) = &shared.mailer else {
            return;
        };
        let result = mailer.transmit(message).await;
        count(&shared, &tenant, what, &result);
    });
    Ok(())
}

/// Logs and counts one outcome.
fn count(shared: &Shared, tenant: &str, what: &'static str, result: &Result<(), MailError>) {
    let outcome = match result {
        Ok(()) => "sent",
        Err(MailError::RateLimited) => "rate-limited",
        Err(MailError::Invalid(_)) => "invalid",
        Err(MailError::Relay(_)) => "failed",
    };
    match result {
        Ok(()) => tracing::info!(%tenant, what, "e-mail sent"),
        Err(e) => tracing::warn!(%tenant, what, error = %e, "e-mail not sent"),
    }
    shared
        .metrics
        .mails
        .get_or_create(&MailLabel {
            tenant: tenant.to_string(),
            outcome: outcome.into(),
        })
        .inc();
}
