//! Every tenant's conference rooms in use: who is in each, moderators,
//! locks, mutes; the room's mixer (`switchyard_media::RoomHandle`), its
//! recording and its record.
//!
//! A room comes into use with its first participant and goes with its
//! last. Its settings are the tenant's (`ConferenceRoom` in the store); a
//! room the tenant never configured is used with the defaults, as
//! Asterisk's ConfBridge makes a bridge on demand. Decisions are made
//! here under one lock and carried out on the room's mixer and by
//! messages to the participants' calls ([`ConferenceSignal`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use switchyard_media::{MemberId, PlayItem, RoomEvent, RoomHandle, Station, ToneSpec};
use switchyard_plugins::flow_types::Prompt;
use switchyard_store::{Cdr, CdrLeg, ConferenceRoom, Disposition};
use tokio::sync::mpsc;

use crate::calls_in_progress::NoticeKind;
use crate::{CallMsg, Shared, Tenant, audio};
use switchyard_clock::unix_ms;

/// What the conference service tells a participant's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceSignal {
    /// Removed from the room (kick), or the room ended: hang up.
    Ended,
    /// Muted or unmuted (by `*6` or the API).
    Muted(bool),
}

/// Why a room would not take a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    Locked,
    Full,
    /// The tenant's plan has no conferences.
    NotInPlan,
}

impl JoinRefused {
    /// The prompt that tells the caller.
    pub fn prompt(self) -> &'static str {
        match self {
            JoinRefused::Locked => "sy-conf-locked",
            JoinRefused::Full => "sy-conf-full",
            JoinRefused::NotInPlan => "please-try-later",
        }
    }
}

/// A caller asking to join.
pub(crate) struct JoinRequest {
    pub call_id: String,
    pub task: mpsc::UnboundedSender<CallMsg>,
    /// The caller's number (an extension, or an outside number).
    pub caller: String,
    pub moderator: bool,
    pub muted: bool,
}

/// A participant as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    /// The participant's call.
    pub call_id: String,
    pub caller: String,
    pub moderator: bool,
    pub muted: bool,
    pub talking: bool,
    pub joined_ms: u64,
}

/// A room in use, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    pub name: String,
    pub locked: bool,
    /// Waiting for a moderator: the participants hear music.
    pub waiting: bool,
    pub started_ms: u64,
    pub participants: Vec<ParticipantView>,
}

struct Participant {
    member: MemberId,
    call_id: String,
    task: mpsc::UnboundedSender<CallMsg>,
    caller: String,
    moderator: bool,
    muted: bool,
    talking: bool,
    joined_ms: u64,
}

struct LiveRoom {
    config: ConferenceRoom,
    media: RoomHandle,
    members: Vec<Participant>,
    locked: bool,
    next_member: u64,
    started_ms: u64,
    /// Everybody who was in it, for its record: (caller, joined, left).
    history: Vec<(String, u64, u64)>,
    /// The recording being written.
    recording: Option<PathBuf>,
}

impl LiveRoom {
    fn has_moderator(&self) -> bool {
        self.members.iter().any(|m| m.moderator)
    }

    fn waiting(&self) -> bool {
        self.config.wait_for_moderator && !self.has_moderator()
    }

    fn view(&self) -> RoomView {
        RoomView {
            name: self.config.name.clone(),
            locked: self.locked,
            waiting: self.waiting(),
            started_ms: self.started_ms,
            participants: self
                .members
                .iter()
                .map(|m| ParticipantView {
                    call_id: m.call_id.clone(),
                    caller: m.caller.clone(),
                    moderator: m.moderator,
                    muted: m.muted,
                    talking: m.talking,
                    joined_ms: m.joined_ms,
                })
                .collect(),
        }
    }
}

/// Rooms in use, by (tenant, room).
#[derive(Default)]
pub(crate) struct Conferences {
    rooms: Mutex<HashMap<(String, String), LiveRoom>>,
}

/// The room settings for `room` of `tenant`: its own, else the defaults.
fn settings(tenant: &Tenant, room: &str) -> ConferenceRoom {
    tenant
        .conferences
        .get(room)
        .cloned()
        .unwrap_or_else(|| ConferenceRoom::new(tenant.id.clone(), room))
}

fn join_tone() -> PlayItem {
    PlayItem::Tone(ToneSpec {
        frequencies: vec![660.0, 880.0],
        ..ToneSpec::beep()
    })
}

fn leave_tone() -> PlayItem {
    PlayItem::Tone(ToneSpec {
        frequencies: vec![440.0],
        ..ToneSpec::beep()
    })
}

impl Conferences {
    /// What a caller of `tenant` needs to join `room`: the PIN to key in
    /// (`None`: none — moderators need none) and whether they moderate
    /// (the flow said so, or the room lists their extension).
    pub fn setup(
        &self,
        tenant: &Tenant,
        room: &str,
        caller: &str,
        moderator: bool,
    ) -> (Option<String>, bool) {
        let s = settings(tenant, room);
        let moderator = moderator || s.moderators.iter().any(|m| m == caller);
        (s.pin.filter(|_| !moderator), moderator)
    }

    /// Let a caller into `room`: the room's mixer, their place in it, and
    /// whether they are muted.
    pub fn join(
        &self,
        shared: &Arc<Shared>,
        tenant: &Tenant,
        room: &str,
        req: JoinRequest,
    ) -> Result<(RoomHandle, MemberId, bool), JoinRefused> {
        if !tenant.features.conferences {
            return Err(JoinRefused::NotInPlan);
        }
        let key = (tenant.id.clone(), room.to_string());
        let mut rooms = self.rooms.lock().expect("conference lock");
        let live = rooms.entry(key.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let media = RoomHandle::start(tx);
            tokio::spawn(room_events(
                shared.clone(),
                tenant.id.clone(),
                room.to_string(),
                rx,
            ));
            let config = settings(tenant, room);
            let may_record = config.record && tenant.recording.is_some() && {
                let room_left = tenant.recording_for(&shared.store).is_some();
                if !room_left {
                    shared.metrics.recording_refused(&tenant.id, "storage-full");
                }
                room_left
            };
            let recording = may_record
                .then(|| {
                    let path = audio::media_tmp(shared);
                    match media.start_recording(&path) {
                        Ok(()) => Some(path),
                        Err(e) => {
                            tracing::error!(tenant = %tenant.id, %room, error = %e, "conference not recorded");
                            None
                        }
                    }
                })
                .flatten();
            tracing::info!(tenant = %tenant.id, %room, "conference room in use");
            LiveRoom {
                config,
                media,
                members: Vec::new(),
                locked: false,
                next_member: 0,
                started_ms: unix_ms(),
                history: Vec::new(),
                recording,
            }
        });
        // Settings changed meanwhile apply to who joins from now on.
        live.config = settings(tenant, room);
        if live.locked && !req.moderator {
            return Err(JoinRefused::Locked);
        }
        let max = live.config.max_participants as usize;
        if max > 0 && live.members.len() >= max {
            return Err(JoinRefused::Full);
        }
        let muted = req.muted || (live.config.muted_on_join && !req.moderator);
        let member = MemberId(live.next_member);
        live.next_member += 1;
        let others = live.members.len();
        if live.config.tones && others > 0 {
            live.media.play_all(vec![join_tone()]);
        }
        live.members.push(Participant {
            member,
            call_id: req.call_id.clone(),
            task: req.task,
            caller: req.caller.clone(),
            moderator: req.moderator,
            muted,
            talking: false,
            joined_ms: unix_ms(),
        });
        let mut greeting = Vec::new();
        if live.config.announce_count {
            greeting.extend(audio::conference_count(others));
        }
        if live.waiting() {
            greeting.push(Prompt::File("sy-conf-wait-moderator".into()));
        }
        if muted {
            greeting.push(Prompt::File("sy-conf-muted".into()));
        }
        if !greeting.is_empty() {
            let items = audio::play_items(shared, tenant, &greeting);
            live.media.play_to(member, items);
        }
        // Nobody talks before the moderator comes: music for all.
        let waiting = live.waiting();
        if waiting != live.media.has_music() {
            live.media
                .set_music(waiting.then(|| music(shared, tenant)).flatten());
        }
        let detail = serde_json::json!({
            "room": room, "caller": req.caller, "moderator": req.moderator,
            "muted": muted, "participants": live.members.len(),
        });
        shared.in_progress.notify(
            &tenant.id,
            NoticeKind::Conference("conference-joined"),
            &req.call_id,
            Some(detail.to_string()),
        );
        tracing::info!(tenant = %tenant.id, %room, caller = %req.caller, moderator = req.moderator, muted, participants = live.members.len(), "joined the conference");
        Ok((live.media.clone(), member, muted))
    }

    /// The call `call_id` of `tenant` left its room (hung up).
    pub fn leave(&self, shared: &Arc<Shared>, tenant: &Arc<Tenant>, call_id: &str) {
        let mut rooms = self.rooms.lock().expect("conference lock");
        let Some((key, live)) = rooms
            .iter_mut()
            .find(|((t, _), r)| *t == tenant.id && r.members.iter().any(|m| m.call_id == call_id))
        else {
            return;
        };
        let key = key.clone();
        let i = live
            .members
            .iter()
            .position(|m| m.call_id == call_id)
            .expect("found above");
        let p = live.members.remove(i);
        live.media.remove(p.member);
        live.history
            .push((p.caller.clone(), p.joined_ms, unix_ms()));
        let room = key.1.clone();
        shared.in_progress.notify(
            &tenant.id,
            NoticeKind::Conference("conference-left"),
            call_id,
            Some(serde_json::json!({"room": room, "caller": p.caller, "participants": live.members.len()}).to_string()),
        );
        if live.members.is_empty() {
            let live = rooms.remove(&key).expect("found above");
            drop(rooms);
            return close(shared, tenant, live);
        }
        if p.moderator && !live.has_moderator() && live.config.end_when_moderator_leaves {
            tracing::info!(tenant = %tenant.id, %room, "the last moderator left: the conference ends");
            for m in &live.members {
                let _ = m.task.send(CallMsg::Conference(ConferenceSignal::Ended));
            }
            return;
        }
        if live.config.tones {
            live.media.play_all(vec![leave_tone()]);
        }
        if live.waiting() && !live.media.has_music() {
            live.media.set_music(music(shared, tenant));
        }
    }

    /// `*6` from the call `call_id`: its mute flips.
    pub fn toggle_mute(&self, shared: &Arc<Shared>, tenant: &Tenant, call_id: &str) {
        let now = {
            let rooms = self.rooms.lock().expect("conference lock");
            rooms
                .iter()
                .filter(|((t, _), _)| *t == tenant.id)
                .find_map(|((_, room), r)| {
                    r.members
                        .iter()
                        .find(|m| m.call_id == call_id)
                        .map(|m| (room.clone(), !m.muted))
                })
        };
        if let Some((room, muted)) = now {
            self.set_muted(shared, tenant, &room, call_id, muted);
        }
    }

    /// Mute or unmute participant `call_id` of `room`; false when there
    /// is no such participant.
    pub fn set_muted(
        &self,
        shared: &Arc<Shared>,
        tenant: &Tenant,
        room: &str,
        call_id: &str,
        muted: bool,
    ) -> bool {
        let mut rooms = self.rooms.lock().expect("conference lock");
        let Some(live) = rooms.get_mut(&(tenant.id.clone(), room.to_string())) else {
            return false;
        };
        let Some(p) = live.members.iter_mut().find(|m| m.call_id == call_id) else {
            return false;
        };
        p.muted = muted;
        live.media.set_muted(p.member, muted);
        let prompt = if muted {
            "sy-conf-muted"
        } else {
            "sy-conf-unmuted"
        };
        let items = audio::play_items(shared, tenant, &[Prompt::File(prompt.into())]);
        live.media.play_to(p.member, items);
        let _ = p
            .task
            .send(CallMsg::Conference(ConferenceSignal::Muted(muted)));
        let kind = if muted {
            "conference-muted"
        } else {
            "conference-unmuted"
        };
        shared.in_progress.notify(
            &tenant.id,
            NoticeKind::Conference(kind),
            call_id,
            Some(serde_json::json!({"room": room, "caller": p.caller}).to_string()),
        );
        true
    }

    /// Remove participant `call_id` from `room` (its call ends); false
    /// when there is no such participant.
    pub fn kick(&self, tenant: &str, room: &str, call_id: &str) -> bool {
        let rooms = self.rooms.lock().expect("conference lock");
        let Some(p) = rooms
            .get(&(tenant.to_string(), room.to_string()))
            .and_then(|r| r.members.iter().find(|m| m.call_id == call_id))
        else {
            return false;
        };
        tracing::info!(%tenant, %room, caller = %p.caller, "removed from the conference");
        let _ = p.task.send(CallMsg::Conference(ConferenceSignal::Ended));
        true
    }

    /// Lock (nobody but moderators joins) or unlock `room`; false when
    /// it is not in use.
    pub fn lock(&self, tenant: &str, room: &str, locked: bool) -> bool {
        let mut rooms = self.rooms.lock().expect("conference lock");
        match rooms.get_mut(&(tenant.to_string(), room.to_string())) {
            Some(r) => {
                r.locked = locked;
                true
            }
            None => false,
        }
    }

    /// The tenant's rooms in use.
    pub fn list(&self, tenant: &str) -> Vec<RoomView> {
        let rooms = self.rooms.lock().expect("conference lock");
        let mut v: Vec<RoomView> = rooms
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, r)| r.view())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn talking(&self, shared: &Shared, tenant: &str, room: &str, member: MemberId, on: bool) {
        let mut rooms = self.rooms.lock().expect("conference lock");
        let Some(p) = rooms
            .get_mut(&(tenant.to_string(), room.to_string()))
            .and_then(|r| r.members.iter_mut().find(|m| m.member == member))
        else {
            return;
        };
        p.talking = on;
        let kind = if on {
            "conference-talking"
        } else {
            "conference-silent"
        };
        shared.in_progress.notify(
            tenant,
            NoticeKind::Conference(kind),
            &p.call_id,
            Some(serde_json::json!({"room": room, "caller": p.caller}).to_string()),
        );
    }
}

/// The tenant's music on hold as a station (the waiting music).
fn music(shared: &Shared, tenant: &Tenant) -> Option<Station> {
    match audio::music_on_hold(shared, tenant).as_slice() {
        [PlayItem::Samples(samples)] => {
            Some(Station::new(samples.clone(), std::time::Instant::now()))
        }
        _ => None,
    }
}

/// The room's talking changes, told to the live stream.
async fn room_events(
    shared: Arc<Shared>,
    tenant: String,
    room: String,
    mut rx: mpsc::UnboundedReceiver<RoomEvent>,
) {
    while let Some(e) = rx.recv().await {
        match e {
            RoomEvent::Talking(member, on) => shared
                .conferences
                .talking(&shared, &tenant, &room, member, on),
            RoomEvent::RecordingFailed(e) => {
                tracing::error!(%tenant, %room, error = %e, "conference recording stopped")
            }
        }
    }
}

/// The last participant left: the mixer stops, the recording is stored,
/// the room's record written.
fn close(shared: &Arc<Shared>, tenant: &Arc<Tenant>, live: LiveRoom) {
    let duration = live.media.stop_recording();
    live.media.close();
    let room = live.config.name.clone();
    tracing::info!(tenant = %tenant.id, %room, "conference room over");
    // Told first: the room's record, when it is there, comes after.
    shared.in_progress.notify(
        &tenant.id,
        NoticeKind::Conference("conference-ended"),
        "",
        Some(serde_json::json!({"room": room}).to_string()),
    );
    let shared = shared.clone();
    let tenant_id = tenant.id.clone();
    let tenant = tenant.clone();
    tokio::spawn(async move {
        let call_id = format!("conference-{room}-{}", live.started_ms);
        let end = unix_ms();
        let snapshot = switchyard_plugins::types::CallSnapshot {
            call_id: call_id.clone(),
            tenant: tenant_id.clone(),
            direction: switchyard_plugins::types::Direction::Internal,
            caller: switchyard_plugins::types::Party {
                number: room.clone(),
                display_name: None,
            },
            callee: switchyard_plugins::types::Party {
                number: room.clone(),
                display_name: None,
            },
            dialled: room.clone(),
            tags: Vec::new(),
            start_time: live.started_ms,
            answer_time: Some(live.started_ms),
            time_zone: String::new(),
            flow: String::new(),
            plugin_version: 0,
        };
        let mut recording = None;
        if let (Some(path), Some(d)) = (&live.recording, duration) {
            let meta = BTreeMap::from([
                ("duration_ms".to_string(), d.as_millis().to_string()),
                ("conference".to_string(), room.clone()),
            ]);
            recording =
                audio::store_audio(&shared, &tenant, &snapshot, "recording", path, meta).await;
        } else if let Some(path) = &live.recording {
            let _ = std::fs::remove_file(path);
        }
        let cdr = Cdr {
            id: format!("{:016x}", rand::random::<u64>()),
            tenant: tenant_id.clone(),
            call_id,
            direction: "internal".into(),
            caller: room.clone(),
            caller_name: None,
            callee: room.clone(),
            dialled: room.clone(),
            start_ms: live.started_ms,
            answer_ms: Some(live.started_ms),
            end_ms: end,
            disposition: Disposition::Answered,
            hangup_by: None,
            sip_code: 200,
            queue: None,
            agent: None,
            tags: vec!["conference".into()],
            recording,
            flow_plugin: None,
            plugin_version: None,
            legs: live
                .history
                .iter()
                .map(|(caller, joined, left)| CdrLeg {
                    target: caller.clone(),
                    start_ms: *joined,
                    answer_ms: Some(*joined),
                    end_ms: *left,
                    sip_code: 200,
                })
                .collect(),
            monitors: Vec::new(),
        };
        if let Err(e) = shared.cdr_log.write(cdr).await {
            tracing::error!(tenant = %tenant_id, %room, error = %e, "conference record not stored")
        }
    });
}
