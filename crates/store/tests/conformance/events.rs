//! The event log: ids in order per tenant without gaps, filters, and events written in
//! the transaction that stores what they tell of.

use serde_json::{Value, json};
use wagate_store::{EventFilter, InboundRules, MessageRecord, NewEvent, NewInbound, ReceivedBatch, Target};
use wagate_types::ChatId;

use crate::{TestDb, accept, inbound, new_session, new_session_of, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    events_get_increasing_ids_per_tenant,
    events_are_read_after_an_id_by_session_and_type,
    concurrent_appends_leave_no_gap_and_no_repeat,
    a_commit_writes_the_events_of_what_it_stored_and_nothing_for_copies,
    a_failed_commit_leaves_no_event,
    batches_committed_together_fail_alone,
);

fn event(kind: &str, n: u32) -> NewEvent {
    NewEvent { kind: kind.to_owned(), session: None, data: json!({ "n": n }) }
}

fn all() -> EventFilter {
    EventFilter { limit: 1000, ..EventFilter::default() }
}

async fn events_get_increasing_ids_per_tenant(db: &TestDb) {
    assert_eq!(db.store.last_event_id(&tenant()).await.unwrap(), 0);
    db.store.record_events(&tenant(), &[event("a.one", 1), event("a.two", 2)], t0()).await.unwrap();
    db.store.record_events(&tenant(), &[event("a.three", 3)], t0() + secs(1)).await.unwrap();
    db.store.record_events(&tenant(), &[], t0()).await.unwrap();

    let events = db.store.events(&tenant(), &all()).await.unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(events[2].kind, "a.three");
    assert_eq!(events[2].data, json!({ "n": 3 }));
    assert_eq!(events[2].created_at, crate::ms(t0() + secs(1)));
    assert_eq!(db.store.last_event_id(&tenant()).await.unwrap(), 3);

    // Another tenant counts on its own and sees nothing of the first.
    let other = db.add_tenant("acme").await;
    db.store.record_events(&other, &[event("b.one", 1)], t0()).await.unwrap();
    let theirs = db.store.events(&other, &all()).await.unwrap();
    assert_eq!(theirs.iter().map(|e| (e.id, e.kind.as_str())).collect::<Vec<_>>(), [(1, "b.one")]);
    assert_eq!(db.store.events(&tenant(), &all()).await.unwrap().len(), 3);
}

async fn events_are_read_after_an_id_by_session_and_type(db: &TestDb) {
    let sales = new_session(&db.store, "sales").await;
    let support = new_session(&db.store, "support").await;
    let of = |session: &wagate_store::SessionRecord, kind: &str, n| NewEvent {
        session: Some((session.id, session.name.clone())),
        ..event(kind, n)
    };
    let batch = [
        of(&sales, "message.received", 1),
        of(&support, "message.received", 2),
        of(&sales, "group.participants", 3),
        of(&sales, "message.reaction", 4),
        event("message_like.other", 5),
    ];
    db.store.record_events(&tenant(), &batch, t0()).await.unwrap();
    let read = |filter: EventFilter| async move {
        let events = db.store.events(&tenant(), &filter).await.unwrap();
        events.iter().map(|e| e.data["n"].as_u64().unwrap()).collect::<Vec<_>>()
    };

    assert_eq!(read(EventFilter { after: 2, ..all() }).await, [3, 4, 5]);
    assert_eq!(read(EventFilter { session_id: Some(sales.id), ..all() }).await, [1, 3, 4]);
    assert_eq!(read(EventFilter { kinds: vec!["message.*".into()], ..all() }).await, [1, 2, 4]);
    let two_kinds = vec!["group.participants".into(), "message.reaction".into()];
    assert_eq!(read(EventFilter { kinds: two_kinds, ..all() }).await, [3, 4]);
    // `_` and `%` in a pattern are literal, not wildcards.
    assert_eq!(read(EventFilter { kinds: vec!["message_*".into()], ..all() }).await, [5]);
    assert_eq!(read(EventFilter { kinds: vec!["message%".into()], ..all() }).await, Vec::<u64>::new());
    assert_eq!(read(EventFilter { limit: 2, after: 1, ..all() }).await, [2, 3]);

    let stored = db.store.events(&tenant(), &EventFilter { limit: 1, ..all() }).await.unwrap();
    assert_eq!(stored[0].session_id, Some(sales.id));
    assert_eq!(stored[0].session.as_deref(), Some("sales"));
}

async fn concurrent_appends_leave_no_gap_and_no_repeat(db: &TestDb) {
    let writers = (0..4u32).map(|w| {
        let store = db.store.clone();
        tokio::spawn(async move {
            for n in 0..10 {
                let batch = [event("w.one", w * 100 + n * 2), event("w.two", w * 100 + n * 2 + 1)];
                store.record_events(&tenant(), &batch, t0()).await.unwrap();
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let events = db.store.events(&tenant(), &all()).await.unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), (1..=80).collect::<Vec<_>>());
    // A batch's events are consecutive: nothing of another writer lands between them.
    for pair in events.chunks(2) {
        assert_eq!(pair[0].data["n"].as_u64().unwrap() + 1, pair[1].data["n"].as_u64().unwrap());
    }
}

/// Tells a `message.received` for each stored message and a `test.target` when it has
/// a target, and applies nothing but a marker.
struct Rules;

impl InboundRules for Rules {
    fn apply(&self, _update: &NewInbound, _kind: &str, _author: Option<&ChatId>, content: &mut Value) -> bool {
        content["touched"] = json!(true);
        true
    }

    fn events(&self, stored: &MessageRecord, target: Option<&Target>) -> Vec<NewEvent> {
        let session = Some((stored.session_id, stored.session_name.clone()));
        let mut events = vec![NewEvent {
            kind: "message.received".into(),
            session: session.clone(),
            data: json!({ "id": stored.id.to_string(), "kind": stored.kind, "from": stored.sender.as_ref().map(ChatId::as_str) }),
        }];
        if let Some(target) = target {
            events.push(NewEvent {
                kind: "test.target".into(),
                session,
                data: json!({ "id": target.message.id.to_string(), "content": target.message.content, "changed": target.changed }),
            });
        }
        events
    }
}

async fn a_commit_writes_the_events_of_what_it_stored_and_nothing_for_copies(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let sent = accept(&db.store, text(&session, t0())).await;
    let hello = inbound("15550000001", "Hello", t0());
    let mut reaction = inbound("15550000001", "", t0() + secs(1));
    reaction.kind = "reaction".into();
    reaction.target = Some(sent.wa_id.clone());
    let batch = [hello.clone(), reaction.clone()];
    db.store.commit_received(&tenant(), session.id, &batch, t0() + secs(2), &Rules).await.unwrap();

    let events = db.store.events(&tenant(), &all()).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["message.received", "message.received", "test.target"]);
    assert_eq!(events[0].data["id"], hello.id.to_string());
    assert_eq!(events[0].data["from"], "15550000001@s.whatsapp.net");
    assert_eq!(events[1].data["kind"], "reaction");
    assert_eq!(events[2].data["id"], sent.id.to_string());
    assert_eq!(events[2].data["content"]["touched"], true, "the target as it is after the change");
    assert_eq!(events[2].session.as_deref(), Some("sales"));

    // WhatsApp delivering the same messages again stores nothing and tells nothing.
    db.store.commit_received(&tenant(), session.id, &batch, t0() + secs(3), &Rules).await.unwrap();
    assert_eq!(db.store.events(&tenant(), &all()).await.unwrap().len(), 3);
}

async fn a_failed_commit_leaves_no_event(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let other = db.add_tenant("acme").await;
    new_session_of(&db.store, &other, "theirs").await;
    let msg = inbound("15550000001", "Hello", t0());
    // The session belongs to another tenant: the commit is refused as a whole.
    assert!(db.store.commit_received(&other, session.id, &[msg], t0(), &Rules).await.is_err());
    assert!(db.store.events(&other, &all()).await.unwrap().is_empty());
    assert!(db.store.events(&tenant(), &all()).await.unwrap().is_empty());
}

async fn batches_committed_together_fail_alone(db: &TestDb) {
    let sales = new_session(&db.store, "sales").await;
    let support = new_session(&db.store, "support").await;
    let gone = new_session(&db.store, "gone").await;
    assert!(db.store.delete_session(gone.id).await.unwrap());
    let sent = accept(&db.store, text(&sales, t0())).await;
    let (one, two, three) = (
        inbound("15550000001", "One", t0()),
        inbound("15550000002", "Two", t0()),
        inbound("15550000003", "Three", t0()),
    );
    // A row id that is taken fails the third batch after its first insert went in.
    let mut clash = inbound("15550000004", "Clash", t0());
    clash.id = sent.id;
    let lost = inbound("15550000005", "Lost", t0());
    let mut elsewhere = one.clone();
    elsewhere.id = wagate_types::MessageId::new();
    let now = t0() + secs(1);
    let batches = [
        ReceivedBatch { tenant: &tenant(), session: sales.id, messages: std::slice::from_ref(&one), now },
        ReceivedBatch { tenant: &tenant(), session: gone.id, messages: std::slice::from_ref(&lost), now },
        ReceivedBatch { tenant: &tenant(), session: support.id, messages: &[two.clone(), clash], now },
        ReceivedBatch { tenant: &tenant(), session: support.id, messages: &[three.clone(), elsewhere.clone()], now },
    ];

    let outcomes = db.store.commit_received_together(&batches, &Rules).await.unwrap();

    assert_eq!(outcomes[0].as_ref().unwrap(), &[true]);
    assert!(matches!(outcomes[1], Err(wagate_store::StoreError::NotFound(_))), "{:?}", outcomes[1]);
    assert!(outcomes[2].is_err(), "{:?}", outcomes[2]);
    // The same WhatsApp message in another session is a message of its own.
    assert_eq!(outcomes[3].as_ref().unwrap(), &[true, true]);
    let events = db.store.events(&tenant(), &all()).await.unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.data["id"].as_str().unwrap()).collect();
    let want = [one.id.to_string(), three.id.to_string(), elsewhere.id.to_string()];
    assert_eq!(ids, want, "the events of the batches that went in, in order, and nothing of the others");
    assert!(events.windows(2).all(|w| w[1].id == w[0].id + 1));
    assert_eq!(events[0].session.as_deref(), Some("sales"));
    assert_eq!(events[1].session.as_deref(), Some("support"));
    // The failed batch left no row: delivered again on its own, it goes in whole.
    let again = db.store.commit_received(&tenant(), support.id, std::slice::from_ref(&two), now, &Rules).await;
    assert_eq!(again.unwrap(), [true]);
}
