//! Credentials live in the database: what one connection wrote, a new connection (a
//! restarted wagate) reads; sessions do not see each other's; forgetting clears them.

use std::sync::Arc;

use bytes::Bytes;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::traits::*;
use wacore::store::{Device, InMemoryBackend};
use wagate_engine_whatsapp::StoredCredentials;

use crate::transcript::{Transcript, assert_same, device, hash_state, sorted, step};
use crate::{TestDb, linked, tenant};

wagate_store::on_both_backends!(
    credentials_survive_a_restart,
    sessions_keep_their_own_credentials,
    forgetting_clears_everything
);

async fn credentials_survive_a_restart(db: &TestDb) {
    let (session, before) = linked(&db.store, "main").await;
    let reference = InMemoryBackend::new();
    let linked_device = Device::new();
    write_everything(&before, &linked_device).await;
    write_everything(&reference, &linked_device).await;
    let read_before = read_everything(&before).await;
    db.store.close().await;

    let store = db.reconnect().await;
    let after = StoredCredentials::new(&store, &tenant(), session.id);
    let read_after = read_everything(&after).await;

    assert_same(&read_before, &read_after);
    assert_same(&read_everything(&reference).await, &read_after);
    let taken = after.take_sent_message(GROUP, "3EB0AB").await.unwrap();
    assert_eq!(taken.as_deref(), Some(&b"sent payload"[..]));
    store.close().await;
}

async fn sessions_keep_their_own_credentials(db: &TestDb) {
    let (_, sales) = linked(&db.store, "sales").await;
    let (_, support) = linked(&db.store, "support").await;
    let sales_device = Device::new();

    write_everything(&sales, &sales_device).await;
    support.put_identity("15550000009@s.whatsapp.net", [9; 32]).await.unwrap();

    assert_same(&read_everything(&InMemoryBackend::new()).await, &read_everything(&support).await);
    assert_eq!(support.load_identity("15550000009@s.whatsapp.net").await.unwrap(), Some([9; 32]));
    assert_eq!(sales.load_identity("15550000009@s.whatsapp.net").await.unwrap(), None);
    let reference = InMemoryBackend::new();
    write_everything(&reference, &sales_device).await;
    assert_same(&read_everything(&reference).await, &read_everything(&sales).await);
}

async fn forgetting_clears_everything(db: &TestDb) {
    let (session, credentials) = linked(&db.store, "main").await;
    write_everything(&credentials, &Device::new()).await;

    let forgotten = credentials.forget().await.unwrap();

    assert!(forgotten > 20, "forgot {forgotten} entries");
    assert_same(&read_everything(&InMemoryBackend::new()).await, &read_everything(&credentials).await);
    assert!(db.store.session_by_id(session.id).await.unwrap().is_some(), "the session itself stays");
}

const ALICE: &str = "15550000001:2@s.whatsapp.net";
const GROUP: &str = "120363001@g.us";

/// One write of every kind of state.
async fn write_everything(b: &dyn Backend, linked_device: &Device) {
    b.save(linked_device).await.unwrap();
    b.put_identity(ALICE, [1; 32]).await.unwrap();
    b.put_session(ALICE, b"session record").await.unwrap();
    let prekeys: Vec<(u32, Bytes)> = (1..=30).map(|id| (id, Bytes::from(vec![id as u8; 33]))).collect();
    b.store_prekeys_batch(&prekeys, false).await.unwrap();
    b.remove_prekey(5).await.unwrap();
    b.mark_prekeys_uploaded(&[1, 2, 3, 4, 5]).await.unwrap();
    b.store_signed_prekey(1, b"signed prekey").await.unwrap();
    b.put_sender_key("120363001@g.us:15550000001:0", b"sender key").await.unwrap();
    let key = AppStateSyncKey { key_data: vec![7; 32], fingerprint: vec![1], timestamp: 1_700_000_000 };
    b.set_sync_key(&[0, 0, 1], key).await.unwrap();
    let version = HashState { version: 3, hash: [4; 128], ..HashState::default() };
    b.set_version("regular_high", version).await.unwrap();
    let mac = AppStateMutationMAC { index_mac: vec![1; 32], value_mac: vec![2; 32] };
    b.put_mutation_macs("regular_high", 3, &[mac]).await.unwrap();
    b.set_sender_key_status(GROUP, &[(ALICE, true)]).await.unwrap();
    let mapping = LidPnMappingEntry {
        lid: "100000012345678".into(),
        phone_number: "15550000001".into(),
        created_at: 1,
        updated_at: 2,
        learning_source: "usync".into(),
    };
    b.put_lid_mapping(&mapping).await.unwrap();
    b.save_base_key(ALICE, "3EB0AA", b"base key").await.unwrap();
    let devices = DeviceListRecord {
        user: "15550000001".into(),
        devices: vec![DeviceInfo::new(0, None), DeviceInfo::new(2, Some(1))],
        timestamp: 5,
        phash: None,
        raw_id: None,
    };
    b.update_device_list(devices).await.unwrap();
    b.put_group_metadata(GROUP, b"group blob").await.unwrap();
    b.store_received_tc_token("100000012345678@lid", b"token", 100).await.unwrap();
    b.touch_tc_token_sender_timestamp("100000012345678@lid", 120).await.unwrap();
    b.store_sent_message(GROUP, "3EB0AB", b"sent payload").await.unwrap();
    b.store_pending_inbound(GROUP, ALICE, "3EB0AC", b"decrypted").await.unwrap();
    let secret = MsgSecretEntry {
        chat: Arc::from(GROUP),
        sender: Arc::from(ALICE),
        msg_id: Arc::from("3EB0AB"),
        secret: [3; 32],
        expires_at: 0,
        message_ts: 99,
    };
    b.put_msg_secrets(vec![secret]).await.unwrap();
}

/// Reads back everything [`write_everything`] wrote, without consuming anything: a sent
/// message can only be taken, so the restart test takes it on its own.
async fn read_everything(b: &dyn Backend) -> Transcript {
    let mut t = Transcript::default();
    step!(t, b.exists());
    t.record("load", b.load().await.unwrap().as_ref().map(device));
    step!(t, b.load_identity(ALICE));
    step!(t, b.get_session(ALICE));
    step!(t, b.load_prekeys_batch(&(1..=30).collect::<Vec<_>>()));
    step!(t, b.get_max_prekey_id());
    step!(t, b.load_signed_prekey(1));
    step!(t, b.get_sender_key("120363001@g.us:15550000001:0"));
    step!(t, b.get_sync_key(&[0, 0, 1]));
    step!(t, b.get_latest_sync_key_id());
    t.record("version", hash_state(&b.get_version("regular_high").await.unwrap()));
    step!(t, b.get_mutation_mac("regular_high", &[1; 32]));
    t.record("sender key devices", sorted(b.get_sender_key_devices(GROUP).await.unwrap()));
    step!(t, b.get_pn_mapping("15550000001"));
    t.record("mappings", sorted(b.get_all_lid_mappings().await.unwrap()));
    step!(t, b.has_same_base_key(ALICE, "3EB0AA", b"base key"));
    step!(t, b.get_devices("15550000001"));
    step!(t, b.get_group_metadata(GROUP));
    step!(t, b.get_tc_token("100000012345678@lid"));
    step!(t, b.get_pending_inbound(GROUP, ALICE, "3EB0AC"));
    step!(t, b.get_msg_secret_with_ts(GROUP, ALICE, "3EB0AB"));
    step!(t, b.has_signal_state_for_user("15550000001"));
    t
}
