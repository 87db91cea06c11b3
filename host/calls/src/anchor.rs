//! Media anchoring for one call: the caller's offer answered with our
//! address, our own offer to the callee, the media task that plays to,
//! records and relays between them, and re-negotiation on re-INVITE (hold
//! and resume).
//!
//! With anchoring every RTP packet goes through the host: NATed phones
//! work (latching), PCMU and PCMA phones talk (transcoding), the call
//! engine hears the digits, and the host can answer a call itself to play
//! prompts, gather digits and record.

use std::net::SocketAddr;

use switchyard_media::sdp::{self, Direction, Local, Negotiated, Refusal, Sdp};
use switchyard_media::{BridgeId, LegConfig, LegId, MediaEvent, MediaHandle, RtpPorts};
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

pub struct Anchor {
    /// The last offer each side made us, and what we chose from it.
    offers: [Option<(Sdp, Negotiated)>; 2],
    locals: [Local; 2],
    /// What each leg last negotiated (`None` until it answered).
    negotiated: [Option<Negotiated>; 2],
    pub media: MediaHandle,
    /// The bridge both legs are in while they talk.
    bridge: BridgeId,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
}

fn leg_config(n: &Negotiated) -> LegConfig {
    LegConfig {
        law: n.law,
        event_pt: n.event_pt,
        remote: n.remote,
        sends: n.direction.sends(),
    }
}

/// Refusal → the SIP answer.
pub fn refusal_status(r: &Refusal) -> (u16, String) {
    match r {
        Refusal::Malformed(m) => (400, format!("Bad SDP: {m}")),
        Refusal::NotAcceptable => (488, String::new()),
    }
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
        let offer = sdp::parse(a_offer).map_err(|r| refusal_status(&r))?;
        let chosen = sdp::negotiate(&offer).map_err(|r| refusal_status(&r))?;
        let a = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let b = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let local = |p: &RtpPorts| Local {
            addr: SocketAddr::new(settings.ip, p.rtp_addr().port()),
            session_id: rand::random::<u32>() as u64,
            version: 1,
        };
        let locals = [local(&a), local(&b)];
        let (events_tx, events) = mpsc::unbounded_channel();
        let media = MediaHandle::start(Some(settings.rtp_timeout), events_tx);
        media.add_leg(CALLER, a);
        media.add_leg(CALLEE, b);
        let bridge = media.create_bridge();
        media.configure(CALLER, leg_config(&chosen));
        Ok(Some(Anchor {
            offers: [Some((offer, chosen)), None],
            locals,
            negotiated: [Some(chosen), None],
            media,
            bridge,
            events,
        }))
    }

    /// Our offer to a callee.
    pub fn callee_offer(&self) -> Vec<u8> {
        sdp::offer(&self.locals[ix(CALLEE)], Direction::SendRecv)
    }

    /// Our answer to the caller's offer.
    pub fn caller_answer(&self) -> Vec<u8> {
        let (offer, chosen) = self.offers[ix(CALLER)]
            .as_ref()
            .expect("the caller offered");
        sdp::answer(offer, chosen, &self.locals[ix(CALLER)])
    }

    /// The callee answered our offer (in a 183 or the 2xx): relay.
    pub fn callee_answered(&mut self, body: &[u8]) -> Result<(), Refusal> {
        let b = sdp::negotiate(&sdp::parse(body)?)?;
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
        self.negotiated[ix(leg)].map(|n| n.direction)
    }

    /// A re-INVITE from `leg` while nobody else is connected (the caller
    /// holds during the IVR): we answer it ourselves.
    pub fn answer_locally(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let offer = sdp::parse(body)?;
        let chosen = sdp::negotiate(&offer)?;
        self.relay_with(leg, chosen);
        let local = &mut self.locals[ix(leg)];
        local.version += 1;
        let answer = sdp::answer(&offer, &chosen, local);
        self.offers[ix(leg)] = Some((offer, chosen));
        Ok(answer)
    }

    /// A re-INVITE from `leg` offered `body`: remember it, and give our
    /// offer for the other leg (same direction: hold goes through).
    pub fn reoffer(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let offer = sdp::parse(body)?;
        let chosen = sdp::negotiate(&offer)?;
        let direction = chosen.direction;
        self.offers[ix(leg)] = Some((offer, chosen));
        let other = &mut self.locals[ix(other(leg))];
        other.version += 1;
        Ok(sdp::offer(other, direction))
    }

    /// The other leg answered our re-offer: relay with both new views, and
    /// our answer to `leg`'s offer.
    pub fn reanswered(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let theirs = sdp::negotiate(&sdp::parse(body)?)?;
        self.relay_with(other(leg), theirs);
        let (offer, chosen) = self.offers[ix(leg)].clone().expect("offer remembered");
        self.relay_with(leg, chosen);
        let local = &mut self.locals[ix(leg)];
        local.version += 1;
        Ok(sdp::answer(&offer, &chosen, local))
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
