//! Export macros of `switchyard-sdk`; use them as `switchyard_sdk::export_call_flow!(MyFlow)`.
//!
//! Why a proc macro: wit-bindgen embeds a `component-type` custom section for
//! every world it generates, and the component takes its exports from those
//! sections. If the SDK generated the exports of all four worlds, every
//! plugin would claim all four and fail to componentize. So the SDK generates
//! only the imports (world `guest-imports`), and each plugin crate generates
//! the one world it exports through these macros. wit-bindgen resolves a
//! relative `path` against the *plugin's* manifest directory, so the macro
//! passes an absolute path of the WIT package: the one found above the
//! plugin being expanded (a plugin of this repository), else the one next
//! to the SDK when the macro was compiled. Looking from the plugin first
//! matters because a cached build of this macro may come from another
//! checkout of the repository, whose path is baked into it.
//!
//! The export glue exists only on `wasm32`: natively (plugin crates are also
//! workspace members, unit-tested on the host) a plugin is a plain library,
//! and a native `cdylib` could not carry the component export names anyway.

use proc_macro::TokenStream;

/// The `switchyard:plugin` WIT package, next to the SDK.
fn wit_dir() -> String {
    let is_ours = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("switchyard.wit"))
            .is_ok_and(|t| t.contains("package switchyard:plugin@"))
    };
    // The crate being expanded: the plugin.
    if let Ok(plugin) = std::env::var("CARGO_MANIFEST_DIR") {
        for dir in std::path::Path::new(&plugin).ancestors() {
            let wit = dir.join("wit");
            if is_ours(&wit) {
                return wit.display().to_string();
            }
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../wit");
    std::fs::canonicalize(dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| dir.to_string())
}

/// Interfaces a world imports, taken from the SDK's bindings instead of
/// generated again, so SDK types and plugin types are the same. wit-bindgen
/// refuses unused mappings, so each world lists exactly what it imports.
const TYPES: (&str, &str) = ("switchyard:plugin/types@0.2.2", "switchyard::plugin::types");
const FLOW_TYPES: (&str, &str) = (
    "switchyard:plugin/flow-types@0.2.2",
    "switchyard::plugin::flow_types",
);
const QUEUE_TYPES: (&str, &str) = (
    "switchyard:plugin/queue-types@0.2.2",
    "switchyard::plugin::queue_types",
);
const RANKING_TYPES: (&str, &str) = (
    "switchyard:plugin/ranking-types@0.2.2",
    "switchyard::plugin::ranking_types",
);
const LOG: (&str, &str) = ("switchyard:plugin/log@0.2.2", "switchyard::plugin::log");
const KV: (&str, &str) = ("switchyard:plugin/kv@0.2.2", "switchyard::plugin::kv");
const CONFIG: (&str, &str) = (
    "switchyard:plugin/config@0.2.2",
    "switchyard::plugin::config",
);
const DIRECTORY: (&str, &str) = (
    "switchyard:plugin/directory@0.2.2",
    "switchyard::plugin::directory",
);
const CONTACTS: (&str, &str) = (
    "switchyard:plugin/contacts@0.2.2",
    "switchyard::plugin::contacts",
);
const MAIL: (&str, &str) = ("switchyard:plugin/mail@0.2.2", "switchyard::plugin::mail");
/// `wasi:http/outgoing-handler` and what its types pull in.
const HTTP: &[(&str, &str)] = &[
    ("wasi:http/types@0.2.12", "wasi::http::types"),
    (
        "wasi:http/outgoing-handler@0.2.12",
        "wasi::http::outgoing_handler",
    ),
    ("wasi:io/poll@0.2.12", "wasi::io::poll"),
    ("wasi:io/error@0.2.12", "wasi::io::error"),
    ("wasi:io/streams@0.2.12", "wasi::io::streams"),
    (
        "wasi:clocks/monotonic-clock@0.2.12",
        "wasi::clocks::monotonic_clock",
    ),
];

/// One exported world: the WIT world, the exported interface's Rust module,
/// the SDK trait the plugin implements, and how each export forwards to it.
struct WorldExport {
    world: &'static str,
    interface: &'static str,
    sdk_trait: &'static str,
    /// Imported interfaces mapped onto the SDK's bindings.
    imports: Vec<(&'static str, &'static str)>,
    /// `fn` items of the generated `Guest` impl.
    forwards: &'static str,
}

fn expand(input: TokenStream, w: WorldExport) -> TokenStream {
    let ty = input.to_string();
    let ty = ty.trim();
    if ty.is_empty() || ty.contains([',', ';']) {
        return format!(
            "compile_error!(\"expected the plugin's type, e.g. `{}!(MyPlugin)`\");",
            w.sdk_trait
        )
        .parse()
        .unwrap();
    }
    let with: String = w
        .imports
        .iter()
        .map(|(k, v)| format!("\"{k}\": ::switchyard_sdk::bindings::{v},\n"))
        .collect();
    let forwards = w.forwards.replace("$TRAIT", w.sdk_trait).replace("$T", ty);
    format!(
        r#"
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(clippy::all, unused)]
mod __switchyard_export {{
    ::switchyard_sdk::wit_bindgen::generate!({{
        path: {path:?},
        world: "switchyard:plugin/{world}@0.2.2",
        with: {{ {with} }},
        runtime_path: "::switchyard_sdk::wit_bindgen::rt",
    }});
    pub use self::exports::switchyard::plugin::{interface}::Guest;
}}

#[cfg(target_arch = "wasm32")]
impl __switchyard_export::Guest for {ty} {{
    {forwards}
}}

#[cfg(target_arch = "wasm32")]
__switchyard_export::export!({ty} with_types_in __switchyard_export);
"#,
        path = wit_dir(),
        world = w.world,
        interface = w.interface,
    )
    .parse()
    .expect("switchyard-sdk-macros generated invalid tokens")
}

/// Export a type implementing `switchyard_sdk::CallFlow` as the plugin's
/// `call-flow` world.
#[proc_macro]
pub fn export_call_flow(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "call-flow",
            interface: "flow",
            sdk_trait: "::switchyard_sdk::CallFlow",
            imports: vec![TYPES, FLOW_TYPES, LOG, KV, CONFIG, DIRECTORY, CONTACTS],
            forwards: "fn handle(call: ::switchyard_sdk::CallSnapshot, event: ::switchyard_sdk::flow::Event, state: Option<Vec<u8>>) -> Result<::switchyard_sdk::flow::Decision, String> { <$T as $TRAIT>::handle(call, event, state) }",
        },
    )
}

/// Export a type implementing `switchyard_sdk::QueueStrategy` as the
/// plugin's `queue-ranker` world (the queue-strategy role with candidates
/// as columns, 0.2.1; the host calls `QueueStrategy::rank`).
#[proc_macro]
pub fn export_queue_strategy(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "queue-ranker",
            interface: "ranking",
            sdk_trait: "::switchyard_sdk::QueueStrategy",
            imports: vec![TYPES, QUEUE_TYPES, RANKING_TYPES, LOG, KV, CONFIG],
            forwards: "fn rank(queue: ::switchyard_sdk::queue::QueueInfo, call: ::switchyard_sdk::queue::WaitingCall, candidates: ::switchyard_sdk::queue::CandidateColumns) -> Vec<u32> { <$T as $TRAIT>::rank(queue, call, ::switchyard_sdk::queue::Candidates::new(candidates)) }",
        },
    )
}

/// Export a type implementing `switchyard_sdk::CrmConnector` as the plugin's
/// `crm-connector` world.
#[proc_macro]
pub fn export_crm_connector(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "crm-connector",
            interface: "crm",
            sdk_trait: "::switchyard_sdk::CrmConnector",
            imports: [TYPES, LOG, KV, CONFIG].into_iter().chain(HTTP.iter().copied()).collect(),
            forwards: "fn lookup(number: String) -> Result<Option<::switchyard_sdk::Contact>, String> { <$T as $TRAIT>::lookup(number) }
                       fn log_call(call: ::switchyard_sdk::CallRecord) -> Result<(), String> { <$T as $TRAIT>::log_call(call) }",
        },
    )
}

/// Export a type implementing `switchyard_sdk::Reporter` as the plugin's
/// `reporter` world.
#[proc_macro]
pub fn export_reporter(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "reporter",
            interface: "reporting",
            sdk_trait: "::switchyard_sdk::Reporter",
            imports: [TYPES, LOG, KV, CONFIG, MAIL].into_iter().chain(HTTP.iter().copied()).collect(),
            forwards: "fn on_call_record(call: ::switchyard_sdk::CallRecord) -> Result<(), String> { <$T as $TRAIT>::on_call_record(call) }
                       fn on_notice(notice: ::switchyard_sdk::Notice) -> Result<(), String> { <$T as $TRAIT>::on_notice(notice) }",
        },
    )
}
