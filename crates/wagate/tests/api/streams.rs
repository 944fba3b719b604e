//! Live event streams: SSE resumed with `Last-Event-ID`, a WebSocket client that
//! resumes from its last id misses nothing, and one that stops reading is dropped while
//! another keeps receiving.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{KEY, TestApp, phone};
use crate::kinds::app;

/// Reads SSE frames from `response` until `count` events came; returns (id, type, data).
async fn sse_events(response: &mut reqwest::Response, count: usize) -> Vec<(u64, String, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk()).await.expect("in time").unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("the stream goes on")));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(kind), Some(data)) = (field("id"), field("event"), field("data")) {
                events.push((id.parse().unwrap(), kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

async fn texts(app: &TestApp, from: &str, range: std::ops::Range<usize>) {
    for n in range {
        app.engine.incoming_text("default", &phone(from), &format!("Message {n}")).await.unwrap();
    }
}

#[tokio::test]
async fn an_sse_client_resumes_with_its_last_event_id_and_misses_nothing() {
    let app = app().await;
    let url = app.url("/api/v1/events/stream?since=0&types=message.received");
    let mut first = app.client.get(&url).header("X-API-Key", KEY).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    texts(&app, "+9611234567", 0..3).await;
    let got = sse_events(&mut first, 3).await;
    drop(first);
    let last = got[2].0;
    texts(&app, "+9611234567", 3..6).await;
    let mut again = app
        .client
        .get(app.url("/api/v1/events/stream?types=message.received"))
        .header("X-API-Key", KEY)
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    let rest = sse_events(&mut again, 3).await;
    let all: Vec<(u64, String, Value)> = got.into_iter().chain(rest).collect();
    let ids: Vec<u64> = all.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gap, no repeat: {ids:?}");
    let bodies: Vec<&str> = all.iter().map(|e| e.2["data"]["message"]["text"].as_str().unwrap()).collect();
    assert_eq!(bodies, (0..6).map(|n| format!("Message {n}")).collect::<Vec<_>>());
    assert!(all.iter().all(|e| e.1 == "message.received" && e.2["id"] == e.0));

    let bad =
        app.client.get(app.url("/api/v1/events/stream?types=nope")).header("X-API-Key", KEY).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.client.get(app.url("/api/v1/events/stream")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(app: &TestApp, query: &str) -> Socket {
    let url = app.url(&format!("/api/v1/events/ws{query}")).replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("X-API-Key", KEY.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect("the WebSocket opens").0
}

/// The next `count` events a socket gets (pings answered by the library).
async fn ws_events(socket: &mut Socket, count: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("in time");
        match message.expect("open").expect("a message") {
            Message::Text(text) => events.push(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
    events
}

#[tokio::test]
async fn a_websocket_client_resumes_from_its_last_id_and_misses_nothing() {
    let app = app().await;
    let mut socket = connect(&app, "?since=0&types=message.received").await;
    texts(&app, "+9611234567", 0..4).await;
    let got = ws_events(&mut socket, 4).await;
    socket.close(None).await.unwrap();
    texts(&app, "+9611234567", 4..8).await;
    let last = got[3]["id"].as_u64().unwrap();
    let mut again = connect(&app, &format!("?since={last}&types=message.received")).await;
    let rest = ws_events(&mut again, 4).await;
    let ids: Vec<u64> = got.iter().chain(&rest).map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(rest[3]["data"]["message"]["text"], "Message 7");
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_dropped_while_another_keeps_receiving() {
    let app = app().await;
    let mut reader = connect(&app, "?types=contact.opt_in").await;
    let mut idle = connect(&app, "?types=contact.opt_in").await;
    // 40,000 events, far more than a socket's buffers hold; the reader reads as they come.
    const EVENTS: usize = 40_000;
    let reading = tokio::spawn(async move {
        let got = ws_events(&mut reader, EVENTS).await;
        (reader, got)
    });
    for chunk in 0..EVENTS / 5000 {
        let contacts: Vec<String> = (0..5000).map(|n| format!("+49151{:08}", 40_000_000 + chunk * 5000 + n)).collect();
        let body = json!({ "contacts": contacts, "status": "yes", "note": "imported from the shop's newsletter list" });
        let response = app.post("/api/v1/sessions/default/opt-ins", body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (mut reader, got) = reading.await.unwrap();
    let ids: Vec<u64> = got.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "the reader got every event in order");

    // The idle client is cut off: reading what the server managed to send ends early,
    // well short of every event.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut seen = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), idle.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => seen += 1,
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => break,
            Ok(Some(Ok(_))) => {}
            Err(_) => panic!("the idle client was not dropped (it read {seen} events)"),
        }
    }
    assert!(seen < EVENTS, "dropped before it got everything: {seen}");
    // The reader still gets new events.
    let more = json!({ "contacts": ["+4915149999999"], "status": "no" });
    assert_eq!(app.post("/api/v1/sessions/default/opt-ins", more).await.status(), StatusCode::OK);
    let last = ws_events(&mut reader, 1).await;
    assert_eq!(last[0]["data"]["status"], "no");
    reader.send(Message::Close(None)).await.unwrap();
}
