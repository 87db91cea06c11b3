//! SIP messages: our own tolerant wire format, then strict checks.
//!
//! Why not `rsip` for this: measured against RFC 4475 (see the crate
//! README), `rsip` 0.4 refuses valid messages (line folding, unusual method
//! tokens, escaped user parts) and accepts invalid ones (two
//! Content-Lengths, `<>` around the Request-URI, missing mandatory headers).
//! A B2BUA mostly copies headers and rewrites a few, so the representation
//! here is deliberately plain: a start line, an ordered list of
//! `(name, value)` headers with compact forms expanded and folded lines
//! joined, and the body.
//!
//! * [`parse`] — bytes → [`Message`] (framing, start line, headers,
//!   Content-Length); errors say whether to answer (and with what) or drop.
//! * [`validate`] — the checks a request must pass before the endpoint acts
//!   on it (mandatory and single-value headers, CSeq, Max-Forwards, URI
//!   schemes, Require, Content-Type, Accept).
//! * [`addr`] — SIP URIs and name-addrs (From, To, Contact).
//! * [`framing`] — cutting a byte stream (TCP) into messages by
//!   Content-Length.
//! * [`build`] — responses to requests and other messages built from scratch.

pub mod addr;
pub mod build;
pub mod framing;
pub mod parse;
pub mod validate;

use std::fmt::Write as _;

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

/// One header line (a folded header is one line here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The long form of the name in its usual spelling for known headers
    /// (`v` → `Via`, `call-id` → `Call-ID`); unknown names as received.
    pub name: String,
    pub value: String,
}

/// Headers in order. Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
    /// Every line of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
    /// Every comma-separated value of `name` across its lines (Via, Route,
    /// Contact, Require…).
    pub fn values<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.get_all(name).flat_map(split_list).collect()
    }
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Header {
            name: name.into(),
            value: value.into(),
        });
    }
    /// Put a header before all others (a new top Via).
    pub fn push_front(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name: name.into(),
                value: value.into(),
            },
        );
    }
    /// Replace every line of `name` by one line with `value` (kept at the
    /// position of the first one, or appended).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.0[i].value = value;
                let mut seen = 0;
                self.0.retain(|h| {
                    if h.name.eq_ignore_ascii_case(name) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push(name, value),
        }
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(name));
    }
    /// Remove the first value of a list header (the top Via); a line with
    /// several values keeps the rest.
    pub fn remove_first_value(&mut self, name: &str) {
        if let Some(i) = self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            let rest: Vec<&str> = split_list(&self.0[i].value).into_iter().skip(1).collect();
            if rest.is_empty() {
                self.0.remove(i);
            } else {
                self.0[i].value = rest.join(", ");
            }
        }
    }
}

/// A parsed SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Message {
    pub fn request(method: &str, uri: &str) -> Message {
        Message {
            start: StartLine::Request {
                method: method.into(),
                uri: uri.into(),
            },
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
    /// The request method, or `""` for a response.
    pub fn method(&self) -> &str {
        match &self.start {
            StartLine::Request { method, .. } => method,
            StartLine::Response { .. } => "",
        }
    }
    /// The Request-URI, or `""` for a response.
    pub fn uri(&self) -> &str {
        match &self.start {
            StartLine::Request { uri, .. } => uri,
            StartLine::Response { .. } => "",
        }
    }
    /// The status code, or 0 for a request.
    pub fn status(&self) -> u16 {
        match &self.start {
            StartLine::Response { status, .. } => *status,
            StartLine::Request { .. } => 0,
        }
    }
    pub fn call_id(&self) -> &str {
        self.headers.get("Call-ID").unwrap_or("")
    }
    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.headers.get("CSeq")?.trim();
        let (n, m) = v.split_once([' ', '\t'])?;
        Some((n.parse().ok()?, m.trim()))
    }
    /// The first Via value.
    pub fn top_via(&self) -> Option<&str> {
        self.headers
            .get("Via")
            .and_then(|v| split_list(v).into_iter().next())
    }
    /// The `branch` parameter of the top Via.
    pub fn branch(&self) -> Option<&str> {
        self.top_via().and_then(|v| param(v, "branch"))
    }
    pub fn from_tag(&self) -> Option<&str> {
        self.headers
            .get("From")
            .and_then(|v| addr::header_param(v, "tag"))
    }
    pub fn to_tag(&self) -> Option<&str> {
        self.headers
            .get("To")
            .and_then(|v| addr::header_param(v, "tag"))
    }

    /// Wire form. Content-Length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(s, "{method} {uri} SIP/2.0\r\n");
            }
            StartLine::Response { status, reason } => {
                let _ = write!(s, "SIP/2.0 {status} {reason}\r\n");
            }
        }
        for h in &self.headers.0 {
            if h.name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            let _ = write!(s, "{}: {}\r\n", h.name, h.value);
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// The usual spelling of a header name; compact forms expanded.
pub fn canonical_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow",
        "Allow-Events",
        "Authorization",
        "Call-ID",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Event",
        "Expires",
        "From",
        "Max-Forwards",
        "Min-Expires",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Reason",
        "Record-Route",
        "Refer-To",
        "Referred-By",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Session-Expires",
        "Subject",
        "Supported",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
    ];
    let compact = match name.len() {
        1 => match name.as_bytes()[0].to_ascii_lowercase() {
            b'i' => Some("Call-ID"),
            b'm' => Some("Contact"),
            b'e' => Some("Content-Encoding"),
            b'l' => Some("Content-Length"),
            b'c' => Some("Content-Type"),
            b'f' => Some("From"),
            b's' => Some("Subject"),
            b'k' => Some("Supported"),
            b't' => Some("To"),
            b'v' => Some("Via"),
            b'o' => Some("Event"),
            b'r' => Some("Refer-To"),
            b'b' => Some("Referred-By"),
            b'u' => Some("Allow-Events"),
            b'x' => Some("Session-Expires"),
            _ => None,
        },
        _ => None,
    };
    if let Some(c) = compact {
        return c.to_string();
    }
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

/// Split a header value at top-level commas (not inside quotes or `<>`),
/// trimming each part and skipping empty ones.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                let part = value[start..i].trim();
                if !part.is_empty() {
                    out.push(part);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let part = value[start..].trim();
    if !part.is_empty() {
        out.push(part);
    }
    out
}

/// A `;name=value` parameter of a header value (after any `<…>`), e.g. the
/// Via `branch`. A parameter without `=` gives `Some("")`.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    after.split(';').skip(1).find_map(|p| {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (p.trim(), ""),
        };
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_respects_quotes_and_angles() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@y;p=1,2>, <sip:z@w> , "#),
            vec![r#""a, b" <sip:x@y;p=1,2>"#, "<sip:z@w>"]
        );
    }

    #[test]
    fn params_are_found_after_the_uri() {
        let via = "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1";
        assert_eq!(param(via, "branch"), Some("z9hG4bK1"));
        assert_eq!(param(via, "rport"), Some(""));
        assert_eq!(param("<sip:a@b;tag=no>;tag=yes", "tag"), Some("yes"));
    }

    #[test]
    fn set_replaces_all_lines_and_remove_first_value_keeps_the_rest() {
        let mut h = Headers::default();
        h.push("Via", "SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2");
        h.push("Via", "SIP/2.0/UDP c;branch=3");
        h.remove_first_value("Via");
        assert_eq!(h.values("Via").len(), 2);
        assert_eq!(h.get("via"), Some("SIP/2.0/UDP b;branch=2"));
        h.set("Via", "x");
        assert_eq!(h.count("Via"), 1);
    }
}
