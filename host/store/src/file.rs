//! Prompts, recordings and voicemails: a record in the `files` tree and
//! the bytes in `<dir>/files/<kind>/<tenant>/<id>`.
//!
//! `kind` is one of [`FILE_KINDS`]; tenant and id are validated (a slug;
//! no `/`, `\`, `..`, NUL or control characters) so a path built from
//! them never leaves the data directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, get_json, list_json, write_file_durable};

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
        self.put_durable(&self.t().files, k, &stored)?;
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
        let existed = self.delete_durable(&self.t().files, k)?;
        match std::fs::remove_file(self.file_path(tenant, kind, id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        Ok(existed)
    }
}
