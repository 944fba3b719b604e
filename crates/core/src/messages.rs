//! Sending and looking up messages.

use anyhow::Context;
use serde_json::json;
use time::OffsetDateTime;
use wagate_engine::{Content, OutgoingMessage};
use wagate_store::{AcceptOutcome, Idempotency, MessageFilter, MessageRecord, NewMessage, Transition};
use wagate_types::{
    ChatId, Direction, MessageId, MessageStatus, Priority, Recipient, SessionName, TenantId, WaMessageId,
};

use crate::{Error, Gateway, Result};

/// What a message carries, as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    Text(String),
}

impl MessageContent {
    pub const MAX_TEXT: usize = 65_536;

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
        }
    }

    /// The content object as stored and shown: `{"text": "Hi"}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Text(text) => json!({ "text": text }),
        }
    }
}

/// A validated request to send a message.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub session: SessionName,
    pub to: Recipient,
    pub content: MessageContent,
    pub priority: Priority,
    pub send_at: Option<OffsetDateTime>,
    pub idempotency: Option<Idempotency>,
}

/// Filters for listing messages, as a client gives them.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub session: Option<SessionName>,
    pub status: Option<MessageStatus>,
    pub direction: Option<Direction>,
    pub chat: Option<ChatId>,
    pub since: Option<OffsetDateTime>,
    pub before: Option<MessageId>,
    pub limit: u32,
}

/// A message as accepted: newly, or replayed for a repeated idempotency key.
pub struct Accepted {
    pub message: MessageRecord,
    pub replayed: bool,
}

impl Gateway {
    /// Stores the message durably and queues it on its session.
    pub async fn send_message(&self, tenant: &TenantId, request: SendRequest) -> Result<Accepted> {
        let session_id = self.sessions.id_of(tenant, &request.session).await?;
        let recipient = match &request.to.phone {
            Some(phone) => phone.to_string(),
            None => request.to.chat.to_string(),
        };
        let message = NewMessage {
            id: MessageId::new(),
            tenant: tenant.clone(),
            session_id,
            session_name: request.session,
            chat: request.to.chat,
            recipient,
            kind: request.content.kind().to_owned(),
            content: request.content.to_json(),
            wa_id: WaMessageId::generate(),
            priority: request.priority,
            send_at: request.send_at,
            created_at: OffsetDateTime::now_utc(),
            idempotency: request.idempotency,
        };
        match self.accepter.accept(message).await? {
            AcceptOutcome::Created(message) => Ok(Accepted { message, replayed: false }),
            AcceptOutcome::Replayed(message) => Ok(Accepted { message, replayed: true }),
            AcceptOutcome::KeyReused => Err(Error::IdempotencyKeyReused),
        }
    }

    pub async fn message(&self, tenant: &TenantId, id: MessageId) -> Result<MessageRecord> {
        self.store
            .message(tenant, id)
            .await
            .context("load message")?
            .ok_or_else(|| Error::NotFound(format!("message {id}")))
    }

    /// Messages newest first; `before` continues a previous page.
    pub async fn list_messages(&self, tenant: &TenantId, request: ListRequest) -> Result<Vec<MessageRecord>> {
        let session_id = match &request.session {
            Some(name) => Some(self.sessions.id_of(tenant, name).await?),
            None => None,
        };
        let filter = MessageFilter {
            session_id,
            status: request.status,
            direction: request.direction,
            chat: request.chat,
            since: request.since,
            before: request.before,
            limit: request.limit,
        };
        Ok(self.store.messages(tenant, &filter).await.context("list messages")?)
    }

    /// Cancels a message that has not been sent yet. Received messages cannot be cancelled.
    pub async fn cancel_message(&self, tenant: &TenantId, id: MessageId) -> Result<MessageRecord> {
        let done = self.store.cancel_message(tenant, id, OffsetDateTime::now_utc()).await.context("cancel message")?;
        transition(done, id)
    }

    /// Queues a failed or cancelled message again. Received messages cannot be resent.
    pub async fn resend_message(&self, tenant: &TenantId, id: MessageId) -> Result<MessageRecord> {
        let done = self.store.resend_message(tenant, id, OffsetDateTime::now_utc()).await.context("resend message")?;
        let record = transition(done, id)?;
        self.sessions.wake(record.session_id);
        Ok(record)
    }
}

fn transition(done: Transition, id: MessageId) -> Result<MessageRecord> {
    match done {
        Transition::Done(record) => Ok(record),
        Transition::WrongStatus(status) => Err(Error::WrongStatus(status)),
        Transition::Inbound => Err(Error::Inbound),
        Transition::NotFound => Err(Error::NotFound(format!("message {id}"))),
    }
}

/// The engine's view of a stored message.
pub(crate) fn outgoing(record: &MessageRecord) -> Result<OutgoingMessage> {
    let content = match record.kind.as_str() {
        "text" => {
            let text = record.content.get("text").and_then(|t| t.as_str());
            Content::Text { body: text.context("stored text message has no text")?.to_owned() }
        }
        other => return Err(Error::Internal(anyhow::anyhow!("this engine cannot send '{other}' messages"))),
    };
    Ok(OutgoingMessage {
        wa_id: record.wa_id.clone(),
        to: record.chat.clone(),
        content,
        context: wagate_engine::Context::default(),
    })
}
