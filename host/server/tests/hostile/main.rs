//! The standing hostile suite (issue 11): what an attacker working only from
//! outside — the SIP port, the HTTP API with a tenant's key — tries, in a
//! short form the README's test command runs every time. Each module is one
//! class of attack; `bench/fuzz wire` runs the long wire fuzz.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod connections;
mod durability;
mod lifecycle;
mod replay;
mod tenants;
mod wire_fuzz;
