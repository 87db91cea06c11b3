//! A phone played over raw UDP, for tests that listen to what the host
//! plays byte for byte (SIPp cannot keep the RTP it receives): a
//! carrier's caller, or an extension that registers and answers.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchyard_rtp::g711::Law;
use switchyard_sip::message::Message;
use switchyard_sip::message::parse::{Framing, parse};

/// The demo tenant with a carrier on loopback (calls from 127.0.0.1 are
/// trusted by address, as carriers are) and its DID +15550199 routed by
/// the router to extension 1002.
pub fn carrier_tenant() -> serde_json::Value {
    let t: serde_json::Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    let mut t = with_carrier(t);
    t["numbers"]["+15550199"] = "extensions".into();
    t["plugins"]["router"]["config"]["routes"]["rules"]
        .as_array_mut()
        .unwrap()
        .insert(
            0,
            serde_json::json!({"match": "+15550199", "go": {"extension": "1002"}}),
        );
    t
}

/// A caller from the carrier (tenant [`carrier_tenant`]) dials the IVR,
/// presses 0; nobody of `operators` is registered, so they hear the
/// mailbox's greeting and beep and leave a 1.5 s tone, ended by `#`, and
/// the host hangs up. What they heard: the first second of the menu, and
/// the 9.5 s after the key.
pub fn leave_a_message_for_the_operators(sip: std::net::SocketAddr) -> (Vec<u8>, Vec<u8>) {
    let mut c = Phone::new(sip, 0xCA11);
    c.call("+15550100");
    let menu = c.listen(Duration::from_millis(1000));
    c.key('0');
    let greeting = c.listen(Duration::from_millis(9_500));
    c.tone(700.0, 1500);
    c.key('#');
    c.answer_bye();
    (menu, greeting)
}

/// Tenant description `t` with a carrier on loopback: calls from
/// 127.0.0.1 are trusted by address, as carriers are, so a [`Phone`]
/// can call the tenant's numbers without credentials.
pub fn with_carrier(mut t: serde_json::Value) -> serde_json::Value {
    t["trunks"] = serde_json::json!([{
        "name": "carrier",
        "host": "127.0.0.1:9",
        "username": "trunkuser",
        "password": "trunkpass",
        "register": false,
        "inbound-addresses": ["127.0.0.1"],
    }]);
    t
}

/// A phone played here over raw UDP: a carrier's caller, or an
/// extension that registers and answers; every RTP packet it gets is kept.
pub struct Phone {
    pub sip: UdpSocket,
    pub rtp: UdpSocket,
    pub pbx: SocketAddr,
    pub call_id: String,
    /// Our From (as caller) or To (as callee), with our tag.
    pub local: String,
    /// The other side's, with its tag once known.
    pub remote: String,
    /// Where in-dialog requests go (the PBX's Contact).
    pub target: String,
    pub cseq: u32,
    /// Where the PBX wants our RTP (its SDP).
    pub media: Option<SocketAddr>,
    /// The PBX's SDP in the 200 that answered our call.
    pub answer: String,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// Who the carrier says calls (`call`, `offer`…): `+15551230000`
    /// unless changed.
    pub caller: String,
}

pub fn sdp(rtp_port: u16, direction: &str) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na={direction}\r\n"
    )
}

fn media_port(m: &Message) -> SocketAddr {
    let body = String::from_utf8_lossy(&m.body).to_string();
    let port: u16 = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .expect("an audio line")
        .parse()
        .unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn uri_of(name_addr: &str) -> String {
    name_addr
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string()
}

impl Phone {
    pub fn new(pbx: SocketAddr, ssrc: u32) -> Phone {
        let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        sip.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Short, so that `listen` ends on time when nothing comes.
        rtp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Phone {
            sip,
            rtp,
            pbx,
            call_id: format!("raw-{ssrc:x}-{}@phone.test", std::process::id()),
            local: String::new(),
            remote: String::new(),
            target: String::new(),
            cseq: 1,
            media: None,
            answer: String::new(),
            seq: 1,
            ts: 0,
            ssrc,
            caller: "+15551230000".into(),
        }
    }

    /// The same phone, calling from the carrier as `number`.
    pub fn calling_as(mut self, number: &str) -> Phone {
        self.caller = number.into();
        self
    }

    pub fn recv_sip(&self) -> Message {
        let mut buf = [0u8; 8192];
        let n = self.sip.recv(&mut buf).expect("a SIP message from the PBX");
        parse(&buf[..n], Framing::Datagram).expect("it parses")
    }

    pub fn send_sip(&self, text: String) {
        self.sip.send_to(text.as_bytes(), self.pbx).unwrap();
    }

    pub fn reply(&self, req: &Message, status: u16, body: Option<String>) {
        let mut r = switchyard_sip::message::build::response(req, status, "", Some("phonetag"));
        if let Some(b) = body {
            let me = self.sip.local_addr().unwrap();
            r.headers.push("Contact", format!("<sip:phone@{me}>"));
            r.headers.push("Content-Type", "application/sdp");
            r.body = b.into_bytes();
        }
        self.sip.send_to(&r.to_bytes(), self.pbx).unwrap();
    }

    pub fn headers(&self, method: &str, cseq: u32, from: &str, to: &str) -> String {
        let me = self.sip.local_addr().unwrap();
        format!(
            "Via: SIP/2.0/UDP {me};branch=z9hG4bK{method}{cseq}x{}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:phone@{me}>\r\n",
            self.ssrc, self.call_id
        )
    }

    /// The same phone's sockets, to talk from another thread while this
    /// one listens.
    pub fn talker(&self) -> Phone {
        Phone {
            sip: self.sip.try_clone().unwrap(),
            rtp: self.rtp.try_clone().unwrap(),
            pbx: self.pbx,
            call_id: self.call_id.clone(),
            local: self.local.clone(),
            remote: self.remote.clone(),
            target: self.target.clone(),
            cseq: self.cseq,
            media: self.media,
            answer: self.answer.clone(),
            seq: self.seq,
            ts: self.ts,
            ssrc: self.ssrc,
            caller: self.caller.clone(),
        }
    }

    /// Register as `ext` with its password, answering the 401.
    pub fn register(&mut self, ext: &str, password: &str) {
        let uri = "sip:demo.localhost";
        let aor = format!("<sip:{ext}@demo.localhost>");
        let from = format!("{aor};tag=reg{}", self.ssrc);
        let mut auth = String::new();
        for cseq in 1..=2 {
            self.send_sip(format!(
                "REGISTER {uri} SIP/2.0\r\n{}Expires: 300\r\n{auth}Content-Length: 0\r\n\r\n",
                self.headers("REGISTER", cseq, &from, &aor)
            ));
            let m = self.recv_sip();
            match m.status() {
                200 => return,
                401 => {
                    let challenge = m.headers.get("WWW-Authenticate").unwrap();
                    let answer = switchyard_sip::auth::answer_challenge(
                        challenge, "REGISTER", uri, ext, password,
                    )
                    .unwrap();
                    auth = format!("Authorization: {answer}\r\n");
                }
                other => panic!("REGISTER got {other}"),
            }
        }
        panic!("not registered");
    }

    /// INVITE `did` and wait for the answer.
    pub fn call(&mut self, did: &str) {
        self.local = format!("<sip:{}@carrier.test>;tag=caller{}", self.caller, self.ssrc);
        let to = format!("<sip:{did}@demo.localhost>");
        let body = sdp(self.rtp.local_addr().unwrap().port(), "sendrecv");
        self.send_sip(format!(
            "INVITE sip:{did}@demo.localhost SIP/2.0\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            self.headers("INVITE", 1, &self.local, &to),
            body.len()
        ));
        loop {
            let m = self.recv_sip();
            match m.status() {
                100..=199 => continue,
                200 => return self.answered(&m, 1),
                other => panic!("the call was not answered: {other}"),
            }
        }
    }

    /// Our INVITE (CSeq `cseq`) was answered with `ok`: the dialog is up,
    /// the answer ACKed.
    fn answered(&mut self, ok: &Message, cseq: u32) {
        self.remote = ok.headers.get("To").unwrap().to_string();
        self.target = uri_of(ok.headers.get("Contact").unwrap());
        self.media = Some(media_port(ok));
        self.answer = String::from_utf8_lossy(&ok.body).into_owned();
        self.send_sip(format!(
            "ACK {} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            self.target,
            self.headers("ACK", cseq, &self.local, &self.remote)
        ));
        self.cseq = cseq + 1;
    }

    /// Call `to` as extension `ext` (answering the 407 with `password`)
    /// and wait for the answer.
    pub fn call_as(&mut self, ext: &str, password: &str, to: &str) {
        let status = self.try_call_as(ext, password, to);
        assert_eq!(status, 200, "the call was not answered");
    }

    /// Call `to` as extension `ext` (answering the 407 with `password`):
    /// the final status (a refusal is acknowledged).
    pub fn try_call_as(&mut self, ext: &str, password: &str, to: &str) -> u16 {
        let body = sdp(self.rtp.local_addr().unwrap().port(), "sendrecv");
        self.invite_as(ext, password, to, &body).status()
    }

    /// INVITE `to` as extension `ext` offering `body`, answering the 407
    /// with `password`: the final response, ACKed whatever it is (a 200
    /// sets up the dialog: [`target`](Self::target), `media`, `answer`).
    pub fn invite_as(&mut self, ext: &str, password: &str, to: &str, body: &str) -> Message {
        self.local = format!("<sip:{ext}@demo.localhost>;tag=call{}", self.ssrc);
        let uri = format!("sip:{to}@demo.localhost");
        let to_hdr = format!("<{uri}>");
        let mut auth = String::new();
        for cseq in 1..=2 {
            self.send_sip(format!(
                "INVITE {uri} SIP/2.0\r\n{}{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                self.headers("INVITE", cseq, &self.local, &to_hdr),
                body.len()
            ));
            loop {
                let m = self.recv_sip();
                if m.status() >= 300 {
                    // A failure is ACKed in its own transaction.
                    let via = self.headers("INVITE", cseq, &self.local, &to_hdr);
                    let via = via.lines().next().unwrap();
                    self.send_sip(format!(
                        "ACK {uri} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
                        self.local,
                        m.headers.get("To").unwrap(),
                        self.call_id
                    ));
                }
                match m.status() {
                    100..=199 => continue,
                    407 if cseq == 1 => {
                        let challenge = m.headers.get("Proxy-Authenticate").unwrap();
                        let answer = switchyard_sip::auth::answer_challenge(
                            challenge, "INVITE", &uri, ext, password,
                        )
                        .unwrap();
                        auth = format!("Proxy-Authorization: {answer}\r\n");
                        break;
                    }
                    200 => {
                        self.answered(&m, cseq);
                        return m;
                    }
                    _ => return m,
                }
            }
        }
        panic!("the call was not let through");
    }

    /// Wait for an INVITE from the PBX and answer it (a new call or a
    /// re-INVITE), then wait for its ACK. Returns the offer's direction.
    pub fn answer_invite(&mut self, direction_back: impl Fn(&str) -> &'static str) -> String {
        loop {
            let m = self.recv_sip();
            if m.method() != "INVITE" {
                if m.method() == "ACK" {
                    continue;
                }
                panic!("expected an INVITE, got {} {}", m.method(), m.status());
            }
            let offer = String::from_utf8_lossy(&m.body).to_string();
            let direction = ["sendonly", "recvonly", "inactive", "sendrecv"]
                .into_iter()
                .find(|d| offer.contains(&format!("a={d}")))
                .unwrap_or("sendrecv")
                .to_string();
            if self.local.is_empty() {
                self.local = format!("{};tag=phonetag", m.headers.get("To").unwrap());
                self.remote = m.headers.get("From").unwrap().to_string();
                self.call_id = m.call_id().to_string();
            }
            self.target = uri_of(m.headers.get("Contact").unwrap());
            self.media = Some(media_port(&m));
            let body = sdp(
                self.rtp.local_addr().unwrap().port(),
                direction_back(&direction),
            );
            self.reply(&m, 200, Some(body));
            // Talk only once the PBX has taken the answer (its ACK), as
            // phones do.
            while self.recv_sip().method() != "ACK" {}
            return direction;
        }
    }

    /// Send a re-INVITE with `direction`; wait for the 200 and ACK it.
    pub fn reinvite(&mut self, direction: &str) {
        let body = sdp(self.rtp.local_addr().unwrap().port(), direction);
        let cseq = self.cseq;
        self.cseq += 1;
        self.send_sip(format!(
            "INVITE {} SIP/2.0\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            self.target,
            self.headers("INVITE", cseq, &self.local, &self.remote),
            body.len()
        ));
        loop {
            let m = self.recv_sip();
            match m.status() {
                0 if m.method() == "ACK" => continue,
                100..=199 => continue,
                200 => {
                    self.send_sip(format!(
                        "ACK {} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
                        self.target,
                        self.headers("ACK", cseq, &self.local, &self.remote)
                    ));
                    return;
                }
                other => panic!("re-INVITE got {other}"),
            }
        }
    }

    pub fn bye(&mut self) {
        let cseq = self.cseq;
        self.cseq += 1;
        self.send_sip(format!(
            "BYE {} SIP/2.0\r\n{}Content-Length: 0\r\n\r\n",
            self.target,
            self.headers("BYE", cseq, &self.local, &self.remote)
        ));
        loop {
            let m = self.recv_sip();
            if m.status() == 200 {
                return;
            }
        }
    }

    /// Receive RTP for `d`: (SSRC, µ-law payload) of each packet.
    pub fn listen_packets(&self, d: Duration) -> Vec<(u32, Vec<u8>)> {
        let mut got = Vec::new();
        let until = Instant::now() + d;
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            if let Ok(n) = self.rtp.recv(&mut buf) {
                let pkt = switchyard_rtp::packet::RtpPacket::parse(&buf[..n]).unwrap();
                assert_eq!(pkt.header.payload_type, 0, "PCMU, as offered");
                got.push((pkt.header.ssrc, pkt.payload.to_vec()));
            }
        }
        got
    }

    /// Receive RTP for `d`: the µ-law payloads, in order.
    pub fn listen(&self, d: Duration) -> Vec<u8> {
        self.listen_packets(d)
            .into_iter()
            .flat_map(|(_, p)| p)
            .collect()
    }

    pub fn send_rtp(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let bytes = switchyard_rtp::packet::RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            csrcs: vec![],
            extension: None,
        }
        .to_bytes(payload)
        .unwrap();
        self.seq = self.seq.wrapping_add(1);
        self.rtp.send_to(&bytes, self.media.unwrap()).unwrap();
    }

    /// Talk: `ms` of a tone, paced in real time.
    pub fn tone(&mut self, freq: f64, ms: u32) {
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
    pub fn key(&mut self, key: char) {
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
    pub fn answer_bye(&self) {
        loop {
            let m = self.recv_sip();
            if m.method() == "BYE" {
                self.reply(&m, 200, None);
                return;
            }
        }
    }
}

/// The µ-law bytes a PCM prompt becomes on the wire.
pub fn on_the_wire(wav: &[u8]) -> Vec<u8> {
    let prompt = switchyard_rtp::wav::load_prompt(wav).unwrap();
    let mut bytes = Vec::new();
    Law::Pcmu.encode(&prompt.samples, &mut bytes);
    bytes
}

impl Phone {
    /// INVITE `did` with `body` as the offer; the final status. A non-2xx
    /// is acknowledged as RFC 3261 §17.1.1.3 says (same branch).
    /// Calls `did` from the carrier and gives up (CANCEL) `ring` after it
    /// starts ringing: the INVITE's final status (487 when the CANCEL was
    /// in time), acknowledged.
    pub fn ring_then_cancel(&mut self, did: &str, ring: Duration) -> u16 {
        let body = sdp(self.rtp.local_addr().unwrap().port(), "sendrecv");
        let headers = self.invite_from_carrier(did, "cancel", &body);
        loop {
            let m = self.recv_sip();
            match m.status() {
                180 | 183 => break,
                100..=199 => continue,
                other => return other,
            }
        }
        std::thread::sleep(ring);
        // Same transaction as the INVITE: its Via branch, its CSeq number.
        let cancel = headers.replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
        self.send_sip(format!(
            "CANCEL sip:{did}@demo.localhost SIP/2.0\r\n{cancel}Content-Length: 0\r\n\r\n"
        ));
        loop {
            let m = self.recv_sip();
            let to_invite = m.headers.get("CSeq").is_some_and(|c| c.contains("INVITE"));
            if !to_invite || m.status() < 200 {
                continue;
            }
            self.ack_final(did, &headers, &m);
            return m.status();
        }
    }

    /// The carrier's INVITE to `did` with SDP `body` (From tag `tag` + our
    /// SSRC); its headers, for the rest of the transaction.
    fn invite_from_carrier(&mut self, did: &str, tag: &str, body: &str) -> String {
        self.local = format!("<sip:{}@carrier.test>;tag={tag}{}", self.caller, self.ssrc);
        let to = format!("<sip:{did}@demo.localhost>");
        let headers = self.headers("INVITE", 1, &self.local, &to);
        self.send_sip(format!(
            "INVITE sip:{did}@demo.localhost SIP/2.0\r\n{headers}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        headers
    }

    /// The ACK of a final answer `m` to our INVITE to `did` (`headers`).
    fn ack_final(&self, did: &str, headers: &str, m: &Message) {
        let via = headers.lines().next().unwrap();
        let to = m.headers.get("To").unwrap();
        self.send_sip(format!(
            "ACK sip:{did}@demo.localhost SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            self.local, self.call_id
        ));
    }

    pub fn offer(&mut self, did: &str, body: &str) -> u16 {
        let headers = self.invite_from_carrier(did, "offer", body);
        loop {
            let m = self.recv_sip();
            match m.status() {
                100..=199 => continue,
                status => {
                    self.ack_final(did, &headers, &m);
                    return status;
                }
            }
        }
    }
}

/// Every phone says its tone (`None`: nothing) for `ms` while all of them
/// listen: what each heard, decoded. Each phone's stream runs on
/// afterwards from where its talking left it.
pub fn talk_and_listen(phones: &mut [&mut Phone], tones: &[Option<f64>], ms: u32) -> Vec<Vec<i16>> {
    let (heard, streams) = std::thread::scope(|s| {
        let talkers: Vec<_> = phones
            .iter()
            .zip(tones)
            .map(|(p, &tone)| {
                let mut t = p.talker();
                s.spawn(move || {
                    if let Some(f) = tone {
                        t.tone(f, ms);
                    }
                    (t.seq, t.ts)
                })
            })
            .collect();
        let listeners: Vec<_> = phones
            .iter()
            .map(|p| {
                let p: &Phone = p;
                s.spawn(move || p.listen(Duration::from_millis(u64::from(ms))))
            })
            .collect();
        let heard: Vec<Vec<i16>> = listeners
            .into_iter()
            .map(|h| {
                let mut pcm = Vec::new();
                Law::Pcmu.decode(&h.join().unwrap(), &mut pcm);
                pcm
            })
            .collect();
        let streams: Vec<(u16, u32)> = talkers.into_iter().map(|t| t.join().unwrap()).collect();
        (heard, streams)
    });
    for (p, (seq, ts)) in phones.iter_mut().zip(streams) {
        (p.seq, p.ts) = (seq, ts);
    }
    heard
}

/// The tag parameter of a From/To value.
pub fn tag(name_addr: &str) -> String {
    name_addr
        .split(";tag=")
        .nth(1)
        .and_then(|t| t.split(';').next())
        .expect("a tag")
        .to_string()
}

/// An agent's phone (1002) REFERs `from` (one of its dialogs) to
/// `target` with Replaces naming `other` (its other one): an attended
/// transfer.
pub fn refer_with_replaces(from: &mut Phone, other: &Phone, target: &str) {
    let replaces = format!(
        "{}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
        other.call_id,
        tag(&other.remote),
        tag(&other.local)
    );
    let cseq = from.cseq;
    from.cseq += 1;
    from.send_sip(format!(
        "REFER {} SIP/2.0\r\n{}Refer-To: <sip:{target}@demo.localhost?Replaces={replaces}>\r\n\
         Referred-By: <sip:1002@demo.localhost>\r\nContent-Length: 0\r\n\r\n",
        from.target,
        from.headers("REFER", cseq, &from.local, &from.remote)
    ));
}

/// The referring phone hears 202, the NOTIFYs (their bodies), then the
/// host's BYE.
pub fn hear_transfer(p: &Phone) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let m = p.recv_sip();
        match m.method() {
            "NOTIFY" => {
                p.reply(&m, 200, None);
                bodies.push(String::from_utf8_lossy(&m.body).into_owned());
            }
            "BYE" => {
                p.reply(&m, 200, None);
                return bodies;
            }
            "" if m.status() == 202 => {}
            other => panic!("1002 got {other} {}", m.status()),
        }
    }
}
