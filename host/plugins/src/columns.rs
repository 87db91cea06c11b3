//! The candidates of a decision as `ranking-types.candidate-columns`, for
//! strategies that export `ranking` (0.2.1): one list per field, the ids in
//! one string, the skills as a level matrix. See the WIT for why.

use crate::bindings::queue_types::AgentCandidate;
use crate::bindings::ranking_types::CandidateColumns;

/// One candidate's fields, borrowed from whatever the caller keeps them in
/// (WIT records, or the queue engine's own candidates), so the columns are
/// built without first copying every candidate into a record.
#[derive(Debug, Clone, Copy)]
pub struct CandidateRef<'a> {
    pub id: &'a str,
    /// Skills with their levels.
    pub skill_levels: &'a [(String, u8)],
    /// Skills listed without a level (level 1), if any.
    pub unlevelled: &'a [String],
    pub calls_today: u32,
    pub talk_seconds_today: u32,
    pub last_call_end: Option<u64>,
    pub idle_since: u64,
    pub order: u32,
    pub penalty: u32,
}

impl<'a> From<&'a AgentCandidate> for CandidateRef<'a> {
    fn from(a: &'a AgentCandidate) -> Self {
        CandidateRef {
            id: &a.id,
            skill_levels: &a.skill_levels,
            unlevelled: &a.skills,
            calls_today: a.calls_today,
            talk_seconds_today: a.talk_seconds_today,
            last_call_end: a.last_call_end,
            idle_since: a.idle_since,
            order: a.order,
            penalty: a.penalty,
        }
    }
}

/// `candidates` as columns, in the same order (position `i` is the `i`th
/// candidate). Skill names are one column whatever their ASCII case (the
/// first spelling names it), as strategies compare them; a skill listed
/// without a level gets level 1, so "has the skill" reads the same in both
/// shapes.
pub fn candidate_columns<'a>(
    candidates: impl ExactSizeIterator<Item = CandidateRef<'a>>,
) -> CandidateColumns {
    // Gathered once, then each column in a loop of its own: plain copies
    // the compiler can vectorise, instead of eight growing lists per
    // candidate.
    let rows: Vec<CandidateRef<'a>> = candidates.collect();
    let column = |f: fn(&CandidateRef<'a>) -> u32| rows.iter().map(f).collect::<Vec<u32>>();
    let mut c = CandidateColumns {
        ids: String::with_capacity(rows.iter().map(|a| a.id.len()).sum()),
        id_ends: Vec::with_capacity(rows.len()),
        calls_today: column(|a| a.calls_today),
        talk_seconds_today: column(|a| a.talk_seconds_today),
        last_call_end: rows.iter().map(|a| a.last_call_end.unwrap_or(0)).collect(),
        idle_since: rows.iter().map(|a| a.idle_since).collect(),
        order: column(|a| a.order),
        penalty: column(|a| a.penalty),
        skill_names: Vec::new(),
        skill_levels: Vec::new(),
    };
    for a in &rows {
        c.ids.push_str(a.id);
        c.id_ends.push(c.ids.len() as u32);
    }
    // A queue has a handful of skills: a list scan beats hashing here.
    let skill_index = |names: &mut Vec<String>, skill: &str| match names
        .iter()
        .position(|s| s.eq_ignore_ascii_case(skill))
    {
        Some(j) => j,
        None => {
            names.push(skill.to_owned());
            names.len() - 1
        }
    };
    let mut held: Vec<(usize, usize, u8)> =
        Vec::with_capacity(rows.iter().map(|a| a.skill_levels.len()).sum());
    for (i, a) in rows.iter().enumerate() {
        for (skill, level) in a.skill_levels {
            let j = skill_index(&mut c.skill_names, skill);
            held.push((i, j, (*level).max(1)));
        }
        for skill in a.unlevelled {
            if !a
                .skill_levels
                .iter()
                .any(|(s, _)| s.eq_ignore_ascii_case(skill))
            {
                let j = skill_index(&mut c.skill_names, skill);
                held.push((i, j, 1));
            }
        }
    }
    let width = c.skill_names.len();
    c.skill_levels = vec![0; rows.len() * width];
    for (i, j, level) in held {
        c.skill_levels[i * width + j] = level;
    }
    c
}

/// Records as columns (see [`candidate_columns`]).
pub(crate) fn of(candidates: &[AgentCandidate]) -> CandidateColumns {
    candidate_columns(candidates.iter().map(CandidateRef::from))
}

/// `positions` with those out of range (of `len` candidates) and repeats
/// left out, as the WIT says the host ignores them.
pub(crate) fn valid_positions(len: usize, positions: Vec<u32>) -> Vec<u32> {
    let mut taken = vec![false; len];
    positions
        .into_iter()
        .filter(|&p| {
            taken
                .get_mut(p as usize)
                .is_some_and(|slot| !std::mem::replace(slot, true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, levels: &[(&str, u8)], extra: &[&str]) -> AgentCandidate {
        AgentCandidate {
            id: id.into(),
            skills: levels
                .iter()
                .map(|(s, _)| s.to_string())
                .chain(extra.iter().map(|s| s.to_string()))
                .collect(),
            calls_today: id.len() as u32,
            talk_seconds_today: 7,
            last_call_end: None,
            order: 3,
            skill_levels: levels.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            penalty: 2,
            idle_since: 99,
        }
    }

    #[test]
    fn columns_keep_every_field_in_candidate_order() {
        let c = of(&[
            agent("1002", &[("en", 5), ("billing", 2)], &[]),
            agent("31", &[("fr", 9)], &["EN"]),
        ]);
        assert_eq!(c.ids, "100231");
        assert_eq!(c.id_ends, [4, 6]);
        assert_eq!(c.calls_today, [4, 2]);
        assert_eq!(c.last_call_end, [0, 0]);
        assert_eq!(c.idle_since, [99, 99]);
        assert_eq!(c.penalty, [2, 2]);
        assert_eq!(c.skill_names, ["en", "billing", "fr"]);
        // 31 lists `EN` (the same skill) without a level: level 1.
        assert_eq!(c.skill_levels, [5, 2, 0, 1, 0, 9]);
    }

    #[test]
    fn no_candidates_no_columns() {
        let c = of(&[]);
        assert!(c.ids.is_empty() && c.id_ends.is_empty() && c.skill_levels.is_empty());
    }

    #[test]
    fn positions_out_of_range_and_repeats_are_dropped() {
        assert_eq!(valid_positions(3, vec![2, 7, 0, 2, 0]), [2, 0]);
        assert!(valid_positions(0, vec![0]).is_empty());
    }
}
