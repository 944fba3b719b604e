//! A real whatsapp-rust client pairs with a sandbox account by QR code, and logs in
//! again later with the credentials it stored, as with WhatsApp.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use wacore::store::InMemoryBackend;
use whatsapp_rust::types::events::Event;

use common::{start_client, start_sandbox};

const PHONE: &str = "+15550001";
const DIGITS: &str = "15550001";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pairs_by_qr_then_logs_in_with_stored_credentials() {
    let sandbox = start_sandbox().await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/sandbox/accounts", sandbox.http_url()))
        .json(&json!({"phone": PHONE, "name": "Alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // First run: no credentials, so the client shows a QR code and the phone scans it.
    let backend = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = start_client(&sandbox, backend.clone()).await;
    let qr = events
        .wait_for("QR code", |e| matches!(e, Event::PairingQrCode(q) if !q.code.is_empty()).then(|| qr_of(e)))
        .await;
    let scanned = http
        .post(format!("{}/sandbox/accounts/{PHONE}/scan", sandbox.http_url()))
        .json(&json!({ "qr": qr }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);
    let device: Value = scanned.json().await.unwrap();
    let paired = events
        .wait_for("pair success", |e| match e {
            Event::PairSuccess(p) => Some(p.id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(paired.user, DIGITS);
    assert_eq!(device["jid"], paired.to_string());
    events.wait_for("connected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    let own = bot.client().pn().expect("paired client knows its number");
    assert_eq!(own.user, DIGITS);
    assert_eq!(own.device, paired.device);
    bot.shutdown().await;

    // Second run on the same store: a login with the stored credentials, no QR code.
    let (bot, mut events) = start_client(&sandbox, backend).await;
    events.wait_for("connected again", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    assert!(!events.saw(|e| matches!(e, Event::PairingQrCode(_))), "a paired client must not be shown a QR code");
    assert_eq!(bot.client().pn().map(|j| j.user.to_string()), Some(DIGITS.to_owned()));
    let account = sandbox.account(PHONE).unwrap();
    assert!(account.devices.iter().any(|d| d.jid == paired.to_string() && d.online));
    bot.shutdown().await;
    sandbox.shutdown().await;
}

fn qr_of(event: &Event) -> String {
    match event {
        Event::PairingQrCode(q) => q.code.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn scanning_garbage_is_refused_with_a_clear_error() {
    let sandbox = start_sandbox().await;
    sandbox.create_account(PHONE, "Alice").unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/accounts/{PHONE}/scan", sandbox.http_url());

    let garbage = http.post(&url).json(&json!({"qr": "not a qr code"})).send().await.unwrap();
    assert_eq!(garbage.status(), 422);
    assert_eq!(garbage.headers()["content-type"], "application/problem+json");
    let body: Value = garbage.json().await.unwrap();
    assert_eq!(body["code"], "invalid_qr");

    // Well-formed, but no companion holds this ref.
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let stale = http.post(&url).json(&json!({"qr": format!("2@gone,{key},{key},{key},9")})).send().await.unwrap();
    assert_eq!(stale.status(), 404);

    let unknown = format!("{}/sandbox/accounts/+15559999/scan", sandbox.http_url());
    let response = http.post(&unknown).json(&json!({"qr": "x"})).send().await.unwrap();
    assert_eq!(response.status(), 422, "the QR is checked before the account");

    let duplicate = http
        .post(format!("{}/sandbox/accounts", sandbox.http_url()))
        .json(&json!({"phone": PHONE, "name": "Again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    let bad_phone = http
        .post(format!("{}/sandbox/accounts", sandbox.http_url()))
        .json(&json!({"phone": "5550001", "name": "Bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_phone.status(), 422);
    sandbox.shutdown().await;
}
