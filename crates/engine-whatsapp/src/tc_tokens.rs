//! Trusted-contact tokens. Two writers own the two halves of an entry (the token
//! received from a contact, the time we last issued ours), so every update of one half
//! is a read-modify-write in one transaction: neither can drop the other's half.

use wacore::store::error::Result;
use wacore::store::traits::TcTokenEntry;
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::{db, from_json, to_json};
use crate::keys;

impl StoredCredentials {
    pub(crate) async fn tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let value = self.state.get(keys::TC_TOKEN, jid).await.map_err(db)?;
        value.map(|v| from_json(&v)).transpose()
    }

    pub(crate) async fn put_tc_token_entry(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::TC_TOKEN, jid, to_json(entry)?)]).await.map_err(db)
    }

    pub(crate) async fn delete_tc_token_entry(&self, jid: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::TC_TOKEN, jid)]).await.map_err(db)
    }

    pub(crate) async fn tc_token_jids(&self) -> Result<Vec<String>> {
        self.state.keys(keys::TC_TOKEN, None).await.map_err(db)
    }

    /// Deletes the entries where neither half is live any more: the token is empty or
    /// older than `token_cutoff`, and the sender time is absent or older than
    /// `sender_cutoff`.
    pub(crate) async fn sweep_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        let mut tx = self.state.begin().await.map_err(db)?;
        let mut writes = Vec::new();
        for (jid, value) in tx.list(keys::TC_TOKEN, None).await.map_err(db)? {
            let entry: TcTokenEntry = from_json(&value)?;
            let token_live = !entry.token.is_empty() && entry.token_timestamp >= token_cutoff;
            let sender_live = entry.sender_timestamp.is_some_and(|ts| ts >= sender_cutoff);
            if !token_live && !sender_live {
                writes.push(EngineWrite::delete(keys::TC_TOKEN, jid));
            }
        }
        tx.apply(&writes).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(u32::try_from(writes.len()).unwrap_or(u32::MAX))
    }

    /// Moves our issuance time forward (never back), creating a token-less entry if
    /// there is none.
    pub(crate) async fn touch_tc_token_sender(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        self.update_tc_token(jid, |existing| {
            Some(match existing {
                Some(entry) => TcTokenEntry {
                    sender_timestamp: Some(
                        entry.sender_timestamp.map_or(sender_timestamp, |t| t.max(sender_timestamp)),
                    ),
                    ..entry
                },
                None => TcTokenEntry {
                    token: Vec::new(),
                    token_timestamp: sender_timestamp,
                    sender_timestamp: Some(sender_timestamp),
                },
            })
        })
        .await
    }

    /// Stores a token received from a contact, keeping our issuance time. Newer wins:
    /// an older token does not replace a real one (a placeholder never blocks).
    pub(crate) async fn store_received_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        self.update_tc_token(jid, |existing| match existing {
            Some(entry) if !entry.token.is_empty() && token_timestamp < entry.token_timestamp => None,
            Some(entry) => Some(TcTokenEntry { token: token.to_vec(), token_timestamp, ..entry }),
            None => Some(TcTokenEntry { token: token.to_vec(), token_timestamp, sender_timestamp: None }),
        })
        .await
    }

    /// Reads the entry and writes what `update` makes of it (nothing if `None`), in one
    /// transaction.
    async fn update_tc_token(
        &self,
        jid: &str,
        update: impl FnOnce(Option<TcTokenEntry>) -> Option<TcTokenEntry>,
    ) -> Result<()> {
        let mut tx = self.state.begin().await.map_err(db)?;
        let existing = tx.get(keys::TC_TOKEN, jid).await.map_err(db)?.map(|v| from_json(&v)).transpose()?;
        if let Some(entry) = update(existing) {
            tx.apply(&[EngineWrite::put(keys::TC_TOKEN, jid, to_json(&entry)?)]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
