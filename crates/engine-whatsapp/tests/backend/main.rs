//! whatsapp-rust's storage kept in wagate's store, tested against the reference
//! (`wacore::store::InMemoryBackend`), across restarts, and on the contract points the
//! reference cannot show (atomicity under concurrency, errors surfaced).
//!
//! Each test is an `async fn(&TestDb)` registered with [`on_both!`], which makes a
//! `sqlite` and a `postgres` variant, as the store's conformance suite does: SQLite
//! always, in a fresh temporary directory; Postgres when `WAGATE_TEST_POSTGRES` holds a
//! server URL, each test on a database of its own, dropped afterwards.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;
use wagate_engine_whatsapp::StoredCredentials;
use wagate_store::{SessionRecord, SessionSettings, Store};
use wagate_types::{SessionName, TenantId};

/// Generates `<test>::sqlite` and `<test>::postgres` for each named `async fn(&TestDb)`.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::TestDb::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::TestDb::postgres().await else { return };
                super::$name(&db).await;
                db.finish().await;
            }
        }
    )+};
}

mod contract;
mod persistence;
mod reference;
mod transcript;

const POSTGRES_ENV: &str = "WAGATE_TEST_POSTGRES";

/// A store on a database of its own, removed when the test ends (even by panic).
pub struct TestDb {
    pub store: Store,
    /// The URL the store connected to, for connecting again as after a restart.
    pub url: String,
    _sqlite_dir: Option<TempDir>,
    _postgres: Option<PostgresDatabase>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("wagate.db").display());
        let store = Store::connect(&url).await.expect("connect to SQLite");
        Self { store, url, _sqlite_dir: Some(dir), _postgres: None }
    }

    /// `None` (after saying so) when no Postgres server was given.
    pub async fn postgres() -> Option<Self> {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipped: set {POSTGRES_ENV}=postgres://user@host:port/db to run the Postgres variant");
            return None;
        };
        let name = format!("wagate_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&server).await.expect("connect to the Postgres server");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let database = PostgresDatabase { server: server.clone(), name: name.clone() };
        let url = with_database(&server, &name);
        let store = Store::connect(&url).await.expect("connect to the test database");
        Some(Self { store, url, _sqlite_dir: None, _postgres: Some(database) })
    }

    /// A new connection to the same database, as a restarted wagate would open.
    pub async fn reconnect(&self) -> Store {
        Store::connect(&self.url).await.expect("connect again")
    }

    /// Closes the store; the database goes with `self`.
    pub async fn finish(self) {
        self.store.close().await;
    }
}

/// A database created for one test on the Postgres server, dropped best-effort.
struct PostgresDatabase {
    server: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
        // a runtime of its own can. FORCE ends connections a panicking test left open.
        let (server, name) = (self.server.clone(), self.name.clone());
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
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
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

pub fn tenant() -> TenantId {
    TenantId::default_tenant()
}

/// A new wagate session and whatsapp-rust's storage for it.
pub async fn linked(store: &Store, name: &str) -> (SessionRecord, StoredCredentials) {
    let name = SessionName::parse(name).expect("valid session name");
    let session = store
        .create_session(&tenant(), &name, &SessionSettings::default(), time::OffsetDateTime::now_utc())
        .await
        .expect("create session");
    let credentials = StoredCredentials::new(store, &tenant(), session.id);
    (session, credentials)
}
