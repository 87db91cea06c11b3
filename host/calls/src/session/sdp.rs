//! The session's view of SDP: what body each leg's INVITE, answer and
//! re-INVITE carries. The session asks; a [`Negotiator`] decides. With
//! media anchored the negotiator answers with the host's own addresses
//! (every leg gets its own endpoint); without it, [`PassThrough`] hands
//! each party the other's description, as a plain B2BUA does.

use std::any::Any;
use std::collections::HashMap;

use super::LegId;
use switchyard_plugins::types::CallSnapshot;

/// What to do with a leg's new offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renegotiation {
    /// Answer it with this body (nobody else needs to know).
    Answer(Vec<u8>),
    /// Offer this to the other party first; its answer gives ours.
    Forward(Vec<u8>),
}

/// A leg's media endpoint on its way from one call to another (an
/// attended transfer): what one call's negotiator releases, the other's
/// adopts. Opaque to the session; only a negotiator of the same kind can
/// read it.
pub struct Endpoint(Box<dyn Any + Send>);

impl Endpoint {
    pub fn new<T: Any + Send>(inner: T) -> Endpoint {
        Endpoint(Box::new(inner))
    }

    /// What a negotiator of kind `T` put in, or `None` from another kind.
    pub fn take<T: Any>(self) -> Option<T> {
        self.0.downcast::<T>().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Endpoint(..)")
    }
}

pub trait Negotiator {
    /// Our answer to the caller's offer when the host answers it itself
    /// (IVR, voicemail); `None` when the host has no media to offer.
    fn answer_caller(&mut self) -> Option<Vec<u8>>;
    /// The party about to be dialled on `leg` is a browser (it registered
    /// over WebSocket): its offer is WebRTC. Nothing to do without media.
    fn dialling_browser(&mut self, _leg: LegId) {}
    /// The party about to be dialled on `leg` may or must use SRTP
    /// (its extension's or trunk's policy). Nothing to do without media.
    fn dialling_srtp(&mut self, _leg: LegId, _srtp: switchyard_sdp::SrtpPolicy) {}
    /// The body of our INVITE to a party we dial.
    fn offer_to(&mut self, leg: LegId, snapshot: &CallSnapshot) -> Option<Vec<u8>>;
    /// A dialled party answered our offer (in a 18x or the 2xx); an
    /// unusable answer is the SIP status to end it with.
    fn remote_answer(&mut self, leg: LegId, body: &[u8]) -> Result<(), u16>;
    /// The caller's 18x/200 body once `leg` answered.
    fn caller_answer_for(&mut self, leg: LegId) -> Option<Vec<u8>>;
    /// `leg` offered new SDP; `other` is the party it talks to, if any.
    fn reoffer(
        &mut self,
        leg: LegId,
        other: Option<LegId>,
        body: &[u8],
    ) -> Result<Renegotiation, u16>;
    /// `to` answered the offer forwarded from `from`: `from`'s answer.
    fn reanswered(&mut self, from: LegId, to: LegId, body: &[u8]) -> Result<Vec<u8>, u16>;
    /// Does `leg` hold the others (its last offer was sendonly/inactive)?
    fn holds(&self, leg: LegId) -> bool;
    /// Answer `offer` of a new incoming leg `leg` (a phone that picks up
    /// a ringing call); `Err` is the status to refuse it with. Only the
    /// host's own media can: passing SDP through has nobody to ask.
    fn answer_offer(&mut self, leg: LegId, offer: &[u8]) -> Result<Vec<u8>, u16> {
        let _ = (leg, offer);
        Err(488)
    }
    /// Does the host own each leg's media endpoint (a leg can be moved
    /// in from another call and offered the host's endpoint)?
    fn anchored(&self) -> bool {
        false
    }
    /// A fresh sendrecv offer of ours to `leg`'s existing endpoint (a
    /// held party taken off hold by the host); its answer comes back
    /// through [`Negotiator::remote_answer`].
    fn offer_again(&mut self, leg: LegId) -> Option<Vec<u8>> {
        let _ = leg;
        None
    }
    /// `leg` leaves this call for another: its endpoint goes with it
    /// when it must (a browser's: DTLS and ICE are tied to it, and a
    /// browser refuses an offer from a new one). `None`: the other call
    /// offers the party an endpoint of its own.
    fn release(&mut self, leg: LegId) -> Option<Endpoint> {
        let _ = leg;
        None
    }
    /// `leg` arrives from another call with the `endpoint` that call's
    /// negotiator released: whether it is this call's now (the party is
    /// then offered nothing new, beyond taking it off hold).
    fn adopt(&mut self, leg: LegId, endpoint: Endpoint) -> bool {
        let _ = (leg, endpoint);
        false
    }
}

/// No media anchoring: descriptions pass between the parties untouched.
#[derive(Debug, Default)]
pub struct PassThrough {
    caller_offer: Vec<u8>,
    answers: HashMap<LegId, Vec<u8>>,
}

impl PassThrough {
    pub fn new(caller_offer: Vec<u8>) -> PassThrough {
        PassThrough {
            caller_offer,
            answers: HashMap::new(),
        }
    }
}

impl Negotiator for PassThrough {
    fn answer_caller(&mut self) -> Option<Vec<u8>> {
        None
    }

    fn offer_to(&mut self, _leg: LegId, _snapshot: &CallSnapshot) -> Option<Vec<u8>> {
        (!self.caller_offer.is_empty()).then(|| self.caller_offer.clone())
    }

    fn remote_answer(&mut self, leg: LegId, body: &[u8]) -> Result<(), u16> {
        self.answers.insert(leg, body.to_vec());
        Ok(())
    }

    fn caller_answer_for(&mut self, leg: LegId) -> Option<Vec<u8>> {
        self.answers.get(&leg).cloned()
    }

    fn reoffer(
        &mut self,
        _leg: LegId,
        other: Option<LegId>,
        body: &[u8],
    ) -> Result<Renegotiation, u16> {
        match other {
            Some(_) => Ok(Renegotiation::Forward(body.to_vec())),
            // Nobody to ask, and no media of our own to answer with.
            None => Err(488),
        }
    }

    fn reanswered(&mut self, _from: LegId, _to: LegId, body: &[u8]) -> Result<Vec<u8>, u16> {
        Ok(body.to_vec())
    }

    fn holds(&self, _leg: LegId) -> bool {
        // Without anchoring the host plays nothing: hold is the phones'.
        false
    }
}
