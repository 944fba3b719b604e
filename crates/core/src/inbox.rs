//! Received messages go to the database before WhatsApp hears they arrived: the engine
//! commits them through a session's [`SessionInbox`] and acknowledges only after that.

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::{debug, error};
use wagate_engine::{Content, EngineError, Inbox, IncomingMessage};
use wagate_store::{NewInbound, Store};
use wagate_types::{MessageId, SessionId, SessionName, TenantId};

use crate::messages::MessageContent;

/// One session's [`Inbox`]: commits what the session receives to the store.
pub struct SessionInbox {
    store: Store,
    tenant: TenantId,
    session: SessionId,
    name: SessionName,
}

impl SessionInbox {
    pub fn new(store: Store, tenant: TenantId, session: SessionId, name: SessionName) -> Self {
        Self { store, tenant, session, name }
    }
}

#[async_trait]
impl Inbox for SessionInbox {
    #[tracing::instrument(skip_all, fields(session = %self.name, count = messages.len()))]
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        let rows: Vec<NewInbound> = messages.iter().filter_map(row_of).collect();
        match self.store.commit_inbound(&self.tenant, self.session, &rows, OffsetDateTime::now_utc()).await {
            Ok(stored) => {
                let new = stored.iter().filter(|&&s| s).count();
                debug!(new, repeated = stored.len() - new, "received messages committed");
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

/// The row a received message is stored as; its content as the API shows it.
fn row_of(message: &IncomingMessage) -> Option<NewInbound> {
    let content = match &message.content {
        Content::Text { body } => MessageContent::Text(body.clone()),
        _ => return None,
    };
    Some(NewInbound {
        id: MessageId::new(),
        chat: message.chat.clone(),
        sender: message.sender.clone(),
        push_name: message.push_name.clone(),
        wa_id: message.wa_id.clone(),
        kind: content.kind().to_owned(),
        content: content.to_json(),
        sent_at: message.at,
    })
}
