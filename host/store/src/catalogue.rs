//! The operator's plugin catalogue: partners' components published once
//! (name, version, world, description, a JSON schema for their settings,
//! the hosts they call), which every tenant may install with its own
//! settings. The bytes share the content-addressed plugin blobs; a
//! tenant's install is an ordinary plugin version of that tenant that
//! remembers where it came from ([`crate::PluginVersionRecord::source`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{validate_hex, validate_name, validate_text};
use crate::{Store, StoreError, all_json, encode, get_json, write_file_durable};

/// One published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub name: String,
    /// 1, 2, … per name.
    pub version: u32,
    /// The WIT world (`crm-connector`, `reporter`…).
    pub world: String,
    #[serde(default)]
    pub description: String,
    /// A JSON Schema for the settings a tenant gives it (an object of
    /// setting → value); `None`: any settings.
    #[serde(default)]
    pub config_schema: Option<serde_json::Value>,
    /// Hosts it calls over HTTP (what a tenant's allowlist may grant it).
    #[serde(default)]
    pub hosts: Vec<String>,
    pub sha256: String,
    pub size: u64,
    pub published_ms: u64,
}

fn entry_key(name: &str, version: u32) -> Vec<u8> {
    let mut k = name.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub trait CatalogueRepo {
    /// Publish `entry` with its component `bytes` (version numbers are
    /// written once: [`StoreError::Conflict`] for one taken).
    fn publish(&self, entry: &CatalogueEntry, bytes: &[u8]) -> Result<(), StoreError>;
    /// Change a published version's description, schema and hosts (the
    /// component stays as published).
    fn describe(&self, entry: &CatalogueEntry) -> Result<(), StoreError>;
    /// Every published version, by name then version.
    fn catalogue(&self) -> Result<Vec<CatalogueEntry>, StoreError>;
    fn catalogue_entry(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<CatalogueEntry>, StoreError>;
}

fn validate(e: &CatalogueEntry) -> Result<(), StoreError> {
    validate_name("name", &e.name)?;
    validate_text("world", &e.world, 64)?;
    validate_text("description", &e.description, 2000)?;
    validate_hex("sha256", &e.sha256, 64)?;
    if e.hosts.len() > 50 {
        return Err(StoreError::invalid("hosts", "more than 50"));
    }
    for h in &e.hosts {
        validate_text("hosts", h, 253)?;
    }
    Ok(())
}

impl CatalogueRepo for Store {
    fn publish(&self, e: &CatalogueEntry, bytes: &[u8]) -> Result<(), StoreError> {
        validate(e)?;
        if hex::encode(Sha256::digest(bytes)) != e.sha256 || e.size != bytes.len() as u64 {
            return Err(StoreError::invalid("sha256", "does not match the bytes"));
        }
        let path = self.blob_path(&e.sha256);
        if !path.exists() {
            write_file_durable(&path, bytes)?;
        }
        let k = entry_key(&e.name, e.version);
        let inserted =
            self.t()
                .catalogue
                .compare_and_swap(&k, None as Option<&[u8]>, Some(encode(e)))?;
        if inserted.is_err() {
            return Err(StoreError::Conflict(format!(
                "{} version {} is published already",
                e.name, e.version
            )));
        }
        self.durable()
    }

    fn describe(&self, e: &CatalogueEntry) -> Result<(), StoreError> {
        validate(e)?;
        let k = entry_key(&e.name, e.version);
        let Some(old) = get_json::<CatalogueEntry>(&self.t().catalogue, &k)? else {
            return Err(StoreError::NotFound(format!(
                "{} version {}",
                e.name, e.version
            )));
        };
        let kept = CatalogueEntry {
            world: old.world,
            sha256: old.sha256,
            size: old.size,
            published_ms: old.published_ms,
            ..e.clone()
        };
        self.put_durable(&self.t().catalogue, k, &kept)
    }

    fn catalogue(&self) -> Result<Vec<CatalogueEntry>, StoreError> {
        all_json(&self.t().catalogue)
    }

    fn catalogue_entry(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<CatalogueEntry>, StoreError> {
        validate_name("name", name)?;
        get_json(&self.t().catalogue, &entry_key(name, version))
    }
}
