//! The event log through `GET /api/v1/events`: received messages, reactions, votes,
//! edits, revokes and group changes as events, in order, filtered, never twice.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wagate_engine::{Content, Context, EngineEvent, GroupChange, IncomingMessage, MessageRef};
use wagate_types::{ChatId, WaMessageId};

use crate::helpers::{TestApp, assert_problem, eventually, phone};
use crate::kinds::app;

const SUSHI: &str = "670bd9ced0c6bc3fab9bcce97185cdb5a6c6008f0bb7a33c5e432b7faa0e27ed";

fn ann() -> ChatId {
    ChatId::from_phone(&phone("+9611234567"))
}

fn from_ann(content: Content) -> IncomingMessage {
    IncomingMessage {
        wa_id: WaMessageId::generate(),
        chat: ann(),
        sender: ann(),
        push_name: Some("Ann".into()),
        at: OffsetDateTime::now_utc(),
        content,
        context: Context::default(),
    }
}

async fn events(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/events{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn types(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn what_contacts_do_is_told_as_events_in_order() {
    let app = app().await;
    let poll = json!({ "to": "+9611234567", "poll": { "question": "Lunch?", "options": ["Pizza", "Sushi"] } });
    let poll: Value = app.post("/api/v1/messages", poll).await.json().await.unwrap();
    let poll = app.wait_for_message(poll["id"].as_str().unwrap(), "sent").await;
    let ours = MessageRef {
        chat: ann(),
        wa_id: WaMessageId::from_stored(poll["wa_id"].as_str().unwrap().into()),
        sender: None,
    };
    let photo = app.engine.media("image/jpeg", b"jpeg bytes".to_vec().into());

    let hello = from_ann(Content::Text { body: "Hello".into() });
    let image = from_ann(Content::Image { media: photo, caption: Some("look".into()) });
    let theirs = MessageRef { chat: ann(), wa_id: hello.wa_id.clone(), sender: Some(ann()) };
    app.engine.incoming("default", &[hello.clone(), image.clone()]).await.unwrap();
    let react = from_ann(Content::Reaction { target: ours.clone(), emoji: "🍕".into() });
    let vote = from_ann(Content::PollVote { poll: ours.clone(), option_hashes: vec![SUSHI.into()] });
    let edit = from_ann(Content::Edit { target: theirs.clone(), body: "Hello again".into() });
    let forged = from_ann(Content::Revoke { target: ours.clone() });
    let revoke = from_ann(Content::Revoke { target: theirs.clone() });
    let unknown = MessageRef { chat: ann(), wa_id: WaMessageId::generate(), sender: None };
    let stray = from_ann(Content::Reaction { target: unknown.clone(), emoji: "".into() });
    app.engine.incoming("default", &[react, vote, edit, forged, revoke, stray]).await.unwrap();
    // WhatsApp delivers the first two again: stored once, told once.
    app.engine.incoming("default", &[hello.clone(), image.clone()]).await.unwrap();

    // What contacts did (the session's own status and sends are events too).
    let page = events(&app, "?types=message.received,message.reaction,poll.vote,message.edited,message.revoked").await;
    assert_eq!(
        types(&page),
        [
            "message.received",
            "message.received",
            "message.reaction",
            "poll.vote",
            "message.edited",
            "message.revoked",
            "message.reaction"
        ],
        "{page:#}"
    );
    let list = page["data"].as_array().unwrap();
    let ids: Vec<u64> = list.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids without gaps: {ids:?}");
    assert_eq!(page["next_since"], ids[ids.len() - 1]);

    let received = &list[0];
    assert_eq!(received["session"], "default");
    assert_eq!(received["data"]["message"]["text"], "Hello");
    assert_eq!(received["data"]["message"]["from"], "+9611234567");
    assert_eq!(received["data"]["message"]["push_name"], "Ann");
    let picture = &list[1]["data"]["message"];
    assert_eq!(picture["image"]["caption"], "look");
    assert!(!list[1].to_string().contains("fake-"), "no engine keys in events: {}", list[1]);

    let reaction = &list[2]["data"];
    assert_eq!(reaction["emoji"], "🍕");
    assert_eq!(reaction["from"], json!({ "phone": "+9611234567", "jid": "9611234567@s.whatsapp.net" }));
    assert_eq!(reaction["wa_id"], poll["wa_id"]);
    assert_eq!(reaction["message"]["id"], poll["id"]);
    assert_eq!(reaction["message"]["reactions"][0]["emoji"], "🍕", "the message as it is after the reaction");

    let vote = &list[3]["data"];
    assert_eq!(vote["options"], json!(["Sushi"]));
    assert_eq!(vote["message"]["poll"]["votes"], json!({ "+9611234567": ["Sushi"] }));

    let edited = &list[4]["data"];
    assert_eq!(
        (edited["text"].as_str(), edited["message"]["text"].as_str()),
        (Some("Hello again"), Some("Hello again"))
    );
    let revoked = &list[5]["data"];
    assert_eq!(revoked["wa_id"], hello.wa_id.as_str());
    assert!(revoked["message"]["revoked_at"].is_string());

    let stray = &list[6]["data"];
    assert_eq!((stray["removed"].as_bool(), stray["message"].is_null()), (Some(true), true), "{stray}");
    assert_eq!(stray["wa_id"], unknown.wa_id.as_str());

    // Polling on from an id, and filters.
    let after = events(&app, &format!("?since={}", ids[4])).await;
    assert_eq!(types(&after), ["message.revoked", "message.reaction"]);
    let last = events(&app, &format!("?since={}", ids[6])).await;
    assert_eq!((last["data"].as_array().unwrap().len(), last["next_since"].as_u64()), (0, Some(ids[6])));
    assert_eq!(types(&events(&app, "?types=poll.vote,message.edited").await), ["poll.vote", "message.edited"]);
    // The poll went out first: its `message.sent` leads the `message.` events.
    assert_eq!(types(&events(&app, "?types=message.*&limit=2").await), ["message.sent", "message.received"]);
    let all = events(&app, "?types=*&session=default").await;
    let statuses: Vec<&Value> = all["data"].as_array().unwrap()[..2].iter().map(|e| &e["data"]["status"]).collect();
    assert_eq!(statuses, [&json!("qr_ready"), &json!("connected")], "{all:#}");
    assert_eq!(types(&all)[2], "message.sent");
    assert_eq!(all["data"].as_array().unwrap().len(), 10, "the session linked, the poll went out, 7 from Ann");
}

#[tokio::test]
async fn group_changes_by_others_are_events() {
    let app = app().await;
    let group = ChatId::parse("120363000000000001@g.us").unwrap();
    let bob = ChatId::from_phone(&phone("+4915110000002"));
    let changes =
        [GroupChange::Add(vec![bob.clone()]), GroupChange::Subject("Lunch club".into()), GroupChange::Announce(true)];
    for change in changes {
        let at = OffsetDateTime::now_utc();
        app.engine
            .event("default", EngineEvent::GroupChanged { group: group.clone(), by: Some(ann()), change, at })
            .await;
    }
    let page = eventually("three group events", || async {
        let page = events(&app, "?types=group.*").await;
        (page["data"].as_array().unwrap().len() == 3).then_some(page)
    })
    .await;
    let list = page["data"].as_array().unwrap();
    assert_eq!(types(&page), ["group.participants", "group.updated", "group.updated"]);
    let added = &list[0]["data"];
    assert_eq!(added["action"], "add");
    assert_eq!(added["group"], group.as_str());
    assert_eq!(added["participants"], json!([{ "phone": "+4915110000002", "jid": "4915110000002@s.whatsapp.net" }]));
    assert_eq!(added["by"]["phone"], "+9611234567");
    assert_eq!(list[1]["data"]["subject"], "Lunch club");
    assert_eq!(list[2]["data"]["announcement"], true);
}

#[tokio::test]
async fn a_contact_coming_online_or_going_offline_is_told_once_per_change() {
    let app = app().await;
    let seen = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
    let reports = [(true, None), (true, None), (false, Some(seen)), (false, Some(seen)), (true, None)];
    for (available, last_seen) in reports {
        app.engine.event("default", EngineEvent::Presence { chat: ann(), available, last_seen }).await;
    }
    // A marker after the reports: the session's events are handled in order.
    let call = EngineEvent::IncomingCall { call_id: "C1".into(), from: ann(), video: false, at: seen };
    app.engine.event("default", call).await;
    let page = eventually("the call after the presence reports", || async {
        let page = events(&app, "?types=presence.updated,call.incoming").await;
        types(&page).contains(&"call.incoming".to_owned()).then_some(page)
    })
    .await;
    assert_eq!(types(&page), ["presence.updated", "presence.updated", "presence.updated", "call.incoming"], "{page:#}");
    let list = page["data"].as_array().unwrap();
    let person = json!({ "phone": "+9611234567", "jid": "9611234567@s.whatsapp.net" });
    assert_eq!(list[0]["data"], json!({ "contact": person, "available": true, "last_seen": null }));
    assert_eq!(list[1]["data"], json!({ "contact": person, "available": false, "last_seen": "2025-11-24T16:00:00Z" }));
    assert_eq!(list[2]["data"]["available"], true);
    assert_eq!(list[0]["session"], "default");
    let at = "2025-11-24T16:00:00Z";
    assert_eq!(list[3]["data"], json!({ "call_id": "C1", "from": person, "video": false, "at": at }));
}

#[tokio::test]
async fn bad_event_queries_are_refused() {
    let app = app().await;
    for query in
        ["?limit=0", "?limit=1001", "?types=message.nothing", "?types=bogus.*", "?since=-1", "?since=x", "?what=1"]
    {
        let response = app.get(&format!("/api/v1/events{query}")).await;
        let status = response.status();
        assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST, "{query}: {status}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{query}");
    }
    assert_problem(app.get("/api/v1/events?session=nobody").await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_sent_message_tells_each_new_status_once() {
    let app = app().await;
    let sent = app.send_text("default", "+9611234567", "Your order shipped").await;
    let sent = app.wait_for_message(sent["id"].as_str().unwrap(), "sent").await;
    let wa_id = sent["wa_id"].as_str().unwrap();
    app.engine.receipt("default", wa_id, wagate_types::ReceiptKind::Delivered).await;
    app.engine.receipt("default", wa_id, wagate_types::ReceiptKind::Read).await;
    app.engine.receipt("default", wa_id, wagate_types::ReceiptKind::Read).await;
    app.wait_for_message(sent["id"].as_str().unwrap(), "read").await;
    app.engine.fail_sends_permanently("default", true);
    let refused = app.send_text("default", "+9611234568", "Hello?").await;
    app.wait_for_message(refused["id"].as_str().unwrap(), "failed").await;

    let page = crate::helpers::eventually("four events", || async {
        let page = events(&app, "?types=message.sent,message.status").await;
        (page["data"].as_array().unwrap().len() >= 4).then_some(page)
    })
    .await;
    assert_eq!(types(&page), ["message.sent", "message.status", "message.status", "message.status"], "{page:#}");
    let list = page["data"].as_array().unwrap();
    assert_eq!(list[0]["data"]["message"]["text"], "Your order shipped");
    let statuses: Vec<&Value> = list[1..].iter().map(|e| &e["data"]["status"]).collect();
    assert_eq!(statuses, [&json!("delivered"), &json!("read"), &json!("failed")], "a repeated receipt tells nothing");
    assert_eq!(list[1]["data"]["wa_id"], wa_id);
    assert_eq!(list[3]["data"]["error_code"], "refused");
}
