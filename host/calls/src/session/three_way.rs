//! Three-way calling: a party of a bridged call (the agent) adds a third
//! party — an extension or a number — and stays, or hangs up and leaves
//! the other two talking. From the phone it is a feature code keyed
//! during the call, no REFER: `*3`, the number, `#`; from the API it is
//! `POST …/calls/{id}/add`. The host resolves the target's devices and
//! rings them; the first to answer joins the bridge (everybody hears
//! everybody), the others stop ringing.

use std::time::{Duration, Instant};

use super::{Command, Device, LegId, Phase, Session};

/// How long the number may take to key in after `*3`.
const KEYING_TIME: Duration = Duration::from_secs(10);

/// A party keying in a number to add.
#[derive(Debug)]
pub(super) struct Keying {
    leg: LegId,
    /// `*` pressed, waiting for `3`.
    star: bool,
    /// The number so far (after `*3`).
    digits: Option<String>,
    since: Instant,
}

impl Session {
    /// A key of bridged party `leg`; true when it belongs to a feature
    /// code (the keys are still heard by the others, as on any phone).
    pub(super) fn three_way_key(&mut self, now: Instant, leg: LegId, key: char) -> bool {
        // Staff only: a caller from outside (a carrier's) adds nobody.
        let outsider = leg == self.caller
            && self.snapshot.direction == switchyard_plugins::types::Direction::Inbound;
        if outsider || !self.is_member(leg) {
            return false;
        }
        let k = match self.keying.take() {
            Some(k) if k.leg == leg && now.duration_since(k.since) <= KEYING_TIME => k,
            _ => Keying {
                leg,
                star: false,
                digits: None,
                since: now,
            },
        };
        let keying = |star, digits| Keying {
            leg,
            star,
            digits,
            since: now,
        };
        let next = match (k.digits, k.star, key) {
            (None, false, '*') => Some(keying(true, None)),
            (None, true, '3') => Some(keying(false, Some(String::new()))),
            (Some(d), _, '#') if !d.is_empty() => {
                tracing::info!(call = %self.snapshot.call_id, leg = leg.0, target = %d, "three-way: adding a party");
                self.commands.push_back(Command::AddParty { target: d });
                None
            }
            (Some(mut d), _, c) if c.is_ascii_digit() || c == '+' => {
                d.push(c);
                Some(keying(false, Some(d)))
            }
            _ => None,
        };
        let keyed = next.is_some();
        self.keying = next;
        keyed
    }

    /// Ring `devices` (the third party's) into the bridge; false when the
    /// call is not bridged or there is nothing to ring.
    pub fn add_parties(&mut self, now: Instant, devices: Vec<Device>) -> bool {
        if devices.is_empty() || !matches!(self.phase, Phase::Bridged { .. }) {
            return false;
        }
        for d in devices {
            self.add_party(now, d);
        }
        true
    }

    /// A party dialled in answered: the others rung with it stop.
    pub(super) fn others_joining_stop(&mut self, answered: LegId) {
        let Phase::Bridged { joining, .. } = &mut self.phase else {
            return;
        };
        let label = self.parties.get(&answered).map(|p| p.label.clone());
        let others: Vec<LegId> = joining
            .iter()
            .copied()
            .filter(|j| self.parties.get(j).map(|p| &p.label) == label.as_ref())
            .collect();
        joining.retain(|j| !others.contains(j));
        for o in others {
            self.hang_up_leg(o, 487);
        }
    }
}
