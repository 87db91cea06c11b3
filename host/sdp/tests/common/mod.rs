//! Descriptions in the styles of real SIP user agents (written for these
//! tests, modelled on what each stack sends), and helpers.

#![allow(dead_code)]

use switchyard_sdp::{Codec, MediaEndpoint, Sdp};

/// Joins lines with CRLF, as on the wire.
pub fn crlf(lines: &[&str]) -> String {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

pub fn parse(text: &str) -> Sdp {
    match Sdp::parse(text.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("{e}\n{text}"),
    }
}

pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];

pub fn us() -> MediaEndpoint {
    MediaEndpoint::new("198.51.100.1".parse().unwrap(), 30000)
}

/// SIPp's `uac_pcap` scenario: PCMA and RFC 4733 events 0-11 and 16.
pub fn sipp() -> String {
    crlf(&[
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 127.0.1.1",
        "s=-",
        "c=IN IP4 127.0.1.1",
        "t=0 0",
        "m=audio 6000 RTP/AVP 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-11,16",
    ])
}

/// SIPp's default `uac`: PCMU only, with rtpmap.
pub fn sipp_pcmu() -> String {
    crlf(&[
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 127.0.1.1",
        "s=-",
        "c=IN IP4 127.0.1.1",
        "t=0 0",
        "m=audio 6000 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
    ])
}

/// Linphone: wideband codecs first, three telephone-event clocks (only the
/// 8 kHz one, PT 100, is ours), a video stream, rtcp-fb and rtcp-xr.
pub fn linphone() -> String {
    crlf(&[
        "v=0",
        "o=alice 3391 2279 IN IP4 192.168.1.20",
        "s=Talk",
        "c=IN IP4 192.168.1.20",
        "t=0 0",
        "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
        "a=record:off",
        "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 useinbandfec=1",
        "a=rtpmap:97 speex/16000",
        "a=fmtp:97 vbr=on",
        "a=rtpmap:98 speex/8000",
        "a=fmtp:98 vbr=on",
        "a=fmtp:18 annexb=yes",
        "a=rtpmap:101 telephone-event/48000",
        "a=rtpmap:99 telephone-event/16000",
        "a=rtpmap:100 telephone-event/8000",
        "a=rtcp-fb:* trr-int 1000",
        "a=rtcp-fb:* ccm tmmbr",
        "m=video 9078 RTP/AVP 96 97",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 profile-level-id=42801F",
        "a=rtcp-fb:* trr-int 1000",
        "a=rtcp-fb:96 nack pli",
    ])
}

/// baresip: media-level c=, b=AS, a=rtcp with its own port, ssrc lines.
pub fn baresip() -> String {
    crlf(&[
        "v=0",
        "o=- 1739212406 2128930385 IN IP4 10.0.0.5",
        "s=-",
        "c=IN IP4 10.0.0.5",
        "t=0 0",
        "m=audio 10120 RTP/AVP 0 8 101",
        "c=IN IP4 10.0.0.6",
        "b=AS:64",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=rtcp:10125",
        "a=sendrecv",
        "a=label:1",
        "a=ssrc:1234567 cname:abc@def",
        "a=rtcp-rsize",
        "a=ptime:20",
    ])
}

/// Asterisk (chan_pjsip): PCMA preferred, GSM, maxptime.
pub fn asterisk() -> String {
    crlf(&[
        "v=0",
        "o=- 1565108003 1565108005 IN IP4 203.0.113.5",
        "s=Asterisk",
        "c=IN IP4 203.0.113.5",
        "t=0 0",
        "m=audio 13374 RTP/AVP 8 0 3 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:3 GSM/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=maxptime:150",
        "a=sendrecv",
    ])
}

/// Polycom VVX: session-level direction, G.722 first, telephone-event on
/// 127, best-effort SRTP (a=crypto inside RTP/AVP), static types without
/// rtpmap for PCMU/PCMA.
pub fn polycom() -> String {
    crlf(&[
        "v=0",
        "o=- 1620135962 1620135962 IN IP4 172.16.5.44",
        "s=Polycom IP Phone",
        "c=IN IP4 172.16.5.44",
        "t=0 0",
        "a=sendrecv",
        "m=audio 2222 RTP/AVP 9 102 0 8 18 127",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:102 G7221/16000",
        "a=fmtp:102 bitrate=32000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:127 telephone-event/8000",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw",
    ])
}

/// Polycom with SRTP required: only RTP/SAVP, which we cannot carry.
pub fn polycom_srtp_only() -> String {
    polycom().replace("RTP/AVP", "RTP/SAVP")
}

/// An IPv6 softphone, bare LF line ends.
pub fn ipv6_lf() -> String {
    [
        "v=0",
        "o=bob 2890844527 2890844527 IN IP6 2001:db8::10",
        "s=call",
        "c=IN IP6 2001:db8::10",
        "t=0 0",
        "m=audio 49172 RTP/AVP 0 101",
        "a=rtpmap:101 telephone-event/8000",
        "",
    ]
    .join("\n")
}

pub fn samples() -> Vec<(&'static str, String)> {
    vec![
        ("sipp", sipp()),
        ("sipp_pcmu", sipp_pcmu()),
        ("linphone", linphone()),
        ("baresip", baresip()),
        ("asterisk", asterisk()),
        ("polycom", polycom()),
        ("polycom_srtp_only", polycom_srtp_only()),
        ("ipv6_lf", ipv6_lf()),
    ]
}
