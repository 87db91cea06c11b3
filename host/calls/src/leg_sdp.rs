//! One leg's SDP offer/answer state on the host's side of an anchored
//! call: where we receive (our endpoint), our `o=` session, the last offer
//! we made and the last one the peer made, and what was agreed. Pure: no
//! sockets, no media task — the anchor (two legs today, any number in the
//! session's negotiator) keeps one per leg and configures media from what
//! it returns.

use std::net::IpAddr;

use switchyard_sdp::crypto::KEY_LEN;
use switchyard_sdp::{
    Answer, Codec, Direction, LocalSession, MediaEndpoint, Negotiated, Refusal, Sdp, SrtpPolicy,
    accept_answer, answer_srtp, offer_srtp,
};

/// What we offer and accept on every leg: G.711 both ways, and RFC 4733
/// digits (as payload type 101 in our offers).
pub const CODECS: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];

#[derive(Debug, Clone)]
pub struct LegSdp {
    endpoint: MediaEndpoint,
    session: LocalSession,
    /// The peer's last offer, as our answer to it (sent or not yet).
    their_offer: Option<Answer>,
    /// Our last offer, to read its answer against.
    our_offer: Option<Sdp>,
    /// Our last answer, as sent.
    last_answer: Vec<u8>,
    /// What was last agreed on this leg.
    negotiated: Option<Negotiated>,
    /// Whether the leg's party may or must use SRTP.
    srtp: SrtpPolicy,
    /// Our SRTP master key and salt for this leg, fresh and random, kept
    /// for the leg's life (re-INVITEs answer with the same key).
    key: [u8; KEY_LEN],
}

impl LegSdp {
    /// A leg receiving on `ip:rtp_port`, with a fresh `o=` session.
    pub fn new(ip: IpAddr, rtp_port: u16) -> LegSdp {
        LegSdp {
            endpoint: MediaEndpoint::new(ip, rtp_port),
            session: LocalSession::new(u64::from(rand::random::<u32>()), 1),
            their_offer: None,
            our_offer: None,
            last_answer: Vec::new(),
            negotiated: None,
            srtp: SrtpPolicy::Off,
            key: rand::random(),
        }
    }

    /// The party's SRTP policy: what its offers and answers may or must
    /// be, and whether we offer it `RTP/SAVP`.
    pub fn with_srtp(mut self, srtp: SrtpPolicy) -> LegSdp {
        self.srtp = srtp;
        self
    }

    /// Could we answer `offer` at all under `srtp`? (Checked before
    /// ports are taken.)
    pub fn acceptable(ip: IpAddr, offer: &Sdp, srtp: SrtpPolicy) -> Result<(), Refusal> {
        answer_srtp(
            offer,
            &MediaEndpoint::new(ip, 0),
            &CODECS,
            srtp,
            &[0; KEY_LEN],
        )
        .map(|_| ())
    }

    fn answer_to(&self, offer: &Sdp) -> Result<Answer, Refusal> {
        answer_srtp(offer, &self.endpoint, &CODECS, self.srtp, &self.key)
    }

    /// Answer the peer's offer now: our answer's bytes and what it agrees.
    pub fn answer(&mut self, offer: &Sdp) -> Result<(Vec<u8>, Negotiated), Refusal> {
        let chosen = self.answer_to(offer)?;
        self.their_offer = Some(chosen);
        self.answer_pending()
    }

    /// Take the peer's offer without answering yet (it goes on to another
    /// party first); the direction it asks for.
    pub fn take_offer(&mut self, offer: &Sdp) -> Result<Direction, Refusal> {
        let chosen = self.answer_to(offer)?;
        let direction = chosen.negotiated.peer_direction();
        self.their_offer = Some(chosen);
        Ok(direction)
    }

    /// Our answer to the offer taken last.
    pub fn answer_pending(&mut self) -> Result<(Vec<u8>, Negotiated), Refusal> {
        let chosen = self
            .their_offer
            .as_ref()
            .ok_or_else(|| Refusal::Malformed("no offer to answer".into()))?;
        let body = chosen.to_sdp(&mut self.session).to_bytes();
        let n = chosen.negotiated;
        self.negotiated = Some(n);
        self.last_answer = body.clone();
        Ok((body, n))
    }

    /// Has the peer an offer we have not answered?
    pub fn has_pending_offer(&self) -> bool {
        self.their_offer.is_some()
    }

    /// Our offer in `direction`, remembered to read its answer.
    pub fn offer(&mut self, direction: Direction) -> Vec<u8> {
        // SRTP is offered only to a party that requires it: one that
        // merely may use it gets plain RTP, which every phone takes.
        let key = (self.srtp == SrtpPolicy::Required).then_some(&self.key);
        let sdp = offer_srtp(&self.endpoint, &CODECS, direction, &mut self.session, key);
        let body = sdp.to_bytes();
        self.our_offer = Some(sdp);
        body
    }

    /// The peer answered our last offer.
    pub fn read_answer(&mut self, body: &[u8]) -> Result<Negotiated, Refusal> {
        let ours = self
            .our_offer
            .as_ref()
            .ok_or_else(|| Refusal::Malformed("an answer to no offer of ours".into()))?;
        let n = accept_answer(ours, &Sdp::parse(body)?)?;
        self.negotiated = Some(n);
        Ok(n)
    }

    /// Our last answer, as sent.
    pub fn last_answer(&self) -> &[u8] {
        &self.last_answer
    }

    /// What was last agreed (`None` until the leg answered or offered).
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    /// The direction the peer last asked for (hold is sendonly/inactive).
    pub fn direction(&self) -> Option<Direction> {
        self.negotiated.map(|n| n.peer_direction())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    fn ip() -> IpAddr {
        "192.0.2.1".parse().unwrap()
    }

    #[test]
    fn a_phones_offer_is_answered_from_our_endpoint() {
        let mut leg = LegSdp::new(ip(), 30000);
        let (body, n) = leg.answer(&Sdp::parse(PHONE.as_bytes()).unwrap()).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("c=IN IP4 192.0.2.1"), "{text}");
        assert!(text.contains("m=audio 30000 RTP/AVP 8 101"), "{text}");
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(leg.direction(), Some(Direction::SendRecv));
        assert_eq!(leg.last_answer(), text.as_bytes());
    }

    #[test]
    fn hold_is_taken_then_answered_after_the_other_party() {
        let mut leg = LegSdp::new(ip(), 30000);
        leg.answer(&Sdp::parse(PHONE.as_bytes()).unwrap()).unwrap();
        let hold = PHONE.replace("a=sendrecv", "a=sendonly");
        let d = leg
            .take_offer(&Sdp::parse(hold.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d, Direction::SendOnly);
        assert_eq!(leg.direction(), Some(Direction::SendRecv), "not agreed yet");
        let (body, _) = leg.answer_pending().unwrap();
        assert!(String::from_utf8(body).unwrap().contains("a=recvonly"));
        assert_eq!(leg.direction(), Some(Direction::SendOnly));
    }

    #[test]
    fn an_answer_to_no_offer_of_ours_is_refused() {
        let mut leg = LegSdp::new(ip(), 30002);
        assert!(leg.read_answer(PHONE.as_bytes()).is_err());
        let ours = String::from_utf8(leg.offer(Direction::SendRecv)).unwrap();
        assert!(ours.contains("m=audio 30002 RTP/AVP 0 8 101"), "{ours}");
        let n = leg.read_answer(PHONE.as_bytes()).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
    }

    const SAVP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";

    #[test]
    fn srtp_follows_the_partys_policy() {
        let savp = Sdp::parse(SAVP.as_bytes()).unwrap();
        let plain = Sdp::parse(PHONE.as_bytes()).unwrap();
        // Off: SRTP-only offers are refused as before.
        assert!(LegSdp::acceptable(ip(), &savp, SrtpPolicy::Off).is_err());
        assert!(LegSdp::acceptable(ip(), &savp, SrtpPolicy::Optional).is_ok());
        assert_eq!(
            LegSdp::acceptable(ip(), &plain, SrtpPolicy::Required),
            Err(Refusal::SrtpRequired)
        );
        let mut leg = LegSdp::new(ip(), 30000).with_srtp(SrtpPolicy::Required);
        let (body, n) = leg.answer(&savp).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("m=audio 30000 RTP/SAVP 0"), "{text}");
        let keys = n.srtp.unwrap();
        // The same key answers a re-INVITE.
        let (_, again) = leg.answer(&savp).unwrap();
        assert_eq!(again.srtp.unwrap().local, keys.local);
        // We offer RTP/SAVP only where SRTP is required.
        let ours = String::from_utf8(leg.offer(Direction::SendRecv)).unwrap();
        assert!(
            ours.contains("RTP/SAVP") && ours.contains("a=crypto:1 "),
            "{ours}"
        );
        let mut optional = LegSdp::new(ip(), 30002).with_srtp(SrtpPolicy::Optional);
        let ours = String::from_utf8(optional.offer(Direction::SendRecv)).unwrap();
        assert!(
            ours.contains("RTP/AVP ") && !ours.contains("a=crypto"),
            "{ours}"
        );
    }
}
