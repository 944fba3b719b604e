//! `session.qr`: a session's new QR code reaches the live streams that may see it (by
//! session and type), without an id, and never the event log or a webhook.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{KEY, TestApp, assert_problem, phone};
use crate::streams::{Socket, connect};

/// One SSE frame: its `id:` (if any), its event name and its data.
type Frame = (Option<u64>, String, Value);

/// Reads SSE frames until `done` holds for those read so far (heartbeats skipped).
async fn frames_until(response: &mut reqwest::Response, done: impl Fn(&[Frame]) -> bool) -> Vec<Frame> {
    let mut buffer = String::new();
    let mut frames = Vec::new();
    while !done(&frames) {
        let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk()).await.expect("in time").unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("the stream goes on")));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(kind), Some(data)) = (field("event"), field("data")) {
                frames.push((field("id").map(|id| id.parse().unwrap()), kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    frames
}

async fn sse(app: &TestApp, query: &str) -> reqwest::Response {
    let url = app.url(&format!("/api/v1/events/stream{query}"));
    let response = app.client.get(&url).header("X-API-Key", KEY).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response
}

/// Messages from the socket until `done` holds for one; returns them all.
async fn ws_until(socket: &mut Socket, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next()).await.expect("in time");
        if let Message::Text(text) = message.expect("open").expect("a message") {
            let event: Value = serde_json::from_str(&text).unwrap();
            let last = done(&event);
            got.push(event);
            if last {
                return got;
            }
        }
    }
}

fn is_qr(frame: &Frame) -> bool {
    frame.1 == "session.qr"
}

fn is_marker(frame: &Frame) -> bool {
    frame.1 == "message.received"
}

#[tokio::test]
async fn a_new_qr_code_goes_to_the_streams_that_may_see_it_and_nowhere_else() {
    let app = crate::kinds::app().await;
    app.create_session("support").await;
    let mut everything = sse(&app, "?since=0").await;
    let mut statuses = sse(&app, "?types=session.status").await;
    let mut support = connect(&app, "?session=support&types=session.*").await;
    let mut default = connect(&app, "?session=default").await;

    let restarted = app.post("/api/v1/sessions/support/restart", json!({})).await;
    assert_eq!(restarted.status(), StatusCode::OK);
    let qr: Value = app.get("/api/v1/sessions/support/qr").await.json().await.unwrap();
    // A logged event after the QR code, that every stream but `statuses` gets.
    app.engine.incoming_text("default", &phone("+9611234567"), "marker").await.unwrap();

    let frames = frames_until(&mut everything, |f| f.iter().any(is_qr) && f.iter().any(is_marker)).await;
    let (id, _, shown) = frames.iter().find(|f| is_qr(f)).unwrap();
    assert_eq!(*id, None, "no id: Last-Event-ID stays that of the last logged event");
    assert_eq!(shown["id"], Value::Null);
    assert_eq!(shown["type"], "session.qr");
    assert_eq!(shown["session"], "support");
    assert_eq!(shown["data"], json!({ "qr": qr["qr"], "expires_at": qr["expires_at"] }), "{shown}");
    assert!(shown["created_at"].is_string());
    let ids: Vec<u64> = frames.iter().filter_map(|f| f.0).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "the logged events go on without a gap: {ids:?}");

    let got = ws_until(&mut support, |e| e["type"] == "session.qr").await;
    let shown = got.last().unwrap();
    assert_eq!((&shown["id"], &shown["session"], &shown["data"]["qr"]), (&Value::Null, &json!("support"), &qr["qr"]));
    assert!(got.iter().all(|e| e["session"] == "support"), "{got:#?}");

    let got = ws_until(&mut default, |e| e["type"] == "message.received").await;
    assert!(got.iter().all(|e| e["session"] == "default" && e["type"] != "session.qr"), "{got:#?}");
    // The type filter: the support session's status arrives, its QR code does not.
    let frames = frames_until(&mut statuses, |f| f.iter().any(|e| e.2["session"] == "support")).await;
    let more = tokio::time::timeout(Duration::from_millis(500), frames_until(&mut statuses, |f| !f.is_empty())).await;
    assert!(frames.iter().chain(more.iter().flatten()).all(|f| f.1 == "session.status"), "{frames:?} {more:?}");

    // Never in the log.
    let page: Value = app.get("/api/v1/events?types=*&limit=1000").await.json().await.unwrap();
    assert!(page["data"].as_array().unwrap().iter().all(|e| e["type"] != "session.qr"), "{page:#}");
    let asked = app.get("/api/v1/events?types=session.qr").await;
    let problem = assert_problem(asked, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(problem.to_string().contains("live streams"), "{problem}");
}

#[tokio::test]
async fn a_webhook_cannot_ask_for_qr_codes_and_all_its_types_leave_them_out() {
    let app =
        crate::helpers::spawn_app_with(|config| config.webhooks.allow_networks = vec!["127.0.0.1/32".into()]).await;
    app.connected_session("default").await;
    let url = "http://127.0.0.1:9/hook";
    for events in [json!(["session.qr"]), json!(["message.*", "session.qr"])] {
        let response = app.post("/api/v1/webhooks", json!({ "url": url, "events": events })).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(problem.to_string().contains("live streams"), "{problem}");
    }
    let list: Value = app.get("/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]), "nothing stored");

    let created = app.post("/api/v1/webhooks", json!({ "url": url, "events": ["*"] })).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/webhooks/{id}");
    let change = app.request(reqwest::Method::PATCH, &path).json(&json!({ "events": ["session.qr"] }));
    assert_problem(change.send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let kept: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(kept["events"], json!(["*"]), "unchanged");
    let change = app.request(reqwest::Method::PATCH, &path).json(&json!({ "events": ["session.*"] }));
    assert_eq!(change.send().await.unwrap().status(), StatusCode::OK, "session.* is session.status for a webhook");
}
