//! Chats through the API with the FakeEngine: the overview (newest first, unread
//! counts, names, paging), a chat's history, and marking a chat read.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wagate_engine::{Content, MessageRef};
use wagate_types::ChatId;

use crate::helpers::{TestApp, assert_problem, eventually, phone};
use crate::kinds::app;

const ANN: &str = "+9611234567";
const BOB: &str = "+9611234568";

fn chat_of(number: &str) -> ChatId {
    ChatId::from_phone(&phone(number))
}

async fn chats(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/chats{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn listed(page: &Value) -> Vec<(String, u64)> {
    let data = page["data"].as_array().unwrap();
    data.iter().map(|c| (c["phone"].as_str().unwrap().to_owned(), c["unread"].as_u64().unwrap())).collect()
}

#[tokio::test]
async fn chats_show_the_newest_message_and_unread_counts_and_are_marked_read() {
    let app = app().await;
    let sent = app.send_text("default", BOB, "Your order is ready").await;
    app.wait_for_message(sent["id"].as_str().unwrap(), "sent").await;
    let first = app.engine.incoming_text("default", &phone(ANN), "Hi").await.unwrap();
    app.engine.incoming_text("default", &phone(ANN), "Are you open?").await.unwrap();
    // A reaction is a change to a message, not a message to read.
    let theirs = MessageRef { chat: chat_of(ANN), wa_id: first.wa_id.clone(), sender: Some(chat_of(ANN)) };
    let mut react = first.clone();
    react.wa_id = wagate_types::WaMessageId::generate();
    react.content = Content::Reaction { target: theirs, emoji: "👍".into() };
    app.engine.incoming("default", &[react]).await.unwrap();
    // Copies WhatsApp delivers again are not counted twice.
    app.engine.redeliver("default", &first).await.unwrap();

    let page = chats(&app, "").await;
    assert_eq!(listed(&page), [(ANN.to_owned(), 2), (BOB.to_owned(), 0)], "{page:#}");
    let ann = &page["data"][0];
    assert_eq!(ann["chat"], "9611234567@s.whatsapp.net");
    assert_eq!((ann["name"].as_str(), ann["is_group"].as_bool()), (Some("Contact 9611234567"), Some(false)));
    assert_eq!(ann["last_message"]["kind"], "reaction");
    assert!(ann["last_message_at"].is_string());
    assert_eq!(page["data"][1]["last_message"]["text"], "Your order is ready");
    assert!(page["next_cursor"].is_null());

    // Paging: one chat a page, each once, even while a message arrives in between.
    let one = chats(&app, "?limit=1").await;
    assert_eq!(listed(&one), [(ANN.to_owned(), 2)]);
    let cursor = one["next_cursor"].as_str().expect("another page").to_owned();
    let carol = app.engine.incoming_text("default", &phone("+9611234569"), "New here").await.unwrap();
    let two = chats(&app, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(listed(&two), [(BOB.to_owned(), 0)]);
    let three = chats(&app, &format!("?limit=1&cursor={}", two["next_cursor"].as_str().unwrap())).await;
    assert!(three["data"].as_array().unwrap().is_empty(), "{three:#}");
    assert_eq!(chats(&app, "").await["data"][0]["last_message"]["wa_id"], carol.wa_id.as_str());

    // A chat's history, both directions, newest first.
    let history: Value = app.get(&format!("/api/v1/messages?chat={ANN}")).await.json().await.unwrap();
    let texts: Vec<&str> = history["data"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["Are you open?", "Hi"]);

    // Read up to the first message, then the rest: receipts go out for each once.
    let hi = history["data"].as_array().unwrap().iter().find(|m| m["text"] == "Hi").unwrap();
    let first_id = hi["id"].as_str().unwrap().to_owned();
    let read = app.post(&format!("/api/v1/chats/{ANN}/read"), json!({ "up_to": first_id })).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap()["marked"], 1);
    assert_eq!(listed(&chats(&app, "").await)[1], (ANN.to_owned(), 1));
    let read: Value = app.post(&format!("/api/v1/chats/{ANN}/read"), json!({})).await.json().await.unwrap();
    assert_eq!(read["marked"], 1);
    let again: Value = app.post(&format!("/api/v1/chats/{ANN}/read"), json!({})).await.json().await.unwrap();
    assert_eq!(again["marked"], 0);
    let receipts = app.engine.read_receipts();
    assert_eq!(receipts.len(), 2, "{receipts:?}");
    assert!(receipts.iter().all(|(s, chat, _)| s == "default" && *chat == chat_of(ANN)));
    assert_eq!(receipts[0].2, first.wa_id);
    let page = chats(&app, "").await;
    assert!(listed(&page).contains(&(ANN.to_owned(), 0)), "{page:#}");
    let marked = app.message(&first_id).await;
    assert!(marked["read_at"].is_string(), "{marked}");
}

#[tokio::test]
async fn marking_read_needs_a_connection_and_good_input_and_changes_nothing_otherwise() {
    let app = app().await;
    app.engine.incoming_text("default", &phone(ANN), "Hi").await.unwrap();
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    let before = app.snapshot().await;
    let refused = app.post(&format!("/api/v1/chats/{ANN}/read"), json!({})).await;
    assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    for (path, body) in [
        ("/api/v1/chats/not-a-number/read", json!({})),
        ("/api/v1/chats/+9611234567/read", json!({ "up_to": "nope" })),
        ("/api/v1/chats/+9611234567/read", json!({ "what": 1 })),
        ("/api/v1/chats/+9611234567/read", json!({ "session": "Bad Name" })),
    ] {
        let response = app.post(path, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}");
    }
    assert_problem(
        app.post("/api/v1/chats/+9611234567/read", json!({ "session": "nobody" })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.snapshot().await, before, "nothing changed");
    assert!(app.engine.read_receipts().is_empty());
    for query in ["?limit=0", "?limit=201", "?cursor=zzz", "?session=Bad%20Name"] {
        let response = app.get(&format!("/api/v1/chats{query}")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    assert_problem(app.get("/api/v1/chats?session=nobody").await, StatusCode::NOT_FOUND, "not_found").await;
    app.engine.restore_connection("default").await;
    let read = eventually("connected again", || async {
        let response = app.post(&format!("/api/v1/chats/{ANN}/read"), json!({})).await;
        (response.status() == StatusCode::OK).then_some(response)
    })
    .await;
    assert_eq!(read.json::<Value>().await.unwrap()["marked"], 1);
}
