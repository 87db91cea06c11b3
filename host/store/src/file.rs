//! Prompts, recordings and voicemails: a record in the `files` tree and
//! the bytes in `<dir>/files/<kind>/<tenant>/<id>`.
//!
//! `kind` is one of [`FILE_KINDS`]; tenant and id are validated (a slug;
//! no `/`, `\`, `..`, NUL or control characters) so a path built from
//! them never leaves the data directory.
//!
//! The bytes each tenant stores of each kind are kept as a running total
//! (tree `file_bytes`, `tenant \0 kind` → big-endian `u64`), changed in
//! the same transaction as the record, so that a storage cap can be
//! checked per call without reading every record
//! ([`FileRepo::stored_bytes`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::keys::{key, prefix, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, decode, encode, get_json, list_json, write_file_durable};

/// The kinds of tenant files.
pub const FILE_KINDS: [&str; 3] = ["prompt", "recording", "voicemail"];

/// Metadata of a stored file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub tenant: String,
    /// `prompt`, `recording` or `voicemail`.
    pub kind: String,
    pub id: String,
    /// Display name (e.g. the uploaded file name).
    pub name: String,
    pub content_type: String,
    /// Set from the bytes by [`FileRepo::put_file`].
    pub size: u64,
    pub created_at_ms: u64,
    pub meta: BTreeMap<String, String>,
}

pub trait FileRepo {
    /// Store the bytes (durably, replacing a file with the same id) and
    /// the record; returns the record as stored (`size` set from `bytes`).
    /// The tenant must exist.
    fn put_file(&self, record: &FileRecord, bytes: &[u8]) -> Result<FileRecord, StoreError>;
    /// The record and the path of its bytes.
    fn get_file(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<(FileRecord, PathBuf)>, StoreError>;
    fn list_files(&self, tenant: &str, kind: &str) -> Result<Vec<FileRecord>, StoreError>;
    /// Remove the record and the bytes; whether the record existed.
    fn delete_file(&self, tenant: &str, kind: &str, id: &str) -> Result<bool, StoreError>;
    /// The bytes of the tenant's files of `kind`, all together.
    fn stored_bytes(&self, tenant: &str, kind: &str) -> Result<u64, StoreError>;
}

type TxResult<T> = sled::transaction::ConflictableTransactionResult<T, StoreError>;

/// Add `delta` to the running total under `k`.
fn add_bytes(
    totals: &TransactionalTree,
    k: &[u8],
    delta: i128,
) -> Result<(), sled::transaction::UnabortableTransactionError> {
    let now = totals.get(k)?.map(|v| read_total(&v)).unwrap_or(0);
    let next = (i128::from(now) + delta).clamp(0, i128::from(u64::MAX)) as u64;
    totals.insert(k, &next.to_be_bytes())?;
    Ok(())
}

fn read_total(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// Recount every tenant's totals from the records (the schema 2
/// migration: stores from before the totals; idempotent).
pub(crate) fn recount_file_bytes(db: &sled::Db) -> Result<(), StoreError> {
    let files = db.open_tree("files")?;
    let totals = db.open_tree("file_bytes")?;
    let mut sums: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for kv in files.iter() {
        let r: FileRecord = decode(&kv?.1)?;
        *sums
            .entry(key(&[r.tenant.as_bytes(), r.kind.as_bytes()]))
            .or_default() += r.size;
    }
    totals.clear()?;
    for (k, n) in sums {
        totals.insert(k, &n.to_be_bytes())?;
    }
    db.flush()?;
    Ok(())
}

fn validate_kind(kind: &str) -> Result<(), StoreError> {
    if FILE_KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "kind",
            format!("{kind:?} is not prompt, recording or voicemail"),
        ))
    }
}

fn validate_ids(tenant: &str, kind: &str, id: &str) -> Result<(), StoreError> {
    validate_tenant_id(tenant)?;
    validate_kind(kind)?;
    validate_name("id", id)?;
    if id.starts_with('.') {
        // Hidden names are reserved for temporary files.
        return Err(StoreError::invalid("id", "must not start with '.'"));
    }
    Ok(())
}

impl Store {
    fn file_path(&self, tenant: &str, kind: &str, id: &str) -> PathBuf {
        self.files_dir().join(kind).join(tenant).join(id)
    }
}

impl FileRepo for Store {
    fn put_file(&self, record: &FileRecord, bytes: &[u8]) -> Result<FileRecord, StoreError> {
        validate_ids(&record.tenant, &record.kind, &record.id)?;
        validate_text("name", &record.name, 256)?;
        validate_text("content_type", &record.content_type, 128)?;
        for (k, v) in &record.meta {
            validate_text("meta", k, 128)?;
            validate_text("meta", v, 4096)?;
        }
        self.require_tenant(&record.tenant)?;
        let mut stored = record.clone();
        stored.size = bytes.len() as u64;
        write_file_durable(
            &self.file_path(&record.tenant, &record.kind, &record.id),
            bytes,
        )?;
        let k = key(&[
            record.tenant.as_bytes(),
            record.kind.as_bytes(),
            record.id.as_bytes(),
        ]);
        let total = key(&[record.tenant.as_bytes(), record.kind.as_bytes()]);
        let value = encode(&stored);
        let t = self.t();
        (&t.files, &t.file_bytes).transaction(|(files, totals)| -> TxResult<()> {
            let replaced = match files.insert(k.as_slice(), value.as_slice())? {
                Some(old) => {
                    decode::<FileRecord>(&old)
                        .map_err(ConflictableTransactionError::Abort)?
                        .size
                }
                None => 0,
            };
            add_bytes(
                totals,
                &total,
                i128::from(stored.size) - i128::from(replaced),
            )?;
            Ok(())
        })?;
        self.durable()?;
        Ok(stored)
    }

    fn get_file(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<(FileRecord, PathBuf)>, StoreError> {
        validate_ids(tenant, kind, id)?;
        let k = key(&[tenant.as_bytes(), kind.as_bytes(), id.as_bytes()]);
        Ok(get_json::<FileRecord>(&self.t().files, &k)?
            .map(|r| (r, self.file_path(tenant, kind, id))))
    }

    fn list_files(&self, tenant: &str, kind: &str) -> Result<Vec<FileRecord>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_kind(kind)?;
        list_json(
            &self.t().files,
            &prefix(&[tenant.as_bytes(), kind.as_bytes()]),
        )
    }

    fn delete_file(&self, tenant: &str, kind: &str, id: &str) -> Result<bool, StoreError> {
        validate_ids(tenant, kind, id)?;
        let k = key(&[tenant.as_bytes(), kind.as_bytes(), id.as_bytes()]);
        // The record first: a crash in between leaves an unreferenced file
        // rather than a record without bytes.
        let total = key(&[tenant.as_bytes(), kind.as_bytes()]);
        let t = self.t();
        let existed =
            (&t.files, &t.file_bytes).transaction(|(files, totals)| -> TxResult<bool> {
                let Some(old) = files.remove(k.as_slice())? else {
                    return Ok(false);
                };
                let old: FileRecord = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                add_bytes(totals, &total, -i128::from(old.size))?;
                Ok(true)
            })?;
        self.durable()?;
        match std::fs::remove_file(self.file_path(tenant, kind, id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        Ok(existed)
    }

    fn stored_bytes(&self, tenant: &str, kind: &str) -> Result<u64, StoreError> {
        validate_tenant_id(tenant)?;
        validate_kind(kind)?;
        let k = key(&[tenant.as_bytes(), kind.as_bytes()]);
        Ok(self
            .t()
            .file_bytes
            .get(k)?
            .map(|v| read_total(&v))
            .unwrap_or(0))
    }
}
