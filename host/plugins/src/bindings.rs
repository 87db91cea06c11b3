//! The one `bindgen!` of the host, so that every role shares one set of Rust
//! types.
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
            include switchyard:plugin/call-flow@0.1.0;
            include switchyard:plugin/queue-strategy@0.1.0;
            include switchyard:plugin/reporter@0.1.0;
            import switchyard:plugin/types@0.1.0;
            import switchyard:plugin/flow-types@0.1.0;
            import switchyard:plugin/queue-types@0.1.0;
        }
    ",
    world: "switchyard:host-bindings/host-bindings",
    imports: { default: async | trappable },
    exports: { default: async },
    require_store_data_send: true,
    // Tests and the call engine compare decisions, contacts, records.
    additional_derives: [PartialEq],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::switchyard::plugin::{flow, reporting, strategy};
pub use switchyard::plugin::{
    config, contacts, directory, flow_types, kv, log, queue_types, types,
};
