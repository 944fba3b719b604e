//! Databases for tests (feature `testing`): each test gets one of its own, so tests run
//! in parallel and leave nothing behind. SQLite always; Postgres when
//! `WAGATE_TEST_POSTGRES` holds a server URL (e.g. `postgres://postgres@127.0.0.1:5432/test`),
//! where each test creates its own database and drops it when done, even on a panic.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

pub const POSTGRES_ENV: &str = "WAGATE_TEST_POSTGRES";

/// A database of one test's own, removed when this value is dropped.
pub struct TestDatabase {
    /// What to connect a [`crate::Store`] to.
    pub url: String,
    _sqlite_dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("wagate.db").display());
        Self { url, _sqlite_dir: Some(dir), postgres: None }
    }

    /// A new database on the server in `WAGATE_TEST_POSTGRES`; `None` (after saying so)
    /// when that is not set.
    pub async fn postgres() -> Option<Self> {
        let Some(server) = postgres_server() else {
            eprintln!("skipped: set {POSTGRES_ENV}=postgres://user@host:port/db to run on Postgres");
            return None;
        };
        let name = format!("wagate_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&server).await.expect("connect to the Postgres server");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let url = with_database(&server, &name);
        Some(Self { url, _sqlite_dir: None, postgres: Some((server, name)) })
    }

    /// Postgres when `WAGATE_TEST_POSTGRES` is set, else SQLite: how suites that run
    /// whole on either backend pick theirs.
    pub async fn from_env() -> Self {
        match postgres_server() {
            Some(_) => Self::postgres().await.expect("WAGATE_TEST_POSTGRES is set"),
            None => Self::sqlite(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else { return };
        // Drop may run inside a test's runtime, which cannot be blocked on; a thread with
        // a runtime of its own can. FORCE ends connections a panicking test left open.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&server).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("note: could not drop a test database");
        }
    }
}

/// The Postgres server tests may use, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())
}

/// `url` with its database name replaced by `name`, keeping any query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

/// A [`crate::Store`] connected to a [`TestDatabase`].
pub struct TestStore {
    pub store: crate::Store,
    /// The URL the store connected to: for connecting again as after a restart, or for
    /// raw SQL the store has no method for.
    pub url: String,
    _database: TestDatabase,
}

impl TestStore {
    pub async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite()).await
    }

    /// `None` (after saying so) when no Postgres server was given.
    pub async fn postgres() -> Option<Self> {
        Some(Self::on(TestDatabase::postgres().await?).await)
    }

    async fn on(database: TestDatabase) -> Self {
        let store = crate::Store::connect(&database.url).await.expect("connect to the test database");
        Self { store, url: database.url.clone(), _database: database }
    }

    /// A new connection to the same database, as a restarted wagate would open.
    pub async fn reconnect(&self) -> crate::Store {
        crate::Store::connect(&self.url).await.expect("connect again")
    }

    /// A raw connection pool to the same database.
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.expect("raw connection")
    }

    /// Adds a tenant besides `default`; the store has no method for that yet.
    pub async fn add_tenant(&self, id: &str) -> wagate_types::TenantId {
        let pool = self.raw().await;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 0)")
            .bind(id)
            .bind(format!("Tenant {id}"))
            .execute(&pool)
            .await
            .expect("insert tenant");
        pool.close().await;
        wagate_types::TenantId::from_stored(id.to_owned())
    }

    /// Closes the store; the database goes with `self`.
    pub async fn finish(self) {
        self.store.close().await;
    }
}

/// Generates `<test>::sqlite` and `<test>::postgres` for each named
/// `async fn(&TestStore)`: one suite, run on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestStore::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::testing::TestStore::postgres().await else { return };
                super::$name(&db).await;
                db.finish().await;
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u:p@h/test?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
    }
}
