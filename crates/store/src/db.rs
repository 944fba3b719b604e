use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};
use tracing::info;

use crate::Result;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// Names the queue's partial index (`messages_waiting`) for a query that counts or
    /// scans what waits: without statistics SQLite's planner takes an index on
    /// `session_id` alone and reads every message the session ever had. Postgres plans
    /// from its statistics.
    pub(crate) fn waiting_index(self) -> &'static str {
        match self {
            Self::Sqlite => " INDEXED BY messages_waiting",
            Self::Postgres => "",
        }
    }

    /// How a transaction that will write starts. SQLite takes the write lock up front so
    /// a read-then-write transaction never fails halfway on a busy database.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// The database handle: cheap to clone, shared by every part of wagate.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) writers: crate::write::Writers,
    pub(crate) probe: std::sync::Arc<crate::fault::Probe>,
    /// SQLite's page limit for every connection, once one was set.
    page_limit: std::sync::Arc<AtomicU64>,
}

/// No limit was ever set: connections keep SQLite's default.
const NO_PAGE_LIMIT: u64 = 0;

/// SQLite's own largest page count, which lifts a limit again.
const SQLITE_MAX_PAGES: u64 = 4_294_967_294;

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and brings the
    /// schema up to date. Postgres migrations hold an advisory lock, so several nodes
    /// may start at once.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema.
    pub async fn connect_without_migrating(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(
                format!("unsupported database URL '{}': use sqlite:// or postgres://", redact(url)).into(),
            )
        })?;
        let options: AnyConnectOptions = url.parse()?;
        let page_limit = std::sync::Arc::new(AtomicU64::new(NO_PAGE_LIMIT));
        let pool = match backend {
            Backend::Sqlite => {
                let limit = page_limit.clone();
                let on_connect = page_limit.clone();
                AnyPoolOptions::new()
                    .max_connections(8)
                    .before_acquire(move |conn, _meta| {
                        let pages = limit.load(Ordering::Relaxed);
                        // SQLite keeps the limit per connection: each takes the current
                        // one as it is handed out.
                        Box::pin(async move { apply_page_limit(conn, pages).await.map(|()| true) })
                    })
                    .after_connect(move |conn, _meta| {
                        let pages = on_connect.load(Ordering::Relaxed);
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; FULL makes every
                            // commit reach the disk before a client hears "accepted".
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            apply_page_limit(conn, pages).await
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        let writers = (backend == Backend::Sqlite).then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self { pool, backend, writers, probe: Default::default(), page_limit })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Caps how large a SQLite database may grow, in bytes (`None` lifts the cap): a
    /// write that needs more fails as a full disk would, with [`StorageFault::Full`].
    /// A cap below the current size holds it where it is. Nothing on Postgres.
    ///
    /// [`StorageFault::Full`]: crate::StorageFault::Full
    pub async fn limit_size(&self, bytes: Option<u64>) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let row = sqlx::query("PRAGMA page_size").fetch_one(&self.pool).await?;
        let page_size = u64::try_from(sqlx::Row::try_get::<i64, _>(&row, 0)?).unwrap_or(4096).max(512);
        let pages = bytes.map_or(SQLITE_MAX_PAGES, |b| (b / page_size).max(1));
        self.page_limit.store(pages, Ordering::Relaxed);
        Ok(())
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = Migrator::with_migrations(migrations(self.backend));
        migrator.run(&self.pool).await?;
        info!(backend = ?self.backend, "database schema is up to date");
        Ok(())
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The migrations of one backend, compiled into the binary.
fn migrations(backend: Backend) -> Vec<Migration> {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => &[
            (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
            (2, "engine_state", include_str!("../migrations/sqlite/0002_engine_state.sql")),
            (3, "inbound", include_str!("../migrations/sqlite/0003_inbound.sql")),
            (4, "media", include_str!("../migrations/sqlite/0004_media.sql")),
            (5, "events", include_str!("../migrations/sqlite/0005_events.sql")),
            (6, "chats", include_str!("../migrations/sqlite/0006_chats.sql")),
            (7, "number_checks", include_str!("../migrations/sqlite/0007_number_checks.sql")),
            (8, "error_code", include_str!("../migrations/sqlite/0008_error_code.sql")),
            (9, "sent_index", include_str!("../migrations/sqlite/0009_sent_index.sql")),
            (10, "opt_in", include_str!("../migrations/sqlite/0010_opt_in.sql")),
            (11, "campaigns", include_str!("../migrations/sqlite/0011_campaigns.sql")),
            (12, "webhooks", include_str!("../migrations/sqlite/0012_webhooks.sql")),
            (13, "webhook_head", include_str!("../migrations/sqlite/0013_webhook_head.sql")),
            (14, "storage_probe", include_str!("../migrations/sqlite/0014_storage_probe.sql")),
        ],
        Backend::Postgres => &[
            (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
            (2, "engine_state", include_str!("../migrations/postgres/0002_engine_state.sql")),
            (3, "inbound", include_str!("../migrations/postgres/0003_inbound.sql")),
            (4, "media", include_str!("../migrations/postgres/0004_media.sql")),
            (5, "events", include_str!("../migrations/postgres/0005_events.sql")),
            (6, "chats", include_str!("../migrations/postgres/0006_chats.sql")),
            (7, "number_checks", include_str!("../migrations/postgres/0007_number_checks.sql")),
            (8, "error_code", include_str!("../migrations/postgres/0008_error_code.sql")),
            (9, "sent_index", include_str!("../migrations/postgres/0009_sent_index.sql")),
            (10, "opt_in", include_str!("../migrations/postgres/0010_opt_in.sql")),
            (11, "campaigns", include_str!("../migrations/postgres/0011_campaigns.sql")),
            (12, "webhooks", include_str!("../migrations/postgres/0012_webhooks.sql")),
            (13, "webhook_head", include_str!("../migrations/postgres/0013_webhook_head.sql")),
            (14, "storage_probe", include_str!("../migrations/postgres/0014_storage_probe.sql")),
        ],
    };
    files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect()
}

async fn apply_page_limit(conn: &mut sqlx::AnyConnection, pages: u64) -> std::result::Result<(), sqlx::Error> {
    if pages != NO_PAGE_LIMIT {
        conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA max_page_count = {pages}"))).await?;
    }
    Ok(())
}

/// A database URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/w.db"), "sqlite://data/w.db");
    }
}
