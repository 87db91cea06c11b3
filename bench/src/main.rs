//! Switchyard benchmarks.
//!
//! `cargo run --release -p switchyard-bench -- plugins [--only TEXT]`
//! measures the plugin runtime: latency of one flow decision in a
//! never-used instance as p50/p99/p99.9 — paced (decisions apart, the
//! instance made ahead by the spare thread, or made and dropped on the
//! decision's path) and back to back — throughput on 1 and 2 runtime
//! threads, and resident memory per concurrently live instance.
//!
//! `cargo run --release -p switchyard-bench -- sip-server --extensions N
//! --listen ADDR --data-dir DIR` runs the server with a generated tenant of
//! N extensions with known passwords, for the registration load in
//! `bench/run` (see `sip_server`); `sip-ping ADDR` waits until a server
//! answers OPTIONS (start-up time).
//!
//! `rtp-load --mode switchyard|rtpengine|direct`: the media relay
//! benchmark — concurrent G.711 calls with RTP both ways through the
//! system under test, loss, jitter and CPU per relayed call (see
//! `rtp_load`).
//!
//! `queue-wait --switchyard PATH`: callers waiting in a queue that never
//! serves, with music — CPU and memory of the server per waiting caller
//! (see `queue_wait`).
//!
//! `conference --switchyard PATH`: conference participants in rooms of 3,
//! 10 and 50, everybody talking and one talker a room — CPU of the server
//! per participant (see `conference`).
//!
//! `polyglot`: Python and JavaScript plugins beside the Rust ones that do
//! the same job — size, compile, upload to first decision, decision
//! p50/p99, linear memory needed (see `polyglot`).
//!
//! `webrtc [--calls N] [--seconds S]`: browser calls — host CPU per
//! Opus ↔ PCMU call over DTLS-SRTP (calls per core), per DTLS handshake,
//! and the WSS registration rate (see `webrtc`).

mod acd;
mod conference;
mod plugins;
mod polyglot;
mod queue_wait;
mod rtp_load;
mod serve;
mod sip_ping;
mod sip_server;
mod webrtc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("plugins", String::as_str);
    match what {
        "plugins" => plugins::run(),
        "polyglot" => polyglot::run(),
        "acd" => acd::run(&args[1..]),
        "sip-server" => sip_server::run(&args[1..]),
        "sip-ping" => sip_ping::run(&args[1..]),
        "rtp-load" => rtp_load::run(&args[1..]),
        "queue-wait" => queue_wait::run(&args[1..]),
        "conference" => conference::run(&args[1..]),
        "webrtc" => webrtc::run(&args[1..]),
        other => {
            eprintln!(
                "unknown benchmark {other:?}; available: plugins, acd, sip-server, sip-ping, rtp-load, queue-wait, conference, webrtc"
            );
            std::process::exit(2);
        }
    }
}
