//! Switchyard benchmarks.
//!
//! `cargo run --release -p switchyard-bench -- plugins` measures the plugin
//! runtime: latency of one flow invocation (fresh store, instantiate from
//! the `InstancePre`, `handle`, drop) as p50/p99/p99.9, throughput on 1 and
//! 2 runtime threads, and resident memory per concurrently live instance.

mod plugins;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "plugins".into());
    match what.as_str() {
        "plugins" => plugins::run(),
        other => {
            eprintln!("unknown benchmark {other:?}; available: plugins");
            std::process::exit(2);
        }
    }
}
