//! Bad input gets the right problem and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn bad_message_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let before = app.snapshot().await;
    let cases = [
        (json!({ "to": "+4915123456789" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({ "to": 4915123456789_u64, "text": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            json!({ "to": "+4915123456789", "text": "x", "colour": "red" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (json!({ "to": "+4915123456789", "text": "  " }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            json!({ "to": "+4915123456789", "text": "x".repeat(70_000) }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (json!({ "to": "not a phone", "text": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({ "to": "+999 1", "text": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (json!({ "to": "123@example.com", "text": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            json!({ "to": "+4915123456789", "text": "x", "priority": "urgent" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({ "to": "+4915123456789", "text": "x", "send_at": "tomorrow" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({ "session": "Bad Name", "to": "+4915123456789", "text": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (json!({ "session": "nobody", "to": "+4915123456789", "text": "x" }), StatusCode::NOT_FOUND, "not_found"),
        (json!(["not", "an", "object"]), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let response = app.post("/api/v1/messages", body.clone()).await;
        let problem = assert_problem_any(response, status).await;
        assert!(problem["code"] == code || problem["code"] == "invalid_field", "{body} → {problem}");
    }
    let field = app.post("/api/v1/messages", json!({ "to": "nope", "text": "x" })).await;
    let problem = assert_problem(field, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(problem["errors"][0]["field"], "to");

    let malformed = app
        .request(Method::POST, "/api/v1/messages")
        .header("content-type", "application/json")
        .body("{\"to\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, StatusCode::BAD_REQUEST, "malformed_request").await;
    let not_json = app.request(Method::POST, "/api/v1/messages").body("to=1&text=x").send().await.unwrap();
    assert_problem(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let huge = format!("{{\"to\":\"+4915123456789\",\"text\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let oversized = app
        .request(Method::POST, "/api/v1/messages")
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    // Sends take large bodies (files in base64), so a long text is refused by its length.
    let problem = assert_problem(oversized, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(problem["errors"][0]["field"], "text");
    let oversized_session = app
        .request(Method::POST, "/api/v1/sessions")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_problem(oversized_session, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let bad_key = app
        .request(Method::POST, "/api/v1/messages")
        .header("Idempotency-Key", "has spaces")
        .json(&json!({ "to": "+4915123456789", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(bad_key, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;

    assert_eq!(app.snapshot().await, before, "refused requests changed the database");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app().await;
    assert_problem(app.get("/nothing").await, StatusCode::NOT_FOUND, "no_route").await;
    let wrong_method = app.request(Method::PUT, "/api/v1/messages").send().await.unwrap();
    assert_problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

async fn assert_problem_any(response: reqwest::Response, status: StatusCode) -> serde_json::Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}
