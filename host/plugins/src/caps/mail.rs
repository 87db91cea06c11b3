//! `mail`: e-mail from reporter plugins through the operator's relay.
//!
//! The plugins crate has no SMTP client and must not depend on the call
//! engine (which depends on it), so the relay is a [`MailRelay`] the
//! server supplies in [`crate::HostConfig::mail`]; the server's relay is
//! the same one, with the same per-tenant hourly window and counter, that
//! sends the host's voicemail and missed-call e-mail.
//!
//! This capability checks what a relay should never have to: at most
//! [`MAX_MESSAGES`] messages per invocation, [`MAX_RECIPIENTS`] recipients
//! per message, a subject of [`MAX_SUBJECT_BYTES`] on one line, a body of
//! [`MAX_BODY_BYTES`], and every recipient a bare address. The tenant is
//! the runtime's, never the plugin's word, so a plugin cannot spend
//! another tenant's share. Time spent in the relay counts against the
//! invocation's wall clock like any host call, and the message's bytes
//! against its host-call fuel (both set by the invoker on the store).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::mail::{self, Host, MailError, MailMessage};

/// Messages one invocation may send.
pub const MAX_MESSAGES: u32 = 5;
/// Recipients one message may have.
pub const MAX_RECIPIENTS: usize = 10;
/// Longest subject, bytes.
pub const MAX_SUBJECT_BYTES: usize = 200;
/// Longest body, bytes.
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// Longest address, bytes (RFC 5321's path limit).
const MAX_ADDRESS_BYTES: usize = 254;

/// What a relay's `send` returns.
pub type MailFuture = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send>>;

/// The operator's relay, as the `mail` capability reaches it.
///
/// Boxed future rather than `async fn`: the trait is used as `dyn` (the
/// server's relay wraps the call engine, which this crate cannot name).
pub trait MailRelay: Send + Sync {
    /// Sends (or accepts for sending) `message` on behalf of `tenant`,
    /// within the tenant's hourly limit (`MailError::RateLimited` past
    /// it). The message has passed this capability's checks.
    fn send(&self, tenant: &str, message: MailMessage) -> MailFuture;
}

impl fmt::Debug for dyn MailRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailRelay")
    }
}

/// What one invocation's `mail` import reaches: the relay (none when the
/// operator configured none), the tenant, and how many messages it sent.
pub(crate) struct MailState {
    relay: Option<Arc<dyn MailRelay>>,
    tenant: Arc<str>,
    sent: u32,
}

impl MailState {
    pub(crate) fn new(relay: Option<Arc<dyn MailRelay>>, tenant: Arc<str>) -> Self {
        Self {
            relay,
            tenant,
            sent: 0,
        }
    }

    /// A fresh per-invocation allowance (for a kept instance's next
    /// invocation).
    pub(crate) fn renew(&mut self) {
        self.sent = 0;
    }
}

/// Whether `address` is one bare e-mail address (`local@domain`), with
/// the reason when not. Deliberately narrow: no display names, comments or
/// quoted local parts, so nothing a plugin passes can become a header of
/// its own (no line breaks, commas or angle brackets get through).
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{address}` is not an e-mail address: {why}"));
    if address.len() > MAX_ADDRESS_BYTES {
        return bad("longer than 254 bytes");
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return bad("no @");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("the part before @ must be 1 to 64 characters");
    }
    let local_ok = local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c))
    });
    if !local_ok {
        return bad("the part before @ has a character an address may not have");
    }
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !domain_ok {
        return bad("the domain is not a host name");
    }
    Ok(())
}

/// What is wrong with `m`, if anything, by the rules of the WIT interface.
pub fn check_message(m: &MailMessage) -> Result<(), String> {
    if m.to.is_empty() {
        return Err("a message needs at least one recipient".into());
    }
    if m.to.len() > MAX_RECIPIENTS {
        return Err(format!(
            "{} recipients; a message may have at most {MAX_RECIPIENTS}",
            m.to.len()
        ));
    }
    for to in &m.to {
        check_address(to)?;
    }
    if m.subject.len() > MAX_SUBJECT_BYTES {
        return Err(format!(
            "the subject is {} bytes; at most {MAX_SUBJECT_BYTES}",
            m.subject.len()
        ));
    }
    if m.subject.chars().any(char::is_control) {
        return Err("the subject must be one line, without control characters".into());
    }
    if m.body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body is {} bytes; at most {MAX_BODY_BYTES}",
            m.body.len()
        ));
    }
    Ok(())
}

impl Host for Granted<'_, MailState> {
    async fn send(&mut self, message: MailMessage) -> wasmtime::Result<Result<(), MailError>> {
        let state = self.state("mail")?;
        let Some(relay) = state.relay.clone() else {
            return Ok(Err(MailError::NotConfigured));
        };
        // Checked before the count: a refused message costs nothing.
        if let Err(why) = check_message(&message) {
            return Ok(Err(MailError::Invalid(why)));
        }
        if state.sent >= MAX_MESSAGES {
            return Ok(Err(MailError::RateLimited));
        }
        state.sent += 1;
        let fut = relay.send(&state.tenant, message);
        Ok(fut.await)
    }
}

/// Links `mail` to the state `get` finds in the store data. 0.2.x only:
/// 0.1.0 had no `mail`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, MailState>,
) -> wasmtime::Result<()> {
    mail::add_to_linker::<T, HasCap<MailState>>(l, get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &[&str]) -> MailMessage {
        MailMessage {
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: "Missed call".into(),
            body: "From +15550100".into(),
        }
    }

    #[test]
    fn addresses_are_bare_and_cannot_smuggle_headers() {
        for ok in ["ops@example.com", "a.b+c@mail.example.co.uk", "x@localhost"] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "Ops <ops@example.com>",
            "ops@example.com, evil@example.com",
            "ops@example.com\r\nBcc: evil@example.com",
            "o..ps@example.com",
            "ops@-example.com",
            "ops@exa_mple.com",
        ] {
            let e = check_address(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn messages_are_checked_by_the_interface_rules() {
        assert_eq!(check_message(&message(&["ops@example.com"])), Ok(()));
        assert!(check_message(&message(&[])).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("a{i}@example.com")).collect();
        let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(
            check_message(&message(&refs)),
            Err("11 recipients; a message may have at most 10".into())
        );
        let mut m = message(&["ops@example.com"]);
        m.subject = "x".repeat(201);
        assert!(
            check_message(&m)
                .unwrap_err()
                .contains("subject is 201 bytes")
        );
        m.subject = "two\nlines".into();
        assert!(check_message(&m).unwrap_err().contains("one line"));
        m.subject = "ok".into();
        m.body = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(
            check_message(&m)
                .unwrap_err()
                .contains("body is 65537 bytes")
        );
    }
}
