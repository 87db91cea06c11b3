//! What an operator sees at INFO level: one line per call start, answer
//! and end, with the Call-ID, and one per registration change. The server
//! runs in-process with the log captured; SIPp plays the phones.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

mod common;

use common::{blocking, pbx};

/// Everything logged in this test binary (the subscriber is global: the
/// server logs from its runtime's threads).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let c = Captured::default();
        let w = c.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || w.clone())
            .init();
        c
    })
}

/// The captured lines that contain every one of `parts`.
fn lines_with(parts: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(&log().0.lock().unwrap()).to_string();
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_a_registration_each_leave_their_info_lines() {
    log();
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    let outcome = blocking(move || {
        let callee = p.phone("1002", "uas_answer", &[]);
        let caller = p.dial("1001", "1002", "uac_call", &[("pause_ms", "300")]);
        (caller, callee.wait())
    })
    .await;
    outcome.0.assert_ok();
    outcome.1.assert_ok();
    let cdrs = pbx.cdrs(1).await;
    let id = format!("call_id={}", cdrs[0].call_id);

    let started = lines_with(&[" INFO ", "call started", &id]);
    assert_eq!(started.len(), 1, "{started:?}");
    for part in ["tenant=demo", "flow=", "caller=1001", "dialled=1002"] {
        assert!(started[0].contains(part), "{part}: {started:?}");
    }
    let answered = lines_with(&[" INFO ", "call answered", &id]);
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert!(answered[0].contains("answered_by=1002"), "{answered:?}");
    let ended = lines_with(&[" INFO ", "call ended", &id]);
    assert_eq!(ended.len(), 1, "{ended:?}");
    for part in [
        "tenant=demo",
        "disposition=answered",
        "hangup_by=caller",
        "sip_code=200",
        "duration_s=",
        "talk_s=",
    ] {
        assert!(ended[0].contains(part), "{part}: {ended:?}");
    }

    // The callee's phone registered once: a new binding, at INFO.
    let registered = lines_with(&[" INFO ", "registered", "tenant=demo", "ext=1002"]);
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert!(registered[0].contains("contact=sip:"), "{registered:?}");

    // Its binding runs out: removed, and said so.
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 24 * 3600 * 1000;
    assert_eq!(pbx.running.pbx.expire_registrations(later), 1);
    let expired = lines_with(&[" INFO ", "registration expired", "tenant=demo", "ext=1002"]);
    assert_eq!(expired.len(), 1, "{expired:?}");
}
