//! The SIP endpoint core: bytes in, bytes out, events for the TU — no I/O,
//! no clock inside.
//!
//! It sits between the transport drivers (which only move bytes) and the
//! transaction user (registrar, call engine). It parses and checks what
//! arrives and answers what must be answered without the TU (400/416/420/
//! 415/406/505/513, 482 for loops, 481 for a CANCEL that matches nothing),
//! runs the RFC 3261 §17 transactions through [`TransactionTable`], and does
//! what RFC 3261 gives to the "UA core" but every TU would do the same way:
//! retransmitting a 2xx to INVITE until its ACK (§13.3.1.4) and answering a
//! retransmitted 2xx with the same ACK again (§13.2.2.4).
//!
//! Responses go back to where the request came from (the connection for
//! TCP, the source address and port for UDP — `rport` behaviour, RFC 3581),
//! never to an address read from a Via: a malformed message cannot make the
//! host send anything anywhere else (RFC 4475 bcast).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::message::build::{reason_phrase, response, stamp_via};
use crate::message::parse::{Framing, ParseError, parse};
use crate::message::validate::{Rejection, has_own_branch, validate_request, validate_response};
use crate::message::{Message, StartLine};
use crate::timers::TimerConfig;
use crate::transaction::{
    AnyTransaction, ClientInvite, ClientNonInvite, Delivery, Output, RequestParts, ServerInvite,
    ServerNonInvite, TransactionKey, TransactionTable,
};

/// How a peer is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// SIP over TLS (RFC 3261 §26, port 5061).
    Tls,
    /// SIP over WebSocket (RFC 7118), plain.
    Ws,
    /// SIP over WebSocket over TLS.
    Wss,
}

impl Transport {
    /// Every transport, for tables keyed by it.
    pub const ALL: [Transport; 5] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ];

    /// A connection carries the messages: no retransmissions, and
    /// requests to the peer go down the connection it opened.
    pub fn reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// A browser's transport: SIP over WebSocket, plain or secure.
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// The transport a Via name or a `transport=` parameter names (any
    /// case).
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|t| t.via_name().eq_ignore_ascii_case(name))
    }

    /// The `transport=` URI parameter that reaches us over it (`None`
    /// for UDP, the default).
    pub fn uri_param(self) -> Option<&'static str> {
        match self {
            Transport::Udp => None,
            Transport::Tcp => Some("tcp"),
            Transport::Tls => Some("tls"),
            Transport::Ws => Some("ws"),
            Transport::Wss => Some("wss"),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_name())
    }
}

/// The other end: for TCP the address names the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub bytes: Vec<u8>,
}

/// What the TU must hear about.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request (not ACK, not a retransmission): answer it with
    /// [`EndpointCore::respond`] and `key`.
    Request {
        key: TransactionKey,
        request: Message,
        peer: Peer,
    },
    /// The ACK for a 2xx we sent (it is not part of any transaction).
    Ack { request: Message, peer: Peer },
    /// A CANCEL for an INVITE we have not finally answered. The CANCEL got
    /// its 200 already; the TU should answer the INVITE (`invite`) 487.
    Cancel {
        invite: TransactionKey,
        request: Message,
    },
    /// A response to one of our requests.
    Response {
        key: TransactionKey,
        response: Message,
    },
    /// One of our requests got no final answer in time (timer B or F), or
    /// could not be sent: treat as 408.
    Timeout { key: TransactionKey },
    /// A 2xx we sent to an INVITE was never acknowledged (64·T1).
    AckTimeout { call_id: String, cseq: u32 },
    /// Something was refused or dropped before the TU saw it (for logs and
    /// metrics).
    Refused {
        peer: Peer,
        status: Option<u16>,
        reason: String,
    },
}

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub timers: TimerConfig,
    /// Largest message accepted (bytes); larger requests get 513.
    pub max_message_size: usize,
    /// Prefix of every branch this endpoint generates (after the magic
    /// cookie); it is how loops are recognised.
    pub branch_prefix: String,
    /// Server / User-Agent header value.
    pub user_agent: String,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            timers: TimerConfig::default(),
            max_message_size: 16 * 1024,
            branch_prefix: format!("z9hG4bK-sy{:08x}-", rand_u32()),
            user_agent: "Switchyard".into(),
        }
    }
}

fn rand_u32() -> u32 {
    // Enough to tell two hosts' branches apart; not a secret.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

struct ServerTx {
    peer: Peer,
    /// An INVITE's, until the final response: what a 100 Trying is built
    /// from. Not kept otherwise — a completed transaction lingers (Timer
    /// J: 32 s over UDP) only to answer retransmissions with
    /// `last_response`, and a parsed request was most of its memory (a
    /// registration storm kept two per registration alive that long).
    request: Option<Box<Message>>,
    last_response: Option<Vec<u8>>,
    final_sent: bool,
}

struct ClientTx {
    peer: Peer,
    request: Message,
    bytes: Vec<u8>,
    /// The To of the final non-2xx response (for the ACK we build).
    final_to: Option<String>,
}

struct Pending2xx {
    peer: Peer,
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

struct SentAck {
    peer: Peer,
    bytes: Vec<u8>,
    forget_at: Instant,
}

/// The endpoint state machine.
pub struct EndpointCore {
    cfg: EndpointConfig,
    table: TransactionTable,
    server: HashMap<TransactionKey, ServerTx>,
    client: HashMap<TransactionKey, ClientTx>,
    pending_2xx: HashMap<(String, u32), Pending2xx>,
    sent_acks: HashMap<(String, u32), SentAck>,
    /// When each sent ACK may be forgotten, oldest first: every entry is
    /// kept for the same 64·T1, so insertion order is expiry order and the
    /// next deadline is the front — no scan of thousands of entries on
    /// every wake-up (it showed in the call-setup profile).
    sent_ack_expiry: VecDeque<(Instant, (String, u32))>,
    local: HashMap<Transport, String>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counter: u64,
}

impl EndpointCore {
    pub fn new(cfg: EndpointConfig) -> EndpointCore {
        EndpointCore {
            cfg,
            table: TransactionTable::new(),
            server: HashMap::new(),
            client: HashMap::new(),
            pending_2xx: HashMap::new(),
            sent_acks: HashMap::new(),
            sent_ack_expiry: VecDeque::new(),
            local: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counter: 0,
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Where this endpoint listens for `transport` (`host:port`, used in
    /// our Via and Contact headers).
    pub fn set_local(&mut self, transport: Transport, sent_by: impl Into<String>) {
        self.local.insert(transport, sent_by.into());
    }

    pub fn local(&self, transport: Transport) -> &str {
        self.local
            .get(&transport)
            .map(String::as_str)
            .unwrap_or("127.0.0.1:5060")
    }

    /// Live transactions (for metrics and tests).
    pub fn transactions(&self) -> usize {
        self.table.len()
    }

    /// A fresh branch of ours.
    pub fn new_branch(&mut self) -> String {
        self.counter += 1;
        format!("{}{:x}", self.cfg.branch_prefix, self.counter)
    }

    // ----- input --------------------------------------------------------

    /// One datagram, or one message cut from a stream.
    pub fn handle_message(&mut self, now: Instant, bytes: &[u8], peer: Peer) {
        if bytes.len() > self.cfg.max_message_size {
            if let Ok(mut m) = parse(bytes, Framing::Datagram)
                && m.is_request()
                && m.method() != "ACK"
                && m.top_via().is_some()
            {
                stamp_via(&mut m, peer.addr);
                self.reply_stateless(&m, 513, "", peer);
            }
            self.refused(peer, Some(513), "message over the size cap");
            return;
        }
        let msg = match parse(bytes, Framing::Datagram) {
            // Stamped before anything answers it or keys it, so every
            // answer and every retransmission sees the same top Via.
            Ok(mut m) if m.is_request() => {
                stamp_via(&mut m, peer.addr);
                m
            }
            Ok(m) => m,
            Err(ParseError::Reject {
                status,
                reason,
                partial,
            }) => {
                match partial {
                    Some(mut m) if m.top_via().is_some() && m.method() != "ACK" => {
                        stamp_via(&mut m, peer.addr);
                        self.reply_stateless(&m, status, reason, peer)
                    }
                    _ => {}
                }
                self.refused(peer, Some(status), reason);
                return;
            }
            Err(ParseError::Drop(reason)) => {
                self.refused(peer, None, reason);
                return;
            }
        };
        if msg.is_request() {
            self.handle_request(now, msg, peer);
        } else {
            self.handle_response(now, msg, peer);
        }
    }

    /// A stream message that cannot be framed (over the cap: 513; unknown
    /// length: 400): answer from its head when it is a request, before the
    /// driver closes the connection.
    pub fn reject_unframed(&mut self, head: &[u8], status: u16, peer: Peer) {
        let m = match parse(head, Framing::Stream) {
            Ok(m) => Some(m),
            Err(ParseError::Reject { partial, .. }) => partial.map(|b| *b),
            Err(ParseError::Drop(_)) => None,
        };
        if let Some(mut m) = m
            && m.is_request()
            && m.method() != "ACK"
            && m.top_via().is_some()
        {
            stamp_via(&mut m, peer.addr);
            self.reply_stateless(&m, status, "", peer);
        }
        self.refused(peer, Some(status), "stream message cannot be framed");
    }

    fn handle_request(&mut self, now: Instant, req: Message, peer: Peer) {
        if let Err(rejection) = validate_request(&req) {
            match rejection {
                Rejection::Respond {
                    status,
                    reason,
                    headers,
                } if req.method() != "ACK" => {
                    let mut r = response(&req, status, &reason, Some(&self.tag_for(&req)));
                    for (n, v) in headers {
                        r.headers.push(n, v);
                    }
                    self.send_message(peer, &r);
                    self.refused(peer, Some(status), &reason);
                }
                Rejection::Respond { status, reason, .. } => {
                    self.refused(peer, Some(status), &reason)
                }
                Rejection::Drop(r) => self.refused(peer, None, r),
            }
            return;
        }
        let mut key = request_key(&req);
        // An RFC 2543 ACK is keyed without its To tag (the INVITE had none;
        // our answer added it). An INVITE that came with a To tag (an old
        // element's re-INVITE, RFC 4475 wsinv) kept it in its key and in our
        // answer, so its ACK matches with the tag it carries.
        if req.method() == "ACK"
            && !self.server.contains_key(&key)
            && let TransactionKey::Rfc2543(k) = &mut key
        {
            k.to_tag = req.to_tag().unwrap_or("").to_string();
        }
        if req.method() == "ACK" {
            let absorbed = self.server.contains_key(&key)
                && self
                    .table
                    .with(&key, |t| match t {
                        AnyTransaction::ServerInvite(s) => s.handle_ack(now),
                        _ => Delivery::ToTu,
                    })
                    .is_some_and(|d| d == Delivery::Absorbed);
            self.flush_outputs(now);
            if !absorbed {
                if let Some((n, _)) = req.cseq() {
                    self.pending_2xx.remove(&(req.call_id().to_string(), n));
                }
                self.events.push_back(Event::Ack { request: req, peer });
            }
            return;
        }
        // A retransmission goes to its transaction, which resends the last
        // response if it has one.
        if self.server.contains_key(&key) {
            self.table.with(&key, |t| match t {
                AnyTransaction::ServerInvite(s) => s.handle_request_retransmission(),
                AnyTransaction::ServerNonInvite(s) => s.handle_request_retransmission(),
                _ => Delivery::Absorbed,
            });
            self.flush_outputs(now);
            return;
        }
        if has_own_branch(&req, &self.cfg.branch_prefix) {
            self.reply_stateless(&req, 482, "", peer);
            self.refused(peer, Some(482), "loop detected");
            return;
        }
        if req.method() == "CANCEL" {
            self.handle_cancel(now, key, req, peer);
            return;
        }
        let tx = if req.method() == "INVITE" {
            AnyTransaction::ServerInvite(Box::new(ServerInvite::new(
                now,
                self.cfg.timers,
                peer.transport.reliable(),
            )))
        } else {
            AnyTransaction::ServerNonInvite(ServerNonInvite::new(
                now,
                self.cfg.timers,
                peer.transport.reliable(),
            ))
        };
        self.server.insert(
            key.clone(),
            ServerTx {
                peer,
                // Only an INVITE's transaction answers with a 100 of its own.
                request: (req.method() == "INVITE").then(|| Box::new(req.clone())),
                last_response: None,
                final_sent: false,
            },
        );
        self.table.insert(key.clone(), tx);
        self.flush_outputs(now);
        self.events.push_back(Event::Request {
            key,
            request: req,
            peer,
        });
    }

    fn handle_cancel(&mut self, now: Instant, key: TransactionKey, req: Message, peer: Peer) {
        let invite = key.cancelled_invite();
        let live = invite
            .as_ref()
            .and_then(|k| self.server.get(k))
            .filter(|s| !s.final_sent)
            .is_some();
        // The CANCEL is a transaction of its own; answer it through one so
        // its retransmissions get the same answer.
        self.server.insert(
            key.clone(),
            ServerTx {
                peer,
                request: None,
                last_response: None,
                final_sent: false,
            },
        );
        self.table.insert(
            key.clone(),
            AnyTransaction::ServerNonInvite(ServerNonInvite::new(
                now,
                self.cfg.timers,
                peer.transport.reliable(),
            )),
        );
        let status = if live { 200 } else { 481 };
        let tag = self.tag_for(&req);
        let r = response(&req, status, "", Some(&tag));
        self.respond(now, &key, r);
        if let (true, Some(invite)) = (live, invite) {
            self.events.push_back(Event::Cancel {
                invite,
                request: req,
            });
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Message, peer: Peer) {
        if let Err(reason) = validate_response(&resp) {
            self.refused(peer, None, reason);
            return;
        }
        let (Some(branch), Some((cseq, method))) = (resp.branch(), resp.cseq()) else {
            self.refused(peer, None, "response without branch");
            return;
        };
        let sent_by = via_sent_by(resp.top_via().unwrap_or(""));
        let key = TransactionKey::for_response(branch, &sent_by, method);
        let status = resp.status();
        let is_invite = method == "INVITE";
        let call_key = (resp.call_id().to_string(), cseq);
        if is_invite && (200..300).contains(&status) {
            // A retransmitted 2xx we already acknowledged: same ACK again.
            if let Some(ack) = self.sent_acks.get(&call_key) {
                let t = Transmit {
                    peer: ack.peer,
                    bytes: ack.bytes.clone(),
                };
                self.transmits.push_back(t);
                return;
            }
        }
        if !self.client.contains_key(&key) {
            self.refused(peer, None, "response matches no transaction");
            return;
        }
        if status >= 300
            && let Some(c) = self.client.get_mut(&key)
        {
            c.final_to = resp.headers.get("To").map(str::to_string);
        }
        let delivery = self.table.with(&key, |t| match t {
            AnyTransaction::ClientInvite(c) => c.handle_response(now, status),
            AnyTransaction::ClientNonInvite(c) => c.handle_response(now, status),
            _ => Delivery::Absorbed,
        });
        self.flush_outputs(now);
        if delivery == Some(Delivery::ToTu) {
            self.events.push_back(Event::Response {
                key,
                response: resp,
            });
        }
    }

    // ----- TU actions ---------------------------------------------------

    /// Send a request in a new client transaction. A top Via with a fresh
    /// branch is added; Max-Forwards defaults to 70.
    pub fn send_request(&mut self, now: Instant, mut req: Message, peer: Peer) -> TransactionKey {
        let branch = self.new_branch();
        let sent_by = self.local(peer.transport).to_string();
        req.headers.push_front(
            "Via",
            format!("SIP/2.0/{} {sent_by};branch={branch};rport", peer.transport),
        );
        if req.headers.get("Max-Forwards").is_none() {
            req.headers.push("Max-Forwards", "70");
        }
        let method = req.method().to_string();
        let key = TransactionKey::for_response(&branch, &sent_by, &method);
        let bytes = req.to_bytes();
        let reliable = peer.transport.reliable();
        let tx = if method == "INVITE" {
            AnyTransaction::ClientInvite(Box::new(ClientInvite::new(
                now,
                self.cfg.timers,
                reliable,
            )))
        } else {
            AnyTransaction::ClientNonInvite(Box::new(ClientNonInvite::new(
                now,
                self.cfg.timers,
                reliable,
            )))
        };
        self.client.insert(
            key.clone(),
            ClientTx {
                peer,
                request: req,
                bytes,
                final_to: None,
            },
        );
        self.table.insert(key.clone(), tx);
        self.flush_outputs(now);
        key
    }

    /// Cancel our INVITE `invite` (RFC 3261 §9.1): a CANCEL with the same
    /// Request-URI, Call-ID, From, To, CSeq number and top Via, in a
    /// transaction of its own. Nothing is sent when the INVITE is gone.
    pub fn cancel(&mut self, now: Instant, invite: &TransactionKey) -> Option<TransactionKey> {
        let c = self.client.get(invite)?;
        let req = &c.request;
        let mut cancel = Message::request("CANCEL", req.uri());
        for name in ["Via", "From", "To", "Call-ID"] {
            if let Some(v) = if name == "Via" {
                req.top_via()
            } else {
                req.headers.get(name)
            } {
                cancel.headers.push(name, v.to_string());
            }
        }
        let n = req.cseq().map(|c| c.0).unwrap_or(1);
        cancel.headers.push("CSeq", format!("{n} CANCEL"));
        for r in req.headers.get_all("Route") {
            cancel.headers.push("Route", r.to_string());
        }
        cancel.headers.push("Max-Forwards", "70");
        let TransactionKey::Rfc3261 {
            branch, sent_by, ..
        } = invite
        else {
            return None;
        };
        let key = TransactionKey::for_response(branch, sent_by, "CANCEL");
        let peer = c.peer;
        let bytes = cancel.to_bytes();
        self.client.insert(
            key.clone(),
            ClientTx {
                peer,
                request: cancel,
                bytes,
                final_to: None,
            },
        );
        self.table.insert(
            key.clone(),
            AnyTransaction::ClientNonInvite(Box::new(ClientNonInvite::new(
                now,
                self.cfg.timers,
                peer.transport.reliable(),
            ))),
        );
        self.flush_outputs(now);
        Some(key)
    }

    /// Send the ACK for a 2xx (its own branch, no transaction). It is kept
    /// for 64·T1 to answer retransmissions of that 2xx.
    pub fn send_ack(&mut self, now: Instant, mut ack: Message, peer: Peer) {
        let branch = self.new_branch();
        let sent_by = self.local(peer.transport).to_string();
        ack.headers.push_front(
            "Via",
            format!("SIP/2.0/{} {sent_by};branch={branch};rport", peer.transport),
        );
        if ack.headers.get("Max-Forwards").is_none() {
            ack.headers.push("Max-Forwards", "70");
        }
        let bytes = ack.to_bytes();
        if let Some((n, _)) = ack.cseq() {
            let call_key = (ack.call_id().to_string(), n);
            let forget_at = now + self.cfg.timers.transaction_timeout();
            self.sent_ack_expiry
                .push_back((forget_at, call_key.clone()));
            self.sent_acks.insert(
                call_key,
                SentAck {
                    peer,
                    bytes: bytes.clone(),
                    forget_at,
                },
            );
        }
        self.transmits.push_back(Transmit { peer, bytes });
    }

    /// Answer the request of server transaction `key`.
    pub fn respond(&mut self, now: Instant, key: &TransactionKey, mut resp: Message) {
        let Some(tx) = self.server.get_mut(key) else {
            return;
        };
        if tx.final_sent {
            return;
        }
        if resp.headers.get("Server").is_none() {
            resp.headers.push("Server", self.cfg.user_agent.clone());
        }
        let status = resp.status();
        let bytes = resp.to_bytes();
        tx.last_response = Some(bytes.clone());
        tx.final_sent = status >= 200;
        let peer = tx.peer;
        // Only an INVITE's transaction keeps its request.
        let is_invite = tx.request.is_some();
        if tx.final_sent {
            tx.request = None;
        }
        if is_invite
            && (200..300).contains(&status)
            && !peer.transport.reliable()
            && let Some((n, _)) = resp.cseq()
        {
            let t1 = self.cfg.timers.t1;
            self.pending_2xx.insert(
                (resp.call_id().to_string(), n),
                Pending2xx {
                    peer,
                    bytes,
                    next: now + t1,
                    interval: t1,
                    give_up: now + self.cfg.timers.transaction_timeout(),
                },
            );
        }
        self.table.with(key, |t| match t {
            AnyTransaction::ServerInvite(s) => s.send_response(now, status),
            AnyTransaction::ServerNonInvite(s) => s.send_response(now, status),
            _ => {}
        });
        self.flush_outputs(now);
    }

    /// The INVITE a server transaction was created for, until it is
    /// answered finally.
    pub fn server_request(&self, key: &TransactionKey) -> Option<&Message> {
        self.server.get(key).and_then(|s| s.request.as_deref())
    }

    /// Send a message outside any transaction (stateless answers).
    pub fn send_message(&mut self, peer: Peer, msg: &Message) {
        self.transmits.push_back(Transmit {
            peer,
            bytes: msg.to_bytes(),
        });
    }

    fn reply_stateless(&mut self, req: &Message, status: u16, reason: &str, peer: Peer) {
        let tag = self.tag_for(req);
        let mut r = response(req, status, reason, Some(&tag));
        r.headers.push("Server", self.cfg.user_agent.clone());
        self.send_message(peer, &r);
    }

    /// A To tag for stateless answers: stable per request so that a
    /// retransmitted request gets the same tag.
    fn tag_for(&self, req: &Message) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        req.call_id().hash(&mut h);
        req.branch().hash(&mut h);
        format!("sy{:x}", h.finish() as u32)
    }

    fn refused(&mut self, peer: Peer, status: Option<u16>, reason: &str) {
        self.events.push_back(Event::Refused {
            peer,
            status,
            reason: reason.to_string(),
        });
    }

    // ----- output and time ------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let a = self.table.poll_timeout();
        let b = self
            .pending_2xx
            .values()
            .map(|p| p.next.min(p.give_up))
            .min();
        let c = self.sent_ack_expiry.front().map(|(at, _)| *at);
        [a, b, c].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
        self.flush_outputs(now);
        let t2 = self.cfg.timers.t2;
        let mut expired = Vec::new();
        for (k, p) in self.pending_2xx.iter_mut() {
            if p.give_up <= now {
                expired.push(k.clone());
            } else if p.next <= now {
                self.transmits.push_back(Transmit {
                    peer: p.peer,
                    bytes: p.bytes.clone(),
                });
                p.interval = (p.interval * 2).min(t2);
                p.next = now + p.interval;
            }
        }
        for k in expired {
            self.pending_2xx.remove(&k);
            self.events.push_back(Event::AckTimeout {
                call_id: k.0,
                cseq: k.1,
            });
        }
        while let Some((at, _)) = self.sent_ack_expiry.front() {
            if *at > now {
                break;
            }
            let (at, key) = self.sent_ack_expiry.pop_front().expect("front exists");
            // A newer ACK for the same call and CSeq replaced this one.
            if self.sent_acks.get(&key).is_some_and(|a| a.forget_at == at) {
                self.sent_acks.remove(&key);
            }
        }
    }

    fn flush_outputs(&mut self, _now: Instant) {
        while let Some((key, out)) = self.table.poll_output() {
            match out {
                Output::SendRequest => {
                    if let Some(c) = self.client.get(&key) {
                        self.transmits.push_back(Transmit {
                            peer: c.peer,
                            bytes: c.bytes.clone(),
                        });
                    }
                }
                Output::SendAck => {
                    if let Some(c) = self.client.get(&key) {
                        let ack = non_2xx_ack(&c.request, c.final_to.as_deref());
                        self.transmits.push_back(Transmit {
                            peer: c.peer,
                            bytes: ack.to_bytes(),
                        });
                    }
                }
                Output::SendResponse => {
                    if let Some(s) = self.server.get(&key)
                        && let Some(b) = &s.last_response
                    {
                        self.transmits.push_back(Transmit {
                            peer: s.peer,
                            bytes: b.clone(),
                        });
                    }
                }
                Output::SendTrying => {
                    if let Some(s) = self.server.get(&key)
                        && let Some(request) = &s.request
                    {
                        let mut r = response(request, 100, "", None);
                        r.headers.push("Server", self.cfg.user_agent.clone());
                        let peer = s.peer;
                        self.send_message(peer, &r);
                    }
                }
                Output::TimedOut => self.events.push_back(Event::Timeout { key: key.clone() }),
                Output::Terminated => {
                    self.server.remove(&key);
                    self.client.remove(&key);
                }
            }
        }
    }
}

/// The transaction key of an incoming request.
pub fn request_key(req: &Message) -> TransactionKey {
    let top = req.top_via().unwrap_or("");
    let sent_by = via_sent_by(top);
    TransactionKey::for_request(&RequestParts {
        method: req.method(),
        branch: req.branch(),
        sent_by: &sent_by,
        request_uri: req.uri(),
        from_tag: req.from_tag().unwrap_or(""),
        to_tag: req.to_tag().unwrap_or(""),
        call_id: req.call_id(),
        cseq: req.cseq().map(|c| c.0).unwrap_or(0),
        top_via: top,
    })
}

/// `host[:port]` of a Via value, lowercase, whitespace removed.
pub fn via_sent_by(via: &str) -> String {
    let mut rest = via;
    for _ in 0..2 {
        rest = rest.split_once('/').map(|(_, r)| r).unwrap_or("");
    }
    let rest = rest.trim_start();
    let rest = rest
        .split_once(char::is_whitespace)
        .map(|(_, r)| r)
        .unwrap_or("");
    rest.split(';')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// RFC 3261 §17.1.1.3: the ACK for a non-2xx final response.
fn non_2xx_ack(req: &Message, final_to: Option<&str>) -> Message {
    let mut ack = Message {
        start: StartLine::Request {
            method: "ACK".into(),
            uri: req.uri().to_string(),
        },
        headers: Default::default(),
        body: Vec::new(),
    };
    if let Some(via) = req.top_via() {
        ack.headers.push("Via", via.to_string());
    }
    for name in ["From", "Call-ID"] {
        if let Some(v) = req.headers.get(name) {
            ack.headers.push(name, v.to_string());
        }
    }
    let to = final_to
        .map(str::to_string)
        .or_else(|| req.headers.get("To").map(str::to_string))
        .unwrap_or_default();
    ack.headers.push("To", to);
    let n = req.cseq().map(|c| c.0).unwrap_or(1);
    ack.headers.push("CSeq", format!("{n} ACK"));
    for r in req.headers.get_all("Route") {
        ack.headers.push("Route", r.to_string());
    }
    ack.headers.push("Max-Forwards", "70");
    ack
}

/// Reason phrase helper re-exported for TUs building responses.
pub fn phrase(status: u16) -> &'static str {
    reason_phrase(status)
}
