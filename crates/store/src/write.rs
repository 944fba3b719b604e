//! Write transactions. On SQLite the process's writers take turns, in order of arrival,
//! before they ask for the database's write lock: SQLite's own wait for a taken lock
//! (the busy handler) polls it with sleeps of up to 100 ms, so under load the lock sat
//! free while writers slept, and a commit that takes a millisecond waited for tens.
//! A writer in another process is still waited for by SQLite itself. Postgres has no
//! such lock; its writers go straight in.
//!
//! A transaction that does not commit (a statement failed, or its caller had nothing to
//! do) is rolled back before its connection goes back to the pool, and the next writer's
//! turn comes after that; a connection whose rollback fails (after a full disk SQLite may
//! already have rolled back on its own) is closed instead, so a connection whose
//! transaction state is not known never serves the next writer.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::fault::Probe;
use crate::{Result, Store, StoreError};

/// How long a writer waits for its turn: SQLite's busy timeout.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Whose turn it is to write, on SQLite.
pub(crate) type Writers = Option<Arc<Mutex<()>>>;

/// A transaction that writes; the next writer's turn comes when it commits or is dropped.
pub(crate) struct WriteTx {
    /// Always there until the transaction is dropped.
    conn: Option<PoolConnection<Any>>,
    /// Whether the transaction ended cleanly (committed, or rolled back on purpose).
    ended: bool,
    probe: Arc<Probe>,
    turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(mut self) -> Result<()> {
        let conn: &mut AnyConnection = &mut self;
        let done = conn.execute("COMMIT").await.map(|_| ()).map_err(StoreError::from);
        self.probe.commit_ended(&done);
        self.ended = done.is_ok();
        done
    }

    /// The caller rolled the transaction back itself: the connection may serve again.
    pub(crate) fn rolled_back(&mut self) {
        self.ended = true;
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (Some(mut conn), turn) = (self.conn.take(), self.turn.take()) else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if (&mut *conn).execute("ROLLBACK").await.is_err() {
                        conn.close_on_drop();
                    }
                    drop(conn);
                    drop(turn);
                });
            }
            // Closing the connection rolls back whatever it still holds.
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("a write transaction has its connection until dropped")
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("a write transaction has its connection until dropped")
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
        let mut conn = self.pool.acquire().await?;
        if let Err(e) = (&mut *conn).execute(self.backend.begin_write()).await {
            conn.close_on_drop();
            return Err(e.into());
        }
        Ok(WriteTx { conn: Some(conn), ended: false, probe: self.probe.clone(), turn })
    }
}
