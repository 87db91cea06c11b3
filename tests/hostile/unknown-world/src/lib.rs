//! Exports an interface of some other package: no Switchyard world.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    inline: "
        package acme:other;
        interface thing {
            hello: func() -> string;
        }
        world other {
            export thing;
        }
    ",
});

struct Other;

impl exports::acme::other::thing::Guest for Other {
    fn hello() -> String {
        "hello from elsewhere".into()
    }
}

export!(Other);
