use tokio::sync::mpsc;
use wagate_types::{SessionName, TenantId};

use super::*;

/// An inbox that keeps what it was given in memory, notes how many events were
/// already reported when each commit ran, and refuses commits while `failing`.
#[derive(Default)]
struct MemoryInbox {
    committed: Mutex<Vec<IncomingMessage>>,
    events_before_commit: Mutex<Vec<usize>>,
    sink: Mutex<Option<EventSink>>,
    failing: Mutex<bool>,
}

#[async_trait]
impl Inbox for MemoryInbox {
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        if *self.failing.lock().unwrap() {
            return Err(EngineError::Failed("the database is down".into()));
        }
        let queued = self.sink.lock().unwrap().as_ref().map_or(0, |s| s.max_capacity() - s.capacity());
        self.events_before_commit.lock().unwrap().push(queued);
        self.committed.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }

    async fn receipt(&self, _receipt: &Receipt) -> Result<(), EngineError> {
        Ok(())
    }
}

async fn started(engine: &FakeEngine) -> (Arc<MemoryInbox>, mpsc::Receiver<EngineEvent>) {
    let (tx, mut rx) = mpsc::channel(16);
    let inbox = Arc::new(MemoryInbox::default());
    *inbox.sink.lock().unwrap() = Some(tx.clone());
    let spec = SessionSpec {
        id: SessionId::new(),
        tenant: TenantId::default_tenant(),
        name: SessionName::parse("default").unwrap(),
    };
    engine.start(spec, tx, inbox.clone()).await.unwrap();
    assert!(matches!(rx.recv().await, Some(EngineEvent::Connected { .. })));
    (inbox, rx)
}

fn phone() -> PhoneNumber {
    PhoneNumber::from_stored("+4915123456789".into())
}

#[tokio::test]
async fn a_received_message_is_committed_before_it_is_acknowledged_and_reported() {
    let engine = FakeEngine::new().auto_linked();
    let (inbox, mut rx) = started(&engine).await;

    let message = engine.incoming_text("default", &phone(), "Hi").await.unwrap();

    assert_eq!(*inbox.committed.lock().unwrap(), std::slice::from_ref(&message));
    assert_eq!(*inbox.events_before_commit.lock().unwrap(), [0], "nothing reported before the commit");
    assert_eq!(engine.acknowledged(), std::slice::from_ref(&message.wa_id));
    assert_eq!(rx.try_recv().unwrap(), EngineEvent::Incoming(Box::new(message)));
}

#[tokio::test]
async fn a_failed_commit_is_neither_acknowledged_nor_reported() {
    let engine = FakeEngine::new().auto_linked();
    let (inbox, mut rx) = started(&engine).await;
    *inbox.failing.lock().unwrap() = true;

    let result = engine.incoming_text("default", &phone(), "Hi").await;

    assert_eq!(result, Err(EngineError::Failed("the database is down".into())));
    assert!(engine.acknowledged().is_empty());
    assert!(rx.try_recv().is_err(), "no event for an uncommitted message");
}

#[tokio::test]
async fn a_redelivery_goes_through_the_inbox_again() {
    let engine = FakeEngine::new().auto_linked();
    let (inbox, _rx) = started(&engine).await;
    let message = engine.incoming_text("default", &phone(), "Hi").await.unwrap();

    engine.redeliver("default", &message).await.unwrap();

    assert_eq!(*inbox.committed.lock().unwrap(), [message.clone(), message.clone()]);
    assert_eq!(engine.acknowledged(), [message.wa_id.clone(), message.wa_id]);
}

#[tokio::test]
async fn nothing_arrives_while_the_session_is_offline() {
    let engine = FakeEngine::new().auto_linked();
    let (inbox, _rx) = started(&engine).await;
    engine.drop_connection("default").await;

    let result = engine.incoming_text("default", &phone(), "Hi").await;

    assert_eq!(result, Err(EngineError::NotConnected));
    assert!(inbox.committed.lock().unwrap().is_empty());
}
