//! The capabilities under their `switchyard:plugin@0.1.0` names, for
//! components built against 0.1.0. The interfaces are the same in both
//! versions, so every 0.1.0 function runs the 0.2.0 implementation on the
//! same state; only the generated Rust types differ, and are converted here.
//! Each capability's `add_to_linker` links both versions.

use wasmtime::component::{HasSelf, Linker};

use super::config::ConfigState;
use super::contacts::ContactsState;
use super::directory::DirectoryState;
use super::kv::KvState;
use super::log::LogState;
use super::{Granted, HasCap, NoState, TypesOnly};
use crate::bindings::types::Contact;
use crate::bindings::v0_1::{config, contacts, directory, flow_types, kv, log, queue_types};
use crate::bindings::{config as now_config, contacts as now_contacts};
use crate::bindings::{directory as now_directory, kv as now_kv, log as now_log};

impl flow_types::Host for TypesOnly {}
impl queue_types::Host for TypesOnly {}

/// Links the 0.1.0 type-only interfaces. `types@0.1.0` is bound to the
/// 0.2.0 module (it did not change), so its (empty) instance is defined by
/// name here.
pub(super) fn add_type_interfaces<T: Send + 'static>(l: &mut Linker<T>) -> wasmtime::Result<()> {
    l.instance("switchyard:plugin/types@0.1.0")?;
    flow_types::add_to_linker::<T, NoState>(l, |_| TypesOnly)?;
    queue_types::add_to_linker::<T, NoState>(l, |_| TypesOnly)?;
    Ok(())
}

impl log::Host for LogState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => now_log::Level::Trace,
            log::Level::Debug => now_log::Level::Debug,
            log::Level::Info => now_log::Level::Info,
            log::Level::Warn => now_log::Level::Warn,
            log::Level::Error => now_log::Level::Error,
        };
        now_log::Host::log(self, level, message).await
    }
}

pub(super) fn add_log<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> &mut LogState,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, HasSelf<LogState>>(l, get)
}

fn kv_error(e: now_kv::Error) -> kv::Error {
    match e {
        now_kv::Error::TooLarge => kv::Error::TooLarge,
        now_kv::Error::QuotaExceeded => kv::Error::QuotaExceeded,
        now_kv::Error::NotACounter => kv::Error::NotACounter,
        now_kv::Error::Unavailable(m) => kv::Error::Unavailable(m),
    }
}

type Kv<T> = wasmtime::Result<Result<T, kv::Error>>;

impl kv::Host for Granted<'_, KvState> {
    async fn get(&mut self, key: String) -> Kv<Option<Vec<u8>>> {
        Ok(now_kv::Host::get(self, key).await?.map_err(kv_error))
    }
    async fn set(&mut self, key: String, value: Vec<u8>) -> Kv<()> {
        Ok(now_kv::Host::set(self, key, value).await?.map_err(kv_error))
    }
    async fn delete(&mut self, key: String) -> Kv<()> {
        Ok(now_kv::Host::delete(self, key).await?.map_err(kv_error))
    }
    async fn increment(&mut self, key: String, delta: i64) -> Kv<i64> {
        Ok(now_kv::Host::increment(self, key, delta)
            .await?
            .map_err(kv_error))
    }
    async fn list_keys(&mut self, prefix: String, limit: u32) -> Kv<Vec<String>> {
        Ok(now_kv::Host::list_keys(self, prefix, limit)
            .await?
            .map_err(kv_error))
    }
}

pub(super) fn add_kv<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, KvState>,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, HasCap<KvState>>(l, get)
}

impl config::Host for Granted<'_, ConfigState> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        now_config::Host::get(self, key).await
    }
    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        now_config::Host::get_all(self).await
    }
}

pub(super) fn add_config<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, ConfigState>,
) -> wasmtime::Result<()> {
    config::add_to_linker::<T, HasCap<ConfigState>>(l, get)
}

impl directory::Host for Granted<'_, DirectoryState> {
    async fn get_extension(
        &mut self,
        number: String,
    ) -> wasmtime::Result<Option<directory::Extension>> {
        let e = now_directory::Host::get_extension(self, number).await?;
        Ok(e.map(|e| directory::Extension {
            number: e.number,
            display_name: e.display_name,
            registered: e.registered,
            has_voicemail: e.has_voicemail,
        }))
    }
    async fn ring_group_members(&mut self, name: String) -> wasmtime::Result<Option<Vec<String>>> {
        now_directory::Host::ring_group_members(self, name).await
    }
    async fn get_queue_status(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Option<directory::QueueStatus>> {
        let q = now_directory::Host::get_queue_status(self, name).await?;
        Ok(q.map(|q| directory::QueueStatus {
            name: q.name,
            waiting: q.waiting,
            agents_logged_in: q.agents_logged_in,
            agents_available: q.agents_available,
            longest_wait_seconds: q.longest_wait_seconds,
            average_wait_seconds: q.average_wait_seconds,
        }))
    }
}

pub(super) fn add_directory<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, DirectoryState>,
) -> wasmtime::Result<()> {
    directory::add_to_linker::<T, HasCap<DirectoryState>>(l, get)
}

impl contacts::Host for Granted<'_, ContactsState> {
    async fn lookup(&mut self, number: String) -> wasmtime::Result<Option<Contact>> {
        now_contacts::Host::lookup(self, number).await
    }
}

pub(super) fn add_contacts<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, ContactsState>,
) -> wasmtime::Result<()> {
    contacts::add_to_linker::<T, HasCap<ContactsState>>(l, get)
}
