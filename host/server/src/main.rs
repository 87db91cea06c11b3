//! The `switchyard` command: `serve` runs the PBX; the other subcommands
//! are a thin client of the HTTP API for operators and tenant admins.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use switchyard_server::{Config, start};

/// mimalloc instead of glibc's malloc: see the workspace manifest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A multi-tenant programmable PBX: SIP and RTP in the host, every call decision in a tenant's WebAssembly plugin.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the PBX: SIP (UDP, TCP, TLS, WebSocket), the HTTP API, the
    /// store, the demo tenant.
    Serve(Box<ServeArgs>),
    /// Tenants (operator token).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Extensions of a tenant.
    #[command(subcommand)]
    Extension(ExtensionCmd),
    /// Plugins of a tenant: push a component, activate a version, roll back.
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Call records of a tenant.
    #[command(subcommand)]
    Cdr(CdrCmd),
    /// The operator's plans (features, limits, prices) and who is on them.
    #[command(subcommand)]
    Plan(PlanCmd),
    /// A tenant's account: prepaid or postpaid, balance, top-ups, usage.
    #[command(subcommand)]
    Account(AccountCmd),
}

#[derive(Args, Default)]
struct ServeArgs {
    /// A TOML file with any of: data-dir, sip-listen, http-listen,
    /// metrics-listen, sip-tls-listen, https-listen, tls-cert, tls-key,
    /// rtp-ports, public-ip, allow-private-trunks, tcp-max-connections,
    /// tcp-max-connections-per-ip, tcp-message-timeout, tcp-idle-timeout,
    /// digest-algorithms, smtp-url, mail-from, mail-per-tenant-per-hour.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the store, prompts, recordings and tokens live.
    #[arg(long, env = "SWITCHYARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SIP address, UDP and TCP [default: 0.0.0.0:5060].
    #[arg(long, env = "SWITCHYARD_SIP_LISTEN")]
    sip_listen: Option<SocketAddr>,
    /// HTTP API address [default: 0.0.0.0:8080].
    #[arg(long, env = "SWITCHYARD_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// Also serve /metrics here without authentication [default: none:
    /// /metrics only on the HTTP API address, for the operator token].
    #[arg(long, env = "SWITCHYARD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// SIP over TLS address, or `off` [default: 0.0.0.0:5061].
    #[arg(long, env = "SWITCHYARD_SIP_TLS_LISTEN")]
    sip_tls_listen: Option<String>,
    /// HTTPS address (API, browser phone, SIP over wss://…/ws), or `off`
    /// [default: 0.0.0.0:8443].
    #[arg(long, env = "SWITCHYARD_HTTPS_LISTEN")]
    https_listen: Option<String>,
    /// Certificate chain (PEM) for TLS and HTTPS [default: a self-signed
    /// one for development, made in <data dir>/tls/ at first start].
    #[arg(long, env = "SWITCHYARD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SWITCHYARD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// RTP port range LOW-HIGH for media anchoring.
    #[arg(long, env = "SWITCHYARD_RTP_PORTS")]
    rtp_ports: Option<String>,
    /// The address phones and browsers reach this host at, when it is
    /// behind 1:1 NAT (a cloud VM's public address): put in Via, Contact,
    /// SDP and ICE candidates [default: the SIP address, or the default
    /// route's interface when listening on 0.0.0.0].
    #[arg(long, env = "SWITCHYARD_PUBLIC_IP")]
    public_ip: Option<std::net::IpAddr>,
    /// TCP SIP connections in all [default: 2048, lowered to what the
    /// descriptor limit holds beside the RTP ports and the API]. Beyond
    /// it, new connections are closed at once.
    #[arg(long, env = "SWITCHYARD_TCP_MAX_CONNECTIONS")]
    tcp_max_connections: Option<usize>,
    /// TCP SIP connections from one source address (IPv6: one /64)
    /// [default: 64]. Beyond it, new connections are closed at once.
    #[arg(long, env = "SWITCHYARD_TCP_MAX_CONNECTIONS_PER_IP")]
    tcp_max_connections_per_ip: Option<usize>,
    /// Seconds a TCP peer has from the first byte of a message to its last
    /// [default: 20].
    #[arg(long, env = "SWITCHYARD_TCP_MESSAGE_TIMEOUT")]
    tcp_message_timeout: Option<u64>,
    /// Seconds a TCP connection may carry nothing before it is closed,
    /// unless a registration made over it still lives [default: 300].
    #[arg(long, env = "SWITCHYARD_TCP_IDLE_TIMEOUT")]
    tcp_idle_timeout: Option<u64>,
    /// Digest challenges offered in every 401/407, in this order:
    /// comma-separated `md5`, `sha-256` [default: md5,sha-256]. `md5`
    /// alone for phones that give up on a SHA-256 challenge (baresip with
    /// Debian's libre).
    #[arg(long, env = "SWITCHYARD_DIGEST_ALGORITHMS")]
    digest_algorithms: Option<String>,
    /// Overload control: when requests wait longer than this many
    /// milliseconds to be handled, new INVITEs and REGISTERs are answered
    /// 503 with Retry-After until the host catches up; calls in progress
    /// go on [default: 200; 0: never refuse].
    #[arg(long, env = "SWITCHYARD_OVERLOAD_LAG_MS")]
    overload_lag_ms: Option<u64>,
    /// Plugins whose memory starts at this many MiB or more (Python,
    /// JavaScript) run in the pool whose slots keep their memory: faster
    /// decisions for about 1.7 ms of background CPU per Python decision
    /// [default: 4; 0: no such pool].
    #[arg(long, env = "SWITCHYARD_PLUGIN_LARGE_POOL_MIB")]
    plugin_large_pool_mib: Option<u64>,
    /// The operator's SMTP relay for voicemail to e-mail and missed-call
    /// alerts: `smtp://[user:password@]host[:587]` (STARTTLS),
    /// `smtps://…:465` (TLS), `smtp://host:25?tls=none` (a trusted
    /// network) [default: none: no e-mail]. Needs --mail-from.
    #[arg(long, env = "SWITCHYARD_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of the host's e-mail, e.g. `PBX <pbx@example.com>`.
    #[arg(long, env = "SWITCHYARD_MAIL_FROM")]
    mail_from: Option<String>,
    /// E-mail one tenant may send an hour [default: 600]; more is dropped
    /// and counted (switchyard_mails_total{outcome="rate-limited"}).
    #[arg(long, env = "SWITCHYARD_MAIL_PER_TENANT_PER_HOUR")]
    mail_per_tenant_per_hour: Option<u32>,
    /// At the first start, provision this tenant description (the format of
    /// examples/tenant-demo/tenant.json) instead of the demo tenant.
    #[arg(long)]
    provision: Option<PathBuf>,
    /// Let tenant API keys give trunks loopback, private, link-local or
    /// unspecified addresses (host or inbound); the operator token always
    /// may.
    #[arg(
        long,
        env = "SWITCHYARD_ALLOW_PRIVATE_TRUNKS",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    allow_private_trunks: bool,
    /// Let plugins' HTTP reach loopback and private addresses their tenant
    /// allowed (a CRM on the same host or network).
    #[arg(
        long,
        env = "SWITCHYARD_ALLOW_PRIVATE_PLUGIN_HTTP",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    allow_private_plugin_http: bool,
}

/// The `--config` file.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    sip_listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    sip_tls_listen: Option<String>,
    https_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    rtp_ports: Option<String>,
    public_ip: Option<std::net::IpAddr>,
    allow_private_trunks: Option<bool>,
    allow_private_plugin_http: Option<bool>,
    tcp_max_connections: Option<usize>,
    tcp_max_connections_per_ip: Option<usize>,
    tcp_message_timeout: Option<u64>,
    tcp_idle_timeout: Option<u64>,
    digest_algorithms: Option<NameList>,
    overload_lag_ms: Option<u64>,
    plugin_large_pool_mib: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    mail_per_tenant_per_hour: Option<u32>,
}

/// A list in the config file: `"md5,sha-256"` or `["md5", "sha-256"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NameList {
    Text(String),
    List(Vec<String>),
}

impl NameList {
    fn joined(self) -> String {
        match self {
            NameList::Text(t) => t,
            NameList::List(l) => l.join(","),
        }
    }
}

/// Where the API is and who is calling it.
#[derive(Args)]
struct ApiArgs {
    /// The server's HTTP address.
    #[arg(long, env = "SWITCHYARD_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An operator token or a tenant API key.
    #[arg(long, env = "SWITCHYARD_TOKEN")]
    token: String,
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant with its SIP domain.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// Slug, e.g. `acme`.
        id: String,
        /// SIP domain, e.g. `acme.example` (repeat for several).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum ExtensionCmd {
    /// Add an extension with its SIP password.
    Add {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        number: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Upload a component as the next version of a plugin.
    Push {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        name: String,
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Make a version the active one.
    Activate {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        name: String,
        version: u32,
    },
    /// Go back to the previous version.
    Rollback {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        name: String,
    },
    /// Keep (or stop keeping) a transcript of every call's flow decisions,
    /// which `replay` runs new versions against.
    Transcripts {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        /// `on` or `off` (off deletes those kept).
        state: OnOff,
        /// Calls kept, the oldest dropped first (1 to 5000).
        #[arg(long, default_value_t = 500)]
        max_calls: u32,
        /// Hours a call's transcript is kept (1 to 720).
        #[arg(long, default_value_t = 168)]
        max_age_hours: u32,
    },
    /// Run a version of a call-flow plugin through the last recorded calls
    /// and show every call where it would have done otherwise.
    Replay {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        name: String,
        version: u32,
        /// How many of the last calls (1 to 1000).
        #[arg(long, default_value_t = 100)]
        calls: usize,
        /// Print the API's JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum PlanCmd {
    /// List the plans, with the tenants on each.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Create or replace a plan from a JSON file: `description`,
    /// `features`, `limits`, `rates`, `inbound_without_balance`,
    /// `prepaid_grace_secs` (README: "The HTTP API").
    Put {
        #[command(flatten)]
        api: ApiArgs,
        name: String,
        file: PathBuf,
    },
    /// Put a tenant on a plan (`none`: take it off, keeping what the plan
    /// gave it as its own).
    Assign {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        plan: String,
    },
}

#[derive(Subcommand)]
enum AccountCmd {
    /// The balance, and whether the tenant is prepaid.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
    },
    /// Make the tenant prepaid (or postpaid with --postpaid).
    Set {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        #[arg(long)]
        postpaid: bool,
        /// Below this balance the low-balance notice goes out.
        #[arg(long, default_value = "0")]
        threshold: String,
        /// Where the notice is mailed.
        #[arg(long)]
        email: Option<String>,
    },
    /// Add money to the balance; the reference (an invoice, a payment id)
    /// makes the same top-up count once.
    TopUp {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        amount: String,
        #[arg(long)]
        reference: String,
    },
    /// This month's usage and charges, or `--csv` the ledger.
    Usage {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
enum CdrCmd {
    /// Print the tenant's call records as CSV.
    Export {
        #[command(flatten)]
        api: ApiArgs,
        tenant: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(Box::default())) {
        Command::Serve(args) => serve(*args),
        Command::Tenant(TenantCmd::Create {
            api,
            id,
            domains,
            name,
            time_zone,
        }) => {
            let body = serde_json::json!({
                "id": id, "name": name.unwrap_or_else(|| id.clone()),
                "domains": domains, "time_zone": time_zone,
            });
            print(call(&api, "POST", "/api/tenants", Body::Json(body))?)
        }
        Command::Tenant(TenantCmd::List { api }) => {
            print(call(&api, "GET", "/api/tenants", Body::None)?)
        }
        Command::Extension(ExtensionCmd::Add {
            api,
            tenant,
            number,
            password,
            name,
        }) => {
            let body = serde_json::json!({
                "number": number, "password": password, "display_name": name,
            });
            let path = format!("/api/tenants/{tenant}/extensions");
            print(call(&api, "POST", &path, Body::Json(body))?)
        }
        Command::Plugin(PluginCmd::Push {
            api,
            tenant,
            name,
            file,
        }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = format!("/api/tenants/{tenant}/plugins/{name}");
            print(call(&api, "POST", &path, Body::Wasm(bytes))?)
        }
        Command::Plugin(PluginCmd::Activate {
            api,
            tenant,
            name,
            version,
        }) => {
            let path = format!("/api/tenants/{tenant}/plugins/{name}/activate");
            let body = serde_json::json!({ "version": version });
            print(call(&api, "POST", &path, Body::Json(body))?)
        }
        Command::Plugin(PluginCmd::Rollback { api, tenant, name }) => {
            let path = format!("/api/tenants/{tenant}/plugins/{name}/rollback");
            print(call(&api, "POST", &path, Body::None)?)
        }
        Command::Plugin(PluginCmd::Transcripts {
            api,
            tenant,
            state,
            max_calls,
            max_age_hours,
        }) => {
            let path = format!("/api/tenants/{tenant}/transcripts/policy");
            let body = serde_json::json!({
                "enabled": matches!(state, OnOff::On),
                "max_calls": max_calls,
                "max_age_hours": max_age_hours,
            });
            print(call(&api, "PUT", &path, Body::Json(body))?)
        }
        Command::Plugin(PluginCmd::Replay {
            api,
            tenant,
            name,
            version,
            calls,
            json,
        }) => {
            let path = format!("/api/tenants/{tenant}/plugins/{name}/replay");
            let body = serde_json::json!({ "version": version, "calls": calls });
            let text = call(&api, "POST", &path, Body::Json(body))?;
            if json {
                return print(text);
            }
            let report: switchyard_plugins::transcript::ReplayReport =
                serde_json::from_str(&text).context("reading the replay report")?;
            print(switchyard_server::replay_text::render(&report))
        }
        Command::Cdr(CdrCmd::Export { api, tenant }) => {
            let path = format!("/api/tenants/{tenant}/cdrs.csv");
            print(call(&api, "GET", &path, Body::None)?)
        }
        Command::Plan(PlanCmd::List { api }) => print(call(&api, "GET", "/api/plans", Body::None)?),
        Command::Plan(PlanCmd::Put { api, name, file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let body: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            print(call(
                &api,
                "PUT",
                &format!("/api/plans/{name}"),
                Body::Json(body),
            )?)
        }
        Command::Plan(PlanCmd::Assign { api, tenant, plan }) => {
            let plan = (plan != "none").then_some(plan);
            let body = serde_json::json!({ "plan": plan });
            print(call(
                &api,
                "PATCH",
                &format!("/api/tenants/{tenant}"),
                Body::Json(body),
            )?)
        }
        Command::Account(AccountCmd::Show { api, tenant }) => {
            let path = format!("/api/tenants/{tenant}/account");
            print(call(&api, "GET", &path, Body::None)?)
        }
        Command::Account(AccountCmd::Set {
            api,
            tenant,
            postpaid,
            threshold,
            email,
        }) => {
            let body = serde_json::json!({
                "prepaid": !postpaid, "low_balance_threshold": threshold, "notify_email": email,
            });
            let path = format!("/api/tenants/{tenant}/account");
            print(call(&api, "PUT", &path, Body::Json(body))?)
        }
        Command::Account(AccountCmd::TopUp {
            api,
            tenant,
            amount,
            reference,
        }) => {
            let body = serde_json::json!({ "amount": amount, "reference": reference });
            let path = format!("/api/tenants/{tenant}/account/top-ups");
            print(call(&api, "POST", &path, Body::Json(body))?)
        }
        Command::Account(AccountCmd::Usage { api, tenant, csv }) => {
            let path = format!(
                "/api/tenants/{tenant}/usage{}",
                if csv { ".csv" } else { "" }
            );
            print(call(&api, "GET", &path, Body::None)?)
        }
    }
}

/// `--plugin-large-pool-mib`: the line in bytes; 0 means no large pool.
fn large_pool_bytes(mib: u64) -> anyhow::Result<usize> {
    match mib {
        0 => Ok(usize::MAX),
        mib => usize::try_from(mib)
            .ok()
            .and_then(|m| m.checked_mul(1 << 20))
            .with_context(|| format!("--plugin-large-pool-mib {mib}: too large")),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let file: FileConfig = match &args.config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{}", p.display()))?,
        None => FileConfig::default(),
    };
    let mut cfg = Config::default();
    // Command line and environment win over the file.
    if let Some(d) = args.data_dir.or(file.data_dir) {
        cfg.data_dir = d;
    }
    if let Some(a) = args.sip_listen.or(file.sip_listen) {
        cfg.sip_listen = a;
    }
    if let Some(a) = args.http_listen.or(file.http_listen) {
        cfg.http_listen = a;
    }
    if let Some(a) = args.metrics_listen.or(file.metrics_listen) {
        cfg.metrics_listen = Some(a);
    }
    cfg.sip_tls_listen = listen_or_off(
        "--sip-tls-listen",
        args.sip_tls_listen.or(file.sip_tls_listen),
        "0.0.0.0:5061",
    )?;
    cfg.https_listen = listen_or_off(
        "--https-listen",
        args.https_listen.or(file.https_listen),
        "0.0.0.0:8443",
    )?;
    cfg.tls_cert = args.tls_cert.or(file.tls_cert);
    cfg.tls_key = args.tls_key.or(file.tls_key);
    if let Some(r) = args.rtp_ports.or(file.rtp_ports) {
        let (lo, hi) = r
            .split_once('-')
            .and_then(|(l, h)| Some((l.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
            .filter(|(l, h)| l < h)
            .with_context(|| format!("--rtp-ports {r:?}: expected LOW-HIGH, e.g. 10000-20000"))?;
        cfg.rtp_ports = (lo, hi);
    }
    cfg.public_ip = args.public_ip.or(file.public_ip);
    if let Some(ip) = cfg.public_ip
        && (ip.is_unspecified() || ip.is_multicast())
    {
        anyhow::bail!("--public-ip {ip}: give the address peers reach this host at");
    }
    cfg.allow_private_trunks =
        args.allow_private_trunks || file.allow_private_trunks.unwrap_or(false);
    cfg.allow_private_plugin_http =
        args.allow_private_plugin_http || file.allow_private_plugin_http.unwrap_or(false);
    if let Some(n) = args.tcp_max_connections.or(file.tcp_max_connections) {
        cfg.tcp.max_connections = n;
    }
    if let Some(n) = args
        .tcp_max_connections_per_ip
        .or(file.tcp_max_connections_per_ip)
    {
        cfg.tcp.max_connections_per_ip = n;
    }
    if let Some(s) = args.tcp_message_timeout.or(file.tcp_message_timeout) {
        if s == 0 {
            bail!("--tcp-message-timeout must be at least 1 second");
        }
        cfg.tcp.message_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(s) = args.tcp_idle_timeout.or(file.tcp_idle_timeout) {
        if s == 0 {
            bail!("--tcp-idle-timeout must be at least 1 second");
        }
        cfg.tcp.idle_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(list) = args
        .digest_algorithms
        .or(file.digest_algorithms.map(NameList::joined))
    {
        cfg.calls.digest_algorithms = switchyard_server::parse_digest_algorithms(&list)
            .context("--digest-algorithms (or digest-algorithms, SWITCHYARD_DIGEST_ALGORITHMS)")?;
    }
    if let Some(ms) = args.overload_lag_ms.or(file.overload_lag_ms) {
        let o = &mut cfg.calls.overload;
        o.enabled = ms > 0;
        o.high = std::time::Duration::from_millis(ms);
        // Calm is a fifth of behind: between them the budget holds.
        o.low = o.high / 5;
    }
    if let Some(mib) = args.plugin_large_pool_mib.or(file.plugin_large_pool_mib) {
        cfg.plugin_large_pool_bytes = large_pool_bytes(mib)?;
    }
    if let Some(url) = args.smtp_url.or(file.smtp_url) {
        let from = args
            .mail_from
            .or(file.mail_from)
            .context("--smtp-url needs --mail-from (the sender of the host's e-mail)")?;
        let mail = switchyard_calls::mail::MailSettings {
            url,
            from,
            per_tenant_per_hour: args
                .mail_per_tenant_per_hour
                .or(file.mail_per_tenant_per_hour)
                .unwrap_or(switchyard_calls::mail::MailSettings::DEFAULT_PER_TENANT_PER_HOUR),
        };
        mail.check()
            .map_err(anyhow::Error::msg)
            .context("--smtp-url / --mail-from")?;
        cfg.calls.mail = Some(mail);
    }
    if let Some(p) = &args.provision {
        cfg.tenant_json =
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?);
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let running = start(cfg.clone()).await?;
        println!("Switchyard is running.");
        println!(
            "  SIP:  {} (UDP), {} (TCP)",
            running.sip_udp, running.sip_tcp
        );
        if let Some(tls) = running.sip_tls {
            println!("  SIP over TLS: {tls}");
        }
        println!(
            "  HTTP: http://{}/api  (OpenAPI: /api/openapi.json, metrics: /metrics with the operator token)",
            running.http
        );
        println!("  SIP over WebSocket: ws://{}/ws", running.http);
        if let Some(https) = running.https {
            println!("  HTTPS: https://{https}/api, SIP over secure WebSocket: wss://{https}/ws");
        }
        if let Some(c) = running.certificate.as_ref().filter(|c| c.self_signed) {
            println!(
                "  TLS certificate: {} (self-signed for development; README: trusting it)",
                c.cert.display()
            );
        }
        if let Some(m) = running.metrics {
            println!("  metrics: http://{m}/metrics (no authentication)");
        }
        println!("  data: {}", cfg.data_dir.display());
        if let Some(f) = &running.operator_token_file {
            println!("  operator token: {}", f.display());
        }
        println!("  demo tenant: SIP domain demo.localhost");
        for (n, p) in &running.demo_credentials {
            println!("    extension {n}  password {p}");
        }
        println!(
            "  (passwords kept in {})",
            cfg.data_dir.join("demo-credentials.txt").display()
        );
        tokio::signal::ctrl_c().await?;
        running.store.flush()?;
        anyhow::Ok(())
    })
}

/// An address to listen on, `off`, or the default when not given.
fn listen_or_off(
    flag: &str,
    given: Option<String>,
    default: &str,
) -> anyhow::Result<Option<SocketAddr>> {
    let text = given.unwrap_or_else(|| default.to_string());
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.trim()
        .parse()
        .map(Some)
        .with_context(|| format!("{flag} {text:?}: expected an address (0.0.0.0:5061) or off"))
}

enum Body {
    None,
    Json(serde_json::Value),
    Wasm(Vec<u8>),
}

/// One API call; the response body, or an error with the API's message.
fn call(api: &ApiArgs, method: &str, path: &str, body: Body) -> anyhow::Result<String> {
    let url = format!("{}{path}", api.url.trim_end_matches('/'));
    let auth = format!("Bearer {}", api.token);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        ("PUT", Body::Json(v)) => agent.put(&url).header("Authorization", &auth).send_json(&v),
        ("PATCH", Body::Json(v)) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .send_json(&v),
        (_, Body::Json(v)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(&v),
        (_, Body::Wasm(b)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/wasm")
            .send(&b[..]),
        (_, Body::None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .with_context(|| format!("{method} {url}"))?;
    let status = resp.status();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    if !status.is_success() {
        bail!("{method} {path}: {status}: {text}");
    }
    Ok(text)
}

fn print(text: String) -> anyhow::Result<()> {
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_takes_digest_algorithms_as_text_or_list() {
        for text in [
            r#"digest-algorithms = "md5""#,
            r#"digest-algorithms = ["md5"]"#,
        ] {
            let f: FileConfig = toml::from_str(text).expect(text);
            assert_eq!(
                f.digest_algorithms.map(NameList::joined).as_deref(),
                Some("md5")
            );
        }
        let f: FileConfig = toml::from_str(r#"digest-algorithms = ["MD5", "sha-256"]"#).unwrap();
        let list = f.digest_algorithms.unwrap().joined();
        assert_eq!(
            switchyard_server::parse_digest_algorithms(&list)
                .unwrap()
                .len(),
            2
        );
    }

    /// `switchyard serve <flags>` as the command line parses it.
    fn serve_args(flags: &[&str]) -> ServeArgs {
        let argv = ["switchyard", "serve"].iter().chain(flags);
        let cli = Cli::try_parse_from(argv).expect("the flags parse");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        *args
    }

    #[test]
    fn the_large_plugin_pool_is_sized_by_flag_and_zero_turns_it_off() {
        let args = serve_args(&["--plugin-large-pool-mib", "8"]);
        assert_eq!(args.plugin_large_pool_mib, Some(8));
        assert_eq!(large_pool_bytes(8).unwrap(), 8 << 20);
        assert_eq!(large_pool_bytes(0).unwrap(), usize::MAX);
        assert!(large_pool_bytes(u64::MAX).is_err());
        let f: FileConfig = toml::from_str("plugin-large-pool-mib = 0").unwrap();
        assert_eq!(f.plugin_large_pool_mib, Some(0));
        assert_eq!(
            Config::default().plugin_large_pool_bytes,
            switchyard_plugins::HostConfig::default().large_memory_bytes
        );
    }

    #[test]
    fn the_flag_and_the_environment_name_it() {
        let args = serve_args(&["--digest-algorithms", "md5"]);
        assert_eq!(args.digest_algorithms.as_deref(), Some("md5"));
        let arg = ServeArgs::augment_args(clap::Command::new("t"))
            .get_arguments()
            .find(|a| a.get_id() == "digest_algorithms")
            .and_then(|a| a.get_env().map(|e| e.to_os_string()));
        assert_eq!(
            arg.as_deref(),
            Some("SWITCHYARD_DIGEST_ALGORITHMS".as_ref())
        );
    }
}
