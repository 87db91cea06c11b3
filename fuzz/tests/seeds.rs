//! Writes the seed corpus from the project's own test messages:
//! `cargo test -p switchyard-fuzz --test seeds -- --ignored`, then
//! `bench/fuzz` grows and minimizes `fuzz/corpus/` from them. Seeds are
//! the RFC 4475-style cases of `host/sip/tests/cases`, the messages of the
//! SIPp scenarios in `tests/sipp/scenarios`, the descriptions of
//! `host/sdp/tests/common`, and packets, credentials and WAV files built
//! here.

#[path = "../../host/sip/tests/cases/mod.rs"]
#[allow(clippy::all, unused)]
mod cases;
#[path = "../../host/sdp/tests/common/mod.rs"]
#[allow(clippy::all, unused)]
mod sdp_common;

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use switchyard_fuzz::digest::{NOW, PASSWORD, REALM, USER, nonces};
use switchyard_rtp::dtmf::TelephoneEvent;
use switchyard_rtp::packet::{
    Bye, ReceiverReport, ReportBlock, RtcpPacket, RtpHeader, SenderReport, build_rtcp,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

/// The messages of every SIPp scenario with their `[keywords]` filled in
/// as SIPp would (fixed values), indentation removed and CRLF line ends.
fn sipp_messages() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("../tests/sipp/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let xml = std::fs::read_to_string(&file).unwrap();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        for (i, block) in xml.split("<![CDATA[").skip(1).enumerate() {
            let Some((text, _)) = block.split_once("]]>") else {
                continue;
            };
            if let Some(bytes) = fill(text, &format!("{stem}-{i}")) {
                out.push((format!("{stem}-{i}"), bytes));
            }
        }
    }
    out
}

fn fill(text: &str, id: &str) -> Option<Vec<u8>> {
    let subs = [
        ("[service]", "1002"),
        ("[$domain]", "demo.localhost"),
        ("[$caller]", "1001"),
        ("[$realm]", "carrier.example"),
        ("[$expires]", "3600"),
        ("[transport]", "UDP"),
        ("[local_ip]", "127.0.0.1"),
        ("[remote_ip]", "127.0.0.1"),
        ("[local_port]", "5062"),
        ("[remote_port]", "5060"),
        ("[pid]", "4242"),
        ("[call_number]", "1"),
        ("[clock_tick]", "1000"),
        ("[cseq]", "1"),
        ("[local_ip_type]", "4"),
        ("[media_ip_type]", "4"),
        ("[media_ip]", "127.0.0.1"),
        ("[media_port]", "6000"),
    ];
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut l = line.trim_start().to_string();
        if l.starts_with("[last_") || l == "[authentication]" || l == "[routes]" {
            continue; // headers copied from a received message: none here
        }
        for (k, v) in subs {
            l = l.replace(k, v);
        }
        l = l.replace("[branch]", &format!("z9hG4bK-seed-{id}"));
        l = l.replace("[call_id]", &format!("{id}@127.0.0.1"));
        l = l.replace("[next_url]", "sip:1002@127.0.0.1:5062");
        lines.push(l);
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let first = lines.first()?;
    if !(first.ends_with("SIP/2.0") || first.starts_with("SIP/2.0 ")) {
        return None;
    }
    let split = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let (head, body) = lines.split_at(split);
    let body: String = body.iter().skip(1).map(|l| format!("{l}\r\n")).collect();
    let mut msg = String::new();
    for h in head {
        let h = h.replace("[len]", &body.len().to_string());
        msg.push_str(&h);
        msg.push_str("\r\n");
    }
    msg.push_str("\r\n");
    msg.push_str(&body);
    Some(msg.into_bytes())
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// A correct `Authorization` value for `method` and `uri`, with or without
/// qop, for the fuzz target's realm, user and clock.
fn credentials(method: &str, uri: &str, qop: bool) -> String {
    let nonce = nonces().issue(NOW);
    let ha1 = md5_hex(&format!("{USER}:{REALM}:{PASSWORD}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    if qop {
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
        format!(
            "Digest username=\"{USER}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\""
        )
    } else {
        let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            "Digest username=\"{USER}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
response=\"{response}\", algorithm=MD5"
        )
    }
}

fn wav(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format_tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if format_tag == 0xFFFE {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&4u32.to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes()); // PCM sub-format
        fmt.extend_from_slice(&[0; 14]);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*: run by hand when the sources of the seeds change"]
fn write_seeds() {
    // SIP: the torture cases and the SIPp messages, on UDP and TCP, with
    // each way of answering (see `sip_endpoint` for the first byte).
    let mut sip: Vec<(String, Vec<u8>)> = cases::cases()
        .into_iter()
        .map(|c| (c.name.to_string(), c.bytes))
        .collect();
    sip.extend(sipp_messages());
    for (name, bytes) in &sip {
        write("sip_message", name, bytes);
        for first in [0u8, 3, 4, 6] {
            let mut input = vec![first];
            input.extend_from_slice(bytes);
            write("sip_endpoint", &format!("{name}-{first}"), &input);
        }
    }
    // Transaction sequences: INVITE, its retransmission, CANCEL, ACK.
    let invite = sip
        .iter()
        .find(|(n, _)| n.starts_with("uac_call-0"))
        .expect("uac_call's INVITE")
        .1
        .clone();
    let text = String::from_utf8(invite.clone()).unwrap();
    let cancel = text
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let ack = text
        .replacen("INVITE sip:", "ACK sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
    for (name, parts) in [
        ("invite-retransmit-cancel", vec![&text, &text, &cancel]),
        ("invite-ack", vec![&text, &ack, &ack]),
    ] {
        for first in [0u8, 2, 4, 6] {
            let mut input = vec![first];
            input.extend_from_slice(
                parts
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\0\0\0\0")
                    .as_bytes(),
            );
            write("sip_endpoint", &format!("{name}-{first}"), &input);
        }
        let mut stream = vec![1u8 | 4];
        stream.extend_from_slice(b"\r\n\r\n");
        for p in &parts {
            stream.extend_from_slice(p.as_bytes());
        }
        write("sip_endpoint", &format!("{name}-tcp"), &stream);
    }
    // Authorization headers on a REGISTER and an INVITE.
    for (i, auth) in [
        credentials("REGISTER", "sip:demo.localhost", false),
        credentials("INVITE", "sip:1002@demo.localhost", true),
    ]
    .iter()
    .enumerate()
    {
        let with = text.replacen(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\nProxy-Authorization: {auth}\r\n"),
            1,
        );
        write(
            "sip_endpoint",
            &format!("invite-auth-{i}"),
            &[&[4u8][..], with.as_bytes()].concat(),
        );
        write("sip_message", &format!("invite-auth-{i}"), with.as_bytes());
    }

    // Digest: our own credentials, and the challenges carriers send.
    write(
        "digest",
        "register",
        credentials("REGISTER", "sip:demo.localhost", false).as_bytes(),
    );
    write(
        "digest",
        "register-qop",
        credentials("REGISTER", "sip:demo.localhost", true).as_bytes(),
    );
    write(
        "digest",
        "invite-qop",
        credentials("INVITE", "sip:1002@demo.localhost", true).as_bytes(),
    );
    write(
        "digest",
        "stale",
        credentials("INVITE", "sip:1002@demo.localhost", false)
            .replace(&nonces().issue(NOW), &nonces().issue(NOW - 600))
            .as_bytes(),
    );
    for (name, bytes) in sipp_messages() {
        let text = String::from_utf8_lossy(&bytes).to_string();
        for line in text.lines() {
            if let Some((h, v)) = line.split_once(": ")
                && h.ends_with("Authenticate")
            {
                write("digest", &format!("challenge-{name}"), v.as_bytes());
            }
        }
    }
    write(
        "digest",
        "challenge-sha256",
        b"Digest realm=\"carrier.example\", nonce=\"abc123\", algorithm=SHA-256, qop=\"auth,auth-int\", opaque=\"xyz\", stale=FALSE",
    );

    // SDP: the real-world styles and the bodies of the SIP seeds.
    for (name, text) in sdp_common::samples() {
        write("sdp", name, text.as_bytes());
    }
    write("sdp", "torture", cases::crlf(cases::SDP).as_bytes());
    for (name, bytes) in &sip {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n")
            && bytes[i + 4..].starts_with(b"v=0")
        {
            write("sdp", name, &bytes[i + 4..]);
        }
    }

    // RTP, RTCP and RFC 4733 events.
    let pcmu = RtpHeader {
        payload_type: 0,
        sequence: 1,
        timestamp: 160,
        ssrc: 0x1234_5678,
        ..RtpHeader::default()
    };
    write("rtp", "pcmu", &pcmu.to_bytes(&[0xff; 160]).unwrap());
    let ext = RtpHeader {
        marker: true,
        payload_type: 8,
        csrcs: vec![1, 2],
        extension: Some(switchyard_rtp::packet::HeaderExtension {
            profile: 0xbede,
            data: vec![0x10, 0xaa, 0, 0],
        }),
        ..pcmu.clone()
    };
    write("rtp", "pcma-csrc-ext", &ext.to_bytes(&[0xd5; 160]).unwrap());
    let mut padded = Vec::new();
    pcmu.write_padded(&[1, 2, 3], 5, &mut padded).unwrap();
    write("rtp", "padded", &padded);
    for (i, ev) in [
        (1u8, false, 10u8, 160u16),
        (1, true, 10, 800),
        (11, false, 0, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = TelephoneEvent {
            event: ev.0,
            end: ev.1,
            volume: ev.2,
            duration: ev.3,
        }
        .to_bytes();
        let h = RtpHeader {
            payload_type: 101,
            marker: i == 0,
            ..pcmu.clone()
        };
        write(
            "rtp",
            &format!("telephone-event-{i}"),
            &h.to_bytes(&payload).unwrap(),
        );
    }
    let block = ReportBlock {
        ssrc: 9,
        fraction_lost: 3,
        cumulative_lost: -2,
        highest_sequence: 70_000,
        jitter: 12,
        last_sr: 5,
        delay_since_last_sr: 6,
    };
    let sr = RtcpPacket::SenderReport(SenderReport {
        ssrc: 1,
        ntp_timestamp: 0xe000_0000_8000_0000,
        rtp_timestamp: 160,
        packet_count: 10,
        octet_count: 1600,
        reports: vec![block],
    });
    let rr = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 2,
        reports: vec![block, block],
    });
    let bye = RtcpPacket::Bye(Bye {
        sources: vec![1],
        reason: Some("hangup".into()),
    });
    let sdes = RtcpPacket::Other {
        packet_type: 202,
        count: 1,
        body: vec![0, 0, 0, 1, 1, 3, b'a', b'b', b'c', 0, 0, 0],
    };
    write(
        "rtp",
        "rtcp-sr-sdes",
        &build_rtcp(&[sr, sdes.clone()]).unwrap(),
    );
    write("rtp", "rtcp-rr-bye", &build_rtcp(&[rr, sdes, bye]).unwrap());

    // WAV prompts: each accepted encoding, and refused formats.
    let pcm: Vec<u8> = (0..800i16).flat_map(|s| (s * 37).to_le_bytes()).collect();
    write("wav", "pcm16", &wav(1, 1, 8000, 16, &pcm));
    write("wav", "ulaw", &wav(7, 1, 8000, 8, &[0x7f; 400]));
    write("wav", "alaw", &wav(6, 1, 8000, 8, &[0xd5; 400]));
    write("wav", "extensible", &wav(0xFFFE, 1, 8000, 16, &pcm));
    write("wav", "stereo-16k", &wav(1, 2, 16000, 16, &pcm));
    write("wav", "odd-data", &wav(1, 1, 8000, 16, &pcm[..301]));
}
