//! Campaigns through the API on the FakeEngine: lists in JSON and CSV, variables,
//! duplicates sent once, spread over sessions, progress that adds up, pause, resume,
//! cancel, and bad requests that store nothing.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, eventually, spawn_app};

async fn two_sessions() -> TestApp {
    let app = spawn_app().await;
    for name in ["sales-1", "sales-2"] {
        app.connected_session(name).await;
        let fast = json!({ "settings": { "throttle": { "min_delay_ms": 0, "max_delay_ms": 0 } } });
        let path = format!("/api/v1/sessions/{name}");
        assert_eq!(
            app.request(reqwest::Method::PATCH, &path).json(&fast).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    app
}

async fn campaign(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/campaigns/{id}")).await.json().await.unwrap()
}

fn adds_up(progress: &Value) {
    let parts = ["pending", "queued", "sent", "delivered", "read", "failed", "opted_out", "cancelled"];
    let sum: u64 = parts.iter().map(|p| progress[p].as_u64().unwrap()).sum();
    assert_eq!(sum, progress["total"].as_u64().unwrap(), "{progress}");
}

#[tokio::test]
async fn a_campaign_reaches_each_recipient_once_with_their_variables_over_two_sessions() {
    let app = two_sessions().await;
    let csv = "phone,name,code\n+9611000001,Ann,A1\n+9611000002,Bob,B2\n+9611000001,Ann again,A9\n";
    let body = json!({
        "name": "November sale",
        "sessions": ["sales-1", "sales-2"],
        "message": { "text": "Hi {{name}}, your code is {{code}}" },
        "recipients": (3..=40).map(|n| json!({ "to": format!("+96110000{n:02}"), "variables": { "name": format!("N{n}"), "code": n } })).collect::<Vec<_>>(),
        "recipients_csv": csv,
    });
    let response = app.post("/api/v1/campaigns", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["progress"]["total"], 40);
    assert_eq!(created["progress"]["duplicates"], 1);
    assert_eq!(created["sessions"], json!(["sales-1", "sales-2"]));
    let id = created["id"].as_str().unwrap().to_owned();

    let done = eventually("the campaign completes", || async {
        let c = campaign(&app, &id).await;
        (c["status"] == "completed").then_some(c)
    })
    .await;
    adds_up(&done["progress"]);
    assert_eq!((done["progress"]["sent"].as_u64(), done["progress"]["percent"].as_f64()), (Some(40), Some(100.0)));
    assert!(done["completed_at"].is_string());

    let sent = app.engine.sent();
    assert_eq!(sent.len(), 40, "each recipient once");
    let mut per_session: HashMap<&str, usize> = HashMap::new();
    for send in &sent {
        *per_session.entry(send.session.as_str()).or_default() += 1;
    }
    assert_eq!(per_session.len(), 2, "spread over both sessions: {per_session:?}");
    assert!(sent.iter().any(|s| s.text == "Hi Ann, your code is A1"), "the first listing's variables");
    assert!(sent.iter().any(|s| s.text == "Hi N7, your code is 7"));

    let page: Value = app.get(&format!("/api/v1/campaigns/{id}/recipients?limit=2")).await.json().await.unwrap();
    assert_eq!(page["data"][0]["to"], "+9611000003");
    assert_eq!(page["data"][0]["status"], "sent");
    let next = page["next_cursor"].as_str().unwrap();
    let page2: Value =
        app.get(&format!("/api/v1/campaigns/{id}/recipients?limit=2&cursor={next}")).await.json().await.unwrap();
    assert_eq!(page2["data"][0]["to"], "+9611000005");
    let message = app.message(page["data"][0]["message_id"].as_str().unwrap()).await;
    assert_eq!(message["origin"], "campaign");
    assert_eq!(message["priority"], "low");
}

#[tokio::test]
async fn pause_holds_what_is_left_resume_goes_on_and_cancel_ends_it() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    // One send a second: plenty of time to pause.
    let slow = json!({ "settings": { "throttle": { "min_delay_ms": 1000, "max_delay_ms": 1000 } } });
    app.request(reqwest::Method::PATCH, "/api/v1/sessions/default").json(&slow).send().await.unwrap();
    let recipients: Vec<Value> = (0..30).map(|n| json!({ "to": format!("+9617012{n:04}") })).collect();
    let created: Value = app
        .post("/api/v1/campaigns", json!({ "name": "Slow", "message": { "text": "Hello" }, "recipients": recipients }))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    eventually("the first goes out", || async { (!app.engine.sent().is_empty()).then_some(()) }).await;

    let paused: Value = app.post(&format!("/api/v1/campaigns/{id}/pause"), json!({})).await.json().await.unwrap();
    assert_eq!(paused["status"], "paused");
    adds_up(&paused["progress"]);
    assert!(paused["progress"]["queued"].as_u64().unwrap() <= 1, "at most the one being sent: {paused}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let during = app.engine.sent().len();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(app.engine.sent().len(), during, "nothing goes out while paused");

    let resumed: Value = app.post(&format!("/api/v1/campaigns/{id}/resume"), json!({})).await.json().await.unwrap();
    assert_eq!(resumed["status"], "running");
    assert!(resumed["progress"]["eta_seconds"].as_u64().is_some(), "{resumed}");
    eventually("one more goes out", || async { (app.engine.sent().len() > during).then_some(()) }).await;

    let cancelled: Value = app.post(&format!("/api/v1/campaigns/{id}/cancel"), json!({})).await.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    adds_up(&cancelled["progress"]);
    assert_eq!(cancelled["progress"]["pending"], 0);
    let again = app.post(&format!("/api/v1/campaigns/{id}/resume"), json!({})).await;
    assert_problem(again, StatusCode::CONFLICT, "conflict").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let total_sent = app.engine.sent().len();
    assert!(total_sent < 30, "cancelled before the end: {total_sent}");
    let list: Value = app.get("/api/v1/campaigns").await.json().await.unwrap();
    assert_eq!(list["data"][0]["status"], "cancelled");
}

#[tokio::test]
async fn bad_campaigns_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    app.connected_session("default").await;
    let before = app.snapshot().await;
    let ok_recipients = json!([{ "to": "+9611000001", "variables": { "name": "Ann" } }]);
    for (body, field) in [
        (
            json!({ "name": "x", "message": { "text": "Hi {{name}}" }, "recipients": [{ "to": "+9611000001" }] }),
            "recipients[0].variables",
        ),
        (
            json!({ "name": "x", "message": { "text": "Hi" }, "recipients": [{ "to": "not a phone" }] }),
            "recipients[0].to",
        ),
        (json!({ "name": "x", "message": { "text": "Hi" }, "recipients": [] }), "recipients"),
        (json!({ "name": "", "message": { "text": "Hi {{name}}" }, "recipients": ok_recipients }), "name"),
        (json!({ "name": "x", "message": { "text": "" }, "recipients": ok_recipients }), "message.text"),
        (json!({ "name": "x", "message": { "text": "Hi" }, "recipients_csv": "name\nAnn\n" }), "recipients_csv"),
        (
            json!({ "name": "x", "message": { "text": "Hi" }, "recipients": ok_recipients, "start_at": "tomorrow" }),
            "start_at",
        ),
    ] {
        let response = app.post("/api/v1/campaigns", body.clone()).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(problem["detail"].as_str().unwrap().contains(field), "{field}: {problem}");
    }
    let unknown =
        json!({ "name": "x", "sessions": ["nosuch"], "message": { "text": "Hi" }, "recipients": ok_recipients });
    assert_problem(app.post("/api/v1/campaigns", unknown).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/campaigns/nosuch").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.snapshot().await, before, "nothing stored");
}
