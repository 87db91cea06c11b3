//! A call's media on real UDP sockets: two phones, the media task between
//! them — relayed packets counted at each far end, a prompt played, a
//! message recorded to a WAV file.

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_media::{LegConfig, LegCounts, LegId, MediaEvent, MediaHandle, PlayItem, PortPool};

const A: LegId = LegId(0);
const B: LegId = LegId(1);
use switchyard_rtp::dtmf::TelephoneEvent;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    rtp_at(pt, seq, u32::from(seq) * 160, payload)
}

fn rtp_at(pt: u8, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    RtpHeader {
        marker: seq == 0,
        payload_type: pt,
        sequence: seq,
        timestamp,
        ssrc: 0x1234,
        csrcs: vec![],
        extension: None,
    }
    .to_bytes(payload)
    .unwrap()
}

/// Receive until `n` packets arrived or 2 s passed; their payload types.
async fn receive(sock: &UdpSocket, n: usize) -> Vec<u8> {
    let mut pts = Vec::new();
    let mut buf = [0u8; 2048];
    while pts.len() < n {
        match tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
            Ok(Ok((k, _))) => pts.push(RtpPacket::parse(&buf[..k]).unwrap().header.payload_type),
            _ => break,
        }
    }
    pts
}

#[tokio::test]
async fn media_is_relayed_both_ways_transcoded_with_digits_reported() {
    let pool = PortPool::new([127, 0, 0, 1].into(), 31000, 31100);
    let (a_ports, b_ports) = (
        pool.allocate().await.unwrap(),
        pool.allocate().await.unwrap(),
    );
    let (a_addr, b_addr) = (a_ports.rtp_addr(), b_ports.rtp_addr());
    assert_ne!(a_addr, b_addr);
    assert_eq!(a_addr.port() % 2, 0, "RTP on an even port");
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let phone_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let media = MediaHandle::start(Some(Duration::from_secs(2)), tx);
    media.add_leg(A, a_ports);
    media.add_leg(B, b_ports);
    media.configure(
        A,
        LegConfig {
            law: Law::Pcmu,
            event_pt: Some(101),
            remote: Some(phone_a.local_addr().unwrap()),
            sends: true,
        },
    );
    media.configure(
        B,
        LegConfig {
            law: Law::Pcma,
            event_pt: Some(96),
            remote: Some(phone_b.local_addr().unwrap()),
            sends: true,
        },
    );
    let bridge = media.create_bridge();
    media.join(A, bridge);
    media.join(B, bridge);

    // A → B: 50 µ-law packets arrive as 50 A-law packets.
    for seq in 0..50u16 {
        phone_a
            .send_to(&rtp(0, seq, &[0xFF; 160]), a_addr)
            .await
            .unwrap();
    }
    assert_eq!(receive(&phone_b, 50).await, vec![8u8; 50]);
    // B → A: 50 A-law packets arrive as µ-law.
    for seq in 0..50u16 {
        phone_b
            .send_to(&rtp(8, seq, &[0xD5; 160]), b_addr)
            .await
            .unwrap();
    }
    assert_eq!(receive(&phone_a, 50).await, vec![0u8; 50]);
    // A stranger's packets to A's port go nowhere.
    for seq in 0..5u16 {
        stranger
            .send_to(&rtp(0, seq, &[0xFF; 160]), a_addr)
            .await
            .unwrap();
    }
    // A presses 7: reported once, forwarded with B's event type.
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: 7,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1),
        };
        phone_a
            // Every packet of one key press carries the same timestamp.
            .send_to(&rtp_at(101, 100 + i as u16, 16_000, &ev.to_bytes()), a_addr)
            .await
            .unwrap();
    }
    assert_eq!(receive(&phone_b, 5).await, vec![96u8; 5]);
    let ev = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap();
    assert_eq!(ev, Some(MediaEvent::Digit { leg: A, digit: '7' }));
    assert_eq!(
        media.counts(A).await,
        LegCounts {
            relayed: 55,
            ignored: 5
        },
        "A: 55 relayed, the stranger's 5 ignored"
    );
    // Nobody speaks any more: the task says a leg is dead.
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap();
    assert!(matches!(ev, Some(MediaEvent::Timeout { .. })), "{ev:?}");
    drop(media);
    let _: SocketAddr = a_addr;
}

/// A caller alone with the host: a prompt played as 20 ms packets, then
/// a message recorded until the caller presses `#`.
#[tokio::test]
async fn a_prompt_is_played_and_a_message_recorded_to_a_wav_file() {
    let pool = PortPool::new([127, 0, 0, 1].into(), 31400, 31500);
    let ports = pool.allocate().await.unwrap();
    let a_addr = ports.rtp_addr();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let media = MediaHandle::start(None, tx);
    media.add_leg(A, ports);
    media.configure(
        A,
        LegConfig {
            law: Law::Pcmu,
            event_pt: Some(101),
            remote: Some(phone.local_addr().unwrap()),
            sends: true,
        },
    );
    // 200 ms of prompt: ten packets, paced by the clock, then `Played`.
    let prompt: std::sync::Arc<[i16]> = vec![2000i16; 1600].into();
    let started = std::time::Instant::now();
    let id = media.play(A, vec![PlayItem::Samples(prompt)], false);
    assert_eq!(receive(&phone, 10).await, vec![0u8; 10]);
    assert!(
        started.elapsed() >= Duration::from_millis(160),
        "paced at 20 ms, not sent in a burst: {:?}",
        started.elapsed()
    );
    let ev = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap();
    assert_eq!(ev, Some(MediaEvent::Played { leg: A, id }));

    let dir = std::env::temp_dir().join(format!("sy-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("message.wav");
    media.start_message(
        A,
        path.clone(),
        Duration::from_secs(10),
        Some('#'),
        Duration::from_secs(5),
    );
    // 0.5 s of a 700 Hz tone, then `#`.
    for seq in 0..25u16 {
        let samples: Vec<i16> = (0..160)
            .map(|n| {
                let t = f64::from(u32::from(seq) * 160 + n) / 8000.0;
                (6000.0 * (2.0 * std::f64::consts::PI * 700.0 * t).sin()) as i16
            })
            .collect();
        let mut payload = Vec::new();
        Law::Pcmu.encode(&samples, &mut payload);
        phone.send_to(&rtp(0, seq, &payload), a_addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ev = TelephoneEvent {
        event: 11,
        end: false,
        volume: 10,
        duration: 160,
    };
    phone
        .send_to(&rtp_at(101, 30, 99_999, &ev.to_bytes()), a_addr)
        .await
        .unwrap();
    let mut recorded = None;
    while recorded.is_none() {
        match tokio::time::timeout(Duration::from_secs(3), events.recv())
            .await
            .unwrap()
        {
            Some(MediaEvent::MessageRecorded {
                leg: A,
                duration,
                end,
            }) => recorded = Some((duration, end)),
            Some(MediaEvent::Digit { digit, .. }) => assert_eq!(digit, '#'),
            other => panic!("{other:?}"),
        }
    }
    let (duration, end) = recorded.unwrap();
    assert_eq!(end, switchyard_media::MessageEnd::Key('#'));
    assert!(
        duration >= Duration::from_millis(400) && duration <= Duration::from_millis(900),
        "{duration:?}"
    );
    let prompt = switchyard_rtp::wav::load_prompt(&std::fs::read(&path).unwrap()).unwrap();
    let amplitude = switchyard_rtp::tones::tone_amplitude(&prompt.samples, 700.0);
    assert!(
        amplitude > 3000.0,
        "the caller's tone is in the file: {amplitude}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_pool_skips_ports_in_use_and_says_when_it_is_exhausted() {
    let busy = std::net::UdpSocket::bind("127.0.0.1:31200").unwrap();
    let pool = PortPool::new([127, 0, 0, 1].into(), 31200, 31203);
    let first = pool.allocate().await.unwrap();
    assert_eq!(first.rtp_addr().port(), 31202);
    let err = pool.allocate().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("no free RTP port pair in 31200-31203"),
        "{err}"
    );
    drop(busy);
}

/// Ports go back the moment the media is stopped: no window in which an
/// ended call still holds them (issue 11: new calls got `503 No Media
/// Ports` while abandoned calls kept theirs).
#[tokio::test]
async fn stopped_media_gives_its_ports_back_at_once() {
    let pool = PortPool::new([127, 0, 0, 1].into(), 31600, 31603);
    let ports = [
        pool.allocate().await.unwrap(),
        pool.allocate().await.unwrap(),
    ];
    let rtp = ports[0].rtp_addr();
    assert_eq!(pool.in_use(), 2);
    assert!(pool.allocate().await.is_err(), "the range is two pairs");
    let (tx, _events) = mpsc::unbounded_channel();
    let media = MediaHandle::start(None, tx);
    let [a, b] = ports;
    media.add_leg(A, a);
    media.add_leg(B, b);
    assert_eq!(pool.in_use(), 2, "the running media holds its pairs");
    media.close().await;
    assert_eq!(pool.in_use(), 0);
    // Closed, not only uncounted: the port can be bound again right away.
    std::net::UdpSocket::bind(rtp).expect("the RTP port is free again");
    let again = pool.allocate().await.unwrap();
    assert_eq!(pool.in_use(), 1);
    drop(again);
    assert_eq!(
        pool.in_use(),
        0,
        "a pair dropped before use is given back too"
    );
}

/// Legs come and go while the call runs: a third phone joins a relayed
/// call (everybody is mixed then, on the clock), and leaves with its
/// ports given back at once.
#[tokio::test]
async fn a_leg_is_added_to_a_running_call_mixed_and_removed() {
    let pool = PortPool::new([127, 0, 0, 1].into(), 31800, 31900);
    let (a_ports, b_ports, c_ports) = (
        pool.allocate().await.unwrap(),
        pool.allocate().await.unwrap(),
        pool.allocate().await.unwrap(),
    );
    let (a_addr, c_addr) = (a_ports.rtp_addr(), c_ports.rtp_addr());
    let phones = [
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    ];
    let cfg = |i: usize| LegConfig {
        law: Law::Pcmu,
        event_pt: Some(101),
        remote: Some(phones[i].local_addr().unwrap()),
        sends: true,
    };
    let (tx, _events) = mpsc::unbounded_channel();
    let media = MediaHandle::start(None, tx);
    const C: LegId = LegId(2);
    media.add_leg(A, a_ports);
    media.add_leg(B, b_ports);
    media.configure(A, cfg(0));
    media.configure(B, cfg(1));
    let bridge = media.create_bridge();
    media.join(A, bridge);
    media.join(B, bridge);
    for seq in 0..5u16 {
        phones[0]
            .send_to(&rtp(0, seq, &[0xFF; 160]), a_addr)
            .await
            .unwrap();
    }
    assert_eq!(receive(&phones[1], 5).await, vec![0u8; 5], "relayed");
    media.add_leg(C, c_ports);
    media.configure(C, cfg(2));
    media.join(C, bridge);
    // C hears A and B mixed, one packet per tick, whether they speak or not.
    phones[2]
        .send_to(&rtp(0, 0, &[0xFF; 160]), c_addr)
        .await
        .unwrap();
    assert_eq!(receive(&phones[2], 10).await, vec![0u8; 10], "mixed for C");
    assert_eq!(pool.in_use(), 3);
    media.remove_leg(C);
    let mut waited = 0;
    while pool.in_use() != 2 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(pool.in_use(), 2, "C's ports are back");
    media.close().await;
    assert_eq!(pool.in_use(), 0);
}
