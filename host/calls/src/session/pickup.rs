//! Call pickup: a phone that dials a pickup code takes a call that rings
//! another phone (directed `**1002`, or the group's `*8`) — a flow's dial,
//! or a queue's offer to an agent. The picking
//! phone's INVITE is a leg of its own; the driver that received it hands
//! the leg over to the ringing call's session, which answers it with its
//! own media, stops the ringing phones and connects the caller to it, as
//! if that phone had rung and answered.

use std::time::Instant;

use switchyard_plugins::types::{Disposition, LegRecord};

use super::{LegId, MediaCommand, Party, Phase, Session};
use crate::calls_in_progress::CallState;
use crate::leg::Leg;

impl Session {
    /// Take `leg` (an incoming INVITE of extension `label`) as the one
    /// who answers the ringing call. A call that is not ringing any more
    /// (answered, ended) refuses it with 480, and so does media that
    /// cannot answer its offer.
    pub fn adopt(&mut self, now: Instant, mut leg: Leg, label: String) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        let offer = leg.invite().body.clone();
        let answer = match &self.phase {
            Phase::Ringing(r) if r.transfer_from.is_none() => {
                self.sdp.answer_offer(id, &offer).inspect_err(|code| {
                    tracing::info!(call = %self.snapshot.call_id, code, "pickup: the picking phone's offer is unusable");
                })
            }
            Phase::Queued(q) if q.farewell.is_none() && !q.offers.is_empty() => {
                self.sdp.answer_offer(id, &offer).inspect_err(|code| {
                    tracing::info!(call = %self.snapshot.call_id, code, "pickup: the picking phone's offer is unusable");
                })
            }
            _ => Err(480),
        };
        self.legs.push(LegRecord {
            target: label.clone(),
            start_time: self.wall_ms(now),
            answer_time: None,
            end_time: 0,
            sip_code: 0,
        });
        let body = match answer {
            Ok(body) => body,
            Err(code) => {
                leg.reject(code, "Nothing To Pick Up");
                let i = self.legs.len() - 1;
                self.legs[i].sip_code = code;
                self.parties.insert(
                    id,
                    Party {
                        leg,
                        record: Some(i),
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
                record: Some(self.legs.len() - 1),
                label: label.clone(),
            },
        );
        tracing::info!(call = %self.snapshot.call_id, by = %label, "picked up");
        if let Phase::Queued(q) = &mut self.phase {
            // A queue's offer: the pickup answers it for the agent it rang,
            // as a queue sees it in Asterisk too — the engine counts that
            // agent's offer as answered (their wrap-up follows), the
            // picking phone talks, and every phone still ringing stops.
            let agent = q.offers[0].1.clone();
            q.offers.push((id, agent));
            self.queue_answered(now, id, None);
            self.pump(now);
            return id;
        }
        let Phase::Ringing(r) = std::mem::replace(&mut self.phase, Phase::Deciding) else {
            unreachable!("checked above");
        };
        for l in r.legs {
            self.hang_up_leg(l, 487);
        }
        self.stamp_answer(now, id);
        let caller = self.caller;
        self.answer_caller_with(now, id);
        self.media(MediaCommand::Connect { a: caller, b: id });
        self.media(MediaCommand::StartRecording { leg: caller });
        self.disposition = Disposition::Answered;
        self.agent = Some(label);
        self.phase = Phase::Bridged {
            members: vec![caller, id],
            joining: Vec::new(),
        };
        self.live(CallState::Answered, self.agent.clone());
        self.pump(now);
        id
    }

    /// The extensions whose phones ring for this call now (what a pickup
    /// can take); none unless a flow's dial rings them.
    pub fn ringing_labels(&self) -> Vec<String> {
        let label = |l: &LegId| self.parties.get(l).map(|p| p.label.clone());
        match &self.phase {
            Phase::Ringing(r) if r.transfer_from.is_none() => {
                r.legs.iter().filter_map(label).collect()
            }
            // Agents' phones ringing with a queue's offer.
            Phase::Queued(q) if q.farewell.is_none() => {
                q.offers.iter().filter_map(|(l, _)| label(l)).collect()
            }
            _ => Vec::new(),
        }
    }
}
