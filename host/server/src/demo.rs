//! The demo tenant (`examples/tenant-demo/tenant.json`) with the
//! first-party plugins embedded in the binary, and its extension
//! passwords: generated at first start, saved to
//! `<data dir>/demo-credentials.txt` (owner-only), reused afterwards.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;
use std::sync::Mutex;

use switchyard_calls::trunk::{Registration, Trunk};
use switchyard_calls::{ExtensionAccount, Tenant};
use switchyard_plugins::directory::Extension;
use switchyard_plugins::{InMemoryDirectory, PluginHost, TenantSettings};
use switchyard_sip::auth::StoredCredentials;
use switchyard_sip::endpoint::Transport;

/// `number:password` lines.
pub fn credentials(data_dir: &Path, numbers: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let path = data_dir.join("demo-credentials.txt");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let creds: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, p)| (n.trim().to_string(), p.trim().to_string()))
            .collect();
        if numbers.iter().all(|n| creds.iter().any(|(c, _)| c == n)) {
            return Ok(creds);
        }
    }
    let creds: Vec<(String, String)> = numbers
        .iter()
        .map(|n| (n.clone(), hex::encode(rand::random::<[u8; 8]>())))
        .collect();
    let text: String = creds.iter().map(|(n, p)| format!("{n}:{p}\n")).collect();
    write_private(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(creds)
}

/// Write a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

/// A trunk from its description: `{"name", "host": "carrier:5060",
/// "transport": "udp"|"tcp", "username", "password", "register",
/// "register-expires", "from-domain", "max-concurrent-calls",
/// "max-calls-per-second", "caller-id", "caller-id-passthrough",
/// "inbound-addresses": ["ip" or "ip:port"]}`.
fn trunk(t: &Value) -> anyhow::Result<Trunk> {
    let s = |k: &str| t[k].as_str().map(str::to_string);
    let n = |k: &str| t[k].as_u64().unwrap_or(0) as u32;
    Ok(Trunk {
        name: s("name").context("trunk: name")?,
        host: s("host").context("trunk: host")?,
        transport: if t["transport"].as_str() == Some("tcp") {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        username: s("username"),
        password: s("password"),
        register: t["register"].as_bool().unwrap_or(false),
        register_expires: t["register-expires"].as_u64().unwrap_or(600) as u32,
        from_domain: s("from-domain"),
        max_concurrent_calls: n("max-concurrent-calls"),
        max_calls_per_second: n("max-calls-per-second"),
        caller_id: s("caller-id"),
        allow_caller_id_passthrough: t["caller-id-passthrough"].as_bool().unwrap_or(false),
        inbound_addresses: strings(&t["inbound-addresses"]),
        gate: Arc::default(),
        registration: Mutex::new(Registration::Idle),
    })
}

/// Plugin settings are strings; a JSON object or array stands for its text.
fn plugin_settings(config: &Value) -> std::collections::BTreeMap<String, String> {
    config
        .as_object()
        .map(|cfg| {
            cfg.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Extension numbers of a tenant description.
pub fn extension_numbers(tenant_json: &str) -> anyhow::Result<Vec<String>> {
    let demo: Value = serde_json::from_str(tenant_json).context("tenant description")?;
    Ok(demo["extensions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["number"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Build a tenant from its description (the format of
/// `examples/tenant-demo/tenant.json`): directory, first-party plugins
/// installed with the settings it gives, flows, CRM, reporters; extensions
/// with `creds`.
pub fn tenant(
    host: &PluginHost,
    tenant_json: &str,
    creds: &[(String, String)],
) -> anyhow::Result<Tenant> {
    let demo: Value = serde_json::from_str(tenant_json).context("tenant description")?;
    let id = demo["id"].as_str().context("tenant.json: id")?.to_string();
    let domains = strings(&demo["sip-domains"]);
    let realm = domains.first().context("tenant.json: sip-domains")?.clone();
    let directory = InMemoryDirectory::new();
    let mut extensions = HashMap::new();
    for e in demo["extensions"]
        .as_array()
        .context("tenant.json: extensions")?
    {
        let number = e["number"]
            .as_str()
            .context("extension number")?
            .to_string();
        let name = e["name"].as_str().map(str::to_string);
        let Some((_, password)) = creds.iter().find(|(n, _)| *n == number) else {
            bail!("no password for extension {number}");
        };
        directory.put_extension(Extension {
            number: number.clone(),
            display_name: name.clone(),
            registered: true,
            has_voicemail: e["voicemail"].as_bool().unwrap_or(false),
        });
        extensions.insert(
            number.clone(),
            ExtensionAccount {
                credentials: StoredCredentials::from_password(&number, &realm, password),
                number,
                display_name: name,
            },
        );
    }
    let mut ring_groups = HashMap::new();
    if let Some(groups) = demo["ring-groups"].as_object() {
        for (name, members) in groups {
            directory.put_ring_group(name, strings(members));
            ring_groups.insert(name.clone(), strings(members));
        }
    }
    let runtime = host.tenant(
        &id,
        TenantSettings {
            directory: Arc::new(directory),
            ..TenantSettings::default()
        },
    )?;
    if let Some(plugins) = demo["plugins"].as_object() {
        for name in plugins.keys() {
            let bytes = switchyard_artifacts::get(name)
                .with_context(|| format!("plugin {name} is not embedded"))?;
            runtime
                .install(
                    name,
                    bytes,
                    plugin_settings(&demo["plugins"][name]["config"]),
                )
                .map_err(|e| anyhow::anyhow!("installing {name}: {e}"))?;
        }
    }
    if let Some(flows) = demo["flows"].as_object() {
        for (flow, plugin) in flows {
            runtime
                .set_flow(flow, plugin.as_str().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("flow {flow}: {e}"))?;
        }
    }
    if let Some(crm) = demo["crm"].as_str() {
        runtime
            .set_crm(crm)
            .map_err(|e| anyhow::anyhow!("crm: {e}"))?;
    }
    for r in strings(&demo["reporters"]) {
        runtime
            .add_reporter(&r)
            .map_err(|e| anyhow::anyhow!("reporter {r}: {e}"))?;
    }
    let numbers = demo["numbers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut trunks = Vec::new();
    for t in demo["trunks"].as_array().into_iter().flatten() {
        trunks.push(Arc::new(trunk(t)?));
    }
    Ok(Tenant {
        trunks,
        max_concurrent_calls: demo["limits"]["max-concurrent-calls"].as_u64().unwrap_or(0) as u32,
        max_calls_per_second: demo["limits"]["max-calls-per-second"].as_u64().unwrap_or(0) as u32,
        gate: Arc::default(),
        id,
        domains,
        time_zone: demo["time-zone"].as_str().unwrap_or("UTC").to_string(),
        extensions,
        numbers,
        default_flow: "extensions".into(),
        ring_groups,
        runtime,
    })
}
