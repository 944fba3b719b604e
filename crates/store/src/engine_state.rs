//! Engine state: what an engine keeps for a session (for whatsapp-rust: the linked
//! device's identity, Signal sessions and keys, app-state keys…), stored as bytes under a
//! `(kind, key)` the engine chooses. The store does not know what the bytes mean; it
//! offers reads, batches of writes applied in one transaction, an atomic take, sweeps by
//! stamp, and read-modify-write transactions that are serialised per session.
//!
//! Keys compare byte by byte on both backends (SQLite's BINARY collation, collation "C"
//! on Postgres), so listings come back in the same order everywhere and a key prefix is
//! a range of the primary key.

mod queries;

use std::collections::HashMap;

use sqlx::Row;
use wagate_types::{SessionId, TenantId};

use crate::{Backend, Result, Store, StoreError};
use queries::{apply, get, get_many, keys, list};

/// One write to a session's engine state. A batch of them is applied in order, in one
/// transaction: all of it is stored or none.
#[derive(Clone, PartialEq, Eq)]
pub enum EngineWrite {
    /// Stores `value` at `(kind, key)`, replacing what was there. `stamp` is a number the
    /// engine can later sweep rows by ([`EngineState::delete_stamped_before`]).
    Put {
        kind: String,
        key: String,
        value: Vec<u8>,
        stamp: Option<i64>,
    },
    Delete {
        kind: String,
        key: String,
    },
    /// Deletes every key of `kind` that starts with `prefix`.
    DeletePrefix {
        kind: String,
        prefix: String,
    },
    /// Deletes every key of `kind`.
    DeleteKind {
        kind: String,
    },
}

impl EngineWrite {
    pub fn put(kind: &str, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self::Put { kind: kind.to_owned(), key: key.into(), value: value.into(), stamp: None }
    }

    pub fn put_stamped(kind: &str, key: impl Into<String>, value: impl Into<Vec<u8>>, stamp: i64) -> Self {
        Self::Put { kind: kind.to_owned(), key: key.into(), value: value.into(), stamp: Some(stamp) }
    }

    pub fn delete(kind: &str, key: impl Into<String>) -> Self {
        Self::Delete { kind: kind.to_owned(), key: key.into() }
    }

    pub fn delete_prefix(kind: &str, prefix: impl Into<String>) -> Self {
        Self::DeletePrefix { kind: kind.to_owned(), prefix: prefix.into() }
    }

    pub fn delete_kind(kind: &str) -> Self {
        Self::DeleteKind { kind: kind.to_owned() }
    }
}

/// Values are credentials (private keys among them): `Debug` shows only their size, so a
/// logged write cannot leak one.
impl std::fmt::Debug for EngineWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Put { kind, key, value, stamp } => f
                .debug_struct("Put")
                .field("kind", kind)
                .field("key", key)
                .field("value", &format_args!("<{} bytes>", value.len()))
                .field("stamp", stamp)
                .finish(),
            Self::Delete { kind, key } => f.debug_struct("Delete").field("kind", kind).field("key", key).finish(),
            Self::DeletePrefix { kind, prefix } => {
                f.debug_struct("DeletePrefix").field("kind", kind).field("prefix", prefix).finish()
            }
            Self::DeleteKind { kind } => f.debug_struct("DeleteKind").field("kind", kind).finish(),
        }
    }
}

impl Store {
    /// The engine state of one session of `tenant`.
    pub fn engine_state(&self, tenant: &TenantId, session: SessionId) -> EngineState {
        EngineState {
            store: self.clone(),
            scope: Scope { tenant: tenant.as_str().to_owned(), session: session.to_string() },
            cleared: Default::default(),
        }
    }
}

/// Which rows a handle sees: one session of one tenant.
#[derive(Clone, Debug)]
struct Scope {
    tenant: String,
    session: String,
}

/// The engine state of one session; cheap to clone.
#[derive(Clone, Debug)]
pub struct EngineState {
    store: Store,
    scope: Scope,
    /// Set by [`clear`](EngineState::clear), shared by this handle's clones: an engine's
    /// background work that ends after a logout must not write the void credentials back.
    cleared: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EngineState {
    pub async fn get(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        get(&mut *self.store.pool.acquire().await?, &self.scope, kind, key).await
    }

    /// The values of those `keys` of `kind` that exist.
    pub async fn get_many<K: AsRef<str>>(&self, kind: &str, keys: &[K]) -> Result<HashMap<String, Vec<u8>>> {
        let mut conn = self.store.pool.acquire().await?;
        get_many(&mut conn, self.store.backend, &self.scope, kind, keys).await
    }

    /// Every key and value of `kind` (whose key starts with `prefix`, if given), by key.
    pub async fn list(&self, kind: &str, prefix: Option<&str>) -> Result<Vec<(String, Vec<u8>)>> {
        let mut conn = self.store.pool.acquire().await?;
        list(&mut conn, self.store.backend, &self.scope, kind, prefix).await
    }

    /// Like [`list`](Self::list) without the values.
    pub async fn keys(&self, kind: &str, prefix: Option<&str>) -> Result<Vec<String>> {
        let mut conn = self.store.pool.acquire().await?;
        keys(&mut conn, self.store.backend, &self.scope, kind, prefix).await
    }

    /// Applies `writes` in order, in one transaction.
    pub async fn apply(&self, writes: &[EngineWrite]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        tx.apply(writes).await?;
        tx.commit().await
    }

    /// Removes the value at `(kind, key)` and returns it: of several callers taking the
    /// same key at once, exactly one gets it.
    pub async fn take(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let mut tx = self.begin().await?;
        let taken = tx.take(kind, key).await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Deletes the rows of `kind` whose stamp is below `cutoff`; returns how many.
    pub async fn delete_stamped_before(&self, kind: &str, cutoff: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let deleted = tx.delete_stamped_before(kind, cutoff).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes all of the session's engine state (logout, forget); returns how many rows.
    /// From then on this handle and its clones write nothing: they belong to a link that
    /// is gone (a new start gets a new handle).
    pub async fn clear(&self) -> Result<u64> {
        self.cleared.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut tx = self.lock_session().await?;
        let deleted = sqlx::query("DELETE FROM engine_state WHERE tenant_id = $1 AND session_id = $2")
            .bind(&self.scope.tenant)
            .bind(&self.scope.session)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Starts a write transaction: what it reads stays as read until it commits, because
    /// every writer of this session's engine state waits for it. Dropped without
    /// [`commit`](EngineStateTx::commit), it changes nothing. Refused once the state was
    /// cleared through this handle.
    pub async fn begin(&self) -> Result<EngineStateTx> {
        let tx = self.lock_session().await?;
        // Checked with the session's lock held: a clear takes it too, after setting the
        // mark, so no write slips in behind it.
        if self.cleared.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::NotFound(format!(
                "the engine state of session {} (it was cleared)",
                self.scope.session
            )));
        }
        Ok(tx)
    }

    async fn lock_session(&self) -> Result<EngineStateTx> {
        let backend = self.store.backend;
        let mut tx = self.store.write().await?;
        // Every writer takes the session's row first. On SQLite the write lock taken by
        // BEGIN IMMEDIATE already serialises writers; on Postgres this row lock does, so
        // a read-modify-write never loses a concurrent write. NO KEY UPDATE does not block
        // the foreign-key checks of other tables' inserts (messages).
        let lock = match backend {
            Backend::Sqlite => "SELECT id FROM sessions WHERE id = $1 AND tenant_id = $2",
            Backend::Postgres => "SELECT id FROM sessions WHERE id = $1 AND tenant_id = $2 FOR NO KEY UPDATE",
        };
        let found =
            sqlx::query(lock).bind(&self.scope.session).bind(&self.scope.tenant).fetch_optional(&mut *tx).await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("session {}", self.scope.session)));
        }
        Ok(EngineStateTx { tx, backend, scope: self.scope.clone() })
    }
}

/// A write transaction on one session's engine state (see [`EngineState::begin`]).
pub struct EngineStateTx {
    tx: crate::write::WriteTx,
    backend: Backend,
    scope: Scope,
}

impl std::fmt::Debug for EngineStateTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineStateTx").field("backend", &self.backend).field("scope", &self.scope).finish()
    }
}

impl EngineStateTx {
    pub async fn get(&mut self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        get(&mut self.tx, &self.scope, kind, key).await
    }

    pub async fn get_many<K: AsRef<str>>(&mut self, kind: &str, keys: &[K]) -> Result<HashMap<String, Vec<u8>>> {
        get_many(&mut self.tx, self.backend, &self.scope, kind, keys).await
    }

    pub async fn list(&mut self, kind: &str, prefix: Option<&str>) -> Result<Vec<(String, Vec<u8>)>> {
        list(&mut self.tx, self.backend, &self.scope, kind, prefix).await
    }

    pub async fn keys(&mut self, kind: &str, prefix: Option<&str>) -> Result<Vec<String>> {
        keys(&mut self.tx, self.backend, &self.scope, kind, prefix).await
    }

    pub async fn apply(&mut self, writes: &[EngineWrite]) -> Result<()> {
        apply(&mut self.tx, self.backend, &self.scope, writes).await
    }

    pub async fn take(&mut self, kind: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "DELETE FROM engine_state WHERE tenant_id = $1 AND session_id = $2 AND kind = $3 AND key = $4 \
             RETURNING value",
        )
        .bind(&self.scope.tenant)
        .bind(&self.scope.session)
        .bind(kind)
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub async fn delete_stamped_before(&mut self, kind: &str, cutoff: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM engine_state WHERE tenant_id = $1 AND session_id = $2 AND kind = $3 AND stamp < $4",
        )
        .bind(&self.scope.tenant)
        .bind(&self.scope.session)
        .bind(kind)
        .bind(cutoff)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_never_show_their_values() {
        let write = EngineWrite::put("wa.device", "self", b"private key".to_vec());
        assert_eq!(format!("{write:?}"), r#"Put { kind: "wa.device", key: "self", value: <11 bytes>, stamp: None }"#);
    }
}
