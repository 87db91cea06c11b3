//! First start: the demo tenant (`examples/tenant-demo/tenant.json`, or
//! any description in that format) written into the store, with the
//! first-party plugins embedded in the binary as its plugin versions, and
//! its extension passwords generated, saved to
//! `<data dir>/demo-credentials.txt` (owner-only) and reused afterwards.
//! After that the store is the truth: [`crate::tenant_view`] builds the running
//! tenant from it.
//!
//! Queues (`queues`, by name) take `strategy`, `members`, `timeout-secs`,
//! `ring-timeout-secs`, `wrap-up-secs`, `auto-pause-after`,
//! `service-level-secs`, `announce-every-secs`, `comfort-every-secs`,
//! `callback-key`, `callback-retry-secs`, `callback-max-attempts`,
//! `callback-on-abandon-secs`, `leave-key` and `extension` (the number a
//! blind transfer puts callers into the queue with); what is left out keeps the store's default. An agent's
//! `skills` (`agents`, by extension) are a list (each at level 5) or an
//! object of skill → level.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_clock::unix_ms;
use switchyard_plugins::PluginHost;
use switchyard_sip::auth::StoredCredentials;
use switchyard_store::{
    Agent, CallerRule, CallerRuleRepo, ConferenceRepo, ConferenceRoom, Extension, ExtensionRepo,
    Feature, Features, FileRecord, FileRepo, NoticeRepo, Number, NumberRepo, Plan, PlanRepo,
    PluginRepo, PluginVersionRecord, Queue, QueueRepo, RingGroup, RingGroupRepo, RingStrategy,
    Store, Tenant, TenantNotices, TenantQuota, TenantRepo, TranscriptPolicy, TranscriptRepo, Trunk,
    TrunkRepo, Widget, WidgetRepo,
};

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

/// The saved demo passwords, if any (printed at later starts).
pub fn read_credentials(data_dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(data_dir.join("demo-credentials.txt"))
        .map(|text| {
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, p)| (n.trim().to_string(), p.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
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

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// An agent's skills: a list (each at level 5) or an object of skill →
/// level.
fn skill_levels(v: &Value) -> Vec<(String, u8)> {
    match v.as_object() {
        Some(levels) => levels
            .iter()
            .map(|(s, l)| (s.clone(), l.as_u64().unwrap_or(5).min(u8::MAX.into()) as u8))
            .collect(),
        None => strings(v).into_iter().map(|s| (s, 5)).collect(),
    }
}

/// A whole number setting, or `default` when it is left out.
fn number_or(v: &Value, default: u32) -> u32 {
    v.as_u64()
        .map_or(default, |n| n.min(u32::MAX.into()) as u32)
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

/// A plan of the description's `plans`: `features` lists what it grants
/// (`recording`, `advanced-ivr`, `reporting`, `crm`, `queues`,
/// `conferences`, `browser-phones`), `limits` its caps (0 or absent: none,
/// except the plugin budget: 32 MiB, 50 ms).
fn plan(name: &str, p: &Value) -> anyhow::Result<Plan> {
    let mut features = Features::default();
    for f in strings(&p["features"]) {
        let known = Feature::ALL
            .into_iter()
            .find(|k| k.name().replace('_', "-") == f)
            .with_context(|| format!("plan {name}: no feature {f:?}"))?;
        match known {
            Feature::Recording => features.recording = true,
            Feature::AdvancedIvr => features.advanced_ivr = true,
            Feature::Reporting => features.reporting = true,
            Feature::Crm => features.crm = true,
            Feature::Queues => features.queues = true,
            Feature::Conferences => features.conferences = true,
            Feature::BrowserPhones => features.browser_phones = true,
        }
    }
    let l = &p["limits"];
    let cap = |k: &str, default: u64| l[k].as_u64().unwrap_or(default) as u32;
    Ok(Plan {
        name: name.to_string(),
        description: p["description"].as_str().unwrap_or_default().to_string(),
        features,
        limits: TenantQuota {
            max_concurrent_calls: cap("max-concurrent-calls", 0),
            max_calls_per_second: cap("max-calls-per-second", 0),
            plugin_memory_mib: cap("plugin-memory-mib", 32),
            plugin_cpu_ms: cap("plugin-cpu-ms", 50),
            max_extensions: cap("max-extensions", 0),
            max_numbers: cap("max-numbers", 0),
            recording_storage_mib: cap("recording-storage-mib", 0),
        },
        rates: Default::default(),
        inbound_without_balance: true,
        prepaid_grace_secs: switchyard_store::default_grace(),
        created_at_ms: unix_ms(),
    })
}

/// Write the tenant described by `tenant_json` into the store, with
/// `creds` as its extensions' passwords (only their HA1s are stored) and
/// the embedded first-party plugins as version 1 of each plugin it names.
pub fn provision(
    store: &Store,
    host: &PluginHost,
    tenant_json: &str,
    creds: &[(String, String)],
) -> anyhow::Result<String> {
    let d: Value = serde_json::from_str(tenant_json).context("tenant description")?;
    let id = d["id"].as_str().context("tenant: id")?.to_string();
    let domains = strings(&d["sip-domains"]);
    let realm = domains.first().context("tenant: sip-domains")?.clone();
    let n = |v: &Value| v.as_u64().unwrap_or(0) as u32;
    if let Some(plans) = d["plans"].as_object() {
        for (name, p) in plans {
            store.put_plan(&plan(name, p)?)?;
        }
    }
    store.put_tenant(&Tenant {
        id: id.clone(),
        name: d["name"].as_str().unwrap_or(&id).to_string(),
        domains,
        time_zone: d["time-zone"].as_str().unwrap_or("UTC").to_string(),
        limits: TenantQuota {
            max_concurrent_calls: n(&d["limits"]["max-concurrent-calls"]),
            max_calls_per_second: n(&d["limits"]["max-calls-per-second"]),
            plugin_memory_mib: d["limits"]["plugin-memory-mib"].as_u64().unwrap_or(32) as u32,
            plugin_cpu_ms: d["limits"]["plugin-cpu-ms"].as_u64().unwrap_or(50) as u32,
            max_extensions: 0,
            max_numbers: 0,
            recording_storage_mib: 0,
        },
        features: Features {
            recording: d["recording"].as_bool().unwrap_or(true),
            ..Features::all()
        },
        plan: d["plan"].as_str().map(String::from),
        suspended: false,
        created_at_ms: unix_ms(),
        pause_reasons: switchyard_store::default_pause_reasons(),
    })?;
    // The prompts the description names, from the demo's recordings.
    for name in strings(&d["prompts"]) {
        let bytes = switchyard_artifacts::DEMO_PROMPTS
            .iter()
            .find(|(n, _)| *n == name)
            .with_context(|| format!("no built-in prompt named {name}"))?
            .1;
        let prompt = switchyard_rtp::wav::load_prompt(bytes)
            .map_err(|e| anyhow::anyhow!("prompt {name}: {e}"))?
            .duration()
            .as_millis();
        store.put_file(
            &FileRecord {
                tenant: id.clone(),
                kind: "prompt".into(),
                id: name.clone(),
                name: format!("{name}.wav"),
                content_type: "audio/wav".into(),
                size: 0,
                created_at_ms: unix_ms(),
                meta: BTreeMap::from([
                    ("encoding".to_string(), "pcm16".to_string()),
                    ("duration_ms".to_string(), prompt.to_string()),
                ]),
            },
            bytes,
        )?;
    }
    for e in d["extensions"].as_array().into_iter().flatten() {
        let number = e["number"]
            .as_str()
            .context("extension number")?
            .to_string();
        let password = &creds
            .iter()
            .find(|(c, _)| *c == number)
            .with_context(|| format!("no password for extension {number}"))?
            .1;
        let c = StoredCredentials::from_password(&number, &realm, password);
        store.put_extension(&Extension {
            tenant: id.clone(),
            number,
            display_name: e["name"].as_str().map(str::to_string),
            ha1_md5: c.ha1_md5,
            ha1_sha256: c.ha1_sha256,
            voicemail: e["voicemail"].as_bool().unwrap_or(false),
            created_at_ms: unix_ms(),
            pickup_group: e["pickup-group"].as_str().map(str::to_string),
            supervisor: e["supervisor"].as_bool().unwrap_or(false),
            email: e["email"].as_str().map(str::to_string),
            missed_call_email: e["missed-call-email"].as_bool().unwrap_or(false),
            srtp: e["srtp"].as_str().unwrap_or("off").to_string(),
        })?;
    }
    if let Some(groups) = d["ring-groups"].as_object() {
        for (name, members) in groups {
            store.put_ring_group(&RingGroup {
                tenant: id.clone(),
                name: name.clone(),
                members: strings(members),
                strategy: RingStrategy::Simultaneous,
                ring_timeout_secs: 20,
            })?;
        }
    }
    if let Some(queues) = d["queues"].as_object() {
        for (name, q) in queues {
            let agents = strings(&q["members"])
                .into_iter()
                .map(|ext| Agent {
                    skills: skill_levels(&d["agents"][&ext]["skills"]),
                    extension: ext,
                    logged_in: true,
                    penalty: 0,
                })
                .collect();
            let defaults = Queue::new(id.clone(), name.clone());
            store.put_queue(&Queue {
                tenant: id.clone(),
                name: name.clone(),
                strategy_plugin: q["strategy"].as_str().map(str::to_string),
                agents,
                max_waiting: 50,
                timeout_secs: q["timeout-secs"].as_u64().unwrap_or(300) as u32,
                moh: None,
                announce_every_secs: q["announce-every-secs"].as_u64().map(|n| n as u32),
                comfort_every_secs: q["comfort-every-secs"].as_u64().map(|n| n as u32),
                ring_timeout_secs: number_or(&q["ring-timeout-secs"], defaults.ring_timeout_secs),
                wrap_up_secs: number_or(&q["wrap-up-secs"], defaults.wrap_up_secs),
                auto_pause_after: number_or(&q["auto-pause-after"], defaults.auto_pause_after),
                callback_key: q["callback-key"].as_str().and_then(|k| k.chars().next()),
                leave_key: q["leave-key"].as_str().and_then(|k| k.chars().next()),
                service_level_secs: number_or(
                    &q["service-level-secs"],
                    defaults.service_level_secs,
                ),
                callback_retry_secs: number_or(
                    &q["callback-retry-secs"],
                    defaults.callback_retry_secs,
                ),
                callback_max_attempts: number_or(
                    &q["callback-max-attempts"],
                    defaults.callback_max_attempts,
                ),
                extension: q["extension"].as_str().map(str::to_string),
                callback_on_abandon_secs: q["callback-on-abandon-secs"].as_u64().map(|n| n as u32),
                ..defaults
            })?;
        }
    }
    if let Some(rooms) = d["conferences"].as_object() {
        for (name, r) in rooms {
            let flag = |k: &str, default: bool| r[k].as_bool().unwrap_or(default);
            let defaults = ConferenceRoom::new(id.clone(), name.clone());
            store.put_conference(&ConferenceRoom {
                pin: r["pin"].as_str().map(str::to_string),
                moderators: strings(&r["moderators"]),
                max_participants: number_or(&r["max-participants"], 0),
                muted_on_join: flag("muted-on-join", defaults.muted_on_join),
                wait_for_moderator: flag("wait-for-moderator", defaults.wait_for_moderator),
                end_when_moderator_leaves: flag(
                    "end-when-moderator-leaves",
                    defaults.end_when_moderator_leaves,
                ),
                announce_count: flag("announce-count", defaults.announce_count),
                tones: flag("tones", defaults.tones),
                record: flag("record", defaults.record),
                ..defaults
            })?;
        }
    }
    if !d["caller-rules"].is_null() {
        let rules: Vec<CallerRule> =
            serde_json::from_value(d["caller-rules"].clone()).context("caller-rules")?;
        store.put_caller_rules(&id, &rules)?;
    }
    if let Some(widgets) = d["widgets"].as_object() {
        for (name, w) in widgets {
            store.put_widget(&Widget {
                tenant: id.clone(),
                name: name.clone(),
                queue: w["queue"].as_str().unwrap_or_default().to_string(),
                allowed_origins: strings(&w["allowed-origins"]),
                title: w["title"].as_str().unwrap_or("Call me back").to_string(),
                enabled: w["enabled"].as_bool().unwrap_or(true),
                call_to: w["call-to"].as_str().map(str::to_string),
            })?;
        }
    }
    if !d["notices"].is_null() {
        store.put_notices(
            &id,
            &TenantNotices {
                missed_calls: strings(&d["notices"]["missed-calls"]),
                after_hours: strings(&d["notices"]["after-hours"]),
            },
        )?;
    }
    if d["transcripts"].is_object() {
        let t = &d["transcripts"];
        let kept = TranscriptPolicy::default();
        store.set_transcript_policy(
            &id,
            &TranscriptPolicy {
                enabled: true,
                max_calls: t["max-calls"].as_u64().map_or(kept.max_calls, |n| n as u32),
                max_age_hours: t["max-age-hours"]
                    .as_u64()
                    .map_or(kept.max_age_hours, |n| n as u32),
            },
        )?;
    }
    if let Some(numbers) = d["numbers"].as_object() {
        for (number, flow) in numbers {
            store.put_number(&Number {
                tenant: id.clone(),
                number: number.clone(),
                flow: flow.as_str().unwrap_or_default().to_string(),
            })?;
        }
    }
    for t in d["trunks"].as_array().into_iter().flatten() {
        let s = |k: &str| t[k].as_str().map(str::to_string);
        store.put_trunk(&Trunk {
            tenant: id.clone(),
            name: s("name").context("trunk: name")?,
            host: s("host").context("trunk: host")?,
            transport: s("transport").unwrap_or_else(|| "udp".into()),
            username: s("username"),
            password: s("password"),
            register: t["register"].as_bool().unwrap_or(false),
            register_expires: t["register-expires"].as_u64().unwrap_or(600) as u32,
            from_domain: s("from-domain"),
            max_concurrent_calls: n(&t["max-concurrent-calls"]),
            max_calls_per_second: n(&t["max-calls-per-second"]),
            caller_id: s("caller-id"),
            allow_caller_id_passthrough: t["caller-id-passthrough"].as_bool().unwrap_or(false),
            inbound_addresses: strings(&t["inbound-addresses"]),
            srtp: s("srtp").unwrap_or_else(|| "off".into()),
        })?;
    }
    if let Some(plugins) = d["plugins"].as_object() {
        for (name, p) in plugins {
            let bytes = switchyard_artifacts::get(name)
                .with_context(|| format!("plugin {name} is not embedded"))?;
            let loaded = host
                .load(bytes)
                .map_err(|e| anyhow::anyhow!("plugin {name}: {e}"))?;
            store.add_version(
                &PluginVersionRecord {
                    tenant: id.clone(),
                    name: name.clone(),
                    number: 1,
                    world: loaded.world().to_string(),
                    sha256: hex::encode(Sha256::digest(bytes)),
                    size: bytes.len() as u64,
                    source: None,
                    created_at_ms: unix_ms(),
                    config: {
                        let mut c = switchyard_api::plugin_settings(&p["config"]);
                        // The hosts the plugin may call (`http-allowlist`).
                        let allow = strings(&p["http-allowlist"]);
                        if !allow.is_empty() {
                            c.insert(
                                switchyard_api::HTTP_ALLOWLIST_KEY.to_string(),
                                allow.join(","),
                            );
                        }
                        c
                    },
                },
                bytes,
            )?;
            store.set_active(&id, name, 1)?;
        }
    }
    let roles = serde_json::json!({
        "flows": d["flows"],
        "crm": d["crm"],
        "reporters": d["reporters"],
        // Strategy name → the plugin of that name: a queue's `strategy` is
        // the name the queue engine asks for.
        "strategies": d["queues"].as_object().map(|qs| {
            qs.values()
                .filter_map(|v| {
                    let s = v["strategy"].as_str()?.to_string();
                    Some((s.clone(), s))
                })
                .collect::<BTreeMap<_, _>>()
        }).unwrap_or_default(),
    });
    store.set_roles(&id, &roles.to_string())?;
    Ok(id)
}
