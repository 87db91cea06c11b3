//! The scenarios played sipp against sipp, without the PBX: each pairing
//! proves both scenarios and the runner work with the real sipp binary.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchyard_sipp::{Outcome, Running, Sipp, Transport, digest, scenario_names};

const TIMEOUT: Duration = Duration::from_secs(20);

fn at(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Starts `uas` (ready when this returns), runs `uac` against it, and
/// returns both outcomes.
fn pair(uas: Sipp, uac: impl FnOnce(SocketAddr) -> Sipp) -> (Outcome, Outcome) {
    let callee: Running = uas.timeout(TIMEOUT).spawn();
    let caller = uac(at(callee.port())).timeout(TIMEOUT).run();
    (caller, callee.wait())
}

/// How each scenario starts: a UAS waits on its port, a UAC sends this
/// request first.
enum Role {
    Uas,
    Uac(&'static str),
}

const SCENARIOS: &[(&str, Role)] = &[
    ("carrier_registrar", Role::Uas),
    ("carrier_uac_did", Role::Uac("INVITE")),
    ("carrier_uas_challenge", Role::Uas),
    ("fake_pbx_reject", Role::Uas),
    ("fake_pbx_ring", Role::Uas),
    ("load_uac", Role::Uac("INVITE")),
    ("load_uas", Role::Uas),
    ("register", Role::Uac("REGISTER")),
    ("register_bad_password", Role::Uac("REGISTER")),
    ("uac_call", Role::Uac("INVITE")),
    ("uac_call_hold", Role::Uac("INVITE")),
    ("uac_call_pcap", Role::Uac("INVITE")),
    ("uac_call_pcap_wait_bye", Role::Uac("INVITE")),
    ("uac_call_wait_bye", Role::Uac("INVITE")),
    ("uac_cancel", Role::Uac("INVITE")),
    ("uac_expect_status", Role::Uac("INVITE")),
    ("uac_no_ack", Role::Uac("INVITE")),
    ("uas_agent", Role::Uas),
    ("uas_answer", Role::Uas),
    ("uas_answer_hold", Role::Uas),
    ("uas_answer_pcap", Role::Uas),
    ("uas_answer_refer", Role::Uas),
    ("uas_answer_then_bye", Role::Uas),
    ("uas_busy", Role::Uas),
    ("uas_ring_no_answer", Role::Uas),
    ("unregister", Role::Uac("REGISTER")),
];

/// Every scenario file loads in sipp (variables, keywords, labels): a UAS
/// gets as far as listening, a UAC as far as sending its first request,
/// which is received here and checked.
#[test]
fn every_scenario_loads_in_sipp() {
    let listed: Vec<&str> = SCENARIOS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        scenario_names(),
        listed,
        "every scenario file must be listed here"
    );
    // The one keyword a scenario needs at load time.
    let pcap = std::env::temp_dir().join(format!("sy-pcap-load-{}.pcap", std::process::id()));
    switchyard_sipp::pcap::RtpScript::new()
        .silence(20)
        .write_pcap(&pcap)
        .unwrap();
    for (name, role) in SCENARIOS {
        match role {
            Role::Uas => {
                let mut uas = Sipp::new(name)
                    .key("pcap", pcap.to_str().unwrap())
                    .timeout(TIMEOUT)
                    .spawn();
                assert!(
                    uas.is_running(),
                    "{name} did not start:\n{}",
                    uas.wait().report()
                );
                drop(uas);
            }
            Role::Uac(method) => {
                let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
                peer.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let uac = Sipp::new(name)
                    .remote(peer.local_addr().unwrap())
                    .key("pcap", pcap.to_str().unwrap())
                    .user("2000")
                    .timeout(TIMEOUT)
                    .spawn();
                let mut buf = [0u8; 4096];
                let received = peer.recv(&mut buf);
                let Ok(len) = received else {
                    panic!("{name} sent nothing:\n{}", uac.wait().report());
                };
                let text = String::from_utf8_lossy(&buf[..len]);
                assert!(
                    text.starts_with(&format!("{method} sip:")),
                    "{name} started with:\n{text}"
                );
                assert!(!text.contains('['), "unexpanded keyword in:\n{text}");
            }
        }
    }
}

#[test]
fn uac_call_to_uas_answer() {
    let (caller, callee) = pair(Sipp::new("uas_answer").set("ring_ms", "100"), |peer| {
        Sipp::new("uac_call")
            .remote(peer)
            .user("2000")
            .set("domain", "acme.test")
            .set("caller", "1001")
            .set("pause_ms", "200")
    });
    caller.assert_ok();
    callee.assert_ok();
    assert_eq!((caller.successful_calls, callee.successful_calls), (1, 1));
    assert!(
        caller
            .messages
            .contains("INVITE sip:2000@acme.test SIP/2.0")
    );
    assert!(caller.messages.contains("From: <sip:1001@acme.test>"));
    assert!(caller.messages.contains("BYE sip:127.0.0.1:"));
}

/// The caller's audio: the pcap written by `RtpScript` loads in sipp and
/// plays.
#[test]
fn uac_call_pcap_plays_a_scripted_stream() {
    let dir = std::env::temp_dir().join(format!("sy-pcap-pair-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("keys.pcap");
    let mut rtp = switchyard_sipp::pcap::RtpScript::new();
    rtp.tone(440.0, 200).digit('5', 100).silence(100);
    rtp.write_pcap(&pcap).unwrap();
    let (caller, callee) = pair(Sipp::new("uas_answer"), |peer| {
        Sipp::new("uac_call_pcap")
            .remote(peer)
            .user("2000")
            .set("pause_ms", "600")
            .key("pcap", pcap.to_str().unwrap())
    });
    caller.assert_ok();
    callee.assert_ok();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn uac_call_to_uas_answer_over_tcp() {
    let (caller, callee) = pair(Sipp::new("uas_answer").transport(Transport::Tcp), |peer| {
        Sipp::new("uac_call")
            .remote(peer)
            .transport(Transport::Tcp)
            .user("2000")
            .set("pause_ms", "100")
    });
    caller.assert_ok();
    callee.assert_ok();
    assert!(caller.messages.contains("Via: SIP/2.0/TCP 127.0.0.1:"));
}

#[test]
fn uac_call_wait_bye_to_uas_answer_then_bye() {
    let (caller, callee) = pair(
        Sipp::new("uas_answer_then_bye").set("pause_ms", "200"),
        |peer| Sipp::new("uac_call_wait_bye").remote(peer).user("2000"),
    );
    caller.assert_ok();
    callee.assert_ok();
    // The callee's BYE goes to the caller's Contact, with the dialog's tags.
    let bye_at = callee
        .messages
        .find("BYE sip:sipp@127.0.0.1:")
        .unwrap_or_else(|| panic!("no BYE to the caller's Contact:\n{}", callee.report()));
    let bye = &callee.messages[bye_at..];
    assert!(bye.contains("From: <sip:2000@demo.localhost>;tag="));
    assert!(bye.contains("To: <sip:sipp@demo.localhost>;tag="));
}

#[test]
fn uac_cancel_to_uas_ring_no_answer() {
    let (caller, callee) = pair(Sipp::new("uas_ring_no_answer"), |peer| {
        Sipp::new("uac_cancel")
            .remote(peer)
            .user("2000")
            .set("ring_ms", "300")
    });
    caller.assert_ok();
    callee.assert_ok();
    assert!(caller.messages.contains("SIP/2.0 487 Request Terminated"));
}

#[test]
fn uac_expect_status_486_from_uas_busy() {
    let (caller, callee) = pair(Sipp::new("uas_busy"), |peer| {
        Sipp::new("uac_expect_status")
            .remote(peer)
            .user("2000")
            .set("status", "486")
    });
    caller.assert_ok();
    callee.assert_ok();
    assert!(
        caller
            .logs
            .contains("final response: SIP/2.0 486 Busy Here (expected 486)"),
        "{}",
        caller.report()
    );
}

/// The expected code is really compared: 486 when 404 is expected fails.
#[test]
fn uac_expect_status_fails_on_another_code() {
    let (caller, callee) = pair(Sipp::new("uas_busy"), |peer| {
        Sipp::new("uac_expect_status")
            .remote(peer)
            .user("2000")
            .set("status", "404")
    });
    callee.assert_ok();
    caller.assert_counts(0, 1);
    assert_eq!(caller.exit_code, 1);
}

/// The challenge path of uac_expect_status: 407, ACK, INVITE with
/// credentials, then the expected refusal.
#[test]
fn uac_expect_status_through_a_challenge() {
    let (caller, pbx) = pair(Sipp::new("fake_pbx_reject"), |peer| {
        Sipp::new("uac_expect_status")
            .remote(peer)
            .user("2000")
            .auth("1001", "pw")
            .set("status", "480")
    });
    caller.assert_ok();
    pbx.assert_ok();
    pbx.assert_digest("Proxy-Authorization", "INVITE", "1001", "pw");
    assert!(
        caller
            .logs
            .contains("final response: SIP/2.0 480 Temporarily Unavailable (expected 480)"),
        "{}",
        caller.report()
    );
}

/// The challenge path of uac_cancel: the CANCEL follows the INVITE that
/// carried the credentials (its branch and CSeq 2).
#[test]
fn uac_cancel_through_a_challenge() {
    let (caller, pbx) = pair(Sipp::new("fake_pbx_ring"), |peer| {
        Sipp::new("uac_cancel")
            .remote(peer)
            .user("2000")
            .auth("1001", "pw")
            .set("ring_ms", "100")
    });
    caller.assert_ok();
    pbx.assert_ok();
    pbx.assert_digest("Proxy-Authorization", "INVITE", "1001", "pw");
    assert!(
        caller.messages.contains("CSeq: 2 CANCEL"),
        "{}",
        caller.report()
    );
}

#[test]
fn load_uac_to_load_uas_50_calls() {
    let (caller, callee) = pair(Sipp::new("load_uas").calls(50), |peer| {
        Sipp::new("load_uac")
            .remote(peer)
            .user("2000")
            .calls(50)
            .rate(50.0)
            .limit(20)
    });
    caller.assert_ok();
    callee.assert_ok();
    assert_eq!((caller.successful_calls, callee.successful_calls), (50, 50));
}

/// uac_call answers the carrier's 407 with Proxy-Authorization, and the
/// logged credentials check out against the password.
#[test]
fn uac_call_through_carrier_uas_challenge() {
    let (caller, callee) = pair(
        Sipp::new("carrier_uas_challenge").set("user", "trunk7"),
        |peer| {
            Sipp::new("uac_call")
                .remote(peer)
                .user("+15550001")
                .auth("trunk7", "s3cret")
                .set("pause_ms", "100")
        },
    );
    caller.assert_ok();
    callee.assert_ok();
    assert!(
        caller
            .messages
            .contains("SIP/2.0 407 Proxy Authentication Required")
    );
    callee.assert_digest("Proxy-Authorization", "INVITE", "trunk7", "s3cret");
    let logged = callee.logged_headers("Proxy-Authorization");
    assert!(digest::verify(logged[0], "INVITE", "trunk7", "wrong").is_err());
}

/// A wrong username in Proxy-Authorization fails the carrier's call.
#[test]
fn carrier_uas_challenge_refuses_another_username() {
    let (caller, callee) = pair(
        Sipp::new("carrier_uas_challenge").set("user", "trunk7"),
        |peer| {
            Sipp::new("uac_call")
                .remote(peer)
                .user("+15550001")
                .auth("someone", "s3cret")
                .set("pause_ms", "100")
        },
    );
    assert!(caller.exit_code == 0, "{}", caller.report());
    callee.assert_counts(0, 1);
}

#[test]
fn register_to_carrier_registrar() {
    let (phone, registrar) = pair(
        Sipp::new("carrier_registrar")
            .set("user", "1001")
            .set("password", "pw1001")
            .set("expires", "600"),
        |peer| {
            Sipp::new("register")
                .remote(peer)
                .user("1001")
                .auth("1001", "pw1001")
                .set("domain", "acme.test")
                .set("expires", "600")
                .set("contact_port", "5099")
        },
    );
    phone.assert_ok();
    registrar.assert_ok();
    registrar.assert_digest("Authorization", "REGISTER", "1001", "pw1001");
    assert!(phone.messages.contains("REGISTER sip:acme.test SIP/2.0"));
    assert!(
        phone
            .messages
            .contains("Contact: <sip:1001@127.0.0.1:5099;transport=UDP>")
    );
    assert!(phone.messages.contains("Expires: 600"));
    assert!(
        phone
            .messages
            .contains("WWW-Authenticate: Digest realm=\"carrier.test\"")
    );
}

/// register fails when the registrar refuses the credentials, and the
/// registrar counts the attempt as failed.
#[test]
fn register_with_wrong_password_fails() {
    let (phone, registrar) = pair(
        Sipp::new("carrier_registrar").set("password", "right"),
        |peer| {
            Sipp::new("register")
                .remote(peer)
                .user("trunkuser")
                .auth("trunkuser", "wrong")
        },
    );
    phone.assert_counts(0, 1);
    registrar.assert_counts(0, 1);
    assert!(phone.messages.contains("SIP/2.0 403 Forbidden"));
}

#[test]
fn register_bad_password_to_carrier_registrar() {
    let (phone, registrar) = pair(
        Sipp::new("carrier_registrar").set("password", "right"),
        |peer| {
            Sipp::new("register_bad_password")
                .remote(peer)
                .user("trunkuser")
                .auth("trunkuser", "wrong")
        },
    );
    phone.assert_ok();
    registrar.assert_counts(0, 1);
    // Failed by verifyauth (the timed-out wait after the 403), not by
    // anything the phone did.
    assert!(
        registrar.error_log.contains("receive timeout")
            && registrar.screen.contains("CREDENTIALS-REFUSED"),
        "{}",
        registrar.report()
    );
}

/// register_bad_password fails when the registrar accepts the password.
#[test]
fn register_bad_password_fails_when_accepted() {
    let (phone, registrar) = pair(Sipp::new("carrier_registrar"), |peer| {
        Sipp::new("register_bad_password")
            .remote(peer)
            .user("trunkuser")
            .auth("trunkuser", "trunkpass")
    });
    registrar.assert_ok();
    phone.assert_counts(0, 1);
}

#[test]
fn unregister_to_carrier_registrar() {
    let (phone, registrar) = pair(Sipp::new("carrier_registrar"), |peer| {
        Sipp::new("unregister")
            .remote(peer)
            .user("trunkuser")
            .auth("trunkuser", "trunkpass")
    });
    phone.assert_ok();
    registrar.assert_ok();
    assert!(phone.messages.contains("Contact: *"));
    assert!(phone.messages.contains("Expires: 0"));
}

#[test]
fn carrier_uac_did_to_uas_answer() {
    let phone = Sipp::new("uas_answer").timeout(TIMEOUT).spawn();
    let port = phone.port();
    let carrier = Sipp::new("carrier_uac_did")
        .remote(at(port))
        .user("+15557654321")
        .set("from_number", "+15550009999")
        .set("pause_ms", "100")
        .timeout(TIMEOUT)
        .run();
    carrier.assert_ok();
    phone.wait().assert_ok();
    let invite = format!("INVITE sip:+15557654321@127.0.0.1:{port} SIP/2.0");
    assert!(carrier.messages.contains(&invite), "{}", carrier.report());
    assert!(
        carrier
            .messages
            .contains("From: \"Carrier\" <sip:+15550009999@127.0.0.1>")
    );
    assert!(!carrier.messages.contains("Authorization"));
}

/// A UAC whose peer never answers is stopped by the timeout, and reported
/// as a failure rather than hanging the test.
#[test]
fn timeout_ends_a_stuck_run() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let outcome = Sipp::new("uac_call")
        .remote(silent.local_addr().unwrap())
        .user("2000")
        .timeout(Duration::from_secs(2))
        .run();
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(!outcome.is_ok());
    assert_ne!(outcome.exit_code, 0, "{}", outcome.report());
    assert!(
        outcome.stderr.contains("timed out") || outcome.error_log.contains("timed out"),
        "{}",
        outcome.report()
    );
}

/// Dropping a running sipp (as a panicking test does) kills it.
#[test]
fn dropping_running_kills_sipp() {
    let uas = Sipp::new("uas_answer").timeout(TIMEOUT).spawn();
    let pid = uas.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(uas);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// assert_ok panics with the run's report when a call failed.
#[test]
fn assert_ok_reports_failures() {
    let (caller, _callee) = pair(Sipp::new("uas_busy"), |peer| {
        Sipp::new("uac_expect_status")
            .remote(peer)
            .user("2000")
            .set("status", "404")
    });
    let panic = std::panic::catch_unwind(|| caller.assert_ok()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("failed calls: 1"), "{message}");
    assert!(message.contains("486 Busy Here"), "{message}");
}

#[test]
fn hold_and_resume_pair_up() {
    let (caller, callee) = pair(Sipp::new("uas_answer_hold"), |addr| {
        Sipp::new("uac_call_hold")
            .remote(addr)
            .user("2000")
            .set("pause_ms", "50")
    });
    caller.assert_ok();
    callee.assert_ok();
}
