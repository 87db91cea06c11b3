//! The real `switchyard serve` as a benchmark's system under test: a
//! tenant description provisioned, its extensions' passwords known
//! (`bench-EXT`), the API reachable; killed when dropped. Shared by the
//! benchmarks that call it (`queue-wait`, `conference`).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One HTTP/1.1 request to the API on loopback (no client library for a
/// few calls at start-up): the status and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {out:?}"))?;
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// The flags `queue-wait` and `conference` share: the server to run, how
/// the steps are paced, the phones' and the server's port ranges, the CSV.
pub struct RunArgs {
    pub switchyard: std::path::PathBuf,
    pub step_secs: f64,
    pub setup_rate: f64,
    pub settle_secs: f64,
    pub ports: (u16, u16),
    pub rtp_ports: (u16, u16),
    pub csv: Option<String>,
}

impl RunArgs {
    /// The defaults, with `settle_secs` of settling after each step.
    pub fn new(settle_secs: f64) -> RunArgs {
        RunArgs {
            switchyard: std::path::PathBuf::new(),
            step_secs: 20.0,
            setup_rate: 100.0,
            settle_secs,
            ports: (20000, 29999),
            rtp_ports: (30000, 39999),
            csv: None,
        }
    }

    /// Takes `flag` with value `v` when it is one of these: `Ok(true)`
    /// taken, `Ok(false)` not one of these, `Err(())` a value that does not
    /// parse.
    pub fn take(&mut self, flag: &str, v: &str) -> Result<bool, ()> {
        let num = |v: &str| v.parse::<f64>().map_err(drop);
        match flag {
            "--switchyard" => self.switchyard = v.into(),
            "--step-secs" => self.step_secs = num(v)?,
            "--setup-rate" => self.setup_rate = num(v)?,
            "--settle-secs" => self.settle_secs = num(v)?,
            "--ports" => self.ports = port_range(v).ok_or(())?,
            "--rtp-ports" => self.rtp_ports = port_range(v).ok_or(())?,
            "--csv" => self.csv = Some(v.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `LOW-HIGH` as a port range.
pub fn port_range(v: &str) -> Option<(u16, u16)> {
    let (lo, hi) = v.split_once('-')?;
    Some((lo.parse().ok()?, hi.parse().ok()?))
}

/// Resident memory of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The server we started; killed when dropped.
pub struct Server {
    pub child: Child,
    dir: PathBuf,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Start `switchyard` serving `tenant` (JSON) with RTP on `rtp_ports`;
/// every extension in it gets the password `bench-EXT`. `name` names its
/// data directory.
pub fn start(
    switchyard: &Path,
    name: &str,
    tenant: &Value,
    rtp_ports: (u16, u16),
) -> Result<Server, String> {
    let dir = std::env::temp_dir().join(format!("sy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let creds: String = tenant["extensions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["number"].as_str())
        .map(|x| format!("{x}:bench-{x}\n"))
        .collect();
    std::fs::write(dir.join("demo-credentials.txt"), creds).map_err(|e| e.to_string())?;
    let path = dir.join("tenant.json");
    std::fs::write(&path, tenant.to_string()).map_err(|e| e.to_string())?;
    let sip: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let http_addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let log = std::fs::File::create(dir.join("switchyard.log")).map_err(|e| e.to_string())?;
    let child = Command::new(switchyard)
        .arg("serve")
        .arg("--data-dir")
        .arg(&dir)
        .args(["--sip-listen", &sip.to_string()])
        .args(["--http-listen", &http_addr.to_string()])
        .args(["--sip-tls-listen", "off", "--https-listen", "off"])
        .arg("--provision")
        .arg(&path)
        .args(["--rtp-ports", &format!("{}-{}", rtp_ports.0, rtp_ports.1)])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", switchyard.display()))?;
    let mut server = Server {
        child,
        dir: dir.clone(),
        sip,
        http: http_addr,
        token: String::new(),
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if let Ok(t) = std::fs::read_to_string(dir.join("operator-token"))
            && TcpStream::connect(http_addr).is_ok()
        {
            server.token = t.trim().to_string();
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "switchyard exited ({status}); see {}",
                dir.join("switchyard.log").display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("switchyard did not start within 60 s".into())
}

/// `want` calls at `rate` a second, the `k`th to `target(k)` = (callee,
/// silent); those that came up and the number that failed (the first
/// reasons printed).
pub async fn place_calls(
    ua: &std::sync::Arc<crate::rtp_load::sip_ua::SipUa>,
    generator: &std::sync::Arc<crate::rtp_load::streams::Generator>,
    want: usize,
    rate: f64,
    target: impl Fn(usize) -> (String, bool),
) -> (Vec<crate::rtp_load::sip_ua::SipCall>, usize) {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(want);
    for k in 0..want {
        tokio::time::sleep_until((start + Duration::from_secs_f64(k as f64 / rate)).into()).await;
        let (ua, g) = (ua.clone(), generator.clone());
        let (callee, silent) = target(k);
        tasks.push(tokio::spawn(async move {
            ua.call_to(&g, &callee, silent).await
        }));
    }
    let mut up = Vec::with_capacity(want);
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => up.push(c),
            Ok(Err(e)) => {
                if failed < 3 {
                    eprintln!("   call failed: {e}");
                }
                failed += 1;
            }
            Err(e) => {
                eprintln!("   call task: {e}");
                failed += 1;
            }
        }
    }
    (up, failed)
}
