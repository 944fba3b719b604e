//! Turning values into stored bytes and back, and store errors into wacore's.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wacore::store::error::{Result, StoreError};

/// A database error, with its cause kept for wacore's retry checks ("database is locked").
pub(crate) fn db(e: wagate_store::StoreError) -> StoreError {
    StoreError::Database(Box::new(e))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Serialization(Box::new(e)))
}

pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Serialization(Box::new(e)))
}

/// A stored value that must have exactly `N` bytes.
pub(crate) fn array<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| StoreError::Validation(format!("stored {what} has {} bytes, not {N}", bytes.len())))
}

/// The one-byte flags (prekey uploaded, device has sender key).
pub(crate) fn flag(bytes: &[u8], what: &str) -> Result<bool> {
    match bytes {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(StoreError::Validation(format!("stored {what} is not a flag"))),
    }
}
