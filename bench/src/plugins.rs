//! Plugin runtime benchmark.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchyard_plugins::flow_types::{Event, Gathered};
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_plugins::{
    HostConfig, HttpPolicyConfig, Pinned, PluginHost, TenantLimits, TenantRuntime, TenantSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WARMUP: usize = 200;
const SAMPLES: usize = 5_000;
const THROUGHPUT_FOR: Duration = Duration::from_secs(2);
const CONCURRENT_CALLS: usize = 100;
/// Time between decisions in the paced runs: calls arrive apart, and a
/// spare instance (made after each decision) is ready for the next one.
const PACE: Duration = Duration::from_micros(500);

fn snapshot(caller: &str) -> CallSnapshot {
    CallSnapshot {
        call_id: "bench".into(),
        tenant: "bench".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: caller.into(),
            display_name: None,
        },
        callee: Party {
            number: "100".into(),
            display_name: None,
        },
        dialled: "100".into(),
        tags: vec![],
        start_time: 0,
        answer_time: None,
        time_zone: "UTC".into(),
        flow: "main".into(),
        plugin_version: 1,
    }
}

/// One measured decision: a plugin, the event it gets, and whether the
/// event comes after `call-started` (then it gets that decision's state, as
/// in a real call).
#[derive(Clone)]
struct Subject {
    label: &'static str,
    plugin: &'static str,
    event: Event,
    after_start: bool,
}

/// The plugins to measure, configured as the demo tenant configures them.
fn subjects() -> Vec<Subject> {
    let digit = Event::Digits(Gathered {
        digits: "1".into(),
        finished_by_key: false,
    });
    vec![
        Subject {
            label: "router",
            plugin: "router",
            event: Event::CallStarted,
            after_start: false,
        },
        Subject {
            label: "ivr-menu",
            plugin: "ivr-menu",
            event: Event::CallStarted,
            after_start: false,
        },
        Subject {
            label: "ivr-menu (digit)",
            plugin: "ivr-menu",
            event: digit,
            after_start: true,
        },
        Subject {
            label: "business-hours",
            plugin: "business-hours",
            event: Event::CallStarted,
            after_start: false,
        },
        Subject {
            label: "echo-flow",
            plugin: "echo-flow",
            event: Event::PlayFinished,
            after_start: false,
        },
    ]
}

/// The state the subject's event arrives with.
async fn state_for(
    t: &TenantRuntime,
    pinned: &Pinned,
    s: &Subject,
    call: &CallSnapshot,
) -> Option<Vec<u8>> {
    if !s.after_start {
        return None;
    }
    t.invoke_flow(pinned, call, &Event::CallStarted, None)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", s.label))
        .state
}

fn host() -> PluginHost {
    host_with_spares(HostConfig::default().max_spare_instances)
}

fn host_with_spares(max_spare_instances: u32) -> PluginHost {
    PluginHost::new(HostConfig {
        max_instances: 1000,
        max_spare_instances,
        http: HttpPolicyConfig {
            allow_private_addresses: true,
            ..HttpPolicyConfig::default()
        },
        ..HostConfig::default()
    })
    .expect("plugin host")
}

fn tenant(host: &PluginHost, name: &str) -> TenantRuntime {
    let t = host
        .tenant(
            "bench",
            TenantSettings {
                limits: TenantLimits {
                    max_concurrent: 10_000,
                    http_allowlist: vec!["127.0.0.1".into()],
                    ..TenantLimits::default()
                },
                ..TenantSettings::default()
            },
        )
        .expect("tenant");
    let bytes = switchyard_artifacts::get(name).expect("component built");
    t.install(name, bytes, switchyard_artifacts::demo_settings(name))
        .unwrap_or_else(|e| panic!("installing {name}: {e}"));
    t
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Decision latency: back to back, or `pace` apart (then a decision's
/// spare, made after the previous one, has had time to be ready); with
/// spare instances or (`spares` false) every instance made and dropped on
/// the decision's path.
fn latency(s: &Subject, pace: Duration, spares: bool) -> (Duration, Duration, Duration) {
    let host = host_with_spares(if spares {
        HostConfig::default().max_spare_instances
    } else {
        0
    });
    let t = tenant(&host, s.plugin);
    let pinned = t.pin(s.plugin).expect("pinned");
    let call = snapshot("+15550100");
    runtime(1).block_on(async {
        let state = state_for(&t, &pinned, s, &call).await;
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
            if !pace.is_zero() {
                // Spins rather than sleeps: a parked thread's core idles,
                // and on a VM waking it costs more than the decision.
                let until = Instant::now() + pace;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            let start = Instant::now();
            t.invoke_flow(&pinned, &call, &s.event, state.clone())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", s.label));
            if i >= WARMUP {
                samples.push(start.elapsed());
            }
        }
        samples.sort();
        (
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            percentile(&samples, 0.999),
        )
    })
}

fn throughput(s: &Subject, threads: usize) -> f64 {
    let host = host();
    let t = tenant(&host, s.plugin);
    let pinned = t.pin(s.plugin).expect("pinned");
    let done = Arc::new(AtomicU64::new(0));
    runtime(threads).block_on(async {
        let state = state_for(&t, &pinned, s, &snapshot("+15550100")).await;
        let start = Instant::now();
        let mut tasks = Vec::new();
        // A few tasks per thread so that a yielding guest never idles one.
        for _ in 0..threads * 4 {
            let (t, pinned, event, done) =
                (t.clone(), pinned.clone(), s.event.clone(), done.clone());
            let state = state.clone();
            tasks.push(tokio::spawn(async move {
                let call = snapshot("+15550100");
                while start.elapsed() < THROUGHPUT_FOR {
                    t.invoke_flow(&pinned, &call, &event, state.clone())
                        .await
                        .expect("invocation");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    })
}

/// Resident set size of this process, bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Holds `CONCURRENT_CALLS` flow invocations open at once (each blocked in
/// `contacts.lookup` on a CRM plugin that waits for a slow local HTTP
/// server, so two live instances per call) and reports the resident memory
/// they add, per instance.
fn memory_per_instance() -> Option<f64> {
    let host = host();
    let t = tenant(&host, "echo-flow");
    t.install(
        "crm",
        switchyard_artifacts::get("http-crm")?,
        Default::default(),
    )
    .ok()?;
    t.set_crm("crm").ok()?;
    let pinned = t.pin("echo-flow").ok()?;
    runtime(2).block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
        let url = format!("http://{}/c", listener.local_addr().ok()?);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = sock.read(&mut buf).await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnone")
                        .await;
                });
            }
        });
        let who = Event::Digits(Gathered {
            digits: "who".into(),
            finished_by_key: false,
        });
        // Warm up once so that code and caches are resident before measuring.
        let _ = t
            .invoke_flow(&pinned, &snapshot(&url), &Event::PlayFinished, None)
            .await;
        let before = rss()?;
        let mut calls = Vec::new();
        for _ in 0..CONCURRENT_CALLS {
            let (t, pinned, who, url) = (t.clone(), pinned.clone(), who.clone(), url.clone());
            calls.push(tokio::spawn(async move {
                t.invoke_flow(&pinned, &snapshot(&url), &who, None).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let during = rss()?;
        for c in calls {
            let _ = c.await;
        }
        Some(during.saturating_sub(before) as f64 / (2 * CONCURRENT_CALLS) as f64)
    })
}

/// Runs the plugin benchmark and prints a table.
pub fn run() {
    println!("Switchyard plugin runtime — one flow decision in a never-used instance");
    println!(
        "(pooling allocator, InstancePre, fresh Store each decision; {SAMPLES} samples after {WARMUP} warm-up)"
    );
    println!(
        "paced: {} µs between decisions, as between calls, the instance made ahead (spare) or on the decision's path;",
        PACE.as_micros()
    );
    println!(
        "back to back: no time between decisions, so no spare is ready; throughput: tasks back to back\n"
    );
    println!(
        "{:<18} {:>23} {:>23} {:>23} {:>12} {:>12}",
        "plugin",
        "paced, spare p50/99/99.9",
        "paced, inline",
        "back to back",
        "1 thread /s",
        "2 threads /s"
    );
    let triple =
        |(a, b, c): (Duration, Duration, Duration)| format!("{} / {} / {}", us(a), us(b), us(c));
    // `--only TEXT`: the plugins whose label contains it (to profile one).
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    for s in subjects().into_iter().filter(|s| s.label.contains(&only)) {
        let spare = latency(&s, PACE, true);
        let inline = latency(&s, PACE, false);
        let back_to_back = latency(&s, Duration::ZERO, true);
        let t1 = throughput(&s, 1);
        let t2 = throughput(&s, 2);
        println!(
            "{:<18} {:>23} {:>23} {:>23} {:>12.0} {:>12.0}",
            s.label,
            triple(spare),
            triple(inline),
            triple(back_to_back),
            t1,
            t2
        );
    }
    match memory_per_instance() {
        Some(bytes) => println!(
            "\nresident memory per live instance (echo-flow + http-crm, {} calls in flight): {:.1} KiB",
            CONCURRENT_CALLS,
            bytes / 1024.0
        ),
        None => println!("\nresident memory per live instance: not measurable here"),
    }
}
