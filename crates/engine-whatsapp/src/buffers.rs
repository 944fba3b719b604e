//! Short-lived buffers: sent messages kept for answering retry receipts, and decrypted
//! inbound messages waiting for the durability hook to commit them. Both are stamped
//! with the time they were stored (unix seconds), which the keepalive sweeps go by.

use wacore::store::error::Result;
use wacore::store::traits::{PendingInboundKey, PendingInboundRow};
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::db;
use crate::keys;

impl StoredCredentials {
    pub(crate) async fn keep_sent_message(&self, chat: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        let put = EngineWrite::put_stamped(keys::SENT_MESSAGE, keys::join(&[chat, message_id]), payload, now());
        self.state.apply(&[put]).await.map_err(db)
    }

    /// Removes and returns the payload in one statement: a retry receipt arriving twice
    /// gets it once.
    pub(crate) async fn take_kept_sent_message(&self, chat: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        self.state.take(keys::SENT_MESSAGE, &keys::join(&[chat, message_id])).await.map_err(db)
    }

    pub(crate) async fn sweep_sent_messages(&self, cutoff: i64) -> Result<u32> {
        let deleted = self.state.delete_stamped_before(keys::SENT_MESSAGE, cutoff).await.map_err(db)?;
        Ok(count(deleted))
    }

    /// Buffers a batch of decrypted messages in one transaction.
    pub(crate) async fn buffer_inbound(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        let stored_at = now();
        let writes: Vec<_> = rows
            .iter()
            .map(|row| {
                let key = keys::join(&[row.chat, row.sender, row.id]);
                EngineWrite::put_stamped(keys::PENDING_INBOUND, key, row.message, stored_at)
            })
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    pub(crate) async fn buffered_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::PENDING_INBOUND, &keys::join(&[chat, sender, id])).await.map_err(db)
    }

    pub(crate) async fn unbuffer_inbound(&self, rows: &[PendingInboundKey<'_>]) -> Result<()> {
        let writes: Vec<_> = rows
            .iter()
            .map(|row| EngineWrite::delete(keys::PENDING_INBOUND, keys::join(&[row.chat, row.sender, row.id])))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    pub(crate) async fn sweep_inbound(&self, cutoff: i64) -> Result<u32> {
        let deleted = self.state.delete_stamped_before(keys::PENDING_INBOUND, cutoff).await.map_err(db)?;
        Ok(count(deleted))
    }
}

/// whatsapp-rust's clock, so tests that set its time provider move ours too.
fn now() -> i64 {
    wacore::time::now_secs()
}

pub(crate) fn count(rows: u64) -> u32 {
    u32::try_from(rows).unwrap_or(u32::MAX)
}
