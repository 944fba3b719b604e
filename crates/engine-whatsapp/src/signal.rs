//! Signal state: identities, sessions, prekeys, signed prekeys, sender keys.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use wacore::store::error::{Result, StoreError};
use wacore::store::traits::SignalStore;
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::{array, db};
use crate::keys;

/// A stored prekey: whether it was uploaded, then the record. The flag is the one
/// piece of state `mark_prekeys_uploaded` changes.
fn prekey_value(record: &[u8], uploaded: bool) -> Vec<u8> {
    let mut value = Vec::with_capacity(record.len() + 1);
    value.push(u8::from(uploaded));
    value.extend_from_slice(record);
    value
}

fn prekey_record(value: &[u8]) -> Result<Bytes> {
    match value.split_first() {
        Some((0 | 1, record)) => Ok(Bytes::copy_from_slice(record)),
        _ => Err(StoreError::Validation("stored prekey has no upload flag".into())),
    }
}

fn parse_id(key: &str) -> Result<u32> {
    key.parse().map_err(|_| StoreError::Validation(format!("stored prekey id '{key}' is not a number")))
}

#[async_trait]
impl SignalStore for StoredCredentials {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::IDENTITY, address, key)]).await.map_err(db)
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let writes: Vec<_> =
            identities.iter().map(|(address, key)| EngineWrite::put(keys::IDENTITY, &**address, *key)).collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let value = self.state.get(keys::IDENTITY, address).await.map_err(db)?;
        value.map(|v| array(&v, "identity key")).transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::IDENTITY, address)]).await.map_err(db)
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        Ok(self.state.get(keys::SESSION, address).await.map_err(db)?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::SESSION, address, session)]).await.map_err(db)
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let writes: Vec<_> = sessions
            .iter()
            .map(|(address, record)| EngineWrite::put(keys::SESSION, &**address, record.to_vec()))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::SESSION, address)]).await.map_err(db)
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        Ok(self.state.get(keys::SESSION, address).await.map_err(db)?.is_some())
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses are `user@server` (device 0) or `user:device@server`.
        for kind in [keys::SESSION, keys::IDENTITY] {
            for prefix in [format!("{user}@"), format!("{user}:")] {
                if !self.state.keys(kind, Some(&prefix)).await.map_err(db)?.is_empty() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.state
            .apply(&[EngineWrite::put(keys::PREKEY, keys::id(id), prekey_value(record, uploaded))])
            .await
            .map_err(db)
    }

    async fn store_prekeys_batch(&self, prekeys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        let writes: Vec<_> = prekeys
            .iter()
            .map(|(id, record)| EngineWrite::put(keys::PREKEY, keys::id(*id), prekey_value(record, uploaded)))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        let value = self.state.get(keys::PREKEY, &keys::id(id)).await.map_err(db)?;
        value.map(|v| prekey_record(&v)).transpose()
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        let wanted: Vec<String> = ids.iter().map(|&id| keys::id(id)).collect();
        let found = self.state.get_many(keys::PREKEY, &wanted).await.map_err(db)?;
        // In the order asked for, like the reference.
        ids.iter()
            .zip(&wanted)
            .filter_map(|(&id, key)| found.get(key).map(|value| prekey_record(value).map(|record| (id, record))))
            .collect()
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        // An update only: a prekey consumed since the upload began stays deleted. Read
        // and rewritten in one transaction, so a removal cannot slip in between.
        if ids.is_empty() {
            return Ok(());
        }
        let wanted: Vec<String> = ids.iter().map(|&id| keys::id(id)).collect();
        let mut tx = self.state.begin().await.map_err(db)?;
        let found = tx.get_many(keys::PREKEY, &wanted).await.map_err(db)?;
        let mut writes = Vec::new();
        for (key, value) in found {
            if value.first() == Some(&0) {
                writes.push(EngineWrite::put(keys::PREKEY, key, prekey_value(&prekey_record(&value)?, true)));
            }
        }
        tx.apply(&writes).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::PREKEY, keys::id(id))]).await.map_err(db)
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        // Fixed-width keys sort like the ids, so the last is the largest.
        let ids = self.state.keys(keys::PREKEY, None).await.map_err(db)?;
        ids.last().map_or(Ok(0), |key| parse_id(key))
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::SIGNED_PREKEY, keys::id(id), record)]).await.map_err(db)
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::SIGNED_PREKEY, &keys::id(id)).await.map_err(db)
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = self.state.list(keys::SIGNED_PREKEY, None).await.map_err(db)?;
        rows.into_iter().map(|(key, record)| Ok((parse_id(&key)?, record))).collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::SIGNED_PREKEY, keys::id(id))]).await.map_err(db)
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::SENDER_KEY, address, record)]).await.map_err(db)
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let writes: Vec<_> = sender_keys
            .iter()
            .map(|(address, record)| EngineWrite::put(keys::SENDER_KEY, &**address, record.to_vec()))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::SENDER_KEY, address).await.map_err(db)
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::SENDER_KEY, address)]).await.map_err(db)
    }
}
