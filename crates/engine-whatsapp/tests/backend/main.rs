//! whatsapp-rust's storage kept in wagate's store, tested against the reference
//! (`wacore::store::InMemoryBackend`), across restarts, and on the contract points the
//! reference cannot show (atomicity under concurrency, errors surfaced).
//!
//! Each test is an `async fn(&TestDb)` registered with `wagate_store::on_both_backends!`, which makes a
//! `sqlite` and a `postgres` variant, as the store's conformance suite does: SQLite
//! always, in a fresh temporary directory; Postgres when `WAGATE_TEST_POSTGRES` holds a
//! server URL, each test on a database of its own, dropped afterwards.

use wagate_engine_whatsapp::StoredCredentials;
use wagate_store::{SessionRecord, SessionSettings, Store};
use wagate_types::{SessionName, TenantId};

mod contract;
mod persistence;
mod reference;
mod transcript;

/// Each test's store on a database of its own.
pub type TestDb = wagate_store::testing::TestStore;

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
