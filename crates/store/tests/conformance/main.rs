//! One conformance suite for [`Store`], run against every backend.
//!
//! Each test is an `async fn(&TestDb)` registered with [`conformance!`], which makes a
//! `sqlite` and a `postgres` variant of it. SQLite runs always, in a fresh temporary
//! directory. Postgres runs when `WAGATE_TEST_POSTGRES` holds a server URL (for example
//! `postgres://postgres@127.0.0.1:5432/test`): each test then creates its own database
//! on that server and drops it afterwards, so tests run in parallel.

use sqlx::AnyPool;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wagate_store::testing::TestDatabase;
use wagate_store::{AcceptOutcome, Idempotency, MessageRecord, NewMessage, SessionRecord, SessionSettings, Store};
use wagate_types::{ChatId, IdempotencyKey, MessageId, Priority, SessionName, TenantId, WaMessageId};

/// Generates `<test>::sqlite` and `<test>::postgres` for each named `async fn(&TestDb)`.
macro_rules! conformance {
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

mod accept;
mod api_keys;
mod engine_state;
mod listing;
mod queue;
mod receipts;
mod sessions;

/// A store on a database of its own, removed when the test ends (even by panic).
pub struct TestDb {
    pub store: Store,
    /// The URL the store connected to, for raw SQL the store has no method for.
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

    /// Closes the store; the database goes with `self`.
    pub async fn finish(self) {
        self.store.close().await;
    }

    /// A second, raw connection pool to the same database.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url).await.expect("raw connection")
    }

    /// Adds a tenant besides `default`; the store has no method for that.
    pub async fn add_tenant(&self, id: &str) -> TenantId {
        let pool = self.raw().await;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 0)")
            .bind(id)
            .bind(format!("Tenant {id}"))
            .execute(&pool)
            .await
            .expect("insert tenant");
        pool.close().await;
        TenantId::from_stored(id.to_owned())
    }
}

// ---- fixtures shared by the tests ----

/// The tests' clock: a fixed instant with sub-millisecond parts, so every place that
/// stores a time has to cope with the database keeping milliseconds.
pub fn t0() -> OffsetDateTime {
    datetime!(2030-01-02 03:04:05.123_456_789 UTC)
}

pub fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// A time as the database gives it back.
pub fn ms(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).expect("valid nanosecond")
}

pub fn tenant() -> TenantId {
    TenantId::default_tenant()
}

pub fn name(s: &str) -> SessionName {
    SessionName::parse(s).expect("valid session name")
}

pub fn chat(user: &str) -> ChatId {
    ChatId::parse(&format!("{user}@s.whatsapp.net")).expect("valid chat")
}

pub async fn new_session(store: &Store, session_name: &str) -> SessionRecord {
    new_session_of(store, &tenant(), session_name).await
}

pub async fn new_session_of(store: &Store, tenant: &TenantId, session_name: &str) -> SessionRecord {
    store.create_session(tenant, &name(session_name), &SessionSettings::default(), t0()).await.expect("create session")
}

/// A normal-priority text message to `15550000001`, accepted at `created_at`.
pub fn text(session: &SessionRecord, created_at: OffsetDateTime) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        tenant: session.tenant.clone(),
        session_id: session.id,
        session_name: session.name.clone(),
        chat: chat("15550000001"),
        recipient: "+15550000001".to_owned(),
        kind: "text".to_owned(),
        content: serde_json::json!({ "text": "Hello" }),
        wa_id: WaMessageId::generate(),
        priority: Priority::Normal,
        send_at: None,
        created_at,
        idempotency: None,
    }
}

pub fn keyed(mut msg: NewMessage, key: &str, request_hash: &str) -> NewMessage {
    msg.idempotency = Some(Idempotency {
        key: IdempotencyKey::parse(key).expect("valid key"),
        request_hash: request_hash.to_owned(),
    });
    msg
}

/// Accepts one message that must be stored now, and returns its record.
pub async fn accept(store: &Store, msg: NewMessage) -> MessageRecord {
    let outcomes = store.accept_messages(&[msg]).await.expect("accept");
    match <[AcceptOutcome; 1]>::try_from(outcomes) {
        Ok([AcceptOutcome::Created(record)]) => record,
        other => panic!("expected one Created outcome, got {other:?}"),
    }
}

/// Reads a message of the default tenant that must exist.
pub async fn get(store: &Store, id: MessageId) -> MessageRecord {
    store.message(&tenant(), id).await.expect("read message").expect("message exists")
}
