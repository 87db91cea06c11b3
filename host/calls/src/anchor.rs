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
use switchyard_sdp::{Codec, Direction, Negotiated, Refusal, Sdp};
use tokio::sync::mpsc;

use crate::Shared;
use crate::leg_sdp::LegSdp;

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
    /// Each leg's offer/answer state.
    sdp: [LegSdp; 2],
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
        let refused = |r: Refusal| refusal_status(&r);
        // The offer is checked before any port is taken.
        let a_offer = Sdp::parse(a_offer).map_err(|e| refused(e.into()))?;
        LegSdp::acceptable(settings.ip, &a_offer).map_err(refused)?;
        let a = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let b = pool
            .allocate()
            .await
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let leg_sdp = |p: &RtpPorts| LegSdp::new(settings.ip, p.rtp_addr().port());
        let mut sdp = [leg_sdp(&a), leg_sdp(&b)];
        let (_, chosen) = sdp[ix(CALLER)].answer(&a_offer).map_err(refused)?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let media = MediaHandle::start(Some(settings.rtp_timeout), events_tx);
        media.add_leg(CALLER, a);
        media.add_leg(CALLEE, b);
        let bridge = media.create_bridge();
        media.configure(CALLER, leg_config(&chosen));
        Ok(Some(Anchor {
            sdp,
            media,
            bridge,
            events,
        }))
    }

    /// Our offer to a callee.
    pub fn callee_offer(&mut self) -> Vec<u8> {
        self.sdp[ix(CALLEE)].offer(Direction::SendRecv)
    }

    /// Our answer to the caller's offer.
    pub fn caller_answer(&self) -> Vec<u8> {
        self.sdp[ix(CALLER)].last_answer().to_vec()
    }

    /// The callee answered our offer (in a 183 or the 2xx): relay.
    pub fn callee_answered(&mut self, body: &[u8]) -> Result<(), Refusal> {
        let b = self.sdp[ix(CALLEE)].read_answer(body)?;
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

    /// Media for `leg` as agreed.
    fn relay_with(&self, leg: LegId, n: Negotiated) {
        self.media.configure(leg, leg_config(&n));
    }

    /// The callee's leg ended (a transfer): it is silent from now on and
    /// nothing is relayed until the next callee answers.
    pub fn callee_gone(&mut self) {
        if let Some(n) = self.sdp[ix(CALLEE)].negotiated() {
            let mut cfg = leg_config(&n);
            cfg.sends = false;
            self.media.configure(CALLEE, cfg);
        }
        self.relay(false);
    }

    /// The direction `leg` last asked for (hold is sendonly or inactive).
    pub fn direction(&self, leg: LegId) -> Option<Direction> {
        self.sdp[ix(leg)].direction()
    }

    /// A re-INVITE from `leg` while nobody else is connected (the caller
    /// holds during the IVR): we answer it ourselves.
    pub fn answer_locally(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let (answer, chosen) = self.sdp[ix(leg)].answer(&Sdp::parse(body)?)?;
        self.relay_with(leg, chosen);
        Ok(answer)
    }

    /// A re-INVITE from `leg` offered `body`: remember it, and give our
    /// offer for the other leg (same direction: hold goes through).
    pub fn reoffer(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let direction = self.sdp[ix(leg)].take_offer(&Sdp::parse(body)?)?;
        Ok(self.sdp[ix(other(leg))].offer(direction))
    }

    /// The other leg answered our re-offer: relay with both new views, and
    /// our answer to `leg`'s offer.
    pub fn reanswered(&mut self, leg: LegId, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        if !self.sdp[ix(leg)].has_pending_offer() {
            return Err(Refusal::Malformed("no offer to answer".into()));
        }
        let theirs = self.sdp[ix(other(leg))].read_answer(body)?;
        let (answer, chosen) = self.sdp[ix(leg)].answer_pending()?;
        self.relay_with(other(leg), theirs);
        self.relay_with(leg, chosen);
        Ok(answer)
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
