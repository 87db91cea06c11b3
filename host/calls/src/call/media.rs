//! The flow's media actions on the caller's leg: the host answers the call
//! itself and plays prompts, gathers digits, records a message or takes a
//! voicemail, while watching the caller's dialog (BYE, digits by SIP INFO,
//! hold by re-INVITE). Also what an anchored call hears from the host
//! outside the flow: ringback while an answered caller waits for an agent,
//! music on hold, and the call recording.
//!
//! Everything sounds through the call's media task ([`crate::anchor`]);
//! without anchored media (`media` off, or an INVITE without SDP) the
//! actions keep their old, silent meaning: `play` ends at once and `gather`
//! times out.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use switchyard_media::{MediaEvent, MessageEnd, PlayItem, ToneSpec};
use switchyard_plugins::flow_types::{
    Event, Gather, Gathered, Prompt, RecordAudio, Recording, Tone,
};
use switchyard_plugins::types::{Disposition, HangupSide, Notice, NoticeKind};
use switchyard_rtp::tones::Region;
use switchyard_sip::dialog::Dialog;
use switchyard_sip::message::Message;
use switchyard_sip::message::build::response;
use switchyard_sip::transaction::TransactionKey;
use switchyard_store::{FileRecord, FileRepo};
use tokio::time::{Instant, sleep_until};

use super::{Call, next_msg, random_token};
use crate::anchor::{self, CALLER};
use crate::calls_in_progress::CallState;
use crate::leg::info_digit;
use crate::{ALLOW, CallMsg, Tenant};
use switchyard_clock::unix_ms;

/// What the caller's side did while the host was waiting.
pub(super) enum Heard {
    /// A key, from RFC 4733 or SIP INFO.
    Digit(char),
    Media(MediaEvent),
    /// The wait's deadline passed.
    Deadline,
    /// The call is over (the caller hung up, the operator ended it, the
    /// caller's RTP stopped).
    Gone,
}

/// How long a gather waits for the first key when the plugin gives 0.
const FIRST_DIGIT_MS: u32 = 5_000;
/// …and between keys.
const INTER_DIGIT_MS: u32 = 3_000;
/// Longest voicemail message.
const VOICEMAIL_MAX: Duration = Duration::from_secs(180);
/// Silence that ends a message.
const MESSAGE_SILENCE: Duration = Duration::from_secs(5);
/// Length given to the continuous tones when a flow plays them.
const TONE_MS: u32 = 3_000;

/// The greeting every mailbox has until the tenant uploads its own.
static DEFAULT_GREETING: &[u8] = include_bytes!("../../assets/vm-greeting.wav");

fn default_greeting() -> Arc<[i16]> {
    static G: OnceLock<Arc<[i16]>> = OnceLock::new();
    G.get_or_init(|| {
        switchyard_rtp::wav::load_prompt(DEFAULT_GREETING)
            .map(|p| p.samples.into())
            .unwrap_or_else(|_| Arc::from(Vec::new()))
    })
    .clone()
}

/// The built-in music on hold: a slow, quiet arpeggio of sine chords,
/// synthesised once (no licensed audio ships with the host).
fn default_music() -> Arc<[i16]> {
    static M: OnceLock<Arc<[i16]>> = OnceLock::new();
    M.get_or_init(|| {
        // C major, A minor, F major, G major; each chord 2 s, notes
        // entering 250 ms apart.
        let chords: [[f64; 3]; 4] = [
            [261.63, 329.63, 392.00],
            [220.00, 261.63, 329.63],
            [174.61, 220.00, 261.63],
            [196.00, 246.94, 293.66],
        ];
        let mut out = Vec::with_capacity(4 * 16_000);
        for chord in chords {
            for n in 0..16_000usize {
                let t = n as f64 / 8000.0;
                let mut v = 0.0;
                for (i, f) in chord.iter().enumerate() {
                    let start = i as f64 * 0.25;
                    if t >= start {
                        // Each note fades in, then decays.
                        let age = t - start;
                        let env = (age * 8.0).min(1.0) * (-age * 0.6).exp();
                        v += env * (2.0 * std::f64::consts::PI * f * t).sin();
                    }
                }
                out.push((v * 2500.0) as i16);
            }
        }
        out.into()
    })
    .clone()
}

/// Ringback as the caller's country knows it, guessed from the tenant's
/// time zone.
pub(super) fn ringback_for(time_zone: &str) -> ToneSpec {
    let region = if time_zone.starts_with("America/") {
        Region::NorthAmerica
    } else if time_zone == "Europe/London" {
        Region::UnitedKingdom
    } else {
        Region::Europe
    };
    ToneSpec::ringback(region)
}

impl Call {
    /// Answer the caller ourselves (the flow's `answer`, or any media
    /// action): 200 with our SDP. `false` when the host has no media for
    /// this call and cannot.
    pub(super) fn answer_by_host(&mut self) -> bool {
        if self.a_dialog.is_some() {
            return true;
        }
        let Some(anchor) = self.anchor.as_ref() else {
            return false;
        };
        if self.final_sent {
            return false;
        }
        let mut ok = response(&self.a_invite, 200, "", Some(&self.a_tag));
        ok.headers
            .push("Contact", self.contact(self.a_peer.transport));
        ok.headers.push("Allow", ALLOW);
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = anchor.caller_answer();
        self.final_sent = true;
        self.sip_code = 200;
        self.answer_ms = Some(unix_ms());
        if let Some(s) = self.snapshot.as_mut() {
            s.answer_time = self.answer_ms;
        }
        self.shared.stack.respond(&self.a_key, ok);
        self.deadlines.answered(std::time::Instant::now());
        self.a_dialog = Some(Dialog::uas(&self.a_invite, &self.a_tag));
        self.shared
            .in_progress
            .update(self.a_invite.call_id(), CallState::Ivr, None);
        crate::call_log::answered(self.snapshot.as_ref(), "host");
        true
    }

    /// End an answered call from our side: BYE to the caller.
    pub(super) fn bye_caller(&mut self, by: HangupSide) {
        if let Some(d) = self.a_dialog.as_mut() {
            let bye = d.request("BYE");
            let peer = self.a_peer;
            self.request_closing(bye, peer);
        }
        if self.hangup_by.is_none() {
            self.hangup_by = Some(by);
        }
    }

    /// Wait for the next thing the caller's side does, until `deadline`.
    pub(super) async fn listen(&mut self, deadline: Option<Instant>) -> Heard {
        let until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let a_call = self.a_invite.call_id().to_string();
        loop {
            tokio::select! {
                _ = sleep_until(until) => return Heard::Deadline,
                ev = anchor::next_event(&mut self.anchor) => match ev {
                    Some(MediaEvent::Digit { leg: CALLER, digit }) => return Heard::Digit(digit),
                    Some(MediaEvent::Timeout { .. }) => {
                        tracing::info!(call = %self.a_invite.call_id(), "caller's RTP stopped: hanging up");
                        self.bye_caller(HangupSide::System);
                        return Heard::Gone;
                    }
                    Some(MediaEvent::RecordingFailed(e)) => {
                        tracing::error!(call = %self.a_invite.call_id(), error = %e, "recording failed");
                    }
                    Some(other) => return Heard::Media(other),
                    None => {
                        self.bye_caller(HangupSide::System);
                        return Heard::Gone;
                    }
                },
                msg = next_msg(&mut self.rx, &mut self.deadlines, &a_call) => match msg {
                    None => return Heard::Gone,
                    Some(CallMsg::Hangup) => {
                        self.bye_caller(HangupSide::System);
                        return Heard::Gone;
                    }
                    Some(CallMsg::Request { key, request, .. }) => {
                        if let Some(h) = self.caller_request(key, request) {
                            return h;
                        }
                    }
                    // The ACK of our 200; a CANCEL that crossed it.
                    Some(_) => {}
                },
            }
        }
    }

    /// A request in the caller's dialog while the host has the call.
    pub(super) fn caller_request(
        &mut self,
        key: TransactionKey,
        request: Message,
    ) -> Option<Heard> {
        let tag = self.a_tag.clone();
        let Some(dialog) = self
            .a_dialog
            .as_mut()
            .filter(|_| request.call_id() == self.a_invite.call_id())
        else {
            self.stray(CallMsg::Request {
                key,
                request,
                peer: self.a_peer,
            });
            return None;
        };
        if !dialog.accept_remote_cseq(&request) {
            self.shared.stack.respond(
                &key,
                response(&request, 500, "CSeq Out Of Order", Some(&tag)),
            );
            return None;
        }
        match request.method() {
            "BYE" => {
                self.respond_closing(key, response(&request, 200, "", Some(&tag)));
                self.hangup_by = Some(HangupSide::Caller);
                Some(Heard::Gone)
            }
            "INFO" => {
                let digit = info_digit(&request);
                self.shared
                    .stack
                    .respond(&key, response(&request, 200, "", Some(&tag)));
                digit.map(Heard::Digit)
            }
            "INVITE" | "UPDATE" if !request.body.is_empty() => {
                dialog.refresh_target(&request);
                let answered = self
                    .anchor
                    .as_mut()
                    .map(|a| a.answer_locally(CALLER, &request.body));
                match answered {
                    Some(Ok(sdp)) => {
                        let mut ok = response(&request, 200, "", Some(&tag));
                        ok.headers
                            .push("Contact", self.contact(self.a_peer.transport));
                        ok.headers.push("Content-Type", "application/sdp");
                        ok.body = sdp;
                        self.shared.stack.respond(&key, ok);
                        self.deadlines.answered(std::time::Instant::now());
                    }
                    Some(Err(r)) => {
                        let (code, reason) = anchor::refusal_status(&r);
                        self.shared
                            .stack
                            .respond(&key, response(&request, code, &reason, Some(&tag)));
                    }
                    None => self
                        .shared
                        .stack
                        .respond(&key, response(&request, 488, "", Some(&tag))),
                }
                None
            }
            "OPTIONS" | "UPDATE" => {
                self.shared
                    .stack
                    .respond(&key, response(&request, 200, "", Some(&tag)));
                None
            }
            // A re-INVITE without an offer would need ours in the 200 and
            // the answer in the ACK: not offered by the phones we serve.
            "INVITE" => {
                self.shared
                    .stack
                    .respond(&key, response(&request, 488, "", Some(&tag)));
                None
            }
            _ => {
                self.shared
                    .stack
                    .respond(&key, response(&request, 501, "", Some(&tag)));
                None
            }
        }
    }

    /// A tenant prompt file, decoded (and kept decoded while unchanged).
    fn prompt_file(&self, tenant: &Tenant, name: &str) -> Option<Arc<[i16]>> {
        let (rec, path) = match self.shared.store.get_file(&tenant.id, "prompt", name) {
            Ok(Some(found)) => found,
            Ok(None) => {
                tracing::warn!(tenant = %tenant.id, prompt = %name, "no such prompt: skipped");
                return None;
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, prompt = %name, error = %e, "prompt unreadable: skipped");
                return None;
            }
        };
        let cache_key = (tenant.id.clone(), name.to_string());
        let stamp = (rec.created_at_ms, rec.size);
        if let Some((s, samples)) = self.shared.prompts.lock().expect("prompts").get(&cache_key)
            && *s == stamp
        {
            return Some(samples.clone());
        }
        let samples: Arc<[i16]> = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| switchyard_rtp::wav::load_prompt(&b).map_err(|e| e.to_string()))
        {
            Ok(p) => p.samples.into(),
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, prompt = %name, error = %e, "prompt unplayable: skipped");
                return None;
            }
        };
        self.shared
            .prompts
            .lock()
            .expect("prompts")
            .insert(cache_key, (stamp, samples.clone()));
        Some(samples)
    }

    /// The flow's prompts as what the media task plays.
    pub(super) fn play_items(&self, tenant: &Tenant, prompts: &[Prompt]) -> Vec<PlayItem> {
        let timed = |mut t: ToneSpec| {
            t.length_ms.get_or_insert(TONE_MS);
            PlayItem::Tone(t)
        };
        prompts
            .iter()
            .filter_map(|p| match p {
                Prompt::File(name) => self.prompt_file(tenant, name).map(PlayItem::Samples),
                Prompt::Tone(Tone::Ringback) => Some(timed(ringback_for(&tenant.time_zone))),
                Prompt::Tone(Tone::Busy) => Some(timed(ToneSpec::busy())),
                Prompt::Tone(Tone::Congestion) => Some(timed(ToneSpec::congestion())),
                Prompt::Tone(Tone::Beep) => Some(PlayItem::Tone(ToneSpec::beep())),
                Prompt::Silence(ms) => Some(PlayItem::Tone(ToneSpec::silence(Some(*ms)))),
                Prompt::Say(text) => {
                    tracing::warn!(tenant = %tenant.id, %text, "no text-to-speech backend: `say` skipped");
                    None
                }
            })
            .collect()
    }

    /// What a caller waiting on hold hears: the tenant's `moh` prompt, or
    /// the built-in music.
    pub(super) fn music_on_hold(&self, tenant: &Tenant) -> Vec<PlayItem> {
        let music = self
            .shared
            .store
            .get_file(&tenant.id, "prompt", "moh")
            .ok()
            .flatten()
            .and_then(|_| self.prompt_file(tenant, "moh"))
            .unwrap_or_else(default_music);
        vec![PlayItem::Samples(music)]
    }

    /// Play `items` to the caller to their end; `false` if the call ended.
    async fn play_through(&mut self, items: Vec<PlayItem>) -> bool {
        if items.is_empty() {
            return true;
        }
        let Some(id) = self
            .anchor
            .as_ref()
            .map(|a| a.media.play(CALLER, items, false))
        else {
            return true;
        };
        loop {
            match self.listen(None).await {
                Heard::Media(MediaEvent::Played {
                    leg: CALLER,
                    id: done,
                }) if done == id => {
                    return true;
                }
                Heard::Gone => return false,
                _ => {}
            }
        }
    }

    /// `play`: `Some(play-finished)`, or `None` when the call ended.
    pub(super) async fn play(&mut self, tenant: &Tenant, prompts: &[Prompt]) -> Option<Event> {
        if !self.answer_by_host() {
            return Some(Event::PlayFinished);
        }
        let items = self.play_items(tenant, prompts);
        self.play_through(items)
            .await
            .then_some(Event::PlayFinished)
    }

    /// `gather`: prompts that a key interrupts, then keys until the
    /// maximum, the finish key or a timeout.
    pub(super) async fn gather(&mut self, tenant: &Tenant, g: &Gather) -> Option<Event> {
        if !self.answer_by_host() {
            return Some(Event::GatherTimeout);
        }
        let first_ms = if g.first_digit_timeout_ms == 0 {
            FIRST_DIGIT_MS
        } else {
            g.first_digit_timeout_ms
        };
        let inter_ms = if g.inter_digit_timeout_ms == 0 {
            INTER_DIGIT_MS
        } else {
            g.inter_digit_timeout_ms
        };
        let max = usize::from(g.max_digits.clamp(1, 64));
        let after = |ms: u32| Some(Instant::now() + Duration::from_millis(u64::from(ms)));
        let items = self.play_items(tenant, &g.prompts);
        let mut playing = None;
        let mut deadline = after(first_ms);
        if !items.is_empty() {
            playing = self
                .anchor
                .as_ref()
                .map(|a| a.media.play(CALLER, items, false));
            deadline = playing.is_none().then(|| after(first_ms)).flatten();
        }
        let mut digits = String::new();
        loop {
            match self.listen(deadline).await {
                Heard::Digit(d) => {
                    if playing.take().is_some()
                        && let Some(a) = self.anchor.as_ref()
                    {
                        a.media.stop(CALLER);
                    }
                    if Some(d) == g.finish_on_key {
                        return Some(Event::Digits(Gathered {
                            digits,
                            finished_by_key: true,
                        }));
                    }
                    digits.push(d);
                    if digits.len() >= max {
                        return Some(Event::Digits(Gathered {
                            digits,
                            finished_by_key: false,
                        }));
                    }
                    deadline = after(inter_ms);
                }
                Heard::Media(MediaEvent::Played { leg: CALLER, id }) if playing == Some(id) => {
                    playing = None;
                    deadline = after(if digits.is_empty() {
                        first_ms
                    } else {
                        inter_ms
                    });
                }
                Heard::Deadline => {
                    return Some(if digits.is_empty() {
                        Event::GatherTimeout
                    } else {
                        Event::Digits(Gathered {
                            digits,
                            finished_by_key: false,
                        })
                    });
                }
                Heard::Gone => return None,
                Heard::Media(_) => {}
            }
        }
    }

    /// `pause` on an answered call: silence, watching the caller.
    pub(super) async fn pause_answered(&mut self, ms: u32) -> bool {
        let until = Instant::now() + Duration::from_millis(u64::from(ms));
        loop {
            match self.listen(Some(until)).await {
                Heard::Deadline => return true,
                Heard::Gone => return false,
                _ => {}
            }
        }
    }

    fn media_tmp(&self) -> PathBuf {
        let dir = self.shared.store.dir().join("media-tmp");
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!("{}.wav", random_token()))
    }

    /// Record what the caller says into a new file of `kind`; its id and
    /// length, and how it ended (`None`: the caller hung up).
    async fn record_message(
        &mut self,
        tenant: &Tenant,
        kind: &str,
        max: Duration,
        finish_key: Option<char>,
        mut meta: BTreeMap<String, String>,
    ) -> Option<(String, Duration, Option<MessageEnd>)> {
        let path = self.media_tmp();
        self.anchor.as_ref()?.media.start_message(
            CALLER,
            path.clone(),
            max,
            finish_key,
            MESSAGE_SILENCE,
        );
        let (duration, end) = loop {
            match self.listen(None).await {
                Heard::Media(MediaEvent::MessageRecorded {
                    leg: CALLER,
                    duration,
                    end,
                }) => {
                    break (duration, Some(end));
                }
                Heard::Gone => {
                    // What was said before the hang-up is the message.
                    let d = match self.anchor.as_ref() {
                        Some(a) => a.media.stop_message(CALLER).await.unwrap_or_default(),
                        None => Duration::ZERO,
                    };
                    break (d, None);
                }
                _ => {}
            }
        };
        meta.insert("duration_ms".into(), duration.as_millis().to_string());
        let id = self.store_audio(tenant, kind, &path, meta).await?;
        Some((id, duration, end))
    }

    /// Move a finished WAV into the tenant's files.
    pub(super) async fn store_audio(
        &self,
        tenant: &Tenant,
        kind: &str,
        path: &std::path::Path,
        mut meta: BTreeMap<String, String>,
    ) -> Option<String> {
        let id = format!("{}-{}", unix_ms(), &random_token()[..8]);
        meta.insert("call_id".into(), self.a_invite.call_id().to_string());
        if let Some(s) = &self.snapshot {
            meta.insert("caller".into(), s.caller.number.clone());
            if let Some(n) = &s.caller.display_name {
                meta.insert("caller_name".into(), n.clone());
            }
        }
        let record = FileRecord {
            tenant: tenant.id.clone(),
            kind: kind.to_string(),
            id: id.clone(),
            name: format!("{id}.wav"),
            content_type: "audio/wav".into(),
            size: 0,
            created_at_ms: unix_ms(),
            meta,
        };
        let store = self.shared.store.clone();
        let path = path.to_path_buf();
        let stored = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            let r = store.put_file(&record, &bytes).map_err(|e| e.to_string());
            let _ = std::fs::remove_file(&path);
            r
        })
        .await;
        let error = match stored {
            Ok(Ok(_)) => return Some(id),
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        tracing::error!(tenant = %tenant.id, kind, %error, "audio not stored");
        None
    }

    /// `record-audio`: `record-finished` with the stored recording.
    pub(super) async fn record_audio(&mut self, tenant: &Tenant, r: &RecordAudio) -> Option<Event> {
        if !self.answer_by_host() {
            return Some(Event::RecordFinished(Recording {
                id: String::new(),
                duration_ms: 0,
                finished_by_key: None,
            }));
        }
        if r.beep
            && !self
                .play_through(vec![PlayItem::Tone(ToneSpec::beep())])
                .await
        {
            return None;
        }
        let max = Duration::from_secs(u64::from(r.max_seconds.clamp(1, 3600)));
        let meta = BTreeMap::from([("source".to_string(), "record-audio".to_string())]);
        let (id, duration, end) = self
            .record_message(tenant, "recording", max, r.finish_on_key, meta)
            .await?;
        end?;
        Some(Event::RecordFinished(Recording {
            id,
            duration_ms: duration.as_millis() as u32,
            finished_by_key: match end {
                Some(MessageEnd::Key(k)) => Some(k.to_string()),
                _ => None,
            },
        }))
    }

    /// `voicemail`: greeting, beep, the message, stored and announced;
    /// then the host hangs up (the flow hears `hangup`).
    pub(super) async fn voicemail(
        &mut self,
        tenant: &Tenant,
        mailbox: &str,
        greeting: Option<&Prompt>,
    ) {
        if !self.answer_by_host() {
            tracing::warn!(tenant = %tenant.id, %mailbox, "voicemail needs anchored media: 480");
            self.hangup_by = Some(HangupSide::System);
            return self.answer_a(480, "");
        }
        self.shared
            .in_progress
            .update(self.a_invite.call_id(), CallState::Voicemail, None);
        let mut items = match greeting {
            Some(p) => self.play_items(tenant, std::slice::from_ref(p)),
            None => Vec::new(),
        };
        if items.is_empty() {
            let own = format!("greeting-{mailbox}");
            items = match self.prompt_file_if_any(tenant, &own) {
                Some(s) => vec![PlayItem::Samples(s)],
                None => vec![PlayItem::Samples(default_greeting())],
            };
        }
        items.push(PlayItem::Tone(ToneSpec::beep()));
        if !self.play_through(items).await {
            return;
        }
        let meta = BTreeMap::from([("mailbox".to_string(), mailbox.to_string())]);
        let recorded = self
            .record_message(tenant, "voicemail", VOICEMAIL_MAX, Some('#'), meta)
            .await;
        let Some((id, duration, end)) = recorded else {
            return;
        };
        self.disposition = Disposition::Voicemail;
        tracing::info!(tenant = %tenant.id, %mailbox, %id, ?duration, "voicemail left");
        let notice = Notice {
            kind: NoticeKind::VoicemailLeft,
            call_id: self.a_invite.call_id().to_string(),
            at: unix_ms(),
            queue: None,
            agent: Some(mailbox.to_string()),
            detail: Some(id),
        };
        for (plugin, r) in tenant.runtime.report_notice(&notice).await {
            if let Err(f) = r {
                tracing::warn!(tenant = %tenant.id, %plugin, %f, "reporter failed");
            }
        }
        if end.is_some() {
            self.bye_caller(HangupSide::System);
        }
    }

    fn prompt_file_if_any(&self, tenant: &Tenant, name: &str) -> Option<Arc<[i16]>> {
        match self.shared.store.get_file(&tenant.id, "prompt", name) {
            Ok(Some(_)) => self.prompt_file(tenant, name),
            _ => None,
        }
    }

    /// The agent answered: record the conversation if the tenant records.
    /// After a transfer the same recording resumes with the new agent.
    pub(super) fn start_call_recording(&mut self, tenant: &Tenant) {
        let (Some(channels), Some(anchor)) = (tenant.recording, self.anchor.as_ref()) else {
            return;
        };
        if self.recording_path.is_some() {
            anchor.media.pause_recording(false);
            return;
        }
        let path = self.media_tmp();
        anchor.media.start_recording(path.clone(), channels, CALLER);
        self.recording_path = Some(path);
    }

    /// The conversation ended: store the call recording, if there is one.
    pub(super) async fn finish_call_recording(&mut self, tenant: &Tenant) {
        let (Some(path), Some(anchor)) = (self.recording_path.take(), self.anchor.as_ref()) else {
            return;
        };
        let Some(duration) = anchor.media.stop_recording().await else {
            let _ = std::fs::remove_file(&path);
            return;
        };
        let mut meta =
            BTreeMap::from([("duration_ms".to_string(), duration.as_millis().to_string())]);
        if let Some(agent) = &self.agent {
            meta.insert("agent".into(), agent.clone());
        }
        let Some(id) = self.store_audio(tenant, "recording", &path, meta).await else {
            return;
        };
        self.recording = Some(id.clone());
        let notice = Notice {
            kind: NoticeKind::RecordingReady,
            call_id: self.a_invite.call_id().to_string(),
            at: unix_ms(),
            queue: None,
            agent: self.agent.clone(),
            detail: Some(id),
        };
        for (plugin, r) in tenant.runtime.report_notice(&notice).await {
            if let Err(f) = r {
                tracing::warn!(tenant = %tenant.id, %plugin, %f, "reporter failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ct: &str, body: &str) -> Message {
        let mut m = Message::request("INFO", "sip:pbx@example.com");
        m.headers.push("Content-Type", ct.to_string());
        m.body = body.as_bytes().to_vec();
        m
    }

    #[test]
    fn keys_by_sip_info_in_both_common_bodies() {
        assert_eq!(
            info_digit(&info(
                "application/dtmf-relay",
                "Signal=5\r\nDuration=160\r\n"
            )),
            Some('5')
        );
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal= #\r\n")),
            Some('#')
        );
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=11\r\n")),
            Some('#')
        );
        assert_eq!(info_digit(&info("application/dtmf", "*")), Some('*'));
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Duration=160")),
            None
        );
        assert_eq!(info_digit(&info("text/plain", "Signal=5")), None);
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=X")),
            None
        );
    }

    #[test]
    fn ringback_follows_the_tenants_country() {
        assert_eq!(
            ringback_for("America/New_York").frequencies,
            vec![440.0, 480.0]
        );
        assert_eq!(
            ringback_for("Europe/London").frequencies,
            vec![400.0, 450.0]
        );
        assert_eq!(ringback_for("Europe/Paris").frequencies, vec![425.0]);
    }

    #[test]
    fn the_built_in_audio_is_real() {
        let g = default_greeting();
        assert!(g.len() > 8000 * 5, "several seconds of greeting");
        assert!(g.iter().any(|s| s.unsigned_abs() > 5000), "not silence");
        let m = default_music();
        assert_eq!(m.len(), 4 * 16_000);
        assert!(switchyard_rtp::tones::tone_amplitude(&m[..16_000], 261.63) > 500.0);
    }
}
