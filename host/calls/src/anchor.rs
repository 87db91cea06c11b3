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
use switchyard_media::{LegConfig, MediaEvent, MediaHandle, RtpPorts};
use tokio::sync::mpsc;

use crate::Shared;

/// Leg numbers in the relay.
pub const CALLER: usize = 0;
pub const CALLEE: usize = 1;

pub struct Anchor {
    /// The last offer each side made us, and what we chose from it.
    offers: [Option<(Sdp, Negotiated)>; 2],
    locals: [Local; 2],
    /// What each leg last negotiated (`None` until it answered).
    negotiated: [Option<Negotiated>; 2],
    pub media: MediaHandle,
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
        let media = MediaHandle::start([a, b], Some(settings.rtp_timeout), events_tx);
        media.configure(CALLER, leg_config(&chosen));
        Ok(Some(Anchor {
            offers: [Some((offer, chosen)), None],
            locals,
            negotiated: [Some(chosen), None],
            media,
            events,
        }))
    }

    /// Our offer to a callee.
    pub fn callee_offer(&self) -> Vec<u8> {
        sdp::offer(&self.locals[CALLEE], Direction::SendRecv)
    }

    /// Our answer to the caller's offer.
    pub fn caller_answer(&self) -> Vec<u8> {
        let (offer, chosen) = self.offers[CALLER].as_ref().expect("the caller offered");
        sdp::answer(offer, chosen, &self.locals[CALLER])
    }

    /// The callee answered our offer (in a 183 or the 2xx): relay.
    pub fn callee_answered(&mut self, body: &[u8]) -> Result<(), Refusal> {
        let b = sdp::negotiate(&sdp::parse(body)?)?;
        self.relay_with(CALLEE, b);
        self.media.relay(true);
        Ok(())
    }

    fn relay_with(&mut self, leg: usize, n: Negotiated) {
        self.negotiated[leg] = Some(n);
        self.media.configure(leg, leg_config(&n));
    }

    /// The callee's leg ended (a transfer): it is silent from now on and
    /// nothing is relayed until the next callee answers.
    pub fn callee_gone(&mut self) {
        if let Some(n) = self.negotiated[CALLEE] {
            let mut cfg = leg_config(&n);
            cfg.sends = false;
            self.media.configure(CALLEE, cfg);
        }
        self.media.relay(false);
    }

    /// The direction `leg` last asked for (hold is sendonly or inactive).
    pub fn direction(&self, leg: usize) -> Option<Direction> {
        self.negotiated[leg].map(|n| n.direction)
    }

    /// A re-INVITE from `leg` while nobody else is connected (the caller
    /// holds during the IVR): we answer it ourselves.
    pub fn answer_locally(&mut self, leg: usize, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let offer = sdp::parse(body)?;
        let chosen = sdp::negotiate(&offer)?;
        self.relay_with(leg, chosen);
        let local = &mut self.locals[leg];
        local.version += 1;
        let answer = sdp::answer(&offer, &chosen, local);
        self.offers[leg] = Some((offer, chosen));
        Ok(answer)
    }

    /// A re-INVITE from `leg` offered `body`: remember it, and give our
    /// offer for the other leg (same direction: hold goes through).
    pub fn reoffer(&mut self, leg: usize, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let offer = sdp::parse(body)?;
        let chosen = sdp::negotiate(&offer)?;
        let direction = chosen.direction;
        self.offers[leg] = Some((offer, chosen));
        let other = &mut self.locals[1 - leg];
        other.version += 1;
        Ok(sdp::offer(other, direction))
    }

    /// The other leg answered our re-offer: relay with both new views, and
    /// our answer to `leg`'s offer.
    pub fn reanswered(&mut self, leg: usize, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let theirs = sdp::negotiate(&sdp::parse(body)?)?;
        self.relay_with(1 - leg, theirs);
        let (offer, chosen) = self.offers[leg].clone().expect("offer remembered");
        self.relay_with(leg, chosen);
        let local = &mut self.locals[leg];
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
