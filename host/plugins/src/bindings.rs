//! The host's bindings: one `bindgen!` for the current interface,
//! `switchyard:plugin@0.2.2`, whose Rust types every role and the rest of
//! the workspace use, and [`v0_1`] for components built against 0.1.0.
//!
//! WASI interfaces are mapped onto `wasmtime-wasi` / `wasmtime-wasi-http`'s
//! own bindings, so the linker functions of those crates serve them and no
//! second copy of the WASI types exists.
//!
//! Why not `world: "host"` directly: wasmtime 48's bindgen generates
//! `let lookup = lookup("lookup")?;` for an exported function named `lookup`
//! (the `crm` interface has one), which shadows its own helper closure and
//! does not compile. So the world bound here is the `host` world minus the
//! `crm` export (inline WIT below, including the published worlds), and
//! [`crate::invoke`] calls `crm.lookup` / `crm.log-call` through typed
//! functions over the same generated types.
//!
//! Exports are not called through the world struct (a component exports only
//! one of the interfaces): each role uses the generated per-interface
//! `GuestIndices` instead.

wasmtime::component::bindgen!({
    path: "../../wit",
    inline: "
        package switchyard:host-bindings;
        world host-bindings {
            include switchyard:plugin/call-flow@0.2.2;
            include switchyard:plugin/queue-strategy@0.2.2;
            include switchyard:plugin/queue-ranker@0.2.2;
            include switchyard:plugin/reporter@0.2.2;
            include switchyard:plugin/billing-reporter@0.2.2;
            import switchyard:plugin/types@0.2.2;
            import switchyard:plugin/flow-types@0.2.2;
            import switchyard:plugin/queue-types@0.2.2;
            import switchyard:plugin/ranking-types@0.2.2;
            import switchyard:plugin/account-types@0.2.2;
        }
    ",
    world: "switchyard:host-bindings/host-bindings",
    imports: { default: async | trappable },
    exports: { default: async },
    require_store_data_send: true,
    // Tests and the call engine compare decisions, contacts, records;
    // transcripts (replay before activation) keep them as JSON.
    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::switchyard::plugin::{account_events, flow, ranking, reporting, strategy};
pub use switchyard::plugin::{
    account_types, config, contacts, directory, flow_types, kv, log, mail, queue_types,
    ranking_types, types,
};

/// Bindings of `switchyard:plugin@0.1.0` (`wit/compat/0.1.0`), to serve
/// components built against it: the linker defines its imports next to the
/// 0.2.0 ones, and [`crate::compat`] converts between its types and the
/// host's (0.2.0) types.
///
/// `types@0.1.0` is identical to `types@0.2.2`, so it is mapped onto the
/// 0.2.0 module: contacts, call snapshots and call records need no
/// conversion (wasmtime type-checks structurally). The interfaces whose
/// types changed (`flow-types`, `queue-types`) or that must be linked under
/// their 0.1.0 names (the capabilities) are generated here.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: ["../../wit", "../../wit/compat/0.1.0"],
        inline: "
            package switchyard:host-bindings-v0-1;
            world host-bindings {
                import switchyard:plugin/types@0.1.0;
                import switchyard:plugin/flow-types@0.1.0;
                import switchyard:plugin/queue-types@0.1.0;
                import switchyard:plugin/log@0.1.0;
                import switchyard:plugin/kv@0.1.0;
                import switchyard:plugin/config@0.1.0;
                import switchyard:plugin/directory@0.1.0;
                import switchyard:plugin/contacts@0.1.0;
                export switchyard:plugin/flow@0.1.0;
                export switchyard:plugin/strategy@0.1.0;
                export switchyard:plugin/reporting@0.1.0;
            }
        ",
        world: "switchyard:host-bindings-v0-1/host-bindings",
        imports: { default: async | trappable },
        exports: { default: async },
        require_store_data_send: true,
        additional_derives: [PartialEq],
        with: {
            "switchyard:plugin/types@0.1.0": crate::bindings::types,
        },
    });

    pub use self::exports::switchyard::plugin0_1_0::{flow, reporting, strategy};
    pub use self::switchyard::plugin0_1_0::{
        config, contacts, directory, flow_types, kv, log, queue_types,
    };
}
