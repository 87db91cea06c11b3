//! A call's anchored media: every leg's SDP state and RTP endpoint, and
//! the media task that plays to, records and bridges them.
//!
//! With anchoring every RTP packet goes through the host: NATed phones
//! work (latching), PCMU and PCMA phones talk (transcoding), the engine
//! hears the digits, and the host can answer a call itself to play
//! prompts, gather digits and record.
//!
//! One [`Anchor`] serves a session of any number of legs. The session
//! reaches it as its [`Negotiator`] (what SDP each leg is offered and
//! answered); the driver reaches the same state to carry out the
//! session's media commands (bridge, play, record). Both hold it behind
//! one lock that is never held across an `await`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use switchyard_media::webrtc::{self, SharedWebRtcLeg, WebRtcDirection, WebRtcLeg};
use switchyard_media::{BridgeId, LegConfig, LegId, MediaEvent, MediaHandle, PortPool, RtpPorts};
use switchyard_plugins::types::CallSnapshot;
use switchyard_rtp::g711::Law;
use switchyard_sdp::{Codec, Direction, Negotiated, Refusal, Sdp, SrtpPolicy};
use tokio::sync::{mpsc, oneshot};

use crate::leg_sdp::LegSdp;
use crate::session::{Endpoint, Negotiator, Renegotiation};

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

/// The reason phrase of a 488 refusing plain media from a party that
/// must use SRTP; its response also carries [`SRTP_REQUIRED_WARNING`].
pub const SRTP_REQUIRED_REASON: &str = "Not Acceptable Here";

/// The Warning header (RFC 3261 §20.43) of that 488: 399 is the
/// miscellaneous warning, its text says what to do.
pub const SRTP_REQUIRED_WARNING: &str =
    "399 switchyard \"SRTP is required: offer RTP/SAVP with a=crypto AES_CM_128_HMAC_SHA1_80\"";

/// Refusal → the SIP answer (400 malformed, 488 nothing in common or
/// plain media where SRTP is required).
pub fn refusal_status(r: &Refusal) -> (u16, String) {
    match r {
        Refusal::Malformed(m) => (r.status_code(), format!("Bad SDP: {m}")),
        Refusal::NotAcceptable => (r.status_code(), String::new()),
        Refusal::SrtpRequired => (r.status_code(), SRTP_REQUIRED_REASON.to_string()),
    }
}

/// Whether a refusal `(status, reason)` from [`Anchor::for_caller`] is the
/// SRTP one, whose response carries [`SRTP_REQUIRED_WARNING`].
pub fn is_srtp_refusal(status: u16, reason: &str) -> bool {
    status == 488 && reason == SRTP_REQUIRED_REASON
}

struct State {
    /// The address in our SDP and browsers' ICE candidates (the public
    /// one behind NAT; sockets bind to the pool's).
    ip: IpAddr,
    pool: Arc<PortPool>,
    /// The first leg: the caller's answer is its.
    caller: LegId,
    legs: HashMap<LegId, LegSdp>,
    /// `None` once closed.
    media: Option<MediaHandle>,
    /// The bridge the call's parties talk in (made when first needed).
    bridge: Option<BridgeId>,
    /// Browsers' legs (WebRTC, terminated in the media task). They are
    /// not in `legs`.
    webrtc: HashMap<LegId, Browser>,
    /// Legs about to be dialled that are browsers.
    browsers: HashSet<LegId>,
    /// Legs about to be dialled whose party may or must use SRTP.
    dialled_srtp: HashMap<LegId, SrtpPolicy>,
}

/// A browser's leg as the call's SDP state keeps it.
struct Browser {
    /// The endpoint, shared with the media task: re-offers either way
    /// are made and taken on it here, at once.
    leg: SharedWebRtcLeg,
    /// The SDP it was first given: our answer to a browser that called,
    /// our offer to one we dial. A calling browser's answer is this.
    sdp: Vec<u8>,
    /// Our answer to its re-offer, held while the re-offer goes on to
    /// the other party (str0m took the offer already).
    pending_answer: Option<Vec<u8>>,
}

/// A browser's leg leaving for another call (an attended transfer): its
/// endpoint as the call's SDP state kept it, and its sockets, which the
/// media task hands over (see [`MediaHandle::hand_off`]).
struct MovingBrowser {
    leg: SharedWebRtcLeg,
    sdp: Vec<u8>,
    ports: oneshot::Receiver<Option<RtpPorts>>,
}

/// A hold direction in str0m's terms and back.
fn to_webrtc(d: Direction) -> WebRtcDirection {
    match d {
        Direction::SendRecv => WebRtcDirection::SendRecv,
        Direction::SendOnly => WebRtcDirection::SendOnly,
        Direction::RecvOnly => WebRtcDirection::RecvOnly,
        Direction::Inactive => WebRtcDirection::Inactive,
    }
}

fn from_webrtc(d: WebRtcDirection) -> Direction {
    match d {
        WebRtcDirection::SendRecv => Direction::SendRecv,
        WebRtcDirection::SendOnly => Direction::SendOnly,
        WebRtcDirection::RecvOnly => Direction::RecvOnly,
        WebRtcDirection::Inactive => Direction::Inactive,
    }
}

/// Whether an SDP body is a browser's: DTLS-SRTP over ICE
/// (`UDP/TLS/RTP/SAVPF`), which only a WebRTC leg can take.
pub fn is_webrtc(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .filter(|l| l.starts_with("m=audio"))
        .any(|l| l.contains("UDP/TLS/RTP/SAVP"))
}

/// The anchored media of one call (cheap to clone: one shared state).
#[derive(Clone)]
pub struct Anchor {
    state: Arc<Mutex<State>>,
}

impl Anchor {
    /// Anchor an incoming call whose caller (`caller`) offered `offer`:
    /// the offer is checked before a port is taken, then answered with
    /// the caller's own endpoint, under the caller's SRTP policy
    /// (`srtp`: the extension's or the trunk's). Media events go to
    /// `events`.
    pub fn for_caller(
        pool: &Arc<PortPool>,
        settings: &crate::MediaSettings,
        caller: LegId,
        offer: &[u8],
        srtp: SrtpPolicy,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<Anchor, (u16, String)> {
        let refused = |r: Refusal| refusal_status(&r);
        if is_webrtc(offer) {
            let anchor = Anchor::new(pool, settings, caller, events);
            let mut s = anchor.lock();
            s.add_webrtc_leg(caller, |local| {
                WebRtcLeg::answer(Instant::now(), &String::from_utf8_lossy(offer), local)
            })
            .map_err(|e| (488, format!("WebRTC: {e}")))?;
            drop(s);
            return Ok(anchor);
        }
        let offer = Sdp::parse(offer).map_err(|e| refused(e.into()))?;
        LegSdp::acceptable(settings.advertised_ip(), &offer, srtp).map_err(refused)?;
        let anchor = Anchor::new(pool, settings, caller, events);
        let mut s = anchor.lock();
        let mut sdp = s
            .add_leg(caller, srtp)
            .map_err(|e| (503, format!("No Media Ports: {e}")))?;
        let (_, chosen) = sdp.answer(&offer).map_err(refused)?;
        s.configure(caller, &chosen);
        s.legs.insert(caller, sdp);
        drop(s);
        Ok(anchor)
    }

    /// Media for a call whose legs all come later (click-to-call: every
    /// leg is one we dial and offer to).
    pub fn new(
        pool: &Arc<PortPool>,
        settings: &crate::MediaSettings,
        caller: LegId,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Anchor {
        let media = MediaHandle::start(Some(settings.rtp_timeout), events);
        Anchor {
            state: Arc::new(Mutex::new(State {
                ip: settings.advertised_ip(),
                pool: pool.clone(),
                caller,
                legs: HashMap::new(),
                media: Some(media),
                bridge: None,
                webrtc: HashMap::new(),
                browsers: HashSet::new(),
                dialled_srtp: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds
        // consistent SDP state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the media task's handle, unless the media is closed.
    pub fn with_media<T>(&self, f: impl FnOnce(&MediaHandle) -> T) -> Option<T> {
        self.lock().media.as_ref().map(f)
    }

    /// Put `a` and `b` in the call's bridge: everybody there hears
    /// everybody (two legs relay, more are mixed).
    pub fn connect(&self, a: LegId, b: LegId) {
        let mut s = self.lock();
        let Some(media) = s.media.as_ref() else {
            return;
        };
        let bridge = match s.bridge {
            Some(b) => b,
            None => {
                let b = media.create_bridge();
                s.bridge = Some(b);
                b
            }
        };
        let media = s.media.as_ref().expect("checked above");
        media.join(a, bridge);
        media.join(b, bridge);
    }

    /// Whether `listener` hears `source` in the call's bridge (nothing
    /// before there is one).
    pub fn set_hears(&self, listener: LegId, source: LegId, on: bool) {
        let s = self.lock();
        if let (Some(media), Some(bridge)) = (s.media.as_ref(), s.bridge) {
            media.set_hears(bridge, listener, source, on);
        }
    }

    /// The leg's dialog is over: its endpoint goes, its ports go back.
    pub fn close_leg(&self, leg: LegId) {
        let mut s = self.lock();
        s.legs.remove(&leg);
        s.webrtc.remove(&leg);
        if let Some(m) = s.media.as_ref() {
            m.leave(leg);
            m.remove_leg(leg);
        }
    }

    /// Stop the media now; returns once its sockets are closed and its
    /// ports back in the pool.
    pub async fn close(&self) {
        let media = self.lock().media.take();
        if let Some(m) = media {
            m.close().await;
        }
    }
}

impl State {
    /// A new endpoint (ports taken now) for `leg` in the media task.
    fn add_leg(&mut self, leg: LegId, srtp: SrtpPolicy) -> std::io::Result<LegSdp> {
        let ports = self.pool.allocate_now()?;
        let sdp = LegSdp::new(self.ip, ports.rtp_addr().port()).with_srtp(srtp);
        if let Some(m) = self.media.as_ref() {
            m.add_leg(leg, ports);
        }
        Ok(sdp)
    }

    /// A browser's leg: ports taken now, its WebRTC endpoint made by
    /// `make` on them (answering or offering), handed to the media task.
    /// The SDP it made comes back, and is kept as the leg's.
    fn add_webrtc_leg(
        &mut self,
        leg: LegId,
        make: impl FnOnce(
            SocketAddr,
        ) -> Result<(WebRtcLeg, String), switchyard_media::webrtc::WebRtcError>,
    ) -> Result<Vec<u8>, String> {
        let ports = self
            .pool
            .allocate_now()
            .map_err(|e| format!("no media ports: {e}"))?;
        let local = SocketAddr::new(self.ip, ports.rtp_addr().port());
        let (endpoint, sdp) = make(local).map_err(|e| e.to_string())?;
        let shared: SharedWebRtcLeg = Arc::new(Mutex::new(endpoint));
        if let Some(m) = self.media.as_ref() {
            m.add_webrtc_leg(leg, ports, shared.clone());
        }
        let sdp = sdp.into_bytes();
        self.webrtc.insert(
            leg,
            Browser {
                leg: shared,
                sdp: sdp.clone(),
                pending_answer: None,
            },
        );
        Ok(sdp)
    }

    /// A browser's leg was renegotiated: the media task sends what str0m
    /// made of it, and the session expects RTP from the browser only
    /// while it sends (a browser we hold sends nothing, and must not be
    /// timed out for it).
    fn webrtc_changed(&self, leg: LegId) {
        let (Some(b), Some(m)) = (self.webrtc.get(&leg), self.media.as_ref()) else {
            return;
        };
        let (local, sends) = {
            let w = webrtc::lock(&b.leg);
            let sends = w
                .peer_direction()
                .is_none_or(|d| matches!(d, WebRtcDirection::SendRecv | WebRtcDirection::SendOnly));
            (w.local(), sends)
        };
        m.webrtc_changed(leg);
        m.configure(
            leg,
            LegConfig {
                law: Law::Pcmu,
                event_pt: Some(webrtc::EVENT_PT),
                remote: Some(local),
                sends,
            },
        );
    }

    /// Our new offer to `leg` (a phone's or a browser's) in `direction`,
    /// for a party's re-offer passed on or a hold taken back. `Ok(None)`:
    /// a browser for which nothing changes is not asked (str0m makes no
    /// offer without a change).
    fn offer_existing(&mut self, leg: LegId, direction: Direction) -> Result<Option<Vec<u8>>, u16> {
        if let Some(b) = self.webrtc.get(&leg) {
            let offer = webrtc::lock(&b.leg).reoffer(Instant::now(), to_webrtc(direction));
            self.webrtc_changed(leg);
            return Ok(offer.map(String::into_bytes));
        }
        Ok(Some(
            self.legs.get_mut(&leg).ok_or(488u16)?.offer(direction),
        ))
    }

    /// The direction `leg`'s party last agreed to, its own view.
    fn peer_direction(&self, leg: LegId) -> Option<Direction> {
        match self.webrtc.get(&leg) {
            Some(b) => webrtc::lock(&b.leg).peer_direction().map(from_webrtc),
            None => self.legs.get(&leg).and_then(LegSdp::direction),
        }
    }

    /// A browser offered again (JsSIP's hold is a re-INVITE with
    /// `a=sendonly`, its resume one with `a=sendrecv`). str0m takes the
    /// offer on the leg's own `Rtc` at once, so ICE and DTLS stay; the
    /// direction goes on to the other party as a phone's would, and our
    /// answer waits for theirs. If that party then refuses, the browser
    /// hears 488 while str0m keeps the new direction: only the direction
    /// can differ, and the browser's next offer settles it.
    fn browser_reoffer(
        &mut self,
        leg: LegId,
        other: Option<LegId>,
        body: &[u8],
    ) -> Result<Renegotiation, u16> {
        if !is_webrtc(body) {
            return Err(488);
        }
        let b = self.webrtc.get(&leg).ok_or(488u16)?;
        let answer = {
            let mut w = webrtc::lock(&b.leg);
            w.accept_offer(Instant::now(), &String::from_utf8_lossy(body))
                .map_err(|e| {
                    tracing::warn!(%leg, error = %e, "the browser's re-offer was refused");
                    488u16
                })?
        };
        self.webrtc_changed(leg);
        let answer = answer.into_bytes();
        let Some(other) = other else {
            return Ok(Renegotiation::Answer(answer));
        };
        let direction = self.peer_direction(leg).unwrap_or(Direction::SendRecv);
        match self.offer_existing(other, direction)? {
            Some(ours) => {
                if let Some(b) = self.webrtc.get_mut(&leg) {
                    b.pending_answer = Some(answer);
                }
                Ok(Renegotiation::Forward(ours))
            }
            None => Ok(Renegotiation::Answer(answer)),
        }
    }

    fn configure(&self, leg: LegId, n: &Negotiated) {
        if let Some(m) = self.media.as_ref() {
            m.set_srtp(leg, n.srtp);
            m.configure(leg, leg_config(n));
        }
    }

    fn status(r: Refusal) -> u16 {
        r.status_code()
    }
}

impl Negotiator for Anchor {
    fn answer_caller(&mut self) -> Option<Vec<u8>> {
        let s = self.lock();
        if let Some(b) = s.webrtc.get(&s.caller) {
            return Some(b.sdp.clone());
        }
        s.legs.get(&s.caller).map(|l| l.last_answer().to_vec())
    }

    fn dialling_browser(&mut self, leg: LegId) {
        self.lock().browsers.insert(leg);
    }

    fn dialling_srtp(&mut self, leg: LegId, srtp: SrtpPolicy) {
        self.lock().dialled_srtp.insert(leg, srtp);
    }

    fn offer_to(&mut self, leg: LegId, _snapshot: &CallSnapshot) -> Option<Vec<u8>> {
        let mut s = self.lock();
        if s.browsers.remove(&leg) {
            return match s.add_webrtc_leg(leg, |local| WebRtcLeg::offer(Instant::now(), local)) {
                Ok(offer) => Some(offer),
                Err(e) => {
                    tracing::warn!(error = %e, "no WebRTC offer for a browser");
                    None
                }
            };
        }
        let srtp = s.dialled_srtp.remove(&leg).unwrap_or_default();
        let mut sdp = match s.add_leg(leg, srtp) {
            Ok(sdp) => sdp,
            Err(e) => {
                // The INVITE goes without SDP: the party's 200 then
                // carries an offer we cannot answer, and the leg fails.
                tracing::warn!(error = %e, "no media ports for a dialled leg");
                return None;
            }
        };
        let offer = sdp.offer(Direction::SendRecv);
        s.legs.insert(leg, sdp);
        Some(offer)
    }

    fn remote_answer(&mut self, leg: LegId, body: &[u8]) -> Result<(), u16> {
        let mut s = self.lock();
        if let Some(b) = s.webrtc.get(&leg) {
            if !is_webrtc(body) {
                return Err(488);
            }
            let taken =
                webrtc::lock(&b.leg).accept_answer(Instant::now(), &String::from_utf8_lossy(body));
            match taken {
                Ok(()) => s.webrtc_changed(leg),
                // A browser's 18x and 200 carry the same answer: the first
                // is taken, the repeat finds no offer waiting.
                Err(webrtc::WebRtcError::NoPendingOffer) => {}
                Err(e) => {
                    tracing::warn!(%leg, error = %e, "the browser's answer was refused");
                    return Err(488);
                }
            }
            return Ok(());
        }
        let sdp = s.legs.get_mut(&leg).ok_or(488u16)?;
        let n = sdp.read_answer(body).map_err(State::status)?;
        s.configure(leg, &n);
        Ok(())
    }

    fn caller_answer_for(&mut self, _leg: LegId) -> Option<Vec<u8>> {
        self.answer_caller()
    }

    fn answer_offer(&mut self, leg: LegId, offer: &[u8]) -> Result<Vec<u8>, u16> {
        if is_webrtc(offer) {
            // A browser picking up another's call: a new leg of its own,
            // answered as a browser's call is.
            return self
                .lock()
                .add_webrtc_leg(leg, |local| {
                    WebRtcLeg::answer(Instant::now(), &String::from_utf8_lossy(offer), local)
                })
                .map_err(|e| {
                    tracing::warn!(%leg, error = %e, "a browser's pickup offer was refused");
                    488u16
                });
        }
        let offer = Sdp::parse(offer).map_err(|e| State::status(e.into()))?;
        let mut s = self.lock();
        // A phone picking up another's call: its offer is taken as it
        // comes, SRTP or not.
        let mut sdp = s.add_leg(leg, SrtpPolicy::Optional).map_err(|_| 503u16)?;
        let (body, chosen) = sdp.answer(&offer).map_err(State::status)?;
        s.configure(leg, &chosen);
        s.legs.insert(leg, sdp);
        Ok(body)
    }

    fn reoffer(
        &mut self,
        leg: LegId,
        other: Option<LegId>,
        body: &[u8],
    ) -> Result<Renegotiation, u16> {
        let mut s = self.lock();
        if s.webrtc.contains_key(&leg) {
            return s.browser_reoffer(leg, other, body);
        }
        let offer = Sdp::parse(body).map_err(|e| State::status(e.into()))?;
        match other {
            // Talking to one party: the offer (hold goes through as its
            // direction) goes on, and its answer gives ours.
            Some(other) => {
                let direction = s
                    .legs
                    .get_mut(&leg)
                    .ok_or(488u16)?
                    .take_offer(&offer)
                    .map_err(State::status)?;
                match s.offer_existing(other, direction)? {
                    Some(ours) => Ok(Renegotiation::Forward(ours)),
                    // A browser that would hear nothing new: answered here.
                    None => {
                        let sdp = s.legs.get_mut(&leg).ok_or(488u16)?;
                        let (answer, chosen) = sdp.answer_pending().map_err(State::status)?;
                        s.configure(leg, &chosen);
                        Ok(Renegotiation::Answer(answer))
                    }
                }
            }
            // Nobody else: we answer it ourselves.
            None => {
                let (answer, chosen) = s
                    .legs
                    .get_mut(&leg)
                    .ok_or(488u16)?
                    .answer(&offer)
                    .map_err(State::status)?;
                s.configure(leg, &chosen);
                Ok(Renegotiation::Answer(answer))
            }
        }
    }

    fn reanswered(&mut self, from: LegId, to: LegId, body: &[u8]) -> Result<Vec<u8>, u16> {
        let mut s = self.lock();
        let pending = match s.webrtc.get(&from) {
            Some(b) => b.pending_answer.is_some(),
            None => s.legs.get(&from).is_some_and(LegSdp::has_pending_offer),
        };
        if !pending {
            return Err(500);
        }
        if let Some(b) = s.webrtc.get(&to) {
            if !is_webrtc(body) {
                return Err(488);
            }
            let taken =
                webrtc::lock(&b.leg).accept_answer(Instant::now(), &String::from_utf8_lossy(body));
            if let Err(e) = taken {
                tracing::warn!(leg = %to, error = %e, "the browser's answer to our re-offer was refused");
                return Err(488);
            }
            s.webrtc_changed(to);
        } else {
            let theirs = s
                .legs
                .get_mut(&to)
                .ok_or(488u16)?
                .read_answer(body)
                .map_err(State::status)?;
            s.configure(to, &theirs);
        }
        if let Some(b) = s.webrtc.get_mut(&from) {
            return b.pending_answer.take().ok_or(500);
        }
        let (answer, chosen) = s
            .legs
            .get_mut(&from)
            .ok_or(488u16)?
            .answer_pending()
            .map_err(State::status)?;
        s.configure(from, &chosen);
        Ok(answer)
    }

    fn anchored(&self) -> bool {
        true
    }

    fn offer_again(&mut self, leg: LegId) -> Option<Vec<u8>> {
        self.lock()
            .offer_existing(leg, Direction::SendRecv)
            .ok()
            .flatten()
    }

    fn holds(&self, leg: LegId) -> bool {
        matches!(
            self.lock().peer_direction(leg),
            Some(Direction::SendOnly | Direction::Inactive)
        )
    }
    /// A browser's endpoint moves with its dialog: the media task hands
    /// its sockets on, and the WebRTC state goes along. A phone's stays
    /// (and is closed): the other call offers it one of its own.
    fn release(&mut self, leg: LegId) -> Option<Endpoint> {
        let mut s = self.lock();
        if !s.webrtc.contains_key(&leg) {
            return None;
        }
        let ports = s.media.as_ref()?.hand_off(leg);
        let b = s.webrtc.remove(&leg)?;
        Some(Endpoint::new(MovingBrowser {
            leg: b.leg,
            sdp: b.sdp,
            ports,
        }))
    }

    fn adopt(&mut self, leg: LegId, endpoint: Endpoint) -> bool {
        let Some(moving) = endpoint.take::<MovingBrowser>() else {
            return false;
        };
        let mut s = self.lock();
        let Some(media) = s.media.as_ref() else {
            return false;
        };
        media.adopt_webrtc_leg(leg, moving.ports, moving.leg.clone());
        s.webrtc.insert(
            leg,
            Browser {
                leg: moving.leg,
                sdp: moving.sdp,
                pending_answer: None,
            },
        );
        // Its direction as it was agreed in the other call.
        s.webrtc_changed(leg);
        true
    }
}

#[cfg(test)]
mod tests {
    //! The anchor's renegotiation between a browser (a str0m `Rtc`
    //! playing it: only SDP, no packets) and a phone (SDP text): who is
    //! offered what, and who holds whom.

    use super::*;
    use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
    use str0m::media::{Direction as D, MediaKind, Mid};
    use str0m::{Candidate, Rtc};
    use switchyard_plugins::types::{Direction as CallDirection, Party};

    const BROWSER: LegId = LegId(0);
    const PHONE: LegId = LegId(1);
    const PICKER: LegId = LegId(2);

    fn phone_sdp(direction: &str) -> Vec<u8> {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
        )
        .into_bytes()
    }

    fn snapshot() -> CallSnapshot {
        CallSnapshot {
            call_id: "anchor".into(),
            tenant: "demo".into(),
            direction: CallDirection::Internal,
            caller: Party {
                number: "1001".into(),
                display_name: None,
            },
            callee: Party {
                number: "1002".into(),
                display_name: None,
            },
            dialled: "1002".into(),
            tags: Vec::new(),
            start_time: 0,
            answer_time: None,
            time_zone: "UTC".into(),
            flow: "main".into(),
            plugin_version: 1,
        }
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// The ICE credentials and DTLS fingerprint in an SDP.
    fn transport(sdp: &str) -> Vec<&str> {
        let mut v: Vec<&str> = sdp
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("a=ice-ufrag:")
                    || l.starts_with("a=ice-pwd:")
                    || l.starts_with("a=fingerprint:")
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The browser (caller) and a phone (dialled, answered) in one call.
    fn call() -> (Anchor, Rtc, Mid, String) {
        call_behind(None)
    }

    /// [`call`], the host's media advertised at `public_ip`.
    fn call_behind(public_ip: Option<IpAddr>) -> (Anchor, Rtc, Mid, String) {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        call_on(&Arc::new(PortPool::new(ip, 42_000, 42_200)), public_ip)
    }

    /// [`call_behind`] with ports from `pool`.
    fn call_on(pool: &Arc<PortPool>, public_ip: Option<IpAddr>) -> (Anchor, Rtc, Mid, String) {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let settings = crate::MediaSettings {
            ip,
            public_ip,
            low_port: 42_000,
            high_port: 42_200,
            rtp_timeout: crate::MediaSettings::DEFAULT_RTP_TIMEOUT,
        };
        let mut browser = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        browser.add_local_candidate(
            Candidate::host("127.0.0.1:50000".parse().unwrap(), "udp").unwrap(),
        );
        let mut change = browser.sdp_api();
        let mid = change.add_media(MediaKind::Audio, D::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let (events, _) = mpsc::unbounded_channel();
        let mut anchor = Anchor::for_caller(
            pool,
            &settings,
            BROWSER,
            offer.to_sdp_string().as_bytes(),
            SrtpPolicy::Off,
            events,
        )
        .unwrap();
        let answer = text(&anchor.answer_caller().unwrap());
        browser
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        let ours = text(&anchor.offer_to(PHONE, &snapshot()).unwrap());
        assert!(ours.contains("RTP/AVP"), "{ours}");
        anchor.remote_answer(PHONE, &phone_sdp("sendrecv")).unwrap();
        (anchor, browser, mid, answer)
    }

    /// A browser picking up another's call (its own INVITE, a WebRTC
    /// offer) gets a WebRTC answer on a leg of its own.
    #[tokio::test]
    async fn a_browser_picking_up_a_call_is_answered_with_webrtc() {
        let (mut anchor, _, _, first) = call();
        let mut picker = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        picker.add_local_candidate(
            Candidate::host("127.0.0.1:50002".parse().unwrap(), "udp").unwrap(),
        );
        let mut change = picker.sdp_api();
        change.add_media(MediaKind::Audio, D::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let answer = text(
            &anchor
                .answer_offer(PICKER, offer.to_sdp_string().as_bytes())
                .unwrap(),
        );
        assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
        assert_ne!(
            transport(&answer)[1..],
            transport(&first)[1..],
            "its own ICE"
        );
        picker
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        anchor.close().await;
    }

    /// Behind 1:1 NAT the sockets stay on the private address, while
    /// what peers are told names the public one: a phone's SDP and a
    /// browser's ICE candidate.
    #[tokio::test]
    async fn behind_nat_peers_are_told_the_public_address() {
        let (mut anchor, _, _, answer) = call_behind(Some("203.0.113.7".parse().unwrap()));
        let candidate = answer
            .lines()
            .find(|l| l.starts_with("a=candidate:"))
            .expect("a host candidate");
        assert!(candidate.contains(" 203.0.113.7 "), "{candidate}");
        let phone = text(&anchor.offer_again(PHONE).unwrap());
        assert!(phone.contains("c=IN IP4 203.0.113.7"), "{phone}");
        assert!(!phone.contains("127.0.0.1"), "{phone}");
        anchor.close().await;
    }

    fn browser_offers(browser: &mut Rtc, mid: Mid, d: D) -> (String, SdpPendingOffer) {
        let mut change = browser.sdp_api();
        change.set_direction(mid, d);
        let (offer, pending) = change.apply().unwrap();
        (offer.to_sdp_string(), pending)
    }

    #[tokio::test]
    async fn a_browsers_hold_goes_on_to_the_phone_and_its_answer_comes_back() {
        let (mut anchor, mut browser, mid, first) = call();
        for (d, to_phone, back, holds) in [
            (D::SendOnly, "a=sendonly", "recvonly", true),
            (D::SendRecv, "a=sendrecv", "sendrecv", false),
        ] {
            let (offer, pending) = browser_offers(&mut browser, mid, d);
            let Ok(Renegotiation::Forward(fwd)) =
                anchor.reoffer(BROWSER, Some(PHONE), offer.as_bytes())
            else {
                panic!("the browser's re-offer goes on to the phone");
            };
            let fwd = text(&fwd);
            assert!(fwd.contains(to_phone) && fwd.contains("RTP/AVP"), "{fwd}");
            let answer = text(&anchor.reanswered(BROWSER, PHONE, &phone_sdp(back)).unwrap());
            assert_eq!(transport(&answer), transport(&first), "same ICE and DTLS");
            browser
                .sdp_api()
                .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
                .unwrap();
            assert_eq!(anchor.holds(BROWSER), holds);
            assert!(!anchor.holds(PHONE));
        }
        anchor.close().await;
    }

    /// `phone` holds `leg` (a browser, played by `browser`, first given
    /// `first`): the hold reaches it as a WebRTC offer on its own ICE
    /// and DTLS, its answer comes back, and the phone is answered
    /// recvonly.
    fn phone_holds_browser(
        anchor: &mut Anchor,
        phone: LegId,
        leg: LegId,
        browser: &mut Rtc,
        first: &str,
    ) {
        let Ok(Renegotiation::Forward(fwd)) =
            anchor.reoffer(phone, Some(leg), &phone_sdp("sendonly"))
        else {
            panic!("the phone's hold goes on to the browser");
        };
        let fwd = text(&fwd);
        assert!(
            is_webrtc(fwd.as_bytes()) && fwd.contains("a=sendonly"),
            "{fwd}"
        );
        assert_eq!(transport(&fwd), transport(first), "same ICE and DTLS");
        let answer = browser
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&fwd).unwrap())
            .unwrap()
            .to_sdp_string();
        let ours = text(&anchor.reanswered(phone, leg, answer.as_bytes()).unwrap());
        assert!(ours.contains("a=recvonly"), "{ours}");
    }

    #[tokio::test]
    async fn a_phones_hold_and_the_hosts_offer_again_reach_the_browser_as_webrtc() {
        let (mut anchor, mut browser, _, first) = call();
        phone_holds_browser(&mut anchor, PHONE, BROWSER, &mut browser, &first);
        assert!(anchor.holds(PHONE) && !anchor.holds(BROWSER));

        // The same hold again asks nothing new of the browser: answered here.
        let again = anchor.reoffer(PHONE, Some(BROWSER), &phone_sdp("sendonly"));
        assert!(matches!(again, Ok(Renegotiation::Answer(_))), "{again:?}");

        // The host takes the browser off hold (an attended transfer's
        // offer_again): a WebRTC sendrecv offer; nothing when nothing changes.
        let offer = text(&anchor.offer_again(BROWSER).unwrap());
        assert!(
            is_webrtc(offer.as_bytes()) && offer.contains("a=sendrecv"),
            "{offer}"
        );
        let answer = browser
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&offer).unwrap())
            .unwrap()
            .to_sdp_string();
        anchor.remote_answer(BROWSER, answer.as_bytes()).unwrap();
        assert_eq!(anchor.offer_again(BROWSER), None);
        // A plain answer for a browser's leg is refused.
        assert_eq!(
            anchor.remote_answer(BROWSER, &phone_sdp("sendrecv")),
            Err(488)
        );
        anchor.close().await;
    }

    /// An attended transfer moves a browser to another call: its endpoint
    /// (sockets, ICE, DTLS) goes along, so the other call's offers to it
    /// keep its transport, and its ports outlive the call it left. A
    /// phone's endpoint stays behind.
    #[tokio::test]
    async fn a_browsers_endpoint_moves_to_another_call_with_its_transport() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let pool = Arc::new(PortPool::new(ip, 42_300, 42_400));
        let (mut donor, mut browser, _, first) = call_on(&pool, None);
        assert_eq!(pool.in_use(), 2, "the browser's ports and the phone's");
        assert!(donor.release(PHONE).is_none(), "a phone's endpoint stays");
        let moving = donor
            .release(BROWSER)
            .expect("the browser's endpoint leaves");

        let settings = crate::MediaSettings {
            ip,
            public_ip: None,
            low_port: 42_300,
            high_port: 42_400,
            rtp_timeout: crate::MediaSettings::DEFAULT_RTP_TIMEOUT,
        };
        let (events, _) = mpsc::unbounded_channel();
        let mut keeper = Anchor::for_caller(
            &pool,
            &settings,
            LegId(0),
            &phone_sdp("sendrecv"),
            SrtpPolicy::Off,
            events,
        )
        .unwrap();
        let moved = LegId(3);
        assert!(keeper.adopt(moved, moving));
        // The call it left ends: its ports stay with the keeper.
        donor.close().await;
        assert_eq!(
            pool.in_use(),
            2,
            "the keeper's caller and the moved browser"
        );

        // It sends and receives already: nothing to offer.
        assert_eq!(keeper.offer_again(moved), None);
        assert!(!keeper.holds(moved));
        // The keeper's caller holds: the browser is offered that on its
        // own transport, and its answer is taken.
        phone_holds_browser(&mut keeper, LegId(0), moved, &mut browser, &first);

        // Another negotiator's endpoint is not taken.
        assert!(!keeper.adopt(LegId(4), Endpoint::new("a stranger's")));
        keeper.close().await;
        assert_eq!(pool.in_use(), 0, "every port back");
    }
}
