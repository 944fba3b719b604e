//! Contract points of the storage traits that the reference cannot show: atomicity
//! under concurrent callers, errors surfaced, and where we knowingly differ from it.

use wacore::store::error::StoreError;
use wacore::store::traits::*;
use wagate_engine_whatsapp::keys;

use crate::{TestDb, linked, tenant};

wagate_store::on_both_backends!(
    marking_prekeys_uploaded_only_updates,
    a_sent_message_is_taken_once_by_concurrent_retries,
    tc_token_writers_never_drop_each_others_half,
    concurrent_message_secret_writes_merge,
    writes_for_a_deleted_session_are_errors,
    a_number_maps_to_its_most_recent_lid,
    a_session_has_one_device,
);

async fn marking_prekeys_uploaded_only_updates(db: &TestDb) {
    let (session, credentials) = linked(&db.store, "main").await;
    let raw = db.store.engine_state(&tenant(), session.id);
    credentials
        .store_prekeys_batch(&[(1, b"one".as_slice().into()), (2, b"two".as_slice().into())], false)
        .await
        .unwrap();
    credentials.remove_prekey(2).await.unwrap();

    credentials.mark_prekeys_uploaded(&[1, 2, 3]).await.unwrap();

    assert_eq!(raw.get(keys::PREKEY, &keys::id(1)).await.unwrap(), Some(b"\x01one".to_vec()), "flag set");
    assert_eq!(raw.keys(keys::PREKEY, None).await.unwrap(), [keys::id(1)], "nothing inserted");
    assert_eq!(credentials.load_prekey(1).await.unwrap().as_deref(), Some(&b"one"[..]));
}

async fn a_sent_message_is_taken_once_by_concurrent_retries(db: &TestDb) {
    let (_, credentials) = linked(&db.store, "main").await;
    credentials.store_sent_message("120363001@g.us", "3EB0AA", b"payload").await.unwrap();

    let retries: Vec<_> = (0..8)
        .map(|_| {
            let credentials = credentials.clone();
            tokio::spawn(async move { credentials.take_sent_message("120363001@g.us", "3EB0AA").await })
        })
        .collect();
    let mut taken = Vec::new();
    for retry in retries {
        taken.extend(retry.await.unwrap().unwrap());
    }

    assert_eq!(taken, [b"payload".to_vec()]);
}

async fn tc_token_writers_never_drop_each_others_half(db: &TestDb) {
    let (_, credentials) = linked(&db.store, "main").await;
    let jid = "100000012345678@lid";

    // Issuance (even times) and received tokens (odd times) race on one entry.
    let writers: Vec<_> = (0..16_i64)
        .map(|n| {
            let credentials = credentials.clone();
            tokio::spawn(async move {
                if n % 2 == 0 {
                    credentials.touch_tc_token_sender_timestamp(jid, 1_000 + n).await
                } else {
                    credentials.store_received_tc_token(jid, &[n as u8], 1_000 + n).await
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }

    let entry = credentials.get_tc_token(jid).await.unwrap().expect("entry written");
    assert_eq!(entry.sender_timestamp, Some(1_014), "the latest issuance, never lost");
    assert_eq!((entry.token, entry.token_timestamp), (vec![15], 1_015), "the newest token, never lost");
}

async fn concurrent_message_secret_writes_merge(db: &TestDb) {
    let (_, credentials) = linked(&db.store, "main").await;
    let entry = |n: i64| MsgSecretEntry {
        chat: "120363001@g.us".into(),
        sender: "15550000001@s.whatsapp.net".into(),
        msg_id: "3EB0AA".into(),
        secret: [7; 32],
        expires_at: 1_000 + n,
        message_ts: 100 + n,
    };

    let writers: Vec<_> = (0..12)
        .map(|n| {
            let credentials = credentials.clone();
            tokio::spawn(async move { credentials.put_msg_secrets(vec![entry(n)]).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }

    let (_, message_ts) = credentials
        .get_msg_secret_with_ts("120363001@g.us", "15550000001@s.whatsapp.net", "3EB0AA")
        .await
        .unwrap()
        .expect("secret written");
    assert_eq!(message_ts, 111, "the latest parent time wins whatever the order");
    assert_eq!(credentials.delete_expired_msg_secrets(1_010).await.unwrap(), 0, "the latest deadline wins");
    assert_eq!(credentials.delete_expired_msg_secrets(1_011).await.unwrap(), 1);
}

async fn writes_for_a_deleted_session_are_errors(db: &TestDb) {
    let (session, credentials) = linked(&db.store, "main").await;
    credentials.put_identity("15550000001@s.whatsapp.net", [1; 32]).await.unwrap();
    db.store.delete_session(session.id).await.unwrap();

    let put = credentials.put_identity("15550000001@s.whatsapp.net", [2; 32]).await;
    let batch = credentials.put_sessions_batch(&[("a@s.whatsapp.net".into(), b"s".as_slice().into())]).await;
    let create = credentials.create().await;

    for result in [put, batch, create.map(|_| ())] {
        let Err(StoreError::Database(cause)) = result else { panic!("expected a database error, got {result:?}") };
        let cause = cause.downcast_ref::<wagate_store::StoreError>().expect("the store's error is kept");
        assert!(matches!(cause, wagate_store::StoreError::NotFound(_)), "got {cause:?}");
    }
    assert_eq!(credentials.load_identity("15550000001@s.whatsapp.net").await.unwrap(), None);
}

/// The trait says a number maps to "the most recent LID for that phone". The reference
/// keeps one reverse entry per number and drops it when any LID leaves the number, so
/// after the moves below it answers `None`; we answer the LID that still has the number.
async fn a_number_maps_to_its_most_recent_lid(db: &TestDb) {
    let (_, credentials) = linked(&db.store, "main").await;
    let mapping = |lid: &str, phone: &str, at: i64| LidPnMappingEntry {
        lid: lid.into(),
        phone_number: phone.into(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".into(),
    };
    credentials.put_lid_mapping(&mapping("100000000000001", "15550000001", 1)).await.unwrap();
    credentials.put_lid_mapping(&mapping("100000000000002", "15550000001", 2)).await.unwrap();
    let newest = credentials.get_pn_mapping("15550000001").await.unwrap().map(|m| m.lid);

    credentials.put_lid_mapping(&mapping("100000000000002", "15550000005", 3)).await.unwrap();
    let remaining = credentials.get_pn_mapping("15550000001").await.unwrap().map(|m| m.lid);
    let moved = credentials.get_pn_mapping("15550000005").await.unwrap().map(|m| m.lid);

    assert_eq!(newest.as_deref(), Some("100000000000002"));
    assert_eq!(remaining.as_deref(), Some("100000000000001"));
    assert_eq!(moved.as_deref(), Some("100000000000002"));
}

/// `create` stores a device once and answers the same id every time (the reference
/// counts up per call; a wagate session holds exactly one device).
async fn a_session_has_one_device(db: &TestDb) {
    let (_, credentials) = linked(&db.store, "main").await;

    let first = credentials.create().await.unwrap();
    let created = credentials.load().await.unwrap().expect("a device after create");
    let second = credentials.create().await.unwrap();
    let again = credentials.load().await.unwrap().expect("still a device");

    assert_eq!((first, second), (1, 1));
    assert_eq!(created.identity_key.public_key, again.identity_key.public_key, "create keeps the device it made");
    assert_eq!(created.registration_id, again.registration_id);
}
