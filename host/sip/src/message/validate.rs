//! Checks a parsed request must pass before anything acts on it.
//!
//! Each check maps to the answer RFC 3261 and RFC 4475 give: 400 for
//! malformed or missing mandatory headers, 416 for a Request-URI scheme we
//! do not serve, 420 for an unknown required extension, 415 for a body we
//! cannot read, 406 when the caller accepts nothing we can send. A request
//! without a usable Via cannot be answered and is dropped.

use super::Message;
use super::addr::{NameAddr, SipUri};
use super::parse::is_token;

/// Extensions this endpoint supports (for `Require` / `Proxy-Require`).
pub const SUPPORTED_EXTENSIONS: &[&str] = &[];

/// Methods that carry a session description we must understand.
const SDP_METHODS: &[&str] = &["INVITE", "ACK", "UPDATE", "PRACK"];

/// How to refuse a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Answer with this status and reason, adding these headers.
    Respond {
        status: u16,
        reason: String,
        headers: Vec<(&'static str, String)>,
    },
    /// Do not answer at all.
    Drop(&'static str),
}

impl Rejection {
    fn bad(reason: impl Into<String>) -> Rejection {
        Rejection::Respond {
            status: 400,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            Rejection::Respond { status, .. } => Some(*status),
            Rejection::Drop(_) => None,
        }
    }
}

/// Only SIP, SIPS and tel URIs mean anything to a PBX: 416 otherwise.
fn check_scheme(scheme: &str) -> Result<(), Rejection> {
    if matches!(scheme, "sip" | "sips" | "tel") {
        Ok(())
    } else {
        Err(Rejection::Respond {
            status: 416,
            reason: "Unsupported URI Scheme".into(),
            headers: Vec::new(),
        })
    }
}

/// Validate a request. Responses are not checked here: they only ever
/// reach our own client transactions, and an unmatched one is dropped.
pub fn validate_request(m: &Message) -> Result<(), Rejection> {
    // Via: without one the answer has nowhere to go.
    let vias = m.headers.values("Via");
    if vias.is_empty() {
        return Err(Rejection::Drop("request without Via"));
    }
    for via in &vias {
        check_via(via).map_err(|r| Rejection::bad(format!("Bad Via: {r}")))?;
    }

    for name in ["From", "To", "Call-ID", "CSeq"] {
        if m.headers.get(name).is_none_or(|v| v.trim().is_empty()) {
            return Err(Rejection::bad(format!("Missing {name}")));
        }
    }
    // Headers that may appear only once (RFC 4475 multi01).
    for name in [
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Max-Forwards",
        "Content-Type",
        "Expires",
    ] {
        if m.headers.count(name) > 1 {
            return Err(Rejection::bad(format!("Several {name} headers")));
        }
    }

    // CSeq: a 32-bit number below 2^31 and the request's own method.
    let cseq = m.headers.get("CSeq").unwrap_or("").trim();
    let (num, method) = cseq
        .split_once([' ', '\t'])
        .ok_or_else(|| Rejection::bad("Malformed CSeq"))?;
    match num.parse::<u32>() {
        Ok(n) if n < 1 << 31 && num.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => return Err(Rejection::bad("CSeq number out of range")),
    }
    if method.trim() != m.method() {
        return Err(Rejection::bad("CSeq method does not match the request"));
    }

    if let Some(mf) = m.headers.get("Max-Forwards") {
        match mf.trim().parse::<u32>() {
            Ok(n) if n <= 255 => {}
            _ => return Err(Rejection::bad("Max-Forwards out of range")),
        }
    }
    if let Some(e) = m.headers.get("Expires")
        && e.trim().parse::<u32>().is_err()
    {
        return Err(Rejection::bad("Expires out of range"));
    }

    for name in ["From", "To"] {
        let v = m.headers.get(name).unwrap_or("");
        let a = NameAddr::parse(v).map_err(|e| Rejection::bad(format!("Bad {name}: {e}")))?;
        let u =
            SipUri::parse(&a.uri).map_err(|e| Rejection::bad(format!("Bad {name} URI: {e}")))?;
        check_scheme(&u.scheme)?;
    }
    for c in m.headers.values("Contact") {
        if c == "*" {
            continue;
        }
        let a = NameAddr::parse(c).map_err(|e| Rejection::bad(format!("Bad Contact: {e}")))?;
        let u = SipUri::parse(&a.uri).map_err(|e| Rejection::bad(format!("Bad Contact: {e}")))?;
        check_scheme(&u.scheme)?;
    }

    // The Request-URI.
    let ruri = SipUri::parse(m.uri());
    match ruri {
        Err(e) => return Err(Rejection::bad(format!("Bad Request-URI: {e}"))),
        Ok(u) if check_scheme(&u.scheme).is_err() => return check_scheme(&u.scheme),
        Ok(u) if u.headers.is_some() => {
            return Err(Rejection::bad("Headers in the Request-URI"));
        }
        Ok(_) => {}
    }

    // Required extensions (not for ACK and CANCEL, RFC 3261 §8.2.2.3).
    if !matches!(m.method(), "ACK" | "CANCEL") {
        let unknown: Vec<&str> = m
            .headers
            .values("Require")
            .into_iter()
            .chain(m.headers.values("Proxy-Require"))
            .filter(|o| {
                !SUPPORTED_EXTENSIONS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(o))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(Rejection::Respond {
                status: 420,
                reason: "Bad Extension".into(),
                headers: vec![("Unsupported", unknown.join(", "))],
            });
        }
    }

    // The body, for methods that carry a session description.
    if SDP_METHODS.contains(&m.method()) && !m.body.is_empty() {
        let ct = m
            .headers
            .get("Content-Type")
            .ok_or_else(|| Rejection::bad("Body without Content-Type"))?;
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media != "application/sdp" && media != "multipart/mixed" {
            return Err(Rejection::Respond {
                status: 415,
                reason: "Unsupported Media Type".into(),
                headers: vec![("Accept", "application/sdp".into())],
            });
        }
    }
    if m.method() == "INVITE" && m.headers.get("Accept").is_some() {
        let accepts_sdp = m.headers.values("Accept").iter().any(|a| {
            let t = a
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            t == "application/sdp" || t == "application/*" || t == "*/*"
        });
        if !accepts_sdp {
            return Err(Rejection::Respond {
                status: 406,
                reason: "Not Acceptable".into(),
                headers: vec![("Accept", "application/sdp".into())],
            });
        }
    }
    Ok(())
}

/// `SIP/2.0/UDP host[:port];params`, with LWS allowed around the slashes
/// (RFC 4475 wsinv).
fn check_via(via: &str) -> Result<(), &'static str> {
    let mut rest = via;
    for _ in 0..2 {
        let (tok, r) = rest.split_once('/').ok_or("malformed protocol")?;
        if !is_token(tok.trim()) {
            return Err("malformed protocol");
        }
        rest = r;
    }
    let rest = rest.trim_start();
    let end = rest.find(char::is_whitespace).ok_or("no sent-by")?;
    if !is_token(&rest[..end]) {
        return Err("malformed transport");
    }
    let mut params = rest[end..].split(';');
    let sent_by = params.next().unwrap_or("").trim();
    if sent_by.is_empty() || sent_by.contains([' ', ',']) {
        return Err("malformed sent-by");
    }
    for p in params {
        let name = p.split('=').next().unwrap_or("").trim();
        if name.is_empty() {
            return Err("empty parameter");
        }
    }
    Ok(())
}

/// Responses that reach a client transaction must at least be routable and
/// numbered sanely; anything else is dropped, never answered (RFC 4475
/// scalarlg, bcast).
pub fn validate_response(m: &Message) -> Result<(), &'static str> {
    if m.headers.values("Via").is_empty() {
        return Err("response without Via");
    }
    let cseq = m.headers.get("CSeq").ok_or("response without CSeq")?.trim();
    let num = cseq.split([' ', '\t']).next().unwrap_or("");
    match num.parse::<u32>() {
        Ok(n) if n < 1 << 31 => {}
        _ => return Err("CSeq number out of range"),
    }
    if m.headers.get("Call-ID").is_none() {
        return Err("response without Call-ID");
    }
    Ok(())
}

/// Loop detection: does any Via carry a branch this host generated? Then
/// the request went out from us and came back (answer 482).
pub fn has_own_branch(m: &Message, branch_prefix: &str) -> bool {
    m.headers
        .values("Via")
        .iter()
        .any(|v| super::param(v, "branch").is_some_and(|b| b.starts_with(branch_prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse::{Framing, parse};

    const OK: &str = "INVITE sip:1002@demo.localhost SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n\
From: \"Alice\" <sip:1001@demo.localhost>;tag=1\r\nTo: <sip:1002@demo.localhost>\r\n\
Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:1001@10.0.0.1:5060>\r\n";

    fn check(extra: &str, replace: Option<(&str, &str)>) -> Result<(), Rejection> {
        let mut text = OK.to_string();
        if let Some((a, b)) = replace {
            text = text.replace(a, b);
        }
        text.push_str(extra);
        text.push_str("\r\n");
        validate_request(&parse(text.as_bytes(), Framing::Datagram).unwrap())
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(check("", None), Ok(()));
        let sdp = "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
        let text = format!("{OK}{sdp}");
        assert_eq!(
            validate_request(&parse(text.as_bytes(), Framing::Datagram).unwrap()),
            Ok(())
        );
    }

    #[test]
    fn each_rule_gives_its_status() {
        let cases: Vec<(Result<(), Rejection>, Option<u16>)> = vec![
            (check("", Some(("Call-ID: c1\r\n", ""))), Some(400)),
            (
                check("", Some(("CSeq: 1 INVITE", "CSeq: 1 BYE"))),
                Some(400),
            ),
            (
                check("", Some(("CSeq: 1 INVITE", "CSeq: 99999999999 INVITE"))),
                Some(400),
            ),
            (check("Call-ID: c2\r\n", None), Some(400)),
            (
                check("", Some(("Max-Forwards: 70", "Max-Forwards: 300"))),
                Some(400),
            ),
            (
                check("", Some(("sip:1002@demo.localhost SIP", "mailto:x@y SIP"))),
                Some(416),
            ),
            (
                check(
                    "",
                    Some(("sip:1002@demo.localhost SIP", "sip:a@b?Route=x SIP")),
                ),
                Some(400),
            ),
            (check("Require: foo, bar\r\n", None), Some(420)),
            (check("Accept: text/plain\r\n", None), Some(406)),
            (check("", Some(("\"Alice\" <", "\"Alice <"))), Some(400)),
            (check("", Some(("\"Alice\" <", "Al@ice <"))), Some(400)),
            (
                check(
                    "",
                    Some(("<sip:1002@demo.localhost>", "<sip:1002@ demo.localhost>")),
                ),
                Some(400),
            ),
            (
                check(
                    "",
                    Some(("SIP/2.0/UDP 10.0.0.1:5060", "SIP/2.0/UDP 10.0.0.1;;,;,,")),
                ),
                Some(400),
            ),
            (
                check(
                    "",
                    Some((
                        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n",
                        "",
                    )),
                ),
                None,
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            let got = got.expect_err(&format!("case {i} should be refused"));
            assert_eq!(got.status(), want, "case {i}: {got:?}");
        }
        let Err(Rejection::Respond { headers, .. }) = check("Require: foo, bar\r\n", None) else {
            panic!()
        };
        assert_eq!(headers, vec![("Unsupported", "foo, bar".to_string())]);
    }

    #[test]
    fn unknown_content_type_on_invite_is_415() {
        let text = format!("{OK}Content-Type: application/unknown\r\nContent-Length: 2\r\n\r\nxx");
        let r = validate_request(&parse(text.as_bytes(), Framing::Datagram).unwrap());
        assert_eq!(r.unwrap_err().status(), Some(415));
    }

    #[test]
    fn own_branches_are_recognised() {
        let m = parse(
            format!("{OK}Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK-sy-1\r\n\r\n").as_bytes(),
            Framing::Datagram,
        )
        .unwrap();
        assert!(has_own_branch(&m, "z9hG4bK-sy-"));
        assert!(!has_own_branch(&m, "z9hG4bK-other"));
    }
}
