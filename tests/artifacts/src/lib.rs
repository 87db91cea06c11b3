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

use std::collections::BTreeMap;

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The demo tenant's configuration (`examples/tenant-demo/tenant.json`),
/// which the server provisions with the components above.
pub const DEMO_TENANT: &str = include_str!("../../../examples/tenant-demo/tenant.json");

/// The demo tenant's spoken prompts (`examples/tenant-demo/prompts`,
/// made by `scripts/make-prompts`), provisioned as its prompt files.
pub const DEMO_PROMPTS: &[(&str, &[u8])] = &[
    (
        "main-menu",
        include_bytes!("../../../examples/tenant-demo/prompts/main-menu.wav"),
    ),
    (
        "support-menu",
        include_bytes!("../../../examples/tenant-demo/prompts/support-menu.wav"),
    ),
    (
        "broadband-menu",
        include_bytes!("../../../examples/tenant-demo/prompts/broadband-menu.wav"),
    ),
    (
        "invalid-option",
        include_bytes!("../../../examples/tenant-demo/prompts/invalid-option.wav"),
    ),
];

/// A plugin's settings in the demo tenant, as the runtime takes them:
/// settings are strings, and a JSON object or array in `tenant.json` stands
/// for its JSON text. Empty for a plugin the demo does not configure.
pub fn demo_settings(plugin: &str) -> BTreeMap<String, String> {
    let demo: serde_json::Value = serde_json::from_str(DEMO_TENANT).expect("tenant.json is JSON");
    demo["plugins"][plugin]["config"]
        .as_object()
        .map(|cfg| {
            cfg.iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

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

    #[test]
    fn demo_settings_are_strings_with_json_as_text() {
        let ivr = super::demo_settings("ivr-menu");
        let menu: serde_json::Value = serde_json::from_str(&ivr["menu"]).unwrap();
        assert_eq!(menu["root"], "main");
        assert_eq!(super::demo_settings("fewest-calls")["sticky"], "true");
        assert!(super::demo_settings("no-such-plugin").is_empty());
    }
}
