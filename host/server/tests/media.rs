//! The host's own media with real peers: SIPp callers send RTP and
//! RFC 4733 keys from pcap files through the demo tenant's `ivr-menu`,
//! and a caller written here listens to what the host plays, byte for
//! byte, and leaves a voicemail fetched back through the HTTP API.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{LIMIT, blocking, pbx, pbx_with};
use switchyard_rtp::g711::Law;
use switchyard_rtp::tones::tone_amplitude;
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_sipp::Sipp;
use switchyard_sipp::pcap::RtpScript;
use switchyard_store::FileRepo;

/// A stereo recording's channels.
fn channels(path: &std::path::Path) -> (u16, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).expect("a WAV file");
    let spec = r.spec();
    assert_eq!((spec.sample_rate, spec.bits_per_sample), (8000, 16));
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    match spec.channels {
        2 => (
            2,
            samples.iter().step_by(2).copied().collect(),
            samples.iter().skip(1).step_by(2).copied().collect(),
        ),
        n => (n, samples, Vec::new()),
    }
}

/// Keys pressed over the menus drive the IVR through its three levels
/// (main → support → broadband → the business-broadband ring group); the
/// agent who answers is connected and recorded from their answer on,
/// caller left and agent right, none of the IVR in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_the_ivr_through_three_levels_to_the_ring_group_and_the_call_is_recorded() {
    let pbx = std::sync::Arc::new(pbx().await);
    let dir = tempfile::tempdir().unwrap();
    // The caller talks at 300 Hz over the menus, presses 1, 1, 2, and
    // then talks at 440 Hz to the agent.
    let caller_pcap = dir.path().join("caller.pcap");
    let mut caller_rtp = RtpScript::new();
    caller_rtp
        .tone(300.0, 1000)
        .digit('1', 100)
        .tone(300.0, 700)
        .digit('1', 100)
        .tone(300.0, 700)
        .digit('2', 100)
        .tone(440.0, 5000);
    caller_rtp.write_pcap(&caller_pcap).unwrap();
    // The agent talks at 1200 Hz.
    let agent_pcap = dir.path().join("agent.pcap");
    RtpScript::new()
        .tone(1200.0, 6000)
        .write_pcap(&agent_pcap)
        .unwrap();

    let p = pbx.clone();
    let (caller, agent) = blocking(move || {
        let agent = p.phone_with(
            "1002",
            Sipp::new("uas_answer_pcap").key("pcap", agent_pcap.to_str().unwrap()),
        );
        let caller = Sipp::new("uac_call_pcap")
            .remote(p.addr())
            .user("700")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "6500")
            .key("pcap", caller_pcap.to_str().unwrap())
            .timeout(LIMIT)
            .run();
        (caller, agent.wait())
    })
    .await;
    caller.assert_ok();
    agent.assert_ok();

    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, "answered");
    assert_eq!(
        cdr.agent.as_deref(),
        Some("1002"),
        "the ring group's member"
    );
    assert_eq!(cdr.flow_plugin.as_deref(), Some("ivr-menu"));
    assert_eq!(cdr.hangup_by.as_deref(), Some("caller"));
    let id = cdr.recording.expect("the answered call was recorded");
    let (rec, path) = pbx
        .running
        .store
        .get_file("demo", "recording", &id)
        .unwrap()
        .expect("the recording is stored");
    assert_eq!(rec.meta.get("agent").map(String::as_str), Some("1002"));
    let (n, caller_side, agent_side) = channels(&path);
    assert_eq!(n, 2, "stereo");
    let secs = caller_side.len() as f64 / 8000.0;
    // From the agent's answer (about 2.7 s into the call) to the BYE at 6.5 s.
    assert!((2.5..=4.8).contains(&secs), "recorded {secs:.2} s");
    let caller_440 = tone_amplitude(&caller_side, 440.0);
    let caller_300 = tone_amplitude(&caller_side, 300.0);
    let agent_1200 = tone_amplitude(&agent_side, 1200.0);
    assert!(
        caller_440 > 2000.0,
        "the caller on the left: {caller_440:.0}"
    );
    assert!(
        caller_300 < caller_440 / 10.0,
        "nothing said during the IVR: 300 Hz at {caller_300:.0} vs 440 Hz at {caller_440:.0}"
    );
    assert!(
        agent_1200 > 2000.0,
        "the agent on the right: {agent_1200:.0}"
    );
    assert!(
        tone_amplitude(&agent_side, 440.0) < agent_1200 / 10.0,
        "channels apart"
    );
}

/// A carrier's caller, played here over raw UDP.
struct Caller {
    sip: UdpSocket,
    rtp: UdpSocket,
    pbx: SocketAddr,
    call_id: String,
    /// (To with the PBX's tag, the PBX's Contact URI) once answered.
    dialog: Option<(String, String)>,
    /// Where the PBX wants our RTP (its SDP).
    media: Option<SocketAddr>,
    seq: u16,
    ts: u32,
}

impl Caller {
    fn new(pbx: SocketAddr) -> Caller {
        let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        sip.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Short, so that `listen` ends on time when nothing comes.
        rtp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Caller {
            sip,
            rtp,
            pbx,
            call_id: format!("vm-{}@carrier.test", std::process::id()),
            dialog: None,
            media: None,
            seq: 1,
            ts: 0,
        }
    }

    fn recv_sip(&self) -> Message {
        let mut buf = [0u8; 8192];
        let n = self.sip.recv(&mut buf).expect("a SIP message from the PBX");
        parse(&buf[..n], Framing::Datagram).expect("it parses")
    }

    fn send_sip(&self, text: String) {
        self.sip.send_to(text.as_bytes(), self.pbx).unwrap();
    }

    fn header(&self, method: &str, cseq: u32, to: &str) -> String {
        let me = self.sip.local_addr().unwrap();
        format!(
            "Via: SIP/2.0/UDP {me};branch=z9hG4bK{method}{cseq}{}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+15551230000@carrier.test>;tag=carrier1\r\n\
             To: {to}\r\n\
             Call-ID: {}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:carrier@{me}>\r\n",
            std::process::id(),
            self.call_id
        )
    }

    /// INVITE the IVR's DID and wait for the host to answer.
    fn call(&mut self, did: &str) {
        let rtp_port = self.rtp.local_addr().unwrap().port();
        let sdp = format!(
            "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
        );
        let to = format!("<sip:{did}@demo.localhost>");
        self.send_sip(format!(
            "INVITE sip:{did}@demo.localhost SIP/2.0\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.header("INVITE", 1, &to),
            sdp.len()
        ));
        loop {
            let m = self.recv_sip();
            match m.status() {
                100..=199 => continue,
                200 => {
                    let to = m.headers.get("To").unwrap().to_string();
                    let contact = m.headers.get("Contact").unwrap();
                    let uri = contact
                        .trim_start_matches('<')
                        .split('>')
                        .next()
                        .unwrap()
                        .to_string();
                    let body = String::from_utf8_lossy(&m.body).to_string();
                    let port: u16 = body
                        .lines()
                        .find_map(|l| l.strip_prefix("m=audio "))
                        .and_then(|l| l.split(' ').next())
                        .unwrap()
                        .parse()
                        .unwrap();
                    self.media = Some(SocketAddr::from(([127, 0, 0, 1], port)));
                    self.send_sip(format!(
                        "ACK {uri} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
                        self.header("ACK", 1, &to)
                    ));
                    self.dialog = Some((to, uri));
                    return;
                }
                other => panic!("the IVR did not answer: {other}"),
            }
        }
    }

    /// Receive RTP for `d`: the µ-law payloads, in order.
    fn listen(&self, d: Duration) -> Vec<u8> {
        let mut audio = Vec::new();
        let until = Instant::now() + d;
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            if let Ok(n) = self.rtp.recv(&mut buf) {
                let pkt = switchyard_rtp::packet::RtpPacket::parse(&buf[..n]).unwrap();
                assert_eq!(pkt.header.payload_type, 0, "PCMU, as offered");
                audio.extend_from_slice(pkt.payload);
            }
        }
        audio
    }

    fn send_rtp(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let bytes = switchyard_rtp::packet::RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: self.seq,
            timestamp: ts,
            ssrc: 0xCA11,
            csrcs: vec![],
            extension: None,
        }
        .to_bytes(payload)
        .unwrap();
        self.seq = self.seq.wrapping_add(1);
        self.rtp.send_to(&bytes, self.media.unwrap()).unwrap();
    }

    /// Talk: `ms` of a tone, paced in real time.
    fn tone(&mut self, freq: f64, ms: u32) {
        for _ in 0..ms / 20 {
            let samples: Vec<i16> = (0..160)
                .map(|i| {
                    let t = f64::from(self.ts + i) / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                })
                .collect();
            let mut payload = Vec::new();
            Law::Pcmu.encode(&samples, &mut payload);
            self.send_rtp(0, self.ts, &payload);
            self.ts += 160;
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Press a key (RFC 4733, event payload type 101).
    fn key(&mut self, key: char) {
        let event = switchyard_rtp::dtmf::digit_to_event(key).unwrap();
        let start = self.ts;
        for i in 1..=5u16 {
            let end = if i >= 4 { 0x80 } else { 0 };
            self.send_rtp(101, start, &[event, end | 10, 0, (i.min(4) * 160) as u8]);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.ts += 640;
    }

    /// Wait for the PBX's BYE and answer it.
    fn answer_bye(&self) {
        loop {
            let m = self.recv_sip();
            if m.method() == "BYE" {
                let ok = switchyard_sip::message::build::response(&m, 200, "OK", None);
                self.sip.send_to(&ok.to_bytes(), self.pbx).unwrap();
                return;
            }
        }
    }
}

/// The µ-law bytes a PCM prompt becomes on the wire.
fn on_the_wire(wav: &[u8]) -> Vec<u8> {
    let prompt = switchyard_rtp::wav::load_prompt(wav).unwrap();
    let mut bytes = Vec::new();
    Law::Pcmu.encode(&prompt.samples, &mut bytes);
    bytes
}

/// A caller from the carrier hears the main menu exactly as the tenant
/// recorded it, presses 0 for a human; nobody of the operators' group is
/// there, so the menu sends the caller to the operators' mailbox: the
/// greeting, a beep, the message (ended by `#`), and the host hangs up.
/// The message is listed and downloaded through the HTTP API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hears_the_menu_presses_0_and_leaves_a_voicemail_fetched_over_http() {
    let mut tenant: serde_json::Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    tenant["trunks"] = serde_json::json!([{
        "name": "carrier",
        "host": "127.0.0.1:9",
        "username": "trunkuser",
        "password": "trunkpass",
        "register": false,
        "inbound-addresses": ["127.0.0.1"],
    }]);
    let pbx = pbx_with(Some(tenant), None).await;
    let sip = pbx.running.sip_udp;
    let heard = blocking(move || {
        let mut c = Caller::new(sip);
        c.call("+15550100");
        // The first second of the main menu, as the PBX sends it.
        let menu = c.listen(Duration::from_millis(1000));
        c.key('0');
        // Ringing the operators fails at once (nobody registered): the
        // mailbox's greeting and beep follow. Listen through them.
        let greeting = c.listen(Duration::from_millis(9_500));
        c.tone(700.0, 1500);
        c.key('#');
        c.answer_bye();
        (menu, greeting)
    })
    .await;
    let (menu, greeting) = heard;
    let expected_menu = on_the_wire(switchyard_artifacts::DEMO_PROMPTS[0].1);
    assert!(
        menu.len() >= 8000 * 8 / 10,
        "about a second of the menu: {} bytes",
        menu.len()
    );
    assert_eq!(
        &menu[..],
        &expected_menu[..menu.len()],
        "the caller hears the tenant's main-menu prompt from its first sample"
    );
    let greeting_pcm: Vec<i16> = greeting
        .iter()
        .map(|&b| Law::Pcmu.decode_sample(b))
        .collect();
    let beep = greeting_pcm
        .chunks(800)
        .map(|c| tone_amplitude(c, 1000.0))
        .fold(0.0, f64::max);
    assert!(beep > 3000.0, "a beep before the message: {beep:.0}");
    // The greeting is the host's default one (no greeting uploaded for the
    // operators' mailbox); what was left of the menu comes first.
    let default_greeting = on_the_wire(include_bytes!("../../calls/assets/vm-greeting.wav"));
    let second = &default_greeting[..8000];
    assert!(
        greeting.windows(second.len()).any(|w| w == second),
        "the default greeting is played"
    );

    // The message, through the API.
    let base = format!("http://{}/api/tenants/demo", pbx.running.http);
    let token = pbx.running.operator_token.clone();
    let (list, wav) = blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let auth = format!("Bearer {token}");
        let list: serde_json::Value = agent
            .get(format!("{base}/voicemails"))
            .header("Authorization", &auth)
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        let id = list[0]["id"]
            .as_str()
            .expect("a voicemail is listed")
            .to_string();
        let wav = agent
            .get(format!("{base}/voicemails/{id}"))
            .header("Authorization", &auth)
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        (list, wav)
    })
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let meta = &list[0]["meta"];
    assert_eq!(meta["mailbox"], "operators");
    assert_eq!(meta["caller"], "+15551230000");
    let ms: u64 = meta["duration_ms"].as_str().unwrap().parse().unwrap();
    assert!((1200..=3500).contains(&ms), "the message lasts {ms} ms");
    let message = switchyard_rtp::wav::load_prompt(&wav).expect("a playable WAV");
    let tone = tone_amplitude(&message.samples, 700.0);
    assert!(tone > 3000.0, "the caller's words are in it: {tone:.0}");
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, "voicemail");
    assert_eq!(cdr.direction, "inbound");
}
