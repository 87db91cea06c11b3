//! Exports `switchyard:plugin/account-events` and nothing else: the
//! interface belongs to the `billing-reporter` world beside `reporting`,
//! so alone it is no plugin and the host refuses the upload.
// Component exports only exist on wasm32; natively this crate is empty
// (a native cdylib cannot carry component export names).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::all)]
wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package acme:lone;
        world lone {
            export switchyard:plugin/account-events@0.2.2;
        }
    ",
    world: "acme:lone/lone",
    generate_all,
});

use exports::switchyard::plugin::account_events::Guest;
use switchyard::plugin::account_types::AccountNotice;

struct Lone;

impl Guest for Lone {
    fn on_account_notice(_: AccountNotice) -> Result<(), String> {
        Ok(())
    }
}

export!(Lone);
