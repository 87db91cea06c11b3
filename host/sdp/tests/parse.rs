//! Parsing real-world descriptions, writing them back, and refusing
//! malformed ones with the line at fault.

mod common;

use std::net::IpAddr;

use common::*;
use switchyard_sdp::{
    AddressType, Attribute, Codec, Direction, ParseError, Proto, Refusal, Rtcp, Sdp,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn sipp_offer_reads_as_written() {
    let s = parse(&sipp());
    assert_eq!(s.origin.username, "user1");
    assert_eq!(s.origin.session_id, "53655765");
    assert_eq!(s.origin.session_version, "2353687637");
    assert_eq!(s.origin.address_type, AddressType::Ip4);
    assert_eq!(s.origin.address, "127.0.1.1");
    assert_eq!(s.session_name, "-");
    assert_eq!(s.connection.as_ref().unwrap().address, ip("127.0.1.1"));
    assert_eq!(s.times, vec![(0, 0)]);
    assert_eq!(s.media.len(), 1);
    let m = &s.media[0];
    assert_eq!(
        (m.media.as_str(), m.port, &m.proto),
        ("audio", 6000, &Proto::RtpAvp)
    );
    assert_eq!(m.formats, ["8", "101"]);
    assert_eq!(m.codec_of(8), Some(Codec::Pcma));
    assert_eq!(m.codec_of(101), Some(Codec::TelephoneEvent));
    assert_eq!(m.fmtp(101).unwrap().params, "0-11,16");
    assert_eq!(s.direction_of(0), Direction::SendRecv);
}

#[test]
fn linphone_maps_dynamic_types_per_section() {
    let s = parse(&linphone());
    assert_eq!(s.media.len(), 2);
    let audio = &s.media[0];
    // Opus and speex are not ours; PT 0 and 8 are static without rtpmap.
    assert_eq!(audio.codec_of(96), None);
    assert_eq!(audio.codec_of(0), Some(Codec::Pcmu));
    assert_eq!(audio.codec_of(8), Some(Codec::Pcma));
    // Only the 8 kHz telephone-event counts.
    assert_eq!(audio.codec_of(101), None);
    assert_eq!(audio.codec_of(99), None);
    assert_eq!(audio.payload_type_of(Codec::TelephoneEvent), Some(100));
    assert_eq!(audio.rtpmap(96).unwrap().params.as_deref(), Some("2"));
    assert_eq!(audio.fmtp(18).unwrap().params, "annexb=yes");
    // PT 96 means VP8 in the video section.
    assert_eq!(s.media[1].rtpmap(96).unwrap().encoding, "VP8");
    // A session attribute whose value holds colons is kept whole.
    assert_eq!(
        s.attributes[0],
        Attribute::new(
            "rtcp-xr",
            Some("rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics")
        )
    );
    assert_eq!(
        audio.attributes,
        [
            Attribute::new("rtcp-fb", Some("* trr-int 1000")),
            Attribute::new("rtcp-fb", Some("* ccm tmmbr")),
        ]
    );
}

#[test]
fn baresip_media_level_connection_bandwidth_and_rtcp() {
    let s = parse(&baresip());
    let m = &s.media[0];
    assert_eq!(m.connection.as_ref().unwrap().address, ip("10.0.0.6"));
    assert_eq!(s.connection_of(0).unwrap().address, ip("10.0.0.6"));
    assert_eq!(
        m.rtcp,
        Some(Rtcp {
            port: 10125,
            connection: None
        })
    );
    assert_eq!(m.ptime, Some(20));
    assert_eq!(m.direction, Some(Direction::SendRecv));
    assert_eq!(m.other_lines[0].kind, 'b');
    assert_eq!(m.other_lines[0].value, "AS:64");
    assert!(m.attributes.contains(&Attribute::new("rtcp-rsize", None)));
}

#[test]
fn asterisk_and_polycom() {
    let a = parse(&asterisk());
    assert_eq!(a.media[0].maxptime, Some(150));
    assert_eq!(a.media[0].codec_of(3), None, "GSM is not ours");

    let p = parse(&polycom());
    assert_eq!(p.direction, Some(Direction::SendRecv));
    assert_eq!(p.media[0].direction, None);
    assert_eq!(p.direction_of(0), Direction::SendRecv);
    assert_eq!(p.media[0].codec_of(0), Some(Codec::Pcmu));
    assert_eq!(p.media[0].payload_type_of(Codec::TelephoneEvent), Some(127));
    assert_eq!(p.media[0].attributes[0].name, "crypto");
    assert_eq!(parse(&polycom_srtp_only()).media[0].proto, Proto::RtpSavp);
}

#[test]
fn ipv6_with_bare_line_feeds() {
    let s = parse(&ipv6_lf());
    assert_eq!(s.origin.address_type, AddressType::Ip6);
    assert_eq!(s.connection.unwrap().address, ip("2001:db8::10"));
}

#[test]
fn every_sample_round_trips_through_the_writer() {
    for (name, text) in samples() {
        let first = parse(&text);
        let written = first.to_string();
        let second = parse(&written);
        assert_eq!(first, second, "{name}:\n{written}");
        assert_eq!(written, second.to_string(), "{name}");
        assert_crlf_and_order(&written);
    }
}

/// Every line ends in CRLF and the line types follow RFC 4566 §5.
fn assert_crlf_and_order(text: &str) {
    assert!(text.ends_with("\r\n"), "{text:?}");
    let body = text.strip_suffix("\r\n").unwrap();
    let kinds: Vec<char> = body
        .split("\r\n")
        .map(|l| {
            assert!(!l.contains('\n') && !l.contains('\r'), "{l:?}");
            l.chars().next().unwrap()
        })
        .collect();
    let session_order = "vosiuepcbtrzka";
    let media_order = "micbka";
    let mut in_media = false;
    let mut last = 0;
    for k in kinds {
        if k == 'm' {
            in_media = true;
            last = 0;
            continue;
        }
        let order = if in_media { media_order } else { session_order };
        let rank = order
            .find(k)
            .unwrap_or_else(|| panic!("{k}= out of place in\n{text}"));
        assert!(rank >= last, "{k}= out of order in\n{text}");
        last = rank;
    }
}

#[test]
fn lines_out_of_order_are_written_in_rfc_order() {
    let text = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "t=0 0",
        "b=AS:128",
        "c=IN IP4 192.0.2.1",
        "i=session info",
        "m=audio 4000 RTP/AVP 0",
        "a=sendonly",
        "b=TIAS:64000",
        "i=voice",
        "c=IN IP4 192.0.2.2",
    ]);
    let written = parse(&text).to_string();
    assert_crlf_and_order(&written);
    assert_eq!(
        written,
        crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            "i=session info",
            "c=IN IP4 192.0.2.1",
            "b=AS:128",
            "t=0 0",
            "m=audio 4000 RTP/AVP 0",
            "i=voice",
            "c=IN IP4 192.0.2.2",
            "b=TIAS:64000",
            "a=sendonly",
        ])
    );
}

#[test]
fn trailing_blank_lines_and_spaces_are_tolerated() {
    let text = sipp_pcmu() + "\r\n\r\n";
    assert_eq!(parse(&text), parse(&sipp_pcmu()));
    let spaced = sipp_pcmu().replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000  ");
    assert_eq!(parse(&spaced), parse(&sipp_pcmu()));
}

fn refused(text: &str) -> ParseError {
    match Sdp::parse(text.as_bytes()) {
        Ok(s) => panic!("accepted {text:?} as {s:?}"),
        Err(e) => e,
    }
}

/// A valid description with `line` put in place of line `n` (1-based), or
/// appended after the last when `n` is past it.
fn with_line(n: usize, line: &str) -> String {
    let base = sipp();
    let mut lines: Vec<&str> = base.trim_end().split("\r\n").collect();
    if n <= lines.len() {
        lines[n - 1] = line;
    } else {
        lines.push(line);
    }
    crlf(&lines)
}

#[test]
fn malformed_descriptions_name_the_line() {
    // (description, line at fault, words in the reason)
    let cases: Vec<(String, usize, &str)> = vec![
        (String::new(), 1, "empty"),
        ("\r\n\r\n".into(), 1, "empty"),
        (sipp().replacen("v=0\r\n", "", 1), 1, "expected v="),
        (with_line(1, "v=1"), 1, "version"),
        (with_line(2, "o=user1 1 1 IN IP4"), 2, "o= needs"),
        (
            with_line(2, "o=user1 x 1 IN IP4 127.0.0.1"),
            2,
            "session id",
        ),
        (
            with_line(2, "o=user1 1 1 ATM IP4 127.0.0.1"),
            2,
            "network type",
        ),
        (with_line(3, "t=0 0"), 3, "expected s="),
        (with_line(4, "c=IN IP4 not-an-address"), 4, "not an IP"),
        (with_line(4, "c=IN IP4 ::1"), 4, "not an IP4"),
        (with_line(4, "c=IN IP6 10.0.0.1"), 4, "not an IP6"),
        (with_line(4, "c=IN IP5 10.0.0.1"), 4, "address type"),
        (with_line(4, "c=IN IP4"), 4, "c= needs"),
        (with_line(5, "t=0"), 5, "t= needs"),
        (with_line(5, "t=now 0"), 5, "not a number"),
        (with_line(6, "m=audio RTP/AVP 0"), 6, "not a number"),
        (with_line(6, "m=audio 6000"), 6, "m= needs"),
        (with_line(6, "m=audio 6000 RTP/AVP"), 6, "no formats"),
        (with_line(6, "m=audio 60a0 RTP/AVP 0"), 6, "port"),
        (with_line(6, "m=audio -6000 RTP/AVP 0"), 6, "port"),
        (with_line(6, "m=audio 70000 RTP/AVP 0"), 6, "out of range"),
        (with_line(6, "m=audio 6000 RTP/AVP 0 128"), 6, "above 127"),
        (with_line(6, "m=audio 6000 RTP/AVP PCMU"), 6, "payload type"),
        (with_line(7, "a=rtpmap:8 PCMA"), 7, "clock rate"),
        (with_line(7, "a=rtpmap:8 PCMA/eight"), 7, "clock rate"),
        (with_line(7, "a=rtpmap:x PCMA/8000"), 7, "payload type"),
        (
            with_line(7, "a=rtpmap:8 PCMA/8000 extra"),
            7,
            "rtpmap needs",
        ),
        (with_line(7, "a=rtpmap"), 7, "needs a value"),
        (with_line(8, "a=rtpmap:8 PCMU/8000"), 8, "second rtpmap"),
        (with_line(9, "a=fmtp:101"), 9, "fmtp needs"),
        (with_line(10, "a=ptime:twenty"), 10, "not a number"),
        (with_line(10, "a=rtcp:port"), 10, "RTCP port"),
        (with_line(10, "a=sendonly:yes"), 10, "no value"),
        (with_line(10, "a=bad name"), 10, "not a token"),
        (with_line(10, "a=:x"), 10, "not a token"),
        (with_line(10, "x=unknown"), 10, "unknown line type"),
        (with_line(10, "t=0 0"), 10, "before the first m="),
        (with_line(10, "v=0"), 10, "only appear once"),
        (with_line(10, "no equals sign"), 10, "<type>=<value>"),
        (with_line(10, "ab=c"), 10, "one lower-case letter"),
        (with_line(10, "A=c"), 10, "one lower-case letter"),
        (with_line(10, "b=AS"), 10, "b= needs"),
        (with_line(10, "b=AS:lots"), 10, "not a number"),
        (with_line(10, "c=IN IP4 10.0.0.1/ttl"), 10, "multicast"),
        (sipp().replace("t=0 0\r\n", ""), 5, "no t= line before"),
        (sipp().replace("a=fmtp", "\r\na=fmtp"), 9, "empty line"),
        (
            sipp().replace("c=IN IP4 127.0.1.1\r\n", ""),
            5,
            "no c= line",
        ),
        (sipp().replace("-", "\0"), 3, "control character"),
        (
            sipp().replace("a=rtpmap:8", "a=rtpmap:8\u{7}"),
            7,
            "control",
        ),
        (
            crlf(&[
                "v=0",
                "o=- 1 1 IN IP4 192.0.2.1",
                "s=-",
                "c=IN IP4 192.0.2.1",
            ]),
            4,
            "no t= line",
        ),
        (
            crlf(&["v=0", "o=- 1 1 IN IP4 192.0.2.1"]),
            3,
            "before the s=",
        ),
        (
            with_line(10, "a=sendrecv") + "a=sendonly\r\n",
            11,
            "more than one direction",
        ),
        (
            with_line(10, "a=ptime:20") + "a=ptime:30\r\n",
            11,
            "second ptime",
        ),
        (
            with_line(10, "c=IN IP4 10.0.0.1") + "c=IN IP4 10.0.0.2\r\n",
            11,
            "second c=",
        ),
    ];
    for (text, line, words) in cases {
        let e = refused(&text);
        assert_eq!(e.line, line, "{e} for {text:?}");
        assert!(e.reason.contains(words), "{e:?} should say {words:?}");
        // The message for the 400 names the line.
        let refusal = Refusal::from(e);
        assert_eq!(refusal.status_code(), 400);
        assert!(
            refusal.to_string().contains(&format!("line {line} ")),
            "{refusal}"
        );
    }
}

#[test]
fn garbage_bytes_are_refused_at_their_line() {
    let mut bytes = sipp().into_bytes();
    // Invalid UTF-8 inside line 3 (s=).
    let at = bytes.windows(3).position(|w| w == b"s=-").unwrap() + 2;
    bytes[at] = 0xff;
    let e = Sdp::parse(&bytes).unwrap_err();
    assert_eq!((e.line, e.reason.as_str()), (3, "not UTF-8"));
    assert!(e.text.starts_with("s="), "{e:?}");

    let e = Sdp::parse(&[0xde, 0xad, 0xbe, 0xef]).unwrap_err();
    assert_eq!(e.line, 1);
    let e = Sdp::parse(b"\x00\x01\x02").unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn error_text_is_cut_short() {
    let long = format!("a={}", "x".repeat(500));
    let e = refused(&with_line(10, &format!("{long} y")));
    assert_eq!(e.line, 10);
    assert!(e.text.chars().count() <= 60, "{}", e.text.len());
}

#[test]
fn non_rtp_streams_keep_their_formats() {
    let text = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
        "m=image 4002 udptl t38",
        "a=T38FaxVersion:0",
        "m=application 5070 TCP/BFCP *",
        "a=floorctrl:c-s",
    ]);
    let s = parse(&text);
    assert_eq!(s.media[1].proto, Proto::Other("udptl".into()));
    assert_eq!(s.media[1].formats, ["t38"]);
    assert_eq!(s.media[2].formats, ["*"]);
    assert_eq!(s.media[2].payload_types().count(), 0);
    assert_eq!(parse(&s.to_string()), s);
}
