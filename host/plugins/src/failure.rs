//! Typed outcomes of a failed plugin invocation.

/// Why a plugin invocation produced no usable answer. The caller falls back
/// to the tenant's safe default (see [`crate::fallback_decision`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    /// The guest trapped (unreachable, panic, out-of-bounds…).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The guest used more CPU than the tenant's budget.
    #[error("plugin exceeded its CPU budget")]
    CpuBudgetExceeded,
    /// The invocation took longer than the tenant's wall-clock limit.
    #[error("plugin timed out")]
    Timeout,
    /// The guest asked for more memory than the tenant's limit.
    #[error("plugin ran out of memory")]
    OutOfMemory,
    /// The guest answered, but its answer breaks a limit or rule.
    #[error("plugin output refused: {0}")]
    InvalidOutput(String),
    /// The guest answered with an error of its own (`err(..)` in WIT).
    #[error("plugin returned an error: {0}")]
    PluginError(String),
    /// Too many invocations of this tenant (or of the host) at once.
    #[error("too many plugin invocations at once")]
    Overloaded,
    /// No plugin (or no active version) for that name / role.
    #[error("no such plugin installed: {0}")]
    NotInstalled(String),
    /// The plugin's world does not fit the requested role.
    #[error("plugin {name} is a {world} plugin, not a {wanted}")]
    WrongWorld {
        /// Plugin name.
        name: String,
        /// Its world.
        world: crate::validate::World,
        /// The world the role needs.
        wanted: crate::validate::World,
    },
    /// The host failed (not the plugin's fault).
    #[error("host error: {0}")]
    Host(String),
}
