//! Campaigns: stored with their list, fed into a queue a few at a time with each
//! recipient's message, paused and cancelled; and claims that pass over capped lanes
//! and recipients within their spacing.

use serde_json::json;
use wagate_store::{AttemptResult, ClaimRules, NewCampaign, NewMessage, NewRecipient, PendingRecipient};
use wagate_types::{CampaignStatus, MessageId, MessageStatus, Origin, Priority, WaMessageId};

use crate::{TestDb, accept, chat, new_session, secs, t0, tenant, text};

fn campaign(session: &wagate_store::SessionRecord, size: usize) -> NewCampaign {
    NewCampaign {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant(),
        name: "Sale".into(),
        kind: "text".into(),
        content: json!({ "text": "Hi {{name}}" }),
        sessions: vec![session.id],
        priority: Priority::Low,
        start_at: t0(),
        created_at: t0(),
        recipients: (0..size)
            .map(|n| NewRecipient {
                recipient: format!("+1555000{n:04}"),
                chat: chat(&format!("1555000{n:04}")),
                variables: json!({ "name": format!("N{n}") }),
            })
            .collect(),
        duplicates: 1,
    }
}

fn message_to(session: &wagate_store::SessionRecord) -> impl Fn(&PendingRecipient) -> NewMessage + Sync + '_ {
    move |r| NewMessage {
        id: MessageId::new(),
        tenant: tenant(),
        session_id: session.id,
        session_name: session.name.clone(),
        chat: r.chat.clone(),
        recipient: r.recipient.clone(),
        kind: "text".into(),
        content: json!({ "text": r.variables["name"] }),
        wa_id: WaMessageId::generate(),
        priority: Priority::Low,
        send_at: None,
        created_at: t0(),
        idempotency: None,
        origin: Some(Origin::Campaign),
    }
}

wagate_store::on_both_backends!(a_campaign_is_fed_in_order_paused_back_and_cancelled);

async fn a_campaign_is_fed_in_order_paused_back_and_cancelled(db: &TestDb) {
    let session = new_session(&db.store, "shop").await;
    let stored = db.store.create_campaign(&campaign(&session, 25)).await.unwrap();
    assert_eq!((stored.status, stored.total, stored.duplicates), (CampaignStatus::Running, 25, 1));
    assert_eq!(db.store.runnable_campaigns(t0()).await.unwrap().len(), 1);

    let make = message_to(&session);
    assert_eq!(db.store.feed_campaign(&stored.id, session.id, 10, &make).await.unwrap(), 10);
    assert_eq!(db.store.campaign_backlog(session.id).await.unwrap(), 10);
    let first = db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("one");
    assert_eq!(first.content["text"], "N0", "list order");
    db.store.finish_attempt(first.id, &AttemptResult::Sent { at: t0() }, t0()).await.unwrap();

    let paused = db.store.set_campaign_status(&tenant(), &stored.id, CampaignStatus::Paused, t0()).await.unwrap();
    assert_eq!(paused.unwrap().status, CampaignStatus::Paused);
    let counts = db.store.campaign_counts(&stored.id).await.unwrap();
    assert_eq!((counts.pending, counts.messages.clone()), (24, vec![(MessageStatus::Sent, 1)]), "back on the list");
    assert_eq!(db.store.feed_campaign(&stored.id, session.id, 10, &make).await.unwrap(), 0, "not while paused");

    db.store.set_campaign_status(&tenant(), &stored.id, CampaignStatus::Running, t0()).await.unwrap();
    assert_eq!(db.store.feed_campaign(&stored.id, session.id, 5, &make).await.unwrap(), 5);
    let next = db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("one");
    assert_eq!(next.content["text"], "N1", "the list goes on where it stopped");
    assert!(!db.store.campaign_done(&stored.id).await.unwrap());

    db.store.set_campaign_status(&tenant(), &stored.id, CampaignStatus::Cancelled, t0()).await.unwrap();
    let counts = db.store.campaign_counts(&stored.id).await.unwrap();
    assert_eq!(counts.pending, 0);
    let total: u64 = counts.cancelled + counts.messages.iter().map(|(_, n)| n).sum::<u64>();
    assert_eq!(total, 25, "{counts:?}");
    let recipients = db.store.campaign_recipients(&stored.id, None, None, 3).await.unwrap();
    assert_eq!(recipients[0].status, Some(MessageStatus::Sent));
    assert_eq!(recipients[1].status, Some(MessageStatus::Sending), "the one being sent stays");
    assert_eq!(recipients[2].status, Some(MessageStatus::Cancelled));
    // The feeder completing it a moment later (it looked before the cancel) changes nothing.
    let late = db.store.set_campaign_status(&tenant(), &stored.id, CampaignStatus::Completed, t0()).await.unwrap();
    assert!(late.is_none(), "only a running campaign completes");
    let kept = db.store.campaign(&tenant(), &stored.id).await.unwrap().unwrap();
    assert_eq!((kept.status, kept.completed_at), (CampaignStatus::Cancelled, None));
}

wagate_store::on_both_backends!(claims_pass_over_capped_lanes_and_recipients_within_their_spacing);

async fn claims_pass_over_capped_lanes_and_recipients_within_their_spacing(db: &TestDb) {
    let session = new_session(&db.store, "shop").await;
    let sent = accept(&db.store, text(&session, t0())).await;
    let claimed = db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().unwrap();
    assert_eq!(claimed.id, sent.id);
    db.store.finish_attempt(sent.id, &AttemptResult::Sent { at: t0() }, t0()).await.unwrap();
    let again = accept(&db.store, text(&session, t0() + secs(1))).await;
    let mut other = text(&session, t0() + secs(2));
    other.chat = chat("15550000002");
    other.recipient = "+15550000002".into();
    other.priority = Priority::Low;
    let other = accept(&db.store, other).await;

    let spaced = ClaimRules { recipient_spacing: Some(std::time::Duration::from_secs(60)), ..ClaimRules::default() };
    let now = t0() + secs(10);
    let pick = db.store.claim_next_where(session.id, now, now + secs(60), &spaced).await.unwrap().unwrap();
    assert_eq!(pick.id, other.id, "the same recipient waits, another goes");
    let at = db.store.spacing_ends_at(session.id, now, std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(at, Some(crate::ms(t0() + secs(60))));

    let lanes = ClaimRules { skip_priorities: vec![Priority::Normal], ..ClaimRules::default() };
    assert_eq!(db.store.claim_next_where(session.id, now, now + secs(60), &lanes).await.unwrap(), None);
    let later = t0() + secs(61);
    let pick = db.store.claim_next_where(session.id, later, later + secs(60), &spaced).await.unwrap().unwrap();
    assert_eq!(pick.id, again.id, "after the spacing");
}
