//! Attended (consultative) transfer from a phone: agent A talks to C in
//! this call (leg R), calls B in another call (the consultation), then
//! sends a REFER on one dialog whose `Refer-To` carries `Replaces` naming
//! its other dialog with us. C and B end up talking; both of A's legs end.
//!
//! How: the call that received the REFER (the *keeper*) takes over B's
//! leg from the other call (the *donor*), the way a pickup hands a leg
//! from one driver to another. A confirmed dialog moves whole (it is
//! plain state in [`Leg`]), but its RTP endpoint cannot: every call has
//! its own media task and port set ([`crate::anchor`]). So the keeper
//! gives the moved leg a new endpoint of its own and re-INVITEs the party
//! with it — one re-INVITE, no cross-call media bridge to keep alive, and
//! the keeper's record, recording and queue data simply go on (the
//! recording was paused by the hold and resumes in the same file, as
//! after a blind transfer). A browser is the exception: its ICE and DTLS
//! belong to the endpoint it has, and it refuses an offer from another
//! one, so its endpoint (socket and WebRTC state) moves with the dialog
//! ([`Negotiator::release`](super::Negotiator::release) and
//! [`adopt`](super::Negotiator::adopt)) and it is asked nothing.
//!
//! The donor checks what the REFER claims before giving anything up: the
//! named dialog must be one of its confirmed legs, that leg must be the
//! referrer's own extension (no capturing a stranger's call by guessing
//! a Call-ID; another tenant's call is refused by the driver before it
//! gets here), and it must be in a call of two. Any refusal reaches the
//! referrer as a final NOTIFY (`481`, `403`…) and nothing changes.
//!
//! Only a leg that is not its call's caller moves (a session is built
//! around its caller: record, recording, queue data). Phones differ in
//! which dialog carries the REFER: on the original call naming the
//! consultation, the consulted party (a callee of the consultation)
//! moves to the call that got the REFER. On the consultation naming the
//! original call, the other party there is that call's caller: then the
//! named call keeps it and asks the referrer's call for *its* other
//! party instead ([`HandOver::Wanted`], [`Session::give_up`]) — either
//! way the original call goes on. Only when both other parties are
//! callers (two calls into the agent) is the transfer refused (501).

use std::time::Instant;

use switchyard_plugins::types::{Disposition, HangupSide, LegRecord};

use super::{Endpoint, LegId, MediaCommand, Party, Phase, Session};
use crate::calls_in_progress::CallState;
use crate::leg::{Leg, Replaces};

/// A party on its way from one call to another.
#[derive(Debug)]
pub struct Moving {
    /// Its confirmed dialog.
    pub leg: Leg,
    /// Its extension (or number).
    pub label: String,
    /// Its media endpoint, when that moves too (a browser's).
    pub endpoint: Option<Endpoint>,
}

/// What the call owning a named dialog does with another call's attended
/// transfer.
#[derive(Debug)]
pub enum HandOver {
    /// It gave up this party: the asking call takes it over.
    Given(Box<Moving>),
    /// It keeps its caller and wants the asking call's other party: the
    /// asking call calls [`Session::give_up`], and this one then takes
    /// the party over in place of this leg.
    Wanted(LegId),
}

impl Session {
    /// Leg `id` sent a REFER whose target replaces dialog `replaces`.
    pub(super) fn attended_refer(&mut self, id: LegId, target: String, replaces: Replaces) {
        let refuse = |s: &mut Session, code, why: &str| {
            if let Some(p) = s.parties.get_mut(&id) {
                p.leg.refuse_refer(code, why);
            }
        };
        if self.counterpart(id).is_none() || self.replacing.is_some() {
            return refuse(self, 403, "Not In A Call Of Two");
        }
        if !self.sdp.anchored() {
            // Without the host's media a moved leg has nobody to re-offer.
            return refuse(self, 501, "Attended Transfer Needs Anchored Media");
        }
        if self.parties.values().any(|p| p.leg.is_named_by(&replaces)) {
            return refuse(self, 400, "Replaces Names This Call");
        }
        let referrer = self.label_of(id);
        if let Some(p) = self.parties.get_mut(&id) {
            p.leg.accept_refer();
        }
        tracing::info!(call = %self.snapshot.call_id, %target, other = %replaces.call_id, "attended transfer");
        self.replacing = Some(id);
        self.commands.push_back(super::Command::Replace {
            leg: id,
            replaces,
            referrer,
        });
    }

    /// The extension (or number) of party `id`.
    fn label_of(&self, id: LegId) -> String {
        if id == self.caller {
            return self.snapshot.caller.number.clone();
        }
        self.parties
            .get(&id)
            .map(|p| p.label.clone())
            .unwrap_or_default()
    }

    /// Another call's REFER names one of our dialogs (a party of which is
    /// `referrer`): give up the party on its other side and end this
    /// call, or want the asking call's party instead, or say why not (a
    /// SIP status for the NOTIFY).
    pub fn hand_over(
        &mut self,
        now: Instant,
        replaces: &Replaces,
        referrer: &str,
    ) -> Result<HandOver, u16> {
        let named = self
            .parties
            .iter()
            .find(|(_, p)| p.leg.is_named_by(replaces))
            .map(|(id, _)| *id)
            .ok_or(481u16)?;
        if self.label_of(named) != referrer {
            tracing::warn!(call = %self.snapshot.call_id, %referrer, "attended transfer refused: the referrer is not party to the dialog it names");
            return Err(403);
        }
        let other = self.counterpart(named).ok_or(481u16)?;
        if !self
            .parties
            .get(&other)
            .is_some_and(|p| p.leg.is_confirmed())
        {
            return Err(481);
        }
        if other == self.caller {
            if self.replacing.is_some() || !self.sdp.anchored() {
                return Err(491);
            }
            self.replacing = Some(named);
            return Ok(HandOver::Wanted(named));
        }
        let moving = self.give_party(now, other);
        // The referrer's leg here is over too: ending the call hangs it up.
        let side = if named == self.caller {
            HangupSide::Caller
        } else {
            HangupSide::Callee
        };
        self.member_left(now, named, side);
        self.pump(now);
        Ok(HandOver::Given(Box::new(moving)))
    }

    /// The call owning the dialog our REFER named keeps its caller and
    /// wants the party on our referrer's other side: give it up (not our
    /// caller), tell the referrer the transfer is done, and end.
    pub fn give_up(&mut self, now: Instant, referrer: LegId) -> Result<Moving, u16> {
        if self.replacing != Some(referrer) {
            return Err(481);
        }
        let other = self.counterpart(referrer).ok_or(481u16)?;
        if other == self.caller {
            // Both calls would have to move their caller.
            return Err(501);
        }
        if !self
            .parties
            .get(&other)
            .is_some_and(|p| p.leg.is_confirmed())
        {
            return Err(481);
        }
        self.replacing = None;
        let moving = self.give_party(now, other);
        if let Some(p) = self.parties.get_mut(&referrer) {
            p.leg.notify_refer("SIP/2.0 200 OK", true);
        }
        let side = if referrer == self.caller {
            HangupSide::Caller
        } else {
            HangupSide::Callee
        };
        self.member_left(now, referrer, side);
        self.pump(now);
        Ok(moving)
    }

    /// Party `other` leaves this call for good: a member no more, its
    /// record ends here; its dialog goes, and its endpoint with it when
    /// that must move, else the endpoint is closed here.
    fn give_party(&mut self, now: Instant, other: LegId) -> Moving {
        if let Phase::Bridged { members, .. } = &mut self.phase {
            members.retain(|m| *m != other);
        }
        self.agent_left(other);
        self.collect_transmits_of(other);
        // Released before the leg's end closes whatever is left of it.
        let endpoint = self.sdp.release(other);
        self.leg_ended(now, other);
        let party = self.parties.remove(&other).expect("a party of the call");
        tracing::info!(call = %self.snapshot.call_id, party = %party.label, endpoint_moves = endpoint.is_some(), "handed over for an attended transfer");
        Moving {
            leg: party.leg,
            label: party.label,
            endpoint,
        }
    }

    /// Keeper: the other call refused to hand its party over (`status`):
    /// the referrer hears so, and the call goes on as it was.
    pub fn handle_replace_failed(&mut self, now: Instant, leg: LegId, status: u16) {
        if self.replacing == Some(leg) {
            self.replacing = None;
        }
        if let Some(p) = self.parties.get_mut(&leg) {
            let line = format!(
                "SIP/2.0 {status} {}",
                switchyard_sip::message::build::reason_phrase(status)
            );
            p.leg.notify_refer(&line, true);
        }
        tracing::info!(call = %self.snapshot.call_id, status, "attended transfer failed");
        self.pump(now);
    }

    /// Keeper: the party `moving`, handed over by the other call,
    /// replaces `referrer`'s leg: it gets an endpoint of ours by
    /// re-INVITE (or keeps its own, moved: a browser's), the referrer
    /// hears the transfer is done and is hung up, and the party it left
    /// (held) talks to the newcomer.
    pub fn take_over(&mut self, now: Instant, referrer: LegId, moving: Moving) -> LegId {
        let Moving {
            mut leg,
            label,
            endpoint,
        } = moving;
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        let at = self.wall_ms(now);
        self.legs.push(LegRecord {
            target: label.clone(),
            start_time: at,
            answer_time: Some(at),
            end_time: 0,
            sip_code: 200,
        });
        let record = Some(self.legs.len() - 1);
        let waiting = self.replacing.take() == Some(referrer);
        let held = self.counterpart(referrer).filter(|_| waiting);
        let Some(held) = held else {
            // The call changed meanwhile (the referrer or the held party
            // hung up): the party has nobody to talk to.
            tracing::info!(call = %self.snapshot.call_id, "attended transfer: nobody left to connect");
            leg.hang_up("");
            self.parties.insert(id, Party { leg, record, label });
            self.pump(now);
            return id;
        };
        let adopted = endpoint.is_some_and(|e| self.sdp.adopt(id, e));
        let offer = if adopted {
            // Its own endpoint, moved: only a hold of it is taken back
            // (nothing to offer when it already sends and receives).
            self.sdp.offer_again(id)
        } else {
            let snapshot = self.snapshot.clone();
            self.sdp.offer_to(id, &snapshot)
        };
        if let Some(offer) = offer {
            leg.offer(offer);
            self.own_offers.push(id);
        }
        self.parties.insert(
            id,
            Party {
                leg,
                record,
                label: label.clone(),
            },
        );
        // The referrer leaves: the queue engine hears its queue call ended
        // (wrap-up), the phone hears the transfer worked, then our BYE.
        self.agent_left(referrer);
        if let Some(p) = self.parties.get_mut(&referrer) {
            p.leg.notify_refer("SIP/2.0 200 OK", true);
            p.leg.hang_up("");
        }
        if self.sdp.holds(referrer)
            && let Some(offer) = self.sdp.offer_again(held)
            && let Some(p) = self.parties.get_mut(&held)
        {
            // The held party was offered sendonly on the referrer's
            // behalf: take it off hold.
            p.leg.offer(offer);
            self.own_offers.push(held);
        }
        if let Phase::Bridged { members, .. } = &mut self.phase {
            members.retain(|m| *m != referrer);
            members.push(id);
        }
        self.media(MediaCommand::Disconnect { leg: referrer });
        self.leg_ended(now, referrer);
        self.media(MediaCommand::Stop { leg: held });
        self.media(MediaCommand::Connect { a: held, b: id });
        self.media(MediaCommand::PauseRecording(false));
        self.release_held(referrer);
        tracing::info!(call = %self.snapshot.call_id, to = %label, "attended transfer done");
        self.disposition = Disposition::Answered;
        self.agent = Some(label);
        self.live(CallState::Answered, self.agent.clone());
        self.pump(now);
        id
    }

    /// The answer to a re-offer of our own: only read.
    pub(super) fn own_offer_answered(&mut self, id: LegId, sdp: Option<Vec<u8>>) {
        self.own_offers.retain(|l| *l != id);
        if let Some(body) = &sdp
            && let Err(e) = self.sdp.remote_answer(id, body)
        {
            tracing::warn!(call = %self.snapshot.call_id, error = ?e, "the moved party's answer is unusable");
        }
    }
}
