//! Types of the `queue-strategy` world, and helpers strategies share.

pub use crate::bindings::switchyard::plugin::queue_types::{
    AgentCandidate, QueueInfo, WaitingCall,
};

/// True when `agent` has every skill in `required` (case-insensitive).
pub fn has_skills(agent: &AgentCandidate, required: &[String]) -> bool {
    required
        .iter()
        .all(|r| agent.skills.iter().any(|s| s.eq_ignore_ascii_case(r)))
}

/// The agent's level in `skill` (case-insensitive) as the host reports it in
/// [`AgentCandidate::skill_levels`], if it has one.
pub fn skill_level(agent: &AgentCandidate, skill: &str) -> Option<u8> {
    agent
        .skill_levels
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(skill))
        .map(|(_, l)| *l)
}

/// Sticky routing: move to the front of `order` the caller's last agent
/// ([`WaitingCall::last_agent`]) if they are in `order`, else the owner of
/// the caller's CRM contact (`contact.owner`, an agent extension) if they
/// are. Nothing moves when neither is in `order`.
pub fn stick_to_callers_agent(order: &mut Vec<String>, call: &WaitingCall) {
    let owner = call.contact.as_ref().and_then(|c| c.owner.as_deref());
    let sticky = [call.last_agent.as_deref(), owner]
        .into_iter()
        .flatten()
        .find(|id| order.iter().any(|a| a == id))
        .map(str::to_owned);
    stick_to_last_agent(order, sticky.as_deref());
}

/// Move the caller's last agent to the front, if they are a candidate.
pub fn stick_to_last_agent(order: &mut Vec<String>, last_agent: Option<&str>) {
    if let Some(last) = last_agent
        && let Some(i) = order.iter().position(|a| a == last)
    {
        let a = order.remove(i);
        order.insert(0, a);
    }
}

pub use crate::bindings::switchyard::plugin::ranking_types::CandidateColumns;

/// The candidates of one decision as the host hands them to
/// [`crate::QueueStrategy::rank`] (`ranking-types.candidate-columns`, 0.2.1):
/// a column per field, so 200 candidates cross the component boundary in a
/// dozen copies instead of a thousand allocations. Position `i` is the same
/// agent in every column; answer with positions, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    columns: CandidateColumns,
}

impl Candidates {
    /// Wraps the columns the host passed.
    pub fn new(columns: CandidateColumns) -> Self {
        Candidates { columns }
    }

    /// The columns themselves (`calls_today[i]`, `idle_since[i]`, …).
    pub fn columns(&self) -> &CandidateColumns {
        &self.columns
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.columns.id_ends.len()
    }

    /// True when no agent can take the call.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Candidate `i`'s id (extension). Panics when `i` is out of range or
    /// the host's `id-ends` are malformed (they never are).
    pub fn id(&self, i: usize) -> &str {
        let end = self.columns.id_ends[i] as usize;
        let start = if i == 0 {
            0
        } else {
            self.columns.id_ends[i - 1] as usize
        };
        &self.columns.ids[start..end]
    }

    /// The position of the candidate with id `id`, if they are one. One
    /// search through the ids' string rather than a comparison per
    /// candidate: an occurrence counts where an id starts and ends.
    pub fn position(&self, id: &str) -> Option<usize> {
        let (ids, ends) = (self.columns.ids.as_str(), &self.columns.id_ends);
        if id.is_empty() {
            return (0..self.len()).find(|&i| self.id(i).is_empty());
        }
        let mut from = 0;
        while let Some(at) = ids.get(from..).and_then(|rest| rest.find(id)) {
            let start = from + at;
            let end = (start + id.len()) as u32;
            // Ids ending there (several when some are empty): one of them
            // must start where the occurrence does.
            let first = ends.partition_point(|&e| e < end);
            for (i, &e) in ends.iter().enumerate().skip(first) {
                if e != end {
                    break;
                }
                let s = if i == 0 { 0 } else { ends[i - 1] as usize };
                if s == start {
                    return Some(i);
                }
            }
            from = start + id.chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// The column of `skill` (case-insensitive) in the level matrix, if any
    /// candidate has it. Look it up once per decision, then read levels
    /// with [`Candidates::level_at`].
    pub fn skill_column(&self, skill: &str) -> Option<usize> {
        self.columns
            .skill_names
            .iter()
            .position(|s| s.eq_ignore_ascii_case(skill))
    }

    /// Candidate `i`'s level in the skill of column `column` (0: lacks it).
    pub fn level_at(&self, i: usize, column: usize) -> u8 {
        let width = self.columns.skill_names.len();
        self.columns.skill_levels[i * width + column]
    }

    /// Candidate `i`'s level in `skill` (case-insensitive), if they have it.
    pub fn level(&self, i: usize, skill: &str) -> Option<u8> {
        let l = self.level_at(i, self.skill_column(skill)?);
        (l > 0).then_some(l)
    }

    /// The ids at `positions`, for answers that need ids (tests,
    /// [`crate::QueueStrategy::select`]); out-of-range positions and
    /// repeats are skipped, as the host does.
    pub fn ids_at(&self, positions: &[u32]) -> Vec<String> {
        let mut taken = vec![false; self.len()];
        positions
            .iter()
            .filter_map(|&p| {
                let slot = taken.get_mut(p as usize)?;
                (!std::mem::replace(slot, true)).then(|| self.id(p as usize).to_owned())
            })
            .collect()
    }

    /// Columns from records, in their order: what the host would pass for
    /// these candidates (skills named in any ASCII case are one column; a
    /// skill listed without a level has level 1).
    pub fn from_records(records: &[AgentCandidate]) -> Self {
        let mut c = CandidateColumns {
            ids: String::new(),
            id_ends: Vec::new(),
            calls_today: Vec::new(),
            talk_seconds_today: Vec::new(),
            last_call_end: Vec::new(),
            idle_since: Vec::new(),
            order: Vec::new(),
            penalty: Vec::new(),
            skill_names: Vec::new(),
            skill_levels: Vec::new(),
        };
        let mut held = Vec::new();
        for (i, a) in records.iter().enumerate() {
            c.ids.push_str(&a.id);
            c.id_ends.push(c.ids.len() as u32);
            c.calls_today.push(a.calls_today);
            c.talk_seconds_today.push(a.talk_seconds_today);
            c.last_call_end.push(a.last_call_end.unwrap_or(0));
            c.idle_since.push(a.idle_since);
            c.order.push(a.order);
            c.penalty.push(a.penalty);
            let unlevelled = a
                .skills
                .iter()
                .filter(|s| {
                    !a.skill_levels
                        .iter()
                        .any(|(l, _)| l.eq_ignore_ascii_case(s))
                })
                .map(|s| (s, 1));
            for (skill, level) in a
                .skill_levels
                .iter()
                .map(|(s, l)| (s, *l))
                .chain(unlevelled)
            {
                let j = match c
                    .skill_names
                    .iter()
                    .position(|s| s.eq_ignore_ascii_case(skill))
                {
                    Some(j) => j,
                    None => {
                        c.skill_names.push(skill.clone());
                        c.skill_names.len() - 1
                    }
                };
                held.push((i, j, level.max(1)));
            }
        }
        let width = c.skill_names.len();
        c.skill_levels = vec![0; records.len() * width];
        for (i, j, level) in held {
            c.skill_levels[i * width + j] = level;
        }
        Candidates::new(c)
    }

    /// The candidates as records, for strategies written against
    /// [`AgentCandidate`] (the default [`crate::QueueStrategy::rank`]).
    pub fn records(&self) -> Vec<AgentCandidate> {
        let c = &self.columns;
        (0..self.len())
            .map(|i| {
                let skill_levels: Vec<(String, u8)> = (0..c.skill_names.len())
                    .filter_map(|j| {
                        let l = self.level_at(i, j);
                        (l > 0).then(|| (c.skill_names[j].clone(), l))
                    })
                    .collect();
                AgentCandidate {
                    id: self.id(i).to_owned(),
                    skills: skill_levels.iter().map(|(s, _)| s.clone()).collect(),
                    calls_today: c.calls_today[i],
                    talk_seconds_today: c.talk_seconds_today[i],
                    last_call_end: (c.last_call_end[i] > 0).then_some(c.last_call_end[i]),
                    order: c.order[i],
                    skill_levels,
                    penalty: c.penalty[i],
                    idle_since: c.idle_since[i],
                }
            })
            .collect()
    }
}

/// Sticky routing on positions: move to the front of `order` the caller's
/// last agent if they are in `order`, else the owner of the caller's CRM
/// contact if they are (as [`stick_to_callers_agent`] does with ids).
pub fn stick_to_callers_agent_at(order: &mut Vec<u32>, call: &WaitingCall, c: &Candidates) {
    let owner = call.contact.as_ref().and_then(|c| c.owner.as_deref());
    let at = [call.last_agent.as_deref(), owner]
        .into_iter()
        .flatten()
        .find_map(|id| order.iter().position(|&p| c.id(p as usize) == id));
    if let Some(i) = at {
        let p = order.remove(i);
        order.insert(0, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, levels: &[(&str, u8)], plain: &[&str], idle_since: u64) -> AgentCandidate {
        AgentCandidate {
            id: id.into(),
            skills: levels
                .iter()
                .map(|(s, _)| s.to_string())
                .chain(plain.iter().map(|s| s.to_string()))
                .collect(),
            calls_today: 3,
            talk_seconds_today: 400,
            last_call_end: (idle_since > 0).then_some(idle_since),
            order: 1,
            skill_levels: levels.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            penalty: 0,
            idle_since,
        }
    }

    #[test]
    fn columns_answer_ids_levels_and_positions() {
        let c = Candidates::from_records(&[
            agent("1002", &[("it", 4)], &[], 50),
            agent("77", &[], &["IT", "phone"], 0),
        ]);
        assert_eq!((c.len(), c.id(0), c.id(1)), (2, "1002", "77"));
        assert_eq!(c.position("77"), Some(1));
        assert_eq!(c.position("7"), None);
        assert_eq!(c.position("1002"), Some(0));
        // "02" + "77" spans two ids: not an id.
        assert_eq!(c.position("0277"), None);
        assert_eq!(c.position("27"), None);
        // Ids that are substrings of others, and one found only later.
        let d = Candidates::from_records(&[
            agent("2110", &[], &[], 0),
            agent("", &[], &[], 0),
            agent("11", &[], &[], 0),
            agent("110", &[], &[], 0),
        ]);
        assert_eq!(d.position("11"), Some(2));
        assert_eq!(d.position("110"), Some(3));
        assert_eq!(d.position(""), Some(1));
        assert_eq!(d.position("2110"), Some(0));
        assert_eq!(d.position("1"), None);
        assert_eq!(c.level(0, "IT"), Some(4));
        // Listed without a level: level 1; `IT` is the same skill as `it`.
        assert_eq!(c.level(1, "it"), Some(1));
        assert_eq!(c.level(0, "phone"), None);
        assert_eq!(c.level(0, "french"), None);
        assert_eq!(c.ids_at(&[1, 9, 1, 0]), ["77", "1002"]);
    }

    #[test]
    fn records_round_trip_through_columns() {
        let team = vec![
            agent("1002", &[("it", 4), ("phone", 2)], &[], 50),
            agent("1003", &[("phone", 9)], &[], 0),
        ];
        assert_eq!(Candidates::from_records(&team).records(), team);
    }

    #[test]
    fn sticky_positions_prefer_the_last_agent_then_the_owner() {
        let c = Candidates::from_records(&[
            agent("1001", &[], &[], 1),
            agent("1002", &[], &[], 2),
            agent("1003", &[], &[], 3),
        ]);
        let call = |last: Option<&str>, owner: Option<&str>| WaitingCall {
            call: crate::CallSnapshot {
                call_id: "c".into(),
                tenant: "t".into(),
                direction: crate::Direction::Inbound,
                caller: crate::Party {
                    number: "+1555".into(),
                    display_name: None,
                },
                callee: crate::Party {
                    number: "600".into(),
                    display_name: None,
                },
                dialled: "600".into(),
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
            last_agent: last.map(Into::into),
            contact: owner.map(|o| crate::Contact {
                id: "x".into(),
                name: "Ada".into(),
                company: None,
                email: None,
                owner: Some(o.into()),
                url: None,
                tags: vec![],
                fields: vec![],
            }),
            callback: false,
        };
        let stuck = |last, owner| {
            let mut order = vec![0, 1, 2];
            stick_to_callers_agent_at(&mut order, &call(last, owner), &c);
            order
        };
        assert_eq!(stuck(Some("1003"), Some("1002")), [2, 0, 1]);
        assert_eq!(stuck(Some("1009"), Some("1002")), [1, 0, 2]);
        assert_eq!(stuck(None, None), [0, 1, 2]);
    }
}
