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

use common::phone::Phone;
use common::*;
use serde_json::{Value, json};
use switchyard_rtp::g711::Law;
use switchyard_store::Disposition;

/// Chromium opens the phone page as `user` and plays `steps`; what
/// `phone.mjs` reports.
fn browser(pbx: &Pbx, user: &str, steps: Value) -> Value {
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
        // Talk for three seconds while the browser listens, then hear
        // what the browser says.
        let talker = phone.talker();
        let talking = std::thread::spawn(move || {
            let mut t = talker;
            t.tone(600.0, 3000);
        });
        let heard = phone.listen(Duration::from_secs(3));
        talking.join().unwrap();
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
                {"do": "call", "to": "1002"},
                {"do": "wait", "state": "confirmed"},
                {"do": "sleep", "ms": 2500},
                {"do": "stats", "name": "talk"},
                {"do": "hangup"}
            ]),
        )
    })
    .await;
    let heard = phone.await.unwrap();
    assert_heard(&report["stats"]["talk"], "audio/opus");
    assert!(
        heard.len() > 8000,
        "the phone got the browser's audio: {} bytes",
        heard.len()
    );
    let mut samples = Vec::new();
    Law::Pcmu.decode(&heard, &mut samples);
    let loudest = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(
        loudest > 1000,
        "the browser's beep is heard, not silence: peak {loudest}"
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
}
