//! One SIP dialog of a call — a **leg** — as a state machine with no I/O
//! and no clock inside.
//!
//! A leg is either the caller's (we are its UAS) or a party we dial (we are
//! its UAC). Above this module every leg looks the same, whatever carries
//! it (a UDP or TCP phone, a carrier trunk, later a browser): the session
//! tells a leg what to do (`answer`, `reject`, `hang_up`, `offer`…), feeds
//! it what arrived (`handle_request`, `handle_response`, `handle_timeout`…)
//! with the time, and drains two queues:
//!
//! * [`Leg::poll_transmit`] — SIP to send: new client transactions (each
//!   with a [`ReqId`] the driver maps to the stack's transaction), answers
//!   to server transactions, ACKs and CANCELs;
//! * [`Leg::poll_event`] — what happened, in terms a call flow cares about
//!   ([`LegEvent`]).
//!
//! ```text
//!        UAS (caller)                          UAC (dialled)
//!  Offered ─answer─► Confirmed        Dialing ─2xx─► Confirmed
//!    │  └reject/CANCEL─► Done           │ │ └4xx-6xx/timeout─► Done
//!    │                                  │ └hang_up: CANCEL (a late 2xx is ACKed and BYEd)
//!    └──────────┐                       │
//!  Confirmed ─BYE in─► Done (200)     Confirmed ─hang_up─► Ending ─BYE answered─► Done
//!  Confirmed: re-INVITE/UPDATE in ─► Offer event (the session answers; a second
//!     offer meanwhile gets 500, ours crossing theirs gets 491), re-INVITE out
//!     ─► OfferAnswered / OfferFailed (491 is retried after RFC 3261 §14.1's
//!     wait), INFO digits, REFER (the session accepts and NOTIFYs progress),
//!     session refresh (RFC 4028) when the peer asked for it
//! ```
//!
//! In-dialog requests reach a leg only if they match its dialog (Call-ID
//! and both tags): the session answers anything else 481, so a late BYE
//! of a leg that has left cannot end another.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use switchyard_sip::dialog::Dialog;
use switchyard_sip::endpoint::Peer;
use switchyard_sip::message::Message;
use switchyard_sip::message::addr::{NameAddr, SipUri};
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;

use crate::ALLOW;

/// One of our client transactions on a leg (numbered per leg; the driver
/// keeps the map to the stack's transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReqId(pub u64);

/// SIP a leg wants sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// Start a client transaction; its responses come back through
    /// [`Leg::handle_response`] and a timeout through
    /// [`Leg::handle_request_timeout`].
    Request { id: ReqId, msg: Message, peer: Peer },
    /// Answer a server transaction.
    Respond { key: TransactionKey, msg: Message },
    /// An ACK for a 2xx (no transaction of its own).
    Ack { msg: Message, peer: Peer },
    /// CANCEL our INVITE `id`.
    Cancel { id: ReqId },
}

/// A [`Transmit`], and whether it tells the peer its call is over (a BYE,
/// the 200 to theirs, a final failure to the INVITE): the session holds
/// those until the call record is durable.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    pub transmit: Transmit,
    pub ends_call: bool,
}

/// The in-dialog method that carried an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferMethod {
    Invite,
    Update,
}

/// What happened on a leg.
#[derive(Debug, Clone, PartialEq)]
pub enum LegEvent {
    /// UAC: 180/183, with the early-media answer if it carried one.
    Progress { status: u16, sdp: Option<Vec<u8>> },
    /// UAC: the party answered (the ACK is queued already), with its SDP.
    /// UAS: never — the session answers the caller itself.
    Answered { sdp: Option<Vec<u8>> },
    /// UAC: no conversation: the final status (408 for a timeout, 487
    /// after our CANCEL).
    Failed { status: u16 },
    /// UAC: the far end asks for credentials (401/407); the owner answers
    /// with [`Leg::retry`] or [`Leg::give_up`].
    Challenged { response: Message },
    /// UAS: the caller cancelled before we answered (487 sent).
    Cancelled,
    /// The peer hung up (BYE answered 200).
    HungUp,
    /// The peer never ACKed our 2xx (Timer H): we sent a BYE.
    AckTimeout,
    /// The peer let its session timer run out (RFC 4028): we sent a BYE.
    SessionExpired,
    /// The peer offers new SDP in-dialog (hold, resume, codec change);
    /// answer with [`Leg::answer_offer`] or [`Leg::refuse_offer`].
    /// `sdp` is empty when the peer asks for our offer (re-INVITE without
    /// a body).
    Offer { method: OfferMethod, sdp: Vec<u8> },
    /// Our re-INVITE was answered 2xx (ACKed already).
    OfferAnswered { sdp: Option<Vec<u8>> },
    /// Our re-INVITE failed for good (not 491, which is retried).
    OfferFailed { status: u16 },
    /// A key pressed, sent as SIP INFO (application/dtmf-relay).
    Digit(char),
    /// The peer asks us to transfer it (REFER): the Refer-To URI's user
    /// part, and the dialog its `?Replaces=` names (an attended transfer,
    /// RFC 3891/5589). Answer with [`Leg::accept_refer`] or
    /// [`Leg::refuse_refer`].
    Refer {
        target: String,
        replaces: Option<Replaces>,
    },
    /// The dialog is over; nothing more will come from this leg.
    Closed,
}

/// The dialog a Refer-To's `Replaces` names (RFC 3891): its Call-ID and
/// both tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
}

impl Replaces {
    /// The `Replaces` header embedded in a Refer-To URI
    /// (`sip:1003@host?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2`).
    fn of_refer_to(uri: &str) -> Option<Replaces> {
        let (_, headers) = uri.split_once('?')?;
        let value = headers.split('&').find_map(|h| {
            let (name, value) = h.split_once('=')?;
            name.eq_ignore_ascii_case("replaces").then_some(value)
        })?;
        let value = switchyard_sip::message::addr::percent_decode(value);
        let mut parts = value.split(';');
        let call_id = parts.next()?.trim().to_string();
        let (mut to_tag, mut from_tag) = (None, None);
        for p in parts {
            match p.split_once('=') {
                Some((n, v)) if n.trim().eq_ignore_ascii_case("to-tag") => to_tag = Some(v.trim()),
                Some((n, v)) if n.trim().eq_ignore_ascii_case("from-tag") => {
                    from_tag = Some(v.trim())
                }
                _ => {}
            }
        }
        (!call_id.is_empty()).then_some(())?;
        Some(Replaces {
            call_id,
            to_tag: to_tag?.to_string(),
            from_tag: from_tag?.to_string(),
        })
    }
}

/// Whether we answer (UAS) or place (UAC) the leg's INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Uas,
    Uac,
}

#[derive(Debug)]
enum State {
    /// UAS: the caller's INVITE, not finally answered yet.
    Offered,
    /// UAC: our INVITE is out; no final answer yet.
    Dialing {
        cancelled: bool,
    },
    /// The dialog is up.
    Confirmed,
    /// We sent a BYE and wait for its answer.
    Ending,
    Done,
}

/// What a client transaction of ours was for.
#[derive(Debug, Clone)]
enum Purpose {
    Invite,
    ReInvite,
    Bye,
    /// NOTIFY, INFO: their answers change nothing.
    Other,
}

/// How long a session lasts without a refresh when the peer asked for a
/// session timer, and our floor (RFC 4028 §4: Min-SE 90 s).
const MIN_SE: u32 = 90;
/// Timer H with the default T1 (500 ms): 64·T1.
const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(32);
/// The longest session interval we grant (30 min, the RFC's default).
const MAX_SE: u32 = 1800;

pub struct Leg {
    role: Role,
    state: State,
    peer: Peer,
    /// Our Contact header value.
    contact: String,
    /// UAS: the caller's INVITE and its transaction; UAC: our INVITE.
    invite: Message,
    invite_key: Option<TransactionKey>,
    invite_id: Option<ReqId>,
    /// The tag we put in our To (UAS) or From (UAC).
    local_tag: String,
    dialog: Option<Dialog>,
    next_id: u64,
    requests: HashMap<ReqId, Purpose>,
    /// An offer of the peer's we have not answered: its transaction.
    pending_offer: Option<(TransactionKey, Message)>,
    /// Our re-INVITE in flight, and the body it carried.
    our_offer: Option<(ReqId, Vec<u8>)>,
    /// Our re-INVITE refused 491: sent again at this time (§14.1).
    glare_retry: Option<(Instant, Vec<u8>)>,
    /// An offer the session made while another exchange was open: sent
    /// when that one ends.
    deferred_offer: Option<Vec<u8>>,
    /// A REFER of the peer's the session has not answered.
    pending_refer: Option<(TransactionKey, Message)>,
    /// The REFER we accepted: NOTIFYs go in its subscription.
    refer_accepted: bool,
    /// Timer H for our 2xx (UAS), from the time it was sent.
    ack_deadline: Option<Instant>,
    ack_timeout: Duration,
    /// RFC 4028: the peer refreshes before this, or the call ends.
    session_expires: Option<(Duration, Instant)>,
    transmits: VecDeque<Out>,
    events: VecDeque<LegEvent>,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("call_id", &self.call_id())
            .finish()
    }
}

impl Leg {
    /// The caller's leg, from its INVITE (already authenticated and
    /// admitted). `local_tag` goes in every answer's To; `ack_timeout` is
    /// Timer H (64·T1).
    pub fn incoming(
        key: TransactionKey,
        invite: Message,
        peer: Peer,
        contact: String,
        local_tag: String,
        ack_timeout: Duration,
    ) -> Leg {
        let dialog = Dialog::uas(&invite, &local_tag);
        Leg {
            role: Role::Uas,
            state: State::Offered,
            peer,
            contact,
            invite,
            invite_key: Some(key),
            invite_id: None,
            local_tag,
            dialog: Some(dialog),
            next_id: 0,
            requests: HashMap::new(),
            pending_offer: None,
            our_offer: None,
            glare_retry: None,
            deferred_offer: None,
            pending_refer: None,
            refer_accepted: false,
            ack_deadline: None,
            ack_timeout,
            session_expires: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A leg we dial: `invite` is complete (From with our tag, To,
    /// Call-ID, CSeq, Contact, body); it is sent at once.
    pub fn outgoing(invite: Message, peer: Peer, contact: String) -> Leg {
        let local_tag = invite.from_tag().unwrap_or_default().to_string();
        let mut leg = Leg {
            role: Role::Uac,
            state: State::Dialing { cancelled: false },
            peer,
            contact,
            invite: invite.clone(),
            invite_key: None,
            invite_id: None,
            local_tag,
            dialog: None,
            next_id: 0,
            requests: HashMap::new(),
            pending_offer: None,
            our_offer: None,
            glare_retry: None,
            deferred_offer: None,
            pending_refer: None,
            refer_accepted: false,
            ack_deadline: None,
            // Our 2xx to their re-INVITE waits for an ACK as long as the
            // caller's does (64·T1 unless the owner says otherwise).
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            session_expires: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        let id = leg.send(invite, Purpose::Invite, false);
        leg.invite_id = Some(id);
        leg
    }

    /// Timer H (64·T1) for the 2xx this leg sends.
    pub fn with_ack_timeout(mut self, ack_timeout: Duration) -> Leg {
        self.ack_timeout = ack_timeout;
        self
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The Call-ID of this leg's dialog.
    pub fn call_id(&self) -> &str {
        self.invite.call_id()
    }

    /// The INVITE that made the leg (the caller's, or ours).
    pub fn invite(&self) -> &Message {
        &self.invite
    }

    /// The dialog is up (answered, not ended).
    pub fn is_confirmed(&self) -> bool {
        matches!(self.state, State::Confirmed)
    }

    /// UAC: our INVITE has no final answer yet (cancelled or not).
    pub fn is_dialing(&self) -> bool {
        matches!(self.state, State::Dialing { .. })
    }

    /// Nothing more will happen on this leg.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// UAS: a final answer went out (answered, rejected or cancelled).
    pub fn is_final_sent(&self) -> bool {
        !matches!(self.state, State::Offered)
    }

    /// Is this leg's confirmed dialog the one `r` names? The tags are
    /// compared as a pair in either order: RFC 3891 words them from the
    /// replacing INVITE's recipient, and phones disagree on whose that
    /// is; a Call-ID and both tags identify the dialog either way.
    pub fn is_named_by(&self, r: &Replaces) -> bool {
        self.is_confirmed()
            && self.dialog.as_ref().is_some_and(|d| {
                d.call_id == r.call_id
                    && ((d.local_tag == r.to_tag && d.remote_tag == r.from_tag)
                        || (d.local_tag == r.from_tag && d.remote_tag == r.to_tag))
            })
    }

    /// Does in-dialog request `req` belong to this leg's dialog?
    pub fn owns(&self, req: &Message) -> bool {
        self.dialog.as_ref().is_some_and(|d| d.matches(req))
    }

    // ---- what the session tells a leg --------------------------------

    /// UAS: a provisional answer (180, or 183 with early media).
    pub fn progress(&mut self, status: u16, sdp: Option<Vec<u8>>) {
        if !matches!(self.state, State::Offered) {
            return;
        }
        let mut r = self.answer_to_invite(status, "");
        if let Some(body) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = body;
        }
        self.respond_invite(r, false);
    }

    /// UAS: answer the caller (200 with our SDP). Timer H starts; a
    /// session timer is granted if the caller asked for one.
    pub fn answer(&mut self, now: Instant, sdp: Option<Vec<u8>>) {
        if !matches!(self.state, State::Offered) {
            return;
        }
        let mut r = self.answer_to_invite(200, "");
        r.headers.push("Allow", ALLOW);
        if let Some(se) = requested_session_timer(&self.invite) {
            let se = se.clamp(MIN_SE, MAX_SE);
            // The caller refreshes (it asked; we never send refreshes).
            r.headers
                .push("Session-Expires", format!("{se};refresher=uac"));
            r.headers.push("Require", "timer");
            self.session_expires = Some((
                Duration::from_secs(u64::from(se)),
                now + Duration::from_secs(u64::from(se)),
            ));
        }
        if let Some(body) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = body;
        }
        self.respond_invite(r, false);
        self.state = State::Confirmed;
        self.ack_deadline = Some(now + self.ack_timeout);
    }

    /// UAS: refuse the call with a final failure.
    pub fn reject(&mut self, status: u16, reason: &str) {
        self.reject_with(status, reason, Vec::new());
    }

    /// UAS: refuse the call with extra headers (e.g. Retry-After).
    pub fn reject_with(&mut self, status: u16, reason: &str, headers: Vec<(&str, String)>) {
        if !matches!(self.state, State::Offered) {
            return;
        }
        let mut r = self.answer_to_invite(status, reason);
        for (n, v) in headers {
            r.headers.push(n, v);
        }
        self.respond_invite(r, true);
        self.state = State::Done;
        self.events.push_back(LegEvent::Closed);
    }

    /// End the leg whatever its state: CANCEL a ringing UAC leg, BYE a
    /// confirmed one, 480 to an unanswered caller (`reason` as phrase).
    pub fn hang_up(&mut self, reason: &str) {
        match self.state {
            State::Offered => self.reject(480, reason),
            State::Dialing { cancelled: false } => {
                if let Some(id) = self.invite_id {
                    self.transmits.push_back(Out {
                        transmit: Transmit::Cancel { id },
                        ends_call: false,
                    });
                }
                self.state = State::Dialing { cancelled: true };
            }
            State::Confirmed => {
                // A pending offer of the peer's dies with the dialog.
                if let Some((key, req)) = self.pending_offer.take() {
                    let r = response(&req, 487, "", Some(&self.local_tag));
                    self.push_respond(key, r, false);
                }
                self.our_offer = None;
                self.glare_retry = None;
                self.deferred_offer = None;
                self.send_in_dialog("BYE", Purpose::Bye, true);
                self.state = State::Ending;
            }
            State::Dialing { cancelled: true } | State::Ending | State::Done => {}
        }
    }

    /// UAC: send the INVITE again with credentials (after
    /// [`LegEvent::Challenged`]).
    pub fn retry(&mut self, invite: Message) {
        if !matches!(self.state, State::Dialing { cancelled: false }) {
            return;
        }
        self.invite = invite.clone();
        let id = self.send(invite, Purpose::Invite, false);
        self.invite_id = Some(id);
    }

    /// UAC: no credentials for a challenge: the leg fails with its status.
    pub fn give_up(&mut self, status: u16) {
        if matches!(self.state, State::Dialing { .. }) {
            self.state = State::Done;
            self.events.push_back(LegEvent::Failed { status });
            self.events.push_back(LegEvent::Closed);
        }
    }

    /// Offer new SDP to the peer (re-INVITE): hold, resume, a new codec.
    /// A re-INVITE already in flight is superseded: the newest offer is
    /// sent once it is answered.
    pub fn offer(&mut self, sdp: Vec<u8>) {
        if !matches!(self.state, State::Confirmed) {
            return;
        }
        if self.our_offer.is_some() || self.pending_offer.is_some() || self.glare_retry.is_some() {
            // One offer at a time (RFC 3264 §4): the newest goes out once
            // the open exchange ends.
            self.deferred_offer = Some(sdp);
            return;
        }
        self.send_reinvite(sdp);
    }

    /// Answer the peer's pending offer with our SDP (2xx).
    pub fn answer_offer(&mut self, now: Instant, sdp: Option<Vec<u8>>) {
        let Some((key, req)) = self.pending_offer.take() else {
            return;
        };
        let mut r = response(&req, 200, "", Some(&self.local_tag));
        r.headers.push("Contact", self.contact.clone());
        if let Some((se, _)) = self.session_expires {
            r.headers
                .push("Session-Expires", format!("{};refresher=uac", se.as_secs()));
            r.headers.push("Require", "timer");
        }
        if let Some(body) = sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = body;
        }
        if let Some((se, _)) = self.session_expires {
            self.session_expires = Some((se, now + se));
        }
        self.push_respond(key, r, false);
        if req.method() == "INVITE" {
            // Timer H again: the re-INVITE's 2xx waits for its ACK too.
            self.ack_deadline = Some(now + self.ack_timeout);
        }
    }

    /// Refuse the peer's pending offer (488 when nothing fits, 500 …).
    pub fn refuse_offer(&mut self, status: u16) {
        if let Some((key, req)) = self.pending_offer.take() {
            let r = response(&req, status, "", Some(&self.local_tag));
            self.push_respond(key, r, false);
        }
    }

    /// Accept the peer's REFER (202) and tell it the transfer is under way
    /// (NOTIFY `SIP/2.0 100 Trying`, RFC 3515 §2.4.5).
    pub fn accept_refer(&mut self) {
        let Some((key, refer)) = self.pending_refer.take() else {
            return;
        };
        let r = response(&refer, 202, "", Some(&self.local_tag));
        self.push_respond(key, r, false);
        self.refer_accepted = true;
        self.notify_refer("SIP/2.0 100 Trying", false);
    }

    /// Refuse the peer's REFER.
    pub fn refuse_refer(&mut self, status: u16, reason: &str) {
        let Some((key, refer)) = self.pending_refer.take() else {
            return;
        };
        let r = response(&refer, status, reason, Some(&self.local_tag));
        self.push_respond(key, r, false);
    }

    /// Report a transfer's progress to the transferor: the target's status
    /// line as a sipfrag; `done` ends the implicit subscription.
    pub fn notify_refer(&mut self, status_line: &str, done: bool) {
        if !self.refer_accepted || !matches!(self.state, State::Confirmed) {
            return;
        }
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let mut n = d.request("NOTIFY");
        n.headers.push("Event", "refer");
        n.headers.push(
            "Subscription-State",
            if done {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        n.headers.push("Contact", self.contact.clone());
        n.headers
            .push("Content-Type", "message/sipfrag;version=2.0");
        n.body = format!("{status_line}\r\n").into_bytes();
        if done {
            self.refer_accepted = false;
        }
        self.send(n, Purpose::Other, false);
    }

    // ---- what arrives --------------------------------------------------

    /// UAS: the caller's CANCEL (the stack answered it 200 already).
    pub fn handle_cancel(&mut self) {
        if matches!(self.state, State::Offered) {
            let r = self.answer_to_invite(487, "");
            self.respond_invite(r, true);
            self.state = State::Done;
            self.events.push_back(LegEvent::Cancelled);
            self.events.push_back(LegEvent::Closed);
        }
    }

    /// The ACK for our 2xx.
    pub fn handle_ack(&mut self) {
        self.ack_deadline = None;
    }

    /// The stack's own Timer H fired for our 2xx.
    pub fn handle_ack_timeout(&mut self) {
        if matches!(self.state, State::Confirmed) {
            self.ack_deadline = None;
            self.events.push_back(LegEvent::AckTimeout);
            self.hang_up("");
        }
    }

    /// An in-dialog request the leg [owns](Leg::owns).
    pub fn handle_request(&mut self, now: Instant, key: TransactionKey, req: Message) {
        let tag = self.local_tag.clone();
        let method = req.method().to_string();
        if method == "ACK" {
            self.handle_ack();
            return;
        }
        let in_order = self
            .dialog
            .as_mut()
            .is_some_and(|d| d.accept_remote_cseq(&req));
        if !in_order {
            let r = response(&req, 500, "CSeq Out Of Order", Some(&tag));
            return self.push_respond(key, r, false);
        }
        let live = matches!(self.state, State::Confirmed | State::Ending);
        match method.as_str() {
            "BYE" if live || matches!(self.state, State::Offered) => {
                let ended = matches!(self.state, State::Ending);
                if let Some((k, r)) = self.pending_offer.take() {
                    let rr = response(&r, 487, "", Some(&tag));
                    self.push_respond(k, rr, false);
                }
                if matches!(self.state, State::Offered) {
                    // RFC 3261 §15.1.2: a BYE before our final answer
                    // ends the INVITE with 487.
                    let r = self.answer_to_invite(487, "");
                    self.respond_invite(r, false);
                }
                let r = response(&req, 200, "", Some(&tag));
                self.push_respond(key, r, true);
                self.state = State::Done;
                self.our_offer = None;
                self.glare_retry = None;
                self.deferred_offer = None;
                if let Some((k, r)) = self.pending_refer.take() {
                    let rr = response(&r, 487, "", Some(&tag));
                    self.push_respond(k, rr, false);
                }
                if !ended {
                    self.events.push_back(LegEvent::HungUp);
                }
                self.events.push_back(LegEvent::Closed);
            }
            "INVITE" | "UPDATE" if matches!(self.state, State::Confirmed) => {
                if self.pending_offer.is_some() {
                    // RFC 3261 §14.2: an offer while one of theirs is
                    // unanswered.
                    let mut r = response(&req, 500, "Offer Pending", Some(&tag));
                    r.headers.push("Retry-After", "1");
                    return self.push_respond(key, r, false);
                }
                if self.our_offer.is_some() {
                    // Glare: both sides offered at once.
                    let r = response(&req, 491, "", Some(&tag));
                    return self.push_respond(key, r, false);
                }
                if let Some(d) = self.dialog.as_mut() {
                    d.refresh_target(&req);
                }
                let method = if method == "INVITE" {
                    OfferMethod::Invite
                } else {
                    OfferMethod::Update
                };
                // A refresh without SDP (UPDATE) is answered here: the
                // session has nothing to decide.
                if method == OfferMethod::Update && req.body.is_empty() {
                    self.pending_offer = Some((key, req));
                    return self.answer_offer(now, None);
                }
                let sdp = req.body.clone();
                self.pending_offer = Some((key, req));
                self.events.push_back(LegEvent::Offer { method, sdp });
            }
            "INFO" if live => {
                let digit = info_digit(&req);
                let r = response(&req, 200, "", Some(&tag));
                self.push_respond(key, r, false);
                if let Some(d) = digit {
                    self.events.push_back(LegEvent::Digit(d));
                }
            }
            "REFER" if matches!(self.state, State::Confirmed) => {
                let refer_to = req
                    .headers
                    .get("Refer-To")
                    .and_then(|v| NameAddr::parse(v).ok())
                    .map(|a| a.uri);
                let replaces = refer_to.as_deref().and_then(Replaces::of_refer_to);
                let target = refer_to
                    .as_deref()
                    .and_then(|u| SipUri::parse(u.split('?').next().unwrap_or(u)).ok())
                    .and_then(|u| u.user_decoded())
                    .filter(|u| !u.is_empty());
                match target {
                    Some(target) => {
                        self.pending_refer = Some((key, req));
                        self.events.push_back(LegEvent::Refer { target, replaces });
                    }
                    None => {
                        let r = response(&req, 400, "Refer-To Without A User", Some(&tag));
                        self.push_respond(key, r, false);
                    }
                }
            }
            "OPTIONS" | "NOTIFY" if live => {
                let r = response(&req, 200, "", Some(&tag));
                self.push_respond(key, r, false);
            }
            _ if live => {
                let mut r = response(&req, 501, "", Some(&tag));
                r.headers.push("Allow", ALLOW);
                self.push_respond(key, r, false);
            }
            _ => {
                let r = response(&req, 481, "", Some(&tag));
                self.push_respond(key, r, false);
            }
        }
    }

    /// A response to one of our client transactions.
    pub fn handle_response(&mut self, now: Instant, id: ReqId, resp: Message) {
        let Some(purpose) = self.requests.get(&id).cloned() else {
            return;
        };
        let status = resp.status();
        // An INVITE's 2xx may come again (our ACK was lost, or another
        // fork answered): its id stays known so each is ACKed.
        let answered_invite = matches!(purpose, Purpose::Invite) && (200..300).contains(&status);
        if status >= 200 && !answered_invite {
            self.requests.remove(&id);
        }
        match purpose {
            Purpose::Invite => self.invite_response(id, resp),
            Purpose::ReInvite => self.reinvite_response(now, id, resp),
            Purpose::Bye => {
                if status >= 200 && matches!(self.state, State::Ending) {
                    self.close();
                }
            }
            Purpose::Other => {}
        }
    }

    /// One of our client transactions got no final answer (Timer B/F) or
    /// could not be sent.
    pub fn handle_request_timeout(&mut self, id: ReqId) {
        let Some(purpose) = self.requests.remove(&id) else {
            return;
        };
        match purpose {
            Purpose::Invite
                if Some(id) == self.invite_id && matches!(self.state, State::Dialing { .. }) =>
            {
                self.state = State::Done;
                self.events.push_back(LegEvent::Failed { status: 408 });
                self.events.push_back(LegEvent::Closed);
            }
            // RFC 3261 §14.1: a re-INVITE timing out ends the dialog.
            Purpose::ReInvite if self.our_offer.as_ref().is_some_and(|(o, _)| *o == id) => {
                self.our_offer = None;
                self.events.push_back(LegEvent::OfferFailed { status: 408 });
                self.hang_up("");
            }
            Purpose::Bye if matches!(self.state, State::Ending) => self.close(),
            _ => {}
        }
    }

    /// Timers: Timer H for our 2xx, the session timer, a glare retry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ack_deadline.is_some_and(|t| now >= t) {
            self.ack_deadline = None;
            if matches!(self.state, State::Confirmed) {
                self.events.push_back(LegEvent::AckTimeout);
                self.hang_up("");
            }
        }
        if self.session_expires.is_some_and(|(_, t)| now >= t) {
            self.session_expires = None;
            if matches!(self.state, State::Confirmed) {
                self.events.push_back(LegEvent::SessionExpired);
                self.hang_up("");
            }
        }
        if self.glare_retry.as_ref().is_some_and(|(t, _)| now >= *t) {
            let (_, sdp) = self.glare_retry.take().expect("checked");
            if matches!(self.state, State::Confirmed) && self.pending_offer.is_none() {
                // A newer offer made meanwhile wins over the refused one.
                let sdp = self.deferred_offer.take().unwrap_or(sdp);
                self.send_reinvite(sdp);
            } else {
                self.deferred_offer.get_or_insert(sdp);
            }
        }
    }

    /// When [`Leg::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ack_deadline,
            self.session_expires.map(|(_, t)| t),
            self.glare_retry.as_ref().map(|(t, _)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next SIP to send.
    pub fn poll_transmit(&mut self) -> Option<Out> {
        if self.deferred_offer.is_some()
            && self.our_offer.is_none()
            && self.pending_offer.is_none()
            && self.glare_retry.is_none()
            && matches!(self.state, State::Confirmed)
        {
            let sdp = self.deferred_offer.take().expect("checked");
            self.send_reinvite(sdp);
        }
        self.transmits.pop_front()
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<LegEvent> {
        self.events.pop_front()
    }

    // ---- inside --------------------------------------------------------

    fn invite_response(&mut self, id: ReqId, resp: Message) {
        let status = resp.status();
        let current = Some(id) == self.invite_id;
        match (status, &self.state) {
            (100, _) => {}
            (101..=199, State::Dialing { cancelled: false }) if current => {
                let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
                self.events.push_back(LegEvent::Progress { status, sdp });
            }
            (101..=199, _) => {}
            (200..=299, State::Dialing { cancelled }) if current => {
                let cancelled = *cancelled;
                let dialog = Dialog::uac(&self.invite, &resp);
                let ack = dialog.ack(dialog.local_cseq);
                self.transmits.push_back(Out {
                    transmit: Transmit::Ack {
                        msg: ack,
                        peer: self.peer,
                    },
                    ends_call: false,
                });
                self.dialog = Some(dialog);
                if cancelled {
                    // Our CANCEL crossed the answer (two agents picked up
                    // at once): the dialog exists, so it is ended by BYE.
                    self.state = State::Confirmed;
                    self.send_in_dialog("BYE", Purpose::Bye, false);
                    self.state = State::Ending;
                    self.events.push_back(LegEvent::Failed { status: 487 });
                } else {
                    self.state = State::Confirmed;
                    let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
                    self.events.push_back(LegEvent::Answered { sdp });
                }
            }
            (200..=299, _) => {
                // A retransmitted 2xx (our ACK was lost), or a second
                // fork's answer: ACK it; a dialog that is not ours is
                // ended at once.
                let other = Dialog::uac(&self.invite, &resp);
                self.transmits.push_back(Out {
                    transmit: Transmit::Ack {
                        msg: other.ack(other.local_cseq),
                        peer: self.peer,
                    },
                    ends_call: false,
                });
                if self
                    .dialog
                    .as_ref()
                    .is_some_and(|d| d.remote_tag != other.remote_tag)
                {
                    let mut stray = other;
                    let bye = stray.request("BYE");
                    self.send(bye, Purpose::Other, false);
                }
            }
            (401 | 407, State::Dialing { cancelled: false }) if current => {
                self.events
                    .push_back(LegEvent::Challenged { response: resp });
            }
            (_, State::Dialing { cancelled }) if current => {
                let status = if *cancelled { 487 } else { status };
                self.state = State::Done;
                self.events.push_back(LegEvent::Failed { status });
                self.events.push_back(LegEvent::Closed);
            }
            _ => {}
        }
    }

    fn reinvite_response(&mut self, now: Instant, id: ReqId, resp: Message) {
        let status = resp.status();
        let Some((ours, sdp)) = self.our_offer.clone() else {
            return;
        };
        if ours != id || status < 200 {
            return;
        }
        self.our_offer = None;
        if !matches!(self.state, State::Confirmed) {
            return;
        }
        match status {
            200..=299 => {
                if let Some(d) = self.dialog.as_mut() {
                    d.refresh_target(&resp);
                    let cseq = resp.cseq().map(|c| c.0).unwrap_or(d.local_cseq);
                    let ack = d.ack(cseq);
                    self.transmits.push_back(Out {
                        transmit: Transmit::Ack {
                            msg: ack,
                            peer: self.peer,
                        },
                        ends_call: false,
                    });
                }
                let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
                self.events.push_back(LegEvent::OfferAnswered { sdp });
            }
            491 => {
                // RFC 3261 §14.1: the Call-ID's owner waits 2.1–4 s, the
                // other side 0–2 s, so the two retries do not cross again.
                let spread = u64::from(fnv(self.call_id()) % 1000);
                let wait = if self.role == Role::Uac {
                    Duration::from_millis(2100 + spread * 19 / 10)
                } else {
                    Duration::from_millis(spread * 2)
                };
                self.glare_retry = Some((now + wait, sdp));
            }
            // The dialog or the session is gone (RFC 3261 §14.1).
            408 | 481 => {
                self.events.push_back(LegEvent::OfferFailed { status });
                self.hang_up("");
            }
            _ => self.events.push_back(LegEvent::OfferFailed { status }),
        }
    }

    fn send_reinvite(&mut self, sdp: Vec<u8>) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let mut inv = d.request("INVITE");
        inv.headers.push("Contact", self.contact.clone());
        inv.headers.push("Allow", ALLOW);
        if !sdp.is_empty() {
            inv.headers.push("Content-Type", "application/sdp");
            inv.body = sdp.clone();
        }
        let id = self.send(inv, Purpose::ReInvite, false);
        self.our_offer = Some((id, sdp));
    }

    fn send_in_dialog(&mut self, method: &str, purpose: Purpose, ends_call: bool) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let req = d.request(method);
        self.send(req, purpose, ends_call);
    }

    fn send(&mut self, msg: Message, purpose: Purpose, ends_call: bool) -> ReqId {
        self.next_id += 1;
        let id = ReqId(self.next_id);
        self.requests.insert(id, purpose);
        self.transmits.push_back(Out {
            transmit: Transmit::Request {
                id,
                msg,
                peer: self.peer,
            },
            ends_call,
        });
        id
    }

    fn push_respond(&mut self, key: TransactionKey, msg: Message, ends_call: bool) {
        self.transmits.push_back(Out {
            transmit: Transmit::Respond { key, msg },
            ends_call,
        });
    }

    fn answer_to_invite(&self, status: u16, reason: &str) -> Message {
        let mut r = response(&self.invite, status, reason, Some(&self.local_tag));
        if status < 300 {
            r.headers.push("Contact", self.contact.clone());
        }
        r
    }

    fn respond_invite(&mut self, r: Message, ends_call: bool) {
        if let Some(key) = self.invite_key.clone() {
            self.push_respond(key, r, ends_call);
        }
    }

    fn close(&mut self) {
        if !matches!(self.state, State::Done) {
            self.state = State::Done;
            self.events.push_back(LegEvent::Closed);
        }
    }
}

/// The session interval a caller asked for (RFC 4028 `Session-Expires`
/// with `Supported: timer`), in seconds.
fn requested_session_timer(invite: &Message) -> Option<u32> {
    let supported = invite
        .headers
        .get_all("Supported")
        .chain(invite.headers.get_all("k"))
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("timer"));
    if !supported {
        return None;
    }
    let v = invite
        .headers
        .get("Session-Expires")
        .or_else(|| invite.headers.get("x"))?;
    v.split(';').next()?.trim().parse().ok()
}

/// A key sent by SIP INFO (`application/dtmf-relay`'s `Signal=5`, or
/// `application/dtmf`'s bare key).
pub(crate) fn info_digit(req: &Message) -> Option<char> {
    let ct = req.headers.get("Content-Type")?.to_ascii_lowercase();
    let body = std::str::from_utf8(&req.body).ok()?;
    let key = if ct.starts_with("application/dtmf-relay") {
        body.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
            })?
            .to_string()
    } else if ct.starts_with("application/dtmf") {
        body.trim().to_string()
    } else {
        return None;
    };
    let mut chars = key.chars();
    let c = chars.next()?.to_ascii_uppercase();
    match (c, chars.next()) {
        ('0'..='9' | '*' | '#' | 'A'..='D', None) => Some(c),
        // Some phones send the RFC 4733 event number.
        _ => match key.parse::<u8>().ok()? {
            10 => Some('*'),
            11 => Some('#'),
            n => switchyard_rtp::dtmf::event_to_digit(n),
        },
    }
}

/// A stable spread for glare retries (no randomness inside the state
/// machine: the same call retries the same way in a test).
fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests;
