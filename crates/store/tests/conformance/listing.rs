//! Listing messages: filters, cursor paging, and one tenant never seeing another's rows.

use std::collections::HashSet;

use wagate_store::{AcceptOutcome, AttemptResult, MessageFilter, NewApiKey, SessionRecord, Transition};
use wagate_types::{Direction, MessageId, MessageStatus, ReceiptKind, WaMessageId};

use crate::{TestDb, accept, chat, inbound, keyed, new_session, new_session_of, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    filters_select_matching_messages,
    cursor_pages_cover_every_message_once,
    tenants_are_isolated
);

fn all() -> MessageFilter {
    MessageFilter { limit: 100, ..Default::default() }
}

async fn ids(db: &TestDb, filter: MessageFilter) -> Vec<MessageId> {
    db.store.messages(&tenant(), &filter).await.unwrap().into_iter().map(|m| m.id).collect()
}

/// Commits one message `session` received from `from`, stored at `at`.
async fn insert_inbound(
    db: &TestDb,
    session: &SessionRecord,
    from: &str,
    wa_id: &WaMessageId,
    at: time::OffsetDateTime,
) -> MessageId {
    let mut msg = inbound(from, "Hi back", at);
    msg.wa_id = wa_id.clone();
    let stored = db.store.commit_inbound(&session.tenant, session.id, std::slice::from_ref(&msg), at).await.unwrap();
    assert_eq!(stored, [true]);
    msg.id
}

async fn filters_select_matching_messages(db: &TestDb) {
    let sales = new_session(&db.store, "sales").await;
    let support = new_session(&db.store, "support").await;
    let to = |session: &SessionRecord, user: &str, at| {
        let mut m = text(session, at);
        m.chat = chat(user);
        m.recipient = format!("+{user}");
        m
    };
    let a = accept(&db.store, to(&sales, "15550000001", t0())).await.id;
    let b = accept(&db.store, to(&sales, "15550000002", t0() + secs(60))).await.id;
    let c = accept(&db.store, to(&support, "15550000001", t0() + secs(120))).await.id;
    let d = accept(&db.store, to(&sales, "15550000001", t0() + secs(180))).await.id;
    let b_wa = db.store.message(&tenant(), b).await.unwrap().expect("stored").wa_id;
    // A reply in the same chat that happens to carry an outbound message's WhatsApp id.
    let reply = insert_inbound(db, &sales, "15550000002", &b_wa, t0() + secs(240)).await;
    let claimed = db.store.claim_next(sales.id, t0() + secs(300), t0() + secs(360)).await.unwrap().expect("claimable");
    assert_eq!(claimed.id, a);
    db.store.finish_attempt(a, &AttemptResult::Sent { at: t0() + secs(301) }, t0() + secs(301)).await.unwrap();
    db.store.apply_receipt(sales.id, std::slice::from_ref(&b_wa), ReceiptKind::Read, t0() + secs(302)).await.unwrap();

    assert_eq!(ids(db, all()).await, [reply, d, c, b, a], "newest first");
    assert_eq!(ids(db, MessageFilter { session_id: Some(sales.id), ..all() }).await, [reply, d, b, a]);
    assert_eq!(ids(db, MessageFilter { session_id: Some(support.id), ..all() }).await, [c]);
    assert_eq!(ids(db, MessageFilter { status: Some(MessageStatus::Sent), ..all() }).await, [a]);
    assert_eq!(ids(db, MessageFilter { status: Some(MessageStatus::Queued), ..all() }).await, [d, c, b]);
    assert_eq!(ids(db, MessageFilter { direction: Some(Direction::Inbound), ..all() }).await, [reply]);
    assert_eq!(ids(db, MessageFilter { direction: Some(Direction::Outbound), ..all() }).await, [d, c, b, a]);
    assert_eq!(ids(db, MessageFilter { chat: Some(chat("15550000002")), ..all() }).await, [reply, b]);
    assert_eq!(ids(db, MessageFilter { since: Some(t0() + secs(120)), ..all() }).await, [reply, d, c]);
    let combined = MessageFilter {
        session_id: Some(sales.id),
        chat: Some(chat("15550000001")),
        since: Some(t0() + secs(1)),
        ..all()
    };
    assert_eq!(ids(db, combined).await, [d]);
    assert_eq!(ids(db, MessageFilter { limit: 2, ..all() }).await, [reply, d]);
    let inbound = db.store.message(&tenant(), reply).await.unwrap().expect("stored");
    assert_eq!(
        (inbound.direction, inbound.status, inbound.read_at),
        (Direction::Inbound, MessageStatus::Received, None)
    );
}

async fn cursor_pages_cover_every_message_once(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let batch: Vec<_> = (0..10).map(|i| text(&session, t0() + secs(i))).collect();
    db.store.accept_messages(&batch).await.unwrap();
    let newest_first: Vec<_> = batch.iter().rev().map(|m| m.id).collect();

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = ids(db, MessageFilter { before, limit: 3, ..all() }).await;
        if page.is_empty() {
            break;
        }
        pages.push(page.len());
        before = page.last().copied();
        seen.extend(page);
        assert!(pages.len() <= 10, "paging does not end");
    }

    assert_eq!(pages, [3, 3, 3, 1]);
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), batch.len());
}

async fn tenants_are_isolated(db: &TestDb) {
    let other = db.add_tenant("other").await;
    let ours = new_session(&db.store, "main").await;
    let theirs = new_session_of(&db.store, &other, "main").await;
    let our_msg = accept(&db.store, keyed(text(&ours, t0()), "order-1", "ours")).await;
    // The same key in another tenant is another request, not a reuse.
    let their_msg = accept(&db.store, keyed(text(&theirs, t0()), "order-1", "theirs")).await;
    assert_eq!(their_msg.tenant, other);

    assert_eq!(db.store.sessions(&tenant()).await.unwrap(), vec![ours.clone()]);
    assert_eq!(db.store.sessions(&other).await.unwrap(), vec![theirs.clone()]);
    assert_eq!(db.store.all_sessions().await.unwrap().len(), 2);
    assert_eq!(db.store.message(&tenant(), their_msg.id).await.unwrap(), None);
    assert_eq!(ids(db, all()).await, [our_msg.id]);
    assert_eq!(ids(db, MessageFilter { session_id: Some(theirs.id), ..all() }).await, []);
    let cancel = db.store.cancel_message(&tenant(), their_msg.id, t0()).await.unwrap();
    assert_eq!(cancel, Transition::NotFound);
    assert_eq!(db.store.message(&other, their_msg.id).await.unwrap().map(|m| m.status), Some(MessageStatus::Queued));
    let replay = db.store.accept_messages(&[keyed(text(&theirs, t0()), "order-1", "theirs")]).await.unwrap();
    assert!(matches!(&replay[..], [AcceptOutcome::Replayed(m)] if m.id == their_msg.id), "got {replay:?}");

    let key = NewApiKey {
        id: "key-other".to_owned(),
        tenant: other.clone(),
        name: "theirs".to_owned(),
        prefix: "wg_other".to_owned(),
        hash: "0".repeat(64),
        role: "admin".to_owned(),
    };
    db.store.create_api_key(&key, t0()).await.unwrap();
    assert_eq!(db.store.api_keys(&tenant()).await.unwrap(), []);
    assert!(!db.store.revoke_api_key(&tenant(), "wg_other", t0()).await.unwrap(), "revoked another tenant's key");
    assert_eq!(db.store.api_key_by_hash(&key.hash).await.unwrap().and_then(|k| k.revoked_at), None);
}
