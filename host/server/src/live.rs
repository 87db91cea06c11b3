//! The running view of a tenant, built from the store: SIP domains,
//! extension credentials (HA1 only), numbers, ring groups, trunks, caps,
//! and a plugin runtime holding every stored version of every plugin with
//! the stored one active and the stored roles.
//!
//! Built at start and again whenever the API changes the tenant
//! ([`switchyard_api::ConfigChanged`]); calls in flight keep the view (and
//! the plugin versions) they started with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use switchyard_calls::trunk::{Registration, Trunk};
use switchyard_calls::{ExtensionAccount, Tenant};
use switchyard_plugins::directory::Extension as DirExtension;
use switchyard_plugins::{InMemoryDirectory, PluginHost, TenantLimits, TenantSettings};
use switchyard_sip::auth::StoredCredentials;
use switchyard_sip::endpoint::Transport;
use switchyard_store::{
    ExtensionRepo, NumberRepo, PluginRepo, RingGroupRepo, ScheduleRepo, Store, TenantRepo,
    TrunkRepo,
};

/// The roles document the API writes (`/plugin-roles`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Roles {
    flows: std::collections::BTreeMap<String, String>,
    crm: Option<String>,
    reporters: Vec<String>,
    strategies: std::collections::BTreeMap<String, String>,
}

/// Config key of a plugin version's HTTP allowlist (the API's reserved key).
const HTTP_ALLOWLIST_KEY: &str = "switchyard.http-allowlist";

/// Config key naming a stored schedule (time-based routing plugins).
pub const SCHEDULE_REF_KEY: &str = "schedule-ref";

/// A plugin's settings with the stored schedule's hours and holidays put
/// into its `schedule` JSON (what `business-hours` reads); the rest of
/// that JSON (where calls go when open or closed) stays the plugin's.
/// Because the merge happens at every rebuild of the tenant, changing a
/// schedule through the API changes the routing without a new version.
pub fn merge_schedule(
    config: &std::collections::BTreeMap<String, String>,
    schedule: &switchyard_store::Schedule,
) -> std::collections::BTreeMap<String, String> {
    let mut out = config.clone();
    let mut doc: serde_json::Value = config
        .get("schedule")
        .and_then(|s| serde_json::from_str(s).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    doc["open"] = serde_json::json!(schedule.open);
    doc["holidays"] = serde_json::Value::Array(
        schedule
            .holidays
            .iter()
            .map(|h| serde_json::json!({"date": h.date, "name": h.name, "yearly": h.yearly}))
            .collect(),
    );
    out.insert("schedule".into(), doc.to_string());
    out
}

/// Build tenant `id` from the store.
pub fn load_tenant(store: &Store, host: &PluginHost, id: &str) -> anyhow::Result<Tenant> {
    let t = store
        .get_tenant(id)?
        .with_context(|| format!("tenant {id} is not in the store"))?;
    let realm = t.domains.first().cloned().unwrap_or_else(|| t.id.clone());
    let directory = InMemoryDirectory::new();
    let mut extensions = HashMap::new();
    for e in store.list_extensions(id)? {
        directory.put_extension(DirExtension {
            number: e.number.clone(),
            display_name: e.display_name.clone(),
            registered: true,
            has_voicemail: e.voicemail,
        });
        extensions.insert(
            e.number.clone(),
            ExtensionAccount {
                credentials: StoredCredentials {
                    username: e.number.clone(),
                    realm: realm.clone(),
                    ha1_md5: e.ha1_md5,
                    ha1_sha256: e.ha1_sha256,
                },
                number: e.number,
                display_name: e.display_name,
            },
        );
    }
    let mut ring_groups = HashMap::new();
    for g in store.list_ring_groups(id)? {
        directory.put_ring_group(&g.name, g.members.clone());
        ring_groups.insert(g.name, g.members);
    }

    // Plugins: every stored version, the stored one active, the roles.
    let versions = store.all_versions(id)?;
    let mut allowlist: Vec<String> = Vec::new();
    for v in &versions {
        if let Some(hosts) = v.config.get(HTTP_ALLOWLIST_KEY) {
            for h in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                if !allowlist.iter().any(|a| a == h) {
                    allowlist.push(h.to_string());
                }
            }
        }
    }
    let limits = TenantLimits {
        cpu: Duration::from_millis(u64::from(t.limits.plugin_cpu_ms.max(1))),
        memory_bytes: (t.limits.plugin_memory_mib.max(1) as usize) << 20,
        http_allowlist: allowlist,
        ..TenantLimits::default()
    };
    let runtime = host.tenant(
        id,
        TenantSettings {
            limits,
            directory: Arc::new(directory),
            ..TenantSettings::default()
        },
    )?;
    for v in &versions {
        let bytes = store.plugin_bytes(&v.sha256)?;
        let mut config = v.config.clone();
        config.remove(HTTP_ALLOWLIST_KEY);
        if let Some(name) = config.get(SCHEDULE_REF_KEY).cloned() {
            match store.get_schedule(id, &name)? {
                Some(sch) => config = merge_schedule(&config, &sch),
                None => {
                    tracing::warn!(tenant = %id, plugin = %v.name, schedule = %name, "schedule-ref names no schedule")
                }
            }
        }
        runtime
            .restore_version(&v.name, v.number, v.created_at_ms, &bytes, config)
            .map_err(|e| anyhow::anyhow!("plugin {} v{}: {e}", v.name, v.number))?;
    }
    let mut names: Vec<&str> = versions.iter().map(|v| v.name.as_str()).collect();
    names.dedup();
    for name in names {
        if let Some(n) = store.active(id, name)? {
            runtime
                .activate(name, n)
                .map_err(|e| anyhow::anyhow!("activating {name} v{n}: {e}"))?;
        }
    }
    let roles: Roles = store
        .roles(id)?
        .map(|j| serde_json::from_str(&j))
        .transpose()
        .context("stored plugin roles")?
        .unwrap_or_default();
    for (flow, plugin) in &roles.flows {
        if let Err(e) = runtime.set_flow(flow, plugin) {
            tracing::warn!(tenant = %id, %flow, %plugin, error = %e, "flow not set");
        }
    }
    if let Some(crm) = &roles.crm
        && let Err(e) = runtime.set_crm(crm)
    {
        tracing::warn!(tenant = %id, %crm, error = %e, "crm not set");
    }
    for r in &roles.reporters {
        if let Err(e) = runtime.add_reporter(r) {
            tracing::warn!(tenant = %id, reporter = %r, error = %e, "reporter not set");
        }
    }
    for (name, plugin) in &roles.strategies {
        if let Err(e) = runtime.set_strategy(name, plugin) {
            tracing::warn!(tenant = %id, strategy = %name, error = %e, "strategy not set");
        }
    }

    let numbers = store
        .list_numbers(id)?
        .into_iter()
        .map(|n| (n.number, n.flow))
        .collect();
    let trunks = store
        .list_trunks(id)?
        .into_iter()
        .map(|tr| {
            Arc::new(Trunk {
                name: tr.name,
                host: tr.host,
                transport: if tr.transport.eq_ignore_ascii_case("tcp") {
                    Transport::Tcp
                } else {
                    Transport::Udp
                },
                username: tr.username,
                password: tr.password,
                register: tr.register,
                register_expires: tr.register_expires,
                from_domain: tr.from_domain,
                max_concurrent_calls: tr.max_concurrent_calls,
                max_calls_per_second: tr.max_calls_per_second,
                caller_id: tr.caller_id,
                allow_caller_id_passthrough: tr.allow_caller_id_passthrough,
                inbound_addresses: tr.inbound_addresses,
                gate: Arc::default(),
                registration: Mutex::new(Registration::Idle),
                stopped: Default::default(),
            })
        })
        .collect();
    Ok(Tenant {
        id: t.id,
        domains: t.domains,
        time_zone: t.time_zone,
        extensions,
        numbers,
        default_flow: "extensions".into(),
        ring_groups,
        runtime,
        trunks,
        max_concurrent_calls: t.limits.max_concurrent_calls,
        max_calls_per_second: t.limits.max_calls_per_second,
        gate: Arc::default(),
        suspended: t.suspended,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchyard_store::{Holiday, Schedule};

    #[test]
    fn a_stored_schedule_replaces_the_hours_and_keeps_the_routing() {
        let config = BTreeMap::from([
            ("schedule-ref".to_string(), "office".to_string()),
            (
                "schedule".to_string(),
                r#"{"open": {"monday": ["00:00-01:00"]}, "open-go": {"flow": "ivr"}}"#.to_string(),
            ),
        ]);
        let sch = Schedule {
            tenant: "demo".into(),
            name: "office".into(),
            time_zone: None,
            open: BTreeMap::from([("friday".into(), vec!["09:00-17:00".into()])]),
            holidays: vec![Holiday {
                date: "2026-12-25".into(),
                name: "Christmas".into(),
                yearly: true,
            }],
        };
        let merged = super::merge_schedule(&config, &sch);
        let doc: serde_json::Value = serde_json::from_str(&merged["schedule"]).unwrap();
        assert_eq!(doc["open"], serde_json::json!({"friday": ["09:00-17:00"]}));
        assert_eq!(doc["open-go"], serde_json::json!({"flow": "ivr"}));
        assert_eq!(doc["holidays"][0]["date"], "2026-12-25");
        assert_eq!(merged["schedule-ref"], "office");
    }
}
