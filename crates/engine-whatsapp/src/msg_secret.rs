//! Secrets of messages we sent or received (polls, reactions, edits refer to them).

use std::collections::HashMap;

use async_trait::async_trait;
use wacore::reporting_token::MESSAGE_SECRET_SIZE;
use wacore::store::error::{Result, StoreError};
use wacore::store::traits::{
    MessageSecret, MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry, merge_msg_secret_message_ts,
};
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::buffers::count;
use crate::codec::{array, db};
use crate::keys;

/// A stored secret: the secret, then `expires_at` and `message_ts` as big-endian i64.
struct Stored {
    secret: MessageSecret,
    expires_at: i64,
    message_ts: i64,
}

impl Stored {
    fn encode(&self) -> Vec<u8> {
        [&self.secret[..], &self.expires_at.to_be_bytes(), &self.message_ts.to_be_bytes()].concat()
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let invalid = || StoreError::Validation(format!("stored message secret has {} bytes", bytes.len()));
        let (secret, times) = bytes.split_at_checked(MESSAGE_SECRET_SIZE).ok_or_else(invalid)?;
        let (expires_at, message_ts) = times.split_at_checked(8).ok_or_else(invalid)?;
        Ok(Self {
            secret: array(secret, "message secret")?,
            expires_at: i64::from_be_bytes(array(expires_at, "message secret expiry")?),
            message_ts: i64::from_be_bytes(array(message_ts, "message secret time")?),
        })
    }

    /// This row after `entry` was stored again under its key.
    fn merged(&self, entry: &MsgSecretEntry) -> Self {
        Self {
            secret: entry.secret,
            expires_at: merge_msg_secret_expiry(self.expires_at, entry.expires_at),
            message_ts: merge_msg_secret_message_ts(self.message_ts, entry.message_ts),
        }
    }

    /// Swept once the cutoff passes `expires_at`; `0` means never.
    fn stamp(&self) -> Option<i64> {
        (self.expires_at != 0).then_some(self.expires_at)
    }
}

impl From<&MsgSecretEntry> for Stored {
    fn from(entry: &MsgSecretEntry) -> Self {
        Self { secret: entry.secret, expires_at: entry.expires_at, message_ts: entry.message_ts }
    }
}

fn key(chat: &str, sender: &str, msg_id: &str) -> String {
    keys::join(&[chat, sender, msg_id])
}

#[async_trait]
impl MsgSecretStore for StoredCredentials {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        // On a key already stored (or repeated in the batch), the later deadline and the
        // known parent time win: a read-modify-write, so one transaction.
        let row_keys: Vec<String> = entries.iter().map(|e| key(&e.chat, &e.sender, &e.msg_id)).collect();
        let mut tx = self.state.begin().await.map_err(db)?;
        let mut stored: HashMap<String, Stored> = HashMap::new();
        for (key, value) in tx.get_many(keys::MSG_SECRET, &row_keys).await.map_err(db)? {
            stored.insert(key, Stored::decode(&value)?);
        }
        let mut rows: Vec<(String, Stored)> = Vec::with_capacity(entries.len());
        let mut slots: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (key, entry) in row_keys.iter().zip(&entries) {
            match slots.get(key.as_str()) {
                Some(&slot) => rows[slot].1 = rows[slot].1.merged(entry),
                None => {
                    let row = stored.remove(key).map_or_else(|| Stored::from(entry), |old| old.merged(entry));
                    slots.insert(key, rows.len());
                    rows.push((key.clone(), row));
                }
            }
        }
        let writes: Vec<_> = rows
            .into_iter()
            .map(|(key, row)| EngineWrite::Put {
                kind: keys::MSG_SECRET.to_owned(),
                key,
                value: row.encode(),
                stamp: row.stamp(),
            })
            .collect();
        tx.apply(&writes).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(entries.len())
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_msg_secret_with_ts(chat, sender, msg_id).await?.map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<(Vec<u8>, i64)>> {
        let value = self.state.get(keys::MSG_SECRET, &key(chat, sender, msg_id)).await.map_err(db)?;
        value.map(|v| Stored::decode(&v).map(|row| (row.secret.to_vec(), row.message_ts))).transpose()
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        // Gone when `expires_at <= cutoff`, that is below `cutoff + 1`.
        let cutoff = cutoff_timestamp.saturating_add(1);
        Ok(count(self.state.delete_stamped_before(keys::MSG_SECRET, cutoff).await.map_err(db)?))
    }
}
