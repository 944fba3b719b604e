//! `POST /api/v1/status` with the FakeEngine: what the engine is handed, replays, and
//! bad input refused with nothing stored.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wagate_types::ChatId;

use crate::helpers::{assert_problem, eventually, phone};
use crate::kinds::app;

#[tokio::test]
async fn a_status_is_sent_to_its_audience_with_its_look_and_replays_under_its_key() {
    let app = app().await;
    let body = json!({ "text": "Sale today", "background": "#AA123456", "font": 9, "audience": ["+9611234567", "+9611234567"] });
    let first = app.request(reqwest::Method::POST, "/api/v1/status").header("Idempotency-Key", "story-1").json(&body);
    let first = first.send().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["to"].as_str(), first["kind"].as_str()), (Some("status@broadcast"), Some("text")));
    let sent = app.wait_for_message(first["id"].as_str().unwrap(), "sent").await;
    let wire = eventually("the engine got it", || async {
        app.engine.sent().into_iter().find(|s| s.wa_id == sent["wa_id"]).and_then(|s| s.message)
    })
    .await;
    assert_eq!(wire.to.as_str(), "status@broadcast");
    let post = wire.status.expect("sent as a status");
    assert_eq!(post.audience, [ChatId::from_phone(&phone("+9611234567"))], "each person once");
    assert_eq!((post.background_argb, post.font), (0xAA12_3456, 9));

    let again = app.request(reqwest::Method::POST, "/api/v1/status").header("Idempotency-Key", "story-1").json(&body);
    let again = again.send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
}

#[tokio::test]
async fn bad_status_posts_are_refused_and_store_nothing() {
    let app = app().await;
    let before = app.snapshot().await;
    let long = "x".repeat(701);
    let cases = [
        (json!({ "text": "Hi", "background": "green", "audience": ["+9611234567"] }), "background"),
        (json!({ "text": "Hi", "background": "#12345", "audience": ["+9611234567"] }), "background"),
        (json!({ "text": "Hi", "font": 3, "audience": ["+9611234567"] }), "font"),
        (json!({ "text": long, "audience": ["+9611234567"] }), "text"),
        (json!({ "image": { "data": "aGk=" }, "font": 1, "audience": ["+9611234567"] }), "font"),
        (json!({ "text": "Hi", "audience": [] }), "audience"),
        (json!({ "text": "Hi", "audience": ["not a number"] }), "audience[0]"),
        (json!({ "text": "Hi", "audience": ["120363000000000001@g.us"] }), "audience[0]"),
        (json!({ "text": "Hi", "image": { "data": "aGk=" }, "audience": ["+9611234567"] }), "image"),
        (json!({ "audience": ["+9611234567"] }), "text"),
        // Nobody wrote to the session, so there is no one to show it to by default.
        (json!({ "text": "Hi" }), "audience"),
    ];
    for (body, field) in cases {
        let response = app.post("/api/v1/status", body.clone()).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&field), "{body}: {problem}");
    }
    let unknown = app.post("/api/v1/status", json!({ "text": "Hi", "to": "+9611234567" })).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let nobody =
        app.post("/api/v1/status", json!({ "session": "nobody", "text": "Hi", "audience": ["+9611234567"] })).await;
    assert_problem(nobody, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.snapshot().await, before, "nothing stored");
    assert!(app.engine.sent().is_empty());
}
