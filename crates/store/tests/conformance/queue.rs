//! The send queue: claiming in order, leases, scheduling and how attempts end.

use std::collections::HashSet;

use wagate_store::{AttemptResult, MessageRecord, SessionRecord, SessionState};
use wagate_types::{FailureCode, MessageId, MessageStatus, Priority, SessionStatus};

use crate::{TestDb, accept, get, ms, new_session, secs, t0, text};

wagate_store::on_both_backends!(
    claims_by_priority_then_age,
    scheduled_message_waits_until_due,
    lease_hides_a_claimed_message_until_it_runs_out,
    release_sending_puts_claims_back,
    sent_attempt_records_the_send,
    retry_waits_and_counts_the_attempt,
    not_attempted_gives_the_attempt_back,
    failed_attempt_ends_the_message,
    sent_after_a_receipt_does_not_move_back,
    concurrent_claimers_never_share_a_message,
    waiting_messages_say_why_while_their_session_is_not_connected,
);

/// Claims for `session` at `now` with a minute's lease.
async fn claim(db: &TestDb, session: &SessionRecord, now: time::OffsetDateTime) -> Option<MessageRecord> {
    db.store.claim_next(session.id, now, now + secs(60)).await.unwrap()
}

async fn accept_with(db: &TestDb, session: &SessionRecord, priority: Priority) -> MessageId {
    let mut msg = text(session, t0());
    msg.priority = priority;
    accept(&db.store, msg).await.id
}

async fn claims_by_priority_then_age(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let other = new_session(&db.store, "support").await;
    let low = accept_with(db, &session, Priority::Low).await;
    let normal_1 = accept_with(db, &session, Priority::Normal).await;
    let high_1 = accept_with(db, &session, Priority::High).await;
    let normal_2 = accept_with(db, &session, Priority::Normal).await;
    let high_2 = accept_with(db, &session, Priority::High).await;
    let elsewhere = accept_with(db, &other, Priority::High).await;

    let mut order = Vec::new();
    while let Some(claimed) = claim(db, &session, t0()).await {
        assert_eq!((claimed.status, claimed.attempts), (MessageStatus::Sending, 1));
        assert_eq!(claimed.session_id, session.id);
        order.push(claimed.id);
    }

    assert_eq!(order, [high_1, high_2, normal_1, normal_2, low]);
    assert_eq!(get(&db.store, elsewhere).await.status, MessageStatus::Queued, "other sessions are not claimed");
    assert_eq!(get(&db.store, low).await.status, MessageStatus::Sending);
}

async fn scheduled_message_waits_until_due(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), None, "an empty queue has nothing due");
    let due = t0() + secs(3600);
    let mut urgent_but_later = text(&session, t0());
    urgent_but_later.priority = Priority::High;
    urgent_but_later.send_at = Some(due);
    let scheduled = accept(&db.store, urgent_but_later).await;
    assert_eq!(scheduled.status, MessageStatus::Scheduled);

    assert_eq!(claim(db, &session, t0()).await, None);
    assert_eq!(claim(db, &session, due - secs(1)).await, None);
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), Some(ms(due)));
    let queued = accept(&db.store, text(&session, t0() + secs(10))).await;
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), Some(ms(t0() + secs(10))));
    // Due now: the normal message goes first although the scheduled one is High.
    assert_eq!(claim(db, &session, t0() + secs(10)).await.map(|m| m.id), Some(queued.id));
    assert_eq!(claim(db, &session, t0() + secs(20)).await, None);

    let claimed = claim(db, &session, due).await.expect("due at send_at");
    assert_eq!((claimed.id, claimed.status, claimed.attempts), (scheduled.id, MessageStatus::Sending, 1));
}

async fn lease_hides_a_claimed_message_until_it_runs_out(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    let lease_until = t0() + secs(30);

    let first = db.store.claim_next(session.id, t0(), lease_until).await.unwrap().expect("claimable");
    assert_eq!((first.id, first.status, first.attempts), (msg.id, MessageStatus::Sending, 1));
    assert_eq!(get(&db.store, msg.id).await.status, MessageStatus::Sending);

    assert_eq!(claim(db, &session, t0() + secs(29)).await, None, "leased messages are not claimed twice");
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), Some(ms(lease_until)));

    // The claimer crashed: once the lease runs out, the message is due again.
    let again = claim(db, &session, lease_until).await.expect("claimable after the lease");
    assert_eq!((again.id, again.status, again.attempts), (msg.id, MessageStatus::Sending, 2));
}

async fn release_sending_puts_claims_back(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let other = new_session(&db.store, "support").await;
    let a = accept(&db.store, text(&session, t0())).await;
    let b = accept(&db.store, text(&session, t0())).await;
    let c = accept(&db.store, text(&other, t0())).await;
    for s in [&session, &session, &other] {
        db.store.claim_next(s.id, t0(), t0() + secs(3600)).await.unwrap().expect("claimable");
    }

    let released = db.store.release_sending(session.id, t0() + secs(5)).await.unwrap();

    assert_eq!(released, 2);
    for id in [a.id, b.id] {
        let m = get(&db.store, id).await;
        assert_eq!((m.status, m.next_attempt_at, m.attempts), (MessageStatus::Queued, ms(t0() + secs(5)), 1));
    }
    assert_eq!(get(&db.store, c.id).await.status, MessageStatus::Sending, "other sessions keep their claims");
    let next = claim(db, &session, t0() + secs(5)).await.expect("claimable after release");
    assert_eq!((next.id, next.attempts), (a.id, 2));
}

async fn sent_attempt_records_the_send(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    claim(db, &session, t0()).await.expect("claimable");

    let acked = t0() + secs(2);
    db.store.finish_attempt(msg.id, &AttemptResult::Sent { at: acked }, acked).await.unwrap();

    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.sent_at, m.error, m.attempts), (MessageStatus::Sent, Some(ms(acked)), None, 1));
    assert_eq!(claim(db, &session, t0() + secs(86_400)).await, None, "a sent message is never claimed again");
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), None);
}

async fn retry_waits_and_counts_the_attempt(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    claim(db, &session, t0()).await.expect("claimable");
    let retry_at = t0() + secs(120);

    let retry = AttemptResult::Retry { at: retry_at, error: "timed out".to_owned(), code: FailureCode::Timeout };
    db.store.finish_attempt(msg.id, &retry, t0() + secs(1)).await.unwrap();

    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.next_attempt_at, m.attempts), (MessageStatus::Queued, ms(retry_at), 1));
    assert_eq!(m.error.as_deref(), Some("timed out"));
    assert_eq!(m.error_code, Some(FailureCode::Timeout));
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), Some(ms(retry_at)));
    assert_eq!(claim(db, &session, retry_at - secs(1)).await, None);
    let again = claim(db, &session, retry_at).await.expect("due at the retry time");
    assert_eq!((again.id, again.attempts), (msg.id, 2));
    db.store.finish_attempt(msg.id, &AttemptResult::Sent { at: retry_at }, retry_at).await.unwrap();
    let sent = get(&db.store, msg.id).await;
    assert_eq!((sent.error, sent.error_code), (None, None), "a send clears the last error");
}

async fn not_attempted_gives_the_attempt_back(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    assert_eq!(claim(db, &session, t0()).await.expect("claimable").attempts, 1);

    db.store.finish_attempt(msg.id, &AttemptResult::NotAttempted, t0()).await.unwrap();

    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.attempts, m.error), (MessageStatus::Queued, 0, None));
    let again = claim(db, &session, t0()).await.expect("claimable at once");
    assert_eq!((again.id, again.attempts), (msg.id, 1));
}

async fn failed_attempt_ends_the_message(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    claim(db, &session, t0()).await.expect("claimable");
    let at = t0() + secs(3);

    let failed = AttemptResult::Failed { at, error: "not on WhatsApp".to_owned(), code: FailureCode::NotOnWhatsapp };
    db.store.finish_attempt(msg.id, &failed, at).await.unwrap();

    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.failed_at, m.sent_at), (MessageStatus::Failed, Some(ms(at)), None));
    assert_eq!(m.error.as_deref(), Some("not on WhatsApp"));
    assert_eq!(m.error_code, Some(FailureCode::NotOnWhatsapp));
    assert_eq!(claim(db, &session, t0() + secs(86_400)).await, None);
    assert_eq!(db.store.next_due_at(session.id).await.unwrap(), None);
}

async fn sent_after_a_receipt_does_not_move_back(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    claim(db, &session, t0()).await.expect("claimable");
    let delivered_at = t0() + secs(1);
    let kind = wagate_types::ReceiptKind::Delivered;
    db.store.apply_receipt(session.id, std::slice::from_ref(&msg.wa_id), kind, delivered_at).await.unwrap();

    db.store.finish_attempt(msg.id, &AttemptResult::Sent { at: t0() + secs(2) }, t0() + secs(2)).await.unwrap();

    let m = get(&db.store, msg.id).await;
    assert_eq!(m.status, MessageStatus::Delivered);
    assert_eq!((m.sent_at, m.delivered_at), (Some(ms(delivered_at)), Some(ms(delivered_at))));
}

async fn concurrent_claimers_never_share_a_message(db: &TestDb) {
    const MESSAGES: usize = 40;
    const CLAIMERS: usize = 4;
    let session = new_session(&db.store, "sales").await;
    let batch: Vec<_> = (0..MESSAGES).map(|_| text(&session, t0())).collect();
    db.store.accept_messages(&batch).await.unwrap();

    let tasks: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let store = db.store.clone();
            let session = session.id;
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(m) = store.claim_next(session, t0(), t0() + secs(3600)).await.unwrap() {
                    mine.push(m.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("claimer task"));
    }

    let unique: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a message was claimed twice");
    let expected: HashSet<_> = batch.iter().map(|m| m.id).collect();
    assert_eq!(unique, expected, "every message is claimed exactly once");
}

async fn waiting_messages_say_why_while_their_session_is_not_connected(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let waiting = accept(&db.store, text(&session, t0())).await;
    let retried = accept(&db.store, text(&session, t0())).await;
    db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");
    let retry = AttemptResult::Retry { at: t0() + secs(5), error: "no ack".into(), code: FailureCode::Timeout };
    db.store.finish_attempt(waiting.id, &retry, t0() + secs(1)).await.unwrap();
    assert_eq!(get(&db.store, retried.id).await.error_code, None, "a connected session holds nothing back");

    for (status, reason, code) in [
        (SessionStatus::LoggedOut, Some("the phone unlinked this device"), FailureCode::LoggedOut),
        (SessionStatus::Banned, Some("sent to too many people"), FailureCode::Banned),
        (SessionStatus::Reconnecting, None, FailureCode::NotConnected),
        (SessionStatus::Starting, None, FailureCode::NotConnected),
    ] {
        let state = SessionState {
            status,
            reason: reason.map(str::to_owned),
            phone: None,
            push_name: None,
            last_seen_at: None,
        };
        db.store.set_session_state(session.id, &state, t0()).await.unwrap();
        for id in [waiting.id, retried.id] {
            let m = get(&db.store, id).await;
            assert_eq!(m.error_code, Some(code), "{status}: {m:?}");
            let words = m.error.unwrap();
            assert!(words.starts_with(&format!("waiting: the session is {status}")), "{words}");
            assert!(reason.is_none_or(|r| words.ends_with(r)), "{words}");
        }
    }
    let connected = SessionState {
        status: SessionStatus::Connected,
        reason: None,
        phone: None,
        push_name: None,
        last_seen_at: None,
    };
    db.store.set_session_state(session.id, &connected, t0()).await.unwrap();
    assert_eq!(get(&db.store, retried.id).await.error_code, None, "the reason goes with the session's");
    assert_eq!(get(&db.store, waiting.id).await.error_code, Some(FailureCode::Timeout), "its own reason stays");
}
