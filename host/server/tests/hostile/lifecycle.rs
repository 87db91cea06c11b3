//! Calls that would never end, and the ports they hold (issue 11, item 6):
//! a caller that never ACKs the 200, and a call that nobody hangs up. Each
//! is ended by the host with a BYE to both sides, has its call record, and
//! has given its RTP ports back by the time the record is there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_calls::CallSettings;
use switchyard_server::{Config, start};
use switchyard_sip::timers::TimerConfig;
use switchyard_store::Disposition;

use crate::common::{Pbx, blocking};

/// A short T1 so that Timer H (64·T1) is 6.4 s rather than 32 s.
const T1: Duration = Duration::from_millis(100);

async fn pbx_with_settings(sip_timers: TimerConfig, calls: CallSettings) -> Pbx {
    let tmp = tempfile::tempdir().expect("temp dir");
    let running = start(Config {
        data_dir: tmp.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        sip_timers,
        calls,
        ..Config::default()
    })
    .await
    .expect("server starts");
    Pbx { running, _dir: tmp }
}

/// The call ended by the host: its record says so, and nothing of it is
/// left — no live call, no RTP port.
async fn ended_by_the_host(pbx: &Pbx) {
    let cdrs = pbx.cdrs(1).await;
    assert_eq!(cdrs.len(), 1, "one call, one record");
    let c = &cdrs[0];
    assert_eq!(c.disposition, Disposition::Answered, "{c:?}");
    assert_eq!(c.hangup_by.as_deref(), Some("system"), "{c:?}");
    // The ports are closed before the record is written.
    assert_eq!(
        pbx.running.pbx.rtp_ports_in_use(),
        0,
        "the ended call gave its ports back"
    );
    assert!(
        pbx.running
            .pbx
            .metrics_text()
            .contains("switchyard_rtp_port_pairs_in_use 0"),
        "the gauge says so too"
    );
    // The task forgets the call just after the record and the reporters.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pbx.running.pbx.active_calls() > 0 {
        assert!(Instant::now() < deadline, "the call task never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_never_acked_is_hung_up_after_timer_h() {
    let timers = TimerConfig {
        t1: T1,
        ..TimerConfig::default()
    };
    let pbx = Arc::new(pbx_with_settings(timers, CallSettings::default()).await);
    let p = pbx.clone();
    let (caller, callee, took) = blocking(move || {
        let callee = p.phone("1002", "uas_answer", &[]);
        let started = Instant::now();
        // Gets the 200, never ACKs, and waits for our BYE.
        let caller = p.dial("1001", "1002", "uac_no_ack", &[]);
        (caller, callee.wait(), started.elapsed())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    let timer_h = timers.transaction_timeout();
    assert!(
        took >= timer_h,
        "the BYE came after {took:?}, before Timer H ({timer_h:?})"
    );
    ended_by_the_host(&pbx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_nobody_hangs_up_ends_at_the_maximum_duration() {
    let max = Duration::from_secs(2);
    let calls = CallSettings {
        max_call_duration: Some(max),
        ..CallSettings::default()
    };
    let pbx = Arc::new(pbx_with_settings(TimerConfig::default(), calls).await);
    let p = pbx.clone();
    let (caller, callee, took) = blocking(move || {
        let callee = p.phone("1002", "uas_answer", &[]);
        let started = Instant::now();
        // Both phones wait for the other to hang up: only the host can.
        let caller = p.dial("1001", "1002", "uac_call_wait_bye", &[]);
        (caller, callee.wait(), started.elapsed())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    assert!(took >= max, "the BYE came after {took:?}, before {max:?}");
    ended_by_the_host(&pbx).await;
}
