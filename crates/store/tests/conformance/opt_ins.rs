//! Opt-ins and the suppression list: a change moves the contact's waiting messages in
//! its own transaction, keeps an audit entry and an event; wagate's own messages are
//! never moved; a reply queued by the rules of a received message is stored with it.

use serde_json::json;
use wagate_store::{
    AttemptResult, AutoReplies, EventFilter, InboundRules, Known, MessageRecord, Needs, NewEvent, NewInbound,
    NewMessage, OptInChange, OptInMoved, Response, SessionSettings, SuppressionRecord, Target,
};
use wagate_types::{ChatId, MessageStatus, OptInStatus, Origin};

use crate::{TestDb, accept, get, inbound, ms, new_session, secs, t0, tenant, text};

fn change(status: OptInStatus, how: &str) -> OptInChange {
    OptInChange {
        contact: "+15550000001".into(),
        status,
        how: how.into(),
        actor: Some("api_key:k1".into()),
        note: Some(format!("set {status}")),
        event: NewEvent { kind: "contact.opt_in".into(), session: None, data: json!({ "status": status }) },
    }
}

wagate_store::on_both_backends!(a_change_moves_waiting_messages_and_keeps_its_trail);

async fn a_change_moves_waiting_messages_and_keeps_its_trail(db: &TestDb) {
    let session = new_session(&db.store, "shop").await;
    let held = accept(&db.store, text(&session, t0())).await;
    let claimed = db.store.claim_next(session.id, t0(), t0() + secs(60)).await.unwrap().expect("due");
    let until = t0() + secs(86_400);
    let hold = AttemptResult::Held { until, error: "waiting for the answer".into() };
    db.store.finish_attempt(claimed.id, &hold, t0()).await.unwrap();
    let after = get(&db.store, held.id).await;
    assert_eq!((after.status, after.attempts, after.next_attempt_at), (MessageStatus::Queued, 0, ms(until)));
    let mut own = text(&session, t0() + secs(1));
    own.origin = Some(Origin::OptIn);
    own.send_at = Some(t0() + secs(86_400));
    let own = accept(&db.store, own).await;

    let yes = db.store.set_opt_ins(&tenant(), session.id, &[change(OptInStatus::Yes, "api")], t0() + secs(5)).await;
    assert_eq!(yes.unwrap(), OptInMoved { released: 1, opted_out: 0 });
    assert_eq!(get(&db.store, held.id).await.next_attempt_at, ms(t0() + secs(5)), "due now");
    assert_eq!(get(&db.store, held.id).await.error, None);

    let later = accept(&db.store, text(&session, t0() + secs(6))).await;
    let no = db.store.set_opt_ins(&tenant(), session.id, &[change(OptInStatus::No, "keyword")], t0() + secs(7)).await;
    assert_eq!(no.unwrap(), OptInMoved { released: 0, opted_out: 2 });
    for id in [held.id, later.id] {
        let ended = get(&db.store, id).await;
        assert_eq!(ended.status, MessageStatus::OptedOut);
        assert_eq!(ended.error.as_deref(), Some("+15550000001 opted out"));
    }
    assert_eq!(get(&db.store, own.id).await.status, MessageStatus::Scheduled, "wagate's own message stays");

    let now = db.store.opt_in(session.id, "+15550000001").await.unwrap().expect("stored");
    assert_eq!((now.status, now.changed_at), (OptInStatus::No, ms(t0() + secs(7))));
    let trail = db.store.opt_in_history(session.id, "+15550000001").await.unwrap();
    let steps: Vec<(OptInStatus, &str)> = trail.iter().map(|c| (c.status, c.how.as_str())).collect();
    assert_eq!(steps, [(OptInStatus::Yes, "api"), (OptInStatus::No, "keyword")]);
    assert_eq!(trail[0].actor.as_deref(), Some("api_key:k1"));
    let events = db.store.events(&tenant(), &EventFilter { limit: 10, ..EventFilter::default() }).await.unwrap();
    assert_eq!(events.iter().map(|e| e.data["status"].clone()).collect::<Vec<_>>(), [json!("yes"), json!("no")]);

    let listed = db.store.opt_ins(session.id, Some(OptInStatus::No), None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(db.store.opt_ins(session.id, Some(OptInStatus::Yes), None, 10).await.unwrap().is_empty());
}

wagate_store::on_both_backends!(a_suppressed_number_ends_what_waits_for_it_on_every_session);

async fn a_suppressed_number_ends_what_waits_for_it_on_every_session(db: &TestDb) {
    let shop = new_session(&db.store, "shop").await;
    let support = new_session(&db.store, "support").await;
    let one = accept(&db.store, text(&shop, t0())).await;
    let two = accept(&db.store, text(&support, t0())).await;
    let entry = SuppressionRecord {
        phone: "+15550000001".into(),
        reason: Some("asked not to be contacted".into()),
        actor: Some("api_key:k1".into()),
        created_at: t0() + secs(1),
    };
    let (stored, ended) = db.store.suppress(&tenant(), &entry).await.unwrap();
    assert_eq!((stored.created_at, ended), (ms(t0() + secs(1)), 2));
    for id in [one.id, two.id] {
        assert_eq!(get(&db.store, id).await.status, MessageStatus::OptedOut);
    }
    let again = SuppressionRecord { reason: Some("again".into()), created_at: t0() + secs(9), ..entry };
    let (kept, _) = db.store.suppress(&tenant(), &again).await.unwrap();
    assert_eq!(kept.reason.as_deref(), Some("asked not to be contacted"), "the first entry stays");
    assert_eq!(db.store.suppressions(&tenant(), None, 10).await.unwrap().len(), 1);
    assert!(db.store.unsuppress(&tenant(), "+15550000001").await.unwrap());
    assert!(!db.store.unsuppress(&tenant(), "+15550000001").await.unwrap());
    assert_eq!(db.store.suppression(&tenant(), "+15550000001").await.unwrap(), None);
}

/// Rules that make a new sender pending with a prompt, and answer a known one with an
/// auto-reply; they keep what they were told.
#[derive(Default)]
struct Prompting {
    seen: std::sync::Mutex<Vec<Known>>,
}

impl InboundRules for Prompting {
    fn apply(&self, _: &NewInbound, _: &str, _: Option<&ChatId>, _: &mut serde_json::Value) -> bool {
        false
    }

    fn events(&self, _stored: &MessageRecord, _target: Option<&Target>) -> Vec<NewEvent> {
        Vec::new()
    }

    fn needs(&self, _settings: &SessionSettings, stored: &MessageRecord) -> Needs {
        Needs { opt_in_of: stored.chat.phone().map(|p| p.to_string()), auto_replies: true }
    }

    fn respond(&self, _settings: &SessionSettings, stored: &MessageRecord, known: &Known) -> Response {
        self.seen.lock().unwrap().push(known.clone());
        let reply = |text: &str, origin| NewMessage {
            chat: stored.chat.clone(),
            content: json!({ "text": text }),
            origin: Some(origin),
            created_at: stored.created_at,
            ..text_to(stored)
        };
        if known.opt_in.is_none() {
            let mut change = change(OptInStatus::Pending, "first_message");
            change.actor = None;
            return Response { opt_in: Some(change), replies: vec![reply("May we write to you?", Origin::OptIn)] };
        }
        Response { opt_in: None, replies: vec![reply("We will answer soon", Origin::AutoReply)] }
    }
}

fn text_to(stored: &MessageRecord) -> NewMessage {
    let session = wagate_store::SessionRecord {
        id: stored.session_id,
        tenant: stored.tenant.clone(),
        name: stored.session_name.clone(),
        status: wagate_types::SessionStatus::Stopped,
        status_reason: None,
        phone: None,
        push_name: None,
        last_seen_at: None,
        settings: SessionSettings::default(),
        created_at: stored.created_at,
        updated_at: stored.created_at,
    };
    text(&session, stored.created_at)
}

wagate_store::on_both_backends!(a_received_message_stores_its_reply_and_opt_in_with_it);

async fn a_received_message_stores_its_reply_and_opt_in_with_it(db: &TestDb) {
    let session = new_session(&db.store, "shop").await;
    let rules = Prompting::default();
    // Two messages in one batch: the second sees the first's opt-in.
    let batch = [inbound("15550000001", "Hi", t0()), inbound("15550000001", "Anyone?", t0() + secs(1))];
    db.store.commit_received(&tenant(), session.id, &batch, t0() + secs(2), &rules).await.unwrap();
    let status = db.store.opt_in(session.id, "+15550000001").await.unwrap().map(|o| o.status);
    assert_eq!(status, Some(OptInStatus::Pending));
    let mut replies = Vec::new();
    while let Some(reply) = db.store.claim_next(session.id, t0() + secs(3), t0() + secs(60)).await.unwrap() {
        db.store.finish_attempt(reply.id, &AttemptResult::Sent { at: t0() + secs(3) }, t0() + secs(3)).await.unwrap();
        replies.push((reply.origin.map(Origin::as_str), reply.content["text"].as_str().unwrap().to_owned()));
    }
    replies.sort();
    let expected =
        [(Some("auto_reply"), "We will answer soon".to_owned()), (Some("opt_in"), "May we write to you?".to_owned())];
    assert_eq!(replies, expected);

    // WhatsApp delivers the first message again: nothing new. A later message sees the
    // auto-reply sent.
    db.store.commit_received(&tenant(), session.id, &batch[..1], t0() + secs(4), &rules).await.unwrap();
    assert_eq!(db.store.opt_in_history(session.id, "+15550000001").await.unwrap().len(), 1);
    let later = [inbound("15550000001", "Hello?", t0() + secs(5))];
    db.store.commit_received(&tenant(), session.id, &later, t0() + secs(5), &rules).await.unwrap();
    let seen = rules.seen.lock().unwrap().clone();
    let none = AutoReplies { last_at: None, last_sent_at: None, last_hour: 0 };
    let one = AutoReplies { last_at: Some(ms(t0() + secs(2))), last_sent_at: Some(ms(t0() + secs(3))), last_hour: 1 };
    assert_eq!(
        seen,
        [
            Known { opt_in: None, auto_replies: Some(none) },
            Known { opt_in: Some(OptInStatus::Pending), auto_replies: Some(none) },
            Known { opt_in: Some(OptInStatus::Pending), auto_replies: Some(one) },
        ]
    );
}
