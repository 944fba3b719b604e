//! Media the server fetches by URL: private, loopback and link-local addresses and
//! `file://` are refused unless allow-listed; a file over the limit is refused while
//! it streams, without filling memory or disk.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};
use crate::live::kinds_out::png;

const TO: &str = "+4915123456700";

/// A web server on 127.0.0.1 with a picture and a 200 MB file made while it is sent.
async fn files_server() -> SocketAddr {
    let picture = Bytes::from(png(32, 24));
    let huge = || async {
        let chunk = Bytes::from(vec![0u8; 1 << 20]);
        let stream = futures_stream(chunk, 200);
        ([("content-type", "video/mp4")], Body::from_stream(stream))
    };
    let app = Router::new()
        .route("/cat.png", get(move || async move { ([("content-type", "image/png")], picture.clone()) }))
        .route("/huge.mp4", get(huge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `count` copies of `chunk`, one at a time: never all in memory.
fn futures_stream(chunk: Bytes, count: usize) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::iter((0..count).map(move |_| Ok(chunk.clone())))
}

#[tokio::test]
async fn urls_to_private_loopback_and_link_local_addresses_are_refused() {
    let app = spawn_app().await;
    app.create_session("default").await;
    let before = app.snapshot().await;
    for url in [
        "http://127.0.0.1/cat.png",
        "http://10.0.0.1/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/cat.png",
        "http://localhost/cat.png",
        "file:///etc/passwd",
        "ftp://example.com/cat.png",
    ] {
        let response = app.post("/api/v1/messages", json!({ "to": TO, "image": { "url": url } })).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(problem["errors"][0]["field"], "image", "{url}: {problem}");
    }
    assert_eq!(app.snapshot().await, before, "nothing stored");
}

#[tokio::test]
async fn an_allow_listed_address_is_fetched_and_a_huge_file_is_refused_while_it_streams() {
    let server = files_server().await;
    let app = spawn_app_with(|config| config.media.allow_networks = vec!["127.0.0.1/32".into()]).await;
    app.create_session("default").await;

    let url = format!("http://{server}/cat.png");
    let response = app.post("/api/v1/messages", json!({ "to": TO, "image": { "url": url, "caption": "Cat" } })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["image"]["mimetype"], "image/jpeg", "{message}");
    assert_eq!((message["image"]["width"].as_u64(), message["image"]["height"].as_u64()), (Some(32), Some(24)));

    let media_dir = app.gateway.sessions.media().expect("media store").config().dir.clone();
    let files_before = std::fs::read_dir(&media_dir).map(|d| d.count()).unwrap_or(0);
    let before = app.snapshot().await;
    let huge = format!("http://{server}/huge.mp4");
    let response = app.post("/api/v1/messages", json!({ "to": TO, "video": { "url": huge } })).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "media_too_large").await;
    assert_eq!(app.snapshot().await, before, "nothing stored");
    let files_after = std::fs::read_dir(&media_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files_after, files_before, "no file left in {}", media_dir.display());
}
