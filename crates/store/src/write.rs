//! Write transactions. On SQLite the process's writers take turns, in order of arrival,
//! before they ask for the database's write lock: SQLite's own wait for a taken lock
//! (the busy handler) polls it with sleeps of up to 100 ms, so under load the lock sat
//! free while writers slept, and a commit that takes a millisecond waited for tens.
//! A writer in another process is still waited for by SQLite itself. Postgres has no
//! such lock; its writers go straight in.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{Result, Store, StoreError};

/// How long a writer waits for its turn: SQLite's busy timeout.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Whose turn it is to write, on SQLite.
pub(crate) type Writers = Option<Arc<Mutex<()>>>;

/// A transaction that writes; the next writer's turn comes when it commits or is dropped.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl Store {
    /// Starts a transaction that will write (on SQLite with the write lock taken up
    /// front, so a read-then-write transaction never fails halfway).
    pub(crate) async fn write(&self) -> Result<WriteTx> {
        let turn = match &self.writers {
            Some(writers) => Some(
                tokio::time::timeout(WRITE_WAIT, writers.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError::Busy(WRITE_WAIT))?,
            ),
            None => None,
        };
        let tx = self.pool.begin_with(self.backend.begin_write()).await?;
        Ok(WriteTx { tx, _turn: turn })
    }
}
