//! The data of one invocation's `Store`: WASI context, HTTP policy, limits
//! and the scope (tenant, plugin, version) every capability works within.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::caps::http::HttpPolicy;
use crate::caps::stdio::StdioCapture;
use crate::registry::PluginVersion;
use crate::tenant::TenantRuntime;

/// Bytes of stdout/stderr a guest may write per invocation; the rest is
/// dropped silently.
pub(crate) const STDIO_CAPTURE_BYTES: usize = 8 << 10;

/// Store data for one invocation.
pub(crate) struct PluginState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http_ctx: WasiHttpCtx,
    pub(crate) http_hooks: HttpPolicy,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) cpu: CpuMeter,
    pub(crate) tenant: TenantRuntime,
    pub(crate) plugin: Arc<PluginVersion>,
    pub(crate) log_lines: u32,
    pub(crate) log_dropped: u32,
    pub(crate) stdout: StdioCapture,
    pub(crate) stderr: StdioCapture,
}

impl PluginState {
    pub(crate) fn new(tenant: TenantRuntime, plugin: Arc<PluginVersion>, cpu_ticks: u64) -> Self {
        let limits = tenant.limits();
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
        let http_hooks =
            HttpPolicy::new(tenant.host().config().http.clone(), tenant.http_allowlist());
        Self {
            wasi,
            table: ResourceTable::new(),
            http_ctx: WasiHttpCtx::new(),
            http_hooks,
            limiter: MemoryLimiter::new(
                limits.memory_bytes,
                tenant.host().config().max_table_elements,
            ),
            cpu: CpuMeter {
                used: 0,
                budget: cpu_ticks,
                exceeded: false,
            },
            tenant,
            plugin,
            log_lines: 0,
            log_dropped: 0,
            stdout,
            stderr,
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
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
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
    pub(crate) denied: bool,
}

impl MemoryLimiter {
    fn new(memory_bytes: usize, table_elements: usize) -> Self {
        Self {
            memory_bytes,
            table_elements,
            denied: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.denied = true;
            return Ok(false);
        }
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
