//! What the host plays and keeps: tenant prompts (decoded once while
//! unchanged), the built-in greeting, music on hold and tones, and the
//! audio files a call leaves (messages, voicemail, call recordings) moved
//! into the tenant's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use switchyard_media::{PlayItem, ToneSpec};
use switchyard_plugins::flow_types::{Prompt, Tone};
use switchyard_plugins::types::CallSnapshot;
use switchyard_rtp::tones::Region;
use switchyard_store::{FileRecord, FileRepo};

use crate::{Shared, Tenant};
use switchyard_clock::unix_ms;

/// Silence that ends a message.
pub(crate) const MESSAGE_SILENCE: std::time::Duration = std::time::Duration::from_secs(5);
/// Length given to the continuous tones when a flow plays them.
const TONE_MS: u32 = 3_000;

/// The greeting every mailbox has until the tenant uploads its own.
static DEFAULT_GREETING: &[u8] = include_bytes!("../assets/vm-greeting.wav");

fn default_greeting() -> Arc<[i16]> {
    static G: OnceLock<Arc<[i16]>> = OnceLock::new();
    G.get_or_init(|| {
        switchyard_rtp::wav::load_prompt(DEFAULT_GREETING)
            .map(|p| p.samples.into())
            .unwrap_or_else(|_| Arc::from(Vec::new()))
    })
    .clone()
}

/// The host's own prompts (`scripts/make-prompts` speaks them): queue
/// announcements, callback confirmations, feature-code answers, numbers.
/// A tenant replaces one by uploading a prompt of the same name.
static BUILT_IN: &[(&str, &[u8])] = &[
    (
        "sy-agent-logged-in",
        include_bytes!("../assets/prompts/sy-agent-logged-in.wav"),
    ),
    (
        "sy-agent-logged-out",
        include_bytes!("../assets/prompts/sy-agent-logged-out.wav"),
    ),
    (
        "sy-agent-paused",
        include_bytes!("../assets/prompts/sy-agent-paused.wav"),
    ),
    (
        "sy-agent-unpaused",
        include_bytes!("../assets/prompts/sy-agent-unpaused.wav"),
    ),
    (
        "sy-callback-confirmed",
        include_bytes!("../assets/prompts/sy-callback-confirmed.wav"),
    ),
    (
        "sy-callback-enter-number",
        include_bytes!("../assets/prompts/sy-callback-enter-number.wav"),
    ),
    (
        "sy-callback-for",
        include_bytes!("../assets/prompts/sy-callback-for.wav"),
    ),
    (
        "sy-callback-keeping",
        include_bytes!("../assets/prompts/sy-callback-keeping.wav"),
    ),
    (
        "sy-callback-offer",
        include_bytes!("../assets/prompts/sy-callback-offer.wav"),
    ),
    (
        "sy-comfort",
        include_bytes!("../assets/prompts/sy-comfort.wav"),
    ),
    (
        "sy-conf-alone",
        include_bytes!("../assets/prompts/sy-conf-alone.wav"),
    ),
    (
        "sy-conf-bad-pin",
        include_bytes!("../assets/prompts/sy-conf-bad-pin.wav"),
    ),
    (
        "sy-conf-full",
        include_bytes!("../assets/prompts/sy-conf-full.wav"),
    ),
    (
        "sy-conf-locked",
        include_bytes!("../assets/prompts/sy-conf-locked.wav"),
    ),
    (
        "sy-conf-muted",
        include_bytes!("../assets/prompts/sy-conf-muted.wav"),
    ),
    (
        "sy-conf-one-other",
        include_bytes!("../assets/prompts/sy-conf-one-other.wav"),
    ),
    (
        "sy-conf-others",
        include_bytes!("../assets/prompts/sy-conf-others.wav"),
    ),
    (
        "sy-conf-pin",
        include_bytes!("../assets/prompts/sy-conf-pin.wav"),
    ),
    (
        "sy-conf-there-are",
        include_bytes!("../assets/prompts/sy-conf-there-are.wav"),
    ),
    (
        "sy-conf-unmuted",
        include_bytes!("../assets/prompts/sy-conf-unmuted.wav"),
    ),
    (
        "sy-conf-wait-moderator",
        include_bytes!("../assets/prompts/sy-conf-wait-moderator.wav"),
    ),
    (
        "sy-feature-failed",
        include_bytes!("../assets/prompts/sy-feature-failed.wav"),
    ),
    ("sy-hash", include_bytes!("../assets/prompts/sy-hash.wav")),
    (
        "sy-less-than-a-minute",
        include_bytes!("../assets/prompts/sy-less-than-a-minute.wav"),
    ),
    (
        "sy-minutes",
        include_bytes!("../assets/prompts/sy-minutes.wav"),
    ),
    ("sy-n-0", include_bytes!("../assets/prompts/sy-n-0.wav")),
    ("sy-n-1", include_bytes!("../assets/prompts/sy-n-1.wav")),
    ("sy-n-10", include_bytes!("../assets/prompts/sy-n-10.wav")),
    ("sy-n-11", include_bytes!("../assets/prompts/sy-n-11.wav")),
    ("sy-n-12", include_bytes!("../assets/prompts/sy-n-12.wav")),
    ("sy-n-13", include_bytes!("../assets/prompts/sy-n-13.wav")),
    ("sy-n-14", include_bytes!("../assets/prompts/sy-n-14.wav")),
    ("sy-n-15", include_bytes!("../assets/prompts/sy-n-15.wav")),
    ("sy-n-16", include_bytes!("../assets/prompts/sy-n-16.wav")),
    ("sy-n-17", include_bytes!("../assets/prompts/sy-n-17.wav")),
    ("sy-n-18", include_bytes!("../assets/prompts/sy-n-18.wav")),
    ("sy-n-19", include_bytes!("../assets/prompts/sy-n-19.wav")),
    ("sy-n-2", include_bytes!("../assets/prompts/sy-n-2.wav")),
    ("sy-n-20", include_bytes!("../assets/prompts/sy-n-20.wav")),
    ("sy-n-3", include_bytes!("../assets/prompts/sy-n-3.wav")),
    ("sy-n-30", include_bytes!("../assets/prompts/sy-n-30.wav")),
    ("sy-n-4", include_bytes!("../assets/prompts/sy-n-4.wav")),
    ("sy-n-40", include_bytes!("../assets/prompts/sy-n-40.wav")),
    ("sy-n-5", include_bytes!("../assets/prompts/sy-n-5.wav")),
    ("sy-n-50", include_bytes!("../assets/prompts/sy-n-50.wav")),
    ("sy-n-6", include_bytes!("../assets/prompts/sy-n-6.wav")),
    ("sy-n-60", include_bytes!("../assets/prompts/sy-n-60.wav")),
    ("sy-n-7", include_bytes!("../assets/prompts/sy-n-7.wav")),
    ("sy-n-70", include_bytes!("../assets/prompts/sy-n-70.wav")),
    ("sy-n-8", include_bytes!("../assets/prompts/sy-n-8.wav")),
    ("sy-n-80", include_bytes!("../assets/prompts/sy-n-80.wav")),
    ("sy-n-9", include_bytes!("../assets/prompts/sy-n-9.wav")),
    ("sy-n-90", include_bytes!("../assets/prompts/sy-n-90.wav")),
    (
        "sy-queue-next",
        include_bytes!("../assets/prompts/sy-queue-next.wav"),
    ),
    (
        "sy-queue-position",
        include_bytes!("../assets/prompts/sy-queue-position.wav"),
    ),
    (
        "sy-queue-wait",
        include_bytes!("../assets/prompts/sy-queue-wait.wav"),
    ),
    ("sy-star", include_bytes!("../assets/prompts/sy-star.wav")),
    ("sy-vip", include_bytes!("../assets/prompts/sy-vip.wav")),
    (
        "sy-waited-minutes",
        include_bytes!("../assets/prompts/sy-waited-minutes.wav"),
    ),
];

/// Built-in prompt `name`, decoded once.
fn built_in(name: &str) -> Option<Arc<[i16]>> {
    static DECODED: OnceLock<std::collections::HashMap<&'static str, Arc<[i16]>>> = OnceLock::new();
    DECODED
        .get_or_init(|| {
            BUILT_IN
                .iter()
                .filter_map(|(n, wav)| {
                    let p = switchyard_rtp::wav::load_prompt(wav).ok()?;
                    Some((*n, Arc::from(p.samples)))
                })
                .collect()
        })
        .get(name)
        .cloned()
}

/// A number as built-in prompts: 0–20 and the tens as words, 21–99 as
/// "twenty" "one", larger ones digit by digit.
pub(crate) fn number(n: u64) -> Vec<Prompt> {
    let file = |n: u64| Prompt::File(format!("sy-n-{n}"));
    match n {
        0..=20 => vec![file(n)],
        21..=99 if n.is_multiple_of(10) => vec![file(n)],
        21..=99 => vec![file(n - n % 10), file(n % 10)],
        _ => n
            .to_string()
            .chars()
            .map(|d| file(u64::from(d.to_digit(10).unwrap_or(0))))
            .collect(),
    }
}

/// What a participant hears on joining a room with `others` in it
/// already.
pub(crate) fn conference_count(others: usize) -> Vec<Prompt> {
    let file = |n: &str| Prompt::File(format!("sy-conf-{n}"));
    match others {
        0 => vec![file("alone")],
        1 => vec![file("one-other")],
        n => {
            let mut v = vec![file("there-are")];
            v.extend(number(n as u64));
            v.push(file("others"));
            v
        }
    }
}

fn key_prompt(key: char) -> Prompt {
    match key {
        '*' => Prompt::File("sy-star".into()),
        '#' => Prompt::File("sy-hash".into()),
        d => Prompt::File(format!("sy-n-{}", d.to_digit(10).unwrap_or(0))),
    }
}

/// "You are caller number 3. Your estimated wait time is 4 minutes." —
/// with the callback offer when the queue has a callback key. Minutes
/// are rounded up: a caller told 4 who waits 3½ is not disappointed.
pub(crate) fn queue_position(
    position: u32,
    wait: std::time::Duration,
    callback_key: Option<char>,
) -> Vec<Prompt> {
    let mut p = if position <= 1 {
        vec![Prompt::File("sy-queue-next".into())]
    } else {
        let mut v = vec![Prompt::File("sy-queue-position".into())];
        v.extend(number(u64::from(position)));
        v.push(Prompt::Silence(300));
        v
    };
    p.push(Prompt::File("sy-queue-wait".into()));
    let minutes = wait.as_secs().div_ceil(60);
    if minutes <= 1 && wait.as_secs() < 60 {
        p.push(Prompt::File("sy-less-than-a-minute".into()));
    } else {
        p.extend(number(minutes));
        p.push(Prompt::File("sy-minutes".into()));
    }
    if let Some(k) = callback_key {
        p.push(Prompt::Silence(300));
        p.push(Prompt::File("sy-callback-offer".into()));
        p.push(key_prompt(k));
    }
    p
}

/// The queue's comfort message: its own prompt, or the built-in one.
pub(crate) fn comfort(comfort: Option<&str>) -> Vec<Prompt> {
    vec![Prompt::File(comfort.unwrap_or("sy-comfort").to_string())]
}

/// What a caller hears after choosing a callback: "Thank you. We will
/// call you back on 1 0 0 1. We are keeping your place in the queue. You
/// can hang up now." (without the number when there is none).
pub(crate) fn callback_confirmation(number: Option<&str>) -> Vec<Prompt> {
    let mut p = Vec::new();
    if let Some(n) = number {
        p.push(Prompt::File("sy-callback-confirmed".into()));
        p.extend(n.chars().filter(char::is_ascii_digit).map(key_prompt));
        p.push(Prompt::Silence(300));
    }
    p.push(Prompt::File("sy-callback-keeping".into()));
    p
}

/// "Please key in the number we should call you back on, then press
/// hash."
pub(crate) fn callback_number_request() -> Vec<Prompt> {
    vec![Prompt::File("sy-callback-enter-number".into())]
}

/// What a waiting caller hears: the queue's music prompt, else the
/// tenant's `moh`, else the built-in music.
pub(crate) fn queue_music(shared: &Shared, tenant: &Tenant, music: Option<&str>) -> Vec<PlayItem> {
    match music.and_then(|m| prompt_file(shared, tenant, m)) {
        Some(samples) => vec![PlayItem::Samples(samples)],
        None => music_on_hold(shared, tenant),
    }
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
pub(crate) fn ringback_for(time_zone: &str) -> ToneSpec {
    let region = if time_zone.starts_with("America/") {
        Region::NorthAmerica
    } else if time_zone == "Europe/London" {
        Region::UnitedKingdom
    } else {
        Region::Europe
    };
    ToneSpec::ringback(region)
}

/// A tenant prompt file, decoded (and kept decoded while unchanged).
fn prompt_file(shared: &Shared, tenant: &Tenant, name: &str) -> Option<Arc<[i16]>> {
    let (rec, path) = match shared.store.get_file(&tenant.id, "prompt", name) {
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
    if let Some((s, samples)) = shared.prompts.lock().expect("prompts").get(&cache_key)
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
    shared
        .prompts
        .lock()
        .expect("prompts")
        .insert(cache_key, (stamp, samples.clone()));
    Some(samples)
}

/// The flow's prompts as what the media task plays.
pub(crate) fn play_items(shared: &Shared, tenant: &Tenant, prompts: &[Prompt]) -> Vec<PlayItem> {
    let timed = |mut t: ToneSpec| {
        t.length_ms.get_or_insert(TONE_MS);
        PlayItem::Tone(t)
    };
    prompts
        .iter()
        .filter_map(|p| match p {
            // A built-in prompt unless the tenant uploaded its own.
            Prompt::File(name) if name.starts_with("sy-") => {
                let own = matches!(shared.store.get_file(&tenant.id, "prompt", name), Ok(Some(_)));
                own.then(|| prompt_file(shared, tenant, name))
                    .flatten()
                    .or_else(|| built_in(name))
                    .map(PlayItem::Samples)
            }
            Prompt::File(name) => prompt_file(shared, tenant, name).map(PlayItem::Samples),
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
pub(crate) fn music_on_hold(shared: &Shared, tenant: &Tenant) -> Vec<PlayItem> {
    let music = shared
        .store
        .get_file(&tenant.id, "prompt", "moh")
        .ok()
        .flatten()
        .and_then(|_| prompt_file(shared, tenant, "moh"))
        .unwrap_or_else(default_music);
    vec![PlayItem::Samples(music)]
}

/// A mailbox's greeting: the flow's prompt, else the mailbox's own
/// (`greeting-<mailbox>`), else the built-in one; then a beep.
pub(crate) fn greeting(
    shared: &Shared,
    tenant: &Tenant,
    mailbox: &str,
    flows: Option<&Prompt>,
) -> Vec<PlayItem> {
    let mut items = match flows {
        Some(p) => play_items(shared, tenant, std::slice::from_ref(p)),
        None => Vec::new(),
    };
    if items.is_empty() {
        let own = format!("greeting-{mailbox}");
        let uploaded = matches!(
            shared.store.get_file(&tenant.id, "prompt", &own),
            Ok(Some(_))
        );
        items = match uploaded
            .then(|| prompt_file(shared, tenant, &own))
            .flatten()
        {
            Some(s) => vec![PlayItem::Samples(s)],
            None => vec![PlayItem::Samples(default_greeting())],
        };
    }
    items.push(PlayItem::Tone(ToneSpec::beep()));
    items
}

/// Where a recording is written while the call lasts.
pub(crate) fn media_tmp(shared: &Shared) -> PathBuf {
    let dir = shared.store.dir().join("media-tmp");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{:016x}.wav", rand::random::<u64>()))
}

/// Move a finished WAV into the tenant's files of `kind`; its id.
pub(crate) async fn store_audio(
    shared: &Shared,
    tenant: &Tenant,
    snapshot: &CallSnapshot,
    kind: &str,
    path: &Path,
    mut meta: BTreeMap<String, String>,
) -> Option<String> {
    let id = format!("{}-{:08x}", unix_ms(), rand::random::<u32>());
    meta.insert("call_id".into(), snapshot.call_id.clone());
    meta.insert("caller".into(), snapshot.caller.number.clone());
    if let Some(n) = &snapshot.caller.display_name {
        meta.insert("caller_name".into(), n.clone());
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
    let store = shared.store.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_built_in_prompt_decodes_and_numbers_are_spoken_whole() {
        for (name, _) in BUILT_IN {
            let p = built_in(name).unwrap_or_else(|| panic!("{name} does not decode"));
            assert!(p.len() > 1600, "{name} is under 0.2 s");
        }
        let names = |v: Vec<Prompt>| -> Vec<String> {
            v.into_iter()
                .map(|p| match p {
                    Prompt::File(f) => f,
                    other => format!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(names(number(7)), ["sy-n-7"]);
        assert_eq!(names(number(40)), ["sy-n-40"]);
        assert_eq!(names(number(42)), ["sy-n-40", "sy-n-2"]);
        assert_eq!(names(number(105)), ["sy-n-1", "sy-n-0", "sy-n-5"]);
        // Every prompt an announcement can name exists.
        for pos in [1, 2, 21, 150] {
            for wait in [0, 59, 61, 3600] {
                for key in [None, Some('1'), Some('*'), Some('#')] {
                    let d = std::time::Duration::from_secs(wait);
                    for n in names(queue_position(pos, d, key)) {
                        if n.starts_with("sy-") {
                            assert!(built_in(&n).is_some(), "{n} is not built in");
                        }
                    }
                }
            }
        }
        let p = names(queue_position(
            3,
            std::time::Duration::from_secs(200),
            Some('1'),
        ));
        assert_eq!(
            p,
            [
                "sy-queue-position",
                "sy-n-3",
                "Prompt::Silence(300)",
                "sy-queue-wait",
                "sy-n-4",
                "sy-minutes",
                "Prompt::Silence(300)",
                "sy-callback-offer",
                "sy-n-1"
            ]
        );
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
