use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use wagate_types::{PhoneNumber, SessionId};

use crate::{
    Engine, EngineError, EngineEvent, EventSink, Inbox, Media, OutgoingMessage, SendAck, SendError, Session,
    SessionSpec,
};

/// The engine of a build that cannot talk to WhatsApp. Its sessions report plainly
/// that they cannot connect; messages wait in the queue, never pretend to go out.
#[derive(Debug, Clone)]
pub struct UnavailableEngine {
    reason: String,
}

impl UnavailableEngine {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

#[async_trait]
impl Engine for UnavailableEngine {
    async fn start(
        &self,
        _spec: SessionSpec,
        events: EventSink,
        _inbox: Arc<dyn Inbox>,
    ) -> Result<Arc<dyn Session>, EngineError> {
        // The receiver lives as long as the session; a closed channel means it is gone.
        let _ = events.send(EngineEvent::Stopped { reason: self.reason.clone() }).await;
        Ok(Arc::new(UnavailableSession { reason: self.reason.clone() }))
    }

    async fn forget(&self, _session: SessionId) -> Result<(), EngineError> {
        Ok(())
    }
}

struct UnavailableSession {
    reason: String,
}

#[async_trait]
impl Session for UnavailableSession {
    async fn send(&self, _message: &OutgoingMessage) -> Result<SendAck, SendError> {
        Err(SendError::NotConnected)
    }

    async fn download(&self, _media: &Media) -> Result<Bytes, EngineError> {
        Err(EngineError::Unavailable(self.reason.clone()))
    }

    async fn pair_code(&self, _phone: &PhoneNumber) -> Result<String, EngineError> {
        Err(EngineError::Unavailable(self.reason.clone()))
    }

    async fn logout(&self) -> Result<(), EngineError> {
        Ok(())
    }

    async fn stop(&self) {}
}
