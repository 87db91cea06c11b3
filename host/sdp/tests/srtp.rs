//! SDES-SRTP offer/answer: `RTP/SAVP` with `a=crypto` (RFC 4568) under a
//! leg's policy.

use switchyard_sdp::crypto::{KEY_LEN, encode_base64};
use switchyard_sdp::{
    Codec, CryptoSuite, Direction, LocalSession, MediaEndpoint, Refusal, Sdp, SrtpPolicy,
    accept_answer, answer_srtp, offer_srtp,
};

const THEIR_KEY: [u8; KEY_LEN] = [7; KEY_LEN];
const OUR_KEY: [u8; KEY_LEN] = [9; KEY_LEN];
const CODECS: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];

fn phone(proto: &str, crypto: &[&str]) -> Sdp {
    let mut body = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio 4000 {proto} 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    for c in crypto {
        body.push_str(&format!("a=crypto:{c}\r\n"));
    }
    Sdp::parse(body.as_bytes()).unwrap()
}

fn line(tag: u32, suite: &str) -> String {
    format!("{tag} {suite} inline:{}", encode_base64(&THEIR_KEY))
}

fn us() -> MediaEndpoint {
    MediaEndpoint::new("198.51.100.1".parse().unwrap(), 30000)
}

fn answer_text(
    offer: &Sdp,
    policy: SrtpPolicy,
) -> Result<(String, switchyard_sdp::Negotiated), Refusal> {
    let a = answer_srtp(offer, &us(), &CODECS, policy, &OUR_KEY)?;
    let text = a.to_sdp(&mut LocalSession::new(1, 1)).to_string();
    Ok((text, a.negotiated))
}

#[test]
fn an_savp_offer_is_answered_with_our_key_for_its_tag() {
    let l80 = line(1, "AES_CM_128_HMAC_SHA1_80");
    let l32 = line(2, "AES_CM_128_HMAC_SHA1_32");
    let offer = phone("RTP/SAVP", &["1 F8_128_HMAC_SHA1_80 inline:x", &l32, &l80]);
    for policy in [SrtpPolicy::Optional, SrtpPolicy::Required] {
        let (text, n) = answer_text(&offer, policy).unwrap();
        assert!(text.contains("m=audio 30000 RTP/SAVP 0 101\r\n"), "{text}");
        let ours = format!(
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{}\r\n",
            encode_base64(&OUR_KEY)
        );
        assert!(text.contains(&ours), "{text}");
        assert_eq!(text.matches("a=crypto").count(), 1, "{text}");
        let keys = n.srtp.unwrap();
        assert_eq!(keys.suite, CryptoSuite::AesCm128HmacSha1_32);
        assert_eq!((keys.local, keys.remote), (OUR_KEY, THEIR_KEY));
    }
    // Off: SRTP cannot be carried, as before.
    assert_eq!(
        answer_text(&offer, SrtpPolicy::Off).unwrap_err(),
        Refusal::NotAcceptable
    );
}

#[test]
fn crypto_on_an_avp_offer_is_taken_unless_off() {
    let offer = phone("RTP/AVP", &[&line(1, "AES_CM_128_HMAC_SHA1_80")]);
    let (text, n) = answer_text(&offer, SrtpPolicy::Optional).unwrap();
    assert!(text.contains("m=audio 30000 RTP/AVP 0 101\r\n"), "{text}");
    assert!(
        text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    assert!(n.srtp.is_some());
    let (text, n) = answer_text(&offer, SrtpPolicy::Off).unwrap();
    assert!(!text.contains("a=crypto"), "{text}");
    assert!(n.srtp.is_none());
}

#[test]
fn a_plain_offer_is_plain_when_optional_and_refused_when_required() {
    let offer = phone("RTP/AVP", &[]);
    let (text, n) = answer_text(&offer, SrtpPolicy::Optional).unwrap();
    assert!(!text.contains("a=crypto"), "{text}");
    assert!(n.srtp.is_none());
    let r = answer_text(&offer, SrtpPolicy::Required).unwrap_err();
    assert_eq!(r, Refusal::SrtpRequired);
    assert_eq!(r.status_code(), 488);
    // Nothing in common at all stays NotAcceptable.
    let g729 = Sdp::parse(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n",
    )
    .unwrap();
    assert_eq!(
        answer_text(&g729, SrtpPolicy::Required).unwrap_err(),
        Refusal::NotAcceptable
    );
}

#[test]
fn our_srtp_offer_reads_the_answerers_key() {
    let mut session = LocalSession::new(5, 1);
    let ours = offer_srtp(
        &us(),
        &CODECS,
        Direction::SendRecv,
        &mut session,
        Some(&OUR_KEY),
    );
    let text = ours.to_string();
    assert!(
        text.contains("m=audio 30000 RTP/SAVP 0 8 101\r\n"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        encode_base64(&OUR_KEY)
    )));
    let reply = phone("RTP/SAVP", &[&line(1, "AES_CM_128_HMAC_SHA1_80")]);
    let n = accept_answer(&ours, &reply).unwrap();
    let keys = n.srtp.unwrap();
    assert_eq!((keys.local, keys.remote), (OUR_KEY, THEIR_KEY));
    // An answer without a key for our tag is not SRTP: refused.
    let keyless = phone("RTP/SAVP", &[&line(3, "AES_CM_128_HMAC_SHA1_80")]);
    assert_eq!(
        accept_answer(&ours, &keyless).unwrap_err(),
        Refusal::SrtpRequired
    );
    // A plain answer to an SAVP-only offer is a party that did not use
    // SRTP where it must (488 with the reason), not a malformed one.
    assert_eq!(
        accept_answer(&ours, &phone("RTP/AVP", &[])).unwrap_err(),
        Refusal::SrtpRequired
    );
}
