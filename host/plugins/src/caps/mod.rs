//! Host capabilities, one module each, in the shape of wasmtime's
//! `wasi-config`: a capability is a per-invocation state holding exactly
//! the handles it needs (kv: its scope of the tenant's store; http: the
//! allowlist and the operator's policy; …), the host functions of its WIT
//! interface implemented on a view of that state, and an `add_to_linker`
//! that takes a getter from the store data to the view.
//!
//! A capability knows neither the store data nor the tenant runtime nor the
//! registry: [`crate::state`] holds the states, and the tenant runtime
//! builds them when it makes a store, only for the capabilities the
//! component imports.

pub mod config;
pub mod contacts;
pub mod directory;
pub mod http;
pub mod kv;
pub mod log;
pub mod mail;
pub(crate) mod stdio;
mod v0_1;

use std::marker::PhantomData;

use wasmtime::component::{HasData, Linker};

use crate::bindings::switchyard::plugin::{flow_types, queue_types, types};
use crate::transcript::Tape;

/// A capability's state as its host functions see it: `None` when the
/// invocation was not given that capability. That cannot happen through a
/// linked import (only imported capabilities are linked, and every
/// imported one is built), so it is a trap, never a panic.
///
/// With it, the invocation's [`Tape`]: the capabilities whose answers
/// depend on the tenant's data (kv, directory, contacts) write them down
/// for a transcript, or take them from one in a replay.
pub(crate) struct Granted<'a, S> {
    cap: Option<&'a mut S>,
    pub(crate) tape: &'a mut Tape,
}

impl<'a, S> Granted<'a, S> {
    pub(crate) fn new(cap: Option<&'a mut S>, tape: &'a mut Tape) -> Self {
        Self { cap, tape }
    }

    fn state(&mut self, capability: &str) -> wasmtime::Result<&mut S> {
        self.cap
            .as_deref_mut()
            .ok_or_else(|| wasmtime::format_err!("this invocation has no {capability} capability"))
    }
}

/// The [`HasData`] of a capability whose state is `S`.
pub(crate) struct HasCap<S>(PhantomData<fn() -> S>);

impl<S: 'static> HasData for HasCap<S> {
    type Data<'a> = Granted<'a, S>;
}

/// The [`HasData`] of the type-only interfaces: no state at all.
struct NoState;

impl HasData for NoState {
    type Data<'a> = TypesOnly;
}

/// What the type-only interfaces are implemented on.
pub(crate) struct TypesOnly;

impl types::Host for TypesOnly {}
impl flow_types::Host for TypesOnly {}
impl queue_types::Host for TypesOnly {}

/// Links the type-only interfaces of both versions (nothing to call, but
/// the linker wants them).
pub(crate) fn add_type_interfaces_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
) -> wasmtime::Result<()> {
    types::add_to_linker::<T, NoState>(l, |_| TypesOnly)?;
    flow_types::add_to_linker::<T, NoState>(l, |_| TypesOnly)?;
    queue_types::add_to_linker::<T, NoState>(l, |_| TypesOnly)?;
    v0_1::add_type_interfaces(l)
}
