//! Faults of the database itself (a full disk, a database that refuses writes, one
//! that cannot be reached) told apart from wagate's own errors, so callers can say
//! "try again later" instead of "internal error", and a probe that tells whether the
//! database takes writes right now.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::{Result, Store, StoreError};

/// Why the database cannot take what it was asked to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The disk (or the database's size limit) is full.
    Full,
    /// The database refuses writes: a read-only file or server, or a revoked permission.
    ReadOnly,
    /// The database does not answer: unreachable, restarting, out of connections.
    Unavailable,
}

impl StorageFault {
    /// The stable code clients see.
    pub fn code(self) -> &'static str {
        match self {
            Self::Full => "storage_full",
            Self::ReadOnly => "storage_read_only",
            Self::Unavailable => "storage_unavailable",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Full => "the database has no space left",
            Self::ReadOnly => "the database refuses writes",
            Self::Unavailable => "the database cannot be reached",
        }
    }
}

impl StoreError {
    /// The storage fault behind this error, if it is one rather than a fault of wagate's.
    pub fn fault(&self) -> Option<StorageFault> {
        match self {
            Self::Database(e) => fault_of(e),
            Self::Busy(_) => Some(StorageFault::Unavailable),
            _ => None,
        }
    }
}

/// Reads SQLite's primary result code or Postgres's SQLSTATE class.
pub fn fault_of(error: &sqlx::Error) -> Option<StorageFault> {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite: the low byte of the extended result code is the primary one.
                let Ok(sqlite) = code.parse::<i32>() else { return None };
                return match sqlite & 0xff {
                    // SQLITE_FULL, also what a write that meets a full disk gives.
                    13 => Some(StorageFault::Full),
                    // SQLITE_READONLY.
                    8 => Some(StorageFault::ReadOnly),
                    // SQLITE_BUSY, _LOCKED, _IOERR, _CANTOPEN.
                    5 | 6 | 10 | 14 => Some(StorageFault::Unavailable),
                    _ => None,
                };
            }
            match code.as_ref() {
                "53100" => Some(StorageFault::Full),
                "25006" | "42501" => Some(StorageFault::ReadOnly),
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => {
                    Some(StorageFault::Unavailable)
                }
                _ => None,
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Some(StorageFault::Unavailable)
        }
        _ => None,
    }
}

/// Finds a storage fault anywhere in an error's chain of causes.
pub fn fault_in(error: &(dyn std::error::Error + 'static)) -> Option<StorageFault> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(store) = e.downcast_ref::<StoreError>()
            && let Some(fault) = store.fault()
        {
            return Some(fault);
        }
        if let Some(sqlx) = e.downcast_ref::<sqlx::Error>()
            && let Some(fault) = fault_of(sqlx)
        {
            return Some(fault);
        }
        next = e.source();
    }
    None
}

/// How long a probe's answer stands before the database is asked again.
const PROBE_FOR: Duration = Duration::from_secs(2);

/// How long a commit that failed for a storage fault counts against the health check.
const COMMIT_FAULT_FOR: Duration = Duration::from_secs(10);

/// Pages a probe asks the database to find room for, beyond its free pages.
const PROBE_PAGES: i64 = 4;

/// Most bytes a probe writes: a database with this much free inside has room.
const PROBE_MAX_BYTES: i64 = 1024 * 1024;

/// What the health check knows: the last probe's answer, and the last commit that
/// failed for a storage fault.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    last: Mutex<Option<(Instant, Option<StorageFault>)>>,
    failed_commit: Mutex<Option<(Instant, StorageFault)>>,
}

impl Probe {
    /// Notes how a commit ended: a full disk often shows only when the commit writes.
    pub(crate) fn commit_ended(&self, result: &std::result::Result<(), StoreError>) {
        let mut failed = self.failed_commit.lock().unwrap_or_else(|p| p.into_inner());
        match result.as_ref().err().and_then(StoreError::fault) {
            Some(fault) => *failed = Some((Instant::now(), fault)),
            None if result.is_ok() => *failed = None,
            None => {}
        }
    }
}

impl Store {
    /// Whether the database takes writes now: a commit failed for a storage fault in the
    /// last 10 s, or a probe (at most every 2 s) cannot write a few pages more than the
    /// database has free. The probe's transaction is rolled back: it leaves nothing.
    pub async fn storage_fault(&self) -> Result<Option<StorageFault>> {
        if let Some((at, fault)) = *self.probe.failed_commit.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < COMMIT_FAULT_FOR
        {
            return Ok(Some(fault));
        }
        if let Some((at, fault)) = *self.probe.last.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < PROBE_FOR
        {
            return Ok(fault);
        }
        let fault = match self.probe_write().await {
            Ok(()) => None,
            Err(e) => match e.fault() {
                Some(fault) => Some(fault),
                None => return Err(e),
            },
        };
        *self.probe.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), fault));
        Ok(fault)
    }

    /// Writes a blob that needs a few pages beyond the database's free ones, then rolls
    /// it back (dropping the transaction closes its connection, which rolls back).
    async fn probe_write(&self) -> Result<()> {
        let mut tx = self.write().await?;
        let bytes = match self.backend {
            crate::Backend::Sqlite => {
                let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut *tx).await?;
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&mut *tx).await?;
                ((free + PROBE_PAGES) * page_size).min(PROBE_MAX_BYTES)
            }
            crate::Backend::Postgres => PROBE_PAGES * 8192,
        };
        sqlx::query("INSERT INTO storage_probe (id, filler) VALUES (1, $1)")
            .bind(vec![1u8; usize::try_from(bytes).unwrap_or(16_384)])
            .execute(&mut *tx)
            .await?;
        (&mut *tx).execute("ROLLBACK").await?;
        tx.rolled_back();
        Ok(())
    }
}
