//! `log`: bounded plugin logging, tagged with tenant and plugin, sent to
//! `tracing` and kept in the tenant's recent-log ring.

use crate::bindings::switchyard::plugin::log::{Host, Level};
use crate::state::PluginState;

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

impl PluginState {
    /// Records one line within the per-invocation budget.
    pub(crate) fn record_log(&mut self, level: LogLevel, message: String) {
        let limits = self.tenant.limits();
        if self.log_lines >= limits.log_lines_per_invocation {
            self.log_dropped += 1;
            return;
        }
        self.log_lines += 1;
        let message = truncate(message, limits.log_line_bytes);
        let (tenant, plugin, version) = (self.tenant.id(), &self.plugin.name, self.plugin.number);
        match level {
            LogLevel::Trace => tracing::trace!(tenant, plugin, version, "{message}"),
            LogLevel::Debug => tracing::debug!(tenant, plugin, version, "{message}"),
            LogLevel::Info => tracing::info!(tenant, plugin, version, "{message}"),
            LogLevel::Warn => tracing::warn!(tenant, plugin, version, "{message}"),
            LogLevel::Error => tracing::error!(tenant, plugin, version, "{message}"),
        }
        self.tenant.push_log(LogLine {
            plugin: self.plugin.name.clone(),
            version,
            level,
            message,
        });
    }

    /// Moves what the guest wrote to stdout/stderr into the log.
    pub(crate) fn flush_stdio(&mut self) {
        for (pipe, level) in [
            (self.stdout.clone(), LogLevel::Info),
            (self.stderr.clone(), LogLevel::Warn),
        ] {
            let bytes = pipe.take();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                self.record_log(level, line.to_string());
            }
        }
    }
}

impl Host for PluginState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.record_log(level.into(), message);
        Ok(())
    }
}
