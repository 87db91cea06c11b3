//! The WebRTC leg against a second str0m `Rtc` playing the browser (full
//! ICE, Opus + PCMU + telephone-event, BUNDLE, rtcp-mux), datagrams
//! shuttled in memory with a fake clock: no sockets, no sleeps.

use std::f64::consts::TAU;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaData, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use switchyard_media::webrtc::EVENT_PT;
use switchyard_media::{WebRtcCodec, WebRtcError, WebRtcLeg};
use switchyard_rtp::dtmf::TelephoneEvent;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};
use switchyard_rtp::tones::tone_amplitude;

const STEP: Duration = Duration::from_millis(20);

fn host_addr() -> SocketAddr {
    "192.0.2.1:20000".parse().unwrap()
}

fn browser_addr() -> SocketAddr {
    "198.51.100.7:54321".parse().unwrap()
}

/// A str0m peer configured like Chrome's audio: Opus/111, PCMU/0,
/// telephone-event at 48 kHz and 8 kHz.
fn browser(now: Instant) -> Rtc {
    let mut config = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false);
    let tele = FormatParams {
        telephone_event_max: Some(15),
        ..Default::default()
    };
    config.codec_config().add_config(
        Pt::from(110),
        None,
        Codec::Tele,
        Frequency::FORTY_EIGHT_KHZ,
        None,
        tele,
    );
    config.codec_config().add_config(
        Pt::from(126),
        None,
        Codec::Tele,
        Frequency::EIGHT_KHZ,
        None,
        tele,
    );
    let mut rtc = config.build(now);
    rtc.add_local_candidate(Candidate::host(browser_addr(), "udp").unwrap());
    rtc
}

/// The host's leg, the browser, the fake clock and what the browser got.
struct Call {
    now: Instant,
    leg: WebRtcLeg,
    browser: Rtc,
    mid: Mid,
    browser_connected: bool,
    browser_timeout: Instant,
    received: Vec<MediaData>,
    /// PCMU/telephone-event RTP the leg produced for the session.
    rtp: Vec<Vec<u8>>,
}

impl Call {
    /// Browser offers, host answers.
    fn browser_calls() -> Call {
        let now = Instant::now();
        let mut b = browser(now);
        let mut change = b.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let offer = offer.to_sdp_string();
        assert!(offer.contains("a=group:BUNDLE"), "{offer}");
        assert!(offer.contains("a=rtcp-mux"), "{offer}");
        let (leg, answer) = WebRtcLeg::answer(now, &offer, host_addr()).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("a=fingerprint:"), "{answer}");
        assert!(answer.contains("20000 typ host"), "{answer}");
        let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
        b.sdp_api().accept_answer(pending, answer).unwrap();
        let mut call = Call::new(now, leg, b, mid);
        call.drain_browser();
        call
    }

    /// Host offers, browser answers.
    fn host_calls() -> Call {
        let now = Instant::now();
        let (mut leg, offer) = WebRtcLeg::offer(now, host_addr()).unwrap();
        for needle in [
            "opus/48000",
            "PCMU/8000",
            "PCMA/8000",
            "telephone-event/8000",
            "a=ice-lite",
            "a=fingerprint:",
            "a=rtcp-mux",
            "a=group:BUNDLE",
        ] {
            assert!(offer.contains(needle), "{needle} missing from {offer}");
        }
        let mut b = browser(now);
        let offer = str0m::change::SdpOffer::from_sdp_string(&offer).unwrap();
        let answer = b.sdp_api().accept_offer(offer).unwrap();
        leg.accept_answer(now, &answer.to_sdp_string()).unwrap();
        let mut call = Call {
            now,
            leg,
            browser: b,
            mid: Mid::from("none"),
            browser_connected: false,
            browser_timeout: now,
            received: Vec::new(),
            rtp: Vec::new(),
        };
        call.drain_browser();
        call
    }

    fn new(now: Instant, leg: WebRtcLeg, browser: Rtc, mid: Mid) -> Call {
        Call {
            now,
            leg,
            browser,
            mid,
            browser_connected: false,
            browser_timeout: now,
            received: Vec::new(),
            rtp: Vec::new(),
        }
    }

    /// Drains the browser to its timeout, delivering what it sends.
    fn drain_browser(&mut self) {
        loop {
            match self.browser.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.browser_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    assert_eq!(t.destination, host_addr());
                    let bytes: Vec<u8> = t.contents.into();
                    self.leg.handle_datagram(self.now, browser_addr(), &bytes);
                }
                Output::Event(Event::Connected) => self.browser_connected = true,
                Output::Event(Event::MediaAdded(m)) => self.mid = m.mid,
                Output::Event(Event::MediaData(d)) => self.received.push(d),
                Output::Event(_) => {}
            }
        }
        self.deliver_to_browser();
    }

    fn deliver_to_browser(&mut self) {
        while let Some((to, bytes)) = self.leg.poll_transmit() {
            assert_eq!(to, browser_addr());
            let input = Input::Receive(
                self.now,
                Receive::new(Protocol::Udp, host_addr(), browser_addr(), &bytes).unwrap(),
            );
            self.browser.handle_input(input).unwrap();
            self.drain_browser();
        }
        while let Some(p) = self.leg.poll_rtp() {
            self.rtp.push(p);
        }
    }

    /// Advances the fake clock by `d`, firing both sides' timers.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.leg.poll_timeout().is_some_and(|t| t <= self.now) {
            self.leg.handle_timeout(self.now);
        }
        self.deliver_to_browser();
        if self.browser_timeout <= self.now {
            self.browser.handle_input(Input::Timeout(self.now)).unwrap();
        }
        self.drain_browser();
    }

    fn connect(&mut self) {
        for _ in 0..500 {
            if self.leg.is_connected() && self.browser_connected {
                return;
            }
            self.advance(Duration::from_millis(10));
        }
        panic!("no connection after 5 s of fake time");
    }

    fn browser_pt(&mut self, codec: Codec) -> Pt {
        let writer = self.browser.writer(self.mid).unwrap();
        writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .unwrap()
            .pt()
    }
}

fn sine(freq: f64, rate: f64, amplitude: f64, from: usize, n: usize) -> Vec<i16> {
    (from..from + n)
        .map(|i| (amplitude * (TAU * freq * i as f64 / rate).sin()) as i16)
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Browser sends 1 s of a 1 kHz tone as Opus; returns the PCMU the leg made.
fn browser_sends_tone(call: &mut Call) -> Vec<(RtpHeader, Vec<u8>)> {
    browser_sends_tone_frames(call, 960, 50)
}

fn browser_sends_tone_frames(
    call: &mut Call,
    samples: usize,
    frames: usize,
) -> Vec<(RtpHeader, Vec<u8>)> {
    browser_sends_tone_from(call, samples, 0, frames)
}

/// Frames `first..first + frames` of the browser's tone (its media time
/// goes on from an earlier call's).
fn browser_sends_tone_from(
    call: &mut Call,
    samples: usize,
    first: usize,
    frames: usize,
) -> Vec<(RtpHeader, Vec<u8>)> {
    let opus_pt = call.browser_pt(Codec::Opus);
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let start = call.rtp.len();
    for frame in first..first + frames {
        let pcm = sine(1000.0, 48_000.0, 8000.0, frame * samples, samples);
        let mut out = [0u8; 1275];
        let n = enc.encode(&pcm, &mut out).unwrap();
        let t = MediaTime::new((samples * frame) as u64, Frequency::FORTY_EIGHT_KHZ);
        let w = call.browser.writer(call.mid).unwrap();
        w.write(opus_pt, call.now, t, out[..n].to_vec()).unwrap();
        call.drain_browser();
        for _ in 0..samples / 960 {
            call.advance(STEP);
        }
    }
    for _ in 0..10 {
        call.advance(STEP);
    }
    call.rtp[start..]
        .iter()
        .map(|b| {
            let p = RtpPacket::parse(b).unwrap();
            (p.header.clone(), p.payload.to_vec())
        })
        .collect()
}

/// At least `min` 20 ms PCMU packets on one contiguous timeline, carrying
/// the 1 kHz tone.
fn assert_tone_as_pcmu(packets: &[(RtpHeader, Vec<u8>)], min: usize) {
    assert!(packets.len() >= min, "only {} packets", packets.len());
    for w in packets.windows(2) {
        assert_eq!(w[1].0.sequence, w[0].0.sequence.wrapping_add(1));
        assert_eq!(w[1].0.timestamp, w[0].0.timestamp.wrapping_add(160));
        assert_eq!(w[1].0.ssrc, w[0].0.ssrc);
    }
    let mut pcm = Vec::new();
    for (h, payload) in packets {
        assert_eq!(h.payload_type, 0);
        assert_eq!(payload.len(), 160);
        Law::Pcmu.decode(payload, &mut pcm);
    }
    // Skip the codec's start-up; the steady state is the 1 kHz tone.
    let steady = &pcm[pcm.len() / 2..];
    let at_1k = tone_amplitude(steady, 1000.0);
    let at_2k = tone_amplitude(steady, 2200.0);
    assert!(
        at_1k > 4000.0,
        "1 kHz amplitude {at_1k:.0} (rms {:.0})",
        rms(steady)
    );
    assert!(at_2k < at_1k / 10.0, "1 kHz {at_1k:.0}, 2.2 kHz {at_2k:.0}");
}

#[test]
fn browser_offer_connects_and_prefers_opus() {
    let mut call = Call::browser_calls();
    assert_eq!(call.leg.codec(), Some(WebRtcCodec::Opus));
    assert!(!call.leg.is_connected());
    call.connect();
    assert!(call.leg.is_connected());
    assert!(call.browser_connected);
}

/// The answer asks only for what a G.711 call can use: narrowband Opus
/// (the browser's audio ends up at 8 kHz), and no transport-cc (its
/// feedback was a third of the stack's CPU, for bandwidth estimates a
/// fixed-rate audio leg never uses).
#[test]
fn the_answer_asks_for_narrowband_opus_and_no_transport_cc() {
    let offer = chrome_like_offer();
    assert!(offer.contains("transport-wide-cc"), "the browser offers it");
    let (leg, answer) = WebRtcLeg::answer(Instant::now(), &offer, host_addr()).unwrap();
    let pt = leg.payload_type().expect("Opus negotiated");
    let fmtp = answer
        .lines()
        .find(|l| l.starts_with(&format!("a=fmtp:{pt} ")))
        .expect("an fmtp for Opus");
    assert!(
        fmtp.contains("maxplaybackrate=8000;sprop-maxcapturerate=8000"),
        "{fmtp}"
    );
    assert!(!answer.contains("transport-wide-cc"), "{answer}");
    assert!(
        answer.contains("urn:ietf:params:rtp-hdrext:sdes:mid"),
        "{answer}"
    );
}

#[test]
fn browser_opus_tone_comes_out_as_pcmu() {
    let mut call = Call::browser_calls();
    call.connect();
    let packets = browser_sends_tone(&mut call);
    assert_tone_as_pcmu(&packets, 45);
}

#[test]
fn session_pcmu_reaches_browser_as_opus() {
    let mut call = Call::browser_calls();
    call.connect();
    let opus_pt = call.browser_pt(Codec::Opus);
    let before = call.received.len();
    session_sends_pcmu(&mut call, 0, 50);
    let got = &call.received[before..];
    assert!(got.len() >= 45, "browser got {} frames", got.len());
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = Vec::new();
    for d in got {
        assert_eq!(d.pt, opus_pt);
        let mut buf = [0i16; 5760];
        let n = dec.decode(&d.data, &mut buf, false).unwrap();
        assert_eq!(n, 960, "20 ms frames at 48 kHz");
        pcm.extend_from_slice(&buf[..n]);
    }
    let steady = &pcm[pcm.len() / 2..];
    let amp = str0m_free_goertzel(steady, 1000.0, 48_000.0);
    assert!(
        amp > 4000.0,
        "1 kHz at the browser {amp:.0}, rms {:.0}",
        rms(steady)
    );
}

/// The Goertzel amplitude at a rate other than 8 kHz.
fn str0m_free_goertzel(x: &[i16], freq: f64, rate: f64) -> f64 {
    switchyard_rtp::tones::Goertzel::new(freq, rate).amplitude(x)
}

#[test]
fn browser_digit_comes_out_as_telephone_event_101() {
    let mut call = Call::browser_calls();
    call.connect();
    let opus_pt = call.browser_pt(Codec::Opus);
    let start = call.rtp.len();
    let event = str0m::media::TelephoneEvent {
        event: 7,
        end: true,
        volume: 10,
        duration: Duration::from_millis(120),
    };
    let t = MediaTime::new(48_000, Frequency::FORTY_EIGHT_KHZ);
    let w = call.browser.writer(call.mid).unwrap();
    w.telephone_event(event)
        .write(opus_pt, call.now, t, Vec::new())
        .unwrap();
    call.drain_browser();
    for _ in 0..20 {
        call.advance(STEP);
    }
    let events: Vec<(RtpHeader, TelephoneEvent)> = call.rtp[start..]
        .iter()
        .map(|b| RtpPacket::parse(b).unwrap())
        .filter(|p| p.header.payload_type == EVENT_PT)
        .map(|p| (p.header.clone(), TelephoneEvent::parse(p.payload).unwrap()))
        .collect();
    assert!(events.len() >= 3, "{events:?}");
    assert!(events[0].0.marker, "first report marks the event start");
    assert!(
        events
            .iter()
            .all(|(h, e)| { e.digit() == Some('7') && h.timestamp == events[0].0.timestamp })
    );
    let last = events.last().unwrap().1;
    assert!(last.end);
    assert_eq!(last.duration, 960, "120 ms at 8 kHz");
    for w in events.windows(2) {
        assert_eq!(w[1].0.sequence, w[0].0.sequence.wrapping_add(1));
    }
}

#[test]
fn host_offer_browser_answer_works() {
    let mut call = Call::host_calls();
    assert_eq!(call.leg.codec(), Some(WebRtcCodec::Opus));
    call.connect();
    let packets = browser_sends_tone(&mut call);
    assert_tone_as_pcmu(&packets, 45);
}

#[test]
fn browser_pcmu_only_is_passed_as_g711() {
    let now = Instant::now();
    let mut b = Rtc::builder()
        .clear_codecs()
        .enable_pcmu(true, false)
        .build(now);
    b.add_local_candidate(Candidate::host(browser_addr(), "udp").unwrap());
    let mut change = b.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    let (leg, answer) = WebRtcLeg::answer(now, &offer.to_sdp_string(), host_addr()).unwrap();
    assert_eq!(leg.codec(), Some(WebRtcCodec::Pcmu));
    assert!(!answer.contains("opus"), "{answer}");
    let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
    b.sdp_api().accept_answer(pending, answer).unwrap();
    let mut call = Call::new(now, leg, b, mid);
    call.drain_browser();
    call.connect();
    let pcm = sine(1000.0, 8000.0, 8000.0, 0, 160);
    let mut payload = Vec::new();
    Law::Pcmu.encode(&pcm, &mut payload);
    let rtp = RtpHeader {
        payload_type: 0,
        sequence: 1,
        timestamp: 1,
        ssrc: 1,
        ..Default::default()
    }
    .to_bytes(&payload)
    .unwrap();
    let before = call.received.len();
    call.leg.send_rtp(call.now, &rtp);
    call.deliver_to_browser();
    call.advance(STEP);
    let got = &call.received[before..];
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].data[..], &payload[..], "G.711 passes unchanged");
}

fn chrome_like_offer() -> String {
    let now = Instant::now();
    let mut b = browser(now);
    let mut change = b.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    change.apply().unwrap().0.to_sdp_string()
}

#[test]
fn malformed_offers_are_clear_errors() {
    let offer = chrome_like_offer();
    let no_fingerprint: String = offer
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert_eq!(
        WebRtcLeg::answer(Instant::now(), &no_fingerprint, host_addr()).unwrap_err(),
        WebRtcError::NoFingerprint
    );

    let no_audio: String = offer
        .lines()
        .take_while(|l| !l.starts_with("m="))
        .map(|l| format!("{l}\r\n"))
        .collect();
    assert_eq!(
        WebRtcLeg::answer(Instant::now(), &no_audio, host_addr()).unwrap_err(),
        WebRtcError::NoAudio
    );

    let err = WebRtcLeg::answer(Instant::now(), "hello", host_addr()).unwrap_err();
    assert!(matches!(err, WebRtcError::BadSdp(_)), "{err:?}");
    assert!(!err.to_string().is_empty());

    // Audio, but only a codec the host does not speak.
    let g722_only = offer
        .replace("opus/48000/2", "G722/8000")
        .replace("PCMU/8000", "G722/8000");
    let err = WebRtcLeg::answer(Instant::now(), &g722_only, host_addr()).unwrap_err();
    assert_eq!(err, WebRtcError::NoCommonCodec, "{g722_only}");

    // An answer without a pending offer.
    let (mut leg, _) = WebRtcLeg::answer(Instant::now(), &offer, host_addr()).unwrap();
    assert_eq!(
        leg.accept_answer(Instant::now(), &offer).unwrap_err(),
        WebRtcError::NoPendingOffer
    );
}

#[test]
fn browser_40ms_frames_are_repacketized_to_20ms() {
    let mut call = Call::browser_calls();
    call.connect();
    let packets = browser_sends_tone_frames(&mut call, 1920, 25);
    assert_tone_as_pcmu(&packets, 45);
}

#[test]
fn session_digit_reaches_browser_as_telephone_event() {
    let mut call = Call::browser_calls();
    call.connect();
    let before = call.received.len();
    // What the session sends for a 100 ms '9': start, updates, three ends.
    let reports: [(bool, u16); 7] = [
        (false, 160u16),
        (false, 320),
        (false, 480),
        (false, 640),
        (true, 800),
        (true, 800),
        (true, 800),
    ];
    for (i, &(end, duration)) in reports.iter().enumerate() {
        let payload = TelephoneEvent {
            event: 9,
            end,
            volume: 10,
            duration,
        }
        .to_bytes();
        let rtp = RtpHeader {
            marker: i == 0,
            payload_type: EVENT_PT,
            sequence: 500 + i as u16,
            timestamp: 48_000,
            ssrc: 0x5eed,
            ..Default::default()
        }
        .to_bytes(&payload)
        .unwrap();
        call.leg.send_rtp(call.now, &rtp);
        call.deliver_to_browser();
        call.advance(STEP);
    }
    for _ in 0..20 {
        call.advance(STEP);
    }
    let tele: Vec<str0m::media::TelephoneEvent> = call.received[before..]
        .iter()
        .filter_map(|d| match d.codec_extra {
            str0m::format::CodecExtra::Tele(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(!tele.is_empty(), "the browser got no telephone-event");
    assert!(tele.iter().all(|t| t.event == 9), "{tele:?}");
    let last = tele.last().unwrap();
    assert!(last.end);
    assert_eq!(last.duration, Duration::from_millis(100));
}

#[test]
fn a_lost_opus_frame_is_concealed_on_a_contiguous_timeline() {
    let mut call = Call::browser_calls();
    call.connect();
    let opus_pt = call.browser_pt(Codec::Opus);
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let start = call.rtp.len();
    for frame in 0..40usize {
        let pcm = sine(1000.0, 48_000.0, 8000.0, frame * 960, 960);
        let packet = enc.encode_vec(&pcm, 1275).unwrap();
        // Frames 20 and 21 never make it.
        if frame != 20 && frame != 21 {
            let t = MediaTime::new(960 * frame as u64, Frequency::FORTY_EIGHT_KHZ);
            let w = call.browser.writer(call.mid).unwrap();
            w.write(opus_pt, call.now, t, packet).unwrap();
            call.drain_browser();
        }
        call.advance(STEP);
    }
    for _ in 0..10 {
        call.advance(STEP);
    }
    let packets: Vec<(RtpHeader, Vec<u8>)> = call.rtp[start..]
        .iter()
        .map(|b| {
            let p = RtpPacket::parse(b).unwrap();
            (p.header.clone(), p.payload.to_vec())
        })
        .collect();
    assert_eq!(packets.len(), 40, "two concealed frames fill the hole");
    assert_tone_as_pcmu(&packets, 40);
}

/// The session sends frames `first..first + frames` of a 1 kHz PCMU tone
/// to the leg, each delivered to the browser; then time for what is in
/// flight to arrive.
fn session_sends_pcmu(call: &mut Call, first: u16, frames: u16) {
    for frame in first..first + frames {
        let pcm = sine(1000.0, 8000.0, 8000.0, usize::from(frame) * 160, 160);
        let mut payload = Vec::new();
        Law::Pcmu.encode(&pcm, &mut payload);
        let rtp = RtpHeader {
            payload_type: 0,
            sequence: 7000 + frame,
            timestamp: 123_456 + 160 * u32::from(frame),
            ssrc: 0x5eed,
            ..Default::default()
        }
        .to_bytes(&payload)
        .unwrap();
        call.leg.send_rtp(call.now, &rtp);
        call.deliver_to_browser();
        call.advance(STEP);
    }
    for _ in 0..10 {
        call.advance(STEP);
    }
}

/// [`session_sends_pcmu`]: how many audio frames the browser got.
fn session_sends_tone(call: &mut Call, first: u16, frames: u16) -> usize {
    let before = call.received.len();
    session_sends_pcmu(call, first, frames);
    call.received[before..]
        .iter()
        .filter(|d| !matches!(d.codec_extra, str0m::format::CodecExtra::Tele(_)))
        .count()
}

/// The ICE credentials and DTLS fingerprint of an SDP: what must not
/// change in a re-offer or its answer, or the browser starts over.
fn transport(sdp: &str) -> Vec<String> {
    let mut lines: Vec<String> = sdp
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("a=ice-ufrag:")
                || l.starts_with("a=ice-pwd:")
                || l.starts_with("a=fingerprint:")
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 3, "{sdp}");
    lines
}

/// The browser offers `direction` on the connected call (JsSIP's hold
/// and resume); the leg answers; the browser takes the answer. The
/// answer's text.
fn browser_reoffers(call: &mut Call, direction: Direction) -> String {
    let mut change = call.browser.sdp_api();
    change.set_direction(call.mid, direction);
    let (offer, pending) = change.apply().expect("a change, so an offer");
    let answer = call
        .leg
        .accept_offer(call.now, &offer.to_sdp_string())
        .unwrap();
    let parsed = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
    call.browser
        .sdp_api()
        .accept_answer(pending, parsed)
        .unwrap();
    call.drain_browser();
    answer
}

#[test]
fn a_browsers_hold_and_resume_are_answered_on_the_same_session() {
    let mut call = Call::browser_calls();
    call.connect();
    let before = browser_sends_tone_from(&mut call, 960, 0, 25);
    assert_tone_as_pcmu(&before, 20);
    assert_eq!(call.leg.peer_direction(), Some(Direction::SendRecv));

    // Hold: the browser only sends; the host's answer says recvonly and
    // keeps the transport, so no new ICE or DTLS.
    let answer = browser_reoffers(&mut call, Direction::SendOnly);
    assert!(answer.contains("a=recvonly"), "{answer}");
    assert!(answer.contains("a=ice-lite"), "{answer}");
    assert_eq!(call.leg.peer_direction(), Some(Direction::SendOnly));
    assert!(call.leg.is_connected() && call.browser_connected);
    assert_eq!(
        session_sends_tone(&mut call, 0, 25),
        0,
        "nothing goes to a browser that holds"
    );
    // Its audio still comes through (JsSIP mutes its track on hold; the
    // leg passes on whatever it sends).
    let held = browser_sends_tone_from(&mut call, 960, 25, 25);
    assert!(held.len() >= 20, "only {} packets on hold", held.len());

    // Resume: sendrecv again, both ways.
    let resumed = browser_reoffers(&mut call, Direction::SendRecv);
    assert!(resumed.contains("a=sendrecv"), "{resumed}");
    assert_eq!(transport(&answer), transport(&resumed));
    assert_eq!(call.leg.peer_direction(), Some(Direction::SendRecv));
    let got = session_sends_tone(&mut call, 25, 25);
    assert!(got >= 20, "the browser got {got} frames after resume");
    let after = browser_sends_tone_from(&mut call, 960, 50, 25);
    assert_tone_as_pcmu(&after, 20);
}

#[test]
fn the_host_holds_and_resumes_a_browser_with_a_webrtc_reoffer() {
    let mut call = Call::browser_calls();
    call.connect();
    assert!(
        call.leg.reoffer(call.now, Direction::SendRecv).is_none(),
        "no change, no offer"
    );

    let hold = call.leg.reoffer(call.now, Direction::SendOnly).unwrap();
    assert!(hold.contains("a=sendonly"), "{hold}");
    assert!(hold.contains("UDP/TLS/RTP/SAVPF"), "a WebRTC offer: {hold}");
    let parsed = str0m::change::SdpOffer::from_sdp_string(&hold).unwrap();
    let answer = call.browser.sdp_api().accept_offer(parsed).unwrap();
    call.leg
        .accept_answer(call.now, &answer.to_sdp_string())
        .unwrap();
    call.drain_browser();
    assert_eq!(call.leg.peer_direction(), Some(Direction::RecvOnly));
    assert!(call.leg.is_connected());
    // The held browser still hears what the session sends (music on hold).
    let got = session_sends_tone(&mut call, 0, 25);
    assert!(got >= 20, "the held browser got {got} frames");
    assert!(
        call.leg.reoffer(call.now, Direction::SendOnly).is_none(),
        "held already"
    );

    let resume = call.leg.reoffer(call.now, Direction::SendRecv).unwrap();
    assert!(resume.contains("a=sendrecv"), "{resume}");
    assert_eq!(transport(&hold), transport(&resume));
    let parsed = str0m::change::SdpOffer::from_sdp_string(&resume).unwrap();
    let answer = call.browser.sdp_api().accept_offer(parsed).unwrap();
    call.leg
        .accept_answer(call.now, &answer.to_sdp_string())
        .unwrap();
    call.drain_browser();
    assert_eq!(call.leg.peer_direction(), Some(Direction::SendRecv));
    let packets = browser_sends_tone_from(&mut call, 960, 0, 25);
    assert_tone_as_pcmu(&packets, 20);
    assert!(session_sends_tone(&mut call, 25, 25) >= 20);
}
