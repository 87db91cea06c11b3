//! A tenant's queues and agents as the call engine's queue service needs
//! them, read from the store's queue configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_acd::{AgentConfig, JoinEmpty, Membership, QueueConfig, RingMode};
use switchyard_calls::queues::{ContactCentreSetup, QueueSetup};
use switchyard_store::{AgentStateRepo, QueueRepo, Store, TenantRepo};

/// The contact centre of a tenant whose plan has no queues: no queue and
/// no agent, only what every tenant has (pause reasons, feature codes such
/// as pickup).
pub fn without_queues(store: &Store, id: &str) -> anyhow::Result<ContactCentreSetup> {
    Ok(ContactCentreSetup {
        pause_reasons: pause_reasons(store, id)?,
        ..ContactCentreSetup::default()
    })
}

fn pause_reasons(store: &Store, id: &str) -> anyhow::Result<Vec<String>> {
    Ok(store
        .get_tenant(id)?
        .map(|t| t.pause_reasons)
        .unwrap_or_else(switchyard_store::default_pause_reasons))
}

/// The contact centre of tenant `id`: every queue, every extension that
/// is a member of one (with its place, skills and levels in each), and who
/// is logged in at first start.
pub fn contact_centre(store: &Store, id: &str) -> anyhow::Result<ContactCentreSetup> {
    let mut setup = ContactCentreSetup {
        pause_reasons: pause_reasons(store, id)?,
        ..ContactCentreSetup::default()
    };
    let secs = |s: u32| Duration::from_secs(s.into());
    let mut agents: BTreeMap<String, AgentConfig> = BTreeMap::new();
    for q in store.list_queues(id)? {
        let mut config = QueueConfig::new(q.name.clone());
        config.max_len = (q.max_waiting > 0).then_some(q.max_waiting);
        config.max_wait = (q.timeout_secs > 0).then(|| secs(q.timeout_secs));
        config.ring_mode = match q.ring_mode {
            switchyard_store::RingMode::OneAtATime => RingMode::OneAtATime,
            switchyard_store::RingMode::All => RingMode::All,
            switchyard_store::RingMode::FirstN(n) => RingMode::FirstN(n),
        };
        config.ring_timeout = secs(q.ring_timeout_secs);
        config.wrap_up = secs(q.wrap_up_secs);
        config.service_level_threshold = secs(q.service_level_secs);
        config.announce_every = q.announce_every_secs.map(secs);
        config.comfort_every = q.comfort_every_secs.map(secs);
        config.auto_pause_after = q.auto_pause_after;
        config.callback_key = q.callback_key;
        config.leave_key = q.leave_key;
        config.join_empty = match q.join_empty {
            switchyard_store::JoinEmpty::Wait => JoinEmpty::Wait,
            switchyard_store::JoinEmpty::Never => JoinEmpty::Never,
        };
        config.leave_when_empty = q.leave_when_empty;
        config.callback_retry_interval = secs(q.callback_retry_secs);
        config.callback_max_attempts = q.callback_max_attempts;
        config.callback_on_abandon_after = q.callback_on_abandon_secs.map(secs);
        for (order, a) in q.agents.iter().enumerate() {
            let membership = Membership {
                queue: q.name.clone(),
                penalty: a.penalty,
                skills: a.skills.clone(),
                order: order as u32,
            };
            agents
                .entry(a.extension.clone())
                .or_insert_with(|| AgentConfig::new(a.extension.clone(), Vec::new()))
                .memberships
                .push(membership);
            if a.logged_in && !setup.logged_in.contains(&a.extension) {
                setup.logged_in.push(a.extension.clone());
            }
        }
        setup.queues.push(QueueSetup {
            config,
            strategy: q.strategy_plugin.clone(),
            music: q.moh.clone(),
            comfort: q.comfort_prompt.clone(),
            whisper: q.whisper_prompt.clone(),
            extension: q.extension.clone(),
        });
    }
    setup.agents = agents.into_values().collect();
    setup.index_extensions();
    // Who was logged in (and paused) when the host stopped: kept over
    // the configured first-start logins.
    setup.saved = store
        .list_agent_states(id)?
        .into_iter()
        .map(|(ext, s)| (ext, s.logged_in, s.paused))
        .collect();
    Ok(setup)
}
