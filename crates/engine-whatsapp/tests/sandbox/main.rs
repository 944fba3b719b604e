//! The engine end to end: a session linked to an in-process sandbox by scanning its QR
//! code, talking to a simulated contact (a real whatsapp-rust client inside the
//! sandbox) with every kind of message, both ways.

#![cfg(feature = "sandbox")]

mod receiving;
mod sending;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use wagate_engine::{
    Content, Context, Engine, EngineError, EngineEvent, Inbox, IncomingMessage, OutgoingMessage, Session, SessionSpec,
};
use wagate_engine_whatsapp::{EngineConfig, WhatsAppEngine};
use wagate_sandbox::{NewContact, ReceivedMessage, Sandbox, SandboxConfig, SandboxHandle};
use wagate_store::SessionSettings;
use wagate_store::testing::TestStore;
use wagate_types::{ChatId, SessionName, TenantId, WaMessageId};

/// Linking and delivery take a second or two; generous for a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Keeps what the engine commits, as wagate's store would.
#[derive(Default)]
pub struct RecordingInbox {
    committed: Mutex<Vec<IncomingMessage>>,
    receipts: Mutex<Vec<wagate_engine::Receipt>>,
}

#[async_trait]
impl Inbox for RecordingInbox {
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        self.committed.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }

    async fn receipt(&self, receipt: &wagate_engine::Receipt) -> Result<(), EngineError> {
        self.receipts.lock().unwrap().push(receipt.clone());
        Ok(())
    }
}

impl RecordingInbox {
    /// Waits for a committed receipt that `pick` accepts.
    pub async fn wait_for_receipt<T>(&self, what: &str, pick: impl Fn(&wagate_engine::Receipt) -> Option<T>) -> T {
        within(what, || async { self.receipts.lock().unwrap().iter().find_map(&pick) }).await
    }

    /// Waits for a committed message that `pick` accepts.
    pub async fn wait_for<T>(&self, what: &str, pick: impl Fn(&IncomingMessage) -> Option<T>) -> T {
        within(what, || async { self.committed.lock().unwrap().iter().find_map(&pick) }).await
    }
}

/// A session on the real engine, linked to `phone`, with one contact to talk to.
pub struct Linked {
    pub sandbox: SandboxHandle,
    pub session: Arc<dyn Session>,
    pub inbox: Arc<RecordingInbox>,
    pub events: mpsc::Receiver<EngineEvent>,
    pub phone: String,
    pub contact: String,
    engine: WhatsAppEngine,
    spec: SessionSpec,
    _db: TestStore,
}

impl Linked {
    pub async fn start(phone: &str, contact: &str) -> Self {
        let sandbox = Sandbox::start(SandboxConfig { bind: "127.0.0.1:0".parse().unwrap() }).await.expect("sandbox");
        sandbox.create_account(phone, "Shop").expect("sandbox account");
        let contact_created = sandbox.create_contact(NewContact::new(contact, "Bob"));
        let db = TestStore::sqlite().await;
        let tenant = TenantId::default_tenant();
        let name = SessionName::parse("shop").unwrap();
        let record = db
            .store
            .create_session(&tenant, &name, &SessionSettings::default(), time::OffsetDateTime::now_utc())
            .await
            .expect("session row");
        let engine = WhatsAppEngine::new(db.store.clone(), EngineConfig::sandbox(sandbox.http_url()));
        let inbox = Arc::new(RecordingInbox::default());
        let (events_tx, mut events) = mpsc::channel(256);
        let spec = SessionSpec { id: record.id, tenant, name };
        let session = engine.start(spec.clone(), events_tx, inbox.clone()).await.expect("session starts");
        let qr = next(&mut events, |e| match e {
            EngineEvent::Qr { code, .. } => Some(code.clone()),
            _ => None,
        })
        .await;
        sandbox.scan_qr(phone, &qr).await.expect("the phone scans the QR code");
        next(&mut events, |e| matches!(e, EngineEvent::Connected { .. }).then_some(())).await;
        contact_created.await.expect("sandbox contact");
        Self { sandbox, session, inbox, events, phone: phone.into(), contact: contact.into(), engine, spec, _db: db }
    }

    /// Stops the session and starts it again on its stored credentials, as a
    /// restarted wagate would; returns once it is connected.
    pub async fn restart(&mut self) {
        self.session.stop().await;
        let (events_tx, mut events) = mpsc::channel(256);
        self.session = self.engine.start(self.spec.clone(), events_tx, self.inbox.clone()).await.expect("restarts");
        next(&mut events, |e| matches!(e, EngineEvent::Connected { .. }).then_some(())).await;
        self.events = events;
    }

    /// The contact's chat, as wagate names it.
    pub fn contact_chat(&self) -> ChatId {
        ChatId::from_stored(format!("{}@s.whatsapp.net", self.contact.trim_start_matches('+')))
    }

    /// Sends `content` to the contact; returns its id once WhatsApp acknowledged it.
    pub async fn send(&self, content: Content, context: Context) -> WaMessageId {
        let message =
            OutgoingMessage { wa_id: WaMessageId::generate(), to: self.contact_chat(), content, context, status: None };
        let kind = message.content.kind();
        self.session.send(&message).await.unwrap_or_else(|e| panic!("sending the {kind} failed: {e}"));
        message.wa_id
    }

    /// What the contact decoded of message `id`, once `ready` says it is complete.
    pub async fn delivered(&self, id: &WaMessageId, ready: impl Fn(&ReceivedMessage) -> bool) -> ReceivedMessage {
        within(&format!("the contact received {id}"), || async {
            let messages = self.sandbox.contact_messages(&self.contact).expect("contact messages");
            messages.into_iter().find(|m| m.id == id.as_str() && ready(m))
        })
        .await
    }

    /// What the session committed as message `id`.
    pub async fn received(&self, id: &str) -> Content {
        self.inbox.wait_for(&format!("message {id}"), |m| (m.wa_id.as_str() == id).then(|| m.content.clone())).await
    }

    pub async fn finish(self) {
        self.session.stop().await;
        self.sandbox.shutdown().await;
    }
}

/// The next event that `pick` accepts.
async fn next<T>(events: &mut mpsc::Receiver<EngineEvent>, pick: impl Fn(&EngineEvent) -> Option<T>) -> T {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let event = events.recv().await.expect("the session's events ended");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("the awaited event came in time")
}

/// Polls `check` until it gives a value; panics after [`TIMEOUT`].
pub async fn within<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
