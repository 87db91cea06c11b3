//! RFC 3264 offer/answer as the anchoring B2BUA does it: answering phones,
//! offering to callees, checking their answers, hold and resume.

mod common;

use std::net::SocketAddr;

use common::*;
use switchyard_sdp::{
    Codec, Direction, LocalSession, MediaEndpoint, Negotiated, Refusal, Sdp, accept_answer, answer,
    offer, peer_holds,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn answered(text: &str) -> (Negotiated, Sdp) {
    let o = parse(text);
    let a = answer(&o, &us(), &ALL).unwrap_or_else(|r| panic!("{r}\n{text}"));
    let sdp = a.to_sdp(&mut LocalSession::new(42, 7));
    // What we answer parses, and read back as an answer to the offer it
    // settles the same thing.
    let back = parse(&sdp.to_string());
    assert_eq!(back, sdp);
    let check = accept_answer(&o, &back).unwrap();
    assert_eq!(
        (check.codec, check.payload_type, check.telephone_event),
        (
            a.negotiated.codec,
            a.negotiated.payload_type,
            a.negotiated.telephone_event
        )
    );
    assert_eq!(sdp.media.len(), o.media.len(), "one m= per offered m=");
    (a.negotiated, sdp)
}

#[test]
fn sipp_answer_is_exactly_what_phones_expect() {
    let (n, sdp) = answered(&sipp());
    assert_eq!(n.codec, Codec::Pcma);
    assert_eq!(n.payload_type, 8);
    assert_eq!(n.local_payload_type, 8);
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(n.remote_rtp, Some(addr("127.0.1.1:6000")));
    assert_eq!(n.remote_rtcp, Some(addr("127.0.1.1:6001")));
    assert_eq!(n.direction, Direction::SendRecv);
    assert!(!n.peer_holds);
    assert_eq!(n.media_index, 0);
    assert_eq!(
        sdp.to_string(),
        crlf(&[
            "v=0",
            "o=switchyard 42 7 IN IP4 198.51.100.1",
            "s=switchyard",
            "c=IN IP4 198.51.100.1",
            "t=0 0",
            "m=audio 30000 RTP/AVP 8 101",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ])
    );
}

#[test]
fn sipp_pcmu_without_events() {
    let (n, sdp) = answered(&sipp_pcmu());
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.telephone_event, None);
    let text = sdp.to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 0\r\n"), "{text}");
    assert!(!text.contains("telephone-event"), "{text}");
}

#[test]
fn linphone_gets_pcmu_event_100_and_video_refused() {
    let (n, sdp) = answered(&linphone());
    // Offerer's order: 96 97 98 are not ours, 0 comes before 8.
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    // The 8 kHz telephone-event, not the 48 kHz one on 101.
    assert_eq!(n.telephone_event, Some(100));
    assert_eq!(n.remote_rtp, Some(addr("192.168.1.20:7078")));
    let text = sdp.to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 0 100\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:100 telephone-event/8000\r\n"));
    assert!(text.contains("m=video 0 RTP/AVP 96 97\r\n"), "{text}");
    // The order of m= lines is the offer's.
    assert!(text.find("m=audio").unwrap() < text.find("m=video").unwrap());
}

#[test]
fn baresip_media_connection_and_rtcp_port() {
    let (n, _) = answered(&baresip());
    assert_eq!((n.codec, n.telephone_event), (Codec::Pcmu, Some(101)));
    assert_eq!(n.remote_rtp, Some(addr("10.0.0.6:10120")));
    assert_eq!(n.remote_rtcp, Some(addr("10.0.0.6:10125")));
    assert_eq!(n.remote_ptime, Some(20));
}

#[test]
fn asterisk_prefers_pcma() {
    let (n, _) = answered(&asterisk());
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    assert_eq!(n.telephone_event, Some(101));
}

#[test]
fn polycom_static_types_without_rtpmap_and_event_127() {
    let (n, sdp) = answered(&polycom());
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.telephone_event, Some(127));
    let text = sdp.to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 0 127\r\n"), "{text}");
    // We do not do SRTP: no crypto in our answer.
    assert!(!text.contains("crypto"), "{text}");
}

#[test]
fn ipv6_offer() {
    let (n, _) = answered(&ipv6_lf());
    assert_eq!(n.remote_rtp, Some(addr("[2001:db8::10]:49172")));
    assert_eq!(n.telephone_event, Some(101));
}

#[test]
fn we_answer_from_an_ipv6_address_too() {
    let o = parse(&sipp());
    let v6 = MediaEndpoint::new("2001:db8::1".parse().unwrap(), 40000);
    let a = answer(&o, &v6, &ALL).unwrap();
    let text = a.to_sdp(&mut LocalSession::new(1, 1)).to_string();
    assert!(
        text.contains("o=switchyard 1 1 IN IP6 2001:db8::1\r\n"),
        "{text}"
    );
    assert!(text.contains("c=IN IP6 2001:db8::1\r\n"), "{text}");
}

#[test]
fn supported_list_limits_the_choice() {
    let o = parse(&asterisk());
    // Only PCMU: the offerer's PCMA preference cannot be met.
    let a = answer(&o, &us(), &[Codec::Pcmu]).unwrap();
    assert_eq!(a.negotiated.codec, Codec::Pcmu);
    // No telephone-event when we do not list it.
    assert_eq!(a.negotiated.telephone_event, None);
    let text = a.to_sdp(&mut LocalSession::new(1, 1)).to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 0\r\n"), "{text}");
}

fn offer_with(media: &[&str]) -> String {
    let mut lines = vec![
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.7",
        "s=-",
        "c=IN IP4 192.0.2.7",
        "t=0 0",
    ];
    lines.extend_from_slice(media);
    crlf(&lines)
}

#[test]
fn refusals_are_488_when_nothing_is_common() {
    let cases = [
        (
            "only G.729",
            offer_with(&[
                "m=audio 4000 RTP/AVP 18 101",
                "a=rtpmap:18 G729/8000",
                "a=rtpmap:101 telephone-event/8000",
            ]),
        ),
        (
            "only video",
            offer_with(&["m=video 4000 RTP/AVP 96", "a=rtpmap:96 H264/90000"]),
        ),
        ("SRTP only", polycom_srtp_only()),
        ("audio rejected", offer_with(&["m=audio 0 RTP/AVP 0"])),
        ("no streams", offer_with(&[])),
        (
            "dynamic type without rtpmap",
            offer_with(&["m=audio 4000 RTP/AVP 96"]),
        ),
        (
            "G.711 at 16 kHz",
            offer_with(&["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/16000"]),
        ),
        (
            "stereo G.711",
            offer_with(&["m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMA/8000/2"]),
        ),
        (
            "static type remapped away",
            offer_with(&["m=audio 4000 RTP/AVP 0", "a=rtpmap:0 G729/8000"]),
        ),
        (
            "only events",
            offer_with(&[
                "m=audio 4000 RTP/AVP 101",
                "a=rtpmap:101 telephone-event/8000",
            ]),
        ),
    ];
    for (name, text) in cases {
        let r = answer(&parse(&text), &us(), &ALL).unwrap_err();
        assert_eq!(r, Refusal::NotAcceptable, "{name}");
        assert_eq!(r.status_code(), 488, "{name}");
    }
    // Nothing we support at all.
    let r = answer(&parse(&sipp()), &us(), &[Codec::TelephoneEvent]).unwrap_err();
    assert_eq!(r, Refusal::NotAcceptable);
}

#[test]
fn first_usable_audio_stream_wins_others_get_port_0() {
    let text = offer_with(&[
        "m=audio 4000 RTP/SAVP 0",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x",
        "m=audio 4002 RTP/AVP 18",
        "m=audio 4004 RTP/AVP 8 0",
        "m=audio 4006 RTP/AVP 0",
        "m=image 4008 udptl t38",
    ]);
    let (n, sdp) = answered(&text);
    assert_eq!(n.media_index, 2);
    assert_eq!(
        (n.codec, n.remote_rtp),
        (Codec::Pcma, Some(addr("192.0.2.7:4004")))
    );
    let ports: Vec<u16> = sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 0, 30000, 0, 0]);
    let text = sdp.to_string();
    assert!(text.contains("m=audio 0 RTP/SAVP 0\r\n"), "{text}");
    assert!(text.contains("m=image 0 udptl t38\r\n"), "{text}");
}

#[test]
fn dynamic_payload_types_follow_the_offerer() {
    let text = offer_with(&[
        "m=audio 4000 RTP/AVP 96 120",
        "a=rtpmap:96 pcma/8000/1",
        "a=rtpmap:120 Telephone-Event/8000",
    ]);
    let (n, sdp) = answered(&text);
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 96));
    assert_eq!(n.telephone_event, Some(120));
    let text = sdp.to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 96 120\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:96 PCMA/8000\r\n"), "{text}");
    assert!(
        text.contains("a=rtpmap:120 telephone-event/8000\r\n"),
        "{text}"
    );
    assert!(text.contains("a=fmtp:120 0-16\r\n"), "{text}");
}

#[test]
fn avpf_is_answered_in_kind() {
    let text = offer_with(&["m=audio 4000 RTP/AVPF 0", "a=rtcp-fb:* nack"]);
    let (_, sdp) = answered(&text);
    assert!(sdp.to_string().contains("m=audio 30000 RTP/AVPF 0\r\n"));
}

// ---- hold and resume ----

fn reinvite(direction: Option<&str>, address: &str) -> String {
    let c = format!("c=IN IP4 {address}");
    let mut media = vec![
        "m=audio 6000 RTP/AVP 0 101",
        "a=rtpmap:101 telephone-event/8000",
    ];
    if let Some(d) = direction {
        media.push(d);
    }
    let mut lines = vec![
        "v=0",
        "o=user1 5 6 IN IP4 192.0.2.9",
        "s=-",
        c.as_str(),
        "t=0 0",
    ];
    lines.extend(media);
    crlf(&lines)
}

#[test]
fn hold_offers_are_detected_and_mirrored() {
    // (direction line, address, held?, our direction, answer attribute, remote?)
    let cases = [
        (
            None,
            "192.0.2.9",
            false,
            Direction::SendRecv,
            "a=sendrecv",
            true,
        ),
        (
            Some("a=sendrecv"),
            "192.0.2.9",
            false,
            Direction::SendRecv,
            "a=sendrecv",
            true,
        ),
        (
            Some("a=sendonly"),
            "192.0.2.9",
            true,
            Direction::RecvOnly,
            "a=recvonly",
            true,
        ),
        (
            Some("a=inactive"),
            "192.0.2.9",
            true,
            Direction::Inactive,
            "a=inactive",
            true,
        ),
        (
            Some("a=recvonly"),
            "192.0.2.9",
            false,
            Direction::SendOnly,
            "a=sendonly",
            true,
        ),
        // RFC 2543 hold: no address to send to.
        (
            None,
            "0.0.0.0",
            true,
            Direction::RecvOnly,
            "a=recvonly",
            false,
        ),
        (
            Some("a=sendonly"),
            "0.0.0.0",
            true,
            Direction::RecvOnly,
            "a=recvonly",
            false,
        ),
        (
            Some("a=recvonly"),
            "0.0.0.0",
            true,
            Direction::Inactive,
            "a=inactive",
            false,
        ),
    ];
    for (dir, address, held, ours, attr, has_remote) in cases {
        let text = reinvite(dir, address);
        let o = parse(&text);
        assert_eq!(peer_holds(&o), held, "{dir:?} {address}");
        let (n, sdp) = answered(&text);
        assert_eq!(n.peer_holds, held, "{dir:?} {address}");
        assert_eq!(n.direction, ours, "{dir:?} {address}");
        // What the anchor passes on to the other leg (hold goes through)
        // and whether it expects RTP from this peer.
        assert_eq!(n.peer_direction(), ours.reversed(), "{dir:?} {address}");
        assert_eq!(n.peer_direction().receives(), !held, "{dir:?} {address}");
        assert_eq!(n.peer_sends(), ours.receives(), "{dir:?} {address}");
        assert_eq!(n.remote_rtp.is_some(), has_remote, "{dir:?} {address}");
        let text = sdp.to_string();
        assert!(
            text.contains(&format!("{attr}\r\n")),
            "{dir:?} {address}:\n{text}"
        );
        // Our own address is never 0.0.0.0, even when answering a hold.
        assert!(text.contains("c=IN IP4 198.51.100.1\r\n"));
    }
}

#[test]
fn session_level_direction_applies_to_streams() {
    let text = reinvite(None, "192.0.2.9").replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    let o = parse(&text);
    assert_eq!(o.direction_of(0), Direction::SendOnly);
    assert!(peer_holds(&o));
    // A media-level direction overrides it.
    let text = text + "a=sendrecv\r\n";
    assert!(!peer_holds(&parse(&text)));
}

#[test]
fn our_hold_and_resume_offers_move_the_version() {
    let mut session = LocalSession::new(900, 1);
    let ep = us();
    let first = offer(&ep, &ALL, Direction::SendRecv, &mut session);
    assert_eq!(
        first.to_string(),
        crlf(&[
            "v=0",
            "o=switchyard 900 1 IN IP4 198.51.100.1",
            "s=switchyard",
            "c=IN IP4 198.51.100.1",
            "t=0 0",
            "m=audio 30000 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ])
    );
    let hold = offer(&ep, &ALL, Direction::SendOnly, &mut session);
    assert_eq!(hold.origin.session_version, "2");
    assert_eq!(hold.origin.session_id, "900");
    assert_eq!(hold.media[0].direction, Some(Direction::SendOnly));
    assert!(peer_holds(&hold), "a callee sees our hold offer as hold");
    let resume = offer(&ep, &ALL, Direction::SendRecv, &mut session);
    assert_eq!(resume.origin.session_version, "3");
    assert!(!peer_holds(&resume));
    // The same description again (session refresh) keeps its version.
    let refresh = offer(&ep, &ALL, Direction::SendRecv, &mut session);
    assert_eq!(refresh, resume);
    assert_eq!(session.version(), 3);
    // A new port is a change.
    let moved = offer(
        &MediaEndpoint::new(ep.address, 30002),
        &ALL,
        Direction::SendRecv,
        &mut session,
    );
    assert_eq!(moved.origin.session_version, "4");
    // Answers share the same numbering.
    let a = answer(&parse(&sipp()), &ep, &ALL).unwrap();
    assert_eq!(a.to_sdp(&mut session).origin.session_version, "5");
}

#[test]
fn offer_codec_order_and_duplicates() {
    let mut s = LocalSession::new(1, 1);
    let o = offer(
        &us(),
        &[Codec::Pcma, Codec::TelephoneEvent, Codec::Pcmu, Codec::Pcma],
        Direction::SendRecv,
        &mut s,
    );
    assert_eq!(o.media[0].formats, ["8", "0", "101"]);
    let o = offer(&us(), &[Codec::Pcmu], Direction::Inactive, &mut s);
    assert_eq!(o.media[0].formats, ["0"]);
    assert!(o.media[0].fmtps.is_empty());
    assert!(o.to_string().ends_with("a=inactive\r\n"));
}

// ---- answers to our offers ----

fn our_offer() -> Sdp {
    offer(
        &us(),
        &ALL,
        Direction::SendRecv,
        &mut LocalSession::new(7, 7),
    )
}

fn callee(media: &[&str]) -> Sdp {
    let mut lines = vec![
        "v=0",
        "o=callee 11 12 IN IP4 203.0.113.20",
        "s=-",
        "c=IN IP4 203.0.113.20",
        "t=0 0",
    ];
    lines.extend_from_slice(media);
    parse(&crlf(&lines))
}

#[test]
fn callee_answers_are_checked() {
    let n = accept_answer(
        &our_offer(),
        &callee(&[
            "m=audio 8000 RTP/AVP 8 101",
            "a=rtpmap:101 telephone-event/8000",
            "a=ptime:30",
        ]),
    )
    .unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.local_payload_type),
        (Codec::Pcma, 8, 8)
    );
    assert_eq!(
        (n.telephone_event, n.local_telephone_event),
        (Some(101), Some(101))
    );
    assert_eq!(n.remote_rtp, Some(addr("203.0.113.20:8000")));
    assert_eq!(n.remote_rtcp, Some(addr("203.0.113.20:8001")));
    assert_eq!(n.remote_ptime, Some(30));
    assert_eq!(n.direction, Direction::SendRecv);

    // No events in the answer: none either way.
    let n = accept_answer(&our_offer(), &callee(&["m=audio 8000 RTP/AVP 0"])).unwrap();
    assert_eq!(
        (n.codec, n.telephone_event, n.local_telephone_event),
        (Codec::Pcmu, None, None)
    );

    // The callee renumbers (RFC 3264 only says SHOULD keep ours).
    let n = accept_answer(
        &our_offer(),
        &callee(&[
            "m=audio 8000 RTP/AVP 97 96",
            "a=rtpmap:97 PCMU/8000",
            "a=rtpmap:96 telephone-event/8000",
        ]),
    )
    .unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.local_payload_type),
        (Codec::Pcmu, 97, 0)
    );
    assert_eq!(
        (n.telephone_event, n.local_telephone_event),
        (Some(96), Some(101))
    );

    // Codecs we did not offer are skipped.
    let n = accept_answer(
        &our_offer(),
        &callee(&["m=audio 8000 RTP/AVP 18 8", "a=rtpmap:18 G729/8000"]),
    )
    .unwrap();
    assert_eq!(n.codec, Codec::Pcma);
}

#[test]
fn callee_answers_that_cannot_be_used() {
    let o = our_offer();
    let cases = [
        (
            callee(&["m=audio 8000 RTP/AVP 18", "a=rtpmap:18 G729/8000"]),
            Refusal::NotAcceptable,
        ),
        (callee(&["m=audio 0 RTP/AVP 0"]), Refusal::NotAcceptable),
    ];
    for (a, expected) in cases {
        assert_eq!(accept_answer(&o, &a), Err(expected));
    }
    // PCMA answered when we only offered PCMU.
    let only_pcmu = offer(
        &us(),
        &[Codec::Pcmu],
        Direction::SendRecv,
        &mut LocalSession::new(1, 1),
    );
    assert_eq!(
        accept_answer(&only_pcmu, &callee(&["m=audio 8000 RTP/AVP 8"])),
        Err(Refusal::NotAcceptable)
    );
    for (a, words) in [
        (callee(&[]), "0 m= lines for the 1"),
        (
            callee(&["m=audio 8000 RTP/AVP 0", "m=video 0 RTP/AVP 31"]),
            "2 m= lines",
        ),
        (
            callee(&["m=video 8000 RTP/AVP 31"]),
            "is video in the answer",
        ),
        (callee(&["m=audio 8000 RTP/SAVP 0"]), "transport"),
    ] {
        match accept_answer(&o, &a) {
            Err(Refusal::Malformed(why)) => assert!(why.contains(words), "{why}"),
            other => panic!("{other:?} for {a:?}"),
        }
    }
}

#[test]
fn directions_of_answers_to_our_hold() {
    let mut s = LocalSession::new(3, 3);
    let hold = offer(&us(), &ALL, Direction::SendOnly, &mut s);
    for (answer_dir, ours, held) in [
        ("a=recvonly", Direction::SendOnly, false),
        ("a=inactive", Direction::Inactive, true),
        // A sloppy peer answering sendrecv to sendonly: we still only send.
        ("a=sendrecv", Direction::SendOnly, false),
    ] {
        let a = callee(&["m=audio 8000 RTP/AVP 0", answer_dir]);
        let n = accept_answer(&hold, &a).unwrap();
        assert_eq!((n.direction, n.peer_holds), (ours, held), "{answer_dir}");
    }
    // The callee holds us in its answer to our sendrecv offer.
    let n = accept_answer(
        &our_offer(),
        &callee(&["m=audio 8000 RTP/AVP 0", "a=sendonly"]),
    )
    .unwrap();
    assert_eq!((n.direction, n.peer_holds), (Direction::RecvOnly, true));
}

#[test]
fn direction_algebra() {
    use Direction::*;
    for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
        assert_eq!(d.reversed().reversed(), d);
        assert_eq!(Direction::from_attribute(d.as_str()), Some(d));
        assert_eq!(d.intersect(SendRecv), d);
        assert_eq!(d.intersect(Inactive), Inactive);
    }
    assert_eq!(SendOnly.reversed(), RecvOnly);
    assert_eq!(Inactive.reversed(), Inactive);
    assert_eq!(SendOnly.intersect(RecvOnly), Inactive);
}

#[test]
fn codec_payload_types() {
    assert_eq!(Codec::Pcmu.static_payload_type(), Some(0));
    assert_eq!(Codec::Pcma.static_payload_type(), Some(8));
    assert_eq!(Codec::TelephoneEvent.static_payload_type(), None);
    assert_eq!(Codec::from_static_payload_type(0), Some(Codec::Pcmu));
    assert_eq!(Codec::from_static_payload_type(8), Some(Codec::Pcma));
    assert_eq!(Codec::from_static_payload_type(18), None);
    assert_eq!(Codec::from_static_payload_type(101), None);
    assert_eq!(Codec::from_encoding("pcmu", 8000, None), Some(Codec::Pcmu));
    assert_eq!(
        Codec::from_encoding("PCMA", 8000, Some("1")),
        Some(Codec::Pcma)
    );
    assert_eq!(Codec::from_encoding("PCMA", 8000, Some("2")), None);
    assert_eq!(Codec::from_encoding("telephone-event", 48000, None), None);
    assert_eq!(Refusal::Malformed("x".into()).status_code(), 400);
}
