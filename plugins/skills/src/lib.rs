//! # skills: skills-based routing
//!
//! Only agents who have every skill the waiting call needs are offered the
//! call. Among them, the best-qualified come first: the JSON setting
//! `levels` gives each agent's level per skill (default 1), and an agent's
//! score is the sum of their levels for the required skills. Ties go to the
//! agent with fewer calls today, then the one idle longest, then the queue's
//! member order.
//!
//! ```json
//! {"1002": {"broadband": 3, "it": 1}, "1003": {"broadband": 1, "phone-line": 2}}
//! ```
//!
//! `sticky` = `true` puts the caller's last agent first when they qualify.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use switchyard_sdk::queue::{self, AgentCandidate, QueueInfo, WaitingCall};
use switchyard_sdk::{QueueStrategy, config};

/// Agent id → skill → level.
pub type Levels = BTreeMap<String, BTreeMap<String, u32>>;

/// Qualified candidates, best first.
pub fn rank(required: &[String], candidates: &[AgentCandidate], levels: &Levels) -> Vec<String> {
    let score = |a: &AgentCandidate| -> u32 {
        required
            .iter()
            .map(|skill| {
                levels
                    .get(&a.id)
                    .and_then(|l| {
                        l.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(skill))
                            .map(|(_, v)| *v)
                    })
                    .unwrap_or(1)
            })
            .sum()
    };
    let mut qualified: Vec<&AgentCandidate> = candidates
        .iter()
        .filter(|a| queue::has_skills(a, required))
        .collect();
    qualified.sort_by_key(|a| {
        (
            Reverse(score(a)),
            a.calls_today,
            a.last_call_end.unwrap_or(0),
            a.order,
        )
    });
    qualified.into_iter().map(|a| a.id.clone()).collect()
}

/// The plugin.
pub struct Skills;

impl QueueStrategy for Skills {
    fn select(
        _queue: QueueInfo,
        call: WaitingCall,
        candidates: Vec<AgentCandidate>,
    ) -> Vec<String> {
        let levels: Levels = match config::json("levels") {
            Ok(l) => l.unwrap_or_default(),
            Err(e) => {
                switchyard_sdk::warn!("{e}; every level counts as 1");
                Levels::default()
            }
        };
        let mut order = rank(&call.skills, &candidates, &levels);
        if config::get("sticky").as_deref() == Some("true") {
            queue::stick_to_last_agent(&mut order, call.last_agent.as_deref());
        }
        order
    }
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
        }
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
            rank(&skills(&["broadband"]), &team, &Levels::new()),
            ["1003", "1002"]
        );
        assert_eq!(
            rank(&skills(&["broadband", "it"]), &team, &Levels::new()),
            ["1002"]
        );
        assert!(rank(&skills(&["spanish"]), &team, &Levels::new()).is_empty());
        assert_eq!(
            rank(&[], &team, &Levels::new()).len(),
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
            rank(&skills(&["broadband"]), &team, &levels),
            ["1002", "1003"]
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
}
