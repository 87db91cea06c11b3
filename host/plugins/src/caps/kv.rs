//! `kv`: a key-value store on sled, scoped to (tenant, plugin).
//!
//! Every stored key is `tenant \0 plugin \0 key`. Tenant ids and plugin
//! names cannot contain `\0` (checked when the tenant / plugin is created),
//! so the scope prefix is unambiguous: whatever bytes a guest puts in its
//! key — separators included — only ever extend its own prefix, and prefix
//! scans start from that prefix too.
//!
//! Quotas (key count and bytes per scope) live in a second tree and are
//! updated in the same sled transaction as the data, so they stay exact
//! under concurrent invocations.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use wasmtime::component::Linker;

use super::{Granted, HasCap};
use crate::bindings::switchyard::plugin::kv::{self, Error, Host};
use crate::limits::TenantLimits;
use crate::transcript::{Answer, Ask, taped};

/// Longest key a plugin may use, bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Plugin key-value data: one tree of values, one of per-scope usage.
#[derive(Clone)]
pub struct KvStore {
    data: sled::Tree,
    usage: sled::Tree,
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

fn abort(e: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(e)
}

fn flatten(e: TransactionError<Error>) -> Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => unavailable(e),
    }
}

/// (key count, bytes) of a scope, as stored in the usage tree.
fn decode_usage(v: Option<sled::IVec>) -> (u64, u64) {
    match v.as_deref() {
        Some(b) if b.len() == 16 => (
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(b[8..].try_into().expect("8 bytes")),
        ),
        _ => (0, 0),
    }
}

fn encode_usage(keys: u64, bytes: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&keys.to_le_bytes());
    out[8..].copy_from_slice(&bytes.to_le_bytes());
    out
}

impl KvStore {
    /// Opens the plugin trees in `db`.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            data: db.open_tree("plugin-kv")?,
            usage: db.open_tree("plugin-kv-usage")?,
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

    /// Usage key of this scope (the prefix itself).
    fn usage_key(&self) -> &[u8] {
        &self.prefix
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
        (&self.store.data, &self.store.usage)
            .transaction(|(data, usage)| {
                let old = data.get(&k)?;
                let (new, out) = f(old.as_deref()).map_err(abort)?;
                let (mut keys, mut bytes) = decode_usage(usage.get(self.usage_key())?);
                if let Some(o) = &old {
                    keys -= 1;
                    bytes = bytes.saturating_sub(key_len + o.len() as u64);
                }
                match &new {
                    Some(v) => {
                        if v.len() > quota.max_value_bytes {
                            return Err(abort(Error::TooLarge));
                        }
                        keys += 1;
                        bytes += key_len + v.len() as u64;
                        if keys > quota.max_keys || bytes > quota.max_bytes {
                            return Err(abort(Error::QuotaExceeded));
                        }
                        data.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        data.remove(k.as_slice())?;
                    }
                }
                usage.insert(self.usage_key(), &encode_usage(keys, bytes))?;
                Ok(out)
            })
            .map_err(flatten)
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
