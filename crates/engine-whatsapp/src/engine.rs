//! [`WhatsAppEngine`]: wagate's [`Engine`] on whatsapp-rust, one client per session.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wagate_engine::{Engine, EngineError, EventSink, Inbox, Session, SessionSpec};
use wagate_store::Store;
use wagate_types::SessionId;

use crate::StoredCredentials;
use crate::policy::ReplacedPolicy;
use crate::session::WhatsAppSession;

/// Where sessions connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// WhatsApp itself.
    WhatsApp,
    /// wagate's sandbox at this base URL, e.g. `http://127.0.0.1:7777`: its WebSocket
    /// is `/ws/chat` and media goes to the same host.
    #[cfg(feature = "sandbox")]
    Sandbox { url: String },
}

/// How the engine connects and reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub endpoint: Endpoint,
    /// The WhatsApp Web version to announce; `None` asks WhatsApp for the current one.
    /// The sandbox needs a fixed one (nothing may be fetched from the internet).
    pub version: Option<(u32, u32, u32)>,
    /// How long a send waits for the server's acknowledgement.
    pub ack_timeout: Duration,
    /// A client that has neither connected nor shown a QR code this long after it
    /// started is reported `reconnecting`, so a session does not sit in `starting`
    /// while WhatsApp cannot be reached.
    pub unreachable_after: Duration,
    pub replaced: ReplacedPolicy,
}

impl EngineConfig {
    pub fn whatsapp() -> Self {
        Self {
            endpoint: Endpoint::WhatsApp,
            version: None,
            ack_timeout: Duration::from_secs(30),
            unreachable_after: Duration::from_secs(20),
            replaced: ReplacedPolicy::default(),
        }
    }

    /// Sessions against the sandbox at `url` (`http://host:port`).
    #[cfg(feature = "sandbox")]
    pub fn sandbox(url: impl Into<String>) -> Self {
        Self {
            endpoint: Endpoint::Sandbox { url: url.into().trim_end_matches('/').to_owned() },
            version: Some(SANDBOX_VERSION),
            ..Self::whatsapp()
        }
    }
}

/// The client version announced to the sandbox, which accepts any.
#[cfg(feature = "sandbox")]
pub const SANDBOX_VERSION: (u32, u32, u32) = (2, 3000, 0);

/// Runs sessions on whatsapp-rust, their credentials in wagate's store.
pub struct WhatsAppEngine {
    store: Store,
    config: Arc<EngineConfig>,
}

impl WhatsAppEngine {
    pub fn new(store: Store, config: EngineConfig) -> Self {
        Self { store, config: Arc::new(config) }
    }
}

#[async_trait]
impl Engine for WhatsAppEngine {
    async fn start(
        &self,
        spec: SessionSpec,
        events: EventSink,
        inbox: Arc<dyn Inbox>,
    ) -> Result<Arc<dyn Session>, EngineError> {
        let credentials = StoredCredentials::new(&self.store, &spec.tenant, spec.id);
        Ok(WhatsAppSession::start(spec, credentials, self.config.clone(), events, inbox))
    }

    async fn forget(&self, session: SessionId) -> Result<(), EngineError> {
        let record = self.store.session_by_id(session).await.map_err(|e| EngineError::Failed(e.to_string()))?;
        let Some(record) = record else { return Ok(()) };
        StoredCredentials::new(&self.store, &record.tenant, session)
            .forget()
            .await
            .map_err(|e| EngineError::Failed(format!("could not delete the WhatsApp credentials: {e}")))?;
        Ok(())
    }
}
