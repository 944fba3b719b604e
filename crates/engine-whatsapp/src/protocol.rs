//! Protocol state: which group devices hold our sender key, LID ↔ phone mappings, base
//! keys for retry collisions, device lists, group metadata. Trusted-contact tokens live
//! in `tc_tokens`, the sent-message and pending-inbound buffers in `buffers`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use wacore::store::error::Result;
use wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore, TcTokenEntry,
};
use wagate_store::EngineWrite;

use crate::StoredCredentials;
use crate::codec::{db, flag, from_json, to_json};
use crate::keys;

#[async_trait]
impl ProtocolStore for StoredCredentials {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        let rows = self.state.list(keys::SENDER_KEY_DEVICE, Some(&keys::prefix(&[group_jid]))).await.map_err(db)?;
        rows.into_iter().map(|(key, value)| Ok((device_of(&key), flag(&value, "sender key status")?))).collect()
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        let writes: Vec<_> = entries
            .iter()
            .map(|(device, has_key)| {
                EngineWrite::put(keys::SENDER_KEY_DEVICE, keys::join(&[group_jid, device]), [u8::from(*has_key)])
            })
            .collect();
        self.state.apply(&writes).await.map_err(db)
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        let clear = EngineWrite::delete_prefix(keys::SENDER_KEY_DEVICE, keys::prefix(&[group_jid]));
        self.state.apply(&[clear]).await.map_err(db)
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        // Keys lead with the group, so finding a device in every group means reading
        // them all; rare (an identity change), and one transaction with the deletes.
        let devices: HashSet<&str> = device_jids.iter().copied().collect();
        let mut tx = self.state.begin().await.map_err(db)?;
        let all = tx.keys(keys::SENDER_KEY_DEVICE, None).await.map_err(db)?;
        let writes: Vec<_> = all
            .into_iter()
            .filter(|key| devices.contains(device_of(key).as_str()))
            .map(|key| EngineWrite::delete(keys::SENDER_KEY_DEVICE, key))
            .collect();
        tx.apply(&writes).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.state.apply(&[EngineWrite::delete_kind(keys::SENDER_KEY_DEVICE)]).await.map_err(db)
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let value = self.state.get(keys::LID, lid).await.map_err(db)?;
        value.map(|v| from_json(&v)).transpose()
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let index = self.state.keys(keys::PN, Some(&keys::prefix(&[phone]))).await.map_err(db)?;
        let lids: Vec<String> = index.iter().filter_map(|key| keys::split(key).pop()).collect();
        let mut latest: Option<LidPnMappingEntry> = None;
        for value in self.state.get_many(keys::LID, &lids).await.map_err(db)?.values() {
            let entry: LidPnMappingEntry = from_json(value)?;
            // Several LIDs may have had this number: the most recent wins.
            let newer = latest.as_ref().is_none_or(|l| (entry.updated_at, &entry.lid) > (l.updated_at, &l.lid));
            if entry.phone_number == phone && newer {
                latest = Some(entry);
            }
        }
        Ok(latest)
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // A mapping and its phone index entry change together: read what each LID maps
        // to now, move its index entry if the number changed, in one transaction.
        let lids: Vec<&str> = entries.iter().map(|e| e.lid.as_str()).collect();
        let mut tx = self.state.begin().await.map_err(db)?;
        let mut phones: HashMap<String, String> = HashMap::new();
        for (lid, value) in tx.get_many(keys::LID, &lids).await.map_err(db)? {
            phones.insert(lid, from_json::<LidPnMappingEntry>(&value)?.phone_number);
        }
        let mut writes = Vec::with_capacity(entries.len() * 3);
        for entry in entries {
            if let Some(old) = phones.insert(entry.lid.clone(), entry.phone_number.clone())
                && old != entry.phone_number
            {
                writes.push(EngineWrite::delete(keys::PN, keys::join(&[&old, &entry.lid])));
            }
            writes.push(EngineWrite::put(keys::PN, keys::join(&[&entry.phone_number, &entry.lid]), Vec::new()));
            writes.push(EngineWrite::put(keys::LID, entry.lid.clone(), to_json(entry)?));
        }
        tx.apply(&writes).await.map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows = self.state.list(keys::LID, None).await.map_err(db)?;
        rows.iter().map(|(_, value)| from_json(value)).collect()
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        let put = EngineWrite::put(keys::BASE_KEY, keys::join(&[address, message_id]), base_key);
        self.state.apply(&[put]).await.map_err(db)
    }

    async fn has_same_base_key(&self, address: &str, message_id: &str, current_base_key: &[u8]) -> Result<bool> {
        let saved = self.state.get(keys::BASE_KEY, &keys::join(&[address, message_id])).await.map_err(db)?;
        Ok(saved.is_some_and(|saved| saved == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        let delete = EngineWrite::delete(keys::BASE_KEY, keys::join(&[address, message_id]));
        self.state.apply(&[delete]).await.map_err(db)
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let writes = records
            .iter()
            .map(|record| Ok(EngineWrite::put(keys::DEVICE_LIST, record.user.clone(), to_json(record)?)))
            .collect::<Result<Vec<_>>>()?;
        self.state.apply(&writes).await.map_err(db)
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let value = self.state.get(keys::DEVICE_LIST, user).await.map_err(db)?;
        value.map(|v| from_json(&v)).transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::DEVICE_LIST, user)]).await.map_err(db)
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        self.state.get(keys::GROUP_METADATA, group_jid).await.map_err(db)
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        self.state.apply(&[EngineWrite::put(keys::GROUP_METADATA, group_jid, blob)]).await.map_err(db)
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.state.apply(&[EngineWrite::delete(keys::GROUP_METADATA, group_jid)]).await.map_err(db)
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        self.tc_token(jid).await
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        self.put_tc_token_entry(jid, entry).await
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.delete_tc_token_entry(jid).await
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        self.tc_token_jids().await
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        self.sweep_tc_tokens(token_cutoff, sender_cutoff).await
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        self.touch_tc_token_sender(jid, sender_timestamp).await
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        self.store_received_token(jid, token, token_timestamp).await
    }

    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        self.keep_sent_message(chat_jid, message_id, payload).await
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        self.take_kept_sent_message(chat_jid, message_id).await
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.sweep_sent_messages(cutoff_timestamp).await
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        self.buffer_inbound(&[PendingInboundRow { chat, sender, id, message }]).await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        self.buffer_inbound(rows).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.buffered_inbound(chat, sender, id).await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.unbuffer_inbound(&[PendingInboundKey { chat, sender, id }]).await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        self.unbuffer_inbound(keys).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.sweep_inbound(cutoff_timestamp).await
    }
}

/// The device part of a `group ‖ device` key.
fn device_of(key: &str) -> String {
    keys::split(key).pop().unwrap_or_default()
}
