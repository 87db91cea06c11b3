//! The `sipp` command line and the child process.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::outcome::Outcome;
use crate::ports;

/// How long a run may last unless [`Sipp::timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// sipp gets this long past its own `-timeout` before Rust kills it: with
/// `-timeout_error` sipp stops by itself, this is for a sipp that hangs.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long [`Sipp::spawn`] waits for sipp to bind its SIP port.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

/// SIP transport of a run: sipp's `-t u1` or `-t t1` (one socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
}

impl Transport {
    fn flag(self) -> &'static str {
        match self {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        }
    }
}

/// A sipp run to start: scenario, peers and options (a builder).
///
/// Defaults: bound to 127.0.0.1 on a free port ([`Sipp::port`]), UDP,
/// one call (`-m 1`), 30 s timeout, media sockets on a free port pair.
#[derive(Debug, Clone)]
pub struct Sipp {
    scenario: String,
    remote: Option<SocketAddr>,
    port: u16,
    media_port: u16,
    transport: Transport,
    user: Option<String>,
    auth: Option<(String, String)>,
    vars: Vec<(String, String)>,
    calls: u64,
    rate: Option<f64>,
    limit: Option<u64>,
    timeout: Duration,
    extra: Vec<OsString>,
}

impl Sipp {
    /// A run of `tests/sipp/scenarios/<scenario>.xml` (see [`crate::scenario`]).
    pub fn new(scenario: &str) -> Sipp {
        crate::scenario(scenario);
        Sipp {
            scenario: scenario.to_owned(),
            remote: None,
            port: ports::free_sip_port(),
            media_port: ports::free_media_port(),
            transport: Transport::Udp,
            user: None,
            auth: None,
            vars: Vec::new(),
            calls: 1,
            rate: None,
            limit: None,
            timeout: DEFAULT_TIMEOUT,
            extra: Vec::new(),
        }
    }

    /// The peer a UAC sends to (sipp's `remote_host[:remote_port]`). A UAS
    /// needs none.
    pub fn remote(mut self, addr: SocketAddr) -> Sipp {
        self.remote = Some(addr);
        self
    }

    /// Local SIP port (`-p`). `0` picks a free one, which is also what
    /// [`Sipp::new`] does; read it back with [`Sipp::port`].
    pub fn local_port(mut self, port: u16) -> Sipp {
        self.port = if port == 0 {
            ports::free_sip_port()
        } else {
            port
        };
        self
    }

    /// The local SIP port this run binds: where a UAS run can be reached.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Local RTP port for the SDP (`-mp`; sipp binds it and the port two
    /// above). A free pair is picked by default.
    pub fn media_port(mut self, port: u16) -> Sipp {
        self.media_port = port;
        self
    }

    /// SIP transport (`-t u1` / `-t t1`).
    pub fn transport(mut self, transport: Transport) -> Sipp {
        self.transport = transport;
        self
    }

    /// `-s`: the `[service]` keyword: the dialled number in the `uac_*`
    /// scenarios, the extension in `register*`.
    pub fn user(mut self, user: &str) -> Sipp {
        self.user = Some(user.to_owned());
        self
    }

    /// `-au` / `-ap`: credentials sipp answers a 401/407 challenge with
    /// (the `[authentication]` keyword).
    pub fn auth(mut self, user: &str, password: &str) -> Sipp {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// `-set var value`: a scenario variable (`[$var]`). Each scenario lists
    /// its variables and defaults in its header comment; sipp refuses to
    /// start when the scenario declares no such variable.
    pub fn set(mut self, var: &str, value: &str) -> Sipp {
        self.vars.push((var.to_owned(), value.to_owned()));
        self
    }

    /// `-key name value`: a keyword (`[name]`), for the places sipp reads
    /// when it loads the scenario and where variables are not expanded,
    /// such as `play_pcap_audio`'s file.
    pub fn key(self, name: &str, value: &str) -> Sipp {
        self.arg("-key").arg(name).arg(value)
    }

    /// `-m`: stop after this many calls (default 1). A UAS run ends when it
    /// has handled them.
    pub fn calls(mut self, calls: u64) -> Sipp {
        self.calls = calls;
        self
    }

    /// `-r`: new calls per second (sipp's default is 10).
    pub fn rate(mut self, calls_per_second: f64) -> Sipp {
        self.rate = Some(calls_per_second);
        self
    }

    /// `-l`: at most this many calls at the same time.
    pub fn limit(mut self, calls: u64) -> Sipp {
        self.limit = Some(calls);
        self
    }

    /// Upper bound of the run (default 30 s): sipp's `-timeout` with
    /// `-timeout_error` (sipp exits with an error), and a kill from Rust
    /// a few seconds later if sipp is still there.
    pub fn timeout(mut self, timeout: Duration) -> Sipp {
        self.timeout = timeout;
        self
    }

    /// Any other sipp argument, appended as is (e.g. `-auth_uri`, `-aa`).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Sipp {
        self.extra.push(arg.into());
        self
    }

    /// The digest `uri` for `-auth_uri` (sipp prefixes `sip:`): what the
    /// scenario's Request-URI is — `sip:[$domain]` for a REGISTER,
    /// `sip:[service]@[$domain]` for the calls.
    fn auth_uri(&self) -> String {
        let domain = self
            .vars
            .iter()
            .rev()
            .find(|(k, _)| k == "domain")
            .map_or("demo.localhost", |(_, v)| v.as_str());
        let registers = self.scenario.starts_with("register") || self.scenario == "unregister";
        match (&self.user, registers) {
            (Some(user), false) => format!("{user}@{domain}"),
            _ => domain.to_string(),
        }
    }

    /// The arguments passed to sipp, with its trace files in `dir`.
    pub fn args(&self, dir: &Path) -> Vec<OsString> {
        let mut args = Args::default();
        if let Some(remote) = self.remote {
            args.push(remote.to_string());
        }
        args.push("-sf").push(crate::scenario(&self.scenario));
        args.push("-i").push("127.0.0.1").push("-bind_local");
        args.push("-mi").push("127.0.0.1");
        args.push("-p").push(self.port.to_string());
        args.push("-mp").push(self.media_port.to_string());
        // Keep the remote-control socket off the other interfaces.
        args.push("-ci").push("127.0.0.1");
        args.push("-t").push(self.transport.flag());
        if let Some(user) = &self.user {
            args.push("-s").push(user);
        }
        if let Some((user, password)) = &self.auth {
            args.push("-au").push(user).push("-ap").push(password);
            // sipp puts `sip:remote_ip:remote_port` in the digest `uri`
            // unless told; a server that checks it against the
            // Request-URI (RFC 3261 §22.4, as Switchyard does) would refuse
            // that, so give it the Request-URI the scenario sends.
            if !self.extra.iter().any(|a| a == "-auth_uri") {
                args.push("-auth_uri").push(self.auth_uri());
            }
        }
        for (var, value) in &self.vars {
            args.push("-set").push(var).push(value);
        }
        args.push("-m").push(self.calls.to_string());
        if let Some(rate) = self.rate {
            args.push("-r").push(rate.to_string());
        }
        if let Some(limit) = self.limit {
            args.push("-l").push(limit.to_string());
        }
        let timeout_ms = self.timeout.as_millis().max(1);
        args.push("-timeout").push(format!("{timeout_ms}ms"));
        args.push("-timeout_error").push("-nostdin");
        for (trace, file_flag, file) in [
            ("-trace_err", "-error_file", "errors.log"),
            ("-trace_screen", "-screen_file", "screen.log"),
            ("-trace_stat", "-stf", "stat.csv"),
            ("-trace_msg", "-message_file", "messages.log"),
            ("-trace_logs", "-log_file", "logs.log"),
        ] {
            args.push(trace).push(file_flag).push(dir.join(file));
        }
        for extra in &self.extra {
            args.push(extra);
        }
        args.0
    }

    /// Starts sipp and returns once it listens on its SIP port, so a UAS is
    /// ready before its UAC starts. Panics when `sipp` is not installed.
    pub fn spawn(self) -> Running {
        let dir = run_dir(&self.scenario);
        let args = self.args(&dir);
        let stdout = std::fs::File::create(dir.join("stdout.log")).expect("creating stdout.log");
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("creating stderr.log");
        let child = Command::new("sipp")
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    panic!(
                        "`sipp` is not on PATH: the SIP end-to-end tests need SIPp. \
                         `scripts/test` installs it (Debian package sip-tester: \
                         `apt-get install sip-tester`)."
                    )
                }
                panic!("starting sipp: {e}")
            });
        let command = std::iter::once(OsString::from("sipp"))
            .chain(args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut running = Running {
            child: Some(child),
            dir,
            command,
            port: self.port,
            deadline: Instant::now() + self.timeout + KILL_GRACE,
        };
        running.wait_until_bound(self.transport == Transport::Tcp);
        running
    }

    /// Runs sipp to the end: [`Sipp::spawn`] then [`Running::wait`].
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }
}

/// An argument list built by chained pushes.
#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push(&mut self, arg: impl AsRef<OsStr>) -> &mut Args {
        self.0.push(arg.as_ref().to_owned());
        self
    }
}

/// A fresh directory for one run's trace files.
fn run_dir(scenario: &str) -> PathBuf {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "switchyard-sipp-{}-{n}-{scenario}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("creating run directory {}: {e}", dir.display()));
    dir
}

/// A sipp child process. Killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Running {
    child: Option<Child>,
    dir: PathBuf,
    command: String,
    port: u16,
    deadline: Instant,
}

impl Running {
    /// The local SIP port sipp listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sipp process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether sipp is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Waits for sipp to exit (killing it past its timeout) and collects
    /// its results.
    pub fn wait(mut self) -> Outcome {
        let mut child = self.child.take().expect("sipp child present until wait");
        let mut killed = false;
        let status = loop {
            match child.try_wait().expect("polling sipp") {
                Some(status) => break status,
                None if Instant::now() >= self.deadline => {
                    let _ = child.kill();
                    killed = true;
                    break child.wait().expect("reaping killed sipp");
                }
                None => std::thread::sleep(POLL),
            }
        };
        let outcome = Outcome::collect(&self.dir, self.command.clone(), status, killed);
        remove_run_dir(&self.dir);
        outcome
    }

    /// Polls the kernel's socket table until sipp has bound its SIP port,
    /// sipp exits (its outcome will say why), or [`READY_TIMEOUT`] passes.
    fn wait_until_bound(&mut self, tcp: bool) {
        let until = Instant::now() + READY_TIMEOUT;
        while Instant::now() < until {
            let child = self.child.as_mut().expect("sipp child present");
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            match ports::is_bound(self.port, tcp) {
                Some(true) => return,
                Some(false) => std::thread::sleep(POLL),
                None => {
                    // No socket tables to read: give sipp a moment instead.
                    std::thread::sleep(Duration::from_millis(300));
                    return;
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            remove_run_dir(&self.dir);
        }
    }
}

/// Trace files are read into the [`Outcome`]; the directory is kept only
/// when `SWITCHYARD_SIPP_KEEP` is set (to look at a run by hand).
fn remove_run_dir(dir: &Path) {
    if std::env::var_os("SWITCHYARD_SIPP_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(sipp: &Sipp) -> Vec<String> {
        sipp.args(Path::new("/tmp/run"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    fn has_pair(args: &[String], flag: &str, value: &str) -> bool {
        args.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn uac_command_line() {
        let sipp = Sipp::new("uac_call")
            .remote("127.0.0.1:5070".parse().unwrap())
            .local_port(40000)
            .transport(Transport::Tcp)
            .user("2000")
            .auth("1001", "secret")
            .set("domain", "demo.localhost")
            .calls(5)
            .rate(2.5)
            .limit(3)
            .timeout(Duration::from_millis(1500))
            .arg("-aa");
        let args = args_of(&sipp);
        assert_eq!(args[0], "127.0.0.1:5070");
        assert!(args[2].ends_with("scenarios/uac_call.xml"));
        for (flag, value) in [
            ("-i", "127.0.0.1"),
            ("-p", "40000"),
            ("-t", "t1"),
            ("-s", "2000"),
            ("-au", "1001"),
            ("-ap", "secret"),
            ("-m", "5"),
            ("-r", "2.5"),
            ("-l", "3"),
            ("-timeout", "1500ms"),
            ("-error_file", "/tmp/run/errors.log"),
            ("-stf", "/tmp/run/stat.csv"),
            ("-screen_file", "/tmp/run/screen.log"),
        ] {
            assert!(has_pair(&args, flag, value), "{flag} {value} in {args:?}");
        }
        assert!(
            args.windows(3)
                .any(|w| w == ["-set", "domain", "demo.localhost"])
        );
        for flag in [
            "-nostdin",
            "-timeout_error",
            "-trace_err",
            "-trace_screen",
            "-trace_stat",
            "-bind_local",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
        }
        assert_eq!(args.last().unwrap(), "-aa");
    }

    #[test]
    fn uas_defaults() {
        let sipp = Sipp::new("uas_answer");
        let args = args_of(&sipp);
        assert_eq!(args[0], "-sf", "no remote host for a UAS");
        assert!(has_pair(&args, "-p", &sipp.port().to_string()));
        assert!(has_pair(&args, "-t", "u1"));
        assert!(has_pair(&args, "-m", "1"));
        assert!(has_pair(&args, "-timeout", "30000ms"));
        assert!(!args.iter().any(|a| a == "-s" || a == "-au" || a == "-r"));
        assert_ne!(sipp.port(), 0);
    }

    #[test]
    fn port_zero_picks_a_free_port() {
        let sipp = Sipp::new("uas_answer").local_port(0);
        assert_ne!(sipp.port(), 0);
    }

    #[test]
    #[should_panic(expected = "no SIPp scenario named")]
    fn unknown_scenario_panics() {
        let _ = Sipp::new("no_such_scenario");
    }
}
