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
    let tones: Vec<Option<f64>> = TONES
        .iter()
        .zip(talking)
        .map(|(&f, &on)| on.then_some(f))
        .collect();
    let mut refs: Vec<&mut Phone> = phones.iter_mut().collect();
    common::phone::talk_and_listen(&mut refs, &tones, 2_000)
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
    let mut events = pbx.running.pbx.subscribe("demo");
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
    // The live stream told the room's story.
    let mut kinds: Vec<String> = Vec::new();
    loop {
        match events.try_recv() {
            Ok(n) => kinds.push(n.kind.to_string()),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(count("conference-joined"), 5, "{kinds:?}");
    assert_eq!(count("conference-left"), 5, "{kinds:?}");
    assert_eq!(count("conference-muted"), 1, "{kinds:?}");
    assert!(count("conference-talking") >= 5, "{kinds:?}");
    assert_eq!(count("conference-ended"), 1, "{kinds:?}");
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

/// Keys, pressed one after the other.
fn keys(p: &mut Phone, keys: &str) {
    for k in keys.chars() {
        p.key(k);
    }
}

/// The tenant's music on hold: a steady 2 kHz tone, easy to tell from
/// speech and from the participants' tones.
const MUSIC: f64 = 2_000.0;

fn upload_music(p: &Pbx) {
    use switchyard_store::{FileRecord, FileRepo};
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for n in 0..16_000 {
        let t = f64::from(n) / 8000.0;
        w.write_sample((6000.0 * (std::f64::consts::TAU * MUSIC * t).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let rec = FileRecord {
        tenant: "demo".into(),
        kind: "prompt".into(),
        id: "moh".into(),
        name: "moh.wav".into(),
        content_type: "audio/wav".into(),
        size: 0,
        created_at_ms: switchyard_clock::unix_ms(),
        meta: Default::default(),
    };
    p.running.store.put_file(&rec, &bytes.into_inner()).unwrap();
}

/// Listen in half-second windows until the music is `on` (or not).
fn until_music(phone: &Phone, on: bool) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut pcm = Vec::new();
        Law::Pcmu.decode(&phone.listen(Duration::from_millis(500)), &mut pcm);
        if (tone_amplitude(&pcm, MUSIC) > HEARD) == on {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the music never {}",
            if on { "started" } else { "stopped" }
        );
    }
}

/// The demo's `board`: PIN 1234, 1001 moderates, the others wait with
/// music for the moderator, and the room ends when the moderator leaves.
/// (The count is not announced here, so that nothing but the music and
/// the participants is heard once in.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_asks_its_pin_waits_with_music_for_its_moderator_and_ends_with_them() {
    let mut t = tenant();
    t["conferences"]["board"]["announce-count"] = false.into();
    let pbx = Arc::new(pbx_with(Some(t), None).await);
    upload_music(&pbx);
    let base = format!("http://{}", pbx.running.http);
    let op = pbx.running.operator_token.clone();
    let sup_key = pbx.supervisor_key();
    let p = pbx.clone();
    blocking(move || {
        let mut added = Phone::new(p.addr(), 0xE3);
        added.register("1003", &p.password("1003"));
        // A wrong PIN three times: the host says so and hangs up.
        let mut wrong = Phone::new(p.addr(), 0xE0);
        wrong.call_as("1003", &p.password("1003"), "801");
        keys(&mut wrong, "000099990000");
        wrong.answer_bye();
        assert!(
            p.running.pbx.conferences("demo").is_empty(),
            "nobody got in"
        );

        // 1002: wrong once, then right; alone, it waits with music.
        let mut guest = Phone::new(p.addr(), 0xE1);
        guest.call_as("1002", &p.password("1002"), "801");
        keys(&mut guest, "1111");
        keys(&mut guest, "1234");
        until_room(&p, "the guest waiting", |r| {
            r.name == "board" && r.participants.len() == 1 && r.waiting
        });
        until_music(&guest, true);

        // The moderator needs no PIN; the music stops and they talk.
        let mut host = Phone::new(p.addr(), 0xE2);
        host.call_as("1001", &p.password("1001"), "801");
        until_room(&p, "the moderator in", |r| {
            r.name == "board" && r.participants.len() == 2 && !r.waiting
        });
        until_music(&guest, false);
        let mut phones = [guest, host];
        let heard = round(&mut phones, &[true, true]);
        assert!(
            tone_amplitude(&heard[0], TONES[1]) > HEARD,
            "the guest hears the host"
        );
        assert!(
            tone_amplitude(&heard[1], TONES[0]) > HEARD,
            "the host hears the guest"
        );
        assert!(
            tone_amplitude(&heard[1], MUSIC) < SILENT,
            "no music any more"
        );
        // The API: the moderator's own agent key may lock the room, the
        // guest's may not; a supervisor sees and mutes participants and
        // dials 1003 in.
        let room = format!("{base}/api/tenants/demo/conferences/board");
        let host_key = common::key(&base, &op, "demo", "agent", Some("1001"));
        let guest_key = common::key(&base, &op, "demo", "agent", Some("1002"));
        let post =
            |path: &str, key: &str| common::http("POST", &format!("{room}{path}"), key, None).0;
        assert_eq!(post("/lock", &guest_key), 403);
        assert_eq!(post("/lock", &host_key), 204);
        assert!(p.running.pbx.conferences("demo")[0].locked);
        assert_eq!(post("/unlock", &sup_key), 204);
        let (status, text) = common::http("GET", &format!("{room}/participants"), &sup_key, None);
        assert_eq!(status, 200, "{text}");
        let live: serde_json::Value = serde_json::from_str(&text).unwrap();
        let guest_call = live["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["caller"] == "1002")
            .unwrap()["call_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            post(&format!("/participants/{guest_call}/mute"), &sup_key),
            204
        );
        until_room(&p, "the guest muted", |r| {
            r.participants.iter().any(|x| x.caller == "1002" && x.muted)
        });
        let (status, text) = common::http(
            "POST",
            &format!("{room}/participants"),
            &sup_key,
            Some(serde_json::json!({"to": "1003"})),
        );
        assert_eq!(status, 202, "{text}");
        added.answer_invite(|_| "sendrecv");
        until_room(&p, "1003 dialled in", |r| r.participants.len() == 3);

        let [guest, host] = &mut phones;
        // The moderator leaves: the room ends for the others.
        thread::scope(|s| {
            s.spawn(|| guest.answer_bye());
            s.spawn(|| added.answer_bye());
            host.bye();
        });
    })
    .await;
    // The room's record (the call that dialled 1003 in is "to" the room
    // too, without the tag).
    let cdr = pbx
        .cdrs(6)
        .await
        .into_iter()
        .find(|c| c.dialled == "board" && c.tags.contains(&"conference".to_string()))
        .expect("the room's record");
    let mut who: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    who.sort_unstable();
    assert_eq!(who, ["1001", "1002", "1003"]);
}

/// A number dialled into a room through the tenant's trunk: the carrier
/// (a phone played here) gets the INVITE, answers, and the number and the
/// room's participant hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_dials_a_number_into_a_room_through_the_trunk() {
    let mut carrier = Phone::new("127.0.0.1:9".parse().unwrap(), 0xF0);
    let mut t = common::phone::with_carrier(tenant());
    t["trunks"][0]["host"] = carrier.sip.local_addr().unwrap().to_string().into();
    let pbx = Arc::new(pbx_with(Some(t), None).await);
    carrier.pbx = pbx.addr();
    let base = format!("http://{}", pbx.running.http);
    let sup_key = pbx.supervisor_key();
    let p = pbx.clone();
    blocking(move || {
        let mut inside = Phone::new(p.addr(), 0xF1);
        inside.call_as("1001", &p.password("1001"), "800");
        until_room(&p, "1001 in", |r| r.participants.len() == 1);
        let (status, text) = common::http(
            "POST",
            &format!("{base}/api/tenants/demo/conferences/demo/participants"),
            &sup_key,
            Some(serde_json::json!({"to": "+15550142"})),
        );
        assert_eq!(status, 202, "{text}");
        carrier.answer_invite(|_| "sendrecv");
        until_room(&p, "the number in", |r| {
            r.participants.iter().any(|x| x.caller == "+15550142")
        });
        let mut phones = [inside, carrier];
        let heard = round(&mut phones, &[true, true]);
        assert!(
            tone_amplitude(&heard[0], TONES[1]) > HEARD,
            "1001 hears the number"
        );
        assert!(
            tone_amplitude(&heard[1], TONES[0]) > HEARD,
            "the number hears 1001"
        );
        let [inside, carrier] = &mut phones;
        inside.bye();
        carrier.bye();
    })
    .await;
}
