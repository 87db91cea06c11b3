//! Schema version and migrations.
//!
//! The `meta` tree holds `schema_version` (a big-endian `u32`). At open the
//! store runs, in order, every migration from the stored version up to
//! [`CURRENT_SCHEMA`]; a store written by a newer schema is refused rather
//! than misread. Each step is recorded (and flushed) as soon as it has run,
//! so an interrupted upgrade resumes at the step that did not finish;
//! migrations must therefore be idempotent.

use crate::StoreError;

/// The schema this build reads and writes.
pub const CURRENT_SCHEMA: u32 = 3;

/// One migration step: upgrades a database from version `n` to `n + 1`.
pub type Migration = fn(&sled::Db) -> Result<(), StoreError>;

/// The migrations of this build: `MIGRATIONS[i]` upgrades version `i + 1`
/// to `i + 2`. Its length is always `CURRENT_SCHEMA - 1`.
pub const MIGRATIONS: &[Migration] = &[
    // 1 → 2: running totals of each tenant's file bytes.
    crate::file::recount_file_bytes,
    // 2 → 3: the tenants' caller rules keyed under the tenant's prefix.
    crate::caller_rules::rekey_tenant_rules,
];

const _: () = assert!(MIGRATIONS.len() as u32 + 1 == CURRENT_SCHEMA);

const META: &str = "meta";
const VERSION_KEY: &str = "schema_version";

/// The version stored in `db`, `None` for a database that has none yet.
pub fn stored_version(db: &sled::Db) -> Result<Option<u32>, StoreError> {
    let meta = db.open_tree(META)?;
    match meta.get(VERSION_KEY)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 4] = v
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("meta schema_version is not 4 bytes".into()))?;
            Ok(Some(u32::from_be_bytes(bytes)))
        }
    }
}

/// Record `version` as the schema of `db`, durably.
pub fn set_version(db: &sled::Db, version: u32) -> Result<(), StoreError> {
    db.open_tree(META)?
        .insert(VERSION_KEY, &version.to_be_bytes())?;
    db.flush()?;
    Ok(())
}

/// Bring `db` to schema `target` with `migrations` (`migrations[i]`
/// upgrades `i + 1` to `i + 2`). A database without a version is new and
/// is stamped with `target` directly. Returns the version found.
///
/// [`crate::Store::open`] calls this with [`CURRENT_SCHEMA`] and
/// [`MIGRATIONS`]; it is public so that migrations can be tested against
/// real databases.
pub fn migrate(
    db: &sled::Db,
    target: u32,
    migrations: &[Migration],
) -> Result<Option<u32>, StoreError> {
    let found = stored_version(db)?;
    let Some(mut version) = found else {
        set_version(db, target)?;
        return Ok(None);
    };
    if version > target {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: target,
        });
    }
    if version == 0 {
        return Err(StoreError::Corrupt("schema_version 0".into()));
    }
    while version < target {
        let step = migrations
            .get(version as usize - 1)
            .ok_or_else(|| StoreError::Corrupt(format!("no migration from schema {version}")))?;
        step(db)?;
        version += 1;
        set_version(db, version)?;
    }
    Ok(found)
}
