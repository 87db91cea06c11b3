//! `sip-server`: the Switchyard server with a generated tenant of N
//! extensions, for the registration benchmark in `bench/run`.
//!
//! The demo tenant has three extensions; registering the same three over
//! and over with different Contacts is not what N phones do to the
//! registrar and the store. This starts `switchyard_server::start` with the
//! demo tenant's description where the extensions are `1001 ..= 1000 + N`
//! (so the demo's groups, queues and the router's `_1XXX` rule still
//! resolve), after writing `<data dir>/demo-credentials.txt` with a known
//! password per extension: the server reuses that file when every
//! extension has a line.
//!
//! ```text
//! switchyard-bench sip-server --extensions N --listen ADDR --data-dir DIR
//!     [--http-listen ADDR] [--rtp-ports LOW-HIGH | --no-media]
//! ```
//!
//! It prints `ready <sip addr> <http addr>` once the sockets are bound and
//! runs until it is killed or gets Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

struct Args {
    extensions: usize,
    listen: SocketAddr,
    http_listen: SocketAddr,
    data_dir: PathBuf,
    /// `(0, 0)` turns media anchoring off (SDP passes through).
    rtp_ports: (u16, u16),
}

fn usage() -> ! {
    eprintln!(
        "usage: switchyard-bench sip-server --extensions N --listen ADDR --data-dir DIR \
         [--http-listen ADDR] [--rtp-ports LOW-HIGH | --no-media]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Args {
    let mut out = Args {
        extensions: 0,
        listen: "127.0.0.1:5060".parse().expect("address"),
        http_listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: PathBuf::new(),
        rtp_ports: (30000, 39999),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--no-media" {
            out.rtp_ports = (0, 0);
            continue;
        }
        let Some(value) = it.next() else { usage() };
        match flag.as_str() {
            "--extensions" => out.extensions = value.parse().unwrap_or_else(|_| usage()),
            "--listen" => out.listen = value.parse().unwrap_or_else(|_| usage()),
            "--http-listen" => out.http_listen = value.parse().unwrap_or_else(|_| usage()),
            "--data-dir" => out.data_dir = PathBuf::from(value),
            "--rtp-ports" => {
                let (lo, hi) = value.split_once('-').unwrap_or_else(|| usage());
                out.rtp_ports = (
                    lo.parse().unwrap_or_else(|_| usage()),
                    hi.parse().unwrap_or_else(|_| usage()),
                );
            }
            _ => usage(),
        }
    }
    // The demo's ring groups and queues name 1001-1003.
    if out.extensions < 3 || out.data_dir.as_os_str().is_empty() {
        usage();
    }
    out
}

/// The extension numbers of the generated tenant.
pub fn numbers(n: usize) -> impl Iterator<Item = String> {
    (1001..1001 + n).map(|x| x.to_string())
}

/// A known password per extension (a benchmark's secrets need not be
/// secret; the digest work is the same).
pub fn password(number: &str) -> String {
    format!("bench-{number}")
}

/// The demo tenant description with extensions `1001 ..= 1000 + n`.
pub fn tenant_json(n: usize) -> String {
    let mut tenant: Value =
        serde_json::from_str(switchyard_artifacts::DEMO_TENANT).expect("demo tenant JSON");
    tenant["extensions"] = numbers(n)
        .map(|x| json!({ "number": x, "name": format!("Bench {x}") }))
        .collect();
    tenant.to_string()
}

fn write_credentials(data_dir: &Path, n: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let text: String = numbers(n)
        .map(|x| format!("{x}:{}\n", password(&x)))
        .collect();
    std::fs::write(data_dir.join("demo-credentials.txt"), text)
}

pub fn run(args: &[String]) {
    let args = parse(args);
    if let Err(e) = write_credentials(&args.data_dir, args.extensions) {
        eprintln!("writing the credentials: {e}");
        std::process::exit(1);
    }
    let cfg = switchyard_server::Config {
        data_dir: args.data_dir.clone(),
        sip_listen: args.listen,
        http_listen: args.http_listen,
        rtp_ports: args.rtp_ports,
        tenant_json: Some(tenant_json(args.extensions)),
        ..switchyard_server::Config::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let running = match switchyard_server::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("starting the server: {e:#}");
                std::process::exit(1);
            }
        };
        // The server must have taken our passwords, or the load would
        // measure failed authentications.
        let ours = password("1001");
        if !running
            .demo_credentials
            .iter()
            .any(|(n, p)| n == "1001" && *p == ours)
        {
            eprintln!("the server did not reuse demo-credentials.txt");
            std::process::exit(1);
        }
        println!("ready {} {}", running.sip_udp, running.http);
        let _ = tokio::signal::ctrl_c().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_has_exactly_the_generated_extensions() {
        let t: Value = serde_json::from_str(&tenant_json(5)).expect("json");
        let got: Vec<&str> = t["extensions"]
            .as_array()
            .expect("extensions")
            .iter()
            .map(|e| e["number"].as_str().expect("number"))
            .collect();
        assert_eq!(got, ["1001", "1002", "1003", "1004", "1005"]);
        assert_eq!(t["sip-domains"][0], "demo.localhost");
    }

    #[test]
    fn credentials_file_has_one_line_per_extension() {
        let dir = std::env::temp_dir().join(format!("sy-bench-creds-{}", std::process::id()));
        write_credentials(&dir, 4).expect("write");
        let text = std::fs::read_to_string(dir.join("demo-credentials.txt")).expect("read");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            text,
            "1001:bench-1001\n1002:bench-1002\n1003:bench-1003\n1004:bench-1004\n"
        );
    }
}
