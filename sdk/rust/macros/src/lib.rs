//! Export macros of `switchyard-sdk`; use them as `switchyard_sdk::export_call_flow!(MyFlow)`.
//!
//! Why a proc macro: wit-bindgen embeds a `component-type` custom section for
//! every world it generates, and the component takes its exports from those
//! sections. If the SDK generated the exports of every world, every
//! plugin would claim them all and fail to componentize. So the SDK generates
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
const ACCOUNT_TYPES: (&str, &str) = (
    "switchyard:plugin/account-types@0.2.2",
    "switchyard::plugin::account_types",
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

/// One exported world: the WIT world, the macro's name (for its error
/// message), the interfaces it imports and those it exports.
struct WorldExport {
    world: &'static str,
    macro_name: &'static str,
    /// Imported interfaces mapped onto the SDK's bindings.
    imports: Vec<(&'static str, &'static str)>,
    /// Every exported interface (most worlds export one).
    exports: Vec<InterfaceExport>,
}

/// One exported interface: its Rust module, the SDK trait the plugin
/// implements for it, and how each of its functions forwards to the trait.
struct InterfaceExport {
    interface: &'static str,
    sdk_trait: &'static str,
    /// `fn` items of the generated `Guest` impl.
    forwards: &'static str,
}

fn expand(input: TokenStream, w: WorldExport) -> TokenStream {
    let ty = input.to_string();
    let ty = ty.trim();
    if ty.is_empty() || ty.contains([',', ';']) {
        return format!(
            "compile_error!(\"expected the plugin's type, e.g. `{}!(MyPlugin)`\");",
            w.macro_name
        )
        .parse()
        .unwrap();
    }
    let with: String = w
        .imports
        .iter()
        .map(|(k, v)| format!("\"{k}\": ::switchyard_sdk::bindings::{v},\n"))
        .collect();
    // One `Guest` trait per exported interface, each implemented by
    // forwarding to the plugin's SDK trait.
    let impls: String = w
        .exports
        .iter()
        .map(|e| {
            let forwards = e.forwards.replace("$TRAIT", e.sdk_trait).replace("$T", ty);
            format!(
                r#"
#[cfg(target_arch = "wasm32")]
impl __switchyard_export::exports::switchyard::plugin::{interface}::Guest for {ty} {{
    {forwards}
}}
"#,
                interface = e.interface,
            )
        })
        .collect();
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
}}
{impls}
#[cfg(target_arch = "wasm32")]
__switchyard_export::export!({ty} with_types_in __switchyard_export);
"#,
        path = wit_dir(),
        world = w.world,
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
            macro_name: "export_call_flow",
            imports: vec![TYPES, FLOW_TYPES, LOG, KV, CONFIG, DIRECTORY, CONTACTS],
            exports: vec![InterfaceExport {
                interface: "flow",
                sdk_trait: "::switchyard_sdk::CallFlow",
                forwards: "fn handle(call: ::switchyard_sdk::CallSnapshot, event: ::switchyard_sdk::flow::Event, state: Option<Vec<u8>>) -> Result<::switchyard_sdk::flow::Decision, String> { <$T as $TRAIT>::handle(call, event, state) }",
            }],
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
            macro_name: "export_queue_strategy",
            imports: vec![TYPES, QUEUE_TYPES, RANKING_TYPES, LOG, KV, CONFIG],
            exports: vec![InterfaceExport {
                interface: "ranking",
                sdk_trait: "::switchyard_sdk::QueueStrategy",
                forwards: "fn rank(queue: ::switchyard_sdk::queue::QueueInfo, call: ::switchyard_sdk::queue::WaitingCall, candidates: ::switchyard_sdk::queue::CandidateColumns) -> Vec<u32> { <$T as $TRAIT>::rank(queue, call, ::switchyard_sdk::queue::Candidates::new(candidates)) }",
            }],
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
            macro_name: "export_crm_connector",
            imports: [TYPES, LOG, KV, CONFIG].into_iter().chain(HTTP.iter().copied()).collect(),
            exports: vec![InterfaceExport {
                interface: "crm",
                sdk_trait: "::switchyard_sdk::CrmConnector",
                forwards: "fn lookup(number: String) -> Result<Option<::switchyard_sdk::Contact>, String> { <$T as $TRAIT>::lookup(number) }
                           fn log_call(call: ::switchyard_sdk::CallRecord) -> Result<(), String> { <$T as $TRAIT>::log_call(call) }",
            }],
        },
    )
}

/// The `reporting` export of both reporter worlds.
const REPORTING: InterfaceExport = InterfaceExport {
    interface: "reporting",
    sdk_trait: "::switchyard_sdk::Reporter",
    forwards: "fn on_call_record(call: ::switchyard_sdk::CallRecord) -> Result<(), String> { <$T as $TRAIT>::on_call_record(call) }
               fn on_notice(notice: ::switchyard_sdk::Notice) -> Result<(), String> { <$T as $TRAIT>::on_notice(notice) }",
};

/// Export a type implementing `switchyard_sdk::Reporter` as the plugin's
/// `reporter` world.
#[proc_macro]
pub fn export_reporter(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "reporter",
            macro_name: "export_reporter",
            imports: [TYPES, LOG, KV, CONFIG, MAIL]
                .into_iter()
                .chain(HTTP.iter().copied())
                .collect(),
            exports: vec![REPORTING],
        },
    )
}

/// Export a type implementing `switchyard_sdk::Reporter` and
/// `switchyard_sdk::BillingReporter` as the plugin's `billing-reporter`
/// world (0.2.2): a reporter that is also told account notices.
#[proc_macro]
pub fn export_billing_reporter(input: TokenStream) -> TokenStream {
    expand(
        input,
        WorldExport {
            world: "billing-reporter",
            macro_name: "export_billing_reporter",
            imports: [TYPES, ACCOUNT_TYPES, LOG, KV, CONFIG, MAIL]
                .into_iter()
                .chain(HTTP.iter().copied())
                .collect(),
            exports: vec![
                REPORTING,
                InterfaceExport {
                    interface: "account_events",
                    sdk_trait: "::switchyard_sdk::BillingReporter",
                    forwards: "fn on_account_notice(notice: ::switchyard_sdk::account::AccountNotice) -> Result<(), String> { <$T as $TRAIT>::on_account_notice(notice) }",
                },
            ],
        },
    )
}
