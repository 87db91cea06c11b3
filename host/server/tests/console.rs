//! The web console end to end in headless Chromium (Debian's, driven by
//! puppeteer-core through the scripts in `tests/web/`), against the whole
//! server with the demo tenant, a SIPp caller and a CRM over HTTP: an admin
//! configures, an agent takes a queue call in the browser with the CRM's
//! screen pop and wraps it up, a supervisor watches it on the wallboard and
//! finds it in the reports. Screenshots are kept under
//! `target/tmp/console-screenshots/` (printed by each test).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use switchyard_sipp::Sipp;

/// One console test at a time: each starts one or two Chromiums, and more
/// at once starve a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a browser script may take as a whole.
const SCRIPT_LIMIT: Duration = Duration::from_secs(240);

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/web")
}

/// Where a test's screenshots go (kept after the run).
fn shots(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("console-screenshots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("screenshots: {}", dir.display());
    dir
}

fn check_tools() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && web_dir().join("node_modules/puppeteer-core").exists(),
        "the browser tests need Debian's chromium and tests/web's npm packages: \
         ./scripts/test installs both"
    );
}

/// A browser script running: its progress (`{"done": step}` lines on
/// stderr) arrives on `done`.
struct Script {
    name: &'static str,
    child: Child,
    done: mpsc::Receiver<String>,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Script {
    fn start(name: &'static str, args: &[String]) -> Script {
        let mut child = Command::new("node")
            .arg(web_dir().join(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        let (tx, done) = mpsc::channel();
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let keep = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(step) = v["done"].as_str()
                {
                    let _ = tx.send(step.to_string());
                }
                let mut k = keep.lock().unwrap();
                k.push_str(&line);
                k.push('\n');
            }
        });
        Script {
            name,
            child,
            done,
            stderr,
        }
    }

    /// Wait until the script says it finished `step`.
    fn until_done(&self, step: &str) {
        let deadline = Instant::now() + SCRIPT_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done.recv_timeout(left) {
                Ok(s) if s == step => return,
                Ok(_) => {}
                Err(_) => panic!(
                    "{} never finished step {step}; its stderr:\n{}",
                    self.name,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Its report, asserting it passed.
    fn finish(mut self) -> Value {
        let mut out = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| {
            panic!(
                "{} printed no JSON: {out}\n{}",
                self.name,
                self.stderr.lock().unwrap()
            )
        });
        assert!(
            status.success() && report.get("failed").is_none(),
            "{}: {report:#}\n{}",
            self.name,
            self.stderr.lock().unwrap()
        );
        report
    }
}

/// The agent's script: `steps` for `extension`, signed in with its SIP
/// password.
fn agent_script(pbx: &Pbx, extension: &str, dir: &Path, steps: Value) -> Script {
    let config = json!({
        "tenant_domain": "demo.localhost",
        "extension": extension,
        "password": pbx.password(extension),
        "operator_token": pbx.running.operator_token,
        "timeout_ms": 60000,
    });
    Script::start(
        "console-agent.mjs",
        &[
            base(pbx),
            config.to_string(),
            dir.join("agent").display().to_string(),
            "--steps".into(),
            steps.to_string(),
        ],
    )
}

fn supervisor_script(pbx: &Pbx, key: &str, dir: &Path, steps: Value) -> Script {
    let config =
        json!({"supervisor_key": key, "expect_call": {"queue": "support", "agent": "1002"}});
    Script::start(
        "console-supervisor.mjs",
        &[
            base(pbx),
            config.to_string(),
            dir.join("supervisor").display().to_string(),
            steps.to_string(),
        ],
    )
}

/// Pause agent `ext` through the API (a supervisor's `key`), so the
/// queue offers its calls to the others.
fn pause_by_api(pbx: &Pbx, key: &str, ext: &str) {
    let (st, body) = http(
        "POST",
        &format!("{}/api/tenants/demo/agents/{ext}/state", base(pbx)),
        key,
        Some(json!({"action": "pause", "reason": "break"})),
    );
    assert_eq!(st, 200, "{body}");
}

fn base(pbx: &Pbx) -> String {
    format!("http://{}", pbx.running.http)
}

/// A console session of the API (as the page signs in): its cookie.
fn console_session(pbx: &Pbx, body: Value) -> String {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .post(&format!("{}/console/session", base(pbx)))
        .send_json(&body)
        .expect("sign-in");
    assert_eq!(resp.status().as_u16(), 201, "sign-in {body}");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

fn get_with_cookie(pbx: &Pbx, path: &str, cookie: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(&format!("{}{path}", base(pbx)))
        .header("Cookie", cookie)
        .call()
        .expect("GET");
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The journey: a caller waits in `support`; the agent, signed in
/// in the browser with the extension, sees the CRM's screen pop before
/// answering, answers in the browser, talks, hangs up and sets a
/// disposition; the supervisor's wallboard shows the waiting call, then
/// the agent on it, and the report counts it; the CRM log carries the
/// disposition; nobody else reads the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_call_from_the_screen_pop_to_the_report() {
    check_tools();
    let _turn = ONE_AT_A_TIME.lock().await;
    let (pbx, logged) = common::crm::pbx_with_crm().await;
    let pbx = Arc::new(pbx);
    let dir = shots("queue-call");
    let go_answer = dir.join("go-answer");
    let go_hang_up = dir.join("go-hang-up");
    let p = pbx.clone();
    let (agent, supervisor, caller) = blocking(move || {
        let b = base(&p);
        let op = p.running.operator_token.clone();
        let sup_key = key(&b, &op, "demo", "supervisor", None);
        // Only 1002 (in the browser) takes the call.
        pause_by_api(&p, &sup_key, "1003");
        let agent = agent_script(
            &p,
            "1002",
            &dir,
            json!([
                {"do": "registered"},
                {"do": "transfer-targets"},
                {"do": "available"},
                {"do": "wait-screen-pop", "name": "Ada Lovelace"},
                {"do": "screenshot", "name": "screen-pop"},
                {"do": "wait-file", "path": go_answer},
                {"do": "answer"},
                {"do": "screenshot", "name": "on-call"},
                {"do": "wait-file", "path": go_hang_up},
                {"do": "sleep", "ms": 1000},
                {"do": "hangup"},
                {"do": "wrap-up", "code": "sale", "notes": "two seats"},
                {"do": "screenshot", "name": "wrapped-up"},
                {"do": "history", "expect_code": "sale"},
                {"do": "screenshot", "name": "history"}
            ]),
        );
        agent.until_done("available");
        let supervisor = supervisor_script(
            &p,
            &sup_key,
            &dir,
            json!([
                {"do": "signin"},
                {"do": "wallboard"},
                {"do": "wallboard-shows-waiting", "queue": "support"},
                {"do": "shot", "name": "wallboard-waiting"},
                {"do": "wallboard-agent-on-call", "agent": "1002"},
                {"do": "shot", "name": "wallboard-on-call"},
                {"do": "report-includes-call", "queue": "support"},
                {"do": "shot", "name": "report"},
                {"do": "csv"}
            ]),
        );
        supervisor.until_done("wallboard");
        // The caller: 1001 dials the queue and waits for the agent's BYE.
        let caller = Sipp::new("uac_call_wait_bye")
            .remote(p.addr())
            .user("600")
            .auth("1001", &p.password("1001"))
            .set("caller", "1001")
            .timeout(SCRIPT_LIMIT)
            .spawn();
        supervisor.until_done("wallboard-shows-waiting");
        std::fs::write(&go_answer, b"").unwrap();
        supervisor.until_done("wallboard-agent-on-call");
        std::fs::write(&go_hang_up, b"").unwrap();
        (agent.finish(), supervisor.finish(), caller.wait())
    })
    .await;
    caller.assert_ok();
    let pop = &agent["screen_pop"];
    assert!(
        pop.to_string().contains("Ada Lovelace") && pop.to_string().contains("support"),
        "the screen pop: {pop}"
    );
    assert!(supervisor["steps"].as_array().unwrap().len() >= 9);
    // The agent may transfer to colleagues and to the queues' numbers.
    let targets = agent["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["do"] == "transfer-targets")
        .unwrap()["targets"]
        .clone();
    for t in ["1001", "1003", "600"] {
        assert!(
            targets.to_string().contains(&format!("\"{t}\"")),
            "{t} in {targets}"
        );
    }

    // The record has the agent, the queue and the wrap-up…
    let b = base(&pbx);
    let op = pbx.running.operator_token.clone();
    let (st, body) =
        blocking(move || http("GET", &format!("{b}/api/tenants/demo/cdrs"), &op, None)).await;
    assert_eq!(st, 200);
    let page: Value = serde_json::from_str(&body).unwrap();
    let call = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dialled"] == "600")
        .unwrap_or_else(|| panic!("no record of the call: {page:#}"))
        .clone();
    assert_eq!(call["agent"], "1002");
    assert_eq!(call["queue"], "support");
    assert_eq!(call["wrap_up"]["code"], "sale");
    assert_eq!(call["wrap_up"]["notes"], "two seats");
    // …and so has the CRM's log of it.
    until("the CRM log with the disposition", || {
        logged
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.to_string().contains("wrap-up:sale"))
    })
    .await;

    // Nobody else reads it: another agent, another tenant.
    let recording = call["recording"].as_str().expect("recorded").to_string();
    let p = pbx.clone();
    blocking(move || {
        let theirs = console_session(
            &p,
            json!({"method": "extension", "tenant": "demo", "extension": "1003",
                   "password": p.password("1003")}),
        );
        let mine = console_session(
            &p,
            json!({"method": "extension", "tenant": "demo", "extension": "1002",
                   "password": p.password("1002")}),
        );
        let path = format!("/api/tenants/demo/recordings/{recording}");
        assert_eq!(
            get_with_cookie(&p, &path, &mine).0,
            200,
            "1002 plays its call"
        );
        assert_eq!(get_with_cookie(&p, &path, &theirs).0, 404, "1003 does not");
        let (st, body) = get_with_cookie(&p, "/api/tenants/demo/cdrs", &theirs);
        assert_eq!(st, 200);
        assert!(!body.contains(&recording), "1003's calls do not list it");

        let b = base(&p);
        let op = p.running.operator_token.clone();
        let (st, body) = http(
            "POST",
            &format!("{b}/api/tenants"),
            &op,
            Some(json!({"id": "other", "name": "Other", "domains": ["other.example"]})),
        );
        assert_eq!(st, 201, "{body}");
        let other = console_session(
            &p,
            json!({"method": "key", "key": key(&b, &op, "other", "admin", None)}),
        );
        for path in [
            "/api/tenants/demo/cdrs".to_string(),
            path.clone(),
            "/api/tenants/demo/queues".into(),
        ] {
            let (st, body) = get_with_cookie(&p, &path, &other);
            assert_eq!(st, 404, "{path}: {body}");
            assert!(body.contains("no tenant"), "{body}");
        }
    })
    .await;
}

/// A consult transfer's start: 1003 is paused (it takes no queue call,
/// only 1002's consultation); 1002's agent panel takes the queue call,
/// consults 1003 and completes the transfer once `go_complete` exists.
fn consulting_agent(p: &Pbx, dir: &Path, go_complete: &Path) -> Script {
    let sup_key = key(
        &base(p),
        &p.running.operator_token,
        "demo",
        "supervisor",
        None,
    );
    pause_by_api(p, &sup_key, "1003");
    agent_script(
        p,
        "1002",
        dir,
        json!([
            {"do": "registered"},
            {"do": "available"},
            {"do": "wait-screen-pop"},
            {"do": "answer"},
            {"do": "consult", "to": "1003"},
            {"do": "screenshot", "name": "consulting"},
            {"do": "wait-file", "path": go_complete},
            {"do": "complete-transfer"},
            {"do": "screenshot", "name": "transferred"}
        ]),
    )
}

/// The caller (1001, a SIP phone) into `support`: held for the
/// consultation, then taken off hold by the transfer (two re-INVITEs).
fn caller_held_then_back(p: &Pbx) -> std::thread::JoinHandle<common::phone::Phone> {
    let (sip, password) = (p.addr(), p.password("1001"));
    std::thread::spawn(move || {
        let mut caller = common::phone::Phone::new(sip, 0x1001);
        caller.call_as("1001", &password, "600");
        assert_eq!(caller.answer_invite(|_| "recvonly"), "sendonly", "held");
        assert_eq!(caller.answer_invite(|_| "sendrecv"), "sendrecv", "back");
        caller
    })
}

/// The agent's report says the transfer went through, and the queue
/// call's record ends with 1003 as its agent.
async fn transferred_to_1003(pbx: &Pbx, agent: &Value) {
    let done = agent["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["do"] == "complete-transfer")
        .unwrap();
    assert!(
        done["result"]
            .as_str()
            .unwrap_or("")
            .contains("transferred"),
        "{done}"
    );
    let cdr = pbx.cdr_to(1, "600").await;
    assert_eq!(
        cdr.agent.as_deref(),
        Some("1003"),
        "the caller ends with 1003"
    );
    assert_eq!(cdr.queue.as_deref(), Some("support"));
}

/// Consult transfer from the browser: 1002 answers a queue call in the
/// agent panel, consults 1003 (the caller is held), and hands the caller
/// over; the caller and 1003 (SIP phones) then hear each other through
/// the host, and the call's record ends with 1003 as its agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_consults_a_colleague_from_the_browser_and_hands_the_caller_over() {
    use common::phone::{Phone, talk_and_listen};
    check_tools();
    let _turn = ONE_AT_A_TIME.lock().await;
    let pbx = Arc::new(pbx().await);
    let dir = shots("consult-transfer");
    let go_complete = dir.join("go-complete");
    let p = pbx.clone();
    let (agent, heard) = blocking(move || {
        let mut colleague = Phone::new(p.addr(), 0x1003);
        colleague.register("1003", &p.password("1003"));
        let agent = consulting_agent(&p, &dir, &go_complete);
        agent.until_done("available");
        let caller = caller_held_then_back(&p);
        // The consultation rings 1003, which answers.
        colleague.answer_invite(|_| "sendrecv");
        agent.until_done("consult");
        std::fs::write(&go_complete, b"").unwrap();
        // The transfer: the host re-INVITEs 1003 onto the caller's call.
        colleague.answer_invite(|_| "sendrecv");
        let mut caller = caller.join().expect("the caller's phone");
        let heard = talk_and_listen(
            &mut [&mut caller, &mut colleague],
            &[Some(440.0), Some(600.0)],
            2000,
        );
        colleague.bye();
        caller.answer_bye();
        (agent.finish(), heard)
    })
    .await;
    let peak = |h: &[i16]| h.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(
        peak(&heard[0]) > 1000,
        "the caller hears 1003 (peak {})",
        peak(&heard[0])
    );
    assert!(
        peak(&heard[1]) > 1000,
        "1003 hears the caller (peak {})",
        peak(&heard[1])
    );
    transferred_to_1003(&pbx, &agent).await;
}

/// Consult transfer between two browsers: 1002 answers a queue call in
/// the agent panel and consults 1003, also in the agent panel; after the
/// hand-over the caller (a SIP phone) and 1003's browser hear each other.
/// The browser keeps the WebRTC endpoint it had in the consultation (it
/// refuses an offer from a new one), moved into the caller's call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_transfer_to_a_colleague_in_the_browser_keeps_the_audio() {
    use common::phone::talk_and_listen;
    use std::sync::atomic::{AtomicBool, Ordering};
    check_tools();
    let _turn = ONE_AT_A_TIME.lock().await;
    let pbx = Arc::new(pbx().await);
    let dir = shots("consult-to-browser");
    let go_complete = dir.join("go-complete");
    let transferred = dir.join("transferred");
    let p = pbx.clone();
    let (agent, colleague, caller_peak) = blocking(move || {
        let colleague = agent_script(
            &p,
            "1003",
            &dir.join("colleague"),
            json!([
                {"do": "registered"},
                {"do": "answer"},
                {"do": "hears"},
                {"do": "wait-file", "path": transferred},
                {"do": "hears"},
                {"do": "screenshot", "name": "talking-to-the-caller"},
                {"do": "hangup"}
            ]),
        );
        colleague.until_done("registered");
        let agent = consulting_agent(&p, &dir, &go_complete);
        agent.until_done("available");
        let caller = caller_held_then_back(&p);
        colleague.until_done("answer");
        agent.until_done("consult");
        // The consultation's audio, browser to browser.
        colleague.until_done("hears");
        std::fs::write(&go_complete, b"").unwrap();
        agent.until_done("complete-transfer");
        std::fs::write(&transferred, b"").unwrap();
        let mut caller = caller.join().expect("the caller's phone");
        // The caller says its tone until 1003's browser heard it and the
        // caller heard 1003's (Chromium's fake microphone beeps).
        let stop = Arc::new(AtomicBool::new(false));
        let until = stop.clone();
        let talker = std::thread::spawn(move || {
            let mut peak = 0u16;
            let deadline = Instant::now() + SCRIPT_LIMIT;
            while !(until.load(Ordering::Relaxed) && peak > 1000) && Instant::now() < deadline {
                let heard = talk_and_listen(&mut [&mut caller], &[Some(440.0)], 400);
                peak = peak.max(heard[0].iter().map(|s| s.unsigned_abs()).max().unwrap_or(0));
            }
            (caller, peak)
        });
        colleague.until_done("hears");
        stop.store(true, Ordering::Relaxed);
        let (caller, peak) = talker.join().expect("the caller's phone");
        colleague.until_done("hangup");
        caller.answer_bye();
        (agent.finish(), colleague.finish(), peak)
    })
    .await;
    let heard: Vec<&Value> = colleague["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["do"] == "hears")
        .collect();
    assert_eq!(heard.len(), 2, "{colleague:#}");
    assert!(
        heard[1]["packets"].as_u64().unwrap_or(0) >= 50,
        "1003's browser receives the caller's RTP after the transfer: {}",
        heard[1]
    );
    assert!(
        caller_peak > 1000,
        "the caller hears 1003's browser (peak {caller_peak})"
    );
    transferred_to_1003(&pbx, &agent).await;
}

/// The admin and operator pages, and the roles in the browser: an admin
/// creates a queue and adds an agent, creates and deletes an extension,
/// uploads a broken plugin and reads the API's own refusal on the page,
/// plays a prompt, works with keys, plugin settings, versions and the
/// catalogue; a supervisor's pages are read-only; the operator sees the
/// tenants; an agent has no admin page, even by its address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_configures_in_the_browser_and_each_role_keeps_to_its_pages() {
    check_tools();
    let _turn = ONE_AT_A_TIME.lock().await;
    let pbx = Arc::new(pbx().await);
    let dir = shots("admin");
    let broken = dir.join("broken.wasm");
    // A component header and then nonsense: the upload is refused.
    std::fs::write(&broken, b"\0asm\x0d\0\x01\0this is not a component").unwrap();
    // Canonical: Chromium does not read an upload whose path has `..`.
    let good = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/tests/fixtures/fewest-calls-0.2.0.wasm")
        .canonicalize()
        .unwrap();
    let p = pbx.clone();
    let report = blocking(move || {
        let b = base(&p);
        let op = p.running.operator_token.clone();
        let config = json!({
            "admin_key": key(&b, &op, "demo", "admin", None),
            "operator_token": op,
            "broken_wasm": broken,
            "good_wasm": good,
            "agent_extension": "1002",
            "agent_password": p.password("1002"),
            "supervisor_extension": "1001",
            "supervisor_password": p.password("1001"),
        });
        Script::start(
            "console-admin.mjs",
            &[b, config.to_string(), dir.display().to_string()],
        )
        .finish()
    })
    .await;
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["do"].as_str())
        .collect();
    for step in [
        "create-queue",
        "add-agent",
        "upload-broken-plugin",
        "supervisor-readonly",
        "operator-tenants",
        "agent-no-admin",
    ] {
        assert!(steps.contains(&step), "{step} ran: {steps:?}");
    }
}

/// The agent's and the supervisor's pages on their own: the agent signs
/// in with the extension, goes available, pauses with a reason (the time
/// in state ticks), comes back, reaches every state button by keyboard
/// and opens its calls; the supervisor's wallboard shows a pause made
/// elsewhere without a reload and takes it back, and the reports draw
/// their charts and export CSV. Both at 1280×800 and at phone width,
/// with no error in the browser's console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_and_a_supervisor_at_work_on_their_own_pages() {
    check_tools();
    let _turn = ONE_AT_A_TIME.lock().await;
    let pbx = Arc::new(pbx().await);
    let dir = shots("own-pages");
    let p = pbx.clone();
    let (agent, supervisor) = blocking(move || {
        let config = json!({
            "tenant_domain": "demo.localhost",
            "extension": "1002",
            "password": p.password("1002"),
        });
        let agent = Script::start(
            "console-agent.mjs",
            &[
                base(&p),
                config.to_string(),
                dir.join("agent").display().to_string(),
            ],
        )
        .finish();
        let key = key(
            &base(&p),
            &p.running.operator_token,
            "demo",
            "supervisor",
            None,
        );
        let supervisor = Script::start(
            "console-supervisor.mjs",
            &[
                base(&p),
                json!({"supervisor_key": key}).to_string(),
                dir.join("supervisor").display().to_string(),
            ],
        )
        .finish();
        (agent, supervisor)
    })
    .await;
    let done = |r: &Value| -> Vec<String> {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["do"].as_str().map(String::from))
            .collect()
    };
    let (a, s) = (done(&agent), done(&supervisor));
    for step in ["available", "pause", "ticks", "keyboard", "history"] {
        assert!(a.iter().any(|d| d == step), "agent {step}: {a:?}");
    }
    for step in ["wallboard", "pause-shows", "reports", "csv"] {
        assert!(s.iter().any(|d| d == step), "supervisor {step}: {s:?}");
    }
}

/// Over the HTTPS listener the console is served too, and its session
/// cookie is `Secure`, so a browser never sends it over plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_session_cookie_is_secure() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pbx = pbx_configured(None, None, |c| {
        c.https_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let https = pbx.running.https.expect("HTTPS served");
    let cert = pbx.running.certificate.clone().expect("a certificate");
    let tls =
        tokio_rustls::TlsConnector::from(client_trusting(&std::fs::read(&cert.cert).unwrap()));
    // One HTTP/1.1 request over a fresh TLS connection: the response head.
    let request = |req: String| {
        let tls = tls.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(https).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut s = tls
                .connect(name, tcp)
                .await
                .expect("TLS with the host's certificate");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    let page = request(format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        https.port()
    ))
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("/console/console.js"), "the console's page");
    let body = json!({"method": "extension", "tenant": "demo.localhost", "extension": "1002",
                      "password": pbx.password("1002")})
    .to_string();
    let answer = request(format!(
        "POST /console/session HTTP/1.1\r\nHost: localhost:{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        https.port(),
        body.len()
    ))
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    for attr in [
        "switchyard_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
}
