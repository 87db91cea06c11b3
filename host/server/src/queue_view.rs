//! A tenant's queues and agents as the call engine's queue service needs
//! them, read from the store's queue configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_acd::{AgentConfig, Membership, QueueConfig};
use switchyard_calls::queues::{ContactCentreSetup, QueueSetup};
use switchyard_store::{QueueRepo, Store};

/// Pause reasons a tenant has until it sets its own.
pub const DEFAULT_PAUSE_REASONS: [&str; 3] = ["break", "lunch", "training"];

/// The contact centre of tenant `id`: every queue, every extension that
/// is a member of one (with its place, skills and levels in each), and who
/// is logged in at first start.
pub fn contact_centre(store: &Store, id: &str) -> anyhow::Result<ContactCentreSetup> {
    let mut setup = ContactCentreSetup {
        pause_reasons: DEFAULT_PAUSE_REASONS.map(String::from).to_vec(),
        ..ContactCentreSetup::default()
    };
    let mut agents: BTreeMap<String, AgentConfig> = BTreeMap::new();
    for q in store.list_queues(id)? {
        let mut config = QueueConfig::new(q.name.clone());
        config.max_len = (q.max_waiting > 0).then_some(q.max_waiting);
        config.max_wait = (q.timeout_secs > 0).then(|| Duration::from_secs(q.timeout_secs.into()));
        for (order, a) in q.agents.iter().enumerate() {
            let membership = Membership {
                queue: q.name.clone(),
                penalty: 0,
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
            comfort: None,
        });
    }
    setup.agents = agents.into_values().collect();
    Ok(setup)
}
