//! Webhook endpoints: the delivery log and the dead letters page by cursor, the head
//! event's first failure is kept until the cursor moves past it, and header changes
//! apply by name to what is stored.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use wagate_store::{AttemptLog, HeaderChanges, NewWebhook, WebhookChange, WebhookRecord};

use crate::{TestDb, ms, secs, t0, tenant};

wagate_store::on_both_backends!(
    the_delivery_log_pages_newest_first_by_cursor_with_no_gap_or_repeat,
    dead_letters_page_in_event_order,
    the_head_event_keeps_its_first_failure_until_the_cursor_moves_past_it,
    header_changes_apply_by_name_to_the_stored_headers,
);

async fn endpoint(db: &TestDb, headers: &[(&str, &str)]) -> WebhookRecord {
    let hook = NewWebhook {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant(),
        url: "https://example.com/hook".to_owned(),
        session_id: None,
        events: vec!["*".to_owned()],
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        description: None,
        created_at: t0(),
    };
    db.store.create_webhook(&hook).await.expect("create a webhook")
}

fn failure(event_id: u64, attempt: u32, at: OffsetDateTime) -> AttemptLog {
    AttemptLog {
        event_id,
        attempt,
        status_code: Some(503),
        latency_ms: 3,
        error: Some("the receiver answered 503".to_owned()),
        at,
    }
}

async fn the_delivery_log_pages_newest_first_by_cursor_with_no_gap_or_repeat(db: &TestDb) {
    let hook = endpoint(db, &[]).await;
    let other = endpoint(db, &[]).await;
    for n in 1..=23u64 {
        let log = failure(n, 1, t0() + secs(n as i64));
        db.store.webhook_attempted(&hook.id, &log).await.unwrap();
        db.store.webhook_attempted(&other.id, &log).await.unwrap();
    }

    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = db.store.webhook_attempts(&hook.id, before.as_deref(), 5).await.unwrap();
        seen.extend(page.iter().map(|a| a.log.event_id));
        match page.last() {
            Some(last) if page.len() == 5 => before = Some(last.id.clone()),
            _ => break,
        }
    }

    assert_eq!(seen, (1..=23).rev().collect::<Vec<u64>>(), "newest first, each once, only this endpoint's");
    let newest = &db.store.webhook_attempts(&hook.id, None, 1).await.unwrap()[0];
    assert_eq!(newest.log, failure(23, 1, ms(t0() + secs(23))));
}

async fn dead_letters_page_in_event_order(db: &TestDb) {
    let mut hook = endpoint(db, &[]).await;
    for event in [3u64, 5, 8, 13, 21] {
        let log = failure(event, 40, t0() + secs(event as i64));
        db.store.webhook_dead_letter(&hook, &log).await.unwrap();
        hook.cursor = event;
    }

    let first = db.store.webhook_dead_letters(&hook.id, 0, 2).await.unwrap();
    let second = db.store.webhook_dead_letters(&hook.id, first[1].event_id, 2).await.unwrap();
    let last = db.store.webhook_dead_letters(&hook.id, second[1].event_id, 2).await.unwrap();

    let ids = |page: &[wagate_store::DeadLetter]| page.iter().map(|d| d.event_id).collect::<Vec<_>>();
    assert_eq!((ids(&first), ids(&second), ids(&last)), (vec![3, 5], vec![8, 13], vec![21]));
    assert_eq!((last[0].attempts, last[0].last_error.as_deref()), (40, Some("the receiver answered 503")));
}

async fn the_head_event_keeps_its_first_failure_until_the_cursor_moves_past_it(db: &TestDb) {
    let hook = endpoint(db, &[]).await;
    let read = || async { db.store.webhook(&tenant(), &hook.id).await.unwrap().unwrap() };

    db.store.webhook_failed(&hook, &failure(1, 1, t0()), t0() + secs(5)).await.unwrap();
    db.store.webhook_failed(&hook, &failure(1, 2, t0() + secs(5)), t0() + secs(35)).await.unwrap();
    let failing = read().await;
    assert_eq!(failing.head_attempts, 2);
    assert_eq!((failing.head_failing_since, failing.failing_since), (Some(ms(t0())), Some(ms(t0()))));
    assert_eq!(failing.next_attempt_at, ms(t0() + secs(35)));

    // Given up on: the next event starts its own time, the endpoint's run goes on.
    db.store.webhook_dead_letter(&failing, &failure(1, 3, t0() + secs(35))).await.unwrap();
    let moved = read().await;
    assert_eq!((moved.cursor, moved.head_attempts, moved.head_failing_since), (1, 0, None));
    assert_eq!(moved.failing_since, Some(ms(t0())));
    db.store.webhook_failed(&moved, &failure(2, 1, t0() + secs(40)), t0() + secs(45)).await.unwrap();
    let next = read().await;
    assert_eq!((next.head_failing_since, next.failing_since), (Some(ms(t0() + secs(40))), Some(ms(t0()))));

    // A delivery ends the run.
    let delivered = AttemptLog { status_code: Some(204), error: None, ..failure(2, 2, t0() + secs(45)) };
    db.store.webhook_delivered(&next, &[delivered]).await.unwrap();
    let healthy = read().await;
    assert_eq!((healthy.cursor, healthy.head_attempts), (2, 0));
    assert_eq!((healthy.head_failing_since, healthy.failing_since), (None, None));

    // So does a replay for the head.
    db.store.webhook_failed(&healthy, &failure(3, 1, t0() + secs(50)), t0() + secs(55)).await.unwrap();
    assert!(db.store.replay_webhook(&tenant(), &hook.id, 1, t0() + secs(60)).await.unwrap());
    let replayed = read().await;
    assert_eq!((replayed.cursor, replayed.head_attempts, replayed.head_failing_since), (0, 0, None));
}

async fn header_changes_apply_by_name_to_the_stored_headers(db: &TestDb) {
    let hook = endpoint(db, &[("Authorization", "Bearer one"), ("X-Shop", "demo")]).await;
    let change = |pairs: &[(&str, Option<&str>)]| WebhookChange {
        headers: pairs.iter().map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned))).collect::<HeaderChanges>(),
        ..WebhookChange::default()
    };

    let kept = db.store.update_webhook(&tenant(), &hook.id, &change(&[]), t0() + secs(1)).await.unwrap().unwrap();
    assert_eq!(kept.headers, hook.headers, "no header named, none changed");

    let changed = change(&[("x-region", Some("eu")), ("x-shop", None), ("X-Absent", None)]);
    let updated = db.store.update_webhook(&tenant(), &hook.id, &changed, t0() + secs(2)).await.unwrap().unwrap();
    let expected: BTreeMap<String, String> =
        [("Authorization", "Bearer one"), ("x-region", "eu")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    assert_eq!(updated.headers, expected, "the value not named is kept");

    let replaced = change(&[("AUTHORIZATION", Some("Bearer two"))]);
    let updated = db.store.update_webhook(&tenant(), &hook.id, &replaced, t0() + secs(3)).await.unwrap().unwrap();
    assert_eq!(updated.headers.get("AUTHORIZATION").map(String::as_str), Some("Bearer two"));
    assert_eq!(updated.headers.len(), 2);

    let missing = db.store.update_webhook(&tenant(), "nosuch", &replaced, t0()).await.unwrap();
    assert!(missing.is_none());
}
