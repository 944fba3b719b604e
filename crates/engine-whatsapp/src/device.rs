//! The linked device itself: its keys, JIDs and counters. One per wagate session.

use std::sync::Arc;

use async_trait::async_trait;
use wacore::store::Device;
use wacore::store::device::DEVICE_PROPS;
use wacore::store::error::Result;
use wacore::store::traits::DeviceStore;
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::{db, from_json, to_json};
use crate::keys;

/// A wagate session holds one device, so its id is always the same.
const DEVICE_ID: i32 = 1;

fn decode(bytes: &[u8]) -> Result<Device> {
    let mut device: Device = from_json(bytes)?;
    // Not serialised (runtime-only): back to the defaults of a fresh device. The client
    // builder applies any override again on every start.
    device.device_props = Arc::new(DEVICE_PROPS.clone());
    Ok(device)
}

#[async_trait]
impl DeviceStore for StoredCredentials {
    async fn save(&self, device: &Device) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::DEVICE, keys::DEVICE_KEY, to_json(device)?)]).await.map_err(db)
    }

    async fn load(&self) -> Result<Option<Device>> {
        let value = self.state.get(keys::DEVICE, keys::DEVICE_KEY).await.map_err(db)?;
        value.map(|v| decode(&v)).transpose()
    }

    async fn exists(&self) -> Result<bool> {
        Ok(self.state.get(keys::DEVICE, keys::DEVICE_KEY).await.map_err(db)?.is_some())
    }

    /// Stores a fresh device (new keys) unless the session has one already.
    async fn create(&self) -> Result<i32> {
        let mut tx = self.state.begin().await.map_err(db)?;
        if tx.get(keys::DEVICE, keys::DEVICE_KEY).await.map_err(db)?.is_none() {
            tx.apply(&[EngineWrite::put(keys::DEVICE, keys::DEVICE_KEY, to_json(&Device::new())?)])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(DEVICE_ID)
    }
}
