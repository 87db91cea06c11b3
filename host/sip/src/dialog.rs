//! Dialogs (RFC 3261 §12): the state two user agents share after an INVITE
//! is answered — Call-ID, tags, CSeq numbers, the remote target and the
//! route set — and the in-dialog requests built from it.
//!
//! The B2BUA keeps one dialog per leg: a UAS dialog with the caller and a
//! UAC dialog with each callee that answered.

use crate::message::addr::NameAddr;
use crate::message::{Message, StartLine};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our From (UAC) / To (UAS) value without tag parameters.
    pub local_uri: String,
    pub remote_uri: String,
    /// Last CSeq number we used.
    pub local_cseq: u32,
    /// Last CSeq number the peer used.
    pub remote_cseq: Option<u32>,
    /// Where in-dialog requests go: the peer's Contact URI.
    pub remote_target: String,
    /// Route headers for in-dialog requests (loose routing).
    pub route_set: Vec<String>,
}

fn uri_of(header: Option<&str>) -> String {
    header
        .and_then(|v| NameAddr::parse(v).ok())
        .map(|a| a.uri)
        .unwrap_or_default()
}

impl Dialog {
    /// The dialog we hold as UAS, from the request that created it and
    /// the tag we put in our To.
    pub fn uas(request: &Message, local_tag: &str) -> Dialog {
        Dialog {
            call_id: request.call_id().to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: request.from_tag().unwrap_or("").to_string(),
            local_uri: uri_of(request.headers.get("To")),
            remote_uri: uri_of(request.headers.get("From")),
            local_cseq: 0,
            remote_cseq: request.cseq().map(|c| c.0),
            remote_target: uri_of(request.headers.get("Contact")),
            route_set: request
                .headers
                .values("Record-Route")
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    /// The dialog we hold as UAC, from our request and a response with a
    /// To tag (a 2xx, or a 1xx for an early dialog).
    pub fn uac(request: &Message, response: &Message) -> Dialog {
        let mut route_set: Vec<String> = response
            .headers
            .values("Record-Route")
            .into_iter()
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Dialog {
            call_id: request.call_id().to_string(),
            local_tag: request.from_tag().unwrap_or("").to_string(),
            remote_tag: response.to_tag().unwrap_or("").to_string(),
            local_uri: uri_of(request.headers.get("From")),
            remote_uri: uri_of(request.headers.get("To")),
            local_cseq: request.cseq().map(|c| c.0).unwrap_or(1),
            remote_cseq: None,
            remote_target: {
                let t = uri_of(response.headers.get("Contact"));
                if t.is_empty() {
                    request.uri().to_string()
                } else {
                    t
                }
            },
            route_set,
        }
    }

    /// Does `m` belong to this dialog (Call-ID and both tags)?
    pub fn matches(&self, m: &Message) -> bool {
        if m.call_id() != self.call_id {
            return false;
        }
        let (from, to) = (m.from_tag().unwrap_or(""), m.to_tag().unwrap_or(""));
        if m.is_request() {
            from == self.remote_tag && to == self.local_tag
        } else {
            from == self.local_tag && to == self.remote_tag
        }
    }

    /// Check the CSeq of a request from the peer: lower than the last one
    /// means out of order (answer 500). ACK and CANCEL reuse numbers.
    pub fn accept_remote_cseq(&mut self, req: &Message) -> bool {
        let Some((n, method)) = req.cseq() else {
            return false;
        };
        if method == "ACK" || method == "CANCEL" {
            return true;
        }
        match self.remote_cseq {
            Some(last) if n <= last => false,
            _ => {
                self.remote_cseq = Some(n);
                true
            }
        }
    }

    /// A target refresh (re-INVITE, UPDATE or their 2xx) moves the remote
    /// target to the new Contact.
    pub fn refresh_target(&mut self, m: &Message) {
        let t = uri_of(m.headers.get("Contact"));
        if !t.is_empty() {
            self.remote_target = t;
        }
    }

    /// A new in-dialog request (BYE, re-INVITE, INFO…) with the next CSeq.
    pub fn request(&mut self, method: &str) -> Message {
        self.local_cseq += 1;
        let n = self.local_cseq;
        self.build(method, n)
    }

    /// The ACK for the 2xx to the INVITE numbered `invite_cseq`.
    pub fn ack(&self, invite_cseq: u32) -> Message {
        self.build("ACK", invite_cseq)
    }

    fn build(&self, method: &str, cseq: u32) -> Message {
        let mut m = Message {
            start: StartLine::Request {
                method: method.to_string(),
                uri: self.remote_target.clone(),
            },
            headers: Default::default(),
            body: Vec::new(),
        };
        for r in &self.route_set {
            m.headers.push("Route", r.clone());
        }
        m.headers.push(
            "From",
            format!("<{}>;tag={}", self.local_uri, self.local_tag),
        );
        let to = if self.remote_tag.is_empty() {
            format!("<{}>", self.remote_uri)
        } else {
            format!("<{}>;tag={}", self.remote_uri, self.remote_tag)
        };
        m.headers.push("To", to);
        m.headers.push("Call-ID", self.call_id.clone());
        m.headers.push("CSeq", format!("{cseq} {method}"));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::build::response;
    use crate::message::parse::{Framing, parse};

    fn invite() -> Message {
        parse(
            b"INVITE sip:1002@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\nFrom: \"A\" <sip:1001@pbx>;tag=caller\r\n\
To: <sip:1002@pbx>\r\nCall-ID: d1\r\nCSeq: 10 INVITE\r\nContact: <sip:1001@10.0.0.1:5062>\r\n\r\n",
            Framing::Datagram,
        )
        .unwrap()
    }

    #[test]
    fn uas_dialog_builds_bye_towards_the_callers_contact() {
        let inv = invite();
        let mut d = Dialog::uas(&inv, "us");
        let bye = d.request("BYE");
        assert_eq!(bye.uri(), "sip:1001@10.0.0.1:5062");
        assert_eq!(bye.from_tag(), Some("us"));
        assert_eq!(bye.to_tag(), Some("caller"));
        assert_eq!(bye.cseq(), Some((1, "BYE")));
        assert_eq!(
            bye.headers.values("Route"),
            vec!["<sip:p1;lr>", "<sip:p2;lr>"]
        );
        // The caller's BYE matches; an old CSeq does not pass.
        let mut their_bye = inv.clone();
        their_bye.start = StartLine::Request {
            method: "BYE".into(),
            uri: "sip:x".into(),
        };
        their_bye.headers.set("To", "<sip:1002@pbx>;tag=us");
        their_bye.headers.set("CSeq", "11 BYE");
        assert!(d.matches(&their_bye));
        assert!(d.accept_remote_cseq(&their_bye));
        assert!(!d.accept_remote_cseq(&their_bye));
    }

    #[test]
    fn uac_dialog_reverses_the_route_set_and_acks_with_the_invite_cseq() {
        let inv = invite();
        let mut ok = response(&inv, 200, "", Some("callee"));
        ok.headers.push("Record-Route", "<sip:p1;lr>, <sip:p2;lr>");
        ok.headers.push("Contact", "<sip:1002@10.0.0.2:5070>");
        let mut d = Dialog::uac(&inv, &ok);
        assert!(d.matches(&ok));
        let ack = d.ack(10);
        assert_eq!(ack.cseq(), Some((10, "ACK")));
        assert_eq!(ack.uri(), "sip:1002@10.0.0.2:5070");
        assert_eq!(
            ack.headers.values("Route"),
            vec!["<sip:p2;lr>", "<sip:p1;lr>"]
        );
        assert_eq!(d.request("BYE").cseq(), Some((11, "BYE")));
    }
}
