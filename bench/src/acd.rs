//! The contact centre's decisions: how long the queue engine and a
//! queue-strategy plugin take to pick an agent among 200, and what the
//! engine holds per waiting caller.
//!
//! `cargo run --release -p switchyard-bench -- acd [engine|strategy|waiting]`
//! prints (all three parts without an argument):
//!
//! * **engine**: one caller joins a queue of 200 available agents, the
//!   engine asks for a ranking, gets the longest-idle order back and rings
//!   the first — the host's own share of a decision (p50/p99/p99.9 of
//!   5,000);
//! * **strategy**: the first-party `fewest-calls` and `skills` plugins
//!   ordering 200 candidates through wasmtime (instantiate, `ranking.rank`
//!   with the candidates as columns, drop), as the queue service calls
//!   them; `fewest-calls` as built before 0.2.1 (`strategy.select`, one
//!   record per candidate) beside them; and `fewest-calls` with no
//!   candidates: the fixed part of a decision;
//! * **waiting callers**: 2,000 callers joined to the engine (every agent
//!   busy), the resident memory they add and the time of one engine timer
//!   pass over them (announcements due for all).

use std::time::{Duration, Instant};

use switchyard_acd::{Acd, AgentConfig, Membership, Output, QueueConfig};
use switchyard_plugins::queue_types::{AgentCandidate, QueueInfo, WaitingCall};
use switchyard_plugins::types::{CallSnapshot, Direction, Party};
use switchyard_plugins::{
    CandidateRef, HostConfig, PluginHost, TenantLimits, TenantSettings, candidate_columns,
};

const AGENTS: usize = 200;
const WAITING: usize = 2_000;
const WARMUP: usize = 200;
const SAMPLES: usize = 5_000;

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99), at(0.999))
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// An engine with one queue `q` and `AGENTS` agents, all logged in.
fn engine(t0: Instant) -> Acd {
    let mut acd = Acd::new(t0, 1_700_000_000_000);
    let mut q = QueueConfig::new("q");
    q.announce_every = Some(Duration::from_secs(30));
    acd.set_queue(q);
    for i in 0..AGENTS {
        let id = format!("{}", 2000 + i);
        let m = Membership {
            queue: "q".into(),
            penalty: 0,
            skills: vec![("it".into(), (i % 5 + 1) as u8)],
            order: i as u32,
        };
        acd.set_agent(AgentConfig::new(id.clone(), vec![m]), t0);
        acd.login(&id, t0 + Duration::from_millis(i as u64));
    }
    while acd.poll_output().is_some() {}
    acd
}

/// One decision: join, rank (longest idle), ring; then the call ends so
/// the agent is free again for the next sample.
fn engine_decisions() -> (Duration, Duration, Duration) {
    let t0 = Instant::now();
    let mut acd = engine(t0);
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut now = t0 + Duration::from_secs(1);
    for i in 0..WARMUP + SAMPLES {
        let call = format!("c{i}");
        let start = Instant::now();
        acd.join(&call, "q", 0, vec![], vec![], now).expect("joins");
        let mut rung: Option<String> = None;
        while let Some(out) = acd.poll_output() {
            match out {
                Output::Rank {
                    call, candidates, ..
                } => {
                    // Longest idle, answered as a plugin answers:
                    // positions in the candidates.
                    let mut order: Vec<u32> = (0..candidates.len() as u32).collect();
                    order.sort_by_key(|&i| {
                        let c = &candidates[i as usize];
                        (c.penalty, c.idle_since_ms, c.order)
                    });
                    acd.handle_ranked(&call, order, now);
                }
                Output::Ring { agents, .. } => rung = agents.into_iter().next(),
                _ => {}
            }
        }
        let took = start.elapsed();
        let agent = rung.expect("an agent is rung");
        if i >= WARMUP {
            samples.push(took);
        }
        // Answer and end at once; the wrap-up passes below.
        acd.offer_answered(&call, &agent, now);
        acd.call_ended(&call, now);
        now += Duration::from_secs(11);
        acd.handle_timeout(now);
        while acd.poll_output().is_some() {}
    }
    percentiles(samples)
}

fn snapshot() -> CallSnapshot {
    CallSnapshot {
        call_id: "bench".into(),
        tenant: "bench".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+15550100".into(),
            display_name: None,
        },
        callee: Party {
            number: "600".into(),
            display_name: None,
        },
        dialled: "600".into(),
        tags: vec![],
        start_time: 0,
        answer_time: None,
        time_zone: "UTC".into(),
        flow: "main".into(),
        plugin_version: 1,
    }
}

fn candidates() -> Vec<AgentCandidate> {
    (0..AGENTS)
        .map(|i| AgentCandidate {
            id: format!("{}", 2000 + i),
            skills: vec!["it".into()],
            calls_today: (i * 7 % 23) as u32,
            talk_seconds_today: (i * 131 % 3600) as u32,
            last_call_end: Some(1_700_000_000_000 + (i as u64 * 7919) % 100_000),
            order: i as u32,
            skill_levels: vec![("it".into(), (i % 5 + 1) as u8)],
            penalty: 0,
            idle_since: 1_700_000_000_000 + (i as u64 * 7919) % 100_000,
        })
        .collect()
}

/// `fewest-calls` as built before 0.2.1: `strategy.select` (records in,
/// ids out), to measure beside today's `ranking.rank` (columns in,
/// positions out) in the same run.
const FEWEST_CALLS_SELECT: &[u8] =
    include_bytes!("../../host/plugins/tests/fixtures/fewest-calls-0.2.0.wasm");

/// `plugin`'s decision over the first `n` of the 200 candidates.
fn strategy(plugin: &str, n: usize) -> (Duration, Duration, Duration) {
    let bytes = switchyard_artifacts::get(plugin).expect("component built");
    strategy_of(plugin, bytes, n)
}

fn strategy_of(plugin: &str, bytes: &[u8], n: usize) -> (Duration, Duration, Duration) {
    let host = PluginHost::new(HostConfig::default()).expect("plugin host");
    let t = host
        .tenant(
            "bench",
            TenantSettings {
                limits: TenantLimits::default(),
                ..TenantSettings::default()
            },
        )
        .expect("tenant");
    t.install(plugin, bytes, switchyard_artifacts::demo_settings(plugin))
        .unwrap_or_else(|e| panic!("installing {plugin}: {e}"));
    let pinned = t.pin(plugin).expect("pinned");
    let queue = QueueInfo {
        name: "q".into(),
        waiting: 1,
        agents_logged_in: AGENTS as u32,
    };
    let call = WaitingCall {
        call: snapshot(),
        skills: vec!["it".into()],
        priority: 0,
        waited_seconds: 12,
        last_agent: None,
        contact: None,
        callback: false,
    };
    let cands: Vec<AgentCandidate> = candidates().into_iter().take(n).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
            // What the queue service does per decision: the candidates as
            // columns (records only for a strategy that takes them) and
            // the plugin's ranking as positions, which the engine takes.
            let start = Instant::now();
            let columns = candidate_columns(cands.iter().map(CandidateRef::from));
            let order = t
                .rank_agents(&pinned, &queue, &call, &columns, || cands.clone())
                .await
                .unwrap_or_else(|e| panic!("{plugin}: {e}"));
            let took = start.elapsed();
            assert_eq!(order.len(), n, "{plugin} ranks every candidate");
            if i >= WARMUP {
                samples.push(took);
            }
        }
        percentiles(samples)
    })
}

fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Memory the engine holds per waiting caller, and one timer pass that
/// announces to all of them.
fn waiting_callers() -> (Option<f64>, Duration) {
    let t0 = Instant::now();
    let mut acd = engine(t0);
    for a in acd.agent_ids().map(str::to_string).collect::<Vec<_>>() {
        acd.pause(&a, "lunch", t0);
    }
    while acd.poll_output().is_some() {}
    let before = rss();
    for i in 0..WAITING {
        let tags = vec![("callback-number".to_string(), format!("+1555{i:07}"))];
        acd.join(&format!("w{i}"), "q", 0, vec![], tags, t0)
            .expect("joins");
    }
    while acd.poll_output().is_some() {}
    let after = rss();
    let per = before
        .zip(after)
        .map(|(b, a)| a.saturating_sub(b) as f64 / WAITING as f64);
    let at = t0 + Duration::from_secs(31);
    let start = Instant::now();
    acd.handle_timeout(at);
    let mut announced = 0;
    while let Some(o) = acd.poll_output() {
        if matches!(o, Output::Announce { .. }) {
            announced += 1;
        }
    }
    let pass = start.elapsed();
    assert_eq!(announced, WAITING, "every waiting caller is announced to");
    (per, pass)
}

/// Runs the ACD benchmark and prints its figures.
/// `acd` runs every part; `acd engine`, `acd strategy` or `acd waiting`
/// one of them (to profile it alone, e.g. under `perf stat`).
pub fn run(args: &[String]) {
    let only = args.first().map(String::as_str);
    let wants = |part: &str| only.is_none_or(|o| o == part);
    println!("Switchyard ACD — agent selection among {AGENTS} candidates");
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "decision", "p50 µs", "p99 µs", "p99.9 µs"
    );
    let row = |what: &str, (p50, p99, p999): (Duration, Duration, Duration)| {
        println!(
            "{:<44} {:>10} {:>10} {:>10}",
            what,
            us(p50),
            us(p99),
            us(p999)
        )
    };
    // Memory first, while the heap has not yet grown for the rest.
    let waiting = wants("waiting").then(waiting_callers);
    if wants("engine") {
        row(
            "engine: join → rank → ring (longest idle)",
            engine_decisions(),
        );
    }
    if wants("strategy") {
        for plugin in ["fewest-calls", "skills"] {
            row(
                &format!("strategy plugin `{plugin}` rank (columns)"),
                strategy(plugin, AGENTS),
            );
        }
        row(
            "  `fewest-calls` 0.2.0 select (records)",
            strategy_of("fewest-calls", FEWEST_CALLS_SELECT, AGENTS),
        );
        // What a decision costs before any candidate: instantiate, the
        // call, the plugin's own config reads.
        row(
            "  the same with no candidates (fixed cost)",
            strategy("fewest-calls", 0),
        );
    }
    let Some((per, pass)) = waiting else {
        return;
    };
    println!();
    match per {
        Some(b) => {
            println!("{WAITING} waiting callers in the engine: {b:.0} bytes each (RSS growth)")
        }
        None => println!("{WAITING} waiting callers: RSS not readable here"),
    }
    println!(
        "one timer pass announcing to all {WAITING}: {} µs ({:.2} µs per caller)",
        us(pass),
        pass.as_secs_f64() * 1e6 / WAITING as f64
    );
}
