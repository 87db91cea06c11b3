//! `log`: bounded plugin logging, tagged with tenant and plugin, sent to
//! `tracing` and kept in the tenant's recent-log ring.
//!
//! Every invocation has a [`LogState`], whether or not it imports `log`:
//! what the guest writes to stdout/stderr goes the same way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::switchyard::plugin::log::{self, Host, Level};
use crate::limits::TenantLimits;

/// Recent log lines kept per tenant.
const LOG_RING: usize = 1000;

/// One line a plugin logged (or wrote to stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: u32,
    /// Severity (`stdout` / `stderr` lines are `info` / `warn`).
    pub level: LogLevel,
    /// The text, cut to the tenant's line limit.
    pub message: String,
}

/// Severity of a [`LogLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

impl From<Level> for LogLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A tenant's most recent plugin log lines, shared by its runtime and its
/// invocations. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct LogRing(Arc<Mutex<VecDeque<LogLine>>>);

impl LogRing {
    fn push(&self, line: LogLine) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == LOG_RING {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines, oldest first.
    pub(crate) fn lines(&self) -> Vec<LogLine> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect()
    }
}

/// One invocation's log: who is logging, its budget, and the tenant's ring.
pub(crate) struct LogState {
    tenant: Arc<str>,
    plugin: String,
    version: u32,
    line_bytes: usize,
    max_lines: u32,
    lines: u32,
    dropped: u32,
    ring: LogRing,
}

impl LogState {
    pub(crate) fn new(
        tenant: Arc<str>,
        plugin: String,
        version: u32,
        limits: &TenantLimits,
        ring: LogRing,
    ) -> Self {
        Self {
            tenant,
            plugin,
            version,
            line_bytes: limits.log_line_bytes,
            max_lines: limits.log_lines_per_invocation,
            lines: 0,
            dropped: 0,
            ring,
        }
    }

    /// A new invocation on a kept instance: its own budget of lines.
    pub(crate) fn renew(&mut self) {
        self.lines = 0;
        self.dropped = 0;
    }

    /// Records one line within the per-invocation budget.
    pub(crate) fn record(&mut self, level: LogLevel, message: String) {
        if self.lines >= self.max_lines {
            self.dropped += 1;
            return;
        }
        self.lines += 1;
        let message = truncate(message, self.line_bytes);
        let (tenant, plugin, version) = (&*self.tenant, &self.plugin, self.version);
        match level {
            LogLevel::Trace => tracing::trace!(tenant, plugin, version, "{message}"),
            LogLevel::Debug => tracing::debug!(tenant, plugin, version, "{message}"),
            LogLevel::Info => tracing::info!(tenant, plugin, version, "{message}"),
            LogLevel::Warn => tracing::warn!(tenant, plugin, version, "{message}"),
            LogLevel::Error => tracing::error!(tenant, plugin, version, "{message}"),
        }
        self.ring.push(LogLine {
            plugin: self.plugin.clone(),
            version,
            level,
            message,
        });
    }
}

impl Host for LogState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.record(level.into(), message);
        Ok(())
    }
}

/// Links `log` (0.2.0 and 0.1.0) to the state `get` finds in the store data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> &mut LogState,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, HasSelf<LogState>>(l, get)?;
    super::v0_1::add_log(l, get)
}
