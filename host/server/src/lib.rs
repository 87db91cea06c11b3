//! The Switchyard server: opens the store, starts the plugin host and the
//! SIP stack, provisions the demo tenant, and serves calls.
//!
//! Where a SIP request becomes a plugin event: `switchyard-transport`
//! (socket → `EndpointCore`) → `switchyard_calls::Pbx::dispatch` →
//! `switchyard_calls::call` (INVITE → `flow.handle`).

pub mod demo;
pub mod live;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use switchyard_calls::{CallSettings, Pbx, Tenants};
use switchyard_plugins::{HostConfig, PluginHost};
use switchyard_sip::endpoint::{EndpointConfig, Transport};
use switchyard_store::{Store, TenantRepo};
use switchyard_transport::{SipStack, StackConfig};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// UDP and TCP.
    pub sip_listen: SocketAddr,
    pub calls: CallSettings,
    /// The tenant to provision (format of `examples/tenant-demo/tenant.json`);
    /// the demo tenant when `None`.
    pub tenant_json: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("switchyard-data"),
            sip_listen: "0.0.0.0:5060".parse().expect("address"),
            calls: CallSettings::default(),
            tenant_json: None,
        }
    }
}

/// A started server.
pub struct Running {
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub demo_credentials: Vec<(String, String)>,
    pub pbx: Pbx,
    pub store: Store,
    pub stack: SipStack,
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
    let host = PluginHost::new(HostConfig {
        kv_db: Some(kv_db),
        cache_dir: Some(cfg.data_dir.join("compiled")),
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
        match live::load_tenant(&store, &host, &t.id) {
            Ok(live) => tenants.add(live),
            Err(e) => tracing::error!(tenant = %t.id, error = %e, "tenant not loaded"),
        }
    }
    let (stack, incoming) = SipStack::bind(StackConfig {
        udp: cfg.sip_listen,
        tcp: cfg.sip_listen,
        endpoint: EndpointConfig::default(),
    })
    .await
    .with_context(|| format!("binding SIP on {}", cfg.sip_listen))?;
    let pbx = Pbx::new(stack.clone(), store.clone(), tenants, cfg.calls.clone());
    tokio::spawn(pbx.clone().run(incoming));
    pbx.start_trunks();
    Ok(Running {
        sip_udp: stack.local_addr(Transport::Udp),
        sip_tcp: stack.local_addr(Transport::Tcp),
        demo_credentials: creds,
        pbx,
        store,
        stack,
    })
}
