//! Messages sessions receive: committed once however often WhatsApp delivers them, a
//! batch all or nothing, contacts kept in the same transaction, and never mistaken for
//! messages to send.

use wagate_store::{MessageFilter, SessionRecord, SessionState, StoreError, Transition};
use wagate_types::{ChatId, Direction, MessageStatus, ReceiptKind, SessionStatus};

use crate::{TestDb, accept, chat, get, inbound, ms, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    a_received_message_is_stored_as_received,
    a_redelivered_message_is_stored_once,
    the_same_id_from_another_sender_or_session_is_another_message,
    a_batch_is_all_or_nothing,
    a_session_that_is_gone_stores_nothing,
    contacts_follow_their_messages,
    received_messages_are_never_sent_nor_changed_by_receipts,
);

async fn connected_as(db: &TestDb, session: &SessionRecord, phone: &str) {
    let state = SessionState {
        status: SessionStatus::Connected,
        reason: None,
        phone: Some(phone.to_owned()),
        push_name: None,
        last_seen_at: Some(t0()),
    };
    db.store.set_session_state(session.id, &state, t0()).await.unwrap();
}

async fn inbound_count(db: &TestDb) -> usize {
    let filter = MessageFilter { direction: Some(Direction::Inbound), limit: 100, ..Default::default() };
    db.store.messages(&tenant(), &filter).await.unwrap().len()
}

async fn a_received_message_is_stored_as_received(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    connected_as(db, &session, "+4915123456789").await;
    let msg = inbound("15550000001", "Hello there", t0());
    let stored_at = t0() + secs(2);

    let stored = db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&msg), stored_at).await.unwrap();

    assert_eq!(stored, [true]);
    let m = get(&db.store, msg.id).await;
    assert_eq!((m.direction, m.status), (Direction::Inbound, MessageStatus::Received));
    assert_eq!((m.session_id, &m.session_name), (session.id, &session.name));
    assert_eq!((&m.chat, m.sender.as_ref()), (&chat("15550000001"), Some(&chat("15550000001"))));
    assert_eq!(m.push_name.as_deref(), Some("Contact 15550000001"));
    assert_eq!(m.recipient, "+4915123456789", "the receiving session's own number");
    assert_eq!((m.kind.as_str(), &m.content), ("text", &serde_json::json!({ "text": "Hello there" })));
    assert_eq!(m.wa_id, msg.wa_id);
    assert_eq!((m.sent_at, m.created_at), (Some(ms(t0())), ms(stored_at)), "sender's time, then wagate's");
    assert_eq!((m.queued_at, m.attempts, m.error.as_deref()), (None, 0, None));

    let listed = db.store.messages(&tenant(), &MessageFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed, [m]);

    // Before the session learnt its own number there is none to show.
    let fresh = new_session(&db.store, "support").await;
    let early = inbound("15550000001", "Hi", t0());
    db.store.commit_inbound(&tenant(), fresh.id, std::slice::from_ref(&early), t0()).await.unwrap();
    assert_eq!(get(&db.store, early.id).await.recipient, "");
}

async fn a_redelivered_message_is_stored_once(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let first = inbound("15550000001", "Hi", t0());
    db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&first), t0()).await.unwrap();

    // WhatsApp delivers it again after a lost acknowledgement: the receive path gives
    // it a new row id, but chat, sender and WhatsApp id are the same.
    let mut again = first.clone();
    again.id = wagate_types::MessageId::new();
    let stored = db.store.commit_inbound(&tenant(), session.id, &[again.clone()], t0() + secs(5)).await.unwrap();
    assert_eq!(stored, [false]);

    // Twice in one batch, beside a new message: the first copy counts, the rest not.
    let other = inbound("15550000001", "Still there?", t0() + secs(6));
    let mut copy = other.clone();
    copy.id = wagate_types::MessageId::new();
    let batch = [again, other.clone(), copy];
    let stored = db.store.commit_inbound(&tenant(), session.id, &batch, t0() + secs(7)).await.unwrap();
    assert_eq!(stored, [false, true, false]);

    assert_eq!(inbound_count(db).await, 2);
    assert_eq!(get(&db.store, first.id).await.created_at, ms(t0()), "the stored copy is untouched");
    let contacts = db.store.contacts(&tenant(), session.id).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].messages_received, 2, "copies are not counted");
}

async fn the_same_id_from_another_sender_or_session_is_another_message(db: &TestDb) {
    let sales = new_session(&db.store, "sales").await;
    let support = new_session(&db.store, "support").await;
    let group = ChatId::parse("120363025246125244@g.us").unwrap();
    let from_a = inbound("15550000001", "Hi", t0());
    let mut in_group = from_a.clone();
    in_group.id = wagate_types::MessageId::new();
    in_group.chat = group.clone();
    let mut from_b_in_group = in_group.clone();
    from_b_in_group.id = wagate_types::MessageId::new();
    from_b_in_group.sender = chat("15550000002");
    let mut to_support = from_a.clone();
    to_support.id = wagate_types::MessageId::new();

    let batch = [from_a, in_group, from_b_in_group.clone()];
    let stored = db.store.commit_inbound(&tenant(), sales.id, &batch, t0()).await.unwrap();
    let elsewhere = db.store.commit_inbound(&tenant(), support.id, &[to_support], t0()).await.unwrap();

    assert_eq!((stored, elsewhere), (vec![true, true, true], vec![true]));
    assert_eq!(inbound_count(db).await, 4);
    let m = get(&db.store, from_b_in_group.id).await;
    assert_eq!((m.chat, m.sender), (group, Some(chat("15550000002"))));
}

async fn a_batch_is_all_or_nothing(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let sent = accept(&db.store, text(&session, t0())).await;
    let good = inbound("15550000001", "Hi", t0());
    // A row id that is taken makes the second insert fail, after the first went in.
    let mut clash = inbound("15550000002", "Hello", t0());
    clash.id = sent.id;

    let result = db.store.commit_inbound(&tenant(), session.id, &[good.clone(), clash], t0()).await;

    assert!(result.is_err(), "the batch fails: {result:?}");
    assert_eq!(inbound_count(db).await, 0, "nothing of the batch is stored");
    assert!(db.store.contacts(&tenant(), session.id).await.unwrap().is_empty());
    assert_eq!(get(&db.store, sent.id).await, sent);

    // Delivered again, it goes in whole.
    let stored = db.store.commit_inbound(&tenant(), session.id, &[good], t0()).await.unwrap();
    assert_eq!(stored, [true]);
}

async fn a_session_that_is_gone_stores_nothing(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let other_tenant = db.add_tenant("acme").await;
    let msg = inbound("15550000001", "Hi", t0());

    let wrong_tenant = db.store.commit_inbound(&other_tenant, session.id, std::slice::from_ref(&msg), t0()).await;
    assert!(matches!(wrong_tenant, Err(StoreError::NotFound(_))), "{wrong_tenant:?}");

    db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&msg), t0()).await.unwrap();
    assert!(db.store.delete_session(session.id).await.unwrap());
    let mut later = inbound("15550000001", "Anyone?", t0());
    later.id = wagate_types::MessageId::new();
    let deleted = db.store.commit_inbound(&tenant(), session.id, &[later], t0()).await;
    assert!(matches!(deleted, Err(StoreError::NotFound(_))), "{deleted:?}");
    assert_eq!(inbound_count(db).await, 0, "deleting the session deleted its messages");
    assert!(db.store.contacts(&tenant(), session.id).await.unwrap().is_empty(), "and its contacts");
}

async fn contacts_follow_their_messages(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let mut a1 = inbound("15550000001", "one", t0());
    a1.push_name = Some("Ann".into());
    let b = inbound("15550000002", "hey", t0() + secs(1));
    let mut a2 = inbound("15550000001", "two", t0() + secs(2));
    a2.push_name = Some("Ann B.".into());
    let mut a3 = inbound("15550000001", "three", t0() + secs(3));
    a3.push_name = None;
    let lid = ChatId::parse("123456789012345@lid").unwrap();
    let mut hidden = inbound("15550000003", "from a lid", t0() + secs(4));
    (hidden.chat, hidden.sender) = (lid.clone(), lid.clone());

    db.store.commit_inbound(&tenant(), session.id, &[a1, b, a2, a3, hidden], t0() + secs(10)).await.unwrap();

    let contacts = db.store.contacts(&tenant(), session.id).await.unwrap();
    let summary: Vec<_> = contacts
        .iter()
        .map(|c| (c.jid.as_str(), c.phone.as_deref(), c.push_name.as_deref(), c.messages_received))
        .collect();
    assert_eq!(
        summary,
        [
            ("123456789012345@lid", None, Some("Contact 15550000003"), 1),
            ("15550000001@s.whatsapp.net", Some("+15550000001"), Some("Ann B."), 3),
            ("15550000002@s.whatsapp.net", Some("+15550000002"), Some("Contact 15550000002"), 1),
        ],
        "newest message first"
    );
    let ann = &contacts[1];
    assert_eq!((ann.session_id, &ann.tenant), (session.id, &tenant()));
    assert_eq!((ann.first_seen_at, ann.last_seen_at), (ms(t0() + secs(10)), ms(t0() + secs(10))));
    assert_eq!(ann.last_message_at, ms(t0() + secs(3)));

    // Later: a new name; then a message from before that, delivered late, with an old one.
    let mut renamed = inbound("15550000001", "four", t0() + secs(20));
    renamed.push_name = Some("Annie".into());
    db.store.commit_inbound(&tenant(), session.id, &[renamed], t0() + secs(30)).await.unwrap();
    let mut late = inbound("15550000001", "zero", t0() - secs(60));
    late.push_name = Some("Ann (old)".into());
    db.store.commit_inbound(&tenant(), session.id, &[late], t0() + secs(40)).await.unwrap();

    let contacts = db.store.contacts(&tenant(), session.id).await.unwrap();
    let ann = contacts.iter().find(|c| c.jid == chat("15550000001")).expect("Ann is a contact");
    assert_eq!(ann.push_name.as_deref(), Some("Annie"), "the newest message's name wins");
    assert_eq!(ann.messages_received, 5);
    assert_eq!((ann.first_seen_at, ann.last_seen_at), (ms(t0() + secs(10)), ms(t0() + secs(40))));
    assert_eq!(ann.last_message_at, ms(t0() + secs(20)));
}

async fn received_messages_are_never_sent_nor_changed_by_receipts(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = inbound("15550000001", "Hi", t0());
    db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&msg), t0()).await.unwrap();
    let before = get(&db.store, msg.id).await;
    let later = t0() + secs(3600);

    assert_eq!(db.store.claim_next(session.id, later, later + secs(60)).await.unwrap(), None);
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), None);
    assert_eq!(db.store.release_sending(session.id, later).await.unwrap(), 0);
    for kind in [ReceiptKind::Delivered, ReceiptKind::Read, ReceiptKind::Played] {
        let changed = db.store.apply_receipt(session.id, std::slice::from_ref(&msg.wa_id), kind, later).await;
        assert_eq!(changed.unwrap(), []);
    }
    assert_eq!(db.store.cancel_message(&tenant(), msg.id, later).await.unwrap(), Transition::Inbound);
    assert_eq!(db.store.resend_message(&tenant(), msg.id, later).await.unwrap(), Transition::Inbound);

    assert_eq!(get(&db.store, msg.id).await, before, "nothing changed it");
}
