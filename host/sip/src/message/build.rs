//! Messages built by the endpoint: responses to requests, new requests.

use std::net::{IpAddr, SocketAddr};

use super::{Headers, Message, StartLine, param, split_list};

/// The usual reason phrase for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Request Failure",
            5 => "Server Failure",
            _ => "Global Failure",
        },
    }
}

/// A response to `req` (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq
/// copied; `to_tag` added to To when it has none (every response but 100
/// needs one once a dialog could form).
pub fn response(req: &Message, status: u16, reason: &str, to_tag: Option<&str>) -> Message {
    let mut headers = Headers::default();
    for h in &req.headers.0 {
        let copy = ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|n| h.name.eq_ignore_ascii_case(n));
        if copy {
            headers.push(h.name.clone(), h.value.clone());
        } else if h.name.eq_ignore_ascii_case("To") {
            let mut to = h.value.clone();
            if let Some(tag) = to_tag
                && super::addr::header_param(&to, "tag").is_none()
                && status != 100
            {
                to.push_str(";tag=");
                to.push_str(tag);
            }
            headers.push("To", to);
        }
    }
    // A request we could not fully parse may lack a CSeq method: answer
    // with the request's method so the client can match it.
    Message {
        start: StartLine::Response {
            status,
            reason: if reason.is_empty() {
                reason_phrase(status).to_string()
            } else {
                reason.to_string()
            },
        },
        headers,
        body: Vec::new(),
    }
}

/// Stamp the top Via of a request that arrived from `source` (RFC 3261
/// §18.2.1, RFC 3581 §4): `received=<source ip>` when the sent-by host is
/// not that address or when the Via has `rport`, and an `rport` without a
/// value gets the source port. Responses copy the stamped Via, so the phone
/// learns the address and port it is seen from (behind NAT).
pub fn stamp_via(req: &mut Message, source: SocketAddr) {
    let Some(h) = req
        .headers
        .0
        .iter_mut()
        .find(|h| h.name.eq_ignore_ascii_case("Via"))
    else {
        return;
    };
    let Some(&top) = split_list(&h.value).first() else {
        return;
    };
    let start = top.as_ptr() as usize - h.value.as_ptr() as usize;
    let end = start + top.len();
    if let Some(stamped) = stamped_via(top, source) {
        h.value.replace_range(start..end, &stamped);
    }
}

/// The stamped form of one Via value, or `None` when it needs nothing.
fn stamped_via(via: &str, source: SocketAddr) -> Option<String> {
    let rport = param(via, "rport");
    let sent_by = crate::endpoint::via_sent_by(via);
    let host = match sent_by.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => sent_by
            .rsplit_once(':')
            .map_or(sent_by.as_str(), |(h, _)| h),
    };
    let same_host = host.parse::<IpAddr>().ok() == Some(source.ip());
    if rport.is_none() && same_host {
        return None;
    }
    let mut parts = via.split(';');
    let mut out = parts.next().unwrap_or("").to_string();
    for p in parts {
        let name = p.split('=').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("received") {
            continue;
        }
        out.push(';');
        if name.eq_ignore_ascii_case("rport") && !p.contains('=') {
            out.push_str(&format!("rport={}", source.port()));
        } else {
            out.push_str(p);
        }
    }
    out.push_str(&format!(";received={}", source.ip()));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse::{Framing, parse};

    #[test]
    fn responses_copy_the_routing_headers_and_tag_to() {
        let req = parse(
            b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK0\r\n\
From: <sip:x@y>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nSubject: no\r\n\r\n",
            Framing::Datagram,
        )
        .unwrap();
        let r = response(&req, 200, "", Some("t1"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers.count("Via"), 2);
        assert_eq!(r.to_tag(), Some("t1"));
        assert_eq!(r.headers.get("Subject"), None);
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        let mut again = parse(text.as_bytes(), Framing::Datagram).unwrap();
        again.headers.remove("Content-Length");
        assert_eq!(again, r);
    }

    #[test]
    fn the_top_via_is_stamped_with_the_source() {
        let src: SocketAddr = "10.0.0.1:40123".parse().unwrap();
        let stamp = |via: &str| stamped_via(via, src);
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport").as_deref(),
            Some("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport=40123;received=10.0.0.1")
        );
        assert_eq!(
            stamp("SIP/2.0/UDP phone.example;rport;branch=z9hG4bK1").as_deref(),
            Some("SIP/2.0/UDP phone.example;rport=40123;branch=z9hG4bK1;received=10.0.0.1")
        );
        assert_eq!(stamp("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"), None);
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1;received=9.9.9.9").as_deref(),
            Some("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1;received=10.0.0.1")
        );
        let v6: SocketAddr = "[2001:db8::1]:5070".parse().unwrap();
        assert_eq!(
            stamped_via("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1", v6),
            None
        );
        assert_eq!(
            stamped_via("SIP/2.0/TCP [2001:db8::2];rport;branch=z9hG4bK1", v6).as_deref(),
            Some("SIP/2.0/TCP [2001:db8::2];rport=5070;branch=z9hG4bK1;received=2001:db8::1")
        );

        // Only the first value of the first Via line changes.
        let mut req = crate::message::parse::parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;rport;branch=z9hG4bK1 , SIP/2.0/UDP g;branch=z9hG4bK0\r\n\
Via: SIP/2.0/UDP f;branch=z9hG4bKf\r\nFrom: <sip:x@y>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 2 OPTIONS\r\n\r\n",
            crate::message::parse::Framing::Datagram,
        )
        .unwrap();
        stamp_via(&mut req, src);
        assert_eq!(
            req.headers.get_all("Via").collect::<Vec<_>>(),
            vec![
                "SIP/2.0/UDP h;rport=40123;branch=z9hG4bK1;received=10.0.0.1 , SIP/2.0/UDP g;branch=z9hG4bK0",
                "SIP/2.0/UDP f;branch=z9hG4bKf"
            ]
        );
    }
}
