//! The host's own media with real peers: SIPp callers send RTP and
//! RFC 4733 keys from pcap files through the demo tenant's `ivr-menu`,
//! and a caller written here listens to what the host plays, byte for
//! byte, and leaves a voicemail fetched back through the HTTP API.

mod common;

use std::time::Duration;

use common::phone::{Phone, carrier_tenant, leave_a_message_for_the_operators, on_the_wire};
use common::{LIMIT, blocking, channels, pbx, pbx_with, voicemails};
use switchyard_rtp::g711::Law;
use switchyard_rtp::tones::tone_amplitude;
use switchyard_sipp::Sipp;
use switchyard_sipp::pcap::RtpScript;
use switchyard_store::{Disposition, FileRepo};

/// A stereo recording's channels.
/// Keys pressed over the menus drive the IVR through its three levels
/// (main → support → broadband → the business-broadband ring group); the
/// agent who answers is connected and recorded from their answer on,
/// caller left and agent right, none of the IVR in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_the_ivr_through_three_levels_to_the_ring_group_and_the_call_is_recorded() {
    let pbx = std::sync::Arc::new(pbx().await);
    let dir = tempfile::tempdir().unwrap();
    // The caller talks at 300 Hz over the menus, presses 1, 1, 2, and
    // then talks at 440 Hz to the agent.
    let caller_pcap = dir.path().join("caller.pcap");
    let mut caller_rtp = RtpScript::new();
    caller_rtp
        .tone(300.0, 1000)
        .digit('1', 100)
        .tone(300.0, 700)
        .digit('1', 100)
        .tone(300.0, 700)
        .digit('2', 100)
        .tone(440.0, 5000);
    caller_rtp.write_pcap(&caller_pcap).unwrap();
    // The agent talks at 1200 Hz.
    let agent_pcap = dir.path().join("agent.pcap");
    RtpScript::new()
        .tone(1200.0, 6000)
        .write_pcap(&agent_pcap)
        .unwrap();

    let p = pbx.clone();
    let (caller, agent) = blocking(move || {
        let agent = p.phone_with(
            "1002",
            Sipp::new("uas_answer_pcap").key("pcap", agent_pcap.to_str().unwrap()),
        );
        let caller = Sipp::new("uac_call_pcap")
            .remote(p.addr())
            .user("700")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "6500")
            .key("pcap", caller_pcap.to_str().unwrap())
            .timeout(LIMIT)
            .run();
        (caller, agent.wait())
    })
    .await;
    caller.assert_ok();
    agent.assert_ok();

    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(
        cdr.agent.as_deref(),
        Some("1002"),
        "the ring group's member"
    );
    assert_eq!(cdr.flow_plugin.as_deref(), Some("ivr-menu"));
    assert_eq!(cdr.hangup_by.as_deref(), Some("caller"));
    let id = cdr.recording.expect("the answered call was recorded");
    let (rec, path) = pbx
        .running
        .store
        .get_file("demo", "recording", &id)
        .unwrap()
        .expect("the recording is stored");
    assert_eq!(rec.meta.get("agent").map(String::as_str), Some("1002"));
    let (n, caller_side, agent_side) = channels(&path);
    assert_eq!(n, 2, "stereo");
    let secs = caller_side.len() as f64 / 8000.0;
    // From the agent's answer (about 2.7 s into the call) to the BYE at 6.5 s.
    assert!((2.5..=4.8).contains(&secs), "recorded {secs:.2} s");
    let caller_440 = tone_amplitude(&caller_side, 440.0);
    let caller_300 = tone_amplitude(&caller_side, 300.0);
    let agent_1200 = tone_amplitude(&agent_side, 1200.0);
    assert!(
        caller_440 > 2000.0,
        "the caller on the left: {caller_440:.0}"
    );
    assert!(
        caller_300 < caller_440 / 10.0,
        "nothing said during the IVR: 300 Hz at {caller_300:.0} vs 440 Hz at {caller_440:.0}"
    );
    assert!(
        agent_1200 > 2000.0,
        "the agent on the right: {agent_1200:.0}"
    );
    assert!(
        tone_amplitude(&agent_side, 440.0) < agent_1200 / 10.0,
        "channels apart"
    );
}

/// A caller from the carrier hears the main menu exactly as the tenant
/// recorded it, presses 0 for a human; nobody of the operators' group is
/// there, so the menu sends the caller to the operators' mailbox: the
/// greeting, a beep, the message (ended by `#`), and the host hangs up.
/// The message is listed and downloaded through the HTTP API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hears_the_menu_presses_0_and_leaves_a_voicemail_fetched_over_http() {
    let pbx = pbx_with(Some(carrier_tenant()), None).await;
    let sip = pbx.running.sip_udp;
    let heard = blocking(move || leave_a_message_for_the_operators(sip)).await;
    let (menu, greeting) = heard;
    let expected_menu = on_the_wire(switchyard_artifacts::DEMO_PROMPTS[0].1);
    assert!(
        menu.len() >= 8000 * 8 / 10,
        "about a second of the menu: {} bytes",
        menu.len()
    );
    assert_eq!(
        &menu[..],
        &expected_menu[..menu.len()],
        "the caller hears the tenant's main-menu prompt from its first sample"
    );
    let greeting_pcm: Vec<i16> = greeting
        .iter()
        .map(|&b| Law::Pcmu.decode_sample(b))
        .collect();
    let beep = greeting_pcm
        .chunks(800)
        .map(|c| tone_amplitude(c, 1000.0))
        .fold(0.0, f64::max);
    assert!(beep > 3000.0, "a beep before the message: {beep:.0}");
    // The greeting is the host's default one (no greeting uploaded for the
    // operators' mailbox); what was left of the menu comes first.
    let default_greeting = on_the_wire(include_bytes!("../../calls/assets/vm-greeting.wav"));
    let second = &default_greeting[..8000];
    assert!(
        greeting.windows(second.len()).any(|w| w == second),
        "the default greeting is played"
    );

    // The message, through the API.
    let (http, token) = (pbx.running.http, pbx.running.operator_token.clone());
    let (list, wav) = blocking(move || voicemails(http, &token)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let meta = &list[0]["meta"];
    assert_eq!(meta["mailbox"], "operators");
    assert_eq!(meta["caller"], "+15551230000");
    let ms: u64 = meta["duration_ms"].as_str().unwrap().parse().unwrap();
    assert!((1200..=3500).contains(&ms), "the message lasts {ms} ms");
    let message = switchyard_rtp::wav::load_prompt(&wav).expect("a playable WAV");
    let tone = tone_amplitude(&message.samples, 700.0);
    assert!(tone > 3000.0, "the caller's words are in it: {tone:.0}");
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Voicemail);
    assert_eq!(cdr.direction, "inbound");
}

/// An answered call between two phones: every packet each side sends is
/// counted at the other; the agent puts the caller on hold and the caller
/// hears music from the host instead of silence; after the resume the
/// agent's own packets come through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_relayed_both_ways_and_a_held_caller_hears_music() {
    let pbx = pbx_with(Some(carrier_tenant()), None).await;
    let sip = pbx.running.sip_udp;
    let password = pbx
        .running
        .demo_credentials
        .iter()
        .find(|(n, _)| n == "1002")
        .unwrap()
        .1
        .clone();
    let (agent_ready_tx, agent_ready) = std::sync::mpsc::channel();
    let (caller_done_tx, caller_done) = std::sync::mpsc::channel::<()>();
    let agent = std::thread::spawn(move || {
        let mut a = Phone::new(sip, 0xA6E7);
        a.register("1002", &password);
        agent_ready_tx.send(()).unwrap();
        a.answer_invite(|_| "sendrecv");
        // Both talk for a second.
        let mut t = a.talker();
        let talk = std::thread::spawn(move || t.tone(1200.0, 1000));
        let heard = a.listen_packets(Duration::from_millis(2000));
        talk.join().unwrap();
        // Hold, wait, take the caller back, talk again.
        // The hold lasts well beyond the caller's listening window, so
        // a slow start of the music on a loaded machine costs nothing.
        a.reinvite("sendonly");
        std::thread::sleep(Duration::from_millis(3000));
        a.reinvite("sendrecv");
        a.ssrc = 0xB0B;
        a.tone(1200.0, 400);
        caller_done.recv().unwrap();
        a.answer_bye();
        heard
    });
    agent_ready.recv().unwrap();
    let caller = std::thread::spawn(move || {
        let mut c = Phone::new(sip, 0xCA11);
        c.call("+15550199");
        let mut t = c.talker();
        let talk = std::thread::spawn(move || t.tone(440.0, 1000));
        let heard = c.listen_packets(Duration::from_millis(2000));
        talk.join().unwrap();
        // The hold: the PBX asks us to receive only; we answer recvonly.
        let offered = c.answer_invite(|d| {
            if d == "sendonly" {
                "recvonly"
            } else {
                "sendrecv"
            }
        });
        let on_hold = c.listen_packets(Duration::from_millis(2000));
        let resumed_offer = c.answer_invite(|_| "sendrecv");
        // 400 ms of the agent, with room for a slow machine.
        let after = c.listen_packets(Duration::from_millis(1200));
        c.bye();
        caller_done_tx.send(()).unwrap();
        (heard, offered, on_hold, resumed_offer, after)
    });
    let agent_heard = blocking(move || agent.join().unwrap()).await;
    let (caller_heard, offered, on_hold, resumed_offer, after) =
        blocking(move || caller.join().unwrap()).await;

    // Each leg gets one stream from the host (one SSRC, whatever it
    // carries: relayed packets are rewritten into it), so a phone's
    // packets are told by their tone: the caller's 440 Hz, the agent's
    // 1200 Hz.
    let from = |v: &[(u32, Vec<u8>)], freq: f64| {
        v.iter()
            .filter(|(_, p)| {
                let pcm: Vec<i16> = p.iter().map(|&b| Law::Pcmu.decode_sample(b)).collect();
                tone_amplitude(&pcm, freq) > 4000.0
            })
            .count()
    };
    assert_eq!(
        from(&caller_heard, 1200.0),
        50,
        "every packet of the agent reached the caller"
    );
    assert_eq!(
        from(&agent_heard, 440.0),
        50,
        "every packet of the caller reached the agent"
    );
    let ssrcs: std::collections::BTreeSet<u32> = caller_heard
        .iter()
        .chain(&on_hold)
        .chain(&after)
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        ssrcs.len(),
        1,
        "one stream to the caller across relay, music and relay: {ssrcs:x?}"
    );
    assert!(!ssrcs.contains(&0xA6E7) && !ssrcs.contains(&0xB0B));
    assert_eq!(offered, "sendonly", "the hold is passed on");
    assert_eq!(resumed_offer, "sendrecv");
    assert!(
        on_hold.len() >= 50,
        "music while held: {} packets in 2 s",
        on_hold.len()
    );
    let music: Vec<i16> = on_hold
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&b| Law::Pcmu.decode_sample(b)))
        .collect();
    let c4 = tone_amplitude(&music, 261.63);
    assert!(c4 > 300.0, "the built-in music's first chord: {c4:.0}");
    assert_eq!(
        from(&on_hold, 1200.0),
        0,
        "nothing of the agent while on hold"
    );
    assert_eq!(
        from(&after, 1200.0),
        20,
        "after the resume the agent is heard again"
    );
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.hangup_by.as_deref(), Some("caller"));
}

/// The agent blind-transfers the caller (REFER): the host takes the
/// transfer (202, NOTIFY 200, BYE to the agent), rings the target with
/// ringback to the caller, and connects them; the recording runs through
/// both agents and pauses while the target rings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_the_caller_and_the_recording_pauses_meanwhile() {
    let pbx = std::sync::Arc::new(pbx().await);
    let dir = tempfile::tempdir().unwrap();
    let pcap = |name: &str, freq: f64, ms: u32| {
        let path = dir.path().join(name);
        RtpScript::new().tone(freq, ms).write_pcap(&path).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (caller_pcap, first_pcap, second_pcap) = (
        pcap("caller.pcap", 440.0, 6000),
        pcap("first.pcap", 1200.0, 1500),
        pcap("second.pcap", 900.0, 4000),
    );
    let p = pbx.clone();
    let (caller, first, second) = blocking(move || {
        let first = p.phone_with(
            "1002",
            Sipp::new("uas_answer_refer")
                .set("target", "1003")
                .set("talk_ms", "1500")
                .key("pcap", &first_pcap),
        );
        let second = p.phone_with(
            "1003",
            Sipp::new("uas_answer_pcap")
                .set("ring_ms", "1000")
                .key("pcap", &second_pcap),
        );
        let caller = Sipp::new("uac_call_pcap")
            .remote(p.addr())
            .user("1002")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .set("pause_ms", "5000")
            .key("pcap", &caller_pcap)
            .timeout(LIMIT)
            .run();
        (caller, first.wait(), second.wait())
    })
    .await;
    caller.assert_ok();
    first.assert_ok();
    second.assert_ok();
    let cdr = pbx.cdrs(1).await.remove(0);
    assert_eq!(cdr.disposition, Disposition::Answered);
    assert_eq!(cdr.agent.as_deref(), Some("1003"), "the transfer target");
    let targets: Vec<&str> = cdr.legs.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["1002", "1003"]);
    let id = cdr.recording.expect("recorded");
    let (_, caller_side, agent_side) = channels(&pbx.recording_path(&id));
    let secs = caller_side.len() as f64 / 8000.0;
    // 1.5 s with the first agent + about 2.4 s with the second; the
    // second's 1 s of ringing is not in it.
    assert!(
        (3.0..=4.3).contains(&secs),
        "recorded {secs:.2} s of a 5 s call"
    );
    assert!(tone_amplitude(&caller_side, 440.0) > 2000.0);
    let (a1, a2) = (
        tone_amplitude(&agent_side, 1200.0),
        tone_amplitude(&agent_side, 900.0),
    );
    assert!(
        a1 > 1000.0 && a2 > 1000.0,
        "both agents on the right: {a1:.0}, {a2:.0}"
    );
}

/// Bad media input gets a clear answer and loses nothing: an offer that
/// does not parse is 400, one with nothing in common is 488, and a prompt
/// in a format the player cannot play is refused at upload, naming the
/// formats it takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sdp_gets_400_or_488_and_an_unplayable_prompt_is_refused_at_upload() {
    let pbx = pbx_with(Some(carrier_tenant()), None).await;
    let sip = pbx.running.sip_udp;
    let (malformed, g729) = blocking(move || {
        let mut a = Phone::new(sip, 0xBAD1);
        let malformed = a.offer("+15550100", "v=0\r\nthis is not sdp\r\n");
        let mut b = Phone::new(sip, 0xBAD2);
        let g729 = b.offer(
            "+15550100",
            "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
        );
        (malformed, g729)
    })
    .await;
    assert_eq!(malformed, 400, "a malformed offer");
    assert_eq!(g729, 488, "G.729 only: nothing in common");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cdrs = pbx.cdrs(0).await;
    assert!(cdrs.is_empty(), "refused before any flow ran: {cdrs:?}");

    // A 44.1 kHz stereo WAV is not something the player plays.
    let mut wav = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut wav, spec).unwrap();
        for _ in 0..4410 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
    }
    let url = format!(
        "http://{}/api/tenants/demo/prompts/welcome",
        pbx.running.http
    );
    let token = pbx.running.operator_token.clone();
    let (status, body) = blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut r = agent
            .put(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "audio/wav")
            .send(wav.into_inner())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    })
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("8000 Hz mono"),
        "names the accepted formats: {body}"
    );
    assert!(
        pbx.running
            .store
            .get_file("demo", "prompt", "welcome")
            .unwrap()
            .is_none(),
        "nothing stored"
    );
}
