//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use switchyard_plugins::flow_types::{Action, Decision, Event, Gathered};
use switchyard_plugins::queue_types::AgentCandidate;
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_plugins::{
    Directory, HostConfig, HttpPolicyConfig, InMemoryDirectory, PluginHost, TenantLimits,
    TenantRuntime, TenantSettings,
};

/// A component built by `switchyard-artifacts`.
pub fn wasm(name: &str) -> &'static [u8] {
    switchyard_artifacts::get(name).unwrap_or_else(|| panic!("component {name} was not built"))
}

/// A host sized for tests.
pub fn host() -> PluginHost {
    host_with_http(HttpPolicyConfig::default())
}

pub fn host_with_http(http: HttpPolicyConfig) -> PluginHost {
    PluginHost::new(HostConfig {
        max_instances: 16,
        http,
        ..HostConfig::default()
    })
    .expect("plugin host")
}

pub fn limits() -> TenantLimits {
    TenantLimits {
        cpu: Duration::from_millis(50),
        wall_clock: Duration::from_secs(5),
        memory_bytes: 16 << 20,
        ..TenantLimits::default()
    }
}

pub fn tenant(host: &PluginHost, id: &str, limits: TenantLimits) -> TenantRuntime {
    tenant_with_directory(host, id, limits, Arc::new(InMemoryDirectory::new()))
}

pub fn tenant_with_directory(
    host: &PluginHost,
    id: &str,
    limits: TenantLimits,
    directory: Arc<dyn Directory>,
) -> TenantRuntime {
    host.tenant(
        id,
        TenantSettings {
            limits,
            directory,
            ..TenantSettings::default()
        },
    )
    .expect("tenant")
}

/// A queue candidate with nothing but an id and a member order.
pub fn agent(id: &str, order: u32) -> AgentCandidate {
    AgentCandidate {
        id: id.into(),
        skills: vec![],
        calls_today: 0,
        talk_seconds_today: 0,
        last_call_end: None,
        order,
        skill_levels: vec![],
        penalty: 0,
        idle_since: 0,
    }
}

pub fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn call(tenant: &str, caller: &str, dialled: &str) -> CallSnapshot {
    CallSnapshot {
        call_id: "call-1".into(),
        tenant: tenant.into(),
        direction: Direction::Inbound,
        caller: Party {
            number: caller.into(),
            display_name: None,
        },
        callee: Party {
            number: dialled.into(),
            display_name: None,
        },
        dialled: dialled.into(),
        tags: vec![],
        start_time: 1_700_000_000_000,
        answer_time: None,
        time_zone: "Europe/Paris".into(),
        flow: "main".into(),
        plugin_version: 1,
    }
}

/// Drives one call through a flow, carrying the plugin's state between
/// events like the call engine does; returns every decision.
pub async fn drive(
    t: &TenantRuntime,
    flow: &str,
    call: &CallSnapshot,
    events: &[Event],
) -> Vec<Decision> {
    let pinned = t.pin_flow(flow).expect("flow is installed");
    let mut state = None;
    let mut out = Vec::new();
    for e in events {
        let d = t
            .invoke_flow(&pinned, call, e, state.clone())
            .await
            .unwrap_or_else(|f| panic!("{flow} failed on {e:?}: {f}; logs: {:?}", t.recent_logs()));
        state = d.state.clone();
        out.push(d);
    }
    out
}

/// Digits as a `gather` hands them to the flow.
pub fn digits(d: &str) -> Event {
    Event::Digits(Gathered {
        digits: d.into(),
        finished_by_key: false,
    })
}

/// The tags a decision sets, in order (test components report what they
/// saw as tags).
pub fn tags(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SetTag(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}
