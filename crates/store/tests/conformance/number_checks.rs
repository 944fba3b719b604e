//! Answers about numbers, kept per session and replaced by newer ones.

use wagate_store::NumberCheckRecord;
use wagate_types::{ChatId, PhoneNumber};

use crate::{TestDb, ms, new_session, secs, t0};

wagate_store::on_both_backends!(an_answer_is_kept_per_session_and_replaced);

async fn an_answer_is_kept_per_session_and_replaced(db: &TestDb) {
    let sales = new_session(&db.store, "sales").await;
    let support = new_session(&db.store, "support").await;
    let phone = PhoneNumber::parse("+4915110000001", None).unwrap();
    assert_eq!(db.store.number_check(sales.id, &phone).await.unwrap(), None);

    let no = NumberCheckRecord { on_whatsapp: false, jid: None, checked_at: t0() };
    db.store.record_number_check(sales.id, &phone, &no).await.unwrap();
    let kept = db.store.number_check(sales.id, &phone).await.unwrap().expect("kept");
    assert_eq!(kept, NumberCheckRecord { checked_at: ms(t0()), ..no });
    assert_eq!(db.store.number_check(support.id, &phone).await.unwrap(), None, "per session");

    let yes =
        NumberCheckRecord { on_whatsapp: true, jid: Some(ChatId::from_phone(&phone)), checked_at: t0() + secs(60) };
    db.store.record_number_check(sales.id, &phone, &yes).await.unwrap();
    let kept = db.store.number_check(sales.id, &phone).await.unwrap().expect("kept");
    assert_eq!(kept, NumberCheckRecord { checked_at: ms(t0() + secs(60)), ..yes });
}
