//! `kv`: a key-value store on sled, scoped to (tenant, plugin).
//!
//! Every stored key is `tenant \0 plugin \0 key`. Tenant ids and plugin
//! names cannot contain `\0` (checked when the tenant / plugin is created),
//! so the scope prefix is unambiguous: whatever bytes a guest puts in its
//! key — separators included — only ever extend its own prefix, and prefix
//! scans start from that prefix too.
//!
//! Quotas (key count and bytes per scope) are kept in memory: counted from
//! the scope's keys the first time this process writes to it, then updated
//! with each write under the scope's lock, so they stay exact under
//! concurrent invocations and are right again after a crash. They used to
//! live in a second tree written in the same sled transaction as the data;
//! a sled transaction (and a batch) writes the log out twice, with a
//! `sync_file_range` each, and the `call-stats` reporter's counters made
//! that about a third of the host's CPU at 800 call setups a second
//! (bench/RESULTS.md §1). A write is now one sled insert.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex};

use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::kv::{self, Error, Host};
use crate::limits::TenantLimits;
use crate::transcript::{Answer, Ask, taped};

/// Longest key a plugin may use, bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Scopes' usage is kept in this many maps, each behind its own lock: two
/// scopes rarely wait for each other.
const USAGE_STRIPES: usize = 64;

/// (key count, bytes) of a scope.
type Usage = (u64, u64);

/// One stripe: the usage of the scopes whose prefix hashes to it.
type UsageStripe = Mutex<HashMap<Vec<u8>, Usage>>;

/// Plugin key-value data: one tree of values, and each scope's usage.
#[derive(Clone)]
pub struct KvStore {
    data: sled::Tree,
    usage: Arc<Vec<UsageStripe>>,
}

/// Quotas applied to one scope.
#[derive(Clone, Copy, Debug)]
pub struct KvQuota {
    /// Largest value, bytes.
    pub max_value_bytes: usize,
    /// Keys per scope.
    pub max_keys: u64,
    /// Key + value bytes per scope.
    pub max_bytes: u64,
}

impl KvQuota {
    /// The quotas a tenant's limits set for each of its plugins.
    pub fn of(limits: &TenantLimits) -> Self {
        Self {
            max_value_bytes: limits.kv_max_value_bytes,
            max_keys: limits.kv_max_keys,
            max_bytes: limits.kv_max_bytes,
        }
    }
}

/// A (tenant, plugin) view of the store. Owns its handles (sled trees are
/// shared), so it can live in an invocation's store.
pub struct KvScope {
    store: KvStore,
    prefix: Vec<u8>,
    quota: KvQuota,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(e.to_string())
}

impl KvStore {
    /// Opens the plugin trees in `db`.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        // Where usage was kept before it moved to memory.
        db.drop_tree("plugin-kv-usage")?;
        Ok(Self {
            data: db.open_tree("plugin-kv")?,
            usage: Arc::new((0..USAGE_STRIPES).map(|_| Mutex::default()).collect()),
        })
    }

    /// The scope of `plugin` of `tenant`.
    pub fn scope(&self, tenant: &str, plugin: &str, quota: KvQuota) -> KvScope {
        let mut prefix = Vec::with_capacity(tenant.len() + plugin.len() + 2);
        prefix.extend_from_slice(tenant.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(plugin.as_bytes());
        prefix.push(0);
        KvScope {
            store: self.clone(),
            prefix,
            quota,
        }
    }
}

impl KvScope {
    fn full_key(&self, key: &str) -> Result<Vec<u8>, Error> {
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::TooLarge);
        }
        let mut k = self.prefix.clone();
        k.extend_from_slice(key.as_bytes());
        Ok(k)
    }

    /// The lock and map holding this scope's usage.
    fn usage(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Usage>> {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(&self.prefix);
        self.store.usage[hash as usize % USAGE_STRIPES]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The scope's usage counted from its keys (once per process).
    fn counted(&self) -> Result<Usage, Error> {
        let (mut keys, mut bytes) = (0, 0);
        for kv in self.store.data.scan_prefix(&self.prefix) {
            let (k, v) = kv.map_err(unavailable)?;
            keys += 1;
            bytes += (k.len() - self.prefix.len() + v.len()) as u64;
        }
        Ok((keys, bytes))
    }

    /// Reads a value.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let k = self.full_key(key)?;
        Ok(self
            .store
            .data
            .get(k)
            .map_err(unavailable)?
            .map(|v| v.to_vec()))
    }

    /// Writes `value` through `f(old) -> new`, keeping usage exact and
    /// enforcing the quota. Returns what `f` returned alongside.
    fn write<R>(
        &self,
        key: &str,
        f: impl Fn(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R), Error>,
    ) -> Result<R, Error> {
        let k = self.full_key(key)?;
        let key_len = key.len() as u64;
        let quota = self.quota;
        // Held across the read, the check and the write: writes to one
        // scope take turns.
        let mut usage = self.usage();
        let (mut keys, mut bytes) = match usage.get(&self.prefix) {
            Some(u) => *u,
            None => self.counted()?,
        };
        let old = self.store.data.get(&k).map_err(unavailable)?;
        let (new, out) = f(old.as_deref())?;
        if let Some(o) = &old {
            keys -= 1;
            bytes = bytes.saturating_sub(key_len + o.len() as u64);
        }
        match &new {
            Some(v) => {
                if v.len() > quota.max_value_bytes {
                    return Err(Error::TooLarge);
                }
                keys += 1;
                bytes += key_len + v.len() as u64;
                if keys > quota.max_keys || bytes > quota.max_bytes {
                    return Err(Error::QuotaExceeded);
                }
                self.store
                    .data
                    .insert(k.as_slice(), v.as_slice())
                    .map_err(unavailable)?;
            }
            None => {
                self.store.data.remove(k.as_slice()).map_err(unavailable)?;
            }
        }
        match usage.get_mut(&self.prefix) {
            Some(u) => *u = (keys, bytes),
            None => {
                usage.insert(self.prefix.clone(), (keys, bytes));
            }
        }
        Ok(out)
    }

    /// Stores a value.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        if value.len() > self.quota.max_value_bytes {
            return Err(Error::TooLarge);
        }
        self.write(key, |_| Ok((Some(value.to_vec()), ())))
    }

    /// Removes a key (absent is fine).
    pub fn delete(&self, key: &str) -> Result<(), Error> {
        self.write(key, |_| Ok((None, ())))
    }

    /// Atomically adds `delta` to an 8-byte little-endian counter.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, Error> {
        self.write(key, |old| {
            let current = match old {
                None => 0,
                Some(b) => i64::from_le_bytes(b.try_into().map_err(|_| Error::NotACounter)?),
            };
            let new = current.wrapping_add(delta);
            Ok((Some(new.to_le_bytes().to_vec()), new))
        })
    }

    /// Keys of this scope starting with `prefix`, sorted, at most `limit`.
    pub fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, Error> {
        let p = self.full_key(prefix)?;
        let mut out = Vec::new();
        for item in self.store.data.scan_prefix(p).keys().take(limit as usize) {
            let k = item.map_err(unavailable)?;
            let own = &k[self.prefix.len()..];
            out.push(String::from_utf8_lossy(own).into_owned());
        }
        Ok(out)
    }
}

/// What one invocation's `kv` import reaches: its plugin's scope of the
/// tenant's store, with the tenant's quotas; nothing else of the store.
pub(crate) struct KvState {
    scope: KvScope,
}

impl KvState {
    pub(crate) fn new(scope: KvScope) -> Self {
        Self { scope }
    }
}

// sled calls are short and local; they run inline on the invocation's task.
impl Host for Granted<'_, KvState> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        Ok(taped!(
            self,
            Ask::KvGet { key: key.clone() },
            Answer::Value,
            self.state("kv")?.scope.get(&key)
        ))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        // A replay answers writes from the recording and never makes them.
        Ok(taped!(
            self,
            Ask::KvSet {
                key: key.clone(),
                value: value.clone()
            },
            Answer::Done,
            self.state("kv")?.scope.set(&key, &value)
        ))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), Error>> {
        Ok(taped!(
            self,
            Ask::KvDelete { key: key.clone() },
            Answer::Done,
            self.state("kv")?.scope.delete(&key)
        ))
    }

    async fn increment(&mut self, key: String, delta: i64) -> wasmtime::Result<Result<i64, Error>> {
        Ok(taped!(
            self,
            Ask::KvIncrement {
                key: key.clone(),
                delta
            },
            Answer::Counter,
            self.state("kv")?.scope.increment(&key, delta)
        ))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        Ok(taped!(
            self,
            Ask::KvListKeys {
                prefix: prefix.clone(),
                limit
            },
            Answer::Keys,
            self.state("kv")?.scope.list_keys(&prefix, limit)
        ))
    }
}

/// Links `kv` (0.2.0 and 0.1.0) to the state `get` finds in the store
/// data.
pub(crate) fn add_to_linker<T: Send + 'static>(
    l: &mut Linker<T>,
    get: fn(&mut T) -> Granted<'_, KvState>,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, HasCap<KvState>>(l, get)?;
    super::v0_1::add_kv(l, get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> KvStore {
        let db = sled::Config::new().temporary(true).open().unwrap();
        KvStore::open(&db).unwrap()
    }

    const Q: KvQuota = KvQuota {
        max_value_bytes: 16,
        max_keys: 3,
        max_bytes: 64,
    };

    #[test]
    fn scopes_do_not_see_each_other_even_with_separators_in_keys() {
        let s = store();
        s.scope("a", "p", Q).set("secret", b"x").unwrap();
        // Tenant "a\0p" cannot exist (validated), but a guest key with
        // separators stays inside its own prefix.
        let b = s.scope("b", "p", Q);
        assert_eq!(b.get("secret").unwrap(), None);
        assert_eq!(b.get("\0a\0p\0secret").unwrap(), None);
        assert!(b.list_keys("", 100).unwrap().is_empty());
        assert_eq!(s.scope("a", "q", Q).get("secret").unwrap(), None);
        assert_eq!(
            s.scope("a", "p", Q).list_keys("", 10).unwrap(),
            vec!["secret"]
        );
    }

    #[test]
    fn usage_is_counted_again_from_the_keys_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let a = KvStore::open(&db).unwrap().scope("a", "p", Q);
            a.set("one", b"1").unwrap();
            a.set("two", b"2").unwrap();
            db.flush().unwrap();
        }
        let db = sled::open(dir.path()).unwrap();
        let a = KvStore::open(&db).unwrap().scope("a", "p", Q);
        // Three keys at most: the two kept count.
        a.set("three", b"3").unwrap();
        assert!(matches!(a.set("four", b"4"), Err(Error::QuotaExceeded)));
        a.delete("one").unwrap();
        a.set("four", b"4").unwrap();
    }

    #[test]
    fn concurrent_increments_are_all_counted() {
        let s = store();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let a = s.scope("a", "p", Q);
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        a.increment("n", 1).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.scope("a", "p", Q).increment("n", 0).unwrap(), 2000);
    }

    #[test]
    fn quota_counter_and_size_limits() {
        let s = store();
        let a = s.scope("a", "p", Q);
        assert_eq!(a.increment("n", 5).unwrap(), 5);
        assert_eq!(a.increment("n", -2).unwrap(), 3);
        a.set("v", b"hello").unwrap();
        assert!(matches!(a.increment("v", 1), Err(Error::NotACounter)));
        assert!(matches!(a.set("big", &[0; 17]), Err(Error::TooLarge)));
        assert!(matches!(a.get(&"k".repeat(257)), Err(Error::TooLarge)));
        a.set("w", b"1").unwrap();
        assert!(matches!(a.set("x", b"1"), Err(Error::QuotaExceeded)));
        a.delete("w").unwrap();
        a.set("x", b"1").unwrap();
        assert_eq!(a.list_keys("", 10).unwrap(), vec!["n", "v", "x"]);
        assert_eq!(a.list_keys("", 2).unwrap(), vec!["n", "v"]);
    }
}
