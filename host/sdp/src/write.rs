//! Writing a description: CRLF line ends and the RFC 4566 §5 line order
//! (`v o s i u e p c b t r z k a`, then per stream `m i c b k a`), which
//! strict phones check.
//!
//! Within a stream the typed attributes come first (`rtpmap`, `fmtp`,
//! `ptime`, `maxptime`, `rtcp`), then the others as read, then the
//! direction, so what the parser reads back is equal to what was written.

use std::fmt::{self, Write as _};

use crate::model::{AddressType, Connection, MediaDescription, OtherLine, SessionDescription};

fn line(f: &mut fmt::Formatter<'_>, kind: char, value: fmt::Arguments<'_>) -> fmt::Result {
    write!(f, "{kind}={value}\r\n")
}

fn others(f: &mut fmt::Formatter<'_>, lines: &[OtherLine], kind: char) -> fmt::Result {
    for l in lines.iter().filter(|l| l.kind == kind) {
        line(f, kind, format_args!("{}", l.value))?;
    }
    Ok(())
}

impl fmt::Display for Connection {
    /// `IN IP4 192.0.2.1`, the value of a `c=` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = AddressType::of(self.address).as_str();
        write!(f, "IN {ty} {}", self.address)?;
        if let Some(m) = &self.multicast {
            write!(f, "/{m}")?;
        }
        Ok(())
    }
}

fn attribute(f: &mut fmt::Formatter<'_>, name: &str, value: Option<&str>) -> fmt::Result {
    match value {
        Some(v) => line(f, 'a', format_args!("{name}:{v}")),
        None => line(f, 'a', format_args!("{name}")),
    }
}

fn media(f: &mut fmt::Formatter<'_>, m: &MediaDescription) -> fmt::Result {
    let mut port = m.port.to_string();
    if let Some(n) = m.port_count {
        let _ = write!(port, "/{n}");
    }
    line(
        f,
        'm',
        format_args!("{} {port} {} {}", m.media, m.proto, m.formats.join(" ")),
    )?;
    others(f, &m.other_lines, 'i')?;
    if let Some(c) = &m.connection {
        line(f, 'c', format_args!("{c}"))?;
    }
    others(f, &m.other_lines, 'b')?;
    others(f, &m.other_lines, 'k')?;
    for r in &m.rtpmaps {
        let (pt, enc, clock) = (r.payload_type, &r.encoding, r.clock_rate);
        match &r.params {
            Some(p) => line(f, 'a', format_args!("rtpmap:{pt} {enc}/{clock}/{p}"))?,
            None => line(f, 'a', format_args!("rtpmap:{pt} {enc}/{clock}"))?,
        }
    }
    for p in &m.fmtps {
        line(f, 'a', format_args!("fmtp:{} {}", p.payload_type, p.params))?;
    }
    if let Some(ms) = m.ptime {
        line(f, 'a', format_args!("ptime:{ms}"))?;
    }
    if let Some(ms) = m.maxptime {
        line(f, 'a', format_args!("maxptime:{ms}"))?;
    }
    if let Some(r) = &m.rtcp {
        match &r.connection {
            Some(c) => line(f, 'a', format_args!("rtcp:{} {c}", r.port))?,
            None => line(f, 'a', format_args!("rtcp:{}", r.port))?,
        }
    }
    for a in &m.attributes {
        attribute(f, &a.name, a.value.as_deref())?;
    }
    if let Some(d) = m.direction {
        attribute(f, d.as_str(), None)?;
    }
    Ok(())
}

impl fmt::Display for SessionDescription {
    /// The description as sent on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        line(f, 'v', format_args!("0"))?;
        line(
            f,
            'o',
            format_args!(
                "{} {} {} IN {} {}",
                o.username,
                o.session_id,
                o.session_version,
                o.address_type.as_str(),
                o.address
            ),
        )?;
        line(f, 's', format_args!("{}", self.session_name))?;
        for kind in ['i', 'u', 'e', 'p'] {
            others(f, &self.other_lines, kind)?;
        }
        if let Some(c) = &self.connection {
            line(f, 'c', format_args!("{c}"))?;
        }
        others(f, &self.other_lines, 'b')?;
        for (start, stop) in &self.times {
            line(f, 't', format_args!("{start} {stop}"))?;
        }
        for kind in ['r', 'z', 'k'] {
            others(f, &self.other_lines, kind)?;
        }
        for a in &self.attributes {
            attribute(f, &a.name, a.value.as_deref())?;
        }
        if let Some(d) = self.direction {
            attribute(f, d.as_str(), None)?;
        }
        for m in &self.media {
            media(f, m)?;
        }
        Ok(())
    }
}

impl SessionDescription {
    /// The description as a SIP message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}
