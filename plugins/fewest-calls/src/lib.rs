//! # fewest-calls: the classic agent-selection strategies
//!
//! Settings (all optional):
//!
//! * `mode`: `fewest-calls` (default: fewest calls answered today first),
//!   `least-talk-time` (least talk time today first), `longest-idle` (the
//!   agent idle longest first, by the host's `idle-since`: the end of their
//!   last call, or when they logged in or became available, whichever is
//!   later), or `round-robin` (the queue's member order, starting one
//!   further each call; the position is kept in kv per queue).
//! * `sticky`: `true` puts the caller's last agent first when they are
//!   available — the market's "last agent the caller spoke to" — and, when
//!   the host knows no last agent (or they are not available), the owner of
//!   the caller's CRM contact (`contact.owner`, an agent extension) when
//!   they are available.
//!
//! Ties always fall back to longest idle, then the queue's member order, so
//! the choice is deterministic.

use switchyard_sdk::queue::{self, AgentCandidate, Candidates, QueueInfo, WaitingCall};
use switchyard_sdk::{QueueStrategy, config, kv};

/// How agents are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    FewestCalls,
    LeastTalkTime,
    LongestIdle,
    RoundRobin,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "fewest-calls" => Ok(Mode::FewestCalls),
            "least-talk-time" => Ok(Mode::LeastTalkTime),
            "longest-idle" => Ok(Mode::LongestIdle),
            "round-robin" => Ok(Mode::RoundRobin),
            other => Err(format!(
                "`{other}` is not one of fewest-calls, least-talk-time, longest-idle, round-robin"
            )),
        }
    }
}

/// Order candidates by `mode`; `rotation` is the round-robin position.
/// Works on the columns and answers positions: each candidate's sort key
/// is read once into a flat array and sorted in place, so nothing is
/// allocated per candidate (200 of them per decision in a large queue).
/// Keys end with the position, so they are unique and the unstable sort
/// is deterministic.
pub fn rank(mode: Mode, c: &Candidates, rotation: u64) -> Vec<u32> {
    let cols = c.columns();
    let n = c.len();
    // (primary, idle since, member order, position); round robin goes by
    // member order alone.
    let mut keys: Vec<(u64, u64, u32, u32)> = (0..n)
        .map(|i| {
            let (primary, idle) = match mode {
                Mode::FewestCalls => (u64::from(cols.calls_today[i]), cols.idle_since[i]),
                Mode::LeastTalkTime => (u64::from(cols.talk_seconds_today[i]), cols.idle_since[i]),
                Mode::LongestIdle => (0, cols.idle_since[i]),
                Mode::RoundRobin => (0, 0),
            };
            (primary, idle, cols.order[i], i as u32)
        })
        .collect();
    keys.sort_unstable();
    let mut order: Vec<u32> = keys.into_iter().map(|k| k.3).collect();
    if mode == Mode::RoundRobin && !order.is_empty() {
        let start = (rotation % order.len() as u64) as usize;
        order.rotate_left(start);
    }
    order
}

/// The plugin.
pub struct FewestCalls;

impl QueueStrategy for FewestCalls {
    fn select(queue: QueueInfo, call: WaitingCall, candidates: Vec<AgentCandidate>) -> Vec<String> {
        let c = Candidates::from_records(&candidates);
        c.ids_at(&Self::rank(queue, call, c.clone()))
    }

    fn rank(queue: QueueInfo, call: WaitingCall, candidates: Candidates) -> Vec<u32> {
        let mode = match config::parse::<Mode>("mode") {
            Ok(m) => m.unwrap_or(Mode::FewestCalls),
            Err(e) => {
                switchyard_sdk::warn!("{e}; using fewest-calls");
                Mode::FewestCalls
            }
        };
        let rotation = if mode == Mode::RoundRobin {
            // One step per call offered, per queue; starts at 0.
            kv::increment(&format!("rr/{}", queue.name), 1).unwrap_or(1) as u64 - 1
        } else {
            0
        };
        let mut order = rank(mode, &candidates, rotation);
        if config::get("sticky").as_deref() == Some("true") {
            queue::stick_to_callers_agent_at(&mut order, &call, &candidates);
        }
        order
    }
}

switchyard_sdk::export_queue_strategy!(FewestCalls);

#[cfg(test)]
mod tests {
    use super::*;

    use switchyard_sdk::Contact;

    /// `rank` over records, answered as ids.
    fn ids(mode: Mode, team: Vec<AgentCandidate>, rotation: u64) -> Vec<String> {
        let c = Candidates::from_records(&team);
        c.ids_at(&rank(mode, &c, rotation))
    }

    fn agent(id: &str, calls: u32, talk: u32, idle_since: u64, order: u32) -> AgentCandidate {
        AgentCandidate {
            id: id.into(),
            skills: vec![],
            calls_today: calls,
            talk_seconds_today: talk,
            last_call_end: (idle_since > 0).then_some(idle_since),
            order,
            skill_levels: vec![],
            penalty: 0,
            idle_since,
        }
    }

    fn team() -> Vec<AgentCandidate> {
        vec![
            agent("1001", 5, 900, 1_000, 0),
            agent("1002", 2, 1_200, 3_000, 1),
            agent("1003", 2, 300, 2_000, 2),
            agent("1004", 7, 100, 0, 3),
        ]
    }

    #[test]
    fn fewest_calls_first_ties_by_longest_idle() {
        assert_eq!(
            ids(Mode::FewestCalls, team(), 0),
            ["1003", "1002", "1001", "1004"]
        );
    }

    #[test]
    fn least_talk_time_first() {
        assert_eq!(
            ids(Mode::LeastTalkTime, team(), 0),
            ["1004", "1003", "1001", "1002"]
        );
    }

    #[test]
    fn longest_idle_first_never_called_is_idlest() {
        assert_eq!(
            ids(Mode::LongestIdle, team(), 0),
            ["1004", "1001", "1003", "1002"]
        );
    }

    #[test]
    fn longest_idle_uses_idle_since_not_the_last_call() {
        // 1001's last call ended long ago but they only just became
        // available (a break); 1002 has been available since their call.
        let mut a = agent("1001", 1, 0, 5_000, 0);
        a.last_call_end = Some(1_000);
        let b = agent("1002", 1, 0, 3_000, 1);
        assert_eq!(ids(Mode::LongestIdle, vec![a, b], 0), ["1002", "1001"]);
    }

    fn waiting(last_agent: Option<&str>, owner: Option<&str>) -> WaitingCall {
        WaitingCall {
            call: switchyard_sdk::CallSnapshot {
                call_id: "c1".into(),
                tenant: "acme".into(),
                direction: switchyard_sdk::Direction::Inbound,
                caller: switchyard_sdk::Party {
                    number: "+15550100".into(),
                    display_name: None,
                },
                callee: switchyard_sdk::Party {
                    number: "+15550199".into(),
                    display_name: None,
                },
                dialled: "+15550199".into(),
                tags: vec![],
                start_time: 0,
                answer_time: None,
                time_zone: "UTC".into(),
                flow: "main".into(),
                plugin_version: 1,
            },
            skills: vec![],
            priority: 0,
            waited_seconds: 0,
            last_agent: last_agent.map(Into::into),
            contact: owner.map(|o| Contact {
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

    fn sticky(call: &WaitingCall) -> Vec<String> {
        let c = Candidates::from_records(&team());
        let mut order = rank(Mode::FewestCalls, &c, 0);
        queue::stick_to_callers_agent_at(&mut order, call, &c);
        c.ids_at(&order)
    }

    #[test]
    fn sticky_prefers_the_last_agent_then_the_contact_owner() {
        let plain = ids(Mode::FewestCalls, team(), 0);
        assert_eq!(sticky(&waiting(Some("1004"), Some("1001")))[0], "1004");
        assert_eq!(sticky(&waiting(None, Some("1001")))[0], "1001");
        // The last agent is not available: the owner.
        assert_eq!(sticky(&waiting(Some("1009"), Some("1001")))[0], "1001");
        // Neither is: the ranking stands.
        assert_eq!(sticky(&waiting(Some("1009"), Some("1008"))), plain);
        assert_eq!(sticky(&waiting(None, None)), plain);
    }

    #[test]
    fn round_robin_rotates_through_member_order() {
        assert_eq!(ids(Mode::RoundRobin, team(), 0)[0], "1001");
        assert_eq!(ids(Mode::RoundRobin, team(), 1)[0], "1002");
        assert_eq!(
            ids(Mode::RoundRobin, team(), 5),
            ["1002", "1003", "1004", "1001"]
        );
        assert!(ids(Mode::RoundRobin, vec![], 3).is_empty());
    }

    #[test]
    fn modes_parse_and_bad_ones_say_why() {
        assert_eq!("round-robin".parse::<Mode>(), Ok(Mode::RoundRobin));
        let e = "random".parse::<Mode>().unwrap_err();
        assert!(e.contains("random") && e.contains("fewest-calls"));
    }
}
