//! # skills: skills-based routing
//!
//! Only agents who have every skill the waiting call needs are offered the
//! call. Among them, the best-qualified come first: an agent's score is the
//! sum of their levels for the required skills. An agent's level in a skill
//! is, first found: the JSON setting `levels` (an override, agent → skill →
//! level), the level the host reports for the agent (`skill-levels`, as the
//! tenant configured the agent), else 1. Ties go to the agent with fewer
//! calls today, then the one idle longest (the host's `idle-since`), then
//! the queue's member order.
//!
//! ```json
//! {"1002": {"broadband": 3, "it": 1}, "1003": {"broadband": 1, "phone-line": 2}}
//! ```
//!
//! `sticky` = `true` puts the caller's last agent first when they qualify,
//! else the owner of the caller's CRM contact (`contact.owner`, an agent
//! extension) when they qualify.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use switchyard_sdk::queue::{self, AgentCandidate, Candidates, QueueInfo, WaitingCall};
use switchyard_sdk::{QueueStrategy, config};

/// Agent id → skill → level.
pub type Levels = BTreeMap<String, BTreeMap<String, u32>>;

/// Qualified candidates, best first, as positions in `c`.
pub fn rank(required: &[String], c: &Candidates, levels: &Levels) -> Vec<u32> {
    let cols = c.columns();
    // Each required skill's column, found once; a skill no candidate has
    // leaves nobody qualified.
    let Some(columns) = required
        .iter()
        .map(|skill| c.skill_column(skill))
        .collect::<Option<Vec<usize>>>()
    else {
        return Vec::new();
    };
    // The few agents with overrides, found once by id (not a map lookup
    // per candidate).
    let mut overridden: Vec<Option<&BTreeMap<String, u32>>> = Vec::new();
    if !levels.is_empty() {
        overridden.resize(c.len(), None);
        for (agent, l) in levels {
            if let Some(i) = c.position(agent) {
                overridden[i] = Some(l);
            }
        }
    }
    let score = |i: usize| -> u32 {
        let overrides = overridden.get(i).copied().flatten();
        required
            .iter()
            .zip(&columns)
            .map(|(skill, &j)| {
                overrides
                    .and_then(|l| {
                        l.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(skill))
                            .map(|(_, v)| *v)
                    })
                    .unwrap_or(u32::from(c.level_at(i, j)))
            })
            .sum()
    };
    // Each candidate is scored once, not at every comparison of the sort.
    let mut qualified: Vec<_> = (0..c.len())
        .filter(|&i| columns.iter().all(|&j| c.level_at(i, j) > 0))
        .map(|i| {
            (
                (
                    Reverse(score(i)),
                    cols.calls_today[i],
                    cols.idle_since[i],
                    cols.order[i],
                ),
                i as u32,
            )
        })
        .collect();
    // The position ends each key, so keys are unique and the unstable
    // sort (no buffer to allocate) is deterministic.
    qualified.sort_unstable();
    qualified.into_iter().map(|(_, p)| p).collect()
}

/// The plugin.
pub struct Skills;

impl QueueStrategy for Skills {
    fn select(queue: QueueInfo, call: WaitingCall, candidates: Vec<AgentCandidate>) -> Vec<String> {
        let c = Candidates::from_records(&candidates);
        c.ids_at(&Self::rank(queue, call, c.clone()))
    }

    fn rank(_queue: QueueInfo, call: WaitingCall, candidates: Candidates) -> Vec<u32> {
        let settings = settings();
        let mut order = rank(&call.skills, &candidates, &settings.levels);
        if settings.sticky {
            queue::stick_to_callers_agent_at(&mut order, &call, &candidates);
        }
        order
    }
}

/// The settings, read and parsed once per instance: a version's settings
/// never change, and the host may keep a strategy's instance for many
/// decisions, so the JSON is not parsed again for each.
struct Settings {
    levels: Levels,
    sticky: bool,
}

fn settings() -> &'static Settings {
    static SETTINGS: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        levels: match config::json("levels") {
            Ok(l) => l.unwrap_or_default(),
            Err(e) => {
                switchyard_sdk::warn!("{e}; every level counts as 1");
                Levels::default()
            }
        },
        sticky: config::get("sticky").as_deref() == Some("true"),
    })
}

switchyard_sdk::export_queue_strategy!(Skills);

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, skills: &[&str], calls: u32, order: u32) -> AgentCandidate {
        AgentCandidate {
            id: id.into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            calls_today: calls,
            talk_seconds_today: 0,
            last_call_end: None,
            order,
            skill_levels: vec![],
            penalty: 0,
            idle_since: 0,
        }
    }

    fn levelled(id: &str, levels: &[(&str, u8)], order: u32) -> AgentCandidate {
        let mut a = agent(
            id,
            &levels.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            0,
            order,
        );
        a.skill_levels = levels.iter().map(|(s, l)| (s.to_string(), *l)).collect();
        a
    }

    /// `rank` over records, answered as ids.
    fn ids(required: &[String], team: Vec<AgentCandidate>, levels: &Levels) -> Vec<String> {
        let c = Candidates::from_records(&team);
        c.ids_at(&rank(required, &c, levels))
    }

    fn skills(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn only_agents_with_every_required_skill_qualify() {
        let team = vec![
            agent("1001", &["billing"], 0, 0),
            agent("1002", &["broadband", "IT"], 3, 1),
            agent("1003", &["broadband"], 1, 2),
        ];
        assert_eq!(
            ids(&skills(&["broadband"]), team.clone(), &Levels::new()),
            ["1003", "1002"]
        );
        assert_eq!(
            ids(&skills(&["broadband", "it"]), team.clone(), &Levels::new()),
            ["1002"]
        );
        assert!(ids(&skills(&["spanish"]), team.clone(), &Levels::new()).is_empty());
        assert_eq!(
            ids(&[], team.clone(), &Levels::new()).len(),
            3,
            "no skills needed: everyone"
        );
    }

    #[test]
    fn higher_levels_win_over_fewer_calls() {
        let team = vec![
            agent("1002", &["broadband"], 9, 0),
            agent("1003", &["broadband"], 1, 1),
        ];
        let levels: Levels =
            serde_json::from_str(r#"{"1002": {"broadband": 3}, "1003": {"broadband": 1}}"#)
                .unwrap();
        assert_eq!(
            ids(&skills(&["broadband"]), team.clone(), &levels),
            ["1002", "1003"]
        );
    }

    #[test]
    fn host_skill_levels_rank_and_the_setting_overrides_them() {
        let team = vec![
            levelled("1002", &[("broadband", 40)], 0),
            levelled("1003", &[("Broadband", 80)], 1),
            // No level from the host: counts as 1.
            agent("1004", &["broadband"], 0, 2),
        ];
        let need = skills(&["broadband"]);
        assert_eq!(
            ids(&need, team.clone(), &Levels::new()),
            ["1003", "1002", "1004"]
        );
        let levels: Levels = serde_json::from_str(r#"{"1002": {"broadband": 90}}"#).unwrap();
        assert_eq!(ids(&need, team.clone(), &levels), ["1002", "1003", "1004"]);
    }

    #[test]
    fn ties_go_to_the_agent_idle_longest() {
        let mut a = agent("1002", &["it"], 0, 0);
        a.idle_since = 9_000;
        let mut b = agent("1003", &["it"], 0, 1);
        b.idle_since = 4_000;
        assert_eq!(
            ids(&skills(&["it"]), vec![a, b], &Levels::new()),
            ["1003", "1002"]
        );
    }

    #[test]
    fn sticky_agent_moves_first_only_when_qualified() {
        let mut order = vec!["1003".to_string(), "1002".to_string()];
        queue::stick_to_last_agent(&mut order, Some("1002"));
        assert_eq!(order, ["1002", "1003"]);
        queue::stick_to_last_agent(&mut order, Some("1009"));
        assert_eq!(order, ["1002", "1003"]);
    }

    fn waiting(last_agent: Option<&str>, owner: Option<&str>) -> WaitingCall {
        let party = |n: &str| switchyard_sdk::Party {
            number: n.into(),
            display_name: None,
        };
        WaitingCall {
            call: switchyard_sdk::CallSnapshot {
                call_id: "c1".into(),
                tenant: "acme".into(),
                direction: switchyard_sdk::Direction::Inbound,
                caller: party("+15550100"),
                callee: party("+15550199"),
                dialled: "+15550199".into(),
                tags: vec![],
                start_time: 0,
                answer_time: None,
                time_zone: "UTC".into(),
                flow: "main".into(),
                plugin_version: 1,
            },
            skills: skills(&["broadband"]),
            priority: 0,
            waited_seconds: 0,
            last_agent: last_agent.map(Into::into),
            contact: owner.map(|o| switchyard_sdk::Contact {
                id: "crm-1".into(),
                name: "Ada".into(),
                company: None,
                email: None,
                owner: Some(o.into()),
                url: None,
                tags: vec![],
                fields: vec![],
            }),
            callback: false,
        }
    }

    #[test]
    fn sticky_falls_back_to_the_contact_owner_when_qualified() {
        let team = vec![
            agent("1001", &["billing"], 0, 0),
            agent("1002", &["broadband"], 0, 1),
            agent("1003", &["broadband"], 5, 2),
        ];
        let sticky = |call: &WaitingCall| {
            let c = Candidates::from_records(&team);
            let mut order = rank(&call.skills, &c, &Levels::new());
            queue::stick_to_callers_agent_at(&mut order, call, &c);
            c.ids_at(&order)
        };
        assert_eq!(sticky(&waiting(None, Some("1003"))), ["1003", "1002"]);
        // The last agent does not qualify: the owner does.
        assert_eq!(
            sticky(&waiting(Some("1001"), Some("1003"))),
            ["1003", "1002"]
        );
        // The owner does not qualify: the ranking stands.
        assert_eq!(sticky(&waiting(None, Some("1001"))), ["1002", "1003"]);
    }
}
