//! A small blocking HTTP client over `wasi:http`, for `crm-connector` and
//! `reporter` plugins (the host refuses HTTP in other worlds).
//!
//! The host decides where a plugin may connect (the tenant's allowlist, no
//! private addresses) and caps time and response size; a refusal comes back
//! as [`Error::Transport`] with the host's error code in the message.
//!
//! ```no_run
//! use switchyard_sdk::http;
//! # fn f() -> Result<(), http::Error> {
//! let resp = http::get("https://crm.example.com/api/contacts?phone=%2B15550100")
//!     .header("authorization", "Bearer t0ken")
//!     .send()?;
//! if resp.status == 200 {
//!     let v: serde_json::Value = resp.json()?;
//! #   let _ = v;
//! }
//! # Ok(()) }
//! ```

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The URL is not `http(s)://host[:port]/path`.
    InvalidUrl(String),
    /// The request could not be made or the response not read (refused by
    /// the host's policy, DNS, connection, timeout…).
    Transport(String),
    /// The response body is larger than the request's limit.
    TooLarge(usize),
    /// The body is not what the caller expected (e.g. invalid JSON).
    Body(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidUrl(u) => write!(f, "invalid URL {u:?}"),
            Error::Transport(e) => write!(f, "HTTP request failed: {e}"),
            Error::TooLarge(n) => write!(f, "HTTP response larger than {n} bytes"),
            Error::Body(e) => write!(f, "HTTP response body: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A response, body read in full.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Body(e.to_string()))
    }
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// A request being built; [`Request::send`] sends it.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    timeout_ms: u32,
    max_body_bytes: usize,
}

/// A GET request.
pub fn get(url: impl Into<String>) -> Request {
    Request::new(Method::Get, url)
}

/// A POST request.
pub fn post(url: impl Into<String>) -> Request {
    Request::new(Method::Post, url)
}

impl Request {
    /// A request with method `method`; 5 s timeout and 1 MiB body limit.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: 5_000,
            max_body_bytes: 1 << 20,
        }
    }
    /// Add a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }
    /// Send `value` as a JSON body.
    pub fn json<T: Serialize>(mut self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::Body(e.to_string()))?;
        self.body = Some(body);
        Ok(self.header("content-type", "application/json"))
    }
    /// Send raw bytes as the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
    /// Connect and first-byte timeout (the host may cap it lower).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }
    /// Refuse responses with a larger body.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Send the request and read the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let url = split_url(&self.url)?;
        let fields = Fields::new();
        for (k, v) in &self.headers {
            fields
                .append(k, v)
                .map_err(|e| Error::Transport(format!("header {k}: {e:?}")))?;
        }
        let req = OutgoingRequest::new(fields);
        let bad = |what: &str| Error::InvalidUrl(format!("{} ({what})", self.url));
        req.set_method(&self.method).map_err(|_| bad("method"))?;
        req.set_scheme(Some(&url.scheme))
            .map_err(|_| bad("scheme"))?;
        req.set_authority(Some(url.authority))
            .map_err(|_| bad("authority"))?;
        req.set_path_with_query(Some(url.path))
            .map_err(|_| bad("path"))?;
        let body = req
            .body()
            .map_err(|_| Error::Transport("request body taken twice".into()))?;

        let options = RequestOptions::new();
        let ns = u64::from(self.timeout_ms) * 1_000_000;
        // A host may refuse to set an option; its own caps apply anyway.
        let _ = options.set_connect_timeout(Some(ns));
        let _ = options.set_first_byte_timeout(Some(ns));
        let _ = options.set_between_bytes_timeout(Some(ns));
        let pending = outgoing_handler::handle(req, Some(options))
            .map_err(|e| Error::Transport(format!("{e:?}")))?;

        if let Some(bytes) = &self.body {
            let out = body
                .write()
                .map_err(|_| Error::Transport("request body stream taken twice".into()))?;
            for chunk in bytes.chunks(4096) {
                out.blocking_write_and_flush(chunk)
                    .map_err(|e| Error::Transport(format!("writing body: {e:?}")))?;
            }
            drop(out);
        }
        OutgoingBody::finish(body, None)
            .map_err(|e| Error::Transport(format!("finishing body: {e:?}")))?;

        let resp = loop {
            match pending.get() {
                Some(r) => break r,
                None => pending.subscribe().block(),
            }
        };
        let resp = resp
            .map_err(|_| Error::Transport("response taken twice".into()))?
            .map_err(|e| Error::Transport(format!("{e:?}")))?;
        let status = resp.status();
        let headers = resp.headers().entries();
        let incoming = resp
            .consume()
            .map_err(|_| Error::Transport("response body taken twice".into()))?;
        let stream = incoming
            .stream()
            .map_err(|_| Error::Transport("response stream taken twice".into()))?;
        let mut buf = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    buf.extend_from_slice(&chunk);
                    if buf.len() > self.max_body_bytes {
                        return Err(Error::TooLarge(self.max_body_bytes));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Error::Transport(format!(
                        "reading body: {}",
                        e.to_debug_string()
                    )));
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body: buf,
        })
    }
}

struct Url<'a> {
    scheme: Scheme,
    authority: &'a str,
    path: &'a str,
}

fn split_url(url: &str) -> Result<Url<'_>, Error> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return Err(Error::InvalidUrl(url.to_string()));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(_) => return Err(Error::InvalidUrl(url.to_string())),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(Error::InvalidUrl(url.to_string()));
    }
    Ok(Url {
        scheme,
        authority,
        path,
    })
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let u = split_url("http://127.0.0.1:8080/contacts?phone=1").unwrap();
        assert!(matches!(u.scheme, Scheme::Http));
        assert_eq!(u.authority, "127.0.0.1:8080");
        assert_eq!(u.path, "/contacts?phone=1");
        let u = split_url("https://crm.example.com").unwrap();
        assert_eq!(u.path, "/");
        assert!(split_url("ftp://x/").is_err());
        assert!(split_url("http:///path").is_err());
        assert!(split_url("http://host?x=1").is_err());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("+1 555/0100"), "%2B1%20555%2F0100");
        assert_eq!(encode_query_value("a-b_c.d~"), "a-b_c.d~");
    }
}
