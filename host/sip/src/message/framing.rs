//! Cutting a byte stream (TCP, later WebSocket-less streams) into messages.
//!
//! RFC 3261 §18.3: on a stream, Content-Length decides where a message
//! ends. A message larger than the cap, or one whose length cannot be
//! known, ends the connection: nothing after it can be trusted.

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Keep-alive CRLFs (RFC 5626): consume this many bytes.
    KeepAlive(usize),
    /// A whole message of this many bytes.
    Message(usize),
    /// Not enough bytes yet.
    Incomplete,
    /// Over the size cap: close the connection.
    TooLarge,
    /// The length cannot be known (several or malformed Content-Length):
    /// close the connection.
    Invalid,
}

pub fn frame(buf: &[u8], max_len: usize) -> Frame {
    let crlfs = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if crlfs > 0 {
        return Frame::KeepAlive(crlfs);
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > max_len {
            Frame::TooLarge
        } else {
            Frame::Incomplete
        };
    };
    let head = &buf[..head_end];
    let mut length: Option<usize> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = trim(&line[colon + 1..]);
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (n, length) {
                (Some(n), None) => length = Some(n),
                _ => return Frame::Invalid,
            }
        }
    }
    // RFC 3261 makes Content-Length mandatory on streams; a message without
    // one is taken to have no body.
    let total = head_end + 4 + length.unwrap_or(0);
    if total > max_len {
        Frame::TooLarge
    } else if buf.len() >= total {
        Frame::Message(total)
    } else {
        Frame::Incomplete
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_by_content_length() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut two = one.to_vec();
        two.extend_from_slice(b"BYE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(frame(&two, 1000), Frame::Message(one.len()));
        assert_eq!(
            frame(&two[one.len()..], 1000),
            Frame::Message(two.len() - one.len())
        );
        assert_eq!(frame(&one[..one.len() - 1], 1000), Frame::Incomplete);
        assert_eq!(frame(&one[..10], 1000), Frame::Incomplete);
    }

    #[test]
    fn keepalives_caps_and_bad_lengths() {
        assert_eq!(frame(b"\r\n\r\nINV", 100), Frame::KeepAlive(4));
        assert_eq!(frame(&[b'x'; 200], 100), Frame::TooLarge);
        assert_eq!(
            frame(b"A b SIP/2.0\r\nl: 500\r\n\r\n", 100),
            Frame::TooLarge
        );
        assert_eq!(frame(b"A b SIP/2.0\r\nl: -1\r\n\r\n", 100), Frame::Invalid);
        assert_eq!(
            frame(b"A b SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx", 100),
            Frame::Invalid
        );
    }
}
