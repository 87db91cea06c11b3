//! SIP URIs and name-addrs (the values of From, To, Contact, Route).
//!
//! Only what the endpoint needs: the scheme, the user part (raw and
//! percent-decoded), host, port, URI parameters and header parameters. The
//! parser refuses what RFC 4475 says must be refused: an unterminated
//! quoted string, non-token characters in an unquoted display name, spaces
//! inside `<…>`.

use std::fmt;

use super::parse::is_token_char;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError(pub &'static str);

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `sip:`, `sips:` or `tel:` URI, split into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// Lowercase scheme.
    pub scheme: String,
    /// User part as received (may hold escapes and `;` parameters).
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// `;name=value` URI parameters, in order.
    pub params: Vec<(String, Option<String>)>,
    /// `?…` headers, as received.
    pub headers: Option<String>,
}

impl SipUri {
    pub fn parse(s: &str) -> Result<SipUri, AddrError> {
        let s = s.trim();
        if s.chars().any(char::is_whitespace) {
            return Err(AddrError("whitespace inside a URI"));
        }
        let (scheme, rest) = s.split_once(':').ok_or(AddrError("URI without a scheme"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(AddrError("malformed URI scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "tel" {
            let (number, params) = split_params(rest);
            return Ok(SipUri {
                scheme,
                user: Some(number.to_string()),
                host: String::new(),
                port: None,
                params,
                headers: None,
            });
        }
        // The user part may itself hold `;`, `?` and `,` (RFC 4475 intmeth,
        // semiuri): it ends at the last `@`.
        let (user, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(rest[..i].to_string()), &rest[i + 1..]),
            None => (None, rest),
        };
        let (hostpart, headers) = match hostpart.split_once('?') {
            Some((h, q)) => (h, Some(q.to_string())),
            None => (hostpart, None),
        };
        let (hostport, params) = split_params(hostpart);
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(AddrError("URI without a host"));
        }
        Ok(SipUri {
            scheme,
            user: user.filter(|u| !u.is_empty()),
            host: host.to_ascii_lowercase(),
            port,
            params,
            headers,
        })
    }

    /// The user part with `%XX` escapes decoded and any `:password`
    /// removed. `;` parameters in the user part stay: RFC 4475 (semiuri)
    /// reads `sip:user;par=u%40example.net@example.com` as the user
    /// `user;par=u@example.net`.
    pub fn user_decoded(&self) -> Option<String> {
        let user = self.user.as_deref()?;
        let user = user.split(':').next().unwrap_or(user); // drop a password
        Some(percent_decode(user))
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// `host:port` with the port defaulted for the scheme.
    pub fn host_port(&self) -> String {
        let default = if self.scheme == "sips" { 5061 } else { 5060 };
        format!("{}:{}", self.host, self.port.unwrap_or(default))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if self.scheme == "tel" {
            write!(f, "{}", self.user.as_deref().unwrap_or(""))?;
        } else {
            if let Some(u) = &self.user {
                write!(f, "{u}@")?;
            }
            write!(f, "{}", self.host)?;
            if let Some(p) = self.port {
                write!(f, ":{p}")?;
            }
        }
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

fn split_params(s: &str) -> (&str, Vec<(String, Option<String>)>) {
    let mut parts = s.split(';');
    let head = parts.next().unwrap_or("");
    let params = parts
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p.to_string(), None),
        })
        .collect();
    (head, params)
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), AddrError> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or(AddrError("unclosed IPv6 reference"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| AddrError("malformed port"))?),
            None if after.is_empty() => None,
            None => return Err(AddrError("junk after an IPv6 reference")),
        };
        return Ok((format!("[{host}]"), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            Some(p.parse().map_err(|_| AddrError("malformed port"))?),
        )),
        None => Ok((s.to_string(), None)),
    }
}

/// Decode `%XX` escapes; invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A From / To / Contact / Route value: `"Name" <uri>;params` or
/// `uri;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes and escapes.
    pub display: Option<String>,
    /// The URI text (inside `<>` when it had them).
    pub uri: String,
    /// Header parameters, each `;name[=value]`, as received.
    pub params: String,
}

impl NameAddr {
    pub fn parse(value: &str) -> Result<NameAddr, AddrError> {
        let v = value.trim();
        let lt = find_unquoted(v, '<')?;
        match lt {
            Some(i) => {
                let display = parse_display(v[..i].trim())?;
                let rest = &v[i + 1..];
                let gt = rest.find('>').ok_or(AddrError("'<' without '>'"))?;
                let uri = &rest[..gt];
                if uri.is_empty() || uri.chars().any(char::is_whitespace) {
                    return Err(AddrError("whitespace inside <addr-spec>"));
                }
                let params = rest[gt + 1..].trim();
                check_params(params)?;
                Ok(NameAddr {
                    display,
                    uri: uri.to_string(),
                    params: params.to_string(),
                })
            }
            None => {
                // addr-spec form: parameters after the URI are header
                // parameters (RFC 3261 §20.10), and no spaces are allowed.
                let (uri, params) = match v.find(';') {
                    Some(i) => (v[..i].trim_end(), &v[i..]),
                    None => (v, ""),
                };
                if uri.is_empty() || uri.chars().any(char::is_whitespace) {
                    return Err(AddrError("malformed addr-spec"));
                }
                check_params(params)?;
                Ok(NameAddr {
                    display: None,
                    uri: uri.to_string(),
                    params: params.to_string(),
                })
            }
        }
    }

    pub fn sip_uri(&self) -> Result<SipUri, AddrError> {
        SipUri::parse(&self.uri)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .split(';')
            .skip(1)
            .find_map(|p| match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case(name) => Some(v.trim()),
                None if p.trim().eq_ignore_ascii_case(name) => Some(""),
                _ => None,
            })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "\"{}\" ", d.replace('\\', "\\\\").replace('"', "\\\""))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

fn check_params(params: &str) -> Result<(), AddrError> {
    if params.is_empty() {
        return Ok(());
    }
    if !params.starts_with(';') {
        return Err(AddrError("junk after the address"));
    }
    for p in params[1..].split(';') {
        let name = p.split('=').next().unwrap_or("").trim();
        if !name.chars().all(is_token_char) || name.is_empty() {
            return Err(AddrError("malformed header parameter"));
        }
    }
    Ok(())
}

/// Position of `c` outside quoted strings; an unterminated quote is an error.
fn find_unquoted(s: &str, c: char) -> Result<Option<usize>, AddrError> {
    let (mut quoted, mut escaped) = (false, false);
    let mut found = None;
    for (i, ch) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if ch == c && !quoted && found.is_none() => found = Some(i),
            _ => {}
        }
    }
    if quoted {
        return Err(AddrError("unterminated quoted string"));
    }
    Ok(found)
}

fn parse_display(s: &str) -> Result<Option<String>, AddrError> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(inner) = s.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or(AddrError("junk after a quoted display name"))?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return Ok(Some(out));
    }
    // Unquoted: tokens separated by whitespace.
    if s.split_whitespace().all(|w| w.chars().all(is_token_char)) {
        Ok(Some(s.split_whitespace().collect::<Vec<_>>().join(" ")))
    } else {
        Err(AddrError(
            "non-token characters in an unquoted display name",
        ))
    }
}

/// A header parameter (after the `<…>` or the addr-spec) such as `tag`.
pub fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => match value.find(';') {
            Some(i) => &value[i..],
            None => "",
        },
    };
    after
        .split(';')
        .skip(1)
        .find_map(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case(name) => Some(v.trim()),
            None if p.trim().eq_ignore_ascii_case(name) => Some(""),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_parts() {
        let u = SipUri::parse("sip:1001@Demo.Localhost:5070;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.user.as_deref(), Some("1001"));
        assert_eq!(u.host, "demo.localhost");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("tcp")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers.as_deref(), Some("subject=x"));
        assert_eq!(
            u.to_string(),
            "sip:1001@demo.localhost:5070;transport=tcp;lr?subject=x"
        );
        let v6 = SipUri::parse("sip:[::1]:5060").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", Some(5060)));
        let tel = SipUri::parse("tel:+15550100;phone-context=x").unwrap();
        assert_eq!(tel.user_decoded().as_deref(), Some("+15550100"));
    }

    #[test]
    fn escaped_user_parts_decode() {
        let u = SipUri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user_decoded().as_deref(), Some("sips:user@example.com"));
        let semi = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(semi.host, "example.com");
    }

    #[test]
    fn name_addrs_parse_and_refuse_what_rfc_4475_refuses() {
        let a = NameAddr::parse(r#""Joe \"the\" Caller" <sip:joe@x.org>;tag=1"#).unwrap();
        assert_eq!(a.display.as_deref(), Some(r#"Joe "the" Caller"#));
        assert_eq!(a.uri, "sip:joe@x.org");
        assert_eq!(a.param("tag"), Some("1"));
        let b = NameAddr::parse("sip:joe@x.org;tag=2").unwrap();
        assert_eq!(
            (b.uri.as_str(), b.param("tag")),
            ("sip:joe@x.org", Some("2"))
        );
        let c = NameAddr::parse("caller<sip:caller@example.com>;tag=3").unwrap();
        assert_eq!(c.display.as_deref(), Some("caller"));
        for bad in [
            r#""Unterminated <sip:a@b>"#,
            "Bell, Alexander <sip:a.g.bell@bell-tel.com>",
            "<sip:user@example.com; transport=udp>",
            "sip:user@ example.com",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_params_ignore_uri_params() {
        assert_eq!(header_param("<sip:a@b;tag=x>;tag=y", "tag"), Some("y"));
        assert_eq!(header_param("<sip:a@b;tag=x>", "tag"), None);
        assert_eq!(header_param("sip:a@b;tag=z", "tag"), Some("z"));
    }
}
