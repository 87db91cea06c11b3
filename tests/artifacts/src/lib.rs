//! The workspace's guest components, compiled to `wasm32-wasip2` by this
//! crate's build script and embedded as bytes.
//!
//! Every crate under `plugins/`, `examples/` and `tests/hostile/` that has a
//! `[lib] crate-type = ["cdylib"]` is built with the `wasm` profile by a
//! nested `cargo build` into `<target dir>/wasm-components`, so plain
//! `cargo build` / `cargo test` keep the components fresh.
//!
//! ```
//! let echo: &[u8] = switchyard_artifacts::get("echo-flow").unwrap();
//! assert_eq!(&echo[..4], b"\0asm");
//! ```

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The component built from the crate named `name` (package name, e.g.
/// `ivr-menu`), if there is one.
pub fn get(name: &str) -> Option<&'static [u8]> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_component_is_a_wasm_component() {
        assert!(!super::ALL.is_empty(), "no guest crate was found to build");
        for (name, bytes) in super::ALL {
            // Component binaries start with the wasm magic followed by the
            // component-model layer/version (0x0d 0x00 0x01 0x00).
            assert_eq!(&bytes[0..4], b"\0asm", "{name} is not wasm");
            assert_eq!(
                &bytes[4..8],
                &[0x0d, 0x00, 0x01, 0x00],
                "{name} is a core module, not a component"
            );
        }
    }
}
