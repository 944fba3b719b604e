//! Inbound messages are acknowledged to WhatsApp only once committed: the engine on
//! its own, with an inbox whose first commit fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use wagate_engine::{Content, Engine, EngineError, EngineEvent, Inbox, IncomingMessage, SessionSpec};
use wagate_engine_whatsapp::{EngineConfig, WhatsAppEngine};
use wagate_sandbox::{Fault, NewContact, Sandbox, SandboxConfig};
use wagate_store::testing::TestDatabase;
use wagate_store::{SessionSettings, Store};
use wagate_types::{SessionName, TenantId};

use crate::helpers::within;

/// Fails its first `failures` commits, as a full disk would.
#[derive(Default)]
struct FlakyInbox {
    failures: AtomicUsize,
    attempts: AtomicUsize,
    committed: Mutex<Vec<IncomingMessage>>,
}

#[async_trait]
impl Inbox for FlakyInbox {
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(EngineError::Failed("disk full".into()));
        }
        let mut committed = self.committed.lock().unwrap();
        for message in messages {
            if !committed.iter().any(|m| m.wa_id == message.wa_id && m.sender == message.sender) {
                committed.push(message.clone());
            }
        }
        Ok(())
    }

    async fn receipt(&self, _receipt: &wagate_engine::Receipt) -> Result<(), EngineError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_message_whose_commit_failed_is_redelivered_and_stored_once() {
    sqlx::any::install_default_drivers();
    let sandbox = Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap() }).await.unwrap();
    sandbox.create_account("+4915110000101", "Shop").unwrap();
    sandbox.create_contact(NewContact::new("+4915110000102", "Bob")).await.unwrap();
    let database = TestDatabase::from_env().await;
    let store = Store::connect(&database.url).await.unwrap();
    let tenant = TenantId::default_tenant();
    let name = SessionName::parse("shop").unwrap();
    let record = store
        .create_session(&tenant, &name, &SessionSettings::default(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let inbox = Arc::new(FlakyInbox { failures: AtomicUsize::new(1), ..FlakyInbox::default() });
    let engine = WhatsAppEngine::new(store.clone(), EngineConfig::sandbox(sandbox.http_url()));
    let (events_tx, mut events) = mpsc::channel(256);
    let spec = SessionSpec { id: record.id, tenant, name };
    let session = engine.start(spec, events_tx, inbox.clone()).await.unwrap();

    let qr = next(&mut events, |e| match e {
        EngineEvent::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await;
    let device = sandbox.scan_qr("+4915110000101", &qr).await.unwrap();
    next(&mut events, |e| matches!(e, EngineEvent::Connected { .. }).then_some(())).await;

    sandbox.contact_send_text("+4915110000102", "+4915110000101", "Where is my order?").await.unwrap();
    within(Duration::from_secs(30), "a first commit was tried", || async {
        (inbox.attempts.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    assert!(inbox.committed.lock().unwrap().is_empty(), "the first commit failed");
    assert!(sandbox.pending_stanzas(&device.jid).unwrap() >= 1, "so WhatsApp still holds the message");

    // The connection comes back; WhatsApp redelivers what was never acknowledged.
    sandbox.inject_fault(&device.jid, Fault::Drop).await.unwrap();
    let incoming = next(&mut events, |e| match e {
        EngineEvent::Incoming(message) => Some((**message).clone()),
        _ => None,
    })
    .await;
    assert_eq!(incoming.content, Content::Text { body: "Where is my order?".into() });
    assert_eq!(incoming.sender.as_str(), "4915110000102@s.whatsapp.net");
    assert_eq!(incoming.push_name.as_deref(), Some("Bob"));
    within(Duration::from_secs(30), "WhatsApp got the acknowledgement", || async {
        (sandbox.pending_stanzas(&device.jid).unwrap() == 0).then_some(())
    })
    .await;
    let committed = inbox.committed.lock().unwrap().clone();
    assert_eq!(committed, vec![incoming], "committed once, then reported");

    session.stop().await;
    store.close().await;
    sandbox.shutdown().await;
}

/// The next engine event `pick` accepts, within 60 s.
async fn next<T>(events: &mut mpsc::Receiver<EngineEvent>, pick: impl Fn(&EngineEvent) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv()).await.expect("in time").expect("events");
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}
