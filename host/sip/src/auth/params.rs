//! Reading `Digest` credentials and challenges off the wire (RFC 3261
//! §25.1 `credentials` / `challenge`, RFC 7235 `auth-param`).
//!
//! Written here instead of using the `digest_auth` crate, whose 0.3.1
//! parser slices a string at a character count used as a byte offset and
//! panics on one non-ASCII character (issue 11). This one walks bytes,
//! takes substrings only with `str::get` and never indexes, so no input can
//! make it panic; the fuzz targets in `fuzz/` hold it to that.

use std::fmt;

/// Why a header could not be read (becomes a 400's reason phrase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsError(pub &'static str);

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An auth scheme with its parameters, names lowercased, values unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    /// The value of parameter `name` (lowercase).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("digest")
    }
}

/// Longest header value read: a real one is a few hundred bytes.
const MAX_LEN: usize = 8 * 1024;
/// Most parameters: Digest defines eleven.
const MAX_PARAMS: usize = 32;

/// RFC 3261 `token` characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<&'a str, ParamsError> {
        let start = self.pos;
        while self.peek().is_some_and(is_token) {
            self.pos += 1;
        }
        match self.s.get(start..self.pos) {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(ParamsError("expected a token")),
        }
    }

    /// A `quoted-string` (the cursor is on its opening quote): UTF-8 text
    /// with `\` escaping the next character.
    fn quoted(&mut self) -> Result<String, ParamsError> {
        self.pos += 1;
        let rest = self.s.get(self.pos..).ok_or(ParamsError("bad quoting"))?;
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                // quoted-pair: `\` and one ASCII character other than CR, LF.
                '\\' => match chars.next() {
                    Some((_, e)) if e.is_ascii() && e != '\r' && e != '\n' => out.push(e),
                    Some(_) => return Err(ParamsError("bad escape in a quoted string")),
                    None => break,
                },
                c if c.is_control() && c != '\t' => {
                    return Err(ParamsError("control character in a quoted string"));
                }
                c => out.push(c),
            }
        }
        Err(ParamsError("unterminated quoted string"))
    }
}

/// Parse `scheme param=value, param="value", …`.
pub fn parse(value: &str) -> Result<AuthParams, ParamsError> {
    if value.len() > MAX_LEN {
        return Err(ParamsError("authentication header too long"));
    }
    let mut c = Cursor { s: value, pos: 0 };
    c.skip_lws();
    let scheme = c.token()?.to_string();
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        c.skip_lws();
        if c.peek().is_none() {
            break;
        }
        if !params.is_empty() {
            if c.peek() != Some(b',') {
                return Err(ParamsError("expected a comma between parameters"));
            }
            c.pos += 1;
            c.skip_lws();
        }
        let name = c.token()?.to_ascii_lowercase();
        c.skip_lws();
        if c.peek() != Some(b'=') {
            return Err(ParamsError("parameter without a value"));
        }
        c.pos += 1;
        c.skip_lws();
        let v = if c.peek() == Some(b'"') {
            c.quoted()?
        } else {
            c.token()?.to_string()
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(ParamsError("a parameter appears twice"));
        }
        if params.len() == MAX_PARAMS {
            return Err(ParamsError("too many parameters"));
        }
        params.push((name, v));
    }
    if params.is_empty() {
        return Err(ParamsError("no parameters"));
    }
    Ok(AuthParams { scheme, params })
}

/// `value` as a `quoted-string`, escaping `"` and `\`.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_and_token_values_in_any_case_and_spacing() {
        let p = parse(
            "Digest username=\"1001\",REALM=\"demo.localhost\" , nonce = \"a.b\",\r\n uri=\"sip:1002@demo.localhost\", response=\"00ff\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\\\"y\"",
        )
        .unwrap();
        assert!(p.is_digest());
        assert_eq!(p.get("username"), Some("1001"));
        assert_eq!(p.get("realm"), Some("demo.localhost"));
        assert_eq!(p.get("nonce"), Some("a.b"));
        assert_eq!(p.get("algorithm"), Some("MD5"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("cnonce"), Some("x\"y"));
    }

    #[test]
    fn non_ascii_is_an_error_or_text_never_a_panic() {
        // The header that panicked digest_auth 0.3.1 (issue 11).
        let probe = "Digest ab€=\"x\", username=\"1001\", realm=\"demo.localhost\", nonce=\"1.2\", uri=\"sip:1002@demo.localhost\", response=\"00\"";
        assert_eq!(parse(probe), Err(ParamsError("parameter without a value")));
        // Non-ASCII inside a quoted string is UTF-8 text (RFC 3261 qdtext).
        let p = parse("Digest username=\"Jürgen€\", realm=\"r\"").unwrap();
        assert_eq!(p.get("username"), Some("Jürgen€"));
        for junk in [
            "€",
            "Digest €",
            "Digest a=€",
            "Digest a=\"€",
            "Digest a=\"\\",
            "Digest a=\"\\€\"",
            "Digest a",
            "Digest a=",
            "Digest ,",
            "Digest a=b,",
            "Digest a=b c=d",
            "",
            "Digest a=\"\u{0}\"",
            "Digest a=b, a=c",
        ] {
            assert!(parse(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn oversized_headers_are_refused() {
        let long = format!("Digest a=\"{}\"", "x".repeat(MAX_LEN));
        assert!(parse(&long).is_err());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            parse(&format!("Digest {}", many.join(","))),
            Err(ParamsError("too many parameters"))
        );
    }

    #[test]
    fn quote_round_trips() {
        let v = "a\"b\\c€";
        let p = parse(&format!("Digest x={}", quote(v))).unwrap();
        assert_eq!(p.get("x"), Some(v));
    }
}
