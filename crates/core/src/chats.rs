//! A session's chats: the overview, and marking a chat read on WhatsApp.

use anyhow::Context as _;
use time::OffsetDateTime;
use wagate_store::{ChatFilter, ChatSummary};
use wagate_types::{ChatId, MessageId, SessionName, TenantId};

use crate::sessions::engine_error;
use crate::{Gateway, Result};

impl Gateway {
    /// A page of the session's chats, newest activity first; `before` is the previous
    /// page's last `last_message` id.
    pub async fn chats(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatSummary>> {
        let session_id = self.sessions.id_of(tenant, session).await?;
        let filter = ChatFilter { session_id, before, limit };
        Ok(self.store.chat_page(tenant, &filter).await.context("list chats")?)
    }

    /// Marks the chat's unread received messages (up to `up_to`, if given) read: read
    /// receipts go to their senders first, then the messages are recorded read, so a
    /// failure changes nothing. Needs a connected session. Returns how many were marked.
    pub async fn mark_chat_read(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        chat: &ChatId,
        up_to: Option<MessageId>,
    ) -> Result<u64> {
        let live = self.sessions.connected(tenant, session).await?;
        let session_id = self.sessions.id_of(tenant, session).await?;
        let unread = self.store.unread(session_id, chat, up_to).await.context("find unread messages")?;
        if unread.is_empty() {
            return Ok(0);
        }
        let receipts: Vec<_> = unread.iter().map(|u| (u.sender.clone(), u.wa_id.clone())).collect();
        live.mark_read(chat, &receipts).await.map_err(engine_error)?;
        let ids: Vec<MessageId> = unread.iter().map(|u| u.id).collect();
        Ok(self.store.mark_read(&ids, OffsetDateTime::now_utc()).await.context("mark messages read")?)
    }
}
