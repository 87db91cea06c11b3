//! Media anchoring for one call: the caller's offer answered with our
//! address, our own offer to the callee, the media task that plays to,
//! records and relays between them, and re-negotiation on re-INVITE (hold
//! and resume).
//!
//! With anchoring every RTP packet goes through the host: NATed phones
//! work (latching), PCMU and PCMA phones talk (transcoding), the call
//! engine hears the digits, and the host can answer a call itself to play
//! prompts, gather digits and record.

use switchyard_media::{BridgeId, LegConfig, LegId, MediaEvent, MediaHandle, RtpPorts};
use switchyard_rtp::g711::Law;
use switchyard_sdp::{
    Answer, Codec, Direction, LocalSession, MediaEndpoint, Negotiated, Refusal, Sdp, accept_answer,
    answer, offer,
};
use tokio::sync::mpsc;

use crate::Shared;

/// The call's two legs, in its media and here (until the engine names
/// its SIP legs itself).
pub const CALLER: LegId = LegId(0);
pub const CALLEE: LegId = LegId(1);

/// A leg's place in the per-leg arrays here.
fn ix(leg: LegId) -> usize {
    usize::from(leg != CALLER)
}

/// The call's other leg.
pub fn other(leg: LegId) -> LegId {
    if leg == CALLER { CALLEE } else { CALLER }
}

/// What we offer and accept on every leg: G.711 both ways, and RFC 4733
/// digits (as payload type 101 in our offers).
const CODECS: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];

pub struct Anchor {
    /// Where we receive on each leg.
    endpoints: [MediaEndpoint; 2],
    /// Our SDP session on each leg (the `o=` id and version).
    sessions: [LocalSession; 2],
    /// The last offer each side made us, as our answer to it.
    answers: [Option<Answer>; 2],
    /// The last offer we made on each leg, to read its answer against.
    our_offers: [Option<Sdp>; 2],
    /// Our answer to the caller's INVITE, as sent.
    caller_answer: Vec<u8>,
    /// What each leg last negotiated (`None` until it answered).
    negotiated: [Option<Negotiated>; 2],
    pub media: MediaHandle,
    /// The bridge both legs are in while they talk.
    bridge: BridgeId,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
}

/// The G.711 law of a negotiated voice codec.
fn law(codec: Codec) -> Law {
    match codec {
        Codec::Pcma => Law::Pcma,
        // Negotiation only settles on a voice codec: PCMU or PCMA.
        Codec::Pcmu | Codec::TelephoneEvent => Law::Pcmu,
    }
}

fn leg_config(n: &Negotiated) -> LegConfig {
    LegConfig {
        law: law(n.codec),
        event_pt: n.telephone_event,
        remote: n.remote_rtp,
        sends: n.peer_sends(),
    }
}

/// Refusal → the SIP answer (400 malformed, 488 nothing in common).
pub fn refusal_status(r: &Refusal) -> (u16, String) {
    match r {
        Refusal::Malformed(m) => (r.status_code(), format!("Bad SDP: {m}")),
        Refusal::NotAcceptable => (r.status_code(), String::new()),
    }
}

/// A peer's offer and our answer to it.
fn answer_offer(body: &[u8], us: &MediaEndpoint) -> Result<Answer, Refusal> {
    answer(&Sdp::parse(body)?, us, &CODECS)
}

impl Anchor {
    /// Anchor a call whose caller offered `a_offer`. `Ok(None)` when media
    /// is not anchored on this host.
    pub(crate) async fn new(
        shared: &Shared,
        a_offer: &[u8],
    ) -> Result<Option<Anchor>, (u16, String)> {
        let (Some(pool), Some(settings)) = (&shared.ports, &shared.settings.media) else {
            return Ok(None);
        };
        let endpoint = |p: &RtpPorts| MediaEndpoint::new(settings.ip, p.rtp_addr().port());
        let session = || LocalSession::new(u64::from(rand::random::<u32>()), 1);
        let refused = |r: Refusal| refusal_status(&r);
        // The offer is checked before any port is taken.
        let a_offer = Sdp::parse(a_offer).map_err(|e| refused(e.into()))?;
        answer(&a_offer, &MediaEndpoint::new(settings.ip, 0), &CODECS).map_err(refused)?;
        let a = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let b = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let endpoints = [endpoint(&a), endpoint(&b)];
        let chosen = answer(&a_offer, &endpoints[ix(CALLER)], &CODECS).map_err(refused)?;
        let mut sessions = [session(), session()];
        let caller_answer = chosen.to_sdp(&mut sessions[ix(CALLER)]).to_bytes();
        let (events_tx, events) = mpsc::unbounded_channel();
        let media = MediaHandle::start(Some(settings.rtp_timeout), events_tx);
        media.add_leg(CALLER, a);
        media.add_leg(CALLEE, b);
        let bridge = media.create_bridge();
        media.configure(CALLER, leg_config(&chosen.negotiated));
        Ok(Some(Anchor {
            endpoints,
            sessions,
            negotiated: [Some(chosen.negotiated), None],
            answers: [Some(chosen), None],
            our_offers: [None, None],
            caller_answer,
            media,
            bridge,
            events,
        }))
    }

    /// Our offer to `leg` in this direction, remembered to read its answer.
    fn offer_to(&mut self, leg: LegId, direction: Direction) -> Vec<u8> {
        let sdp = offer(
            &self.endpoints[ix(leg)],
            &CODECS,
            direction,
            &mut self.sessions[ix(leg)],
        );
        let body = sdp.to_bytes();
        self.our_offers[ix(leg)] = Some(sdp);
        body
    }

    /// The peer on `leg` answered our last offer there.
    fn read_answer(&self, leg: LegId, body: &[u8]) -> Result<Negotiated, Refusal> {
        let ours = self.our_offers[ix(leg)]
            .as_ref()
            .ok_or_else(|| Refusal::Malformed("an answer to no offer of ours".into()))?;
        accept_answer(ours, &Sdp::parse(body)?)
    }

    /// Our offer to a callee.
    pub fn callee_offer(&mut self) -> Vec<u8> {
        self.offer_to(CALLEE, Direction::SendRecv)
    }

    /// Our answer to the caller's offer.
    pub fn caller_answer(&self) -> Vec<u8> {
        self.caller_answer.clone()
    }

    /// The callee answered our offer (in a 183 or the 2xx): relay.
    pub fn callee_answered(&mut self, body: &[u8]) -> Result<(), Refusal> {
        let b = self.read_answer(CALLEE, body)?;
        self.relay_with(CALLEE, b);
        self.relay(true);
        Ok(())
    }

    /// Connect the legs to each other (both in the call's bridge), or not
    /// (neither in it).
    pub fn relay(&self, on: bool) {
        for leg in [CALLER, CALLEE] {
            if on {
                self.media.join(leg, self.bridge);
            } else {
                self.media.leave(leg);
            }
        }
    }

    fn relay_with(&mut self, leg: LegId, n: Negotiated) {
        self.negotiated[ix(leg)] = Some(n);
        self.media.configure(leg, leg_config(&n));
    }

    /// The callee's leg ended (a transfer): it is silent from now on and
    /// nothing is relayed until the next callee answers.
    pub fn callee_gone(&mut self) {
        if let Some(n) = self.negotiated[ix(CALLEE)] {
            let mut cfg = leg_config(&n);
            cfg.sends = false;
            self.media.configure(CALLEE, cfg);
        }
        self.relay(false);
    }

    /// The direction `leg` last asked for (hold is sendonly or inactive).
    pub fn direction(&self, leg: LegId) -> Option<Direction> {
        self.negotiated[ix(leg)].map(|n| n.peer_direction())
    }

    /// Our answer to `leg`'s offer, under our session on that leg.
    fn answer_bytes(&mut self, leg: LegId, a: &Answer) -> Vec<u8> {
        let body = a.to_sdp(&mut self.sessions[ix(leg)]).to_bytes();
        if leg == CALLER {
            self.caller_answer = body.clone();
        }
        body
    }

    /// A re-INVITE from `leg` while nobody else is connected (the caller
    /// holds during the IVR): we answer it ourselves.
    pub fn answer_locally(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let chosen = answer_offer(body, &self.endpoints[ix(leg)])?;
        self.relay_with(leg, chosen.negotiated);
        let answer = self.answer_bytes(leg, &chosen);
        self.answers[ix(leg)] = Some(chosen);
        Ok(answer)
    }

    /// A re-INVITE from `leg` offered `body`: remember it, and give our
    /// offer for the other leg (same direction: hold goes through).
    pub fn reoffer(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let chosen = answer_offer(body, &self.endpoints[ix(leg)])?;
        let direction = chosen.negotiated.peer_direction();
        self.answers[ix(leg)] = Some(chosen);
        Ok(self.offer_to(other(leg), direction))
    }

    /// The other leg answered our re-offer: relay with both new views, and
    /// our answer to `leg`'s offer.
    pub fn reanswered(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let theirs = self.read_answer(other(leg), body)?;
        let chosen = self.answers[ix(leg)]
            .clone()
            .ok_or_else(|| Refusal::Malformed("no offer to answer".into()))?;
        self.relay_with(other(leg), theirs);
        self.relay_with(leg, chosen.negotiated);
        Ok(self.answer_bytes(leg, &chosen))
    }
}

/// The next media event of an anchored call (never, without one, nor
/// after its media task ended).
pub async fn next_event(anchor: &mut Option<Anchor>) -> Option<MediaEvent> {
    match anchor {
        Some(a) => match a.events.recv().await {
            Some(e) => Some(e),
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
