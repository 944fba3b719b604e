//! `typing_ms`: "typing…" (or "recording audio…") shown right before a message goes out.

use reqwest::StatusCode;
use serde_json::json;
use wagate_engine::Typing;
use wagate_types::ChatId;

use crate::helpers::{assert_problem, phone};
use crate::kinds::{OGG, TO, app, send};

#[tokio::test]
async fn typing_is_shown_for_as_long_as_asked_before_the_message_goes_out() {
    let app = app().await;
    let chat = ChatId::from_phone(&phone(TO));

    let started = std::time::Instant::now();
    send(&app, json!({ "text": "One moment", "typing_ms": 400 })).await;
    assert!(started.elapsed().as_millis() >= 400, "sent only after typing for as long as asked");
    send(&app, json!({ "audio": { "data": OGG, "ptt": true }, "typing_ms": 50 })).await;
    send(&app, json!({ "text": "No typing" })).await;

    let shown = app.engine.typing_shown();
    let expected =
        [("default".to_owned(), chat.clone(), Typing::Composing), ("default".into(), chat, Typing::Recording)];
    assert_eq!(shown, expected, "a voice note shows recording; a send without typing_ms shows nothing");
}

#[tokio::test]
async fn typing_longer_than_twenty_seconds_is_refused() {
    let app = app().await;
    let before = app.snapshot().await;
    let response = app.post("/api/v1/messages", json!({ "to": TO, "text": "Hi", "typing_ms": 20_001 })).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(problem["errors"][0]["field"], "typing_ms", "{problem}");
    assert_eq!(app.snapshot().await, before);
}
