//! How a message finds its transaction (RFC 3261 §17.1.3 and §17.2.3).
//!
//! Requests from RFC 3261 elements carry a branch starting with the magic
//! cookie `z9hG4bK`, unique per transaction: branch + sent-by + method is
//! the key, with ACK matching the INVITE it acknowledges. Older (RFC 2543)
//! elements do not; their requests are matched on the Request-URI, tags,
//! Call-ID, CSeq number and top Via instead. Both are handled: RFC 4475's
//! `badbranch` case must be answered normally.

/// The RFC 3261 magic cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Which transaction a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKey {
    /// RFC 3261: top Via branch, its sent-by, and the method (ACK → INVITE;
    /// CANCEL keeps CANCEL — it is a transaction of its own).
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: String,
    },
    /// RFC 2543 fallback. Boxed: such requests are rare, and every key is
    /// kept in several tables for the transaction's life (the enum is the
    /// size of its largest variant, twice the RFC 3261 one unboxed).
    Rfc2543(Box<Rfc2543Key>),
}

/// An RFC 2543 request's transaction: what identifies it without a branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rfc2543Key {
    pub request_uri: String,
    pub from_tag: String,
    pub to_tag: String,
    pub call_id: String,
    pub cseq: u32,
    pub top_via: String,
    pub method: String,
}

/// The parts of a request that matching needs.
#[derive(Debug, Clone, Default)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub branch: Option<&'a str>,
    /// The top Via's `host[:port]`.
    pub sent_by: &'a str,
    pub request_uri: &'a str,
    pub from_tag: &'a str,
    pub to_tag: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// The whole top Via value (for RFC 2543 matching).
    pub top_via: &'a str,
}

/// The method a transaction is keyed under: an ACK belongs to its INVITE.
fn keyed_method(method: &str) -> String {
    if method.eq_ignore_ascii_case("ACK") {
        "INVITE".to_string()
    } else {
        method.to_ascii_uppercase()
    }
}

impl TransactionKey {
    /// The server transaction a request belongs to.
    pub fn for_request(r: &RequestParts<'_>) -> TransactionKey {
        match r.branch {
            // The cookie alone identifies nothing (RFC 4475 badbranch).
            Some(b) if b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE) => {
                TransactionKey::Rfc3261 {
                    branch: b.to_string(),
                    sent_by: r.sent_by.to_ascii_lowercase(),
                    method: keyed_method(r.method),
                }
            }
            _ => TransactionKey::Rfc2543(Box::new(Rfc2543Key {
                request_uri: r.request_uri.to_string(),
                from_tag: r.from_tag.to_string(),
                // The ACK for a non-2xx carries the To tag of our response
                // and the INVITE had none, so the tag is left out of the key
                // for ACK; §17.2.3 also compares it with the tag of the
                // response we sent, a check for the layer that keeps it.
                to_tag: if r.method.eq_ignore_ascii_case("ACK") {
                    String::new()
                } else {
                    r.to_tag.to_string()
                },
                call_id: r.call_id.to_string(),
                cseq: r.cseq,
                top_via: r.top_via.to_string(),
                method: keyed_method(r.method),
            })),
        }
    }

    /// The client transaction a response belongs to: our own branch and
    /// the CSeq method (we always send RFC 3261 branches).
    pub fn for_response(branch: &str, sent_by: &str, cseq_method: &str) -> TransactionKey {
        TransactionKey::Rfc3261 {
            branch: branch.to_string(),
            sent_by: sent_by.to_ascii_lowercase(),
            method: keyed_method(cseq_method),
        }
    }

    /// The INVITE transaction a CANCEL with this key cancels.
    pub fn cancelled_invite(&self) -> Option<TransactionKey> {
        let mut k = self.clone();
        let method = match &mut k {
            TransactionKey::Rfc3261 { method, .. } => method,
            TransactionKey::Rfc2543(key) => &mut key.method,
        };
        if method != "CANCEL" {
            return None;
        }
        *method = "INVITE".to_string();
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> RequestParts<'static> {
        RequestParts {
            method: "INVITE",
            branch: Some("z9hG4bK776asdhds"),
            sent_by: "PC33.Atlanta.example.com:5060",
            request_uri: "sip:bob@biloxi.example.com",
            from_tag: "1928301774",
            to_tag: "",
            call_id: "a84b4c76e66710",
            cseq: 314159,
            top_via: "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
        }
    }

    #[test]
    fn ack_and_retransmissions_match_the_invite_cancel_does_not() {
        let k = TransactionKey::for_request(&invite());
        let again = TransactionKey::for_request(&RequestParts {
            sent_by: "pc33.atlanta.example.com:5060",
            ..invite()
        });
        assert_eq!(k, again, "sent-by compares case-insensitively");
        let ack = TransactionKey::for_request(&RequestParts {
            method: "ACK",
            to_tag: "a6c85cf",
            ..invite()
        });
        assert_eq!(ack, k);
        let cancel = TransactionKey::for_request(&RequestParts {
            method: "CANCEL",
            ..invite()
        });
        assert_ne!(cancel, k);
        assert_eq!(cancel.cancelled_invite(), Some(k.clone()));
        assert_eq!(k.cancelled_invite(), None);
    }

    #[test]
    fn same_branch_from_another_host_is_another_transaction() {
        let k = TransactionKey::for_request(&invite());
        let other = TransactionKey::for_request(&RequestParts {
            sent_by: "evil.example.com",
            ..invite()
        });
        assert_ne!(k, other);
    }

    #[test]
    fn rfc_2543_requests_without_the_magic_cookie_still_match() {
        let old = RequestParts {
            branch: Some("1"),
            ..invite()
        };
        let k = TransactionKey::for_request(&old);
        assert!(matches!(k, TransactionKey::Rfc2543(_)));
        let ack = TransactionKey::for_request(&RequestParts {
            method: "ACK",
            to_tag: "314",
            ..old.clone()
        });
        assert_eq!(ack, k, "the ACK finds its INVITE despite its To tag");
        let next = TransactionKey::for_request(&RequestParts {
            cseq: 314160,
            ..old.clone()
        });
        assert_ne!(next, k);
        let no_branch = TransactionKey::for_request(&RequestParts {
            branch: None,
            ..old.clone()
        });
        let bare_cookie = TransactionKey::for_request(&RequestParts {
            branch: Some(MAGIC_COOKIE),
            ..old
        });
        assert_eq!(bare_cookie, k, "the magic cookie alone is no branch");
        assert_eq!(
            no_branch, k,
            "no branch at all is the same as a pre-3261 branch"
        );
    }

    #[test]
    fn responses_match_our_client_transactions_by_branch_and_cseq_method() {
        let k = TransactionKey::for_response("z9hG4bKabc", "10.0.0.1:5060", "INVITE");
        let req = TransactionKey::for_request(&RequestParts {
            branch: Some("z9hG4bKabc"),
            sent_by: "10.0.0.1:5060",
            ..invite()
        });
        assert_eq!(k, req);
        assert_ne!(
            k,
            TransactionKey::for_response("z9hG4bKabc", "10.0.0.1:5060", "CANCEL")
        );
    }
}
