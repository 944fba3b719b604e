//! App-state sync: sync keys, collection versions, mutation MACs.

use std::collections::HashMap;

use async_trait::async_trait;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::error::Result;
use wacore::store::traits::{AppStateSyncKey, AppSyncStore};
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::{db, from_json, to_json};
use crate::keys;

fn mac_key(collection: &str, index_mac: &[u8]) -> String {
    keys::join(&[collection, &hex::encode(index_mac)])
}

#[async_trait]
impl AppSyncStore for StoredCredentials {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let value = self.state.get(keys::SYNC_KEY, &hex::encode(key_id)).await.map_err(db)?;
        value.map(|v| from_json(&v)).transpose()
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        // The key and "latest" move together.
        let writes = [
            EngineWrite::put(keys::SYNC_KEY, hex::encode(key_id), to_json(&key)?),
            EngineWrite::put(keys::SYNC_KEY_LATEST, keys::LATEST_KEY, key_id),
        ];
        self.state.apply(&writes).await.map_err(db)
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        let value = self.state.get(keys::APPSTATE_VERSION, name).await.map_err(db)?;
        value.map_or_else(|| Ok(HashState::default()), |v| from_json(&v))
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::APPSTATE_VERSION, name, to_json(&state)?)]).await.map_err(db)
    }

    async fn put_mutation_macs(&self, name: &str, _version: u64, mutations: &[AppStateMutationMAC]) -> Result<()> {
        // The version is not needed to find a MAC again (the reference ignores it too).
        let writes: Vec<_> = mutations
            .iter()
            .map(|m| EngineWrite::put(keys::MUTATION_MAC, mac_key(name, &m.index_mac), m.value_mac.clone()))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::MUTATION_MAC, &mac_key(name, index_mac)).await.map_err(db)
    }

    async fn get_mutation_macs(&self, name: &str, index_macs: &[[u8; 32]]) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        let wanted: Vec<String> = index_macs.iter().map(|index_mac| mac_key(name, index_mac)).collect();
        let mut found = self.state.get_many(keys::MUTATION_MAC, &wanted).await.map_err(db)?;
        Ok(index_macs
            .iter()
            .zip(&wanted)
            .filter_map(|(index_mac, key)| Some((*index_mac, found.remove(key)?)))
            .collect())
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        let writes: Vec<_> = index_macs
            .iter()
            .map(|index_mac| EngineWrite::delete(keys::MUTATION_MAC, mac_key(name, index_mac)))
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete_prefix(keys::MUTATION_MAC, keys::prefix(&[name]))]).await.map_err(db)
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::SYNC_KEY_LATEST, keys::LATEST_KEY).await.map_err(db)
    }
}
