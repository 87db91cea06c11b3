//! Attended transfer with real phones over UDP: agent 1002 takes a call
//! from 1001, holds it, consults 1003 on a second dialog, then REFERs the
//! first call with `Replaces` naming the second. Phone 1002 has two
//! dialogs at once and must read the host's tags back to build the
//! `Replaces`, so it is played here (raw UDP, as `common::phone`), which
//! also lets the test hear the RTP between 1001 and 1003 afterwards.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::phone::{Phone, hear_transfer, refer_with_replaces};
use common::{LIMIT, blocking, pbx};
use switchyard_store::Disposition;

/// RTP that carries sound (µ-law silence is 0xFF/0x7F).
fn voiced(packets: &[(u32, Vec<u8>)]) -> usize {
    packets
        .iter()
        .filter(|(_, p)| p.iter().any(|b| *b != 0xFF && *b != 0x7F))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_and_refers_with_replaces_and_caller_and_target_talk() {
    attended_transfer(false).await;
}

/// Some phones send the REFER on the consultation, naming the original
/// call: the same outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refer_on_the_consultation_dialog_transfers_the_same_way() {
    attended_transfer(true).await;
}

async fn attended_transfer(on_consultation: bool) {
    let pbx = std::sync::Arc::new(pbx().await);
    let p = pbx.clone();
    let notifies = blocking(move || {
        let pw = |e: &str| p.password(e);
        let mut a1 = Phone::new(p.addr(), 0xA1);
        a1.register("1002", &pw("1002"));
        let mut b = Phone::new(p.addr(), 0xB0);
        b.register("1003", &pw("1003"));
        let mut c = Phone::new(p.addr(), 0xC0);
        let mut a2 = Phone::new(p.addr(), 0xA2);

        // Call 1: 1001 calls 1002, who answers…
        thread::scope(|s| {
            s.spawn(|| a1.answer_invite(|_| "sendrecv"));
            c.call_as("1001", &pw("1001"), "1002");
        });
        // …and holds it.
        thread::scope(|s| {
            s.spawn(|| {
                c.answer_invite(|d| {
                    if d == "sendonly" {
                        "recvonly"
                    } else {
                        "sendrecv"
                    }
                })
            });
            a1.reinvite("sendonly");
        });
        // Call 2: 1002 consults 1003.
        thread::scope(|s| {
            s.spawn(|| b.answer_invite(|_| "sendrecv"));
            a2.call_as("1002", &pw("1002"), "1003");
        });
        assert_eq!(p.running.pbx.live_calls("demo").len(), 2);

        // 1002 refers one call, replacing its other dialog.
        if on_consultation {
            refer_with_replaces(&mut a2, &a1, "1001");
        } else {
            refer_with_replaces(&mut a1, &a2, "1003");
        }
        let notifies = thread::scope(|s| {
            // 1003 gets a re-INVITE with call 1's media, 1001 is taken
            // off hold, both of 1002's legs are hung up.
            s.spawn(|| b.answer_invite(|_| "sendrecv"));
            s.spawn(|| c.answer_invite(|_| "sendrecv"));
            let (referring, other) = if on_consultation {
                (&a2, &a1)
            } else {
                (&a1, &a2)
            };
            s.spawn(|| other.answer_bye());
            hear_transfer(referring)
        });

        // 1001 and 1003 hear each other through the host.
        let heard_by_b = thread::scope(|s| {
            s.spawn(|| c.tone(440.0, 1500));
            b.listen_packets(Duration::from_millis(1500))
        });
        let heard_by_c = thread::scope(|s| {
            s.spawn(|| b.tone(1000.0, 1500));
            c.listen_packets(Duration::from_millis(1500))
        });
        assert!(
            voiced(&heard_by_b) > 20,
            "1003 hears 1001: {}",
            heard_by_b.len()
        );
        assert!(
            voiced(&heard_by_c) > 20,
            "1001 hears 1003: {}",
            heard_by_c.len()
        );
        // The consultation call is over (its record is written first).
        let deadline = Instant::now() + LIMIT;
        while p.running.pbx.live_calls("demo").len() != 1 {
            assert!(Instant::now() < deadline, "the consultation call goes on");
            thread::sleep(Duration::from_millis(50));
        }
        thread::scope(|s| {
            s.spawn(|| b.answer_bye());
            c.bye();
        });
        notifies
    })
    .await;
    assert_eq!(
        notifies.first().map(String::as_str),
        Some("SIP/2.0 100 Trying\r\n")
    );
    assert_eq!(
        notifies.last().map(String::as_str),
        Some("SIP/2.0 200 OK\r\n")
    );
    // (`cdrs` waits for both records.)
    let cdrs = pbx.cdrs(2).await;
    let call1 = cdrs.iter().find(|c| c.caller == "1001").expect("call 1");
    assert_eq!(call1.disposition, Disposition::Answered);
    assert_eq!(call1.agent.as_deref(), Some("1003"), "the transfer shows");
    let targets: Vec<&str> = call1.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["1002", "1003"]);
    // The recording paused on hold and resumed after the transfer in the
    // same file: it holds the 3 s 1001 and 1003 talked.
    let id = call1.recording.clone().expect("recorded");
    let wav = hound::WavReader::open(pbx.recording_path(&id)).expect("a WAV file");
    let secs = f64::from(wav.duration()) / f64::from(wav.spec().sample_rate);
    assert!(
        secs >= 2.5,
        "the talk after the transfer is recorded: {secs} s"
    );
    let consult = cdrs.iter().find(|c| c.caller == "1002").expect("call 2");
    assert_eq!(consult.disposition, Disposition::Answered);
}
