//! One conformance suite for [`Store`], run against every backend.
//!
//! Each test is an `async fn(&TestDb)` registered with `wagate_store::on_both_backends!`, which makes a
//! `sqlite` and a `postgres` variant of it. SQLite runs always, in a fresh temporary
//! directory. Postgres runs when `WAGATE_TEST_POSTGRES` holds a server URL (for example
//! `postgres://postgres@127.0.0.1:5432/test`): each test then creates its own database
//! on that server and drops it afterwards, so tests run in parallel.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use wagate_store::{
    AcceptOutcome, Idempotency, MessageRecord, NewInbound, NewMessage, SessionRecord, SessionSettings, Store,
};
use wagate_types::{ChatId, IdempotencyKey, MessageId, Priority, SessionName, TenantId, WaMessageId};

mod accept;
mod api_keys;
mod campaigns;
mod chats;
mod engine_state;
mod events;
mod inbound;
mod listing;
mod media;
mod number_checks;
mod opt_ins;
mod queue;
mod receipts;
mod sessions;
mod updates;
mod webhooks;

/// Each test's store on a database of its own.
pub type TestDb = wagate_store::testing::TestStore;

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

/// A session that is connected, so its waiting messages wait for nothing but their turn.
pub async fn new_session_of(store: &Store, tenant: &TenantId, session_name: &str) -> SessionRecord {
    let created = store
        .create_session(tenant, &name(session_name), &SessionSettings::default(), t0())
        .await
        .expect("create session");
    let connected = wagate_store::SessionState {
        status: wagate_types::SessionStatus::Connected,
        reason: None,
        phone: None,
        push_name: None,
        last_seen_at: None,
    };
    store.set_session_state(created.id, &connected, t0()).await.expect("connect the session");
    store.session_by_id(created.id).await.expect("read the session").expect("the session exists")
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
        origin: None,
    }
}

/// A text `from` (digits of a phone number) wrote in its own chat, sent at `at`.
pub fn inbound(from: &str, body: &str, at: OffsetDateTime) -> NewInbound {
    NewInbound {
        id: MessageId::new(),
        chat: chat(from),
        sender: chat(from),
        push_name: Some(format!("Contact {from}")),
        wa_id: WaMessageId::generate(),
        kind: "text".to_owned(),
        content: serde_json::json!({ "text": body }),
        sent_at: at,
        target: None,
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
