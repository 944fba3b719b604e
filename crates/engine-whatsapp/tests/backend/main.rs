//! whatsapp-rust's storage kept in wagate's store, tested against the reference
//! (`wacore::store::InMemoryBackend`), across restarts, and on the contract points the
//! reference cannot show (atomicity under concurrency, errors surfaced).
//!
//! Each test is an `async fn(&TestDb)` registered with [`on_both!`], which makes a
//! `sqlite` and a `postgres` variant, as the store's conformance suite does: SQLite
//! always, in a fresh temporary directory; Postgres when `WAGATE_TEST_POSTGRES` holds a
//! server URL, each test on a database of its own, dropped afterwards.

use wagate_engine_whatsapp::StoredCredentials;
use wagate_store::testing::TestDatabase;
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

/// A store on a database of its own, removed when the test ends (even by panic).
pub struct TestDb {
    pub store: Store,
    /// The URL the store connected to, for connecting again as after a restart.
    pub url: String,
    _database: TestDatabase,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite()).await
    }

    /// `None` (after saying so) when no Postgres server was given.
    pub async fn postgres() -> Option<Self> {
        Some(Self::on(TestDatabase::postgres().await?).await)
    }

    async fn on(database: TestDatabase) -> Self {
        let store = Store::connect(&database.url).await.expect("connect to the test database");
        Self { store, url: database.url.clone(), _database: database }
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
