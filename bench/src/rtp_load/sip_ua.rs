//! A small SIP user agent for the media load through Switchyard: the
//! caller (UAC) and the callee (UAS) of every call, so that the SDP of
//! each side names the generator's own socket for that leg and the relay
//! addresses Switchyard answers with are read back — SIPp gives every call
//! the same media port and keeps the far end's SDP to itself.
//!
//! The UAC: INVITE → 407 → ACK, INVITE with digest → 200 → ACK; later BYE.
//! The UAS registers the callee with its own address as Contact, answers
//! every INVITE at once with 200 (resent until the ACK) and every BYE with
//! 200. Messages are built and parsed with `switchyard-sip`; UDP on
//! loopback, retransmissions as RFC 3261 (T1 = 500 ms doubling, 32 s).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_sip::auth::answer_challenge;
use switchyard_sip::message::addr::NameAddr;
use switchyard_sip::message::build::response;
use switchyard_sip::message::parse::{Framing, parse};
use switchyard_sip::message::{Message, split_list};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::streams::Generator;

pub struct SipConfig {
    pub server: SocketAddr,
    pub ip: IpAddr,
    pub domain: String,
    pub caller: String,
    pub caller_password: String,
    pub callee: String,
    pub callee_password: String,
}

/// The SDP of one of our legs: PCMU and telephone-event, 20 ms.
pub fn sdp_offer(addr: SocketAddr, session: u64) -> String {
    let ip = addr.ip();
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        addr.port()
    )
}

/// Where an SDP says to send RTP: its (last) `c=` address and the port of
/// its first audio `m=` line.
pub fn sdp_media_addr(sdp: &str) -> Option<SocketAddr> {
    let mut ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.split('/').next().and_then(|a| a.trim().parse().ok());
        } else if let Some(m) = line.strip_prefix("m=audio ")
            && port.is_none()
        {
            port = m.split_whitespace().next().and_then(|p| p.parse().ok());
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

type Waiters = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>>;

/// An INVITE we answered, its 200 resent until the ACK.
struct Answered {
    bytes: Vec<u8>,
    to: SocketAddr,
    acked: bool,
    next: Instant,
    interval: Duration,
    until: Instant,
}

/// An established call, for the BYE.
pub struct SipCall {
    /// The generator's leg (stream) of the call.
    pub leg: u32,
    call_id: String,
    from: String,
    to: String,
    target: String,
    routes: Vec<String>,
    cseq: u32,
    rx: mpsc::UnboundedReceiver<Message>,
}

pub struct SipUa {
    cfg: SipConfig,
    uac: Arc<UdpSocket>,
    uac_addr: SocketAddr,
    uas: Arc<UdpSocket>,
    uas_addr: SocketAddr,
    waiters: Waiters,
    /// The ACK of each established call, resent if its 200 comes again.
    acks: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    next: AtomicU64,
    /// BYEs the server sent to our caller side (it ended a call).
    pub remote_byes: Arc<AtomicU64>,
}

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const TIMER_B: Duration = Duration::from_secs(32);

impl SipUa {
    /// Bind both sides and start their receivers; the UAS answers INVITEs
    /// with legs from `generator`.
    pub async fn start(cfg: SipConfig, generator: Arc<Generator>) -> std::io::Result<Arc<SipUa>> {
        let uac = Arc::new(UdpSocket::bind((cfg.ip, 0)).await?);
        let uas = Arc::new(UdpSocket::bind((cfg.ip, 0)).await?);
        let ua = Arc::new(SipUa {
            uac_addr: uac.local_addr()?,
            uas_addr: uas.local_addr()?,
            uac,
            uas,
            cfg,
            waiters: Arc::default(),
            acks: Arc::default(),
            next: AtomicU64::new(1),
            remote_byes: Arc::default(),
        });
        let u = ua.clone();
        tokio::spawn(async move { u.uac_loop().await });
        let answered: Arc<Mutex<HashMap<String, Answered>>> = Arc::default();
        let (u, a) = (ua.clone(), answered.clone());
        tokio::spawn(async move { u.uas_loop(&a, &generator).await });
        let u = ua.clone();
        tokio::spawn(async move { u.resend_answers(&answered).await });
        Ok(ua)
    }

    fn branch(&self, n: u64, cseq: u32) -> String {
        format!("z9hG4bK-sy{}-{n}-{cseq}", std::process::id())
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        via: SocketAddr,
        method: &str,
        uri: &str,
        branch: &str,
        call_id: &str,
        from: &str,
        to: &str,
        cseq: u32,
        extra: &[(&str, String)],
        body: Option<String>,
    ) -> Vec<u8> {
        let mut m = Message::request(method, uri);
        m.headers
            .push("Via", format!("SIP/2.0/UDP {via};branch={branch};rport"));
        m.headers.push("Max-Forwards", "70");
        m.headers.push("From", from);
        m.headers.push("To", to);
        m.headers.push("Call-ID", call_id);
        m.headers.push("CSeq", format!("{cseq} {method}"));
        for (k, v) in extra {
            m.headers.push(*k, v.clone());
        }
        if let Some(b) = body {
            m.headers.push("Content-Type", "application/sdp");
            m.body = b.into_bytes();
        }
        m.to_bytes()
    }

    /// Send a request and wait for its final response, resending it until
    /// something answers (an INVITE) or until a final answer (others).
    async fn transact(
        sock: &UdpSocket,
        to: SocketAddr,
        bytes: &[u8],
        rx: &mut mpsc::UnboundedReceiver<Message>,
        cseq: u32,
        method: &str,
    ) -> Result<Message, String> {
        let until = Instant::now() + TIMER_B;
        let mut interval = T1;
        let mut provisional = false;
        sock.send_to(bytes, to).await.map_err(|e| e.to_string())?;
        let mut resend_at = Instant::now() + interval;
        loop {
            let now = Instant::now();
            if now >= until {
                return Err(format!("{method}: no final response in 32 s"));
            }
            let wake = if provisional && method == "INVITE" {
                until
            } else {
                resend_at.min(until)
            };
            match tokio::time::timeout(wake - now, rx.recv()).await {
                Ok(Some(m)) if m.cseq() == Some((cseq, method)) => {
                    if m.status() >= 200 {
                        return Ok(m);
                    }
                    provisional = true;
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("user agent closed".into()),
                Err(_) => {
                    if !(provisional && method == "INVITE") {
                        sock.send_to(bytes, to).await.map_err(|e| e.to_string())?;
                        interval = (interval * 2).min(T2);
                        resend_at = Instant::now() + interval;
                    }
                }
            }
        }
    }

    fn waiter(&self, call_id: &str) -> mpsc::UnboundedReceiver<Message> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.waiters
            .lock()
            .expect("waiters lock")
            .insert(call_id.to_string(), tx);
        rx
    }

    /// Register the callee with the UAS's address as its Contact.
    pub async fn register_callee(&self) -> Result<(), String> {
        let c = &self.cfg;
        let n = self.next.fetch_add(1, Relaxed);
        let call_id = format!("sy-media-reg-{}-{n}@{}", std::process::id(), c.ip);
        let mut rx = self.waiter(&call_id);
        let uri = format!("sip:{}", c.domain);
        let aor = format!("<sip:{}@{}>", c.callee, c.domain);
        let from = format!("{aor};tag=r{n}");
        let contact = ("Contact", format!("<sip:{}@{}>", c.callee, self.uas_addr));
        let expires = ("Expires", "7200".to_string());
        let first = self.request(
            self.uas_addr,
            "REGISTER",
            &uri,
            &self.branch(n, 1),
            &call_id,
            &from,
            &aor,
            1,
            &[contact.clone(), expires.clone()],
            None,
        );
        let r = Self::transact(&self.uas, c.server, &first, &mut rx, 1, "REGISTER").await?;
        let r = if r.status() == 401 {
            let challenge = r
                .headers
                .get("WWW-Authenticate")
                .ok_or("401 without WWW-Authenticate")?;
            let auth =
                answer_challenge(challenge, "REGISTER", &uri, &c.callee, &c.callee_password)?;
            let second = self.request(
                self.uas_addr,
                "REGISTER",
                &uri,
                &self.branch(n, 2),
                &call_id,
                &from,
                &aor,
                2,
                &[contact, expires, ("Authorization", auth)],
                None,
            );
            Self::transact(&self.uas, c.server, &second, &mut rx, 2, "REGISTER").await?
        } else {
            r
        };
        self.waiters.lock().expect("waiters lock").remove(&call_id);
        match r.status() {
            200 => Ok(()),
            s => Err(format!("REGISTER answered {s}")),
        }
    }

    /// Place one call whose caller leg is `leg` of `generator`; it starts
    /// sending to the address Switchyard answered with once established.
    pub async fn call(&self, generator: &Generator) -> Result<SipCall, String> {
        self.call_to(generator, &self.cfg.callee, false).await
    }

    /// As [`SipUa::call`], to `callee`; a `silent` caller sends µ-law
    /// silence instead of probes.
    pub async fn call_to(
        &self,
        generator: &Generator,
        callee: &str,
        silent: bool,
    ) -> Result<SipCall, String> {
        let c = &self.cfg;
        let leg = generator.open().map_err(|e| format!("caller leg: {e}"))?;
        let n = self.next.fetch_add(1, Relaxed);
        let call_id = format!("sy-media-{}-{n}@{}", std::process::id(), c.ip);
        let mut rx = self.waiter(&call_id);
        let uri = format!("sip:{callee}@{}", c.domain);
        let from = format!("<sip:{}@{}>;tag=c{n}", c.caller, c.domain);
        let to = format!("<sip:{callee}@{}>", c.domain);
        let contact = ("Contact", format!("<sip:{}@{}>", c.caller, self.uac_addr));
        let sdp = sdp_offer(leg.local, n);
        let send_invite = |cseq: u32, auth: Option<(&'static str, String)>| {
            let mut extra = vec![contact.clone()];
            extra.extend(auth);
            self.request(
                self.uac_addr,
                "INVITE",
                &uri,
                &self.branch(n, cseq),
                &call_id,
                &from,
                &to,
                cseq,
                &extra,
                Some(sdp.clone()),
            )
        };
        let mut cseq = 1;
        let mut r = Self::transact(
            &self.uac,
            c.server,
            &send_invite(1, None),
            &mut rx,
            1,
            "INVITE",
        )
        .await?;
        if matches!(r.status(), 401 | 407) {
            self.ack_failure(n, &uri, &call_id, &from, &r).await;
            let (ask, answer) = if r.status() == 407 {
                ("Proxy-Authenticate", "Proxy-Authorization")
            } else {
                ("WWW-Authenticate", "Authorization")
            };
            let challenge = r.headers.get(ask).ok_or("challenge without a header")?;
            let auth = answer_challenge(challenge, "INVITE", &uri, &c.caller, &c.caller_password)?;
            cseq = 2;
            let invite = send_invite(2, Some((answer, auth)));
            r = Self::transact(&self.uac, c.server, &invite, &mut rx, 2, "INVITE").await?;
        }
        if r.status() != 200 {
            self.ack_failure(n, &uri, &call_id, &from, &r).await;
            self.waiters.lock().expect("waiters lock").remove(&call_id);
            return Err(format!("INVITE answered {}", r.status()));
        }
        let to = r.headers.get("To").unwrap_or(&to).to_string();
        let target = r
            .headers
            .get("Contact")
            .and_then(|v| NameAddr::parse(v).ok())
            .map_or_else(|| uri.clone(), |a| a.uri);
        let mut routes: Vec<String> = r
            .headers
            .get_all("Record-Route")
            .flat_map(split_list)
            .map(str::to_string)
            .collect();
        routes.reverse();
        let route_headers: Vec<(&str, String)> =
            routes.iter().map(|r| ("Route", r.clone())).collect();
        let ack = self.request(
            self.uac_addr,
            "ACK",
            &target,
            &self.branch(n, 100 + cseq),
            &call_id,
            &from,
            &to,
            cseq,
            &route_headers,
            None,
        );
        let _ = self.uac.send_to(&ack, c.server).await;
        self.acks
            .lock()
            .expect("acks lock")
            .insert(call_id.clone(), ack);
        let relay = sdp_media_addr(&String::from_utf8_lossy(&r.body))
            .ok_or("200 without a usable SDP answer")?;
        let leg_id = leg.id;
        generator.start_with(leg, relay, silent);
        Ok(SipCall {
            leg: leg_id,
            call_id,
            from,
            to,
            target,
            routes,
            cseq,
            rx,
        })
    }

    /// The ACK of a non-2xx final response (same branch as the INVITE).
    async fn ack_failure(&self, n: u64, uri: &str, call_id: &str, from: &str, r: &Message) {
        let Some((cseq, _)) = r.cseq() else { return };
        let ack = self.request(
            self.uac_addr,
            "ACK",
            uri,
            &self.branch(n, cseq),
            call_id,
            from,
            r.headers.get("To").unwrap_or(""),
            cseq,
            &[],
            None,
        );
        let _ = self.uac.send_to(&ack, self.cfg.server).await;
    }

    /// Hang up an established call.
    pub async fn hangup(&self, mut call: SipCall) -> Result<(), String> {
        let cseq = call.cseq + 1;
        let n = self.next.fetch_add(1, Relaxed);
        let routes: Vec<(&str, String)> =
            call.routes.iter().map(|r| ("Route", r.clone())).collect();
        let bye = self.request(
            self.uac_addr,
            "BYE",
            &call.target,
            &self.branch(n, cseq),
            &call.call_id,
            &call.from,
            &call.to,
            cseq,
            &routes,
            None,
        );
        let r = Self::transact(&self.uac, self.cfg.server, &bye, &mut call.rx, cseq, "BYE").await;
        self.waiters
            .lock()
            .expect("waiters lock")
            .remove(&call.call_id);
        self.acks.lock().expect("acks lock").remove(&call.call_id);
        match r?.status() {
            200 => Ok(()),
            s => Err(format!("BYE answered {s}")),
        }
    }

    async fn uac_loop(&self) {
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((len, from)) = self.uac.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(m) = parse(&buf[..len], Framing::Datagram) else {
                continue;
            };
            if m.is_request() {
                if m.method() == "ACK" {
                    continue;
                }
                if m.method() == "BYE" {
                    self.remote_byes.fetch_add(1, Relaxed);
                }
                let ok = response(&m, 200, "OK", Some("uac"));
                let _ = self.uac.send_to(&ok.to_bytes(), from).await;
                continue;
            }
            let call_id = m.call_id().to_string();
            // A 200 again after our ACK: the ACK was lost, send it again.
            let again =
                if m.status() == 200 && m.cseq().is_some_and(|(_, method)| method == "INVITE") {
                    self.acks.lock().expect("acks lock").get(&call_id).cloned()
                } else {
                    None
                };
            if let Some(ack) = again {
                let _ = self.uac.send_to(&ack, from).await;
                continue;
            }
            let waiter = self
                .waiters
                .lock()
                .expect("waiters lock")
                .get(&call_id)
                .cloned();
            if let Some(tx) = waiter {
                let _ = tx.send(m);
            }
        }
    }

    async fn uas_loop(&self, answered: &Mutex<HashMap<String, Answered>>, generator: &Generator) {
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((len, from)) = self.uas.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(m) = parse(&buf[..len], Framing::Datagram) else {
                continue;
            };
            if !m.is_request() {
                let waiter = self
                    .waiters
                    .lock()
                    .expect("waiters lock")
                    .get(m.call_id())
                    .cloned();
                if let Some(tx) = waiter {
                    let _ = tx.send(m);
                }
                continue;
            }
            let call_id = m.call_id().to_string();
            let reply = match m.method() {
                "INVITE" => {
                    let again = answered
                        .lock()
                        .expect("answered lock")
                        .get(&call_id)
                        .map(|a| a.bytes.clone());
                    match again {
                        Some(bytes) => Some(bytes),
                        None => {
                            let bytes = self.answer_invite(&m, generator);
                            if bytes.starts_with(b"SIP/2.0 200") {
                                let now = Instant::now();
                                answered.lock().expect("answered lock").insert(
                                    call_id,
                                    Answered {
                                        bytes: bytes.clone(),
                                        to: from,
                                        acked: false,
                                        next: now + T1,
                                        interval: T1,
                                        until: now + TIMER_B,
                                    },
                                );
                            }
                            Some(bytes)
                        }
                    }
                }
                "ACK" => {
                    if let Some(a) = answered.lock().expect("answered lock").get_mut(&call_id) {
                        a.acked = true;
                    }
                    None
                }
                "BYE" => {
                    answered.lock().expect("answered lock").remove(&call_id);
                    Some(response(&m, 200, "OK", None).to_bytes())
                }
                _ => Some(response(&m, 200, "OK", None).to_bytes()),
            };
            if let Some(bytes) = reply {
                let _ = self.uas.send_to(&bytes, from).await;
            }
        }
    }

    /// 200 with our leg's SDP, the leg sending to the relay's address.
    fn answer_invite(&self, invite: &Message, generator: &Generator) -> Vec<u8> {
        let tag = format!("b{}", self.next.fetch_add(1, Relaxed));
        let Some(relay) = sdp_media_addr(&String::from_utf8_lossy(&invite.body)) else {
            return response(invite, 488, "Not Acceptable Here", Some(&tag)).to_bytes();
        };
        let leg = match generator.open() {
            Ok(l) => l,
            Err(_) => return response(invite, 503, "No Ports", Some(&tag)).to_bytes(),
        };
        let mut ok = response(invite, 200, "OK", Some(&tag));
        for rr in invite.headers.get_all("Record-Route") {
            ok.headers.push("Record-Route", rr.to_string());
        }
        ok.headers.push(
            "Contact",
            format!("<sip:{}@{}>", self.cfg.callee, self.uas_addr),
        );
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = sdp_offer(leg.local, u64::from(leg.id)).into_bytes();
        generator.start(leg, relay);
        ok.to_bytes()
    }

    async fn resend_answers(&self, answered: &Mutex<HashMap<String, Answered>>) {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = Instant::now();
            let due: Vec<(Vec<u8>, SocketAddr)> = {
                let mut map = answered.lock().expect("answered lock");
                map.retain(|_, a| !a.acked || now < a.until);
                map.values_mut()
                    .filter(|a| !a.acked && a.next <= now && now < a.until)
                    .map(|a| {
                        a.interval = (a.interval * 2).min(T2);
                        a.next = now + a.interval;
                        (a.bytes.clone(), a.to)
                    })
                    .collect()
            };
            for (bytes, to) in due {
                let _ = self.uas.send_to(&bytes, to).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_offer_reads_back_as_our_address() {
        let a: SocketAddr = "127.0.0.1:10002".parse().unwrap();
        let sdp = sdp_offer(a, 9);
        assert!(sdp.contains("m=audio 10002 RTP/AVP 0 101\r\n"));
        assert_eq!(sdp_media_addr(&sdp), Some(a));
    }

    #[test]
    fn the_media_level_connection_line_wins_and_junk_is_none() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.5\r\n";
        assert_eq!(sdp_media_addr(sdp), Some("127.0.0.5:4000".parse().unwrap()));
        assert_eq!(sdp_media_addr("v=0\r\nm=audio 4000 RTP/AVP 0\r\n"), None);
        assert_eq!(sdp_media_addr("c=IN IP4 1.2.3.4\r\n"), None);
    }
}
