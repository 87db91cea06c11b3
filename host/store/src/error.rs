//! The one error type of the store.

use sled::transaction::TransactionError;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a blob under `<dir>/files/` failed.
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The sled database failed.
    #[error("store database: {0}")]
    Sled(#[from] sled::Error),
    /// Something on disk does not decode (or a blob does not match its hash).
    #[error("store: corrupt data: {0}")]
    Corrupt(String),
    /// A value that must be unique is taken (a domain, a DID, a version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A record the operation needs does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A field of the input is not acceptable; `field` names it.
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The data directory was written by a newer Switchyard.
    #[error(
        "the store was written by schema version {found} but this build supports up to \
         {supported}: run a newer Switchyard or restore a backup"
    )]
    SchemaTooNew { found: u32, supported: u32 },
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> StoreError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}
