//! Outbound HTTP (`wasi:http/outgoing-handler`) for crm-connector and
//! reporter plugins, through a policy hook on `wasmtime-wasi-http`.
//!
//! Every request passes, in order: the tenant's host allowlist (exact host
//! or `*.suffix`); DNS resolution on the host, then a refusal of private,
//! loopback, link-local, unspecified, multicast and other non-public
//! addresses (unless the operator allows them); timeouts capped by the
//! operator's maximums; and a cap on the response body size. Plain-HTTP
//! requests are sent to the address that was checked (the Host header keeps
//! the name), so a second DNS answer cannot redirect them to an internal
//! address; HTTPS keeps the name for TLS, and certificate validation ties
//! the peer to that name.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::limits::HttpPolicyConfig;

/// What one invocation's `wasi:http` imports reach: wasmtime-wasi-http's
/// context, and the policy every outgoing request passes.
pub(crate) struct HttpState {
    ctx: WasiHttpCtx,
    policy: HttpPolicy,
}

impl HttpState {
    /// `allowlist` is lower-case (see [`host_allowed`]).
    pub(crate) fn new(cfg: HttpPolicyConfig, allowlist: Arc<Vec<String>>) -> Self {
        Self {
            ctx: WasiHttpCtx::new(),
            policy: HttpPolicy { cfg, allowlist },
        }
    }

    /// A state that refuses every request (an empty allowlist).
    pub(crate) fn refusing() -> Self {
        Self::new(HttpPolicyConfig::default(), Arc::new(Vec::new()))
    }

    /// The view wasmtime-wasi-http's host functions work on; `table` is the
    /// store's resource table, shared with WASI.
    pub(crate) fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.policy,
        }
    }
}

/// Links `wasi:http/outgoing-handler` and `wasi:http/types`, served through
/// `T`'s [`WasiHttpView`] (which hands out an [`HttpState::view`]).
pub(crate) fn add_to_linker<T: WasiHttpView + 'static>(l: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)
}

/// The per-invocation HTTP hook.
struct HttpPolicy {
    cfg: HttpPolicyConfig,
    allowlist: Arc<Vec<String>>,
}

/// Whether `host` (lower-case, no brackets) matches the allowlist.
pub fn host_allowed(allowlist: &[String], host: &str) -> bool {
    allowlist.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => entry == host,
        }
    })
}

/// Whether `ip` is an address a plugin must not reach by default.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0) // NAT64 prefix base
        }
    }
}

fn is_non_public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240 // reserved
}

fn cap(asked: Option<Duration>, max: Duration) -> Option<Duration> {
    Some(asked.map_or(max, |a| a.min(max)))
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let cfg = self.cfg.clone();
        let allowlist = self.allowlist.clone();
        Box::new(async move {
            let uri = request.uri().clone();
            let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
            let host = uri
                .host()
                .ok_or(Error::HttpRequestUriInvalid)?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            if !host_allowed(&allowlist, &host) {
                tracing::warn!(
                    host,
                    "plugin HTTP request to a host outside the allowlist refused"
                );
                return Err(Error::HttpRequestDenied);
            }
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let addrs: Vec<SocketAddr> = tokio::time::timeout(
                cfg.connect_timeout,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            .map_err(|_| Error::DnsTimeout)?
            .map_err(|e| Error::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?
            .collect();
            let Some(first) = addrs.first().copied() else {
                return Err(Error::DestinationNotFound);
            };
            if !cfg.allow_private_addresses && addrs.iter().any(|a| is_non_public(a.ip())) {
                tracing::warn!(host, "plugin HTTP request to a non-public address refused");
                return Err(Error::DestinationIpProhibited);
            }
            if !https {
                let mut parts = uri.into_parts();
                parts.authority = Some(
                    first
                        .to_string()
                        .parse()
                        .map_err(|_| Error::HttpRequestUriInvalid)?,
                );
                *request.uri_mut() =
                    http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)?;
            }
            let options = RequestOptions {
                connect_timeout: cap(options.and_then(|o| o.connect_timeout), cfg.connect_timeout),
                first_byte_timeout: cap(
                    options.and_then(|o| o.first_byte_timeout),
                    cfg.first_byte_timeout,
                ),
                between_bytes_timeout: cap(
                    options.and_then(|o| o.between_bytes_timeout),
                    cfg.between_bytes_timeout,
                ),
            };
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let max = cfg.max_response_bytes;
            let response = response.map(move |body| {
                LimitedBody {
                    inner: body.boxed_unsync(),
                    remaining: max,
                    max,
                }
                .boxed_unsync()
            });
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            ))
        })
    }
}

/// A response body that fails once more than `max` bytes came through.
struct LimitedBody {
    inner: WasiBody,
    remaining: u64,
    max: u64,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > self.remaining {
                        self.remaining = 0;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(self.max)))));
                    }
                    self.remaining -= n;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_exact_and_suffix() {
        let list = vec!["api.crm.example".to_string(), "*.hooks.example".to_string()];
        assert!(host_allowed(&list, "api.crm.example"));
        assert!(!host_allowed(&list, "evil.api.crm.example"));
        assert!(host_allowed(&list, "a.hooks.example"));
        assert!(host_allowed(&list, "a.b.hooks.example"));
        assert!(!host_allowed(&list, "hooks.example"));
        assert!(!host_allowed(&list, "evilhooks.example"));
        assert!(!host_allowed(&[], "api.crm.example"));
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
