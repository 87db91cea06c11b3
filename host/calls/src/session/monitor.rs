//! Supervision: a supervisor's phone joins a call's bridge to listen to
//! an agent, whisper to them, or barge in — as Asterisk's ChanSpy and
//! FreeSWITCH's eavesdrop do.
//!
//! The supervisor's leg is not a member of the call: the call goes on
//! and ends as it would without it (when the customer or the agent hangs
//! up, the supervisor is hung up too), and a supervisor who hangs up only
//! ends their own time on it. What a mode means is a matrix over the
//! bridge — the supervisor always hears every member; who hears the
//! supervisor is:
//!
//! | mode    | the agent | the other members (the customer) |
//! |---------|-----------|----------------------------------|
//! | listen  | no        | no                               |
//! | whisper | yes       | no                               |
//! | barge   | yes       | yes                              |
//!
//! The supervisor switches with the keys ChanSpy uses: `4` listen, `5`
//! whisper, `6` barge. The call recording's other channel is what the
//! recorded party hears, so a whisper never reaches the customer's
//! recording and a barge does. Each supervision is kept for the call
//! record: who, whom, the modes in the order they were used, and for how
//! long.

use std::time::Instant;

use super::{Command, Device, LegId, MediaCommand, Party, Phase, Session};
use crate::leg::{Leg, LegEvent};

/// How a supervisor takes part in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorMode {
    /// Hears both sides; nobody hears the supervisor.
    Listen,
    /// Hears both sides; only the agent hears the supervisor.
    Whisper,
    /// Everybody hears everybody.
    Barge,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 3] = [
        MonitorMode::Listen,
        MonitorMode::Whisper,
        MonitorMode::Barge,
    ];

    /// `listen`, `whisper`, `barge`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// The mode a supervisor's key asks for: `4` listen, `5` whisper,
    /// `6` barge (ChanSpy's keys).
    pub const fn from_key(key: char) -> Option<MonitorMode> {
        match key {
            '4' => Some(MonitorMode::Listen),
            '5' => Some(MonitorMode::Whisper),
            '6' => Some(MonitorMode::Barge),
            _ => None,
        }
    }

    /// Whether a member of the bridge hears the supervisor: `agent` says
    /// whether it is the supervised party.
    pub const fn heard_by(self, agent: bool) -> bool {
        match self {
            MonitorMode::Listen => false,
            MonitorMode::Whisper => agent,
            MonitorMode::Barge => true,
        }
    }
}

impl std::fmt::Display for MonitorMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MonitorMode {
    type Err = String;

    fn from_str(s: &str) -> Result<MonitorMode, String> {
        MonitorMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of listen, whisper, barge"))
    }
}

/// One supervisor's time on the call, for the call record and the queue
/// log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRecord {
    /// The supervisor's extension.
    pub supervisor: String,
    /// The supervised party's extension.
    pub agent: String,
    /// The modes used, in order (a switch back appears again).
    pub modes: Vec<MonitorMode>,
    /// Wall-clock milliseconds: when the supervisor joined and left.
    pub start_time: u64,
    pub end_time: u64,
}

/// A supervisor's phone ringing to join (the API's supervision).
#[derive(Debug, Clone)]
pub(super) struct RingingMonitor {
    leg: LegId,
    agent: String,
    mode: MonitorMode,
    deadline: Instant,
}

/// A supervisor on the call now.
#[derive(Debug, Clone)]
pub(super) struct Monitoring {
    leg: LegId,
    /// The supervised party's leg.
    target: LegId,
    mode: MonitorMode,
    /// Index in the session's monitor records.
    record: usize,
}

impl Session {
    /// Take `leg` — an incoming INVITE from supervisor extension `label`
    /// — into the call to supervise `agent` (an extension talking in
    /// it) in `mode`. A call in which `agent` does not talk (any more)
    /// refuses it with 480, and so does media that cannot answer its
    /// offer.
    pub fn monitor(
        &mut self,
        now: Instant,
        mut leg: Leg,
        label: String,
        agent: String,
        mode: MonitorMode,
    ) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        let offer = leg.invite().body.clone();
        let target = self.member_labelled(&agent);
        let answer = match target {
            Some(t) => self.sdp.answer_offer(id, &offer).map(|body| (t, body)),
            None => Err(480),
        };
        let (target, body) = match answer {
            Ok(answer) => answer,
            Err(code) => {
                tracing::info!(call = %self.snapshot.call_id, by = %label, %agent, code, "supervision refused");
                leg.reject(code, "Nothing To Monitor");
                self.parties.insert(
                    id,
                    Party {
                        leg,
                        record: None,
                        label,
                    },
                );
                self.pump(now);
                return id;
            }
        };
        leg.answer(now, Some(body));
        self.parties.insert(
            id,
            Party {
                leg,
                record: None,
                label,
            },
        );
        self.start_monitoring(now, id, target, agent, mode);
        self.pump(now);
        id
    }

    /// Ring the supervisor's `devices` (supervision started by the API):
    /// the first to answer joins the call to supervise `agent` in `mode`,
    /// the others stop ringing; after the ring time nobody joins. False
    /// (and nothing rings) when there is no device or `agent` does not
    /// talk in the call.
    pub fn monitor_by_dialling(
        &mut self,
        now: Instant,
        devices: Vec<Device>,
        agent: String,
        mode: MonitorMode,
    ) -> bool {
        if devices.is_empty() || self.member_labelled(&agent).is_none() {
            return false;
        }
        let deadline = now + self.config.default_ring;
        for d in devices {
            let leg = self.open_party(d);
            self.ringing_monitors.push(RingingMonitor {
                leg,
                agent: agent.clone(),
                mode,
                deadline,
            });
        }
        self.pump(now);
        true
    }

    /// Whether `leg` is a supervisor's phone ringing.
    pub(super) fn monitor_rings(&self, leg: LegId) -> bool {
        self.ringing_monitors.iter().any(|r| r.leg == leg)
    }

    /// What a ringing supervisor's phone did.
    pub(super) fn monitor_leg_event(&mut self, now: Instant, id: LegId, ev: LegEvent) {
        let Some(i) = self.ringing_monitors.iter().position(|r| r.leg == id) else {
            return;
        };
        match ev {
            LegEvent::Answered { sdp } => {
                let r = self.ringing_monitors.remove(i);
                // The supervisor's other phones stop ringing.
                let label = self.parties.get(&id).map(|p| p.label.clone());
                let others: Vec<LegId> = self
                    .ringing_monitors
                    .iter()
                    .filter(|o| self.parties.get(&o.leg).map(|p| &p.label) == label.as_ref())
                    .map(|o| o.leg)
                    .collect();
                self.ringing_monitors.retain(|o| !others.contains(&o.leg));
                for o in others {
                    self.hang_up_leg(o, 487);
                }
                if let Some(body) = &sdp
                    && let Err(e) = self.sdp.remote_answer(id, body)
                {
                    tracing::warn!(call = %self.snapshot.call_id, error = ?e, "the supervisor's answer is unusable");
                }
                match self.member_labelled(&r.agent) {
                    Some(target) => self.start_monitoring(now, id, target, r.agent, r.mode),
                    // The agent left meanwhile.
                    None => self.hang_up_leg(id, 200),
                }
            }
            LegEvent::Failed { .. } | LegEvent::HungUp | LegEvent::Cancelled => {
                self.ringing_monitors.remove(i);
                tracing::info!(call = %self.snapshot.call_id, leg = id.0, "the supervisor's phone did not answer");
            }
            LegEvent::Closed => {
                self.ringing_monitors.remove(i);
                self.leg_ended(now, id);
            }
            _ => {}
        }
    }

    /// When the first supervisor's phone rings out.
    pub(super) fn monitor_deadline(&self) -> Option<Instant> {
        self.ringing_monitors.iter().map(|r| r.deadline).min()
    }

    /// Supervisors' phones that rang for the ring time stop.
    pub(super) fn monitor_timeout(&mut self, now: Instant) {
        let (out, ringing): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ringing_monitors)
            .into_iter()
            .partition(|r| now >= r.deadline);
        self.ringing_monitors = ringing;
        for r in out {
            self.hang_up_leg(r.leg, 408);
        }
    }

    /// Supervisor leg `id` (its party made) starts supervising `target`
    /// (extension `agent`) in `mode`.
    fn start_monitoring(
        &mut self,
        now: Instant,
        id: LegId,
        target: LegId,
        agent: String,
        mode: MonitorMode,
    ) {
        let label = self
            .parties
            .get(&id)
            .map(|p| p.label.clone())
            .unwrap_or_default();
        tracing::info!(call = %self.snapshot.call_id, by = %label, %agent, %mode, "supervision starts");
        self.monitor_records.push(MonitorRecord {
            supervisor: label,
            agent,
            modes: vec![mode],
            start_time: self.wall_ms(now),
            end_time: 0,
        });
        self.monitors.push(Monitoring {
            leg: id,
            target,
            mode,
            record: self.monitor_records.len() - 1,
        });
        self.media(MediaCommand::KeepKeys { leg: id });
        // Joining makes everybody hear everybody; the mode's matrix is
        // set by the commands right after, before any audio is mixed (the
        // media task takes every command waiting before a packet).
        self.media(MediaCommand::Connect { a: target, b: id });
        self.apply_monitor(id);
        self.tell_monitoring(id);
    }

    /// The member of the bridge that extension `ext` talks on.
    fn member_labelled(&self, ext: &str) -> Option<LegId> {
        let Phase::Bridged { members, .. } = &self.phase else {
            return None;
        };
        members
            .iter()
            .copied()
            .find(|m| self.parties.get(m).is_some_and(|p| p.label == ext))
    }

    /// Set who hears supervisor `sup` by its mode: the members as the
    /// table above says; other supervisors only when it barges.
    fn apply_monitor(&mut self, sup: LegId) {
        let Some(m) = self.monitors.iter().find(|m| m.leg == sup).cloned() else {
            return;
        };
        let Phase::Bridged { members, .. } = &self.phase else {
            return;
        };
        let mut commands: Vec<MediaCommand> = members
            .iter()
            .map(|&member| MediaCommand::Hears {
                listener: member,
                source: sup,
                on: m.mode.heard_by(member == m.target),
            })
            .collect();
        commands.extend(self.monitors.iter().filter(|o| o.leg != sup).map(|o| {
            MediaCommand::Hears {
                listener: o.leg,
                source: sup,
                on: m.mode == MonitorMode::Barge,
            }
        }));
        for c in commands {
            self.media(c);
        }
    }

    /// The bridge's members changed (a party dialled in joined): every
    /// supervisor's matrix again, since joining made everybody hear them.
    pub(super) fn reapply_monitors(&mut self) {
        let sups: Vec<LegId> = self.monitors.iter().map(|m| m.leg).collect();
        for s in sups {
            self.apply_monitor(s);
        }
    }

    /// A key pressed on `leg`: a supervisor's `4`/`5`/`6` switch its mode.
    /// True when `leg` is a supervisor's (its keys are never the flow's).
    pub(super) fn monitor_key(&mut self, leg: LegId, key: char) -> bool {
        let Some(i) = self.monitors.iter().position(|m| m.leg == leg) else {
            return false;
        };
        if let Some(mode) = MonitorMode::from_key(key)
            && mode != self.monitors[i].mode
        {
            self.monitors[i].mode = mode;
            let r = self.monitors[i].record;
            self.monitor_records[r].modes.push(mode);
            tracing::info!(call = %self.snapshot.call_id, supervisor = %self.monitor_records[r].supervisor, %mode, "supervision mode");
            self.apply_monitor(leg);
            self.tell_monitoring(leg);
        }
        true
    }

    /// `leg` ended; if it was a supervisor's, its time on the call ends.
    /// If it was the supervised agent's (a transfer, a three-way call they
    /// left), their supervisors are hung up: what they hear and who hears
    /// them was about that agent, and must not carry over to whoever
    /// talks next.
    pub(super) fn monitor_left(&mut self, now: Instant, leg: LegId) {
        let watching: Vec<LegId> = self
            .monitors
            .iter()
            .filter(|m| m.target == leg)
            .map(|m| m.leg)
            .collect();
        // A bridge left with one member ends now: the supervisors' BYEs
        // then wait for the record, as every party's do.
        let ending = matches!(&self.phase, Phase::Bridged { members, .. } if members.len() < 2);
        for sup in watching {
            tracing::info!(call = %self.snapshot.call_id, supervisor = sup.0, "the supervised agent left: supervision ends");
            self.hang_up_leg(sup, 200);
            if !ending {
                // The call goes on: the BYE is not held for its record.
                self.release_held(sup);
            }
            self.monitor_left(now, sup);
        }
        let Some(i) = self.monitors.iter().position(|m| m.leg == leg) else {
            return;
        };
        let m = self.monitors.remove(i);
        let r = &mut self.monitor_records[m.record];
        r.end_time = self.start_ms + now.saturating_duration_since(self.start).as_millis() as u64;
        self.commands.push_back(Command::Monitoring {
            supervisor: r.supervisor.clone(),
            agent: r.agent.clone(),
            mode: None,
        });
    }

    /// The supervisions of the call, those still going ending at `end`.
    pub(super) fn monitor_records(&self, end: u64) -> Vec<MonitorRecord> {
        let mut v = self.monitor_records.clone();
        for r in v.iter_mut().filter(|r| r.end_time == 0) {
            r.end_time = end;
        }
        v
    }

    fn tell_monitoring(&mut self, sup: LegId) {
        let Some(m) = self.monitors.iter().find(|m| m.leg == sup) else {
            return;
        };
        let r = &self.monitor_records[m.record];
        self.commands.push_back(Command::Monitoring {
            supervisor: r.supervisor.clone(),
            agent: r.agent.clone(),
            mode: Some(m.mode),
        });
    }
}
