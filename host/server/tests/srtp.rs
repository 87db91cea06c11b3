//! SRTP with SDES keys (RFC 4568) for a SIP phone whose extension
//! requires it: a phone played here over raw UDP that encrypts and
//! decrypts with its own SRTP contexts talks with a plain-RTP phone
//! through the host, and its plain offer is refused with 488 and a
//! Warning saying why.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::phone::{Phone, sdp};
use common::{LIMIT, blocking, operator_api, pbx, until_blocking};
use serde_json::json;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};
use switchyard_rtp::tones::tone_amplitude;
use switchyard_sdp::Crypto;
use switchyard_sdp::crypto::encode_base64;
use switchyard_sip::message::Message;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The SRTP phone's master key and salt.
const KEY: [u8; 30] = [
    0x3d, 0x2d, 0x6e, 0x40, 0x25, 0x5e, 0x78, 0x21, 0x42, 0x6a, 0x75, 0x66, 0x72, 0x39, 0x29, 0x3f,
    0x2c, 0x23, 0x35, 0x68, 0x5c, 0x60, 0x3d, 0x26, 0x5d, 0x7b, 0x71, 0x69, 0x50, 0x51,
];

fn context(key: &[u8; 30]) -> Context {
    Context::new(
        &key[..16],
        &key[16..],
        ProtectionProfile::Aes128CmHmacSha1_80,
        None,
        None,
    )
    .unwrap()
}

fn savp_sdp(rtp_port: u16) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=sendrecv\r\n",
        encode_base64(&KEY)
    )
}

fn media_of(m: &Message) -> SocketAddr {
    let body = String::from_utf8_lossy(&m.body).to_string();
    let port: u16 = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The host's key in its SDP.
fn host_key(m: &Message) -> [u8; 30] {
    let body = String::from_utf8_lossy(&m.body).to_string();
    let line = body
        .lines()
        .find_map(|l| l.strip_prefix("a=crypto:"))
        .unwrap_or_else(|| panic!("no a=crypto in {body}"));
    Crypto::parse(line).unwrap().key
}

/// The SRTP phone's media: `ms` of a tone at `freq` sent encrypted while
/// what comes is decrypted; the decoded samples heard, and how many
/// packets did not decrypt.
fn srtp_talk_and_listen(
    rtp: &UdpSocket,
    to: SocketAddr,
    host_key: &[u8; 30],
    freq: f64,
    ms: u32,
) -> (Vec<i16>, usize) {
    let mut tx = context(&KEY);
    let mut rx = context(host_key);
    let listener = rtp.try_clone().unwrap();
    let sender = rtp.try_clone().unwrap();
    let talk = std::thread::spawn(move || {
        for i in 0..ms / 20 {
            let ts = i * 160;
            let samples: Vec<i16> = (0..160)
                .map(|n| {
                    let t = f64::from(ts + n) / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                })
                .collect();
            let mut payload = Vec::new();
            Law::Pcmu.encode(&samples, &mut payload);
            let plain = RtpHeader {
                marker: false,
                payload_type: 0,
                sequence: i as u16 + 1,
                timestamp: ts,
                ssrc: 0x5e_c0de,
                csrcs: vec![],
                extension: None,
            }
            .to_bytes(&payload)
            .unwrap();
            let wire = tx.encrypt_rtp(&plain).unwrap();
            sender.send_to(&wire, to).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let mut ulaw = Vec::new();
    let mut failed = 0;
    let until = Instant::now() + Duration::from_millis(u64::from(ms));
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        if let Ok(n) = listener.recv(&mut buf) {
            match rx.decrypt_rtp(&buf[..n]) {
                Ok(plain) => {
                    let pkt = RtpPacket::parse(&plain).unwrap();
                    if pkt.header.payload_type == 0 {
                        ulaw.extend_from_slice(pkt.payload);
                    }
                }
                Err(_) => failed += 1,
            }
        }
    }
    talk.join().unwrap();
    let mut pcm = Vec::new();
    Law::Pcmu.decode(&ulaw, &mut pcm);
    (pcm, failed)
}

fn plain_talk_and_listen(phone: &Phone, freq: f64, ms: u32) -> Vec<i16> {
    let mut talker = phone.talker();
    let talk = std::thread::spawn(move || talker.tone(freq, ms));
    let heard = phone.listen(Duration::from_millis(u64::from(ms)));
    talk.join().unwrap();
    let mut pcm = Vec::new();
    Law::Pcmu.decode(&heard, &mut pcm);
    pcm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_requiring_srtp_talks_with_a_plain_phone_and_its_plain_offer_is_refused() {
    let pbx = pbx().await;
    // The policy is the extension's, set through the API; a value that
    // is not one is a 400 that says so.
    let (s, v) = operator_api(
        &pbx,
        "PATCH",
        "/api/tenants/demo/extensions/1002",
        Some(json!({"srtp": "always"})),
    );
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("srtp"), "{v}");
    let (s, v) = operator_api(
        &pbx,
        "PATCH",
        "/api/tenants/demo/extensions/1002",
        Some(json!({"srtp": "required"})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["srtp"], "required");
    let (_, v) = operator_api(&pbx, "GET", "/api/tenants/demo/extensions/1001", None);
    assert_eq!(v["srtp"], "off", "the default");

    let sip = pbx.addr();
    let (p1001, p1002) = (pbx.password("1001"), pbx.password("1002"));
    let (srtp_heard, failed, plain_heard) = blocking(move || {
        let mut plain = Phone::new(sip, 0x1001);
        plain.sip.set_read_timeout(Some(LIMIT)).unwrap();
        plain.register("1001", &p1001);
        let callee = std::thread::spawn(move || {
            let direction = plain.answer_invite(|_| "sendrecv");
            assert_eq!(direction, "sendrecv");
            let heard = plain_talk_and_listen(&plain, 1000.0, 3000);
            plain.answer_bye();
            heard
        });

        let mut phone = Phone::new(sip, 0x1002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        let body = savp_sdp(phone.rtp.local_addr().unwrap().port());
        let ok = phone.invite_as("1002", &p1002, "1001", &body);
        assert_eq!(ok.status(), 200);
        let answer = String::from_utf8_lossy(&ok.body).to_string();
        assert!(answer.contains(" RTP/SAVP 0"), "{answer}");
        let key = host_key(&ok);
        assert_ne!(key, KEY, "the host's own key");
        let (heard, failed) =
            srtp_talk_and_listen(&phone.rtp, phone.media.unwrap(), &key, 440.0, 3000);
        phone.bye();
        (heard, failed, callee.join().unwrap())
    })
    .await;
    assert_eq!(failed, 0, "every packet to the SRTP phone decrypted");
    let tone = |pcm: &[i16], f: f64| tone_amplitude(&pcm[pcm.len() / 3..], f);
    assert!(
        srtp_heard.len() > 8000,
        "the SRTP phone heard {} samples",
        srtp_heard.len()
    );
    assert!(
        tone(&srtp_heard, 1000.0) > 1000.0,
        "the SRTP phone hears the plain phone's 1000 Hz: {}",
        tone(&srtp_heard, 1000.0)
    );
    assert!(
        plain_heard.len() > 8000,
        "the plain phone heard {}",
        plain_heard.len()
    );
    assert!(
        tone(&plain_heard, 440.0) > 1000.0,
        "the plain phone hears the SRTP phone's 440 Hz decrypted: {}",
        tone(&plain_heard, 440.0)
    );

    // The same extension offering plain RTP is refused, saying why.
    let p1002 = pbx.password("1002");
    let refused = blocking(move || {
        let mut phone = Phone::new(sip, 0x2002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        let body = sdp(phone.rtp.local_addr().unwrap().port(), "sendrecv");
        phone.invite_as("1002", &p1002, "1001", &body)
    })
    .await;
    assert_eq!(refused.status(), 488);
    let warning = refused.headers.get("Warning").unwrap_or_default();
    assert!(warning.contains("SRTP is required"), "Warning: {warning:?}");
}

/// A dialled extension that must use SRTP (1001) but answers with plain
/// RTP is hung up at once — not left in a call nobody hears — and counts
/// as a party that refused (488): the call is not answered by it, and the
/// caller's flow goes on as after any failed dial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_required_to_use_srtp_that_answers_plain_rtp_is_hung_up() {
    let pbx = pbx().await;
    let (s, v) = operator_api(
        &pbx,
        "PATCH",
        "/api/tenants/demo/extensions/1001",
        Some(json!({"srtp": "required"})),
    );
    assert_eq!(s, 200, "{v}");
    let sip = pbx.addr();
    let (p1001, p1002) = (pbx.password("1001"), pbx.password("1002"));
    let (status, bye_after) = blocking(move || {
        let mut callee = Phone::new(sip, 0x3001);
        callee.sip.set_read_timeout(Some(LIMIT)).unwrap();
        callee.register("1001", &p1001);
        let answered = std::thread::spawn(move || {
            // A phone that ignores the SRTP offer: plain RTP back.
            callee.answer_invite(|_| "sendrecv");
            // The host's BYE follows its ACK (a timeout here fails).
            let answered = std::time::Instant::now();
            callee.answer_bye();
            answered.elapsed()
        });
        let mut caller = Phone::new(sip, 0x3002);
        caller.sip.set_read_timeout(Some(LIMIT)).unwrap();
        let body = sdp(caller.rtp.local_addr().unwrap().port(), "sendrecv");
        let m = caller.invite_as("1002", &p1002, "1001", &body);
        let bye_after = answered.join().expect("1001 answered and was hung up");
        if m.status() == 200 {
            // The flow took the caller on (voicemail): done with it.
            caller.bye();
        }
        (m.status(), bye_after)
    })
    .await;
    let c = &pbx.cdrs(1).await[0];
    let to_1001: Vec<u16> = c
        .legs
        .iter()
        .filter(|l| l.target == "1001")
        .map(|l| l.sip_code)
        .collect();
    assert_eq!(to_1001, vec![488], "caller got {status}; legs {:?}", c.legs);
    assert_ne!(c.agent.as_deref(), Some("1001"), "not answered by 1001");
    // Hung up at once, not when the caller's call (here: voicemail) ends.
    // The margin is wide; the call it must beat lasts over 10 s.
    assert!(
        bye_after < Duration::from_secs(5),
        "BYE after {bye_after:?}"
    );
}

/// An SRTP phone (1002, SRTP required) and a plain phone (1001) in the
/// demo room: the room's mix reaches the SRTP phone encrypted (every
/// packet decrypts) and the SRTP phone's decrypted voice reaches the
/// plain phone through the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srtp_phone_talks_in_a_conference_room() {
    let mut tenant: serde_json::Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    for e in tenant["extensions"].as_array_mut().unwrap() {
        if e["number"] == "1002" {
            e["srtp"] = json!("required");
        }
    }
    // Quiet joins (no count, no tones): the phones' tones are all there
    // is to hear.
    tenant["conferences"]["demo"] = json!({"announce-count": false, "tones": false});
    let pbx = std::sync::Arc::new(common::pbx_with(Some(tenant), None).await);
    let sip = pbx.addr();
    let p = pbx.clone();
    let (srtp_heard, failed, plain_heard) = blocking(move || {
        let mut plain = Phone::new(sip, 0x1001);
        plain.sip.set_read_timeout(Some(LIMIT)).unwrap();
        plain.call_as("1001", &p.password("1001"), "800");

        let mut phone = Phone::new(sip, 0x1002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        let body = savp_sdp(phone.rtp.local_addr().unwrap().port());
        let ok = phone.invite_as("1002", &p.password("1002"), "800", &body);
        assert_eq!(ok.status(), 200);
        let key = host_key(&ok);
        until_blocking("two to meet in the room", LIMIT, || {
            p.running
                .pbx
                .conferences("demo")
                .iter()
                .any(|r| r.participants.len() == 2)
        });
        let plain_side = std::thread::spawn(move || {
            let heard = plain_talk_and_listen(&plain, 1000.0, 3000);
            plain.bye();
            heard
        });
        let (heard, failed) =
            srtp_talk_and_listen(&phone.rtp, phone.media.unwrap(), &key, 440.0, 3000);
        phone.bye();
        (heard, failed, plain_side.join().unwrap())
    })
    .await;
    assert_eq!(
        failed, 0,
        "every packet of the room to the SRTP phone decrypted"
    );
    let tone = |pcm: &[i16], f: f64| tone_amplitude(&pcm[pcm.len() / 3..], f);
    assert!(
        srtp_heard.len() > 8000,
        "the SRTP phone heard {} samples from the room",
        srtp_heard.len()
    );
    assert!(
        tone(&srtp_heard, 1000.0) > 1000.0,
        "the SRTP phone hears the plain phone in the room: {:.0}",
        tone(&srtp_heard, 1000.0)
    );
    assert!(
        tone(&plain_heard, 440.0) > 1000.0,
        "the plain phone hears the SRTP phone in the room: {:.0}",
        tone(&plain_heard, 440.0)
    );
}

/// A carrier whose trunk requires SRTP: an extension's call out through it
/// is offered `RTP/SAVP` with a key, the carrier's encrypted audio and
/// the plain phone's reach each other; and the carrier's own plain offer
/// is refused 488.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_requiring_srtp_carries_an_outbound_call_encrypted() {
    let mut carrier = Phone::new("127.0.0.1:9".parse().unwrap(), 0xCA77);
    carrier.sip.set_read_timeout(Some(LIMIT)).unwrap();
    let mut tenant = common::trunk_tenant(carrier.sip.local_addr().unwrap(), false);
    tenant["trunks"][0]["srtp"] = "required".into();
    let pbx = common::pbx_with(Some(tenant), None).await;
    let sip = pbx.addr();
    carrier.pbx = sip;
    let p1001 = pbx.password("1001");
    let (phone_heard, carrier_heard, failed, refused) = blocking(move || {
        let answering = std::thread::spawn(move || {
            let invite = loop {
                let m = carrier.recv_sip();
                if m.method() == "INVITE" {
                    break m;
                }
            };
            let offer = String::from_utf8_lossy(&invite.body).to_string();
            assert!(
                offer.contains(" RTP/SAVP "),
                "offered to the carrier: {offer}"
            );
            let key = host_key(&invite);
            let to = media_of(&invite);
            carrier.reply(
                &invite,
                200,
                Some(savp_sdp(carrier.rtp.local_addr().unwrap().port())),
            );
            while carrier.recv_sip().method() != "ACK" {}
            let (heard, failed) = srtp_talk_and_listen(&carrier.rtp, to, &key, 440.0, 3000);
            carrier.answer_bye();
            // Then the carrier calls in, offering plain RTP.
            carrier.call_id = "plain-from-the-carrier@carrier.test".into();
            let plain = sdp(carrier.rtp.local_addr().unwrap().port(), "sendrecv");
            let refused = carrier.offer("+15550100", &plain);
            (heard, failed, refused)
        });
        let mut phone = Phone::new(sip, 0x1001);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        let body = sdp(phone.rtp.local_addr().unwrap().port(), "sendrecv");
        // The router's `_9.` rule strips the 9 and dials the number.
        let ok = phone.invite_as("1001", &p1001, "915551234567", &body);
        assert_eq!(ok.status(), 200);
        let heard = plain_talk_and_listen(&phone, 1000.0, 3000);
        phone.bye();
        let (carrier_heard, failed, refused) = answering.join().unwrap();
        (heard, carrier_heard, failed, refused)
    })
    .await;
    let tone = |pcm: &[i16], f: f64| tone_amplitude(&pcm[pcm.len() / 3..], f);
    assert_eq!(failed, 0, "every packet to the carrier decrypted");
    assert!(
        tone(&carrier_heard, 1000.0) > 1000.0,
        "the carrier hears the phone's 1000 Hz encrypted: {}",
        tone(&carrier_heard, 1000.0)
    );
    assert!(
        tone(&phone_heard, 440.0) > 1000.0,
        "the phone hears the carrier's 440 Hz decrypted: {}",
        tone(&phone_heard, 440.0)
    );
    assert_eq!(refused, 488, "the carrier's plain offer");
}
