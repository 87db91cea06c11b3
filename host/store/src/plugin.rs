//! Plugin versions, activation and roles; component bytes stored
//! content-addressed under `<dir>/files/plugins/<sha256>.wasm`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::keys::{key, prefix, validate_hex, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, encode, get_json, list_json, write_file_durable};

/// One uploaded version of a tenant's plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginVersionRecord {
    pub tenant: String,
    pub name: String,
    /// 1, 2, … per (tenant, name).
    pub number: u32,
    /// The WIT world it implements (`call-flow`, `queue-strategy`…).
    pub world: String,
    /// SHA-256 of the component bytes, lower-case hex.
    pub sha256: String,
    pub size: u64,
    pub created_at_ms: u64,
    pub config: BTreeMap<String, String>,
    /// Installed from the operator's catalogue: `name@version` there
    /// (an upgrade follows that name).
    #[serde(default)]
    pub source: Option<String>,
}

pub trait PluginRepo {
    /// Store the component bytes (content-addressed, durable) and the
    /// record. `record.sha256` and `record.size` must describe `bytes`; a
    /// version number already used for (tenant, name) is a conflict. The
    /// tenant must exist.
    fn add_version(&self, record: &PluginVersionRecord, bytes: &[u8]) -> Result<(), StoreError>;
    /// One version.
    fn version(
        &self,
        tenant: &str,
        name: &str,
        number: u32,
    ) -> Result<Option<PluginVersionRecord>, StoreError>;
    /// The versions of one plugin, oldest (lowest number) first.
    fn versions(&self, tenant: &str, name: &str) -> Result<Vec<PluginVersionRecord>, StoreError>;
    /// Every version of every plugin of the tenant, by name then number.
    fn all_versions(&self, tenant: &str) -> Result<Vec<PluginVersionRecord>, StoreError>;
    /// The component bytes with this SHA-256 (checked on read: a blob that
    /// no longer matches its hash is [`StoreError::Corrupt`]).
    fn plugin_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError>;
    /// Make a stored version the active one; `NotFound` if it is not stored.
    fn set_active(&self, tenant: &str, name: &str, number: u32) -> Result<(), StoreError>;
    /// The active version number of a plugin.
    fn active(&self, tenant: &str, name: &str) -> Result<Option<u32>, StoreError>;
    /// Store the tenant's plugin roles: JSON owned by the caller.
    fn set_roles(&self, tenant: &str, json: &str) -> Result<(), StoreError>;
    fn roles(&self, tenant: &str) -> Result<Option<String>, StoreError>;
    /// Start (or replace) a plugin's canary; `None` ends it. The version
    /// must be stored.
    fn set_canary(
        &self,
        tenant: &str,
        name: &str,
        canary: Option<&CanaryRecord>,
    ) -> Result<(), StoreError>;
    /// The plugin's canary, if one runs.
    fn canary(&self, tenant: &str, name: &str) -> Result<Option<CanaryRecord>, StoreError>;
}

/// A canary release of a plugin: `version` decides the calls of `percent`
/// of callers beside the active version, until promoted, ended, or stopped
/// by the host for failing (`min_decisions`, `margin_pct`) — then it stays
/// recorded, with why, until the next canary or an end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryRecord {
    pub version: u32,
    pub percent: u8,
    pub min_decisions: u64,
    pub margin_pct: f64,
    pub started_ms: u64,
    /// Stopped by the host, and why: it decides no calls.
    #[serde(default)]
    pub stopped: Option<String>,
}

fn version_key(tenant: &str, name: &str, number: u32) -> Vec<u8> {
    let mut k = prefix(&[tenant.as_bytes(), name.as_bytes()]);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

impl Store {
    pub(crate) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.files_dir()
            .join("plugins")
            .join(format!("{sha256}.wasm"))
    }

    /// Remove the blobs of `shas` that no stored version references any
    /// more (after a tenant is deleted).
    pub(crate) fn collect_plugin_blobs(&self, shas: &BTreeSet<String>) -> Result<(), StoreError> {
        if shas.is_empty() {
            return Ok(());
        }
        let mut unused = shas.clone();
        for kv in self.t().plugin_versions.iter() {
            let v: PluginVersionRecord = crate::decode(&kv?.1)?;
            unused.remove(&v.sha256);
        }
        // The catalogue's components stay for the next tenant to install.
        for kv in self.t().catalogue.iter() {
            let e: crate::CatalogueEntry = crate::decode(&kv?.1)?;
            unused.remove(&e.sha256);
        }
        for sha in unused {
            match std::fs::remove_file(self.blob_path(&sha)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

impl PluginRepo for Store {
    fn add_version(&self, r: &PluginVersionRecord, bytes: &[u8]) -> Result<(), StoreError> {
        validate_name("name", &r.name)?;
        validate_text("world", &r.world, 64)?;
        validate_hex("sha256", &r.sha256, 64)?;
        if hex::encode(Sha256::digest(bytes)) != r.sha256 {
            return Err(StoreError::invalid("sha256", "does not match the bytes"));
        }
        if r.size != bytes.len() as u64 {
            return Err(StoreError::invalid("size", "does not match the bytes"));
        }
        self.require_tenant(&r.tenant)?;
        let k = version_key(&r.tenant, &r.name, r.number);
        if self.t().plugin_versions.contains_key(&k)? {
            return Err(StoreError::Conflict(format!(
                "plugin {} version {} exists",
                r.name, r.number
            )));
        }
        // The blob first: a record never points at missing bytes. Same
        // hash, same bytes: an existing blob is kept as it is.
        let path = self.blob_path(&r.sha256);
        if !path.exists() {
            write_file_durable(&path, bytes)?;
        }
        let inserted = self.t().plugin_versions.compare_and_swap(
            &k,
            None as Option<&[u8]>,
            Some(encode(r)),
        )?;
        if inserted.is_err() {
            return Err(StoreError::Conflict(format!(
                "plugin {} version {} exists",
                r.name, r.number
            )));
        }
        self.durable()
    }

    fn version(
        &self,
        tenant: &str,
        name: &str,
        number: u32,
    ) -> Result<Option<PluginVersionRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        get_json(
            &self.t().plugin_versions,
            &version_key(tenant, name, number),
        )
    }

    fn versions(&self, tenant: &str, name: &str) -> Result<Vec<PluginVersionRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        list_json(
            &self.t().plugin_versions,
            &prefix(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn all_versions(&self, tenant: &str) -> Result<Vec<PluginVersionRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().plugin_versions, &prefix(&[tenant.as_bytes()]))
    }

    fn plugin_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        validate_hex("sha256", sha256, 64)?;
        let bytes = match std::fs::read(self.blob_path(sha256)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(format!("plugin bytes {sha256}")));
            }
            Err(e) => return Err(e.into()),
        };
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(StoreError::Corrupt(format!(
                "plugin bytes {sha256} do not match their hash"
            )));
        }
        Ok(bytes)
    }

    fn set_active(&self, tenant: &str, name: &str, number: u32) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        let vk = version_key(tenant, name, number);
        let ak = key(&[tenant.as_bytes(), name.as_bytes()]);
        let t = self.t();
        // In one transaction with the version check, so a version deleted
        // meanwhile is never activated.
        (&t.plugin_versions, &t.plugin_active).transaction(|(versions, active)| {
            if versions.get(vk.as_slice())?.is_none() {
                return Err(ConflictableTransactionError::Abort(StoreError::NotFound(
                    format!("plugin {name} version {number}"),
                )));
            }
            active.insert(ak.as_slice(), &number.to_be_bytes())?;
            Ok(())
        })?;
        self.durable()
    }

    fn set_canary(
        &self,
        tenant: &str,
        name: &str,
        canary: Option<&CanaryRecord>,
    ) -> Result<(), StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        let k = key(&[tenant.as_bytes(), name.as_bytes()]);
        match canary {
            None => {
                self.delete_durable(&self.t().plugin_canary, k)?;
                Ok(())
            }
            Some(c) => {
                if !(1..=99).contains(&c.percent) {
                    return Err(StoreError::invalid("percent", "must be 1 to 99"));
                }
                if !(0.0..=100.0).contains(&c.margin_pct) {
                    return Err(StoreError::invalid("margin_pct", "must be 0 to 100"));
                }
                if self.version(tenant, name, c.version)?.is_none() {
                    return Err(StoreError::NotFound(format!(
                        "plugin {name} version {}",
                        c.version
                    )));
                }
                self.put_durable(&self.t().plugin_canary, k, c)
            }
        }
    }

    fn canary(&self, tenant: &str, name: &str) -> Result<Option<CanaryRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        get_json(
            &self.t().plugin_canary,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn active(&self, tenant: &str, name: &str) -> Result<Option<u32>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        match self
            .t()
            .plugin_active
            .get(key(&[tenant.as_bytes(), name.as_bytes()]))?
        {
            None => Ok(None),
            Some(v) => {
                let b: [u8; 4] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("active version is not 4 bytes".into()))?;
                Ok(Some(u32::from_be_bytes(b)))
            }
        }
    }

    fn set_roles(&self, tenant: &str, json: &str) -> Result<(), StoreError> {
        if serde_json::from_str::<serde_json::Value>(json).is_err() {
            return Err(StoreError::invalid("roles", "is not JSON"));
        }
        self.require_tenant(tenant)?;
        // Keyed `tenant \0` like every tenant-owned record, so the tenant
        // sweep removes it.
        self.t()
            .plugin_roles
            .insert(prefix(&[tenant.as_bytes()]), json.as_bytes())?;
        self.durable()
    }

    fn roles(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        validate_tenant_id(tenant)?;
        match self.t().plugin_roles.get(prefix(&[tenant.as_bytes()]))? {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| StoreError::Corrupt("roles are not UTF-8".into())),
        }
    }
}
