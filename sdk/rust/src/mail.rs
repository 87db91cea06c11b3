//! E-mail through the operator's SMTP relay, for `reporter` plugins (the
//! host refuses `mail` in other worlds).
//!
//! The host checks every message: 1 to 10 recipients, each a bare address
//! (`ops@example.com`); a subject of at most 200 bytes on one line; a body
//! of at most 64 KiB of plain text; at most 5 messages per invocation. The
//! tenant's e-mail, the host's voicemail and missed-call e-mail included,
//! is limited per hour by the operator. `Ok` means the host accepted the
//! message: it is delivered in the background.
//!
//! ```no_run
//! use switchyard_sdk::mail;
//! # fn f() -> Result<(), mail::Error> {
//! mail::send(&["ops@example.com"], "Missed call from +15550100", "Nobody answered.")?;
//! # Ok(()) }
//! ```

use crate::bindings::switchyard::plugin::mail as host;
/// Why a message was not sent (`not-configured`, `rate-limited`,
/// `invalid(why)`, `failed(why)`).
pub use host::MailError as Error;
/// One plain-text message.
pub use host::MailMessage as Message;

/// Sends one plain-text message to `to`.
pub fn send<S: AsRef<str>>(to: &[S], subject: &str, body: &str) -> Result<(), Error> {
    host::send(&Message {
        to: to.iter().map(|s| s.as_ref().to_string()).collect(),
        subject: subject.to_string(),
        body: body.to_string(),
    })
}

/// Sends `message` as it is.
pub fn send_message(message: &Message) -> Result<(), Error> {
    host::send(message)
}
