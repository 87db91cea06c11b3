//! E-mail through the operator's SMTP relay: voicemail to e-mail (the
//! message attached) and missed-call alerts, to the addresses tenants give
//! their extensions.
//!
//! The relay is one URL: `smtp://host:587` (STARTTLS required),
//! `smtps://host:465` (TLS from the start), credentials as
//! `smtp://user:password@host`, and `smtp://host:25?tls=none` for a relay
//! on a trusted network (a test's) — clear text only when asked for. Each tenant may send at most
//! [`MailSettings::per_tenant_per_hour`] messages an hour: one tenant's
//! busy day (or a caller who leaves a hundred voicemails) cannot make the
//! operator's relay throttle everybody. What was sent, refused by that
//! limit or failed is counted per tenant (`switchyard_mails_total`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the host sends e-mail.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The relay, e.g. `smtp://user:password@mail.example.com:587`.
    pub url: String,
    /// The sender of every message, e.g. `Switchyard <pbx@example.com>`.
    pub from: String,
    /// Messages one tenant may send an hour; more are dropped (and
    /// counted) until the hour is over.
    pub per_tenant_per_hour: u32,
}

impl MailSettings {
    pub const DEFAULT_PER_TENANT_PER_HOUR: u32 = 600;

    /// What is wrong with these settings, if anything (the URL's form and
    /// the sender; the relay itself is first reached by the first message).
    pub fn check(&self) -> Result<(), String> {
        Mailer::new(self).map(drop)
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// (file name, content type, bytes).
    pub attachment: Option<(String, String, Vec<u8>)>,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// The tenant sent its hour's share.
    RateLimited,
    /// An address or the message itself is not valid.
    Invalid(String),
    /// The relay refused it or could not be reached.
    Relay(String),
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailError::RateLimited => write!(f, "the tenant's hourly e-mail limit is reached"),
            MailError::Invalid(e) => write!(f, "invalid message: {e}"),
            MailError::Relay(e) => write!(f, "the SMTP relay failed: {e}"),
        }
    }
}

/// Whether `address` is one e-mail address a message can go to (`name
/// <a@b>` or `a@b`), with the reason when not.
pub fn check_address(address: &str) -> Result<(), String> {
    address
        .parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("`{address}` is not an e-mail address: {e}"))
}

/// Messages per tenant in fixed windows of an hour. Sans-IO: the caller
/// says what time it is.
#[derive(Debug)]
pub(crate) struct SendWindows {
    per_window: u32,
    window: Duration,
    tenants: HashMap<String, (Instant, u32)>,
}

impl SendWindows {
    pub(crate) fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            tenants: HashMap::new(),
        }
    }

    /// Counts one message of `tenant` at `now`, if its window has room.
    pub(crate) fn admit(&mut self, tenant: &str, now: Instant) -> bool {
        let w = self.tenants.entry(tenant.to_string()).or_insert((now, 0));
        if now.duration_since(w.0) >= self.window {
            *w = (now, 0);
        }
        if w.1 >= self.per_window {
            return false;
        }
        w.1 += 1;
        true
    }
}

/// The host's SMTP client.
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    windows: Mutex<SendWindows>,
}

impl Mailer {
    /// A client for `settings`; an error says what is wrong with them.
    pub(crate) fn new(settings: &MailSettings) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(&settings.url))
            .map_err(|e| format!("SMTP relay URL `{}`: {e}", redact(&settings.url)))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("sender `{}`: {e}", settings.from))?;
        Ok(Mailer {
            transport,
            from,
            windows: Mutex::new(SendWindows::new(
                settings.per_tenant_per_hour,
                Duration::from_secs(3600),
            )),
        })
    }

    /// Takes `mail` for `tenant`, if its hour has room and the message can
    /// be built: what is left is [`Mailer::transmit`]. Split so that the
    /// one who asks (a call, a reporter plugin) learns at once whether it
    /// was taken, while the relay is waited for in the background.
    pub(crate) fn accept(&self, tenant: &str, mail: Mail) -> Result<Message, MailError> {
        if !self
            .windows
            .lock()
            .expect("mail windows")
            .admit(tenant, Instant::now())
        {
            return Err(MailError::RateLimited);
        }
        self.build(mail)
    }

    /// Hands an accepted message to the relay.
    pub(crate) async fn transmit(&self, message: Message) -> Result<(), MailError> {
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Relay(e.to_string()))
    }

    fn build(&self, mail: Mail) -> Result<Message, MailError> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject);
        for to in &mail.to {
            let to = to
                .parse::<Mailbox>()
                .map_err(|e| MailError::Invalid(format!("`{to}`: {e}")))?;
            b = b.to(to);
        }
        let text = SinglePart::plain(mail.body);
        let built = match mail.attachment {
            None => b.singlepart(text),
            Some((name, content_type, bytes)) => {
                let ct = ContentType::parse(&content_type)
                    .map_err(|e| MailError::Invalid(format!("{content_type}: {e}")))?;
                b.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(name).body(bytes, ct)),
                )
            }
        };
        built.map_err(|e| MailError::Invalid(e.to_string()))
    }
}

/// Our URL rules in lettre's terms. Plain `smtp://host` means STARTTLS
/// required here (lettre would send in the clear), `?tls=none` sends in
/// the clear on purpose; `?tls=opportunistic` and `smtps://` mean what
/// they mean to lettre.
fn lettre_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = params.iter().find_map(|p| p.strip_prefix("tls="));
    match tls {
        Some("none") => params.retain(|p| !p.starts_with("tls=")),
        None if base.starts_with("smtp://") => params.push("tls=required"),
        _ => {}
    }
    if params.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// "0:23", "12:05", "1:02:03".
pub(crate) fn clock_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `at_ms` as a local date and time in `time_zone` (UTC when unknown).
pub(crate) fn local_time(at_ms: u64, time_zone: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(at_ms as i64) else {
        return at_ms.to_string();
    };
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(tz)
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_sends_its_hourly_share_then_waits_for_the_next_hour() {
        let t0 = Instant::now();
        let mut w = SendWindows::new(3, Duration::from_secs(3600));
        assert!((0..3).all(|_| w.admit("acme", t0)));
        assert!(!w.admit("acme", t0 + Duration::from_secs(3599)));
        assert!(w.admit("globex", t0), "each tenant has its own share");
        assert!(w.admit("acme", t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn relay_settings_are_checked_and_their_password_never_quoted() {
        let ok = MailSettings {
            url: "smtp://pbx:secret@127.0.0.1:2525?tls=none".into(),
            from: "Switchyard <pbx@example.com>".into(),
            per_tenant_per_hour: 10,
        };
        assert!(Mailer::new(&ok).is_ok());
        let bad_url = MailSettings {
            url: "ftp://pbx:secret@mail.example.com".into(),
            ..ok.clone()
        };
        let e = Mailer::new(&bad_url).err().unwrap();
        assert!(e.contains("SMTP relay URL") && !e.contains("secret"), "{e}");
        let bad_from = MailSettings {
            from: "not an address".into(),
            ..ok
        };
        assert!(Mailer::new(&bad_from).err().unwrap().contains("sender"));
    }

    #[test]
    fn plain_smtp_means_starttls_and_clear_text_must_be_asked_for() {
        assert_eq!(lettre_url("smtp://h:587"), "smtp://h:587?tls=required");
        assert_eq!(lettre_url("smtp://h:25?tls=none"), "smtp://h:25");
        assert_eq!(
            lettre_url("smtp://h?tls=opportunistic"),
            "smtp://h?tls=opportunistic"
        );
        assert_eq!(lettre_url("smtps://u:p@h"), "smtps://u:p@h");
    }

    #[test]
    fn durations_and_times_read_as_people_write_them() {
        assert_eq!(clock_duration(Duration::from_secs(23)), "0:23");
        assert_eq!(clock_duration(Duration::from_secs(725)), "12:05");
        assert_eq!(clock_duration(Duration::from_secs(3723)), "1:02:03");
        // 2026-12-04 19:30:00 UTC.
        let at = 1_796_412_600_000;
        assert_eq!(local_time(at, "UTC"), "2026-12-04 19:30:00 UTC");
        assert_eq!(
            local_time(at, "America/New_York"),
            "2026-12-04 14:30:00 EST"
        );
        assert_eq!(local_time(at, "Not/AZone"), "2026-12-04 19:30:00 UTC");
        assert!(check_address("Ann <ann@example.com>").is_ok());
        assert!(check_address("ann@example.com\r\nBcc: x@y").is_err());
    }
}
