//! What an uploaded component may be: its world (from what it exports) and
//! the imports that world allows.

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::LoadError;

/// The Switchyard world a component targets, detected from its export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// Exports `switchyard:plugin/flow`.
    CallFlow,
    /// Exports `switchyard:plugin/strategy`.
    QueueStrategy,
    /// Exports `switchyard:plugin/crm`.
    CrmConnector,
    /// Exports `switchyard:plugin/reporting`.
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
            "strategy" => World::QueueStrategy,
            "crm" => World::CrmConnector,
            "reporting" => World::Reporter,
            _ => return None,
        })
    }

    /// Whether the world may make outbound HTTP requests.
    pub fn allows_http(self) -> bool {
        matches!(self, World::CrmConnector | World::Reporter)
    }

    /// Host interfaces of `switchyard:plugin` the world may import.
    fn allowed_switchyard_imports(self) -> &'static [&'static str] {
        const COMMON: &[&str] = &["types", "flow-types", "queue-types", "log", "kv", "config"];
        const FLOW: &[&str] = &[
            "types",
            "flow-types",
            "queue-types",
            "log",
            "kv",
            "config",
            "directory",
            "contacts",
        ];
        match self {
            World::CallFlow => FLOW,
            _ => COMMON,
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The version range of `switchyard:plugin` this host serves (0.1.x).
const PACKAGE: &str = "switchyard:plugin";
const SUPPORTED_MAJOR_MINOR: &str = "0.1.";

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

fn is_switchyard(n: &InterfaceName<'_>) -> bool {
    n.package == PACKAGE
        && n.version
            .is_some_and(|v| v.starts_with(SUPPORTED_MAJOR_MINOR))
}

/// Finds the world of `component` from its exports and checks every import
/// against what that world allows.
pub(crate) fn check_component(engine: &Engine, component: &Component) -> Result<World, LoadError> {
    let ty = component.component_type();

    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let mut worlds = exports
        .iter()
        .filter_map(|e| parse_interface_name(e))
        .filter(is_switchyard)
        .filter_map(|n| World::from_export_interface(n.interface))
        .collect::<Vec<_>>();
    worlds.dedup();
    let world = match worlds.as_slice() {
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
                worlds: many.iter().map(|w| w.name()).collect::<Vec<_>>().join(", "),
            });
        }
    };

    // Report the most telling refusal: the outgoing HTTP handler rather than
    // the http types it drags in.
    let mut refused: Vec<LoadError> = ty
        .imports(engine)
        .filter_map(|(name, _)| check_import(world, name).err())
        .collect();
    refused.sort_by_key(|e| match e {
        LoadError::ForbiddenImport { import, .. } if import.contains("outgoing-handler") => 0,
        _ => 1,
    });
    match refused.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(world),
    }
}

fn check_import(world: World, name: &str) -> Result<(), LoadError> {
    let forbidden = |why: &str| LoadError::ForbiddenImport {
        world,
        import: name.to_string(),
        why: why.to_string(),
    };
    let Some(n) = parse_interface_name(name) else {
        return Err(forbidden("it is not an interface the host provides"));
    };
    if n.package == PACKAGE {
        if !is_switchyard(&n) {
            return Err(forbidden("this host serves switchyard:plugin 0.1.x"));
        }
        if world.allowed_switchyard_imports().contains(&n.interface) {
            return Ok(());
        }
        return Err(forbidden(match n.interface {
            "directory" | "contacts" => "directory and contacts are for call-flow plugins",
            _ => "it is not part of that world",
        }));
    }
    if n.package == "wasi:sockets" {
        return Err(forbidden("plugins never get sockets"));
    }
    if n.package == "wasi:http" {
        if world.allows_http() && matches!(n.interface, "outgoing-handler" | "types") {
            return Ok(());
        }
        return Err(forbidden(
            "HTTP is for crm-connector and reporter plugins, and only outgoing",
        ));
    }
    if WASI_ALWAYS.contains(&n.package) && n.version.is_some_and(|v| v.starts_with("0.2.")) {
        return Ok(());
    }
    Err(forbidden("it is not an interface the host provides"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_flow_may_not_use_http_or_sockets() {
        let e = check_import(World::CallFlow, "wasi:http/outgoing-handler@0.2.12").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a call-flow plugin may not import wasi:http/outgoing-handler@0.2.12 (HTTP is for crm-connector and reporter plugins, and only outgoing)"
        );
        assert!(check_import(World::CallFlow, "wasi:sockets/tcp@0.2.0").is_err());
        assert!(check_import(World::CrmConnector, "wasi:sockets/tcp@0.2.0").is_err());
    }

    #[test]
    fn worlds_get_their_own_imports() {
        assert!(check_import(World::CrmConnector, "wasi:http/outgoing-handler@0.2.12").is_ok());
        assert!(check_import(World::Reporter, "wasi:http/types@0.2.3").is_ok());
        assert!(check_import(World::CallFlow, "switchyard:plugin/contacts@0.1.0").is_ok());
        assert!(check_import(World::QueueStrategy, "switchyard:plugin/contacts@0.1.0").is_err());
        assert!(check_import(World::CallFlow, "switchyard:plugin/kv@0.2.0").is_err());
        assert!(check_import(World::CallFlow, "wasi:cli/environment@0.2.6").is_ok());
        assert!(check_import(World::CallFlow, "acme:evil/thing@1.0.0").is_err());
        assert!(check_import(World::CallFlow, "wasi:http/incoming-handler@0.2.0").is_err());
    }
}
