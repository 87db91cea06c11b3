//! SDP for an anchoring B2BUA (RFC 4566, offer/answer per RFC 3264): read
//! what a phone offers or answers, pick G.711 and `telephone-event`, and
//! write our own offers and answers with our address and ports.
//!
//! Only what a PBX needs is modelled: connection addresses, media lines
//! with their formats, `rtpmap`, and the direction attribute. Anything
//! malformed is an error that names the line (→ 400); an offer with no
//! G.711 audio is [`Refusal::NotAcceptable`] (→ 488). Nothing here panics
//! on any input.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use switchyard_rtp::g711::Law;

/// Media direction (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// What the answerer says to an offer with this direction.
    pub fn mirror(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    /// The side that wrote this direction sends RTP.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<String>,
    /// `a=rtpmap` entries: payload type → encoding name (lower case).
    pub rtpmap: Vec<(u8, String)>,
    pub direction: Direction,
    pub connection: Option<IpAddr>,
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub connection: Option<IpAddr>,
    pub media: Vec<Media>,
}

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the SDP does not parse; says where.
    Malformed(String),
    /// 488: no audio with PCMU or PCMA.
    NotAcceptable,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Malformed(m) => write!(f, "malformed SDP: {m}"),
            Refusal::NotAcceptable => f.write_str("no common codec (PCMU or PCMA)"),
        }
    }
}

fn connection(value: &str, line: usize) -> Result<IpAddr, Refusal> {
    // c=IN IP4 192.0.2.1 (a multicast TTL suffix is ignored).
    let mut parts = value.split_whitespace();
    let (net, _ty, addr) = (parts.next(), parts.next(), parts.next());
    if net != Some("IN") {
        return Err(Refusal::Malformed(format!(
            "line {line}: c= needs network type IN"
        )));
    }
    let addr =
        addr.ok_or_else(|| Refusal::Malformed(format!("line {line}: c= without address")))?;
    addr.split('/')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| Refusal::Malformed(format!("line {line}: c= address {addr:?}")))
}

/// Parse a session description.
pub fn parse(body: &[u8]) -> Result<Sdp, Refusal> {
    let text = std::str::from_utf8(body).map_err(|_| Refusal::Malformed("not UTF-8".into()))?;
    let mut sdp = Sdp {
        connection: None,
        media: Vec::new(),
    };
    let mut session_direction = Direction::SendRecv;
    let mut saw_version = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let (key, value) = line
            .split_once('=')
            .filter(|(k, _)| k.len() == 1)
            .ok_or_else(|| Refusal::Malformed(format!("line {n}: not <type>=<value>")))?;
        match key {
            "v" => {
                if value != "0" {
                    return Err(Refusal::Malformed(format!("line {n}: version {value:?}")));
                }
                saw_version = true;
            }
            "c" => {
                let c = connection(value, n)?;
                match sdp.media.last_mut() {
                    Some(m) => m.connection = Some(c),
                    None => sdp.connection = Some(c),
                }
            }
            "m" => {
                let mut parts = value.split_whitespace();
                let kind = parts.next().unwrap_or("").to_string();
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| Refusal::Malformed(format!("line {n}: m= port")))?;
                let proto = parts
                    .next()
                    .ok_or_else(|| Refusal::Malformed(format!("line {n}: m= without protocol")))?
                    .to_string();
                let formats: Vec<String> = parts.map(str::to_string).collect();
                if kind.is_empty() || formats.is_empty() {
                    return Err(Refusal::Malformed(format!("line {n}: m= without formats")));
                }
                sdp.media.push(Media {
                    kind,
                    port,
                    proto,
                    formats,
                    rtpmap: Vec::new(),
                    direction: session_direction,
                    connection: None,
                });
            }
            "a" => {
                let dir = match value {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                match (dir, sdp.media.last_mut()) {
                    (Some(d), Some(m)) => m.direction = d,
                    (Some(d), None) => session_direction = d,
                    (None, Some(m)) => {
                        if let Some(map) = value.strip_prefix("rtpmap:") {
                            let (pt, enc) = map
                                .split_once(' ')
                                .ok_or_else(|| Refusal::Malformed(format!("line {n}: rtpmap")))?;
                            let pt = pt.parse::<u8>().map_err(|_| {
                                Refusal::Malformed(format!("line {n}: rtpmap type"))
                            })?;
                            let name = enc.split('/').next().unwrap_or("").to_ascii_lowercase();
                            m.rtpmap.push((pt, name));
                        }
                    }
                    (None, None) => {}
                }
            }
            _ => {}
        }
    }
    if !saw_version {
        return Err(Refusal::Malformed("no v= line".into()));
    }
    Ok(sdp)
}

/// What one side of a leg uses, read from its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub law: Law,
    pub event_pt: Option<u8>,
    /// Where to send its RTP (`None` for c=0.0.0.0 hold or port 0).
    pub remote: Option<SocketAddr>,
    /// The direction *its* SDP states.
    pub direction: Direction,
    /// Index of the audio `m=` line used.
    pub index: usize,
}

fn law_of(m: &Media, fmt: &str) -> Option<Law> {
    let pt = fmt.parse::<u8>().ok()?;
    if let Some((_, name)) = m.rtpmap.iter().find(|(p, _)| *p == pt) {
        return match name.as_str() {
            "pcmu" => Some(Law::Pcmu),
            "pcma" => Some(Law::Pcma),
            _ => None,
        };
    }
    // Static payload types need no rtpmap (RFC 3551).
    Law::from_payload_type(pt)
}

/// The first audio stream with G.711 (in the writer's order of
/// preference) and its telephone-event type.
pub fn negotiate(sdp: &Sdp) -> Result<Negotiated, Refusal> {
    for (index, m) in sdp.media.iter().enumerate() {
        if m.kind != "audio" || m.port == 0 || !m.proto.starts_with("RTP/AVP") {
            continue;
        }
        let Some(law) = m.formats.iter().find_map(|f| law_of(m, f)) else {
            continue;
        };
        let event_pt = m
            .rtpmap
            .iter()
            .find(|(_, n)| n == "telephone-event")
            .map(|(pt, _)| *pt);
        let ip = m.connection.or(sdp.connection);
        let remote = ip
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| SocketAddr::new(ip, m.port));
        return Ok(Negotiated {
            law,
            event_pt,
            remote,
            direction: m.direction,
            index,
        });
    }
    Err(Refusal::NotAcceptable)
}

/// Our side of a leg: where we receive, and our session's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    pub addr: SocketAddr,
    pub session_id: u64,
    pub version: u64,
}

fn header(out: &mut String, local: &Local) {
    let ip = local.addr.ip();
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let _ = write!(
        out,
        "v=0\r\no=switchyard {} {} IN {fam} {ip}\r\ns=switchyard\r\nc=IN {fam} {ip}\r\nt=0 0\r\n",
        local.session_id, local.version
    );
}

fn audio(out: &mut String, port: u16, laws: &[Law], event_pt: Option<u8>, dir: Direction) {
    let mut fmts: Vec<String> = laws.iter().map(|l| l.payload_type().to_string()).collect();
    if let Some(pt) = event_pt {
        fmts.push(pt.to_string());
    }
    let _ = write!(out, "m=audio {port} RTP/AVP {}\r\n", fmts.join(" "));
    for l in laws {
        let name = if *l == Law::Pcmu { "PCMU" } else { "PCMA" };
        let _ = write!(out, "a=rtpmap:{} {name}/8000\r\n", l.payload_type());
    }
    if let Some(pt) = event_pt {
        let _ = write!(
            out,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        );
    }
    let _ = write!(out, "a=ptime:20\r\na={}\r\n", dir.attr());
}

/// Our offer (to a callee, or in a re-INVITE): PCMU and PCMA, and
/// telephone-event as type 101.
pub fn offer(local: &Local, direction: Direction) -> Vec<u8> {
    let mut out = String::new();
    header(&mut out, local);
    audio(
        &mut out,
        local.addr.port(),
        &[Law::Pcmu, Law::Pcma],
        Some(101),
        direction,
    );
    out.into_bytes()
}

/// Our answer to `offer`, using what [`negotiate`] chose: one `m=` line
/// per offered stream, the others refused with port 0.
pub fn answer(offer: &Sdp, chosen: &Negotiated, local: &Local) -> Vec<u8> {
    let mut out = String::new();
    header(&mut out, local);
    for (i, m) in offer.media.iter().enumerate() {
        if i == chosen.index {
            audio(
                &mut out,
                local.addr.port(),
                &[chosen.law],
                chosen.event_pt,
                chosen.direction.mirror(),
            );
        } else {
            let _ = write!(
                out,
                "m={} 0 {} {}\r\n",
                m.kind,
                m.proto,
                m.formats.first().map(String::as_str).unwrap_or("0")
            );
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

    #[test]
    fn the_offerers_first_g711_wins_and_the_answer_mirrors_it() {
        let offer_sdp = parse(SIPP.as_bytes()).unwrap();
        let n = negotiate(&offer_sdp).unwrap();
        assert_eq!(n.law, Law::Pcma);
        assert_eq!(n.event_pt, Some(101));
        assert_eq!(n.remote, Some("127.0.0.1:6000".parse().unwrap()));
        let local = Local {
            addr: "10.0.0.9:20000".parse().unwrap(),
            session_id: 1,
            version: 1,
        };
        let ans = String::from_utf8(answer(&offer_sdp, &n, &local)).unwrap();
        assert!(ans.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{ans}");
        assert!(ans.contains("c=IN IP4 10.0.0.9\r\n"));
        // Our answer reads back as what it says.
        let back = negotiate(&parse(ans.as_bytes()).unwrap()).unwrap();
        assert_eq!((back.law, back.event_pt), (Law::Pcma, Some(101)));
    }

    #[test]
    fn hold_is_mirrored_and_other_streams_are_refused() {
        let held = SIPP.replace(
            "m=audio 6000 RTP/AVP 8 0 101\r\n",
            "m=audio 6000 RTP/AVP 0\r\n",
        ) + "a=sendonly\r\nm=video 7000 RTP/AVP 31\r\n";
        let o = parse(held.as_bytes()).unwrap();
        let n = negotiate(&o).unwrap();
        assert_eq!(n.direction, Direction::SendOnly);
        let local = Local {
            addr: "10.0.0.9:20000".parse().unwrap(),
            session_id: 1,
            version: 2,
        };
        let ans = String::from_utf8(answer(&o, &n, &local)).unwrap();
        assert!(ans.contains("a=recvonly"), "{ans}");
        assert!(ans.contains("m=video 0 RTP/AVP 31"), "{ans}");
    }

    #[test]
    fn refusals_say_why() {
        let g729 = SIPP.replace("RTP/AVP 8 0 101", "RTP/AVP 18");
        assert_eq!(
            negotiate(&parse(g729.as_bytes()).unwrap()),
            Err(Refusal::NotAcceptable)
        );
        for bad in [
            "",
            "m=audio x RTP/AVP 0",
            "v=1\r\n",
            "v=0\r\nm=audio 10\r\n",
            "v=0\r\nc=IN IP4 nope\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(Refusal::Malformed(_))),
                "{bad:?}"
            );
        }
        // Garbage never panics.
        let mut seed = 7u32;
        let base = SIPP.as_bytes();
        for _ in 0..2000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let mut b = base.to_vec();
            let i = seed as usize % b.len();
            b[i] = (seed >> 16) as u8;
            b.truncate(seed as usize % (b.len() + 1));
            let _ = parse(&b).map(|s| negotiate(&s));
        }
    }
}
