//! Sending and looking up messages.

use anyhow::Context;
use time::OffsetDateTime;
use wagate_engine::{OutgoingMessage, StatusPost};
use wagate_store::{AcceptOutcome, Idempotency, MessageFilter, MessageRecord, NewMessage, Transition};
use wagate_types::{
    ChatId, Direction, MessageId, MessageStatus, Priority, Recipient, SessionId, SessionName, TenantId, WaMessageId,
};

use crate::content::{
    NewContent, engine_content, engine_context, plain_json, reply_json, status_of, with_context, with_status,
    with_typing,
};
use crate::received::set_reaction;
use crate::{Error, Gateway, Result, media_send};

/// A validated request to send a message.
#[derive(Debug)]
pub struct SendRequest {
    pub session: SessionName,
    pub to: Recipient,
    pub content: NewContent,
    /// A stored message of the same chat to quote.
    pub reply_to: Option<MessageId>,
    /// People named with `@`.
    pub mentions: Vec<ChatId>,
    pub priority: Priority,
    pub send_at: Option<OffsetDateTime>,
    /// How long to show "typing…" before sending; 0 for not at all.
    pub typing_ms: u32,
    pub idempotency: Option<Idempotency>,
    /// Set for a status (story) post; `to` is then `status@broadcast`.
    pub status: Option<StatusPost>,
}

impl SendRequest {
    /// The longest typing a send may ask for: longer looks like a stuck client.
    pub const MAX_TYPING_MS: u32 = 20_000;
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
        let reply_to = match request.reply_to {
            Some(id) => Some(reply_json(&self.related(tenant, id, session_id, &request.to.chat, "reply_to").await?)),
            None => None,
        };
        let kind = request.content.kind();
        let own_reaction = match &request.content {
            NewContent::Reaction { message_id, emoji } => Some((*message_id, emoji.clone())),
            _ => None,
        };
        let session_name = request.session.clone();
        if let (NewContent::Media(_), Some(idem)) = (&request.content, &request.idempotency) {
            // A repeated upload replays without taking the file in a second time.
            let earlier = self.store.idempotent_message(tenant, idem.key.as_str()).await.context("look up the key")?;
            match earlier {
                Some((hash, message)) if hash == idem.request_hash => return Ok(Accepted { message, replayed: true }),
                Some(_) => return Err(Error::IdempotencyKeyReused),
                None => {}
            }
        }
        let content = match request.content {
            NewContent::Reaction { message_id, .. } => {
                let target =
                    self.related(tenant, message_id, session_id, &request.to.chat, "reaction.message_id").await?;
                plain_json(&request.content, Some(&target))
            }
            NewContent::Media(media) => {
                let images = self.sessions.get(tenant, &request.session).await?.settings.images;
                media_send::ingest(&self.media, tenant, media, images).await?
            }
            other => plain_json(&other, None),
        };
        let message = NewMessage {
            id: MessageId::new(),
            tenant: tenant.clone(),
            session_id,
            session_name: request.session,
            chat: request.to.chat,
            recipient,
            kind: kind.to_owned(),
            content: with_status(
                with_typing(with_context(content, reply_to, &request.mentions), request.typing_ms),
                request.status.as_ref(),
            ),
            wa_id: WaMessageId::generate(),
            priority: request.priority,
            send_at: request.send_at,
            created_at: OffsetDateTime::now_utc(),
            idempotency: request.idempotency,
            origin: None,
        };
        let mut accepted = self.accept(message).await?;
        self.sessions.explain(&mut accepted.message);
        if let (Some((target, emoji)), false) = (own_reaction, accepted.replayed) {
            self.show_own_reaction(tenant, &session_name, target, &emoji).await?;
        }
        Ok(accepted)
    }

    /// Shows this session's own reaction on the message it reacts to, beside those of
    /// contacts, named by the session's phone number (`me` while it is not known).
    async fn show_own_reaction(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        target: MessageId,
        emoji: &str,
    ) -> Result<()> {
        let own = self.sessions.get(tenant, session).await?.phone.unwrap_or_else(|| "me".to_owned());
        let now = OffsetDateTime::now_utc();
        self.store
            .update_content(tenant, target, now, |_, content| set_reaction(content, &own, emoji, now))
            .await
            .context("show the reaction on its message")?;
        Ok(())
    }

    pub(crate) async fn accept(&self, message: NewMessage) -> Result<Accepted> {
        match self.accepter.accept(message).await? {
            AcceptOutcome::Created(message) => Ok(Accepted { message, replayed: false }),
            AcceptOutcome::Replayed(message) => Ok(Accepted { message, replayed: true }),
            AcceptOutcome::KeyReused => Err(Error::IdempotencyKeyReused),
        }
    }

    /// A stored message another one refers to (quotes, reacts to): it must be in the
    /// same session and chat, else the request's `field` is invalid.
    async fn related(
        &self,
        tenant: &TenantId,
        id: MessageId,
        session: SessionId,
        chat: &ChatId,
        field: &str,
    ) -> Result<MessageRecord> {
        let target = self.store.message(tenant, id).await.context("load the message referred to")?;
        match target {
            None => Err(Error::invalid(field, format!("no message {id}"))),
            Some(t) if t.session_id != session => {
                Err(Error::invalid(field, format!("message {id} belongs to another session")))
            }
            Some(t) if &t.chat != chat => Err(Error::invalid(field, format!("message {id} is in another chat"))),
            Some(t) => Ok(t),
        }
    }

    pub async fn message(&self, tenant: &TenantId, id: MessageId) -> Result<MessageRecord> {
        let mut message = self
            .store
            .message(tenant, id)
            .await
            .context("load message")?
            .ok_or_else(|| Error::NotFound(format!("message {id}")))?;
        self.sessions.explain(&mut message);
        Ok(message)
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
        let mut messages = self.store.messages(tenant, &filter).await.context("list messages")?;
        for message in &mut messages {
            self.sessions.explain(message);
        }
        Ok(messages)
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

/// The engine's view of a stored message, with its `content` built by the caller (a
/// media message's needs the file's bytes; see [`crate::media_send::engine_content`]).
pub(crate) fn outgoing(record: &MessageRecord, content: wagate_engine::Content) -> OutgoingMessage {
    OutgoingMessage {
        wa_id: record.wa_id.clone(),
        to: record.chat.clone(),
        content,
        context: engine_context(&record.content, &record.chat),
        status: status_of(&record.content),
    }
}

/// The engine's content of a stored message that carries no file.
pub(crate) fn plain_content(record: &MessageRecord) -> Result<wagate_engine::Content, String> {
    engine_content(&record.kind, &record.content, &record.chat)
}
