//! The browser phone (`/phone`, JsSIP) in a real browser: Debian's
//! headless Chromium with its fake microphone, driven by puppeteer-core
//! (`tests/web/phone.mjs`), registers over SIP WebSocket and talks WebRTC
//! (ICE, DTLS-SRTP, Opus) to the host, which terminates it and bridges it
//! to G.711 phones, the IVR and the queues.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::phone::{Phone, hear_transfer, refer_with_replaces};
use common::*;
use serde_json::{Value, json};
use switchyard_calls::calls_in_progress::CallState;
use switchyard_rtp::g711::Law;
use switchyard_store::Disposition;

/// One Chromium at a time: four at once on a 2-core machine starve the
/// host's media of the CPU the journeys measure.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Chromium opens the phone page as `user` and plays `steps`; what
/// `phone.mjs` reports.
fn browser(pbx: &Pbx, user: &str, steps: Value) -> Value {
    let _turn = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists()
            && dir.join("node_modules/puppeteer-core").exists(),
        "the browser tests need Debian's chromium and tests/web's npm packages: \
         ./scripts/test installs both"
    );
    let http = pbx.running.http;
    let mut page =
        format!("http://{http}/phone/?user={user}&domain=demo.localhost&ws=ws://{http}/ws");
    if std::env::var_os("PHONE_DEBUG").is_some() {
        page.push_str("&debug=1");
    }
    let out = Command::new("node")
        .arg(dir.join("phone.mjs"))
        .arg(page)
        .arg(pbx.password(user))
        .arg(steps.to_string())
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    if std::env::var_os("PHONE_DEBUG").is_some() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        out.status.success(),
        "phone.mjs: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("phone.mjs prints JSON");
    assert!(
        report.get("failed").is_none(),
        "the browser's steps: {report:#}"
    );
    report
}

/// The browser's steps for a call it makes and ends: register, call `to`,
/// talk `ms` once answered, its figures as `name`, hang up.
fn call_talk_hang_up(to: &str, ms: u64, name: &str) -> Value {
    json!([
        {"do": "register"},
        {"do": "call", "to": to},
        {"do": "wait", "state": "confirmed"},
        {"do": "sleep", "ms": ms},
        {"do": "stats", "name": name},
        {"do": "hangup"}
    ])
}

/// The loudest sample of µ-law audio: a beep's peak is far above 1000,
/// silence and comfort noise far below.
fn peak(heard: &[u8]) -> u16 {
    let mut samples = Vec::new();
    Law::Pcmu.decode(heard, &mut samples);
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// The browser's figures say it received audio: packets, and sound in
/// them (not silence), in `codec`.
fn assert_heard(stats: &Value, codec: &str) {
    let packets = stats["packetsReceived"].as_u64().unwrap_or(0);
    assert!(packets > 50, "the browser received RTP: {stats}");
    let energy = stats["totalAudioEnergy"].as_f64().unwrap_or(0.0);
    assert!(energy > 0.0, "the browser heard sound: {stats}");
    assert_eq!(stats["codec"], codec, "{stats}");
    assert!(
        stats["packetsSent"].as_u64().unwrap_or(0) > 50,
        "the browser sent RTP: {stats}"
    );
}

/// The browser registers as 1001 and calls 1002, a G.711 phone: the
/// phone hears the browser's microphone and the browser hears the phone,
/// through Opus ↔ PCMU in the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_calls_a_phone_and_both_hear_each_other() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let phone = tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new(sip, 0x1002);
        phone.register("1002", &password);
        phone.answer_invite(|_| "sendrecv");
        let heard = talk_and_listen(&phone, 3);
        phone.answer_bye();
        heard
    });
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1001", call_talk_hang_up("1002", 2500, "talk"))).await;
    let heard = phone.await.unwrap();
    assert_heard(&report["stats"]["talk"], "audio/opus");
    assert!(
        heard.len() > 8000,
        "the phone got the browser's audio: {} bytes",
        heard.len()
    );
    let loudest = peak(&heard);
    assert!(
        loudest > 1000,
        "the browser's beep is heard, not silence: peak {loudest}"
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
}

/// Talk (a 600 Hz tone) for `secs` while hearing what comes: the µ-law
/// bytes heard.
fn talk_and_listen(phone: &Phone, secs: u64) -> Vec<u8> {
    let talker = phone.talker();
    let talking = std::thread::spawn(move || {
        let mut t = talker;
        t.tone(600.0, secs as u32 * 1000);
    });
    let heard = phone.listen(Duration::from_secs(secs));
    talking.join().unwrap();
    heard
}

/// A G.711 phone of ours: registered as `ext`, patient for the browser
/// (Chromium takes a while to start on a loaded machine).
fn patient_phone(sip: std::net::SocketAddr, ext: &str, password: &str, ssrc: u32) -> Phone {
    let mut phone = Phone::new(sip, ssrc);
    phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
    phone.register(ext, password);
    phone
}

/// Keys pressed on the browser's keypad (RFC 4733 over WebRTC) drive the
/// demo IVR — 1 support, 1 broadband, 2 the business-broadband ring
/// group — and 1002 of that group answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browsers_keys_drive_the_ivr_to_the_ring_group() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let member = tokio::task::spawn_blocking(move || {
        let mut phone = patient_phone(sip, "1002", &password, 0x2002);
        phone.answer_invite(|_| "sendrecv");
        let heard = talk_and_listen(&phone, 2);
        phone.answer_bye();
        heard
    });
    let p = pbx.clone();
    let report = blocking(move || {
        browser(
            &p,
            "1001",
            json!([
                {"do": "register"},
                {"do": "call", "to": "700"},
                {"do": "wait", "state": "confirmed"},
                {"do": "sleep", "ms": 1500},
                {"do": "dtmf", "digits": "112", "gap_ms": 1500},
                {"do": "sleep", "ms": 4000},
                {"do": "stats", "name": "ivr"},
                {"do": "hangup"}
            ]),
        )
    })
    .await;
    let heard = member.await.unwrap();
    assert!(
        heard.len() > 4000,
        "the member talked with the browser: {} bytes",
        heard.len()
    );
    assert_heard(&report["stats"]["ivr"], "audio/opus");
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.flow_plugin.as_deref(), Some("ivr-menu"));
    assert_eq!(
        cdr.agent.as_deref(),
        Some("1002"),
        "the ring group's member: {cdr:?}"
    );
    assert_eq!(cdr.disposition, Disposition::Answered);
}

/// A phone calls 1001, registered in the browser: the host offers the
/// browser WebRTC down its WebSocket, the browser rings and answers, and
/// the two hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_the_browser_rings_it_and_it_answers() {
    use switchyard_store::RegistrationRepo as _;
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    let browser_side = tokio::task::spawn_blocking(move || {
        browser(
            &p,
            "1001",
            json!([
                {"do": "register"},
                {"do": "answer"},
                {"do": "wait", "state": "confirmed"},
                {"do": "sleep", "ms": 2500},
                {"do": "stats", "name": "answered"},
                {"do": "wait", "state": "ended"}
            ]),
        )
    });
    let store = pbx.running.store.clone();
    until("the browser registered over WebSocket", || {
        store
            .bindings("demo", "1001", 0)
            .unwrap_or_default()
            .iter()
            .any(|b| b.transport == "WS")
    })
    .await;
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let heard = blocking(move || {
        let mut phone = Phone::new(sip, 0x3002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        phone.call_as("1002", &password, "1001");
        let heard = talk_and_listen(&phone, 3);
        phone.bye();
        heard
    })
    .await;
    let report = browser_side.await.unwrap();
    assert_heard(&report["stats"]["answered"], "audio/opus");
    assert!(
        heard.len() > 8000,
        "the caller heard the browser: {} bytes",
        heard.len()
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
}

/// The browser calls the demo queue `support` (600): it waits with the
/// queue's music, an agent's phone is offered the call and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_calls_the_queue_and_reaches_an_agent() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let agent = tokio::task::spawn_blocking(move || {
        let mut phone = patient_phone(sip, "1002", &password, 0x4002);
        phone.answer_invite(|_| "sendrecv");
        let heard = talk_and_listen(&phone, 2);
        phone.answer_bye();
        heard
    });
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1001", call_talk_hang_up("600", 5000, "queued"))).await;
    let heard = agent.await.unwrap();
    assert!(
        heard.len() > 4000,
        "the agent talked with the browser: {} bytes",
        heard.len()
    );
    assert_heard(&report["stats"]["queued"], "audio/opus");
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.agent.as_deref(), Some("1002"), "{cdr:?}");
    assert_eq!(cdr.disposition, Disposition::Answered);
}

/// The peak of µ-law audio, and its amplitude at the built-in music's
/// first chord (C4): what tells the browser's beep from hold music.
fn peak_and_music(heard: &[u8]) -> (u16, f64) {
    let mut samples = Vec::new();
    Law::Pcmu.decode(heard, &mut samples);
    (
        peak(heard),
        switchyard_rtp::tones::tone_amplitude(&samples, 261.63),
    )
}

/// The browser (1001) calls phone 1002 and presses Hold: JsSIP's
/// re-INVITE (sendonly) is answered on the same WebRTC session, the hold
/// goes on to the phone, which hears the music on hold; Resume brings
/// both ways back. Then the phone holds and resumes the browser: the
/// host's re-offers to it are WebRTC ones it accepts (a 200, not a 488).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_holds_and_resumes_a_phone() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let phone = tokio::task::spawn_blocking(move || {
        let mut phone = patient_phone(sip, "1002", &password, 0x5002);
        phone.answer_invite(|_| "sendrecv");
        let before = talk_and_listen(&phone, 2);
        // The browser's Hold: answered recvonly, as a phone does.
        let hold = phone.answer_invite(|d| {
            if d == "sendonly" {
                "recvonly"
            } else {
                "sendrecv"
            }
        });
        let held = phone.listen(Duration::from_millis(1500));
        let resume = phone.answer_invite(|_| "sendrecv");
        let after = talk_and_listen(&phone, 2);
        // Our own hold and resume of the browser: `reinvite` fails the
        // test unless the browser answers 200.
        phone.reinvite("sendonly");
        phone.reinvite("sendrecv");
        phone.bye();
        (before, hold, held, resume, after)
    });
    let p = pbx.clone();
    let report = blocking(move || {
        browser(
            &p,
            "1001",
            json!([
                {"do": "register"},
                {"do": "call", "to": "1002"},
                {"do": "wait", "state": "confirmed"},
                {"do": "sleep", "ms": 2500},
                {"do": "stats", "name": "before"},
                {"do": "hold"},
                {"do": "sleep", "ms": 2000},
                {"do": "stats", "name": "held"},
                {"do": "resume"},
                {"do": "sleep", "ms": 2000},
                {"do": "stats", "name": "resumed"},
                {"do": "wait", "state": "ended"}
            ]),
        )
    })
    .await;
    let (before, hold, held, resume, after) = phone.await.unwrap();
    assert_eq!(hold, "sendonly", "the browser's hold reached the phone");
    assert_eq!(resume, "sendrecv");
    let (peak, _) = peak_and_music(&before);
    assert!(peak > 1000, "the browser's beep before the hold: {peak}");
    assert!(
        held.len() > 50 * 160,
        "music while held: {} bytes",
        held.len()
    );
    let (_, chord) = peak_and_music(&held);
    assert!(
        chord > 300.0,
        "the phone hears the music on hold: {chord:.0}"
    );
    let (peak, chord) = peak_and_music(&after);
    assert!(peak > 1000, "the browser's beep after the resume: {peak}");
    assert!(chord < 300.0, "no more music after the resume: {chord:.0}");
    let stats = &report["stats"];
    let count = |name: &str, field: &str| stats[name][field].as_u64().unwrap_or(0);
    assert_heard(&stats["before"], "audio/opus");
    // While the browser holds, the host sends it nothing; after the
    // resume (~100 packets expected in 2 s) it does again, and the
    // browser sends again.
    assert!(
        count("held", "packetsReceived") < count("before", "packetsReceived") + 25,
        "little reaches a browser that holds: {stats}"
    );
    assert!(
        count("resumed", "packetsReceived") > count("held", "packetsReceived") + 40,
        "audio to the browser again after the resume: {stats}"
    );
    assert!(
        count("resumed", "packetsSent") > count("held", "packetsSent") + 40,
        "audio from the browser after the resume: {stats}"
    );
    assert!(
        stats["resumed"]["totalAudioEnergy"].as_f64() > stats["held"]["totalAudioEnergy"].as_f64(),
        "sound, not silence, after the resume: {stats}"
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
}

/// The demo tenant with the demo room quiet on joins (no count, no
/// tones): the parties' own sound is all there is to hear.
fn quiet_room_tenant() -> Value {
    let mut t: Value = serde_json::from_str(switchyard_artifacts::DEMO_TENANT).unwrap();
    t["conferences"]["demo"] = json!({"announce-count": false, "tones": false});
    t
}

/// The browser (1001) and phone 1002 both dial the demo room (800): the
/// browser's leg is lent to the room like a phone's, so the phone hears
/// the browser's beep and the browser hears the phone's tone (Opus
/// encoded in its call's media).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_and_a_phone_hear_each_other_in_a_conference_room() {
    let pbx = Arc::new(pbx_with(Some(quiet_room_tenant()), None).await);
    let sip = pbx.addr();
    let p = pbx.clone();
    let phone = tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new(sip, 0x6002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        phone.call_as("1002", &p.password("1002"), "800");
        until_blocking("the browser to join the room", LIMIT * 2, || {
            p.running
                .pbx
                .conferences("demo")
                .iter()
                .any(|r| r.participants.len() == 2)
        });
        let heard = talk_and_listen(&phone, 3);
        phone.bye();
        heard
    });
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1001", call_talk_hang_up("800", 3000, "room"))).await;
    let heard = phone.await.unwrap();
    assert_heard(&report["stats"]["room"], "audio/opus");
    assert!(
        heard.len() > 8000,
        "the phone got the room's audio: {} bytes",
        heard.len()
    );
    let (peak, _) = peak_and_music(&heard);
    assert!(
        peak > 1000,
        "the browser's beep is heard in the room: {peak}"
    );
}

/// A browser caller (1003) in the demo queue `support` (600) is answered
/// by agent phone 1002; supervisor 1001 dials `*551002` and listens: it
/// hears the browser's beep (the agent stays silent, so what it hears is
/// the browser's), and the browser's call goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_listens_to_a_browser_callers_call() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let agent = tokio::task::spawn_blocking(move || {
        let mut phone = patient_phone(sip, "1002", &password, 0x7002);
        phone.answer_invite(|_| "sendrecv");
        phone.answer_bye();
    });
    let p = pbx.clone();
    let supervisor = tokio::task::spawn_blocking(move || {
        let live = |ok: &dyn Fn(&switchyard_calls::calls_in_progress::LiveCallInfo) -> bool| {
            p.running.pbx.live_calls("demo").iter().any(ok)
        };
        until_blocking("the agent to answer the browser", LIMIT * 2, || {
            live(&|c| c.state == CallState::Answered && c.agent.as_deref() == Some("1002"))
        });
        let mut sup = Phone::new(sip, 0x7001);
        sup.sip.set_read_timeout(Some(LIMIT)).unwrap();
        sup.call_as("1001", &p.password("1001"), "*551002");
        until_blocking("the supervisor to listen", LIMIT, || {
            live(&|c| {
                c.monitors
                    .iter()
                    .any(|(s, a, _)| s == "1001" && a == "1002")
            })
        });
        let heard = sup.listen(Duration::from_secs(3));
        // The browser hangs up: the agent and the supervisor too.
        sup.answer_bye();
        heard
    });
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1003", call_talk_hang_up("600", 9000, "supervised"))).await;
    let heard = supervisor.await.unwrap();
    agent.await.unwrap();
    assert!(
        report["stats"]["supervised"]["packetsSent"]
            .as_u64()
            .unwrap_or(0)
            > 50,
        "the browser talked: {report}"
    );
    assert!(
        heard.len() > 50 * 160,
        "the supervisor got audio: {} bytes",
        heard.len()
    );
    let (peak, _) = peak_and_music(&heard);
    assert!(
        peak > 1000,
        "the supervisor hears the browser's beep: {peak}"
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.agent.as_deref(), Some("1002"), "{cdr:?}");
    assert_eq!(cdr.monitors.len(), 1, "{cdr:?}");
}

/// The browser (1001) calls agent phone 1002, who holds it (the host's
/// WebRTC re-offer, sendonly), consults 1003 and transfers with Replaces:
/// the host takes the browser off hold with a WebRTC re-offer of its own
/// (`offer_again`), so 1003 hears the browser's beep — a held browser
/// (recvonly) sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_holds_a_browser_and_transfers_it_with_replaces() {
    let pbx = Arc::new(pbx().await);
    let sip = pbx.addr();
    let p = pbx.clone();
    let phones = tokio::task::spawn_blocking(move || {
        let mut a1 = patient_phone(sip, "1002", &p.password("1002"), 0x8A1);
        let mut b = patient_phone(sip, "1003", &p.password("1003"), 0x8B0);
        let mut a2 = Phone::new(sip, 0x8A2);
        a2.sip.set_read_timeout(Some(LIMIT)).unwrap();
        // The browser calls; 1002 answers and holds it: JsSIP must take
        // the host's WebRTC re-offer, or `reinvite` fails.
        a1.answer_invite(|_| "sendrecv");
        a1.reinvite("sendonly");
        // 1002 consults 1003 on a second call.
        std::thread::scope(|s| {
            s.spawn(|| b.answer_invite(|_| "sendrecv"));
            a2.call_as("1002", &p.password("1002"), "1003");
        });
        refer_with_replaces(&mut a1, &a2, "1003");
        let notifies = std::thread::scope(|s| {
            // 1003 is moved into the browser's call by re-INVITE; the
            // browser is taken off hold (JsSIP answers on its own).
            s.spawn(|| b.answer_invite(|_| "sendrecv"));
            s.spawn(|| a2.answer_bye());
            hear_transfer(&a1)
        });
        let heard = talk_and_listen(&b, 3);
        b.answer_bye();
        (notifies, heard)
    });
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1001", call_talk_hang_up("1002", 9000, "transferred"))).await;
    let (notifies, heard) = phones.await.unwrap();
    assert_eq!(
        notifies.last().map(String::as_str),
        Some("SIP/2.0 200 OK\r\n"),
        "{notifies:?}"
    );
    assert!(
        heard.len() > 8000,
        "1003 got the browser's audio: {} bytes",
        heard.len()
    );
    let (peak, _) = peak_and_music(&heard);
    assert!(
        peak > 1000,
        "1003 hears the browser's beep, off hold: {peak}"
    );
    assert_heard(&report["stats"]["transferred"], "audio/opus");
    let cdrs = pbx.cdrs(2).await;
    let call1 = cdrs
        .iter()
        .find(|c| c.caller == "1001")
        .expect("the browser's call");
    assert_eq!(call1.agent.as_deref(), Some("1003"), "the transfer shows");
}

/// 1002 calls 1003, whose phone rings; the browser (1001) dials `**1003`
/// and takes the call (directed pickup): its WebRTC offer is answered on
/// a leg of its own, and the caller and the browser hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_picks_up_a_call_ringing_another_phone() {
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    let ringing = blocking(move || p.phone("1003", "uas_ring_no_answer", &[])).await;
    let sip = pbx.addr();
    let password = pbx.password("1002");
    let caller = tokio::task::spawn_blocking(move || {
        let mut phone = Phone::new(sip, 0x8002);
        phone.sip.set_read_timeout(Some(LIMIT)).unwrap();
        // Answered by whoever picks the call up.
        phone.call_as("1002", &password, "1003");
        let heard = talk_and_listen(&phone, 3);
        // The browser hangs up.
        phone.answer_bye();
        heard
    });
    until("1003's phone to ring", || {
        pbx.running
            .pbx
            .live_calls("demo")
            .iter()
            .any(|c| c.state == CallState::Ringing)
    })
    .await;
    let p = pbx.clone();
    let report =
        blocking(move || browser(&p, "1001", call_talk_hang_up("**1003", 4000, "picked"))).await;
    let heard = caller.await.unwrap();
    blocking(move || ringing.wait()).await.assert_ok();
    assert_heard(&report["stats"]["picked"], "audio/opus");
    assert!(
        peak(&heard) > 1000,
        "the caller hears the browser's beep: peak {}",
        peak(&heard)
    );
    let c = pbx
        .cdrs(1)
        .await
        .into_iter()
        .find(|c| c.dialled == "1003")
        .unwrap();
    assert_eq!(
        c.agent.as_deref(),
        Some("1001"),
        "the browser took the call"
    );
}
