//! The HTTP server under slow, abandoned and malformed requests: limits close what
//! would otherwise hold a connection for ever, and the refusals hyper gives before any
//! route runs are problem+json like the rest. Raw TCP, since clients do not misbehave.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Longer than any limit set here and much shorter than hyper's own defaults (30 s).
const BOUND: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connect")
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Status and problem document of a raw answer.
fn problem(answer: &str) -> (u16, Value) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("an answer");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");
    (status, serde_json::from_str(body).expect("a problem document"))
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_request_head_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|c| c.http.header_read_timeout_ms = 200).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: wagate\r\nX-Slow: ").await.unwrap();

    let answer = read_to_close(&mut stream).await;
    assert_eq!(answer, "", "closed without an answer");
    // The server still answers others.
    assert!(app.anonymous(reqwest::Method::GET, "/api/v1/health").send().await.unwrap().status().is_success());
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|c| c.http.header_read_timeout_ms = 200).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: wagate\r\n\r\n").await.unwrap();

    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "answered, then closed once idle: {answer}");
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_gets_a_problem_and_the_connection_closes() {
    let app = spawn_app_with(|c| c.http.idle_timeout_ms = 200).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/messages HTTP/1.1\r\nHost: wagate\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\":",
        crate::helpers::KEY
    );
    stream.write_all(head.as_bytes()).await.unwrap();

    let (status, problem) = problem(&read_to_close(&mut stream).await);
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "malformed_request", "{problem}");
}

#[tokio::test]
async fn beyond_the_connection_cap_a_connection_waits_until_another_closes() {
    let app = spawn_app_with(|c| c.http.max_connections = 2).await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    let mut third = connect(&app).await;
    third.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: wagate\r\nConnection: close\r\n\r\n").await.unwrap();

    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(waited.is_err(), "the third connection is not served while two are open");
    drop(first);
    let answer = read_to_close(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_control_character_in_a_header_value_is_refused_with_a_problem() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: wagate\r\nX-Note: a\x01b\r\n\r\n").await.unwrap();

    let (status, problem) = problem(&read_to_close(&mut stream).await);
    assert_eq!(status, 400);
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["code"], "malformed_request", "{problem}");
}

#[tokio::test]
async fn a_hundred_kilobyte_query_string_is_refused_with_a_problem() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let request = format!("GET /api/v1/messages?q={} HTTP/1.1\r\nHost: wagate\r\n\r\n", "a".repeat(100_000));
    stream.write_all(request.as_bytes()).await.unwrap();

    let (status, problem) = problem(&read_to_close(&mut stream).await);
    assert_eq!(status, 414);
    assert_eq!(problem["code"], "uri_too_long", "{problem}");
}
