//! Chats: a session's conversations, drawn from its messages. A chat's newest message
//! and its unread count are computed on reading, over the `messages_chat` index, so
//! nothing has to be kept in step with every write.

use std::collections::HashMap;

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::{ChatId, MessageId, SessionId, TenantId, WaMessageId};

use crate::message_rows::{COLUMNS, message_from_row};
use crate::statement::Statement;
use crate::time_ms::to_ms;
use crate::{MessageRecord, Result, Store, StoreError};

/// What does not count as unread: changes to other messages, not messages to read.
const NOT_READ: &str = "('reaction', 'poll_vote', 'edit', 'revoke')";

/// One conversation of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSummary {
    pub chat: ChatId,
    /// The newest message, sent or received.
    pub last_message: MessageRecord,
    /// Received messages not marked read.
    pub unread: u64,
    /// The push name of the person, when they wrote to the session.
    pub name: Option<String>,
}

/// Which chats to list: a session's, newest activity first.
#[derive(Debug, Clone)]
pub struct ChatFilter {
    pub session_id: SessionId,
    /// Only chats whose newest message is older than this one (the cursor).
    pub before: Option<MessageId>,
    pub limit: u32,
}

/// A received message to mark read: its id, sender and WhatsApp id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub id: MessageId,
    pub sender: ChatId,
    pub wa_id: WaMessageId,
}

impl Store {
    /// A page of a session's chats, the one with the newest message first.
    pub async fn chat_page(&self, tenant: &TenantId, filter: &ChatFilter) -> Result<Vec<ChatSummary>> {
        let mut q = Statement::new(
            self.backend,
            format!(
                "SELECT chat, MAX(id) AS last_id, SUM(CASE WHEN direction = 'inbound' AND read_at IS NULL \
                 AND kind NOT IN {NOT_READ} THEN 1 ELSE 0 END) AS unread \
                 FROM messages WHERE tenant_id = "
            ),
        );
        q.push_bind(tenant.as_str().to_owned()).push(" AND session_id = ").push_bind(filter.session_id.to_string());
        q.push(" GROUP BY chat");
        if let Some(before) = filter.before {
            q.push(" HAVING MAX(id) < ").push_bind(before.to_string());
        }
        q.push(" ORDER BY last_id DESC LIMIT ").push_bind(i64::from(filter.limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        let mut chats = Vec::with_capacity(rows.len());
        for row in &rows {
            let unread: i64 = row.try_get("unread")?;
            chats.push((row.try_get::<String, _>("last_id")?, u64::try_from(unread).unwrap_or(0)));
        }
        if chats.is_empty() {
            return Ok(Vec::new());
        }

        let mut q = Statement::new(
            self.backend,
            format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id IN ("),
        );
        for (n, (id, _)) in chats.iter().enumerate() {
            q.push(if n == 0 { "" } else { ", " }).push_bind(id.clone());
        }
        q.push(")");
        let mut last: HashMap<String, MessageRecord> = HashMap::new();
        for row in q.build()?.fetch_all(&self.pool).await? {
            let record = message_from_row(&row)?;
            last.insert(record.id.to_string(), record);
        }

        let mut q = Statement::new(self.backend, "SELECT jid, push_name FROM contacts WHERE session_id = ");
        q.push_bind(filter.session_id.to_string()).push(" AND jid IN (");
        for (n, record) in last.values().enumerate() {
            q.push(if n == 0 { "" } else { ", " }).push_bind(record.chat.as_str().to_owned());
        }
        q.push(")");
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        for row in q.build()?.fetch_all(&self.pool).await? {
            names.insert(row.try_get("jid")?, row.try_get("push_name")?);
        }

        chats
            .into_iter()
            .map(|(id, unread)| {
                let last_message =
                    last.remove(&id).ok_or_else(|| StoreError::Corrupt(format!("message {id} vanished")))?;
                let name = names.get(last_message.chat.as_str()).cloned().flatten();
                Ok(ChatSummary { chat: last_message.chat.clone(), last_message, unread, name })
            })
            .collect()
    }

    /// The received messages of a chat not marked read yet, oldest first; with `up_to`,
    /// only those up to that message.
    pub async fn unread(&self, session: SessionId, chat: &ChatId, up_to: Option<MessageId>) -> Result<Vec<Unread>> {
        let mut q = Statement::new(
            self.backend,
            format!(
                "SELECT id, sender, wa_id FROM messages WHERE direction = 'inbound' AND read_at IS NULL \
                 AND kind NOT IN {NOT_READ} AND session_id = "
            ),
        );
        q.push_bind(session.to_string()).push(" AND chat = ").push_bind(chat.as_str().to_owned());
        if let Some(up_to) = up_to {
            q.push(" AND id <= ").push_bind(up_to.to_string());
        }
        q.push(" ORDER BY id");
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let sender: Option<String> = row.try_get("sender")?;
                Ok(Unread {
                    id: MessageId::parse(&id).map_err(|e| StoreError::Corrupt(format!("message id {id}: {e}")))?,
                    sender: ChatId::from_stored(sender.unwrap_or_else(|| chat.to_string())),
                    wa_id: WaMessageId::from_stored(row.try_get("wa_id")?),
                })
            })
            .collect()
    }

    /// Records that received messages were read at `at`; a message read before keeps
    /// its time. Returns how many were marked now.
    pub async fn mark_read(&self, ids: &[MessageId], at: OffsetDateTime) -> Result<u64> {
        let mut marked = 0;
        for chunk in ids.chunks(crate::messages::INSERT_CHUNK) {
            let mut q = Statement::new(self.backend, "UPDATE messages SET read_at = ");
            q.push_bind(to_ms(at)).push(", updated_at = ").push_bind(to_ms(at));
            q.push(" WHERE direction = 'inbound' AND read_at IS NULL AND id IN (");
            for (n, id) in chunk.iter().enumerate() {
                q.push(if n == 0 { "" } else { ", " }).push_bind(id.to_string());
            }
            q.push(")");
            marked += q.build()?.execute(&self.pool).await?.rows_affected();
        }
        Ok(marked)
    }
}
