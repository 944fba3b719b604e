//! Webhooks on the FakeEngine: deliveries of the event log to a local receiver, each
//! signature checked by a second HMAC implementation (ring's); a receiver down for a
//! day on the manual clock gets everything in order once it is back; the address guard;
//! bad requests that change nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use wagate_core::clock::ManualClock;

use crate::clock::{app_on_with, run_until};
use crate::helpers::{TestApp, assert_problem, eventually, phone, spawn_app_with};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Delivery {
    headers: HeaderMap,
    body: String,
}

/// A local webhook receiver that answers 503 while `down`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    if me.down.load(Ordering::SeqCst) {
                        return AxumStatus::SERVICE_UNAVAILABLE;
                    }
                    me.got.lock().unwrap().push(Delivery { headers, body });
                    AxumStatus::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn got(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Checks both signatures of a delivery with ring's HMAC, as a receiver would.
fn verify(secret: &str, delivery: &Delivery) -> Value {
    let header =
        |name: &str| delivery.headers.get(name).unwrap_or_else(|| panic!("{name}")).to_str().unwrap().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let key_bytes = BASE64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let signed = format!("{id}.{timestamp}.{}", delivery.body);
    let expected = format!("v1,{}", BASE64.encode(ring::hmac::sign(&key, signed.as_bytes()).as_ref()));
    assert!(header("webhook-signature").split(' ').any(|s| s == expected), "webhook-signature of {id}");
    let legacy = format!("sha256={}", hex::encode(ring::hmac::sign(&key, delivery.body.as_bytes()).as_ref()));
    assert_eq!(header("x-webhook-signature"), legacy, "x-webhook-signature of {id}");
    let event: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(id, format!("evt_{}", event["id"]), "the webhook-id names the event");
    assert_eq!(header("x-shop"), "demo", "custom headers go along");
    event
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.post("/api/v1/webhooks", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn local(config: &mut wagate::Config) {
    config.webhooks.allow_networks = vec!["127.0.0.1/32".into()];
}

#[tokio::test]
async fn events_arrive_in_order_signed_with_the_secret_shown_once() {
    let app = spawn_app_with(local).await;
    app.connected_session("default").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hook = create(&app, json!({ "url": url, "events": ["message.*"], "headers": { "X-Shop": "demo" } })).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = hook["id"].as_str().unwrap();
    let shown: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");

    for n in 0..5 {
        app.engine.incoming_text("default", &phone("+9611234567"), &format!("Hello {n}")).await.unwrap();
    }
    let got = eventually("five deliveries", || async { (receiver.got().len() >= 5).then(|| receiver.got()) }).await;
    let events: Vec<Value> = got.iter().map(|d| verify(&secret, d)).collect();
    let texts: Vec<&str> = events.iter().map(|e| e["data"]["message"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Hello 0", "Hello 1", "Hello 2", "Hello 3", "Hello 4"]);
    assert!(events.iter().all(|e| e["type"] == "message.received" && e["session"] == "default"));

    // Deliveries are recorded together, within a quarter of a second.
    let log = eventually("the delivery log", || async {
        let log: Value = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.json().await.unwrap();
        (log["data"].as_array().unwrap().len() == 5).then_some(log)
    })
    .await;
    assert!(log["data"].as_array().unwrap().iter().all(|a| a["status_code"] == 204 && a["attempt"] == 1), "{log}");

    // Replayed from the second event: the same ids again, in order.
    let from = events[1]["id"].as_u64().unwrap();
    let replay = app.post(&format!("/api/v1/webhooks/{id}/replay"), json!({ "from_event_id": from })).await;
    assert_eq!(replay.status(), StatusCode::OK);
    let again = eventually("replayed", || async { (receiver.got().len() >= 9).then(|| receiver.got()) }).await;
    let ids: Vec<u64> = again[5..].iter().map(|d| verify(&secret, d)["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, events[1..].iter().map(|e| e["id"].as_u64().unwrap()).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_receiver_down_for_a_day_gets_every_event_in_order_once_it_is_back() {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::starting_at(start);
    let app = app_on_with(&clock, local).await;
    let receiver = Receiver::default();
    receiver.down.store(true, Ordering::SeqCst);
    let url = receiver.start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let hook = create(
        &app,
        json!({ "url": url, "secret": secret, "events": ["message.received"], "headers": { "X-Shop": "demo" } }),
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_owned();
    for n in 0..20 {
        let from = if n % 2 == 0 { "+9611234567" } else { "+9611234568" };
        app.engine.incoming_text("default", &phone(from), &format!("Message {n}")).await.unwrap();
    }
    // Nothing else sleeps on the clock: the session's dispatcher waits for a connection.
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    run_until(&clock, start + Duration::from_secs(24 * 3600)).await;
    let down: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
    assert!(down["failed_attempts"].as_u64().unwrap() >= 8, "retried all day: {down}");
    assert!(down["failing_since"].is_string() && down["enabled"] == true, "{down}");
    assert!(receiver.got().is_empty());

    receiver.down.store(false, Ordering::SeqCst);
    run_until(&clock, start + Duration::from_secs(40 * 3600)).await;
    let got = eventually("every event", || async { (receiver.got().len() >= 20).then(|| receiver.got()) }).await;
    assert_eq!(got.len(), 20, "each once");
    let events: Vec<Value> = got.iter().map(|d| verify(secret, d)).collect();
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "in order, none missing: {ids:?}");
    let texts: Vec<String> = events.iter().map(|e| e["data"]["message"]["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, (0..20).map(|n| format!("Message {n}")).collect::<Vec<_>>());
    let up: Value = app.get(&format!("/api/v1/webhooks/{id}")).await.json().await.unwrap();
    assert_eq!((up["failed_attempts"].as_u64(), up["failing_since"].as_str()), (Some(0), None), "{up}");
    let log: Value = app.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=1000")).await.json().await.unwrap();
    let failures = log["data"].as_array().unwrap().iter().filter(|a| a["status_code"] == 503).count();
    assert!(failures >= 8, "the failed attempts are in the log: {failures}");
}

#[tokio::test]
async fn private_addresses_are_not_called_unless_allowed() {
    let app = spawn_app_with(|_| {}).await;
    app.connected_session("default").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hook = create(&app, json!({ "url": url })).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    app.engine.incoming_text("default", &phone("+9611234567"), "Hi").await.unwrap();
    let log = eventually("a refused attempt", || async {
        let log: Value = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.json().await.unwrap();
        (!log["data"].as_array().unwrap().is_empty()).then_some(log)
    })
    .await;
    assert!(log["data"][0]["error"].as_str().unwrap().contains("loopback"), "{log}");
    assert!(receiver.got().is_empty(), "never called");
}

#[tokio::test]
async fn bad_webhook_requests_are_refused_and_change_nothing() {
    let app = spawn_app_with(local).await;
    app.connected_session("default").await;
    let before = app.snapshot().await;
    for body in [
        json!({ "url": "ftp://example.com/hook" }),
        json!({ "url": "not a url" }),
        json!({ "url": "https://example.com/hook", "events": ["message.exploded"] }),
        json!({ "url": "https://example.com/hook", "events": [] }),
        json!({ "url": "https://example.com/hook", "secret": "short" }),
        json!({ "url": "https://example.com/hook", "headers": { "webhook-id": "mine" } }),
        json!({ "url": "https://example.com/hook", "headers": { "bad header": "x" } }),
        json!({ "url": "https://example.com/hook", "colour": "blue" }),
    ] {
        let response = app.post("/api/v1/webhooks", body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let unknown = app.post("/api/v1/webhooks", json!({ "url": "https://example.com/h", "session": "nosuch" })).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.snapshot().await, before, "nothing stored");

    let hook = create(&app, json!({ "url": "https://example.com/hook" })).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let bad = app.request(Method::PATCH, &path).json(&json!({ "events": ["nope"] })).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let off = app.request(Method::PATCH, &path).json(&json!({ "enabled": false })).send().await.unwrap();
    let off: Value = off.json().await.unwrap();
    assert_eq!((off["enabled"].as_bool(), off["events"].clone()), (Some(false), json!(["*"])));
    assert_eq!(app.request(Method::DELETE, &path).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
}
