//! The data of one invocation's `Store`: the locked-down WASI context and
//! its resource table, the meters (memory, CPU), the invocation's log, and
//! one state per capability the component imports — nothing of the tenant
//! runtime or the registry. Also the linkers that reach those states.

use wasmtime::Engine;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use crate::caps::config::ConfigState;
use crate::caps::contacts::ContactsState;
use crate::caps::directory::DirectoryState;
use crate::caps::http::HttpState;
use crate::caps::kv::KvState;
use crate::caps::log::{LogLevel, LogState};
use crate::caps::mail::MailState;
use crate::caps::stdio::StdioCapture;
use crate::caps::{self, Granted};
use crate::transcript::Tape;
use crate::validate::{Capability, World};

/// Bytes of stdout/stderr a guest may write per invocation; the rest is
/// dropped silently.
pub(crate) const STDIO_CAPTURE_BYTES: usize = 8 << 10;

/// Store data for one invocation.
pub(crate) struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: StdioCapture,
    stderr: StdioCapture,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) cpu: CpuMeter,
    /// Serves `log` and takes the captured stdout/stderr.
    pub(crate) log: LogState,
    pub(crate) kv: Option<KvState>,
    pub(crate) config: Option<ConfigState>,
    pub(crate) directory: Option<DirectoryState>,
    pub(crate) contacts: Option<ContactsState>,
    pub(crate) http: Option<HttpState>,
    pub(crate) mail: Option<MailState>,
    /// Host calls written down for a transcript, or answered from one.
    pub(crate) tape: Tape,
}

impl PluginState {
    /// A state with WASI, the meters and the log, and no capability yet:
    /// the runtime adds those the component imports.
    pub(crate) fn new(
        memory_bytes: usize,
        table_elements: usize,
        cpu_ticks: u64,
        log: LogState,
    ) -> Self {
        let stdout = StdioCapture::new(STDIO_CAPTURE_BYTES);
        let stderr = StdioCapture::new(STDIO_CAPTURE_BYTES);
        // Locked down: no preopened directories, no environment, no
        // arguments, no network (the defaults), stdin empty, stdout/stderr
        // captured.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
            limiter: MemoryLimiter::new(memory_bytes, table_elements),
            cpu: CpuMeter {
                used: 0,
                budget: cpu_ticks,
                exceeded: false,
            },
            log,
            kv: None,
            config: None,
            directory: None,
            contacts: None,
            http: None,
            mail: None,
            tape: Tape::Off,
        }
    }

    /// Readies a kept store for its next invocation: a full CPU budget, no
    /// memory refusal remembered, a fresh log budget. What the instance
    /// holds (WASI context, resource table, capability handles) stays.
    pub(crate) fn renew(&mut self) {
        self.cpu.used = 0;
        self.cpu.exceeded = false;
        self.limiter.denied = false;
        self.log.renew();
        if let Some(mail) = &mut self.mail {
            mail.renew();
        }
    }

    /// Moves what the guest wrote to stdout/stderr into the log.
    pub(crate) fn flush_stdio(&mut self) {
        for (pipe, level) in [
            (&self.stdout, LogLevel::Info),
            (&self.stderr, LogLevel::Warn),
        ] {
            let bytes = pipe.take();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                self.log.record(level, line.to_string());
            }
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        // Linked only for worlds with HTTP, and built for every component
        // that imports it; were it missing, every request is refused.
        self.http
            .get_or_insert_with(HttpState::refusing)
            .view(&mut self.table)
    }
}

/// The linker for plugins of `world`: WASI p2 (locked down by the context)
/// and the capabilities the world allows, no others. `wasi:sockets` is
/// linked by `add_to_linker_async` but unusable: the context allows no
/// network ([`crate::validate`] accepts its import, which CPython's libc
/// carries in every Python component).
pub(crate) fn linker(engine: &Engine, world: World) -> wasmtime::Result<Linker<PluginState>> {
    let allowed = world.capabilities();
    let mut l: Linker<PluginState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    caps::add_type_interfaces_to_linker(&mut l)?;
    if allowed.has(Capability::Log) {
        caps::log::add_to_linker(&mut l, |s| &mut s.log)?;
    }
    if allowed.has(Capability::Kv) {
        caps::kv::add_to_linker(&mut l, |s| Granted::new(s.kv.as_mut(), &mut s.tape))?;
    }
    if allowed.has(Capability::Config) {
        caps::config::add_to_linker(&mut l, |s| Granted::new(s.config.as_mut(), &mut s.tape))?;
    }
    if allowed.has(Capability::Directory) {
        caps::directory::add_to_linker(&mut l, |s| {
            Granted::new(s.directory.as_mut(), &mut s.tape)
        })?;
    }
    if allowed.has(Capability::Contacts) {
        caps::contacts::add_to_linker(&mut l, |s| Granted::new(s.contacts.as_mut(), &mut s.tape))?;
    }
    if allowed.has(Capability::Http) {
        caps::http::add_to_linker(&mut l)?;
    }
    if allowed.has(Capability::Mail) {
        caps::mail::add_to_linker(&mut l, |s| Granted::new(s.mail.as_mut(), &mut s.tape))?;
    }
    Ok(l)
}

/// Guest CPU, counted in epoch ticks.
///
/// How host-call time is kept out of the count: the store's epoch deadline
/// is always "one tick from now" and the epoch callback counts one tick each
/// time it fires. The callback only fires while guest code runs (wasm code
/// checks the epoch; host code doesn't), so a guest blocked for 300 ms in
/// `contacts.lookup` or an HTTP request sees at most one tick counted when
/// it resumes, not 300. The count is thus the number of ticks during which
/// the guest was running, give or take one per host call.
pub(crate) struct CpuMeter {
    pub(crate) used: u64,
    pub(crate) budget: u64,
    pub(crate) exceeded: bool,
}

/// Memory/table limiter that remembers a refusal, so that a guest which
/// aborts after a failed allocation is reported as out of memory.
pub(crate) struct MemoryLimiter {
    memory_bytes: usize,
    table_elements: usize,
    /// Linear memory the instance has now, all its memories together.
    bytes: usize,
    pub(crate) denied: bool,
}

impl MemoryLimiter {
    fn new(memory_bytes: usize, table_elements: usize) -> Self {
        Self {
            memory_bytes,
            table_elements,
            bytes: 0,
            denied: false,
        }
    }

    /// Linear memory the instance has now, bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.denied = true;
            return Ok(false);
        }
        // Called for a memory's creation too (from 0), so this sums them.
        self.bytes += desired.saturating_sub(current);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // Past the pool's own maximum: same outcome for the tenant.
        self.denied = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.denied = true;
            return Ok(false);
        }
        Ok(true)
    }
}
