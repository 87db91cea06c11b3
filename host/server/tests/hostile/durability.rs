//! Nothing lost on kill -9 (issue 11, item 5): the `switchyard` binary
//! under a SIPp load of short calls whose callers hang up is killed with
//! SIGKILL mid-run and started again on the same data directory and SIP
//! port while the load goes on. Every call SIPp saw completed — its BYE
//! answered 200 — has a call record.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_sipp::Sipp;
use switchyard_store::{CdrFilter, CdrRepo, Store};

/// The load: short calls at a steady rate, long enough that the kill
/// lands in the middle of it and calls are answered after the restart.
const CALLS: u64 = 600;
const RATE: f64 = 150.0;
/// The kill comes once this many calls have their record.
const KILL_AFTER_RECORDS: usize = 100;

/// The `switchyard` binary; SIGKILLed when dropped.
struct Server {
    child: Child,
    http: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on loopback.
fn free_sip_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Start `switchyard` on `sip` and a free HTTP port. The port was free
/// when picked, but another test of this binary may bind it before the
/// server does: then the server exits, and it is started again on
/// another port. It counts as up once its API answers its own operator
/// token (not merely once something listens on the port).
fn spawn_server(data: &Path, sip: SocketAddr, log: &str) -> Server {
    for _ in 0..5 {
        let http: SocketAddr = ([127, 0, 0, 1], free_tcp_port()).into();
        let log_file = std::fs::File::create(data.join(log)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--sip-listen", &sip.to_string()])
            .args(["--http-listen", &http.to_string()])
            // TLS and HTTPS default to fixed ports: off here, where
            // several servers run at once.
            .args(["--sip-tls-listen", "off", "--https-listen", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("switchyard starts");
        let mut server = Server { child, http };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                eprintln!(
                    "switchyard exited at start ({status}): {}",
                    std::fs::read_to_string(data.join(log)).unwrap_or_default()
                );
                break;
            }
            if answers_its_token(&server, data) {
                return server;
            }
            assert!(Instant::now() < deadline, "the server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!(
        "switchyard did not start in five tries; see {}",
        data.join(log).display()
    )
}

/// Whether the API on the server's port is this server's: it accepts the
/// operator token from its data directory.
fn answers_its_token(server: &Server, data: &Path) -> bool {
    let Ok(token) = std::fs::read_to_string(data.join("operator-token")) else {
        return false;
    };
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .get(&format!("http://{}/api/tenants", server.http))
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

/// Rows of the demo tenant's first page of call records, through the API.
fn records_so_far(server: &Server, token: &str) -> usize {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!(
        "http://{}/api/tenants/demo/cdrs?limit={KILL_AFTER_RECORDS}",
        server.http
    );
    let Ok(mut resp) = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
    else {
        return 0;
    };
    let body: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    body["rows"].as_array().map_or(0, Vec::len)
}

fn register(sip: SocketAddr, ext: &str, password: &str, contact_port: u16) {
    Sipp::new("register")
        .remote(sip)
        .user(ext)
        .auth(ext, password)
        .set("contact_port", &contact_port.to_string())
        .timeout(Duration::from_secs(30))
        .run()
        .assert_ok();
}

/// Every Call-ID with a record in the store at `dir`.
fn recorded_call_ids(dir: &Path) -> HashSet<String> {
    let store = Store::open(dir).expect("the store opens after the crash");
    let mut ids = HashSet::new();
    let mut after = None;
    loop {
        let page = store
            .query_cdrs(
                "demo",
                &CdrFilter {
                    limit: 1000,
                    after,
                    ..CdrFilter::default()
                },
            )
            .unwrap();
        ids.extend(page.rows.into_iter().map(|c| c.call_id));
        match page.next {
            Some(n) => after = Some(n),
            None => return ids,
        }
    }
}

#[test]
fn every_call_sipp_saw_completed_has_a_record_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let sip: SocketAddr = ([127, 0, 0, 1], free_sip_port()).into();
    let server = spawn_server(dir.path(), sip, "first.log");
    let token = std::fs::read_to_string(dir.path().join("operator-token"))
        .unwrap()
        .trim()
        .to_string();
    let creds = switchyard_server::demo::read_credentials(dir.path());
    let password = |ext: &str| {
        creds
            .iter()
            .find(|(n, _)| n == ext)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    // The callee answers at once; it is never waited for (the calls cut
    // by the kill never end on its side).
    let callee = Sipp::new("load_uas")
        .calls(100 * CALLS)
        .timeout(Duration::from_secs(180));
    let callee_port = callee.port();
    let _callee = callee.spawn();
    register(sip, "1002", &password("1002"), callee_port);

    let caller = Sipp::new("load_uac")
        .remote(sip)
        .user("1002")
        .auth("1001", &password("1001"))
        .set("caller", "1001")
        .set("pause_ms", "50")
        .calls(CALLS)
        .rate(RATE)
        .limit(2 * RATE as u64)
        // A call cut by the kill fails after this instead of after
        // sipp's full retransmission schedule.
        .arg("-recv_timeout")
        .arg("5000")
        .timeout(Duration::from_secs(120))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(90);
    while records_so_far(&server, &token) < KILL_AFTER_RECORDS {
        assert!(
            Instant::now() < deadline,
            "the load never produced {KILL_AFTER_RECORDS} records ({} so far); the server said:\n{}",
            records_so_far(&server, &token),
            std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL: no shutdown code runs.
    drop(server);
    // Same data, same SIP port: the load goes on against the new process.
    let server = spawn_server(dir.path(), sip, "second.log");
    register(sip, "1002", &password("1002"), callee_port);
    let outcome = caller.wait();
    drop(server);

    let completed: Vec<&str> = outcome
        .logs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("completed "))
        .collect();
    let records = recorded_call_ids(dir.path());
    let missing: Vec<&&str> = completed
        .iter()
        .filter(|id| !records.contains(**id))
        .collect();
    eprintln!(
        "kill -9 under load: sipp completed {} calls (sipp counted {} successful, {} failed), {} records, {} completed without a record",
        completed.len(),
        outcome.successful_calls,
        outcome.failed_calls,
        records.len(),
        missing.len()
    );
    assert!(
        completed.len() >= KILL_AFTER_RECORDS,
        "sipp saw only {} calls completed: {}",
        completed.len(),
        outcome.screen
    );
    assert_eq!(
        completed.len() as u64,
        outcome.successful_calls,
        "one log line per successful call"
    );
    if !missing.is_empty() {
        // What the servers said about them (warnings and errors only):
        // a record that could not be stored is logged there.
        let said: Vec<String> = ["first.log", "second.log"]
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(dir.path().join(f))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("record") || missing.iter().any(|id| l.contains(**id)))
                    .take(40)
                    .map(|l| format!("{f}: {l}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        panic!(
            "calls sipp saw completed have no record: {missing:?}\nthe servers' log about them:\n{}",
            said.join("\n")
        );
    }
}
