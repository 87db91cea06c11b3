//! Bridges in a call's media, without sockets and with a fake clock: a
//! three-party mix, clipping, asymmetric hearing, a shared music-on-hold
//! source, legs moving between bridges and leaving them, one outbound
//! stream per leg across relay, prompts and mixes, and the IVR's last key
//! kept from the agent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_media::{LegConfig, LegId, Listener, MediaSession, PlayItem};
use switchyard_rtp::FRAME_SAMPLES;
use switchyard_rtp::dtmf::TelephoneEvent;
use switchyard_rtp::g711::Law;
use switchyard_rtp::packet::{RtpHeader, RtpPacket};

const A: LegId = LegId(10);
const B: LegId = LegId(20);
const C: LegId = LegId(30);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

/// Where leg `leg`'s phone sends from (and so where it is latched).
fn phone(leg: LegId) -> SocketAddr {
    addr(4000 + leg.0 as u16)
}

fn cfg(law: Law, event_pt: u8, leg: LegId) -> LegConfig {
    LegConfig {
        law,
        event_pt: Some(event_pt),
        remote: Some(phone(leg)),
        sends: true,
    }
}

fn rtp(pt: u8, ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
        csrcs: vec![],
        extension: None,
    }
    .to_bytes(payload)
    .unwrap()
}

/// 20 ms of a sine at `freq` Hz and `amp`, from sample `at`.
fn sine(freq: f64, amp: f64, at: usize) -> Vec<i16> {
    (at..at + FRAME_SAMPLES)
        .map(|n| (amp * (std::f64::consts::TAU * freq * n as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn encode(law: Law, pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::new();
    law.encode(pcm, &mut out);
    out
}

fn decode(bytes: &[u8]) -> Vec<i16> {
    let p = RtpPacket::parse(bytes).unwrap();
    let law = Law::from_payload_type(p.header.payload_type).expect("audio");
    let mut out = Vec::new();
    law.decode(p.payload, &mut out);
    out
}

/// Goertzel: the amplitude of `freq` in 8 kHz `samples` (exact for a
/// whole number of its cycles).
fn goertzel(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// A session with `legs` (id, law, event type) added, configured, and
/// latched (each has sent one silent packet from its phone).
fn session(t0: Instant, legs: &[(LegId, Law, u8)]) -> MediaSession {
    let mut s = MediaSession::new();
    for &(id, law, ev) in legs {
        s.add_leg(t0, id, 0x5000 + id.0);
        s.configure(t0, id, cfg(law, ev, id));
    }
    for &(id, law, _) in legs {
        let silence = encode(law, &[0; FRAME_SAMPLES]);
        s.handle(
            t0,
            id,
            phone(id),
            &rtp(law.payload_type(), id.0, 0, 0, &silence),
        );
    }
    s
}

/// Every leg's phone sends 20 ms of its tone, then the session ticks; what
/// each leg's phone received (decoded), for `frames` ticks.
fn talk(
    s: &mut MediaSession,
    t0: Instant,
    speakers: &[(LegId, Law, f64, f64)],
    frames: usize,
) -> Vec<(LegId, Vec<i16>)> {
    let mut heard: Vec<(LegId, Vec<i16>)> = speakers.iter().map(|x| (x.0, Vec::new())).collect();
    for k in 0..frames {
        let now = t0 + Duration::from_millis(20 * (k as u64 + 1));
        for &(id, law, freq, amp) in speakers {
            let pcm = sine(freq, amp, k * FRAME_SAMPLES);
            let seq = k as u16 + 1;
            let ts = (k as u32 + 1) * 160;
            let out = s.handle(
                now,
                id,
                phone(id),
                &rtp(law.payload_type(), id.0, seq, ts, &encode(law, &pcm)),
            );
            for (to_leg, to, bytes) in out.forwards() {
                assert_eq!(to, phone(to_leg));
                let pcm = decode(bytes);
                heard
                    .iter_mut()
                    .find(|h| h.0 == to_leg)
                    .unwrap()
                    .1
                    .extend(pcm);
            }
        }
        for (to_leg, to, bytes) in s.tick(now).sends {
            assert_eq!(to, phone(to_leg));
            heard
                .iter_mut()
                .find(|h| h.0 == to_leg)
                .unwrap()
                .1
                .extend(decode(&bytes));
        }
    }
    heard
}

fn heard_by(heard: &[(LegId, Vec<i16>)], leg: LegId) -> &[i16] {
    &heard.iter().find(|h| h.0 == leg).unwrap().1
}

const TONES: [(LegId, Law, f64, f64); 3] = [
    (A, Law::Pcmu, 440.0, 6000.0),
    (B, Law::Pcma, 700.0, 6000.0),
    (C, Law::Pcmu, 1100.0, 6000.0),
];

fn three(t0: Instant) -> (MediaSession, switchyard_media::BridgeId) {
    let mut s = session(
        t0,
        &[(A, Law::Pcmu, 101), (B, Law::Pcma, 96), (C, Law::Pcmu, 101)],
    );
    let b = s.create_bridge();
    for leg in [A, B, C] {
        assert!(s.join(leg, b));
    }
    (s, b)
}

#[test]
fn three_parties_each_hear_the_other_two_and_not_themselves() {
    let t0 = Instant::now();
    let (mut s, _) = three(t0);
    assert!(s.needs_tick(), "a mix runs on the clock");
    let heard = talk(&mut s, t0, &TONES, 40);
    for (leg, _, own, _) in TONES {
        let h = heard_by(&heard, leg);
        assert_eq!(h.len(), 40 * FRAME_SAMPLES, "{leg}: one packet per tick");
        for (_, _, f, _) in TONES {
            let amp = goertzel(h, f);
            if f == own {
                assert!(amp < 200.0, "{leg} hears itself at {f} Hz: {amp}");
            } else {
                assert!(amp > 5000.0, "{leg} misses {f} Hz: {amp}");
            }
        }
    }
}

#[test]
fn two_loud_sources_clip_and_never_wrap() {
    let t0 = Instant::now();
    let (mut s, b) = three(t0);
    // C listens to A and B, which say the same loud thing in phase.
    let loud = [
        (A, Law::Pcmu, 500.0, 30000.0),
        (B, Law::Pcma, 500.0, 30000.0),
        (C, Law::Pcmu, 500.0, 0.0),
    ];
    assert!(s.set_hears(b, A, B, false) && s.set_hears(b, B, A, false));
    let heard = talk(&mut s, t0, &loud, 10);
    let c = heard_by(&heard, C);
    let reference: Vec<i16> = (0..10)
        .flat_map(|k| sine(500.0, 30000.0, k * FRAME_SAMPLES))
        .collect();
    assert_eq!(c.len(), reference.len());
    let max = *c.iter().max().unwrap();
    let min = *c.iter().min().unwrap();
    assert!(
        max >= 32000 && min <= -32000,
        "clipped to full scale: {min}..{max}"
    );
    for (i, (&got, &one)) in c.iter().zip(&reference).enumerate() {
        if one.unsigned_abs() > 2000 {
            assert_eq!(
                got.signum(),
                one.signum(),
                "sample {i}: {got} for 2×{one} wrapped"
            );
        }
        if one.unsigned_abs() > 17000 {
            assert!(
                got.unsigned_abs() >= 32000,
                "sample {i}: {got} for 2×{one} not clipped"
            );
        }
    }
}

#[test]
fn asymmetric_hearing_relays_to_a_single_source_listener_and_sends_nothing_to_a_deaf_one() {
    let t0 = Instant::now();
    let (mut s, b) = three(t0);
    // C hears only B: B's packets are relayed to it; A still hears both.
    assert!(s.set_hears(b, C, A, false));
    assert!(!s.hears(C, A) && s.hears(C, B) && s.hears(A, C));
    let heard = talk(&mut s, t0, &TONES, 40);
    let c = heard_by(&heard, C);
    assert_eq!(c.len(), 40 * FRAME_SAMPLES);
    assert!(goertzel(c, 700.0) > 5000.0);
    assert!(goertzel(c, 440.0) < 200.0, "C does not hear A");
    let a = heard_by(&heard, A);
    assert!(goertzel(a, 700.0) > 5000.0 && goertzel(a, 1100.0) > 5000.0);
    let bh = heard_by(&heard, B);
    assert!(goertzel(bh, 440.0) > 5000.0 && goertzel(bh, 1100.0) > 5000.0);
    // C hears nobody: nothing at all is sent to it (no packets, not
    // silence); A and B go on hearing each other and C.
    assert!(s.set_hears(b, C, B, false));
    let heard = talk(&mut s, t0, &TONES, 10);
    assert!(
        heard_by(&heard, C).is_empty(),
        "no packets for a leg that hears nobody"
    );
    assert!(goertzel(heard_by(&heard, A), 1100.0) > 5000.0);
    assert!(goertzel(heard_by(&heard, B), 1100.0) > 5000.0);
}

#[test]
fn one_music_on_hold_player_is_heard_by_legs_in_two_bridges_advancing_once_per_tick() {
    let t0 = Instant::now();
    let mut s = session(
        t0,
        &[
            (A, Law::Pcmu, 101),
            (B, Law::Pcmu, 101),
            (C, Law::Pcmu, 101),
        ],
    );
    let b1 = s.create_bridge();
    let b2 = s.create_bridge();
    assert!(s.join(A, b1) && s.join(B, b1) && s.join(C, b2));
    // Frame n of the music is the constant 1000 + 500 n.
    let music: Arc<[i16]> = (0..20)
        .flat_map(|n| std::iter::repeat_n(1000 + 500 * n as i16, FRAME_SAMPLES))
        .collect::<Vec<_>>()
        .into();
    let moh = s.create_source(vec![PlayItem::Samples(music)], true);
    assert!(s.set_hears_source(Listener::Leg(A), moh, true));
    assert!(s.set_hears_source(Listener::Bridge(b2), moh, true));
    assert!(s.needs_tick());
    let mut got: Vec<(LegId, Vec<u8>)> = Vec::new();
    for k in 0..20u64 {
        let out = s.tick(t0 + Duration::from_millis(20 * (k + 1)));
        assert_eq!(
            out.sends.len(),
            2,
            "A and C, not B (it hears only silent A)"
        );
        got.extend(out.sends.into_iter().map(|(l, _, b)| (l, b)));
    }
    for leg in [A, C] {
        let frames: Vec<Vec<i16>> = got
            .iter()
            .filter(|g| g.0 == leg)
            .map(|g| decode(&g.1))
            .collect();
        assert_eq!(frames.len(), 20);
        for (n, f) in frames.iter().enumerate() {
            let want = 1000.0 + 500.0 * n as f64;
            let mean = f.iter().map(|&x| f64::from(x)).sum::<f64>() / f.len() as f64;
            assert!(
                (mean - want).abs() < want / 16.0,
                "{leg} frame {n}: {mean} for {want}"
            );
        }
    }
    // A leaves the music; C's bridge still hears it.
    assert!(s.set_hears_source(Listener::Leg(A), moh, false));
    let out = s.tick(t0 + Duration::from_secs(1));
    assert_eq!(out.sends.iter().map(|x| x.0).collect::<Vec<_>>(), vec![C]);
}

#[test]
fn a_leg_moves_to_another_bridge_without_being_configured_again() {
    let t0 = Instant::now();
    let mut s = session(
        t0,
        &[(A, Law::Pcmu, 101), (B, Law::Pcmu, 101), (C, Law::Pcma, 96)],
    );
    let b1 = s.create_bridge();
    let b2 = s.create_bridge();
    assert!(s.join(A, b1) && s.join(B, b1) && s.join(C, b2));
    let pkt = |seq: u16| rtp(0, A.0, seq, u32::from(seq) * 160, &[0xFF; FRAME_SAMPLES]);
    let out = s.handle(t0, A, phone(A), &pkt(1));
    assert!(out.forward_to(B).is_some() && out.forward_to(C).is_none());
    assert!(s.join(A, b2));
    assert_eq!(s.bridge_of(A), Some(b2));
    let c_ssrc = s.ssrc(C).unwrap();
    let out = s.handle(t0, A, phone(A), &pkt(2));
    assert!(out.forward_to(B).is_none(), "B is alone now");
    let (to, bytes) = out.forward_to(C).unwrap();
    assert_eq!(to, phone(C));
    let p = RtpPacket::parse(bytes).unwrap();
    assert_eq!(p.header.payload_type, 8, "in C's law, negotiated once");
    assert_eq!(p.header.ssrc, c_ssrc, "in C's own stream");
    assert!(p.payload.iter().all(|&x| x == 0xD5));
    let out = s.handle(
        t0,
        C,
        phone(C),
        &rtp(8, C.0, 1, 160, &[0xD5; FRAME_SAMPLES]),
    );
    assert_eq!(out.forward_to(A).unwrap().1[1] & 0x7f, 0, "A gets PCMU");
    assert!(!s.needs_tick(), "two legs: relayed, no clock");
}

#[test]
fn when_one_of_three_leaves_the_other_two_fall_back_to_the_relay() {
    let t0 = Instant::now();
    let (mut s, _) = three(t0);
    let heard = talk(&mut s, t0, &TONES, 5);
    assert_eq!(heard_by(&heard, C).len(), 5 * FRAME_SAMPLES);
    s.leave(C);
    assert!(!s.needs_tick(), "nothing to mix any more");
    let out = s.handle(
        t0,
        A,
        phone(A),
        &rtp(0, A.0, 100, 16000, &[0xFF; FRAME_SAMPLES]),
    );
    assert_eq!(out.forwards().count(), 1);
    let (to, bytes) = out.forward_to(B).unwrap();
    assert_eq!(to, phone(B));
    assert!(
        RtpPacket::parse(bytes)
            .unwrap()
            .payload
            .iter()
            .all(|&x| x == 0xD5),
        "transcoded per byte"
    );
    let heard = talk(&mut s, t0, &TONES, 10);
    assert!(heard_by(&heard, C).is_empty());
    assert!(goertzel(heard_by(&heard, A), 700.0) > 5000.0);
    assert!(goertzel(heard_by(&heard, A), 1100.0) < 200.0);
    assert!(goertzel(heard_by(&heard, B), 440.0) > 5000.0);
    s.remove_leg(C);
    assert_eq!(s.legs().collect::<Vec<_>>(), vec![A, B]);
}

/// A's stream across relay → prompt → relay → mix: one SSRC, sequence
/// numbers +1 each packet, timestamps increasing about 160 per 20 ms, the
/// marker bit at each switch.
#[test]
fn a_leg_keeps_one_stream_across_relay_prompts_and_mixes() {
    let t0 = Instant::now();
    let mut s = session(
        t0,
        &[
            (A, Law::Pcmu, 101),
            (B, Law::Pcmu, 101),
            (C, Law::Pcmu, 101),
        ],
    );
    let bridge = s.create_bridge();
    assert!(s.join(A, bridge) && s.join(B, bridge));
    let a_ssrc = s.ssrc(A).unwrap();
    // B's own stream: far from A's numbers.
    let from_b = |k: u16| {
        rtp(
            0,
            0xB0B,
            40_000u16.wrapping_add(k),
            3_000_000 + u32::from(k) * 160,
            &[0xFF; 160],
        )
    };
    let mut to_a: Vec<(u16, RtpHeader)> = Vec::new();
    let mut played = Vec::new();
    for k in 0..40u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(k) + 5);
        if k == 10 {
            let prompt: Arc<[i16]> = vec![3000i16; 10 * FRAME_SAMPLES].into();
            s.play(A, vec![PlayItem::Samples(prompt)], false, 77);
        }
        if k == 30 {
            assert!(s.join(C, bridge), "a third party: A's audio is mixed now");
        }
        let out = s.handle(now, B, phone(B), &from_b(k));
        if let Some((_, bytes)) = out.forward_to(A) {
            to_a.push((k, RtpPacket::parse(bytes).unwrap().header));
        }
        if k >= 30 {
            s.handle(
                now,
                C,
                phone(C),
                &rtp(0, 0xC0C, k, u32::from(k) * 160, &[0xFF; 160]),
            );
        }
        let tick = s.tick(now + Duration::from_millis(10));
        played.extend(tick.played);
        for (leg, _, bytes) in tick.sends {
            if leg == A {
                to_a.push((k, RtpPacket::parse(&bytes).unwrap().header));
            }
        }
    }
    assert_eq!(played, vec![(A, 77)]);
    assert_eq!(
        to_a.len(),
        40,
        "one packet per 20 ms: {:?}",
        to_a.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert!(to_a.iter().all(|(_, h)| h.ssrc == a_ssrc), "one SSRC");
    for w in to_a.windows(2) {
        let (a, b) = (&w[0].1, &w[1].1);
        assert_eq!(
            b.sequence,
            a.sequence.wrapping_add(1),
            "sequence at {}",
            w[1].0
        );
        let step = b.timestamp.wrapping_sub(a.timestamp);
        assert!(
            (160..=240).contains(&step),
            "timestamp step {step} at {}",
            w[1].0
        );
    }
    let total = to_a[39].1.timestamp.wrapping_sub(to_a[0].1.timestamp);
    assert!((39 * 160..=39 * 160 + 320).contains(&total), "{total}");
    // The marker bit where the content switched (and nowhere else).
    let marked: Vec<u16> = to_a
        .iter()
        .filter(|(_, h)| h.marker)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(marked, vec![0, 10, 20, 30]);
}

fn key(event: u8, end: bool, duration: u16) -> Vec<u8> {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
    .to_bytes()
    .to_vec()
}

/// The caller's last menu key (RFC 4733, its end packet sent three times)
/// was pressed before the agent was bridged: none of its packets reach
/// the agent; a key pressed afterwards does, all of them.
#[test]
fn the_ivrs_last_key_does_not_reach_the_agent() {
    let t0 = Instant::now();
    let mut s = session(t0, &[(A, Law::Pcmu, 101), (B, Law::Pcma, 96)]);
    let bridge = s.create_bridge();
    let press = |seq: u16, ts: u32, end: bool, dur: u16| rtp(101, A.0, seq, ts, &key(1, end, dur));
    // In the IVR: key 1 starts, goes on, ends once...
    let mut digits = Vec::new();
    for (seq, end, dur) in [(1, false, 160), (2, false, 320), (3, true, 480)] {
        digits.extend(s.handle(t0, A, phone(A), &press(seq, 8000, end, dur)).digit);
    }
    assert_eq!(digits, vec!['1']);
    // ...the agent answers and is bridged...
    assert!(s.join(A, bridge) && s.join(B, bridge));
    // ...and the end's two retransmissions arrive.
    for seq in [4, 5] {
        let out = s.handle(t0, A, phone(A), &press(seq, 8000, true, 480));
        assert_eq!(out.forwards().count(), 0, "the IVR's key reached the agent");
        assert_eq!(out.digit, None);
    }
    // Audio goes through; a new key is relayed whole, in B's event type.
    assert!(
        s.handle(t0, A, phone(A), &rtp(0, A.0, 6, 8800, &[0xFF; 160]))
            .forward_to(B)
            .is_some()
    );
    let mut relayed = 0;
    for (i, (end, dur)) in [
        (false, 160),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ]
    .into_iter()
    .enumerate()
    {
        let out = s.handle(t0, A, phone(A), &press(7 + i as u16, 9600, end, dur));
        let (_, bytes) = out.forward_to(B).expect("a key pressed while bridged");
        assert_eq!(RtpPacket::parse(bytes).unwrap().header.payload_type, 96);
        relayed += 1;
    }
    assert_eq!(relayed, 5);
    // The same holds for a leg whose prompt ended meanwhile: B hears a
    // prompt while A presses 2, and the end packets come after it.
    s.play(B, vec![PlayItem::Samples(vec![0i16; 160].into())], false, 1);
    s.handle(t0, A, phone(A), &press(12, 11_000, false, 160));
    s.tick(t0);
    assert!(!s.is_playing(B));
    let out = s.handle(t0, A, phone(A), &press(13, 11_000, true, 320));
    assert_eq!(out.forwards().count(), 0);
}

/// In a mix a digit is regenerated towards the listeners, in their own
/// stream and event type — only for keys pressed while they listen.
#[test]
fn a_digit_in_a_mix_is_regenerated_for_the_listeners() {
    let t0 = Instant::now();
    let (mut s, _) = three(t0);
    let out = s.handle(
        t0,
        A,
        phone(A),
        &rtp(101, A.0, 1, 8000, &key(5, false, 160)),
    );
    assert_eq!(out.digit, Some('5'));
    assert_eq!(out.forwards().count(), 0, "not relayed into a mix");
    let ssrcs: Vec<(LegId, u32)> = [A, B, C].map(|l| (l, s.ssrc(l).unwrap())).to_vec();
    let mut events = Vec::new();
    for k in 0..6u64 {
        for (leg, _, bytes) in s.tick(t0 + Duration::from_millis(20 * k)).sends {
            let p = RtpPacket::parse(&bytes).unwrap();
            assert!(ssrcs.contains(&(leg, p.header.ssrc)));
            if p.header.payload_type == 96 || p.header.payload_type == 101 {
                let ev = TelephoneEvent::parse(p.payload).unwrap();
                assert_eq!(ev.event, 5);
                events.push((leg, p.header.payload_type));
            }
        }
    }
    assert!(events.contains(&(B, 96)) && events.contains(&(C, 101)));
    assert!(
        !events.iter().any(|e| e.0 == A),
        "not back to who pressed it"
    );
}

/// The call recording takes one leg left and what it is bridged with,
/// mixed, right; a leg outside the bridge is not in it.
#[test]
fn the_recording_puts_one_leg_left_and_the_rest_of_its_bridge_right() {
    let t0 = Instant::now();
    let (mut s, _) = three(t0);
    s.add_leg(t0, LegId(99), 1);
    s.start_recording(B);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for k in 0..40usize {
        let now = t0 + Duration::from_millis(20 * (k as u64 + 1));
        for &(id, law, freq, amp) in &TONES {
            let pcm = encode(law, &sine(freq, amp, k * FRAME_SAMPLES));
            let (seq, ts) = (k as u16 + 1, (k as u32 + 1) * 160);
            s.handle(
                now,
                id,
                phone(id),
                &rtp(law.payload_type(), id.0, seq, ts, &pcm),
            );
        }
        let (l, r) = s.tick(now).recorded.unwrap();
        left.extend(l);
        right.extend(r);
    }
    assert!(goertzel(&left, 700.0) > 5000.0, "B on the left");
    assert!(goertzel(&left, 440.0) < 200.0 && goertzel(&left, 1100.0) < 200.0);
    assert!(goertzel(&right, 440.0) > 5000.0 && goertzel(&right, 1100.0) > 5000.0);
    assert!(goertzel(&right, 700.0) < 200.0, "B is not on the right");
}
