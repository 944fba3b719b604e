//! Received messages go to the database before WhatsApp hears they arrived: the engine
//! commits them through a session's [`SessionInbox`] and acknowledges only after that.
//! A reaction, vote, edit or revoke is stored as a message of its own and, in the same
//! transaction, applied to the message it is about; the events of both are written in
//! that transaction too.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tracing::{debug, error};
use wagate_engine::{EngineError, Inbox, IncomingMessage};
use wagate_store::{NewInbound, Store};
use wagate_types::{SessionId, SessionName, TenantId};

use crate::events::ReceivedRules;
use crate::received::row_of;
use crate::webhooks::EventBus;

/// One session's [`Inbox`]: commits what the session receives to the store.
pub struct SessionInbox {
    store: Store,
    tenant: TenantId,
    session: SessionId,
    name: SessionName,
    /// The session's dispatcher, woken when a commit may have queued replies.
    wake: Arc<Notify>,
    /// Told that events were written.
    bus: EventBus,
}

impl SessionInbox {
    pub fn new(
        store: Store,
        tenant: TenantId,
        session: SessionId,
        name: SessionName,
        wake: Arc<Notify>,
        bus: EventBus,
    ) -> Self {
        Self { store, tenant, session, name, wake, bus }
    }
}

#[async_trait]
impl Inbox for SessionInbox {
    #[tracing::instrument(skip_all, fields(session = %self.name, count = messages.len()))]
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        let rows: Vec<NewInbound> = messages.iter().map(row_of).collect();
        let now = OffsetDateTime::now_utc();
        match self.store.commit_received(&self.tenant, self.session, &rows, now, &ReceivedRules).await {
            Ok(stored) => {
                let new = stored.iter().filter(|&&s| s).count();
                debug!(new, repeated = stored.len() - new, "received messages committed");
                if new > 0 {
                    self.wake.notify_one();
                    self.bus.written();
                }
                Ok(())
            }
            Err(e) => {
                // The engine does not acknowledge them, so WhatsApp delivers them again.
                error!(error = %e, "could not commit received messages");
                Err(EngineError::Failed(format!("could not store received messages: {e}")))
            }
        }
    }
}
