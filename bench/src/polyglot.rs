//! Heavy components side by side: plugins written in Python
//! (componentize-py) and JavaScript (componentize-js) against the Rust
//! plugins that do the same job, on one host in one run.
//!
//! `cargo run --release -p switchyard-bench -- polyglot` after
//! `scripts/build-python-plugins` and `scripts/build-js-plugins` (with the
//! same `CARGO_TARGET_DIR`: the components are read from
//! `<target>/polyglot/`). For each component:
//!
//! * size, and the linear memory its snapshot starts with;
//! * compile (first upload: validate + Cranelift), and load after a
//!   restart from the host's compiled-component directory;
//! * upload to first decision: a fresh host with an empty cache installs
//!   it and makes one decision;
//! * one decision as a call makes it — a never-used instance from the
//!   `InstancePre` (copy-on-write memory image), made ahead by the host's
//!   spare thread when it had the time (`SPARES=0`: made and dropped on the
//!   decision's path; a Python or JavaScript component's in the large
//!   pool, whose slots keep their memory, unless `LARGE_POOL=0`;
//!   `LARGE_KEEP_MIB`, `LARGE_WARM_SLOTS` size that pool; `PERF_MAP=1`
//!   for profiles that name the components' functions), call — p50 / p99 over 1,000 (flows) or 500 (CRM
//!   look-ups over HTTP to a local server), back to back or `--gap-ms N`
//!   apart, as between calls;
//! * the least linear memory (to 64 KiB) the decision runs in: what an
//!   instance needs of the tenant's `memory_bytes`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_plugins::flow_types::{Event, Gathered};
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_plugins::{
    HostConfig, HttpPolicyConfig, InMemoryDirectory, PluginHost, TenantLimits, TenantRuntime,
    TenantSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1 << 20;
const FLOW_SAMPLES: usize = 1_000;
const CRM_SAMPLES: usize = 500;
const WARMUP: usize = 50;

/// What a subject is asked each time.
#[derive(Clone)]
enum Ask {
    /// A flow event, after `call-started` when `after_start` (with that
    /// decision's state, as in a call).
    Flow { event: Event, after_start: bool },
    /// A CRM look-up of this number.
    Lookup(&'static str),
}

struct Subject {
    label: &'static str,
    language: &'static str,
    bytes: Vec<u8>,
    settings: BTreeMap<String, String>,
    ask: Ask,
    /// The call's start time (the JavaScript IVR's hours depend on it).
    start_ms: u64,
}

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn snapshot(start_ms: u64) -> CallSnapshot {
    CallSnapshot {
        call_id: "bench".into(),
        tenant: "bench".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+14155550123".into(),
            display_name: None,
        },
        callee: Party {
            number: "+33100000000".into(),
            display_name: None,
        },
        dialled: "+33100000000".into(),
        tags: vec![],
        start_time: start_ms,
        answer_time: None,
        time_zone: "Europe/Paris".into(),
        flow: "main".into(),
        plugin_version: 1,
    }
}

/// `<target>/polyglot/<file>`, beside this binary's `<target>/release`.
fn polyglot(file: &str) -> Vec<u8> {
    let exe = std::env::current_exe().expect("bench binary path");
    let path = exe
        .ancestors()
        .map(|d| d.join("polyglot").join(file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("target/polyglot").join(file));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/build-python-plugins and scripts/build-js-plugins \
             with the same CARGO_TARGET_DIR first",
            path.display()
        )
    })
}

fn digit(d: &str) -> Event {
    Event::Digits(Gathered {
        digits: d.into(),
        finished_by_key: false,
    })
}

/// The fields mapping every connector here is given (the CRM answers
/// with nested, HubSpot-like contacts).
const FIELDS: &str = r#"{"id": "uid", "name": "properties.fullname", "email": "properties.mail", "company": "org.name", "owner": "assigned_to", "url": "links.self", "tags": "labels"}"#;

fn subjects(crm_base: &str) -> Vec<Subject> {
    let artifact = |n: &str| {
        switchyard_artifacts::get(n)
            .expect("component built")
            .to_vec()
    };
    // Tuesday 24 November 2026, 10:00 in Paris: the JavaScript IVR is open.
    let open = 1_795_510_800_000;
    let ivr_js = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/call-flow-js/example-config.json"),
    )
    .expect("examples/call-flow-js/example-config.json");
    let crm = |extra: &[(&str, &str)]| {
        let mut s = settings(&[
            ("base-url", crm_base),
            ("token", "bench"),
            ("fields", FIELDS),
        ]);
        s.extend(settings(extra));
        s
    };
    let menu_digit = Ask::Flow {
        event: digit("2"),
        after_start: true,
    };
    vec![
        Subject {
            label: "ivr-menu (menu digit)",
            language: "Rust",
            bytes: artifact("ivr-menu"),
            settings: switchyard_artifacts::demo_settings("ivr-menu"),
            ask: menu_digit.clone(),
            start_ms: open,
        },
        Subject {
            label: "call-flow-js (menu digit)",
            language: "JavaScript",
            bytes: polyglot("call-flow-js.wasm"),
            settings: settings(&[("ivr", &ivr_js)]),
            ask: menu_digit,
            start_ms: open,
        },
        Subject {
            label: "hello-flow (call start)",
            language: "Rust",
            bytes: artifact("hello-flow"),
            settings: settings(&[("agent", "1003")]),
            ask: Ask::Flow {
                event: Event::CallStarted,
                after_start: false,
            },
            start_ms: open,
        },
        Subject {
            label: "hello-flow-py (call start)",
            language: "Python",
            bytes: polyglot("hello-flow-py.wasm"),
            settings: settings(&[("agent", "1003")]),
            ask: Ask::Flow {
                event: Event::CallStarted,
                after_start: false,
            },
            start_ms: open,
        },
        Subject {
            label: "hello-flow-py (no-op event)",
            language: "Python",
            bytes: polyglot("hello-flow-py.wasm"),
            settings: settings(&[("agent", "1003")]),
            ask: Ask::Flow {
                event: Event::PlayFinished,
                after_start: false,
            },
            start_ms: open,
        },
        Subject {
            label: "crm-rest (look-up)",
            language: "Rust",
            bytes: artifact("crm-rest"),
            settings: crm(&[]),
            ask: Ask::Lookup("+14155550123"),
            start_ms: open,
        },
        Subject {
            label: "crm-connector-py (look-up)",
            language: "Python",
            bytes: polyglot("crm-connector-py.wasm"),
            settings: crm(&[]),
            ask: Ask::Lookup("+14155550123"),
            start_ms: open,
        },
    ]
}

/// A CRM on loopback: any GET gets Ada's contact, anything else 201.
/// One request per connection (the guests' HTTP client closes it).
async fn crm_server() -> String {
    const ADA: &str = r#"{"total": 1, "items": [{"uid": "c-42", "properties": {"fullname": "Ada Lovelace", "mail": "ada@example.com"}, "org": {"name": "Analytical Engines"}, "assigned_to": 1002, "links": {"self": "https://crm.example.com/c/42"}, "labels": "vip, engineer"}]}"#;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the CRM");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                    if got == buf.len() {
                        return;
                    }
                }
                let response = if buf.starts_with(b"GET ") {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ADA}",
                        ADA.len()
                    )
                } else {
                    "HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
                };
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://localhost:{port}/api")
}

fn host(cache_dir: Option<PathBuf>) -> PluginHost {
    PluginHost::new(HostConfig {
        max_instances: 64,
        keep_resident_bytes: std::env::var("KEEP_RESIDENT_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(HostConfig::default().keep_resident_bytes, |m| m * MIB),
        // LARGE_POOL=0: every component in the small pool (Python and
        // JavaScript too: slots that keep only the pages the scan finds).
        large_memory_bytes: match std::env::var("LARGE_POOL").as_deref() {
            Ok("0") => usize::MAX,
            _ => HostConfig::default().large_memory_bytes,
        },
        large_keep_resident_bytes: std::env::var("LARGE_KEEP_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(HostConfig::default().large_keep_resident_bytes, |m| m * MIB),
        max_large_warm_slots: std::env::var("LARGE_WARM_SLOTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(HostConfig::default().max_large_warm_slots),
        // PERF_MAP=1: `perf report` names the components' functions.
        perf_map: std::env::var_os("PERF_MAP").is_some(),
        // SPARES=0: every instance made and dropped on the decision's path.
        max_spare_instances: std::env::var("SPARES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(HostConfig::default().max_spare_instances),
        cache_dir,
        http: HttpPolicyConfig {
            allow_private_addresses: true,
            ..HttpPolicyConfig::default()
        },
        ..HostConfig::default()
    })
    .expect("plugin host")
}

fn tenant(host: &PluginHost, s: &Subject, memory_bytes: usize) -> Option<TenantRuntime> {
    let t = host
        .tenant(
            "bench",
            TenantSettings {
                limits: TenantLimits {
                    memory_bytes,
                    http_allowlist: vec!["localhost".into()],
                    ..TenantLimits::default()
                },
                directory: Arc::new(InMemoryDirectory::new()),
                ..TenantSettings::default()
            },
        )
        .expect("tenant");
    t.install("subject", &s.bytes, s.settings.clone()).ok()?;
    if matches!(s.ask, Ask::Lookup(_)) {
        t.set_crm("subject").expect("crm role");
    }
    Some(t)
}

/// One decision, as a call makes it; `Err` says why it failed.
async fn decide(t: &TenantRuntime, s: &Subject, state: &Option<Vec<u8>>) -> Result<(), String> {
    match &s.ask {
        Ask::Flow { event, .. } => {
            let pinned = t.pin("subject").map_err(|e| e.to_string())?;
            t.invoke_flow(&pinned, &snapshot(s.start_ms), event, state.clone())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Ask::Lookup(number) => match t.try_crm_lookup(number).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("the CRM's contact was not found".into()),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// The state a flow has when the measured event comes.
async fn state_before(t: &TenantRuntime, s: &Subject) -> Option<Vec<u8>> {
    let Ask::Flow {
        after_start: true, ..
    } = s.ask
    else {
        return None;
    };
    let pinned = t.pin("subject").ok()?;
    t.invoke_flow(&pinned, &snapshot(s.start_ms), &Event::CallStarted, None)
        .await
        .unwrap_or_else(|e| panic!("{}: call-started: {e}", s.label))
        .state
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

struct Figures {
    compile: Duration,
    cached_load: Duration,
    first_decision: Duration,
    p50: Duration,
    p99: Duration,
    least_memory: Option<usize>,
    initial_memory: u64,
    /// Timed decisions that found no spare and made their own instance.
    missed_spares: u64,
}

async fn measure(s: &Subject, gap: Duration) -> Figures {
    let memory = 64 * MIB;
    // Compile on a host with no cache, then load on a "restarted" host
    // whose compiled-component directory has it.
    let dir = std::env::temp_dir().join(format!("sy-polyglot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let loaded = host(Some(dir.clone()))
        .load(&s.bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", s.label));
    let compile = started.elapsed();
    let initial_memory = loaded.initial_memory_bytes();
    let started = Instant::now();
    host(Some(dir.clone())).load(&s.bytes).expect("cached load");
    let cached_load = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);

    // Upload to first decision on a fresh host.
    let started = Instant::now();
    let fresh = host(None);
    let t = tenant(&fresh, s, memory).unwrap_or_else(|| panic!("{}: install", s.label));
    let state = state_before(&t, s).await;
    decide(&t, s, &state)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", s.label));
    let first_decision = started.elapsed();

    // POLYGLOT_SAMPLES: more decisions, so that a profile of the run is
    // mostly decisions rather than compiling.
    let samples = std::env::var("POLYGLOT_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(match s.ask {
            Ask::Flow { .. } => FLOW_SAMPLES,
            Ask::Lookup(_) => CRM_SAMPLES,
        });
    // Warm-up at the same spacing as the timed decisions: back to back,
    // it left the spare thread a backlog of used instances to drop that
    // the first timed decisions then waited out.
    for _ in 0..WARMUP {
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        decide(&t, s, &state).await.expect("warm-up");
    }
    let mut times = Vec::with_capacity(samples);
    let spares_before = fresh.spare_stats();
    for _ in 0..samples {
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let started = Instant::now();
        decide(&t, s, &state).await.expect("decision");
        times.push(started.elapsed());
    }
    let missed_spares = fresh.spare_stats().missed - spares_before.missed;
    times.sort();

    // The least memory limit, to 64 KiB, under which the decision works.
    let step = 64 << 10;
    let (mut lo, mut hi) = (0usize, memory);
    let mut least_memory = None;
    while hi - lo > step {
        let mid = (lo + hi) / 2 / step * step;
        let ok = match tenant(&fresh, s, mid) {
            Some(t) => {
                let state = match s.ask {
                    Ask::Flow {
                        after_start: true, ..
                    } => state.clone(),
                    _ => None,
                };
                decide(&t, s, &state).await.is_ok()
            }
            None => false,
        };
        if ok {
            hi = mid;
            least_memory = Some(mid);
        } else {
            lo = mid;
        }
    }
    Figures {
        compile,
        cached_load,
        first_decision,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        least_memory,
        initial_memory,
        missed_spares,
    }
}

/// Runs the comparison and prints a table.
pub fn run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        // `--only TEXT`: the components whose label contains it (to
        // profile one). `--gap-ms N`: a pause before each measured
        // decision, as between calls (0: back to back).
        let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
        let only = arg("--only").unwrap_or_default();
        let gap = Duration::from_millis(arg("--gap-ms").and_then(|v| v.parse().ok()).unwrap_or(0));
        let base = crm_server().await;
        println!(
            "Plugins by language — one host, one run; a decision is a fresh instance + call + drop"
        );
        println!(
            "(flows: {FLOW_SAMPLES} samples, CRM look-ups over loopback HTTP: {CRM_SAMPLES}; after {WARMUP} warm-up; {} ms between decisions)\n",
            gap.as_millis()
        );
        println!(
            "{:<28} {:<10} {:>8} {:>9} {:>10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "component",
            "language",
            "size MB",
            "start MiB",
            "compile ms",
            "cache ms",
            "upload→1st",
            "p50 ms",
            "p99 ms",
            "needs MiB",
            "no spare"
        );
        for s in subjects(&base).into_iter().filter(|s| s.label.contains(&only)) {
            let f = measure(&s, gap).await;
            println!(
                "{:<28} {:<10} {:>8.1} {:>9.1} {:>10.0} {:>9.1} {:>10.0} {:>9} {:>9} {:>9} {:>9}",
                s.label,
                s.language,
                s.bytes.len() as f64 / 1e6,
                f.initial_memory as f64 / MIB as f64,
                f.compile.as_secs_f64() * 1e3,
                f.cached_load.as_secs_f64() * 1e3,
                f.first_decision.as_secs_f64() * 1e3,
                ms(f.p50),
                ms(f.p99),
                f.least_memory
                    .map_or("-".into(), |b| format!("{:.2}", b as f64 / MIB as f64)),
                f.missed_spares,
            );
        }
    });
}
