//! Accepting batches of outbound messages, with idempotency keys.

use time::Duration;
use wagate_store::AcceptOutcome;
use wagate_types::{Direction, MessageStatus, Priority};

use crate::{TestDb, chat, get, keyed, ms, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    batch_is_stored_as_returned,
    same_key_and_request_later_replays,
    same_key_other_request_is_refused,
    key_repeated_inside_one_batch,
);

async fn batch_is_stored_as_returned(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let now = t0() + Duration::nanoseconds(987_654);
    let plain = text(&session, now);
    let mut urgent = text(&session, now);
    urgent.priority = Priority::High;
    urgent.chat = chat("15550000002");
    urgent.recipient = "+15550000002".to_owned();
    urgent.content = serde_json::json!({ "text": "Now!", "preview": false });
    let mut later = keyed(text(&session, now), "campaign-1", "hash-1");
    later.priority = Priority::Low;
    later.send_at = Some(now + secs(3600) + Duration::microseconds(321));
    let batch = vec![plain.clone(), urgent.clone(), later.clone()];

    let outcomes = db.store.accept_messages(&batch).await.unwrap();

    assert_eq!(outcomes.len(), 3);
    for (outcome, sent) in outcomes.iter().zip(&batch) {
        let AcceptOutcome::Created(record) = outcome else { panic!("expected Created, got {outcome:?}") };
        assert_eq!(record.id, sent.id);
        assert_eq!(record.direction, Direction::Outbound);
        assert_eq!((&record.chat, &record.recipient, &record.content), (&sent.chat, &sent.recipient, &sent.content));
        assert_eq!((&record.wa_id, record.priority, record.attempts), (&sent.wa_id, sent.priority, 0));
        assert_eq!((record.created_at, record.queued_at), (ms(now), Some(ms(now))));
        assert_eq!(get(&db.store, sent.id).await, *record, "read back differs from what accept returned");
    }
    let stored: Vec<_> =
        outcomes.iter().filter_map(|o| if let AcceptOutcome::Created(r) = o { Some(r) } else { None }).collect();
    assert_eq!(stored[0].status, MessageStatus::Queued);
    assert_eq!(stored[0].next_attempt_at, ms(now));
    assert_eq!(stored[2].status, MessageStatus::Scheduled);
    assert_eq!(stored[2].send_at, later.send_at.map(ms));
    assert_eq!(stored[2].next_attempt_at, ms(later.send_at.unwrap()));
}

async fn same_key_and_request_later_replays(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let first = db.store.accept_messages(&[keyed(text(&session, t0()), "order-1", "h1")]).await.unwrap();
    let [AcceptOutcome::Created(original)] = &first[..] else { panic!("expected Created, got {first:?}") };
    let retry = keyed(text(&session, t0() + secs(30)), "order-1", "h1");

    let outcomes = db.store.accept_messages(std::slice::from_ref(&retry)).await.unwrap();

    let [AcceptOutcome::Replayed(replayed)] = &outcomes[..] else { panic!("expected Replayed, got {outcomes:?}") };
    assert_eq!(replayed, original);
    assert_eq!(db.store.message(&tenant(), retry.id).await.unwrap(), None, "a replay stores nothing");
    assert_eq!(all_ids(db).await, vec![original.id]);
}

async fn same_key_other_request_is_refused(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let original = crate::accept(&db.store, keyed(text(&session, t0()), "order-1", "h1")).await;
    let different = keyed(text(&session, t0() + secs(30)), "order-1", "h2");

    let outcomes = db.store.accept_messages(&[different.clone(), text(&session, t0() + secs(30))]).await.unwrap();

    assert!(matches!(&outcomes[..], [AcceptOutcome::KeyReused, AcceptOutcome::Created(_)]), "got {outcomes:?}");
    assert_eq!(db.store.message(&tenant(), different.id).await.unwrap(), None, "a reused key stores nothing");
    assert_eq!(all_ids(db).await.len(), 2);
    assert_eq!(get(&db.store, original.id).await, original);
}

async fn key_repeated_inside_one_batch(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let first = keyed(text(&session, t0()), "k", "same");
    let repeat = keyed(text(&session, t0()), "k", "same");
    let clash = keyed(text(&session, t0()), "k", "different");
    let unkeyed = text(&session, t0());

    let outcomes =
        db.store.accept_messages(&[first.clone(), repeat.clone(), clash.clone(), unkeyed.clone()]).await.unwrap();

    let [
        AcceptOutcome::Created(created),
        AcceptOutcome::Replayed(replayed),
        AcceptOutcome::KeyReused,
        AcceptOutcome::Created(_),
    ] = &outcomes[..]
    else {
        panic!("expected Created, Replayed, KeyReused, Created; got {outcomes:?}")
    };
    assert_eq!(created.id, first.id);
    assert_eq!(replayed, created, "the repeat replays the first message of the batch");
    assert_eq!(db.store.message(&tenant(), repeat.id).await.unwrap(), None);
    assert_eq!(db.store.message(&tenant(), clash.id).await.unwrap(), None);
    let mut expected = vec![first.id, unkeyed.id];
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all_ids(db).await, expected);
    // A later batch replays the stored message too.
    let later = db.store.accept_messages(&[repeat]).await.unwrap();
    assert!(matches!(&later[..], [AcceptOutcome::Replayed(r)] if r == created), "got {later:?}");
}

/// Every message id of the default tenant, newest first.
async fn all_ids(db: &TestDb) -> Vec<wagate_types::MessageId> {
    let filter = wagate_store::MessageFilter { limit: 1000, ..Default::default() };
    db.store.messages(&tenant(), &filter).await.unwrap().into_iter().map(|m| m.id).collect()
}
