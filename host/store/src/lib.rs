//! The embedded store (sled): one tree per entity, tenant-prefixed keys
//! (`tenant \0 …`) so a prefix scan sees one tenant and nothing else.
//!
//! What is flushed when:
//! * call records: flushed to disk before [`Store::insert_cdr`] returns —
//!   a CDR written is a CDR kept, even if the process is killed next;
//! * registrations: written at once, flushed by sled's periodic flush
//!   (every 500 ms) and on drop. They are the hot write path, and a phone
//!   refreshes its registration anyway.
//!
//! The repositories are traits ([`RegistrationRepo`], [`CdrRepo`]) so that
//! another backend can serve a multi-node deployment; sled stays the
//! embedded default.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: corrupt record: {0}")]
    Corrupt(String),
    #[error("store was written by schema version {found}, this build reads up to {supported}")]
    SchemaTooNew { found: u32, supported: u32 },
}

/// The schema this build writes.
pub const CURRENT_SCHEMA: u32 = 1;

/// One registered contact of an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub tenant: String,
    pub extension: String,
    /// The Contact URI as registered.
    pub contact: String,
    pub expires_at_ms: u64,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from (`ip:port`): requests to this contact
    /// go there (NAT-friendly, like `rport`).
    pub source: String,
    /// `UDP` or `TCP`.
    pub transport: String,
    pub user_agent: Option<String>,
}

/// One leg of a call record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrLeg {
    pub target: String,
    pub start_ms: u64,
    pub answer_ms: Option<u64>,
    pub end_ms: u64,
    pub sip_code: u16,
}

/// A call detail record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    pub id: String,
    pub tenant: String,
    pub call_id: String,
    pub direction: String,
    pub caller: String,
    pub callee: String,
    pub dialled: String,
    pub start_ms: u64,
    pub answer_ms: Option<u64>,
    pub end_ms: u64,
    pub disposition: String,
    pub hangup_by: Option<String>,
    pub sip_code: u16,
    pub agent: Option<String>,
    pub tags: Vec<String>,
    pub flow_plugin: Option<String>,
    pub plugin_version: Option<u32>,
    pub legs: Vec<CdrLeg>,
}

pub trait RegistrationRepo {
    fn put_binding(&self, b: &Binding) -> Result<(), StoreError>;
    fn remove_binding(&self, tenant: &str, ext: &str, contact: &str) -> Result<(), StoreError>;
    fn remove_all_bindings(&self, tenant: &str, ext: &str) -> Result<(), StoreError>;
    /// Unexpired bindings of one extension.
    fn bindings(&self, tenant: &str, ext: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError>;
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError>;
}

pub trait CdrRepo {
    /// Durable when it returns.
    fn insert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError>;
    /// One tenant's records, oldest first.
    fn cdrs(&self, tenant: &str) -> Result<Vec<Cdr>, StoreError>;
}

/// The sled store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    bindings: sled::Tree,
    cdrs: sled::Tree,
}

fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = key(parts);
    k.push(0);
    k
}

fn decode<T: for<'de> Deserialize<'de>>(v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .flush_every_ms(Some(500))
            .open()?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", &CURRENT_SCHEMA.to_be_bytes())?;
                db.flush()?;
            }
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("schema_version".into()))?,
                );
                if found > CURRENT_SCHEMA {
                    return Err(StoreError::SchemaTooNew {
                        found,
                        supported: CURRENT_SCHEMA,
                    });
                }
            }
        }
        Ok(Store {
            bindings: db.open_tree("bindings")?,
            cdrs: db.open_tree("cdrs")?,
            db,
        })
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

impl RegistrationRepo for Store {
    fn put_binding(&self, b: &Binding) -> Result<(), StoreError> {
        self.bindings
            .insert(key(&[&b.tenant, &b.extension, &b.contact]), encode(b))?;
        Ok(())
    }
    fn remove_binding(&self, tenant: &str, ext: &str, contact: &str) -> Result<(), StoreError> {
        self.bindings.remove(key(&[tenant, ext, contact]))?;
        Ok(())
    }
    fn remove_all_bindings(&self, tenant: &str, ext: &str) -> Result<(), StoreError> {
        for kv in self.bindings.scan_prefix(prefix(&[tenant, ext])) {
            self.bindings.remove(kv?.0)?;
        }
        Ok(())
    }
    fn bindings(&self, tenant: &str, ext: &str, now_ms: u64) -> Result<Vec<Binding>, StoreError> {
        let mut out = Vec::new();
        for kv in self.bindings.scan_prefix(prefix(&[tenant, ext])) {
            let b: Binding = decode(&kv?.1)?;
            if b.expires_at_ms > now_ms {
                out.push(b);
            }
        }
        Ok(out)
    }
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut n = 0;
        for kv in self.bindings.iter() {
            let (k, v) = kv?;
            let b: Binding = decode(&v)?;
            if b.expires_at_ms <= now_ms {
                self.bindings.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl CdrRepo for Store {
    fn insert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError> {
        let mut k = prefix(&[&cdr.tenant]);
        k.extend_from_slice(&cdr.start_ms.to_be_bytes());
        k.extend_from_slice(cdr.id.as_bytes());
        self.cdrs.insert(k, encode(cdr))?;
        self.db.flush()?;
        Ok(())
    }
    fn cdrs(&self, tenant: &str) -> Result<Vec<Cdr>, StoreError> {
        self.cdrs
            .scan_prefix(prefix(&[tenant]))
            .map(|kv| decode(&kv?.1))
            .collect()
    }
}
