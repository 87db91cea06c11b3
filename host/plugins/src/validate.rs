//! What an uploaded component may be: its world (from what it exports), the
//! imports that world allows, the capabilities it imports, and why an
//! upload is refused ([`LoadError`]).

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;

/// Why an upload was refused. Every message says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// A core module (needs to be turned into a component first).
    #[error(
        "this is a core WebAssembly module, not a component (build for wasm32-wasip2 or run `wasm-tools component new`)"
    )]
    CoreModule,
    /// Larger than the host accepts.
    #[error("component is {size} bytes, larger than the {max} bytes allowed")]
    TooLarge {
        /// Upload size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// Exports none of the Switchyard world interfaces.
    #[error(
        "component exports no Switchyard plugin interface (switchyard:plugin/flow, strategy, ranking, crm or reporting @0.2.x or @0.1.x); it exports: {exports}"
    )]
    UnknownWorld {
        /// What it exports instead.
        exports: String,
    },
    /// Exports the interfaces of several worlds.
    #[error("component exports the interfaces of several worlds ({worlds}); a plugin targets one")]
    SeveralWorlds {
        /// The worlds found.
        worlds: String,
    },
    /// Imports `switchyard:plugin` interfaces of another version than the
    /// one it exports.
    #[error(
        "component exports switchyard:plugin@{exports} but imports {import}; build it against one version"
    )]
    MixedVersions {
        /// The version of its export.
        exports: InterfaceVersion,
        /// The import of another version.
        import: String,
    },
    /// Imports something its world may not use.
    #[error("a {world} plugin may not import {import} ({why})")]
    ForbiddenImport {
        /// The component's world.
        world: World,
        /// The refused import.
        import: String,
        /// Why.
        why: String,
    },
    /// wasmtime refused to compile it.
    #[error("component failed to compile: {0}")]
    Compile(String),
    /// Its linear memory starts larger than the tenant's plugins may have,
    /// so no instance of it could ever start.
    #[error(
        "component needs {} of linear memory to start (its memories' initial size), more than the {} a plugin instance of this tenant may have; raise the tenant's plugin memory (plugin-memory-mib) to at least {} MiB or make the component smaller",
        mib(*needed), mib(*allowed), needed.div_ceil(1 << 20)
    )]
    NeedsMoreMemory {
        /// Initial linear memory of the component, bytes.
        needed: u64,
        /// What the tenant allows per instance, bytes.
        allowed: u64,
    },
}

/// `Ok` when a component whose linear memory starts at `needed` bytes
/// ([`initial_memory_bytes`]) can start within `memory_bytes` (a tenant's
/// [`crate::TenantLimits::memory_bytes`]); a
/// [`LoadError::NeedsMoreMemory`] naming both sizes when not.
pub fn check_memory_fits(needed: u64, memory_bytes: usize) -> Result<(), LoadError> {
    let allowed = memory_bytes as u64;
    if needed > allowed {
        return Err(LoadError::NeedsMoreMemory { needed, allowed });
    }
    Ok(())
}

/// `bytes` as MiB for messages: `12.5 MiB (13107200 bytes)`.
fn mib(bytes: u64) -> String {
    let m = bytes as f64 / f64::from(1 << 20);
    let m = format!("{m:.1}");
    format!("{} MiB ({bytes} bytes)", m.strip_suffix(".0").unwrap_or(&m))
}

/// The linear memory a component has before it runs: the initial sizes of
/// the memories its core modules define, summed (each is instantiated
/// once, as the toolchains lay components out; imported memories are
/// someone else's). A component whose sum exceeds an instance's memory
/// limit can never start. Read with wasmparser (the version wasmtime
/// uses), through nested modules and components; `Component::new` has
/// validated the bytes already, and anything unreadable counts as nothing.
pub fn initial_memory_bytes(bytes: &[u8]) -> u64 {
    let mut total = 0u64;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(wasmparser::Payload::MemorySection(memories)) = payload else {
            continue;
        };
        for memory in memories.into_iter().flatten() {
            let page = 1u64 << memory.page_size_log2.unwrap_or(16).min(16);
            total = total.saturating_add(memory.initial.saturating_mul(page));
        }
    }
    total
}

/// The Switchyard world a component targets, detected from its export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// Exports `switchyard:plugin/flow`.
    CallFlow,
    /// Exports `switchyard:plugin/strategy`, or `ranking` (the same role with
    /// the candidates as columns; world `queue-ranker`, 0.2.1).
    QueueStrategy,
    /// Exports `switchyard:plugin/crm`.
    CrmConnector,
    /// Exports `switchyard:plugin/reporting`; may export `account-events`
    /// besides (world `billing-reporter`, 0.2.2), which is the same role.
    Reporter,
}

impl World {
    /// The world's name in the WIT package.
    pub fn name(self) -> &'static str {
        match self {
            World::CallFlow => "call-flow",
            World::QueueStrategy => "queue-strategy",
            World::CrmConnector => "crm-connector",
            World::Reporter => "reporter",
        }
    }

    /// The interface of `switchyard:plugin` this world exports.
    pub fn export_interface(self) -> &'static str {
        match self {
            World::CallFlow => "flow",
            World::QueueStrategy => "strategy",
            World::CrmConnector => "crm",
            World::Reporter => "reporting",
        }
    }

    fn from_export_interface(iface: &str) -> Option<World> {
        Some(match iface {
            "flow" => World::CallFlow,
            // The same role, candidates as columns (0.2.1).
            "strategy" | "ranking" => World::QueueStrategy,
            "crm" => World::CrmConnector,
            "reporting" => World::Reporter,
            // `account-events` names no world of its own: it is exported
            // only beside `reporting` (world `billing-reporter`), so alone
            // it is no plugin, and with `reporting` the world is a reporter.
            _ => return None,
        })
    }

    /// Whether the world may make outbound HTTP requests.
    pub fn allows_http(self) -> bool {
        self.capabilities().has(Capability::Http)
    }

    /// The host capabilities the world may import.
    pub(crate) fn capabilities(self) -> Capabilities {
        let common = Capabilities::NONE
            .with(Capability::Log)
            .with(Capability::Kv)
            .with(Capability::Config);
        match self {
            World::CallFlow => common
                .with(Capability::Directory)
                .with(Capability::Contacts),
            World::QueueStrategy => common,
            World::CrmConnector => common.with(Capability::Http),
            World::Reporter => common.with(Capability::Http).with(Capability::Mail),
        }
    }
}

/// A host capability: an interface with host state behind it (the
/// type-only interfaces and the locked-down WASI basics are not ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capability {
    /// `switchyard:plugin/log`.
    Log,
    /// `switchyard:plugin/kv`.
    Kv,
    /// `switchyard:plugin/config`.
    Config,
    /// `switchyard:plugin/directory`.
    Directory,
    /// `switchyard:plugin/contacts`.
    Contacts,
    /// `wasi:http/outgoing-handler` and the `wasi:http/types` it needs.
    Http,
    /// `switchyard:plugin/mail` (0.2.2).
    Mail,
}

impl Capability {
    /// The capability behind an interface of `switchyard:plugin`; `None`
    /// for the type-only interfaces (and unknown ones).
    fn of_switchyard_interface(iface: &str) -> Option<Capability> {
        Some(match iface {
            "log" => Capability::Log,
            "kv" => Capability::Kv,
            "config" => Capability::Config,
            "directory" => Capability::Directory,
            "contacts" => Capability::Contacts,
            "mail" => Capability::Mail,
            _ => return None,
        })
    }
}

/// Type-only interfaces of `switchyard:plugin`: every world may import them.
const TYPE_INTERFACES: &[&str] = &[
    "types",
    "flow-types",
    "queue-types",
    "ranking-types",
    "account-types",
];

/// A set of [`Capability`]s: what a world allows, or what a component
/// imports (and so what its invocations are given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Capabilities(u8);

impl Capabilities {
    /// The empty set.
    pub(crate) const NONE: Capabilities = Capabilities(0);

    fn bit(c: Capability) -> u8 {
        1 << c as u8
    }

    /// The set with `c` added.
    pub(crate) fn with(self, c: Capability) -> Self {
        Self(self.0 | Self::bit(c))
    }

    /// Whether `c` is in the set.
    pub(crate) fn has(self, c: Capability) -> bool {
        self.0 & Self::bit(c) != 0
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const PACKAGE: &str = "switchyard:plugin";

/// The version of `switchyard:plugin` a component was built against, from
/// its export. The host serves 0.2.x (current) and 0.1.x: a 0.1.x component
/// is called through the 0.1.0 bindings and converted types (see
/// `crate::compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterfaceVersion {
    /// `switchyard:plugin@0.1.x`, the first release.
    V0_1,
    /// `switchyard:plugin@0.2.x`, the current one.
    V0_2,
}

impl InterfaceVersion {
    /// The version a `switchyard:plugin` interface name's version string
    /// belongs to, if the host serves it.
    fn of(version: &str) -> Option<InterfaceVersion> {
        if version.starts_with("0.2.") {
            Some(InterfaceVersion::V0_2)
        } else if version.starts_with("0.1.") {
            Some(InterfaceVersion::V0_1)
        } else {
            None
        }
    }
}

impl fmt::Display for InterfaceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterfaceVersion::V0_1 => "0.1.x",
            InterfaceVersion::V0_2 => "0.2.x",
        })
    }
}

/// WASI packages that Rust's std (and other toolchains' runtimes) import
/// even when the plugin never uses them; linked to a locked-down context.
const WASI_ALWAYS: &[&str] = &[
    "wasi:cli",
    "wasi:clocks",
    "wasi:random",
    "wasi:io",
    "wasi:filesystem",
];

/// An interface name split into `ns:pkg`, interface and version.
struct InterfaceName<'a> {
    package: &'a str,
    interface: &'a str,
    version: Option<&'a str>,
}

fn parse_interface_name(name: &str) -> Option<InterfaceName<'_>> {
    let (path, version) = match name.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (name, None),
    };
    let (package, interface) = path.rsplit_once('/')?;
    package.contains(':').then_some(InterfaceName {
        package,
        interface,
        version,
    })
}

/// The served version of a `switchyard:plugin` interface name.
fn switchyard_version(n: &InterfaceName<'_>) -> Option<InterfaceVersion> {
    if n.package != PACKAGE {
        return None;
    }
    n.version.and_then(InterfaceVersion::of)
}

/// What [`check_component`] found out about a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) world: World,
    pub(crate) version: InterfaceVersion,
    pub(crate) capabilities: Capabilities,
}

/// Finds the world and interface version of `component` from its exports,
/// checks every import against what that world (and version) allows, and
/// says which capabilities it imports.
pub(crate) fn check_component(
    engine: &Engine,
    component: &Component,
) -> Result<Checked, LoadError> {
    let ty = component.component_type();

    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let mut worlds = exports
        .iter()
        .filter_map(|e| parse_interface_name(e))
        .filter_map(|n| {
            Some((
                World::from_export_interface(n.interface)?,
                switchyard_version(&n)?,
            ))
        })
        .collect::<Vec<_>>();
    // One world may be exported through two interfaces (a strategy that
    // exports both `strategy` and `ranking`), in any order.
    let mut seen = Vec::with_capacity(worlds.len());
    worlds.retain(|w| {
        let new = !seen.contains(w);
        seen.push(*w);
        new
    });
    let (world, version) = match worlds.as_slice() {
        [w] => *w,
        [] => {
            return Err(LoadError::UnknownWorld {
                exports: if exports.is_empty() {
                    "nothing".into()
                } else {
                    exports.join(", ")
                },
            });
        }
        many => {
            return Err(LoadError::SeveralWorlds {
                worlds: many
                    .iter()
                    .map(|(w, v)| format!("{w}@{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };

    // Report the most telling refusal: the outgoing HTTP handler rather than
    // the http types it drags in.
    let mut imported = Capabilities::NONE;
    let mut refused: Vec<LoadError> = Vec::new();
    for (name, _) in ty.imports(engine) {
        match check_import(world, version, name) {
            Ok(Some(c)) => imported = imported.with(c),
            Ok(None) => {}
            Err(e) => refused.push(e),
        }
    }
    refused.sort_by_key(|e| match e {
        LoadError::ForbiddenImport { import, .. } if import.contains("outgoing-handler") => 0,
        _ => 1,
    });
    match refused.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(Checked {
            world,
            version,
            capabilities: imported,
        }),
    }
}

/// Whether `world`, built against `version`, may import `name`, and the
/// capability it asks for.
fn check_import(
    world: World,
    version: InterfaceVersion,
    name: &str,
) -> Result<Option<Capability>, LoadError> {
    let forbidden = |why: &str| LoadError::ForbiddenImport {
        world,
        import: name.to_string(),
        why: why.to_string(),
    };
    let Some(n) = parse_interface_name(name) else {
        return Err(forbidden("it is not an interface the host provides"));
    };
    if n.package == PACKAGE {
        match switchyard_version(&n) {
            None => {
                return Err(forbidden(
                    "this host serves switchyard:plugin 0.2.x and 0.1.x",
                ));
            }
            Some(v) if v != version => {
                return Err(LoadError::MixedVersions {
                    exports: version,
                    import: name.to_string(),
                });
            }
            Some(_) => {}
        }
        if TYPE_INTERFACES.contains(&n.interface) {
            return Ok(None);
        }
        // 0.1.0 had no `mail`: say so rather than fail at link time.
        if n.interface == "mail" && version == InterfaceVersion::V0_1 {
            return Err(forbidden("mail was added in switchyard:plugin 0.2.2"));
        }
        if let Some(c) = Capability::of_switchyard_interface(n.interface)
            && world.capabilities().has(c)
        {
            return Ok(Some(c));
        }
        return Err(forbidden(match n.interface {
            "directory" | "contacts" => "directory and contacts are for call-flow plugins",
            "mail" => "e-mail is for reporter plugins only",
            _ => "it is not part of that world",
        }));
    }
    // CPython's libc (componentize-py components) imports wasi:sockets
    // whether or not the plugin opens a socket, so the import is accepted;
    // every use of it fails: the WASI context of every invocation allows
    // no TCP, no UDP and no name lookup, and no address (`PluginState`).
    // Plugins reach the network through wasi:http and its allowlist only.
    if n.package == "wasi:sockets" && n.version.is_some_and(|v| v.starts_with("0.2.")) {
        return Ok(None);
    }
    if n.package == "wasi:http" {
        if world.allows_http() && matches!(n.interface, "outgoing-handler" | "types") {
            return Ok(Some(Capability::Http));
        }
        return Err(forbidden(
            "HTTP is for crm-connector and reporter plugins, and only outgoing",
        ));
    }
    if WASI_ALWAYS.contains(&n.package) && n.version.is_some_and(|v| v.starts_with("0.2.")) {
        return Ok(None);
    }
    Err(forbidden("it is not an interface the host provides"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_import_now(world: World, name: &str) -> Result<Option<Capability>, LoadError> {
        check_import(world, InterfaceVersion::V0_2, name)
    }

    #[test]
    fn call_flow_may_not_use_http_or_sockets() {
        let e = check_import_now(World::CallFlow, "wasi:http/outgoing-handler@0.2.12").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a call-flow plugin may not import wasi:http/outgoing-handler@0.2.12 (HTTP is for crm-connector and reporter plugins, and only outgoing)"
        );
        // Accepted (Python's libc imports them) and unusable at run time
        // (tests/sandbox.rs: `sockets_are_linked_but_every_connection_is_refused`).
        assert!(check_import_now(World::CallFlow, "wasi:sockets/tcp@0.2.0").is_ok());
        assert!(check_import_now(World::CrmConnector, "wasi:sockets/tcp@0.2.9").is_ok());
    }

    #[test]
    fn worlds_get_their_own_imports() {
        assert!(check_import_now(World::CrmConnector, "wasi:http/outgoing-handler@0.2.12").is_ok());
        assert!(check_import_now(World::Reporter, "wasi:http/types@0.2.3").is_ok());
        assert!(check_import_now(World::CallFlow, "switchyard:plugin/contacts@0.2.0").is_ok());
        assert!(
            check_import_now(World::QueueStrategy, "switchyard:plugin/contacts@0.2.0").is_err()
        );
        assert!(check_import_now(World::CallFlow, "switchyard:plugin/kv@0.3.0").is_err());
        assert!(check_import_now(World::CallFlow, "wasi:cli/environment@0.2.6").is_ok());
        assert!(check_import_now(World::CallFlow, "acme:evil/thing@1.0.0").is_err());
        assert!(matches!(
            check_import_now(World::Reporter, "switchyard:plugin/mail@0.2.2"),
            Ok(Some(Capability::Mail))
        ));
        for world in [World::CallFlow, World::QueueStrategy, World::CrmConnector] {
            let e = check_import_now(world, "switchyard:plugin/mail@0.2.2").unwrap_err();
            assert!(
                e.to_string()
                    .ends_with("(e-mail is for reporter plugins only)"),
                "{e}"
            );
        }
        assert!(check_import_now(World::CallFlow, "wasi:http/incoming-handler@0.2.0").is_err());
    }

    #[test]
    fn a_component_uses_one_interface_version() {
        let old = InterfaceVersion::V0_1;
        assert!(check_import(World::CallFlow, old, "switchyard:plugin/kv@0.1.0").is_ok());
        assert!(check_import(World::CallFlow, old, "switchyard:plugin/flow-types@0.1.0").is_ok());
        let e = check_import(World::CallFlow, old, "switchyard:plugin/kv@0.2.0").unwrap_err();
        assert!(matches!(e, LoadError::MixedVersions { .. }), "{e}");
        let e = check_import_now(World::CallFlow, "switchyard:plugin/kv@0.1.0").unwrap_err();
        assert!(matches!(e, LoadError::MixedVersions { .. }), "{e}");
        // 0.1.0 had no mail: a 0.1.x reporter naming one is told so.
        let e = check_import(World::Reporter, old, "switchyard:plugin/mail@0.1.0").unwrap_err();
        assert!(
            e.to_string()
                .contains("mail was added in switchyard:plugin 0.2.2"),
            "{e}"
        );
        assert_eq!(InterfaceVersion::of("0.1.3"), Some(InterfaceVersion::V0_1));
        assert_eq!(InterfaceVersion::of("0.2.0"), Some(InterfaceVersion::V0_2));
        assert_eq!(InterfaceVersion::of("1.0.0"), None);
    }
}
