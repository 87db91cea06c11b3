//! Media: SDP bodies (`switchyard-sdp`, the parser and offer/answer the
//! call path uses), RTP and RTCP datagrams with RFC 4733 events, and WAV
//! prompts uploaded through the API.

use switchyard_rtp::dtmf::{DtmfReceiver, TelephoneEvent};
use switchyard_rtp::packet::{PacketKind, RtpPacket, build_rtcp, classify, parse_rtcp};
use switchyard_rtp::wav::{check_prompt, load_prompt};
use switchyard_sdp::{
    Codec, Direction, LocalSession, MediaEndpoint, Sdp, accept_answer, answer, offer, peer_holds,
};

const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent];

/// An SDP body through the parser and what the B2BUA does with it.
/// Whatever it accepts must read back the same after writing, and our
/// answer to it must parse and be accepted as an answer.
pub fn sdp(data: &[u8]) {
    let us = MediaEndpoint::new("198.51.100.1".parse().expect("address"), 30000);
    if let Ok(s) = Sdp::parse(data) {
        let written = s.to_string();
        let again = Sdp::parse(written.as_bytes())
            .unwrap_or_else(|e| panic!("own output refused: {e}\n{written}"));
        assert_eq!(again, s, "round trip changed\n{written}");
        let _ = peer_holds(&s);
        let ours = offer(&us, &ALL, Direction::SendRecv, &mut LocalSession::new(5, 5));
        let _ = accept_answer(&ours, &s);
        if let Ok(a) = answer(&s, &us, &ALL) {
            let back = a.to_sdp(&mut LocalSession::new(1, 1));
            let text = back.to_string();
            if let Err(e) = Sdp::parse(text.as_bytes()) {
                panic!("our answer refused: {e}\n{text}");
            }
            if let Err(r) = accept_answer(&s, &back) {
                panic!("our answer unusable: {r}\n{text}\nto {s}");
            }
        }
    }
}

/// A datagram on a media port: classified as the relay does, parsed as
/// RTP or RTCP, an RTP payload fed to the RFC 4733 receiver. What parses
/// is written again and must read back the same.
pub fn rtp(data: &[u8]) {
    let _ = classify(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let bytes = p
            .header
            .to_bytes(p.payload)
            .unwrap_or_else(|e| panic!("a parsed header cannot be written: {e:?} {p:?}"));
        let again = RtpPacket::parse(&bytes)
            .unwrap_or_else(|e| panic!("our own packet refused: {e:?} {bytes:?}"));
        assert_eq!(again.header, p.header);
        assert_eq!(again.payload, p.payload);
        // As the relay does with a telephone-event payload.
        let mut rx = DtmfReceiver::new();
        let _ = rx.receive(p.header.timestamp, p.payload);
        let _ = rx.receive(p.header.timestamp, p.payload);
        let _ = rx.receive(p.header.timestamp.wrapping_add(160), p.payload);
    }
    if matches!(classify(data), PacketKind::Rtcp)
        && let Ok(packets) = parse_rtcp(data)
    {
        let _ = build_rtcp(&packets);
    }
    // RFC 4733 events on their own: every 4-byte window, as a run of
    // packets of one event and of successive ones.
    let mut rx = DtmfReceiver::new();
    for (i, chunk) in data.chunks(4).enumerate() {
        if let Ok(ev) = TelephoneEvent::parse(chunk) {
            let _ = ev.digit();
            assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Ok(ev));
        }
        let ts = if i % 3 == 0 { i as u32 * 160 } else { 0 };
        let _ = rx.receive(ts, chunk);
    }
}

/// A tenant's prompt upload, checked as the API does and decoded as a
/// call does when it plays it.
pub fn wav(data: &[u8]) {
    let _ = check_prompt(data);
    if let Ok(p) = load_prompt(data) {
        let _ = p.duration();
        let frames = p.frames().count();
        assert_eq!(
            frames,
            p.samples.len().div_ceil(switchyard_rtp::FRAME_SAMPLES)
        );
    }
}
