//! A strict SDP parser (RFC 4566 / RFC 8866 grammar, as SIP phones use it).
//!
//! Strict means: `v=0`, `o=`, `s=` must open the description in that
//! order; every line is `<letter>=<value>` with a known letter allowed at
//! its level; numbers are plain ASCII digits; addresses are IP addresses
//! of the declared family; RTP formats are payload types 0–127; a `t=`
//! comes before the first `m=`; every stream that is not rejected has a
//! connection address. The first violation is reported with its line
//! number and text, so the 400 the B2BUA sends says what was wrong.
//!
//! Tolerated, because real phones do it and it is unambiguous: bare LF
//! line ends, blank lines at the end, trailing spaces in attributes, runs
//! of spaces between fields, and unknown attributes (kept as they are).
//!
//! Nothing here indexes or slices by position, so no input can panic it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::model::{
    AddressType, Attribute, Connection, Direction, Fmtp, MediaDescription, Origin, OtherLine,
    Proto, Rtcp, RtpMap, SessionDescription,
};

/// Why a description was refused: which line, what it said, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// The line as received (lossily decoded, cut to 60 characters).
    pub text: String,
    pub reason: String,
}

const SHOWN_CHARS: usize = 60;

impl ParseError {
    fn new(line: usize, raw: &[u8], reason: impl Into<String>) -> ParseError {
        ParseError {
            line,
            text: String::from_utf8_lossy(raw)
                .chars()
                .take(SHOWN_CHARS)
                .collect(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} {:?}: {}", self.line, self.text, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// One checked line: its number, type letter and value.
struct Line<'a> {
    number: usize,
    raw: &'a [u8],
    kind: char,
    value: &'a str,
}

impl Line<'_> {
    fn error(&self, reason: impl Into<String>) -> ParseError {
        ParseError::new(self.number, self.raw, reason)
    }
}

/// Splits into lines and checks each is `<letter>=<value>` in UTF-8 with
/// no control characters.
fn lines(input: &[u8]) -> Result<Vec<Line<'_>>, ParseError> {
    let mut pieces: Vec<&[u8]> = input
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    // The final line end leaves an empty piece; trailing blank lines are
    // tolerated too (some stacks pad bodies), blank lines elsewhere are not.
    while pieces
        .last()
        .is_some_and(|l| l.iter().all(|b| *b == b' ' || *b == b'\t'))
    {
        pieces.pop();
    }
    if pieces.is_empty() {
        return Err(ParseError::new(1, b"", "empty description: expected v=0"));
    }
    let mut out = Vec::with_capacity(pieces.len());
    for (i, raw) in pieces.into_iter().enumerate() {
        let number = i + 1;
        let err = |reason: &str| ParseError::new(number, raw, reason);
        if raw.is_empty() {
            return Err(err("empty line inside the description"));
        }
        if raw.iter().any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f) {
            return Err(err("control character in line"));
        }
        let text = std::str::from_utf8(raw).map_err(|_| err("not UTF-8"))?;
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| err("expected <type>=<value>"))?;
        let mut chars = key.chars();
        let kind = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_lowercase() => c,
            _ => return Err(err("the type before '=' must be one lower-case letter")),
        };
        out.push(Line {
            number,
            raw,
            kind,
            value,
        });
    }
    Ok(out)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A number written as plain ASCII digits (no sign, no spaces).
fn number<T: FromStr>(s: &str, what: &str) -> Result<T, String> {
    if !all_digits(s) {
        return Err(format!("{what} {s:?} is not a number"));
    }
    s.parse::<T>()
        .map_err(|_| format!("{what} {s:?} is out of range"))
}

fn digits(s: &str, what: &str) -> Result<String, String> {
    if !all_digits(s) {
        return Err(format!("{what} {s:?} is not a number"));
    }
    Ok(s.to_string())
}

/// RFC 4566 `token` characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                )
        })
}

fn payload_type(s: &str) -> Result<u8, String> {
    let pt: u8 = number(s, "payload type")?;
    if pt > 127 {
        return Err(format!("payload type {pt} is above 127"));
    }
    Ok(pt)
}

fn address_type(s: &str) -> Result<AddressType, String> {
    match s {
        "IP4" => Ok(AddressType::Ip4),
        "IP6" => Ok(AddressType::Ip6),
        _ => Err(format!("address type {s:?} is neither IP4 nor IP6")),
    }
}

fn network_type(s: &str) -> Result<(), String> {
    if s == "IN" {
        Ok(())
    } else {
        Err(format!("network type {s:?} is not IN"))
    }
}

fn connection_fields(net: &str, ty: &str, addr: &str) -> Result<Connection, String> {
    network_type(net)?;
    let ty = address_type(ty)?;
    let (ip, multicast) = match addr.split_once('/') {
        Some((ip, rest)) => (ip, Some(rest)),
        None => (addr, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    if AddressType::of(ip) != ty {
        return Err(format!("{ip} is not an {} address", ty.as_str()));
    }
    if let Some(m) = multicast
        && !m.split('/').all(all_digits)
    {
        return Err(format!("multicast suffix {m:?} is not <ttl>[/<count>]"));
    }
    Ok(Connection {
        address: ip,
        multicast: multicast.map(str::to_string),
    })
}

fn connection(value: &str) -> Result<Connection, String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    match f.as_slice() {
        [net, ty, addr] => connection_fields(net, ty, addr),
        _ => Err("c= needs IN <addrtype> <address>".into()),
    }
}

fn origin(value: &str) -> Result<Origin, String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, id, version, net, ty, address] = f.as_slice() else {
        return Err("o= needs <username> <sess-id> <sess-version> IN <addrtype> <address>".into());
    };
    network_type(net)?;
    let address_type = address_type(ty)?;
    if let Ok(ip) = address.parse::<IpAddr>()
        && AddressType::of(ip) != address_type
    {
        return Err(format!("{ip} is not an {} address", address_type.as_str()));
    }
    Ok(Origin {
        username: username.to_string(),
        session_id: digits(id, "session id")?,
        session_version: digits(version, "session version")?,
        address_type,
        address: address.to_string(),
    })
}

fn time(value: &str) -> Result<(u64, u64), String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    match f.as_slice() {
        [start, stop] => Ok((number(start, "start time")?, number(stop, "stop time")?)),
        _ => Err("t= needs <start> <stop>".into()),
    }
}

fn bandwidth(value: &str) -> Result<(), String> {
    match value.split_once(':') {
        Some((ty, bw)) if is_token(ty) => number::<u64>(bw, "bandwidth").map(|_| ()),
        _ => Err("b= needs <bwtype>:<bandwidth>".into()),
    }
}

fn media(value: &str) -> Result<MediaDescription, String> {
    let mut f = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err("m= needs <media> <port> <proto> <format>...".into());
    };
    if !is_token(kind) {
        return Err(format!("media type {kind:?} is not a token"));
    }
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (number(p, "port")?, Some(number(n, "port count")?)),
        None => (number(port, "port")?, None),
    };
    if !proto.split('/').all(is_token) {
        return Err(format!("transport {proto:?} is not a protocol name"));
    }
    let proto = Proto::parse(proto);
    let formats: Vec<String> = f.map(str::to_string).collect();
    if formats.is_empty() {
        return Err("m= lists no formats".into());
    }
    for fmt in &formats {
        if proto.is_rtp() {
            payload_type(fmt)?;
        } else if !is_token(fmt) {
            return Err(format!("format {fmt:?} is not a token"));
        }
    }
    let mut m = MediaDescription::new(kind, port, proto, formats);
    m.port_count = port_count;
    Ok(m)
}

fn rtpmap(value: &str) -> Result<RtpMap, String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [pt, encoding] = f.as_slice() else {
        return Err("rtpmap needs <payload type> <encoding>/<clock rate>".into());
    };
    let mut parts = encoding.splitn(3, '/');
    let (Some(name), Some(clock)) = (parts.next(), parts.next()) else {
        return Err(format!("rtpmap encoding {encoding:?} has no clock rate"));
    };
    if !is_token(name) {
        return Err(format!("encoding name {name:?} is not a token"));
    }
    let clock_rate: u32 = number(clock, "clock rate")?;
    if clock_rate == 0 {
        return Err("clock rate 0".into());
    }
    let params = match parts.next() {
        Some(p) if !is_token(p) => return Err(format!("encoding parameters {p:?}")),
        p => p.map(str::to_string),
    };
    Ok(RtpMap {
        payload_type: payload_type(pt)?,
        encoding: name.to_string(),
        clock_rate,
        params,
    })
}

fn fmtp(value: &str) -> Result<Fmtp, String> {
    let (pt, params) = value
        .split_once([' ', '\t'])
        .ok_or("fmtp needs <payload type> <parameters>")?;
    let params = params.trim_start();
    if params.is_empty() {
        return Err("fmtp needs <payload type> <parameters>".into());
    }
    Ok(Fmtp {
        payload_type: payload_type(pt)?,
        params: params.to_string(),
    })
}

fn rtcp(value: &str) -> Result<Rtcp, String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let (port, connection) = match f.as_slice() {
        [port] => (port, None),
        [port, net, ty, addr] => (port, Some(connection_fields(net, ty, addr)?)),
        _ => return Err("rtcp needs <port> [IN <addrtype> <address>]".into()),
    };
    Ok(Rtcp {
        port: number(port, "RTCP port")?,
        connection,
    })
}

/// `a=<name>[:<value>]`, split and checked.
fn attribute(value: &str) -> Result<(&str, Option<&str>), String> {
    let value = value.trim_end();
    let (name, v) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if !is_token(name) {
        return Err(format!("attribute name {name:?} is not a token"));
    }
    Ok((name, v))
}

fn set_direction(
    slot: &mut Option<Direction>,
    d: Direction,
    v: Option<&str>,
) -> Result<(), String> {
    if v.is_some() {
        return Err(format!("{d} takes no value"));
    }
    if let Some(old) = slot {
        return Err(format!("{d} after {old}: more than one direction"));
    }
    *slot = Some(d);
    Ok(())
}

fn media_attribute(m: &mut MediaDescription, value: &str) -> Result<(), String> {
    let (name, v) = attribute(value)?;
    if let Some(d) = Direction::from_attribute(name) {
        return set_direction(&mut m.direction, d, v);
    }
    let needs = || v.ok_or_else(|| format!("{name} needs a value"));
    match name {
        "rtpmap" if m.proto.is_rtp() => {
            let map = rtpmap(needs()?)?;
            if m.rtpmap(map.payload_type).is_some() {
                return Err(format!(
                    "second rtpmap for payload type {}",
                    map.payload_type
                ));
            }
            m.rtpmaps.push(map);
        }
        "fmtp" if m.proto.is_rtp() => {
            let f = fmtp(needs()?)?;
            if m.fmtp(f.payload_type).is_some() {
                return Err(format!("second fmtp for payload type {}", f.payload_type));
            }
            m.fmtps.push(f);
        }
        "ptime" | "maxptime" => {
            let ms: u32 = number(needs()?, name)?;
            let slot = if name == "ptime" {
                &mut m.ptime
            } else {
                &mut m.maxptime
            };
            if slot.replace(ms).is_some() {
                return Err(format!("second {name}"));
            }
        }
        "rtcp" => {
            if m.rtcp.replace(rtcp(needs()?)?).is_some() {
                return Err("second rtcp".into());
            }
        }
        _ => m.attributes.push(Attribute::new(name, v)),
    }
    Ok(())
}

fn session_attribute(s: &mut SessionDescription, value: &str) -> Result<(), String> {
    let (name, v) = attribute(value)?;
    match Direction::from_attribute(name) {
        Some(d) => set_direction(&mut s.direction, d, v),
        None => {
            s.attributes.push(Attribute::new(name, v));
            Ok(())
        }
    }
}

/// Position of a line type in RFC 4566 §5 order.
fn line_rank(kind: char) -> usize {
    "iuepcbtrzka".find(kind).unwrap_or(usize::MAX)
}

fn expect<'a>(
    lines: &mut impl Iterator<Item = Line<'a>>,
    kind: char,
    previous: usize,
) -> Result<Line<'a>, ParseError> {
    match lines.next() {
        Some(l) if l.kind == kind => Ok(l),
        Some(l) => Err(l.error(format!("expected {kind}= here"))),
        None => Err(ParseError::new(
            previous + 1,
            b"",
            format!("ends before the {kind}= line"),
        )),
    }
}

/// Parses a description (the body of a SIP message).
pub fn parse(input: &[u8]) -> Result<SessionDescription, ParseError> {
    let lines = lines(input)?;
    let count = lines.len();
    let mut it = lines.into_iter();

    let v = expect(&mut it, 'v', 0)?;
    if v.value != "0" {
        return Err(v.error("only SDP version 0 exists"));
    }
    let o = expect(&mut it, 'o', 1)?;
    let origin = origin(o.value).map_err(|r| o.error(r))?;
    let s = expect(&mut it, 's', 2)?;

    let mut sdp = SessionDescription {
        origin,
        session_name: s.value.to_string(),
        connection: None,
        times: Vec::new(),
        direction: None,
        attributes: Vec::new(),
        other_lines: Vec::new(),
        media: Vec::new(),
    };
    // Line of each m=, to point at the stream an error is about.
    let mut media_lines = Vec::new();

    for line in it {
        let fail = |r: String| line.error(r);
        let other = || OtherLine {
            kind: line.kind,
            value: line.value.to_string(),
        };
        match (line.kind, sdp.media.last_mut()) {
            ('m', _) => {
                if sdp.times.is_empty() {
                    return Err(line.error("no t= line before the first m= line"));
                }
                sdp.media.push(media(line.value).map_err(fail)?);
                media_lines.push(line.number);
            }
            ('c', None) => {
                let c = connection(line.value).map_err(fail)?;
                if sdp.connection.replace(c).is_some() {
                    return Err(line.error("second session-level c= line"));
                }
            }
            ('c', Some(m)) => {
                let c = connection(line.value).map_err(fail)?;
                if m.connection.replace(c).is_some() {
                    return Err(line.error("second c= line in this m= section"));
                }
            }
            ('t', None) => sdp.times.push(time(line.value).map_err(fail)?),
            ('a', None) => session_attribute(&mut sdp, line.value).map_err(fail)?,
            ('a', Some(m)) => media_attribute(m, line.value).map_err(fail)?,
            ('b', None) => {
                bandwidth(line.value).map_err(fail)?;
                sdp.other_lines.push(other());
            }
            ('b', Some(m)) => {
                bandwidth(line.value).map_err(fail)?;
                m.other_lines.push(other());
            }
            ('i' | 'u' | 'e' | 'p' | 'r' | 'z' | 'k', None) => sdp.other_lines.push(other()),
            ('i' | 'k', Some(m)) => m.other_lines.push(other()),
            ('v' | 'o' | 's', _) => {
                return Err(line.error(format!("{}= may only appear once, at the top", line.kind)));
            }
            ('t' | 'u' | 'e' | 'p' | 'r' | 'z', Some(_)) => {
                return Err(line.error(format!("{}= belongs before the first m= line", line.kind)));
            }
            (k, _) => return Err(line.error(format!("unknown line type {k:?}"))),
        }
    }

    if sdp.times.is_empty() {
        return Err(ParseError::new(count, b"", "no t= line"));
    }
    for (m, line) in sdp.media.iter().zip(&media_lines) {
        if m.port != 0 && m.connection.is_none() && sdp.connection.is_none() {
            let text = format!("m={} {} {}", m.media, m.port, m.proto);
            return Err(ParseError::new(
                *line,
                text.as_bytes(),
                "no c= line for this stream nor at session level",
            ));
        }
    }
    // Kept lines in the order they are written back (RFC 4566 §5), so that
    // reading what we wrote gives the same description.
    sdp.other_lines.sort_by_key(|l| line_rank(l.kind));
    for m in &mut sdp.media {
        m.other_lines.sort_by_key(|l| line_rank(l.kind));
    }
    Ok(sdp)
}

impl FromStr for SessionDescription {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s.as_bytes())
    }
}

impl SessionDescription {
    /// Parses a description; see the [module docs](crate::parse) for what is
    /// refused.
    pub fn parse(input: &[u8]) -> Result<SessionDescription, ParseError> {
        parse(input)
    }
}
