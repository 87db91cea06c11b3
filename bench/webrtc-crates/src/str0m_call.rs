//! str0m 0.24 on both sides, the host's peer configured as
//! `host/media/src/webrtc.rs` configures it (ICE-lite, one host candidate,
//! rust-crypto, str0m's standard RTP header extensions) but with Opus and
//! PCMU only, like the `rtc` side. With `TWCC` false the host's extension
//! map keeps only the mid, so transport-cc is not negotiated and the host
//! sends no transport feedback: that isolates what that feedback costs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, Input, Output, Rtc};

use crate::{Call, PAYLOAD, thread_cpu};

/// From `cargo tree` on this crate (see the README).
pub const BUILD_NOTE: &str = "rust-crypto backend; C: aws-lc-sys (cmake/cc build)";

fn host_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 20000 + (i % 40000) as u16))
}

fn browser_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 20000 + (i % 40000) as u16))
}

/// One str0m peer and what it emitted that the driver cares about.
struct Peer {
    rtc: Rtc,
    local: SocketAddr,
    remote: SocketAddr,
    timeout: Instant,
    connected: bool,
    /// Frames with the expected payload received.
    frames: u64,
    /// Datagrams sent (RTP, RTCP, STUN, DTLS).
    datagrams: u64,
    /// Datagrams for the other side.
    out: Vec<Vec<u8>>,
    /// Opus payload type and the next frame's media time (48 kHz ticks).
    opus: Option<Pt>,
    sent: u64,
}

impl Peer {
    fn new(rtc: Rtc, local: SocketAddr, remote: SocketAddr, now: Instant) -> Peer {
        Peer {
            rtc,
            local,
            remote,
            timeout: now,
            connected: false,
            frames: 0,
            datagrams: 0,
            out: Vec::new(),
            opus: None,
            sent: 0,
        }
    }

    /// str0m's rule: after every input, poll until only a timeout is left.
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().expect("str0m output") {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    self.datagrams += 1;
                    self.out.push(t.contents.into());
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaData(d)) => {
                    assert_eq!(d.data[..], PAYLOAD, "str0m delivered a different payload");
                    self.frames += 1;
                }
                Output::Event(_) => {}
            }
        }
    }

    fn step(&mut self, now: Instant, incoming: Vec<Vec<u8>>, mid: Mid, frame: Option<&[u8]>) {
        for bytes in incoming {
            let receive = Receive::new(Protocol::Udp, self.remote, self.local, &bytes)
                .expect("a datagram str0m knows");
            self.rtc
                .handle_input(Input::Receive(now, receive))
                .expect("str0m input");
            self.drain();
        }
        if self.timeout <= now {
            self.rtc
                .handle_input(Input::Timeout(now))
                .expect("str0m timeout");
            self.drain();
        }
        if let (Some(data), Some(pt)) = (frame, self.opus) {
            let at = MediaTime::new(960 * self.sent, Frequency::FORTY_EIGHT_KHZ);
            self.rtc
                .writer(mid)
                .expect("writer")
                .write(pt, now, at, data.to_vec())
                .expect("str0m write");
            self.sent += 1;
            self.drain();
        }
    }

    fn find_opus(&mut self, mid: Mid) {
        let pt = self
            .rtc
            .writer(mid)
            .expect("writer")
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .expect("Opus negotiated")
            .pt();
        self.opus = Some(pt);
    }
}

/// `TWCC`: see the module documentation.
pub struct Str0mCall<const TWCC: bool> {
    host: Peer,
    browser: Peer,
    /// The audio m-line's mid: the browser's, which the answer keeps.
    mid: Mid,
}

impl<const TWCC: bool> Call for Str0mCall<TWCC> {
    fn new(now: Instant, index: usize) -> (Self, Duration) {
        let (h, b) = (host_addr(index), browser_addr(index));
        let mut browser = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .build(now);
        browser.add_local_candidate(Candidate::host(b, "udp").expect("candidate"));
        let mut change = browser.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        // The host gets the offer as text, as it does from SIP.
        let offer = offer.to_sdp_string();

        let t0 = thread_cpu();
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false);
        if !TWCC {
            config = config
                .clear_extension_map()
                .set_extension(4, Extension::RtpMid);
        }
        let mut rtc = config.build(now);
        rtc.add_local_candidate(Candidate::host(h, "udp").expect("candidate"));
        let offer = SdpOffer::from_sdp_string(&offer).expect("offer parses");
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("offer accepted")
            .to_sdp_string();
        let mut host = Peer::new(rtc, h, b, now);
        host.drain();
        let cpu = thread_cpu() - t0;
        assert!(
            answer.contains("a=ice-lite"),
            "the host answers as ICE-lite"
        );

        let answer = SdpAnswer::from_sdp_string(&answer).expect("answer parses");
        browser
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        let mut browser = Peer::new(browser, b, h, now);
        browser.drain();
        (Str0mCall { host, browser, mid }, cpu)
    }

    fn host_step(&mut self, now: Instant, frame: Option<&[u8]>) {
        let incoming = std::mem::take(&mut self.browser.out);
        self.host.step(now, incoming, self.mid, frame);
    }

    fn browser_step(&mut self, now: Instant, frame: Option<&[u8]>) {
        let incoming = std::mem::take(&mut self.host.out);
        self.browser.step(now, incoming, self.mid, frame);
    }

    fn connected(&self) -> bool {
        self.host.connected && self.browser.connected
    }

    fn in_flight(&self) -> bool {
        !self.host.out.is_empty() || !self.browser.out.is_empty()
    }

    fn start_media(&mut self) {
        self.host.find_opus(self.mid);
        self.browser.find_opus(self.mid);
    }

    fn delivered(&self) -> (u64, u64) {
        (self.host.frames, self.browser.frames)
    }

    fn host_datagrams(&self) -> u64 {
        self.host.datagrams
    }

    fn each_datagram(&self, f: &mut dyn FnMut(&[u8])) {
        for d in self.host.out.iter().chain(&self.browser.out) {
            f(d);
        }
    }
}
