//! The Switchyard server: opens the store, starts the plugin host and the
//! SIP stack, provisions the demo tenant, and serves calls.
//!
//! Where a SIP request becomes a plugin event: `switchyard-transport`
//! (socket → `EndpointCore`) → `switchyard_calls::Pbx::dispatch` →
//! `switchyard_calls::call` (INVITE → `flow.handle`).

pub mod adapters;
pub mod demo;
pub mod fds;
pub mod queue_view;
pub mod replay_text;
pub mod tenant_view;
pub mod tls;
pub mod websocket;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use axum::response::IntoResponse;
use switchyard_calls::{CallSettings, Pbx, Tenants};
use switchyard_plugins::{HostConfig, PluginHost};
use switchyard_sip::endpoint::Transport;
use switchyard_store::{Store, TenantRepo};
use switchyard_transport::{SipStack, StackConfig, TcpLimits};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// UDP and TCP.
    pub sip_listen: SocketAddr,
    /// The HTTP API (`/api/...`, `/api/openapi.json`, `/metrics` for the
    /// operator token).
    pub http_listen: SocketAddr,
    /// SIP over TLS (`None`: not served). `switchyard serve` listens on
    /// 5061 unless told otherwise.
    pub sip_tls_listen: Option<SocketAddr>,
    /// HTTPS: the API, the browser phone and SIP over secure WebSocket
    /// (`wss://…/ws`). `None`: not served; `serve` listens on 8443.
    pub https_listen: Option<SocketAddr>,
    /// The certificate chain and key (PEM) for TLS and HTTPS; when `None`,
    /// a self-signed one for development is made in `<data dir>/tls/`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Also serve `/metrics` here, without authentication, for a scraper
    /// on a network the operator trusts. `None` (the default): metrics
    /// only on the API port, behind the operator token, because they name
    /// every tenant and its traffic.
    pub metrics_listen: Option<SocketAddr>,
    /// RTP ports for media anchoring (LOW, HIGH).
    pub rtp_ports: (u16, u16),
    /// The address peers reach this host at when it is behind 1:1 NAT (a
    /// cloud VM's public address): named in our Via, Contact, SDP and
    /// browsers' ICE candidates, while sockets stay on the listening
    /// addresses. `None`: the listening address, or the default route's
    /// interface when listening on `0.0.0.0`.
    pub public_ip: Option<std::net::IpAddr>,
    /// The operator's API token; read from (or created in)
    /// `<data dir>/operator-token` when `None`.
    pub operator_token: Option<String>,
    pub calls: CallSettings,
    /// The tenant to provision (format of `examples/tenant-demo/tenant.json`);
    /// the demo tenant when `None`.
    pub tenant_json: Option<String>,
    /// Let tenant API keys point trunks at loopback, private, link-local
    /// or unspecified addresses (the operator token always may). Off by
    /// default: a trunk's inbound addresses skip authentication.
    pub allow_private_trunks: bool,
    /// Let plugins' HTTP (CRM connectors, reporters) reach loopback and
    /// private addresses their tenant allowed (a CRM on the same host or
    /// network). Off by default: a plugin must not reach the host's own
    /// services.
    pub allow_private_plugin_http: bool,
    /// Plugins whose linear memory starts at this many bytes or more run in
    /// the plugin pool whose slots keep their memory
    /// (`switchyard_plugins::HostConfig::large_memory_bytes`); `usize::MAX`:
    /// every plugin in the small pool.
    pub plugin_large_pool_bytes: usize,
    /// TCP SIP: whole-message and idle deadlines, connection caps in all
    /// and per source address. The total cap is lowered at start to what
    /// the descriptor limit holds beside the RTP ports and the API.
    pub tcp: TcpLimits,
    /// SIP T1/T2/T4 (RFC 3261 defaults). Calls take their Timer H (64·T1)
    /// from here, so the stack and the call engine agree on when an
    /// un-ACKed 2xx ends a call.
    pub sip_timers: switchyard_sip::timers::TimerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("switchyard-data"),
            sip_listen: "0.0.0.0:5060".parse().expect("address"),
            http_listen: "0.0.0.0:8080".parse().expect("address"),
            metrics_listen: None,
            sip_tls_listen: None,
            https_listen: None,
            tls_cert: None,
            tls_key: None,
            operator_token: None,
            rtp_ports: (10000, 20000),
            public_ip: None,
            calls: CallSettings::default(),
            tenant_json: None,
            allow_private_trunks: false,
            allow_private_plugin_http: false,
            plugin_large_pool_bytes: HostConfig::default().large_memory_bytes,
            tcp: TcpLimits::default(),
            sip_timers: Default::default(),
        }
    }
}

/// The names `--digest-algorithms` takes, in the form the README gives.
pub const DIGEST_ALGORITHM_NAMES: &str = "md5, sha-256";

/// A list of digest algorithms to offer (`md5,sha-256`, case and spaces
/// ignored), in the order given: MD5 or SHA-256, each once, at least one.
pub fn parse_digest_algorithms(
    list: &str,
) -> anyhow::Result<Vec<switchyard_sip::auth::DigestAlgorithm>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let alg = switchyard_sip::auth::DigestAlgorithm::from_param(Some(name))
            .filter(|_| !name.is_empty())
            .with_context(|| {
                format!(
                    "unknown digest algorithm {name:?} in {list:?}: valid values are {DIGEST_ALGORITHM_NAMES} (comma-separated)"
                )
            })?;
        if out.contains(&alg) {
            anyhow::bail!("digest algorithm {name:?} is listed twice in {list:?}");
        }
        out.push(alg);
    }
    Ok(out)
}

/// A started server.
pub struct Running {
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    /// SIP over TLS, when served.
    pub sip_tls: Option<SocketAddr>,
    pub http: SocketAddr,
    /// HTTPS and `wss://…/ws`, when served.
    pub https: Option<SocketAddr>,
    /// The certificate TLS and HTTPS present, when either is served.
    pub certificate: Option<tls::CertificateFiles>,
    /// Where `/metrics` is served without authentication, when configured.
    pub metrics: Option<SocketAddr>,
    pub operator_token: String,
    /// Where the operator token is kept (when it came from the data dir).
    pub operator_token_file: Option<PathBuf>,
    pub demo_credentials: Vec<(String, String)>,
    pub pbx: Pbx,
    pub store: Store,
    pub stack: SipStack,
}

/// The operator token kept in `path`, created (random, owner-only) at
/// first start.
fn operator_token(path: &std::path::Path) -> anyhow::Result<String> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token = format!("syop_{}", hex::encode(rand::random::<[u8; 24]>()));
    demo::write_private(path, &format!("{token}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// The address RTP sockets bind to: the SIP address when it is a
/// specific one, else the address of the interface the default route
/// uses (loopback without one).
fn media_ip(sip: std::net::IpAddr) -> std::net::IpAddr {
    if sip.is_unspecified() {
        switchyard_transport::default_route_ip()
    } else {
        sip
    }
}

/// The Prometheus exposition of the call engine's metrics.
fn metrics_response(pbx: &Pbx) -> axum::response::Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        pbx.metrics_text(),
    )
        .into_response()
}

/// Start everything; returns once the sockets are bound.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let store = Store::open(&cfg.data_dir).context("opening the store")?;
    // Plugin kv data and compiled components live beside the store, so a
    // restart keeps the plugins' counters and skips recompiling.
    let kv_db =
        sled::open(cfg.data_dir.join("plugin-kv")).context("opening the plugin kv store")?;
    // Reporter plugins mail through the engine's mailer, made below.
    let engine_for_mail = std::sync::Arc::new(std::sync::OnceLock::new());
    let plugin_mail = cfg.calls.mail.is_some().then(|| {
        std::sync::Arc::new(adapters::PluginMail {
            pbx: engine_for_mail.clone(),
        }) as std::sync::Arc<dyn switchyard_plugins::MailRelay>
    });
    let host = PluginHost::new(HostConfig {
        kv_db: Some(kv_db),
        mail: plugin_mail,
        cache_dir: Some(cfg.data_dir.join("compiled")),
        large_memory_bytes: cfg.plugin_large_pool_bytes,
        http: switchyard_plugins::HttpPolicyConfig {
            allow_private_addresses: cfg.allow_private_plugin_http,
            ..Default::default()
        },
        ..HostConfig::default()
    })
    .context("starting the plugin host")?;
    let tenant_json = cfg
        .tenant_json
        .clone()
        .unwrap_or_else(|| switchyard_artifacts::DEMO_TENANT.to_string());
    let numbers = demo::extension_numbers(&tenant_json)?;
    let first_start = store.list_tenants()?.is_empty();
    let creds = if first_start {
        let creds = demo::credentials(&cfg.data_dir, &numbers)?;
        demo::provision(&store, &host, &tenant_json, &creds)
            .context("provisioning the demo tenant")?;
        creds
    } else {
        demo::read_credentials(&cfg.data_dir)
    };
    let mut tenants = Tenants::default();
    for t in store.list_tenants()? {
        match tenant_view::load_tenant(&store, &host, &t.id) {
            Ok(live) => tenants.add(live),
            Err(e) => tracing::error!(tenant = %t.id, error = %e, "tenant not loaded"),
        }
    }
    let nofile = fds::raise_nofile_limit();
    let rtp = match &cfg.calls.media {
        Some(m) => (m.low_port, m.high_port),
        None => cfg.rtp_ports,
    };
    let (max_connections, warning) = fds::tcp_connection_cap(cfg.tcp.max_connections, nofile, rtp);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let tcp_limits = TcpLimits {
        max_connections,
        ..cfg.tcp
    };
    tracing::info!(
        nofile = ?nofile,
        max_connections,
        max_connections_per_ip = tcp_limits.max_connections_per_ip,
        message_timeout_s = tcp_limits.message_timeout.as_secs_f64(),
        idle_timeout_s = tcp_limits.idle_timeout.as_secs_f64(),
        "TCP SIP limits"
    );
    let certificate = if cfg.sip_tls_listen.is_some() || cfg.https_listen.is_some() {
        Some(tls::certificate_files(
            &cfg.data_dir,
            cfg.tls_cert.as_deref(),
            cfg.tls_key.as_deref(),
        )?)
    } else {
        None
    };
    let mut stack_cfg = StackConfig::on(cfg.sip_listen);
    stack_cfg.tcp_limits = tcp_limits;
    stack_cfg.advertised_ip = cfg.public_ip;
    if let (Some(addr), Some(files)) = (cfg.sip_tls_listen, &certificate) {
        let config = tls::server_config(files, &[])?;
        stack_cfg.tls = Some((addr, tokio_rustls::TlsAcceptor::from(config)));
    }
    stack_cfg.endpoint.timers = cfg.sip_timers;
    let (stack, incoming) = SipStack::bind(stack_cfg)
        .await
        .with_context(|| format!("binding SIP on {}", cfg.sip_listen))?;
    let mut calls = cfg.calls.clone();
    calls.ack_timeout = cfg.sip_timers.transaction_timeout();
    if calls.media.is_none() && cfg.rtp_ports.0 > 0 {
        calls.media = Some(switchyard_calls::MediaSettings {
            ip: media_ip(cfg.sip_listen.ip()),
            public_ip: cfg.public_ip,
            low_port: cfg.rtp_ports.0,
            high_port: cfg.rtp_ports.1,
            rtp_timeout: switchyard_calls::MediaSettings::DEFAULT_RTP_TIMEOUT,
        });
    }
    let pbx = Pbx::new(stack.clone(), store.clone(), tenants, calls, host.clone());
    let _ = engine_for_mail.set(pbx.downgrade());
    tokio::spawn(pbx.clone().run(incoming));
    pbx.start_trunks();
    pbx.start_queues();
    pbx.start_registration_expiry(std::time::Duration::from_secs(15));
    pbx.start_monthly_fees(std::time::Duration::from_secs(3600));
    pbx.start_credit_watch(std::time::Duration::from_secs(2));

    let (operator_token, operator_token_file) = match &cfg.operator_token {
        Some(t) => (t.clone(), None),
        None => {
            let path = cfg.data_dir.join("operator-token");
            (operator_token(&path)?, Some(path))
        }
    };
    let api = switchyard_api::app(switchyard_api::ApiState {
        store: store.clone(),
        plugins: host.clone(),
        operator_token: operator_token.clone(),
        live: std::sync::Arc::new(adapters::LiveAdapter { pbx: pbx.clone() }),
        changes: std::sync::Arc::new(adapters::Reloader {
            store: store.clone(),
            host: host.clone(),
            pbx: pbx.clone(),
        }),
        centre: std::sync::Arc::new(adapters::CentreAdapter { pbx: pbx.clone() }),
        allow_private_trunks: cfg.allow_private_trunks,
        widgets: Default::default(),
        sessions: Default::default(),
    });
    let metrics_pbx = pbx.clone();
    let metrics_token = operator_token.clone();
    let api = api.route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let pbx = metrics_pbx.clone();
            let allowed = switchyard_api::auth::is_operator(&headers, &metrics_token);
            async move {
                if !allowed {
                    return switchyard_api::ApiError::unauthorized(
                        "/metrics names every tenant: send Authorization: Bearer <operator token> \
                         (or serve it on --metrics-listen)",
                    )
                    .into_response();
                }
                metrics_response(&pbx)
            }
        }),
    );
    let metrics = match cfg.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding metrics on {addr}"))?;
            let bound = listener.local_addr()?;
            let pbx = pbx.clone();
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let pbx = pbx.clone();
                    async move { metrics_response(&pbx) }
                }),
            );
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            });
            Some(bound)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .with_context(|| format!("binding HTTP on {}", cfg.http_listen))?;
    let http = listener.local_addr()?;
    stack.serve_websocket(Transport::Ws, http);
    let https = match (cfg.https_listen, &certificate) {
        (Some(addr), Some(files)) => {
            let config = tls::server_config(files, &[b"http/1.1"])?;
            let listener = tls::HttpsListener::bind(addr, config)
                .await
                .with_context(|| format!("binding HTTPS on {addr}"))?;
            let bound = axum::serve::Listener::local_addr(&listener)?;
            stack.serve_websocket(Transport::Wss, bound);
            let app = tls::with_client_address(
                api.clone()
                    .merge(websocket::routes(stack.clone(), Transport::Wss))
                    // The console's session cookie is `Secure` here.
                    .layer(axum::Extension(switchyard_api::console::OverTls)),
            );
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "HTTPS server stopped");
                }
            });
            Some(bound)
        }
        _ => None,
    };
    let api = api.merge(websocket::routes(stack.clone(), Transport::Ws));
    tokio::spawn(async move {
        // With the peer's address: the public widget routes count requests
        // per visitor address, and SIP flows are named by it.
        let app = api.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Running {
        http,
        metrics,
        operator_token,
        operator_token_file,
        sip_udp: stack.local_addr(Transport::Udp),
        sip_tcp: stack.local_addr(Transport::Tcp),
        sip_tls: stack.served(Transport::Tls),
        https,
        certificate,
        demo_credentials: creds,
        pbx,
        store,
        stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sip::auth::DigestAlgorithm::{Md5, Sha256};

    #[test]
    fn digest_algorithm_lists_parse_in_order() {
        let p = |s: &str| parse_digest_algorithms(s).map_err(|e| format!("{e:#}"));
        assert_eq!(p("md5"), Ok(vec![Md5]));
        assert_eq!(p("MD5, SHA-256"), Ok(vec![Md5, Sha256]));
        assert_eq!(p("sha-256,md5"), Ok(vec![Sha256, Md5]));
        for bad in ["", "md5,", "sha256", "md5-sess", "md5 sha-256"] {
            let e = p(bad).unwrap_err();
            assert!(e.contains("valid values are md5, sha-256"), "{bad:?}: {e}");
        }
        assert!(p("md5,MD5").unwrap_err().contains("twice"));
        // The default offers both, MD5 first.
        assert_eq!(CallSettings::default().digest_algorithms, vec![Md5, Sha256]);
    }
}
