//! Chats drawn from messages: newest first, unread counts that ignore copies and
//! changes to other messages, paging by the newest message, and marking read.

use wagate_store::ChatFilter;

use crate::{TestDb, accept, chat, inbound, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(chats_are_newest_first_with_unread_counts_and_page_by_their_newest_message);

async fn chats_are_newest_first_with_unread_counts_and_page_by_their_newest_message(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    accept(&db.store, text(&session, t0())).await; // to 15550000001
    let hi = inbound("15550000002", "Hi", t0() + secs(1));
    let again = inbound("15550000002", "Anyone?", t0() + secs(2));
    let mut reaction = inbound("15550000002", "", t0() + secs(3));
    reaction.kind = "reaction".into();
    db.store.commit_inbound(&tenant(), session.id, &[hi.clone(), again.clone(), reaction], t0()).await.unwrap();
    db.store.commit_inbound(&tenant(), session.id, std::slice::from_ref(&hi), t0()).await.unwrap(); // a copy

    let all = ChatFilter { session_id: session.id, before: None, limit: 10 };
    let page = db.store.chat_page(&tenant(), &all).await.unwrap();
    let listed: Vec<(String, u64)> = page.iter().map(|c| (c.chat.user().to_owned(), c.unread)).collect();
    assert_eq!(listed, [("15550000002".to_owned(), 2), ("15550000001".to_owned(), 0)]);
    assert_eq!(page[0].name.as_deref(), Some("Contact 15550000002"));
    assert_eq!(page[0].last_message.kind, "reaction");

    let first = db.store.chat_page(&tenant(), &ChatFilter { limit: 1, ..all.clone() }).await.unwrap();
    let cursor = Some(first[0].last_message.id);
    let second = db.store.chat_page(&tenant(), &ChatFilter { before: cursor, limit: 1, ..all.clone() }).await.unwrap();
    assert_eq!(second[0].chat, chat("15550000001"));

    let unread = db.store.unread(session.id, &chat("15550000002"), Some(hi.id)).await.unwrap();
    assert_eq!(unread.iter().map(|u| u.id).collect::<Vec<_>>(), [hi.id], "up to the first");
    let unread = db.store.unread(session.id, &chat("15550000002"), None).await.unwrap();
    assert_eq!(unread.iter().map(|u| &u.wa_id).collect::<Vec<_>>(), [&hi.wa_id, &again.wa_id]);
    let ids: Vec<_> = unread.iter().map(|u| u.id).collect();
    assert_eq!(db.store.mark_read(&ids, t0() + secs(9)).await.unwrap(), 2);
    assert_eq!(db.store.mark_read(&ids, t0() + secs(10)).await.unwrap(), 0, "read once");
    let page = db.store.chat_page(&tenant(), &all).await.unwrap();
    assert_eq!(page[0].unread, 0);
}
