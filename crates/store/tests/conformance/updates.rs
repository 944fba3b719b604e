//! Changes to stored messages: content updated in one transaction, and received
//! reactions/edits applied to their target in the transaction that stores them.

use serde_json::{Value, json};
use wagate_store::NewInbound;
use wagate_types::{ChatId, MessageId};

use crate::{TestDb, accept, chat, get, inbound, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    content_is_updated_in_place,
    updating_a_missing_message_finds_nothing,
    a_received_update_is_applied_to_its_target_in_the_same_commit,
    a_redelivered_update_is_applied_once,
    received_messages_are_found_by_what_identifies_them,
    an_idempotency_key_names_its_message,
);

/// `from` reacts with `emoji` to the message `target` (a WhatsApp id) in its chat.
fn reaction(from: &str, target: &str, emoji: &str) -> NewInbound {
    let mut msg = inbound(from, "", t0() + secs(1));
    msg.kind = "reaction".to_owned();
    msg.content = json!({ "reaction": { "wa_id": target, "emoji": emoji } });
    msg.target = Some(wagate_types::WaMessageId::from_stored(target.to_owned()));
    msg
}

/// Appends the reaction's emoji to the target's `reactions` (what core does, simplified).
fn append(update: &NewInbound, kind: &str, author: Option<&ChatId>, content: &mut Value) -> bool {
    let emoji = update.content["reaction"]["emoji"].clone();
    let list = content.as_object_mut().unwrap().entry("reactions").or_insert_with(|| json!([]));
    list.as_array_mut().unwrap().push(json!({ "emoji": emoji, "kind": kind, "author": author.map(ChatId::as_str) }));
    true
}

async fn content_is_updated_in_place(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let sent = accept(&db.store, text(&session, t0())).await;

    let updated = db
        .store
        .update_content(&tenant(), sent.id, t0() + secs(3), |kind, content| {
            assert_eq!(kind, "text");
            content["text"] = json!("Edited");
            true
        })
        .await
        .unwrap()
        .expect("the message exists");

    assert_eq!(updated.content, json!({ "text": "Edited" }));
    assert_eq!(get(&db.store, sent.id).await.content, json!({ "text": "Edited" }));
    let unchanged = db.store.update_content(&tenant(), sent.id, t0(), |_, _| false).await.unwrap().unwrap();
    assert_eq!(unchanged.content, json!({ "text": "Edited" }));
}

async fn updating_a_missing_message_finds_nothing(db: &TestDb) {
    new_session(&db.store, "sales").await;
    let none = db.store.update_content(&tenant(), MessageId::new(), t0(), |_, _| panic!("no message to change")).await;
    assert_eq!(none.unwrap(), None);
}

async fn a_received_update_is_applied_to_its_target_in_the_same_commit(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    // Ours (outbound, to 15550000001) and theirs (inbound from 15550000001).
    let ours = accept(&db.store, text(&session, t0())).await;
    let theirs = inbound("15550000001", "Hi", t0());
    let on_ours = reaction("15550000001", ours.wa_id.as_str(), "👍");
    let on_theirs = reaction("15550000001", theirs.wa_id.as_str(), "❤️");
    let elsewhere = reaction("15550000002", ours.wa_id.as_str(), "😮");
    let batch = [theirs.clone(), on_ours.clone(), on_theirs.clone(), elsewhere.clone()];

    let stored =
        db.store.commit_inbound_applying(&tenant(), session.id, &batch, t0() + secs(2), &append).await.unwrap();

    assert_eq!(stored, [true, true, true, true], "updates are messages of their own too");
    assert_eq!(
        get(&db.store, ours.id).await.content["reactions"],
        json!([{ "emoji": "👍", "kind": "text", "author": null }])
    );
    let theirs_now = get(&db.store, theirs.id).await.content;
    let author = chat("15550000001");
    assert_eq!(theirs_now["reactions"], json!([{ "emoji": "❤️", "kind": "text", "author": author.as_str() }]));
    assert_eq!(get(&db.store, elsewhere.id).await.kind, "reaction", "another chat's message is not touched");
    assert_eq!(get(&db.store, on_ours.id).await.content["reaction"]["emoji"], "👍");
}

async fn a_redelivered_update_is_applied_once(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let ours = accept(&db.store, text(&session, t0())).await;
    let on_ours = reaction("15550000001", ours.wa_id.as_str(), "👍");
    for _ in 0..2 {
        let batch = std::slice::from_ref(&on_ours);
        db.store.commit_inbound_applying(&tenant(), session.id, batch, t0(), &append).await.unwrap();
    }
    assert_eq!(get(&db.store, ours.id).await.content["reactions"].as_array().unwrap().len(), 1);
}

async fn received_messages_are_found_by_what_identifies_them(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = inbound("15550000001", "Hi", t0());
    db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&msg), t0()).await.unwrap();
    let found = db.store.inbound_id(session.id, &msg.chat, &msg.sender, &msg.wa_id).await.unwrap();
    assert_eq!(found, Some(msg.id));
    let other_sender = db.store.inbound_id(session.id, &msg.chat, &chat("15550000002"), &msg.wa_id).await.unwrap();
    assert_eq!(other_sender, None);
}

async fn an_idempotency_key_names_its_message(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let sent = accept(&db.store, crate::keyed(text(&session, t0()), "key-1", "hash-1")).await;
    let (hash, found) = db.store.idempotent_message(&tenant(), "key-1").await.unwrap().expect("the key is known");
    assert_eq!((hash.as_str(), found.id), ("hash-1", sent.id));
    assert_eq!(db.store.idempotent_message(&tenant(), "key-2").await.unwrap(), None);
}
