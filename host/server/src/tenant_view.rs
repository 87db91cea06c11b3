//! The running view of a tenant, built from the store: SIP domains,
//! extension credentials (HA1 only), numbers, ring groups, trunks, caps,
//! and a plugin runtime holding every stored version of every plugin with
//! the stored one active and the stored roles.
//!
//! Built at start and again whenever the API changes the tenant
//! ([`switchyard_api::ConfigChanged`]); calls in flight keep the view (and
//! the plugin versions) they started with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use switchyard_calls::trunk::{Registration, Trunk};
use switchyard_calls::{ExtensionAccount, SrtpPolicy, Tenant};
use switchyard_plugins::directory::Extension as DirExtension;
use switchyard_plugins::{InMemoryDirectory, PluginHost, TenantLimits, TenantSettings};
use switchyard_sip::auth::StoredCredentials;
use switchyard_sip::endpoint::Transport;
use switchyard_store::{
    BASIC_FLOW, ConferenceRepo, ExtensionRepo, Feature, NumberRepo, PlanRepo, PluginRepo,
    RingGroupRepo, ScheduleRepo, Store, TenantQuota, TenantRepo, TranscriptPolicy, TranscriptRepo,
    TrunkRepo,
};

/// The plugin sandbox's limits for a tenant: the budget the operator
/// granted (the stored [`TenantQuota`]), the hosts its plugins may call,
/// and the host's defaults for everything else.
fn plugin_limits(quota: &TenantQuota, http_allowlist: Vec<String>) -> TenantLimits {
    TenantLimits {
        cpu: Duration::from_millis(u64::from(quota.plugin_cpu_ms.max(1))),
        memory_bytes: (quota.plugin_memory_mib.max(1) as usize) << 20,
        http_allowlist,
        ..TenantLimits::default()
    }
}

/// What the API does not write itself: a canary the host stopped for
/// failing is marked stopped in the store too (with why), so a restart or
/// a reload does not bring it back. (Versions, activations and roles reach the store through
/// the API, before the runtime hears of them.)
/// The recorder of a tenant that keeps transcripts: each flow decision is
/// appended to its call's transcript in the store, within the policy's
/// bounds. A step that cannot be stored is logged and the call goes on.
struct StoredTranscripts {
    store: Store,
    tenant: String,
    policy: TranscriptPolicy,
}

impl switchyard_plugins::transcript::TranscriptSink for StoredTranscripts {
    fn record(&self, plugin: &str, step: switchyard_plugins::transcript::Step) {
        let call = (step.call.call_id.clone(), step.call.start_time);
        let stored = serde_json::to_value(&step)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                self.store
                    .append_transcript_step(
                        &self.tenant,
                        &self.policy,
                        (&call.0, call.1),
                        plugin,
                        v,
                        switchyard_clock::unix_ms(),
                    )
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = stored {
            tracing::warn!(tenant = %self.tenant, %plugin, call = %call.0, error = %e,
                "a flow decision was not added to its transcript");
        }
    }
}

struct CanaryStops {
    store: Store,
}

impl switchyard_plugins::RegistryPersistence for CanaryStops {
    fn version_added(
        &self,
        _: &str,
        _: &switchyard_plugins::VersionInfo,
        _: &[u8],
        _: &BTreeMap<String, String>,
    ) {
    }
    fn activated(&self, _: &str, _: &str, _: u32) {}
    fn roles_changed(&self, _: &str, _: &switchyard_plugins::Roles) {}
    fn canary_stopped(&self, tenant: &str, plugin: &str, version: u32, reason: &str) {
        let Ok(Some(mut c)) = self.store.canary(tenant, plugin) else {
            return;
        };
        if c.version != version || c.stopped.is_some() {
            return;
        }
        c.stopped = Some(reason.to_string());
        if let Err(e) = self.store.set_canary(tenant, plugin, Some(&c)) {
            tracing::error!(%tenant, %plugin, version, %reason, error = %e,
                "the stopped canary is stored as running: it comes back at the next reload");
        }
    }
}

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

/// The setting a time-based plugin reads its hours from (business-hours).
pub const SCHEDULE_KEY: &str = "schedule";

/// A plugin's settings with the stored schedule's hours and holidays put
/// into its `schedule` JSON (what `business-hours` reads); the rest of
/// that JSON (where calls go when open or closed) stays the plugin's, and
/// the stored hours win over any the plugin's JSON has. Because the merge
/// happens at every rebuild of the tenant, changing a schedule through the
/// API changes the routing without a new plugin version.
///
/// A `schedule` setting that is not a JSON object is left as it is: the
/// plugin then reports what is wrong with it, instead of a missing
/// `open-go` in a document it never saw.
pub fn merge_schedule(
    config: &BTreeMap<String, String>,
    schedule: &switchyard_store::Schedule,
) -> BTreeMap<String, String> {
    let mut doc = match config.get(SCHEDULE_KEY) {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(doc)) => doc,
            _ => return config.clone(),
        },
    };
    doc.insert("open".into(), serde_json::json!(schedule.open));
    doc.insert(
        "holidays".into(),
        schedule
            .holidays
            .iter()
            .map(|h| serde_json::json!({"date": h.date, "name": h.name, "yearly": h.yearly}))
            .collect(),
    );
    let mut out = config.clone();
    out.insert(
        SCHEDULE_KEY.into(),
        serde_json::Value::Object(doc).to_string(),
    );
    out
}

/// `config` of plugin version `plugin` in tenant `t`, with the schedule
/// its `schedule-ref` names merged in ([`merge_schedule`]). Problems the
/// plugin would only show at call time are logged now.
fn with_schedule(
    store: &Store,
    t: &switchyard_store::Tenant,
    plugin: &str,
    config: BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(name) = config.get(SCHEDULE_REF_KEY) else {
        return Ok(config);
    };
    let Some(sch) = store.get_schedule(&t.id, name)? else {
        tracing::warn!(tenant = %t.id, %plugin, schedule = %name,
            "schedule-ref names no schedule; the plugin keeps its own hours");
        return Ok(config);
    };
    if let Some(tz) = &sch.time_zone
        && *tz != t.time_zone
    {
        // business-hours reads the hours in the call's zone, the tenant's.
        tracing::warn!(tenant = %t.id, %plugin, schedule = %name, schedule_zone = %tz,
            tenant_zone = %t.time_zone,
            "the schedule's time zone is not the tenant's; its hours are read in the tenant's zone");
    }
    let not_an_object = config.get(SCHEDULE_KEY).is_some_and(|text| {
        !matches!(serde_json::from_str(text), Ok(serde_json::Value::Object(_)))
    });
    if not_an_object {
        tracing::warn!(tenant = %t.id, %plugin, schedule = %name,
            "the plugin's `schedule` setting is not a JSON object; the stored schedule was not merged");
    }
    Ok(merge_schedule(&config, &sch))
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
                pickup_group: e.pickup_group,
                supervisor: e.supervisor,
                srtp: SrtpPolicy::parse(&e.srtp).unwrap_or_default(),
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
    // The plan's features and limits (or the tenant's own) decide what
    // is built: a role the plan leaves out is not given to its plugin, so
    // its calls go on without it (stored, for the day the plan has it).
    let entitled = store.entitlements(&t)?;
    let features = &entitled.features;
    let limits = plugin_limits(&entitled.limits, allowlist);
    let transcripts = Some(store.transcript_policy(id)?).filter(|p| p.enabled);
    let runtime = host.tenant(
        id,
        TenantSettings {
            limits,
            directory: Arc::new(directory),
            persistence: Arc::new(CanaryStops {
                store: store.clone(),
            }),
            transcripts: transcripts.map(|policy| {
                Arc::new(StoredTranscripts {
                    store: store.clone(),
                    tenant: id.to_string(),
                    policy,
                }) as Arc<dyn switchyard_plugins::transcript::TranscriptSink>
            }),
            ..TenantSettings::default()
        },
    )?;
    for v in &versions {
        let bytes = store.plugin_bytes(&v.sha256)?;
        let mut config = v.config.clone();
        config.remove(HTTP_ALLOWLIST_KEY);
        let config = with_schedule(store, &t, &v.name, config)?;
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
        if let Some(c) = store.canary(id, name)?
            && c.stopped.is_none()
        {
            let policy = switchyard_plugins::canary::CanaryPolicy {
                version: c.version,
                percent: c.percent,
                min_decisions: c.min_decisions,
                margin_pct: c.margin_pct,
            };
            if let Err(e) = runtime.set_canary(name, Some(policy)) {
                tracing::warn!(tenant = %id, plugin = %name, version = c.version, error = %e,
                    "canary not started");
            }
        }
    }
    let roles: Roles = store
        .roles(id)?
        .map(|j| serde_json::from_str(&j))
        .transpose()
        .context("stored plugin roles")?
        .unwrap_or_default();
    let left_out = |role: &str, feature: Feature| {
        tracing::warn!(tenant = %id, %role, feature = feature.name(), plan = ?entitled.plan,
            "not in the tenant's plan: the role's plugin is not used");
    };
    for (flow, plugin) in &roles.flows {
        if flow != BASIC_FLOW && !features.advanced_ivr {
            left_out(flow, Feature::AdvancedIvr);
            continue;
        }
        if let Err(e) = runtime.set_flow(flow, plugin) {
            tracing::warn!(tenant = %id, %flow, %plugin, error = %e, "flow not set");
        }
    }
    if let Some(crm) = &roles.crm {
        if !features.crm {
            left_out("crm", Feature::Crm);
        } else if let Err(e) = runtime.set_crm(crm) {
            tracing::warn!(tenant = %id, %crm, error = %e, "crm not set");
        }
    }
    for r in &roles.reporters {
        if !features.reporting {
            left_out(r, Feature::Reporting);
            continue;
        }
        if let Err(e) = runtime.add_reporter(r) {
            tracing::warn!(tenant = %id, reporter = %r, error = %e, "reporter not set");
        }
    }
    for (name, plugin) in &roles.strategies {
        if !features.queues {
            left_out(name, Feature::Queues);
            continue;
        }
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
                srtp: SrtpPolicy::parse(&tr.srtp).unwrap_or_default(),
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
        default_flow: BASIC_FLOW.into(),
        ring_groups,
        runtime,
        trunks,
        max_concurrent_calls: entitled.limits.max_concurrent_calls,
        max_calls_per_second: entitled.limits.max_calls_per_second,
        gate: Arc::default(),
        suspended: t.suspended,
        recording: features.recording.then_some(if features.recording_mono {
            switchyard_calls::RecordingChannels::Mono
        } else {
            switchyard_calls::RecordingChannels::Stereo
        }),
        recording_storage_cap: u64::from(entitled.limits.recording_storage_mib) << 20,
        billing: switchyard_calls::rating::TenantBilling {
            rates: Arc::new(entitled.rates.clone()),
            inbound_without_balance: entitled.inbound_without_balance,
            grace: Duration::from_secs(entitled.prepaid_grace_secs.into()),
        },
        contact_centre: if features.queues {
            crate::queue_view::contact_centre(store, id)?
        } else {
            crate::queue_view::without_queues(store, id)?
        },
        features: features.clone(),
        conferences: store
            .list_conferences(id)?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use switchyard_store::{Holiday, Schedule};

    use super::merge_schedule;

    fn office() -> Schedule {
        Schedule {
            tenant: "demo".into(),
            name: "office".into(),
            time_zone: None,
            open: BTreeMap::from([("friday".into(), vec!["09:00-17:00".into()])]),
            holidays: vec![Holiday {
                date: "2026-12-25".into(),
                name: "Christmas".into(),
                yearly: true,
            }],
        }
    }

    fn config(schedule: Option<&str>) -> BTreeMap<String, String> {
        let mut c = BTreeMap::from([
            ("schedule-ref".to_string(), "office".to_string()),
            ("other".to_string(), "kept".to_string()),
        ]);
        if let Some(s) = schedule {
            c.insert("schedule".into(), s.into());
        }
        c
    }

    fn doc(c: &BTreeMap<String, String>) -> Value {
        serde_json::from_str(&c["schedule"]).unwrap()
    }

    #[test]
    fn a_stored_schedule_replaces_the_hours_and_keeps_the_routing() {
        let plugin = r#"{"open": {"monday": ["00:00-01:00"]},
            "holidays": [{"date": "2026-01-01", "yearly": true}],
            "open-go": {"flow": "ivr"}, "closed-prompts": ["closed"],
            "closed-go": {"voicemail": "operators"}}"#;
        let merged = merge_schedule(&config(Some(plugin)), &office());
        assert_eq!(
            doc(&merged),
            json!({
                "open": {"friday": ["09:00-17:00"]},
                "holidays": [{"date": "2026-12-25", "name": "Christmas", "yearly": true}],
                "open-go": {"flow": "ivr"},
                "closed-prompts": ["closed"],
                "closed-go": {"voicemail": "operators"},
            })
        );
        assert_eq!(merged["schedule-ref"], "office");
        assert_eq!(merged["other"], "kept");
        assert_eq!(merged.len(), 3);
    }

    #[test]
    fn the_stored_schedule_wins_even_when_it_is_empty() {
        let mut closed = office();
        closed.open.clear();
        closed.holidays.clear();
        let plugin = r#"{"open": {"monday": ["09:00-17:00"]}, "holidays": [{"date": "2026-01-01"}], "open-go": "hangup"}"#;
        let merged = merge_schedule(&config(Some(plugin)), &closed);
        assert_eq!(
            doc(&merged),
            json!({"open": {}, "holidays": [], "open-go": "hangup"})
        );
    }

    #[test]
    fn without_a_schedule_setting_the_stored_hours_make_one() {
        let merged = merge_schedule(&config(None), &office());
        assert_eq!(
            doc(&merged),
            json!({
                "open": {"friday": ["09:00-17:00"]},
                "holidays": [{"date": "2026-12-25", "name": "Christmas", "yearly": true}],
            })
        );
    }

    #[test]
    fn a_schedule_setting_that_is_not_an_object_is_left_for_the_plugin_to_report() {
        for bad in ["{not json", "[1, 2]", "\"09:00-17:00\""] {
            let c = config(Some(bad));
            assert_eq!(merge_schedule(&c, &office()), c, "{bad}");
        }
    }
}
