//! Bytes → [`Message`]: start line, unfolded headers, body by Content-Length.
//!
//! The parser is tolerant where RFC 3261 and RFC 4475 ask for tolerance
//! (line folding, compact names, any case, LF-only line ends, odd but legal
//! tokens, UTF-8 in values) and strict where a wrong guess would be
//! dangerous (the body length, the Request-Line shape, the version).
//! Errors carry whatever headers were read so that the endpoint can still
//! answer a request with the right status (a 400 needs Via, From, To,
//! Call-ID and CSeq to be routable back).

use super::{Header, Headers, Message, StartLine, canonical_name};

/// Why a message could not be parsed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Answer with `status` when `partial` holds enough to build a response
    /// (requests only); drop otherwise.
    Reject {
        status: u16,
        reason: &'static str,
        partial: Option<Box<Message>>,
    },
    /// Never answer: garbage, or a response that cannot be trusted.
    Drop(&'static str),
}

impl ParseError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ParseError::Reject { status, .. } => Some(*status),
            ParseError::Drop(_) => None,
        }
    }
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Reject { reason, .. } => reason,
            ParseError::Drop(r) => r,
        }
    }
}

/// How the body length is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A datagram: the body is the rest of it unless Content-Length says
    /// less; more than the datagram is an error.
    Datagram,
    /// Already cut from a stream by [`super::framing`]: the same rules.
    Stream,
}

/// RFC 3261 `token` characters (method names, header names, parameters).
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Parse one message.
pub fn parse(bytes: &[u8], _framing: Framing) -> Result<Message, ParseError> {
    // Keep-alive CRLFs before a message are allowed (RFC 5626 uses them).
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(ParseError::Drop("empty message"))?;
    let bytes = &bytes[start..];
    let (head, body) = split_head(bytes);
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");

    let start_line = parse_start_line(first);
    let is_response = first.starts_with("SIP/") || first.starts_with("sip/");

    // Headers, with folded lines joined to the line above.
    let mut headers: Vec<Header> = Vec::new();
    let mut header_error: Option<&'static str> = None;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some(h) => {
                    // A value that starts on the next line (`To:` CRLF SP
                    // `sip:…`) gets no leading space.
                    if !h.value.is_empty() {
                        h.value.push(' ');
                    }
                    h.value.push_str(line.trim());
                }
                None => header_error = header_error.or(Some("folded line before any header")),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            header_error = header_error.or(Some("header line without a colon"));
            continue;
        };
        let name = name.trim_end();
        if !is_token(name) {
            header_error = header_error.or(Some("malformed header name"));
            continue;
        }
        headers.push(Header {
            name: canonical_name(name),
            value: value.trim().to_string(),
        });
    }
    let headers = Headers(headers);

    let reject = |status: u16, reason: &'static str, start: Option<StartLine>| {
        if is_response {
            return ParseError::Drop(reason);
        }
        ParseError::Reject {
            status,
            reason,
            partial: start.map(|start| {
                Box::new(Message {
                    start,
                    headers: headers.clone(),
                    body: Vec::new(),
                })
            }),
        }
    };

    let start_line = match start_line {
        Ok(s) => s,
        Err((status, reason, method)) => {
            // Keep enough of the request to answer it.
            let start = method.map(|m| StartLine::Request {
                method: m,
                uri: String::new(),
            });
            return Err(reject(status, reason, start));
        }
    };
    if let Some(reason) = header_error {
        return Err(reject(400, reason, Some(start_line)));
    }

    // The body length: exactly one Content-Length, a plain number.
    let lengths: Vec<&str> = headers.get_all("Content-Length").collect();
    let body = match lengths.as_slice() {
        [] => body.to_vec(),
        [one] => {
            let n = if !one.is_empty() && one.len() <= 10 && one.bytes().all(|b| b.is_ascii_digit())
            {
                one.parse::<usize>().ok()
            } else {
                None
            };
            let Some(n) = n else {
                return Err(reject(400, "malformed Content-Length", Some(start_line)));
            };
            if n > body.len() {
                return Err(reject(
                    400,
                    "Content-Length larger than the message",
                    Some(start_line),
                ));
            }
            // Bytes beyond Content-Length are not part of this message
            // (RFC 4475 dblreq): ignore them.
            body[..n].to_vec()
        }
        _ => {
            return Err(reject(
                400,
                "several Content-Length values",
                Some(start_line),
            ));
        }
    };

    Ok(Message {
        start: start_line,
        headers,
        body,
    })
}

/// Split at the empty line; without one, everything is head.
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            if bytes.get(i + 1) == Some(&b'\n') {
                return (&bytes[..i], &bytes[i + 2..]);
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                return (&bytes[..i], &bytes[i + 3..]);
            }
        }
        i += 1;
    }
    (bytes, &[])
}

type StartError = (u16, &'static str, Option<String>);

/// `SIP/` in any case. Compared as bytes: the line may hold any UTF-8 (or
/// replacement characters) and slicing it at 4 could split a character.
fn starts_with_sip_slash(s: &str) -> bool {
    s.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

fn parse_start_line(line: &str) -> Result<StartLine, StartError> {
    if starts_with_sip_slash(line) {
        return parse_status_line(line);
    }
    // Request-Line: Method SP Request-URI SP SIP-Version, single spaces.
    let parts: Vec<&str> = line.split(' ').collect();
    let method = parts.first().copied().unwrap_or("");
    let method_known = is_token(method).then(|| method.to_string());
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err((400, "malformed Request-Line", method_known));
    }
    let (uri, version) = (parts[1], parts[2]);
    if method_known.is_none() {
        return Err((400, "malformed method", None));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        if version.len() > 4 && starts_with_sip_slash(version) {
            return Err((505, "SIP version not supported", method_known));
        }
        return Err((400, "malformed SIP version", method_known));
    }
    if uri.contains(['<', '>', '\t', '"']) || !uri.contains(':') {
        return Err((400, "malformed Request-URI", method_known));
    }
    Ok(StartLine::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

fn parse_status_line(line: &str) -> Result<StartLine, StartError> {
    let mut it = line.splitn(3, ' ');
    let version = it.next().unwrap_or("");
    let code = it.next().unwrap_or("");
    let reason = it.next().unwrap_or("");
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err((0, "unsupported version in a response", None));
    }
    let status = match code.parse::<u16>() {
        Ok(s) if code.len() == 3 && (100..=699).contains(&s) => s,
        _ => return Err((0, "status code out of range", None)),
    };
    Ok(StartLine::Response {
        status,
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Message, ParseError> {
        parse(s.as_bytes(), Framing::Datagram)
    }

    const BASE: &str = "INVITE sip:1002@demo.localhost SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\n\
From: <sip:1001@demo.localhost>;tag=1\r\nTo: <sip:1002@demo.localhost>\r\n\
Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n";

    #[test]
    fn folded_and_compact_headers_are_joined_and_expanded() {
        let m = p("OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: one\r\n  two\r\n\ttwo-and-a-half\r\ni: x\r\nl: 0\r\n\r\n").unwrap();
        assert_eq!(m.headers.get("Via"), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
        assert_eq!(m.headers.get("subject"), Some("one two two-and-a-half"));
        assert_eq!(m.call_id(), "x");
        let m = p("OPTIONS sip:a@b SIP/2.0\r\nTo:\r\n <sip:a@b>\r\n\r\n").unwrap();
        assert_eq!(m.headers.get("To"), Some("<sip:a@b>"), "no leading space");
    }

    #[test]
    fn body_is_cut_at_content_length_and_a_short_body_is_refused() {
        let m = p(&format!("{BASE}Content-Length: 3\r\n\r\nabcINVITE more")).unwrap();
        assert_eq!(m.body, b"abc");
        let e = p(&format!("{BASE}Content-Length: 300\r\n\r\nabc")).unwrap_err();
        assert_eq!(e.status(), Some(400));
        // The error still carries the headers needed to answer.
        let ParseError::Reject { partial, .. } = e else {
            panic!()
        };
        assert_eq!(partial.unwrap().call_id(), "c1");
    }

    #[test]
    fn content_length_must_be_one_plain_number() {
        for cl in [
            "Content-Length: -5\r\n",
            "Content-Length: 1\r\nl: 1\r\n",
            "l: 12a\r\n",
        ] {
            let e = p(&format!("{BASE}{cl}\r\nx")).unwrap_err();
            assert_eq!(e.status(), Some(400), "{cl}");
        }
    }

    #[test]
    fn request_line_shape_and_version() {
        let e = p("INVITE sip:a@b SIP/7.0\r\nCall-ID: x\r\n\r\n").unwrap_err();
        assert_eq!(e.status(), Some(505));
        for bad in [
            "INVITE <sip:a@b> SIP/2.0",
            "INVITE  sip:a@b SIP/2.0",
            "INVITE sip:a@b SIP/2.0 ",
            "INVITE sip:a @b SIP/2.0",
        ] {
            let e = p(&format!("{bad}\r\nCall-ID: x\r\n\r\n")).unwrap_err();
            assert_eq!(e.status(), Some(400), "{bad}");
        }
    }

    #[test]
    fn odd_responses_are_dropped_never_answered() {
        assert_eq!(
            p("SIP/2.0 999 Huge\r\nCall-ID: x\r\n\r\n").unwrap_err(),
            ParseError::Drop("status code out of range")
        );
        assert!(matches!(
            p("SIP/2.0 200 OK\r\nVia: x\r\nContent-Length: 99\r\n\r\n"),
            Err(ParseError::Drop(_))
        ));
        let ok = p("SIP/2.0 100 \r\nCall-ID: x\r\n\r\n").unwrap();
        assert_eq!(ok.status(), 100);
    }

    #[test]
    fn garbage_never_panics() {
        for g in [
            "",
            "\r\n\r\n",
            "\u{0}\u{1}",
            "SIP/",
            "A",
            ":\r\n:",
            "INVITE",
            "\r\n x: y",
            // A multi-byte character across byte 4 of the start line.
            "SIP\u{e9} 200 OK",
            "INVITE sip:a@b SIP\u{e9}x",
        ] {
            let _ = p(g);
        }
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        let _ = parse(&bytes, Framing::Datagram);
    }

    #[test]
    fn lf_only_line_ends_are_accepted() {
        let m = p("OPTIONS sip:a@b SIP/2.0\nCall-ID: x\nl: 2\n\nhi").unwrap();
        assert_eq!(m.body, b"hi");
    }
}
