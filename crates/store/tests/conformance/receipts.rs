//! Receipts from recipients, and clients cancelling and resending messages.

use wagate_store::{AttemptResult, EventFilter, MessageRecord, NewEvent, SessionRecord, Transition};
use wagate_types::{FailureCode, MessageId, MessageStatus, ReceiptKind, WaMessageId};

use crate::{TestDb, accept, get, ms, new_session, secs, t0, tenant, text};

wagate_store::on_both_backends!(
    receipts_only_move_forward,
    receipt_for_unknown_id_changes_nothing,
    receipt_revives_a_failed_message,
    receipt_for_a_message_queued_again_after_a_crash_moves_it_on,
    receipt_before_the_ack_tells_sent_first_and_the_ack_tells_nothing,
    cancel_only_while_waiting,
    resend_only_failed_or_cancelled,
);

/// Accepts, claims and sends one message; returns it as stored.
async fn sent_message(db: &TestDb, session: &SessionRecord) -> MessageRecord {
    let msg = accept(&db.store, text(session, t0())).await;
    let claimed = db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");
    assert_eq!(claimed.id, msg.id);
    db.store.finish_attempt(msg.id, &AttemptResult::Sent { at: t0() + secs(1) }, t0() + secs(1)).await.unwrap();
    get(&db.store, msg.id).await
}

async fn receipt(
    db: &TestDb,
    session: &SessionRecord,
    wa_id: &WaMessageId,
    kind: ReceiptKind,
    at: time::OffsetDateTime,
) -> Vec<MessageId> {
    db.store.apply_receipt(session.id, std::slice::from_ref(wa_id), kind, at).await.unwrap()
}

async fn receipts_only_move_forward(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = sent_message(db, &session).await;
    let (read_at, delivered_at) = (t0() + secs(10), t0() + secs(20));

    // The read receipt overtakes the delivery receipt.
    let changed = receipt(db, &session, &msg.wa_id, ReceiptKind::Read, read_at).await;
    assert_eq!(changed, [msg.id]);
    let m = get(&db.store, msg.id).await;
    assert_eq!(m.status, MessageStatus::Read);
    assert_eq!((m.read_at, m.delivered_at), (Some(ms(read_at)), Some(ms(read_at))), "read implies delivered");
    assert_eq!(m.sent_at, Some(ms(t0() + secs(1))));

    let changed = receipt(db, &session, &msg.wa_id, ReceiptKind::Delivered, delivered_at).await;
    assert_eq!(changed, [], "a late delivery receipt changes no status");
    let m = get(&db.store, msg.id).await;
    assert_eq!(m.status, MessageStatus::Read);
    assert_eq!((m.read_at, m.delivered_at), (Some(ms(read_at)), Some(ms(read_at))), "times are kept once");

    let changed = receipt(db, &session, &msg.wa_id, ReceiptKind::Read, t0() + secs(30)).await;
    assert_eq!(changed, [], "a repeated receipt changes no status");
    assert_eq!(get(&db.store, msg.id).await.read_at, Some(ms(read_at)));

    let played_at = t0() + secs(40);
    assert_eq!(receipt(db, &session, &msg.wa_id, ReceiptKind::Played, played_at).await, [msg.id]);
    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.played_at, m.read_at), (MessageStatus::Played, Some(ms(played_at)), Some(ms(read_at))));
}

async fn receipt_for_unknown_id_changes_nothing(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let other = new_session(&db.store, "support").await;
    let msg = sent_message(db, &session).await;

    let unknown = receipt(db, &session, &WaMessageId::generate(), ReceiptKind::Read, t0() + secs(5)).await;
    // The same WhatsApp id reported by another session is another message.
    let elsewhere = receipt(db, &other, &msg.wa_id, ReceiptKind::Read, t0() + secs(5)).await;

    assert_eq!((unknown, elsewhere), (vec![], vec![]));
    assert_eq!(get(&db.store, msg.id).await, msg);
}

async fn receipt_revives_a_failed_message(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");
    let failed =
        AttemptResult::Failed { at: t0() + secs(1), error: "ack timed out".to_owned(), code: FailureCode::Timeout };
    db.store.finish_attempt(msg.id, &failed, t0() + secs(1)).await.unwrap();
    assert_eq!(get(&db.store, msg.id).await.status, MessageStatus::Failed);

    let changed = receipt(db, &session, &msg.wa_id, ReceiptKind::Delivered, t0() + secs(8)).await;

    assert_eq!(changed, [msg.id]);
    let m = get(&db.store, msg.id).await;
    assert_eq!(m.status, MessageStatus::Delivered);
    assert_eq!((m.delivered_at, m.sent_at), (Some(ms(t0() + secs(8))), Some(ms(t0() + secs(8)))));
    assert_eq!((m.failed_at, m.error), (None, None), "the failure turned out wrong");
}

async fn cancel_only_while_waiting(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let queued = accept(&db.store, text(&session, t0())).await;
    let mut later = text(&session, t0());
    later.send_at = Some(t0() + secs(3600));
    let scheduled = accept(&db.store, later).await;
    let sending = accept(&db.store, text(&session, t0())).await;
    let cancel_at = t0() + secs(7);

    let done = db.store.cancel_message(&tenant(), queued.id, cancel_at).await.unwrap();
    let Transition::Done(cancelled) = done else { panic!("expected Done, got {done:?}") };
    assert_eq!((cancelled.status, cancelled.cancelled_at), (MessageStatus::Cancelled, Some(ms(cancel_at))));
    assert_eq!(get(&db.store, queued.id).await, cancelled);
    let again = db.store.cancel_message(&tenant(), queued.id, cancel_at).await.unwrap();
    assert_eq!(again, Transition::WrongStatus(MessageStatus::Cancelled));

    let done = db.store.cancel_message(&tenant(), scheduled.id, cancel_at).await.unwrap();
    assert!(matches!(&done, Transition::Done(m) if m.status == MessageStatus::Cancelled), "got {done:?}");

    let claimed = db.store.claim_next(session.id, t0() + secs(8), t0() + secs(60)).await.unwrap().expect("claimable");
    assert_eq!(claimed.id, sending.id, "cancelled messages are not claimed");
    let refused = db.store.cancel_message(&tenant(), sending.id, t0() + secs(9)).await.unwrap();
    assert_eq!(refused, Transition::WrongStatus(MessageStatus::Sending));
    assert_eq!(get(&db.store, sending.id).await.status, MessageStatus::Sending);

    let unknown = db.store.cancel_message(&tenant(), MessageId::new(), cancel_at).await.unwrap();
    assert_eq!(unknown, Transition::NotFound);
    // Past the scheduled time only the claim whose lease ran out is due again.
    let (later, lease) = (t0() + secs(7200), t0() + secs(7300));
    assert_eq!(db.store.claim_next(session.id, later, lease).await.unwrap().map(|m| m.id), Some(sending.id));
    assert_eq!(db.store.claim_next(session.id, later, lease).await.unwrap(), None);
}

async fn resend_only_failed_or_cancelled(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");
    let failed = AttemptResult::Failed { at: t0() + secs(1), error: "gave up".to_owned(), code: FailureCode::Network };
    db.store.finish_attempt(msg.id, &failed, t0() + secs(1)).await.unwrap();
    let resend_at = t0() + secs(100);

    let done = db.store.resend_message(&tenant(), msg.id, resend_at).await.unwrap();

    let Transition::Done(resent) = done else { panic!("expected Done, got {done:?}") };
    assert_eq!((resent.status, resent.attempts, resent.error.as_deref()), (MessageStatus::Queued, 0, None));
    assert_eq!(
        (resent.failed_at, resent.next_attempt_at, resent.queued_at),
        (None, ms(resend_at), Some(ms(resend_at)))
    );
    assert_eq!(resent.wa_id, msg.wa_id, "a resend keeps the WhatsApp id so the recipient sees one message");
    let again = db.store.resend_message(&tenant(), msg.id, resend_at).await.unwrap();
    assert_eq!(again, Transition::WrongStatus(MessageStatus::Queued));
    let claimed = db.store.claim_next(session.id, resend_at, resend_at + secs(60)).await.unwrap().expect("queued");
    assert_eq!((claimed.id, claimed.attempts, &claimed.wa_id), (msg.id, 1, &msg.wa_id));
    db.store.finish_attempt(msg.id, &AttemptResult::Sent { at: resend_at }, resend_at).await.unwrap();
    let refused = db.store.resend_message(&tenant(), msg.id, resend_at).await.unwrap();
    assert_eq!(refused, Transition::WrongStatus(MessageStatus::Sent));

    // A cancelled scheduled message comes back queued for now, not for its old time.
    let mut later = text(&session, t0());
    later.send_at = Some(t0() + secs(86_400));
    let scheduled = accept(&db.store, later).await;
    db.store.cancel_message(&tenant(), scheduled.id, t0() + secs(2)).await.unwrap();
    let done = db.store.resend_message(&tenant(), scheduled.id, resend_at).await.unwrap();
    let Transition::Done(back) = done else { panic!("expected Done, got {done:?}") };
    assert_eq!((back.status, back.send_at, back.cancelled_at), (MessageStatus::Queued, None, None));
    assert_eq!(back.wa_id, scheduled.wa_id);

    assert_eq!(db.store.resend_message(&tenant(), MessageId::new(), resend_at).await.unwrap(), Transition::NotFound);
}

/// Events named after the status a message has when `tell` sees it.
fn tell_status(message: &MessageRecord) -> Vec<NewEvent> {
    vec![NewEvent { kind: format!("status.{}", message.status), session: None, data: serde_json::json!({}) }]
}

async fn told(db: &TestDb) -> Vec<String> {
    let all = EventFilter { limit: 100, ..EventFilter::default() };
    db.store.events(&tenant(), &all).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn receipt_for_a_message_queued_again_after_a_crash_moves_it_on(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");
    // The process died while sending; the restart puts the message back in the queue.
    assert_eq!(db.store.release_sending(session.id, t0() + secs(5)).await.unwrap(), 1);
    assert_eq!(get(&db.store, msg.id).await.status, MessageStatus::Queued);

    let (delivered_at, read_at) = (t0() + secs(6), t0() + secs(7));
    let wa_ids = std::slice::from_ref(&msg.wa_id);
    let changed =
        db.store.apply_receipt_telling(session.id, wa_ids, ReceiptKind::Delivered, delivered_at, &tell_status).await;
    assert_eq!(changed.unwrap(), [msg.id]);
    let changed = db.store.apply_receipt_telling(session.id, wa_ids, ReceiptKind::Read, read_at, &tell_status).await;
    assert_eq!(changed.unwrap(), [msg.id]);

    let m = get(&db.store, msg.id).await;
    assert_eq!(m.status, MessageStatus::Read, "the receipts prove it arrived");
    assert_eq!(
        (m.sent_at, m.delivered_at, m.read_at),
        (Some(ms(delivered_at)), Some(ms(delivered_at)), Some(ms(read_at)))
    );
    let later = t0() + secs(3600);
    assert_eq!(db.store.claim_next(session.id, later, later + secs(60)).await.unwrap(), None, "not sent again");
    assert_eq!(told(db).await, ["status.sent", "status.delivered", "status.read"]);
}

async fn receipt_before_the_ack_tells_sent_first_and_the_ack_tells_nothing(db: &TestDb) {
    let session = new_session(&db.store, "sales").await;
    let msg = accept(&db.store, text(&session, t0())).await;
    db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("claimable");

    let delivered_at = t0() + secs(1);
    let wa_ids = std::slice::from_ref(&msg.wa_id);
    let changed =
        db.store.apply_receipt_telling(session.id, wa_ids, ReceiptKind::Delivered, delivered_at, &tell_status).await;
    assert_eq!(changed.unwrap(), [msg.id]);
    // The server's ack comes after the receipt.
    let acked = AttemptResult::Sent { at: t0() + secs(2) };
    db.store.finish_attempt_telling(msg.id, &acked, t0() + secs(2), &tell_status).await.unwrap();
    // And the same receipt again.
    let again =
        db.store.apply_receipt_telling(session.id, wa_ids, ReceiptKind::Delivered, delivered_at, &tell_status).await;
    assert_eq!(again.unwrap(), []);

    let m = get(&db.store, msg.id).await;
    assert_eq!((m.status, m.sent_at), (MessageStatus::Delivered, Some(ms(delivered_at))), "never moved back");
    assert_eq!(told(db).await, ["status.sent", "status.delivered"], "sent first, each once");
}
