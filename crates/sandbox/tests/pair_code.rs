//! A real client pairs by pairing code: it shows a code, the user types it on the
//! account's phone (the admin API), and the client links and connects.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use wacore::store::InMemoryBackend;
use whatsapp_rust::types::events::Event;

use common::{start_client_with, start_sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pairs_by_code_typed_on_the_phone() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550003", "Carol").unwrap();
    let backend = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = start_client_with(&sandbox, backend, Some("15550003")).await;
    let code = events
        .wait_for("pairing code", |e| match e {
            Event::PairingCode(p) => Some(p.code.clone()),
            _ => None,
        })
        .await;

    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/accounts/+15550003/pair-code", sandbox.http_url());
    let wrong = if code.starts_with('A') { "BBBBBBBB" } else { "AAAAAAAA" };
    let refused = http.post(&url).json(&json!({ "code": wrong })).send().await.unwrap();
    assert_eq!(refused.status(), 422, "a code the companion does not show is refused");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "pair_code_mismatch");

    // The phone lets the user try again; the companion accepts a few attempts per code.
    let typed = code.to_lowercase();
    let accepted = http.post(&url).json(&json!({ "code": typed })).send().await.unwrap();
    assert_eq!(accepted.status(), 200);
    let device: Value = accepted.json().await.unwrap();

    let paired = events
        .wait_for("pair success", |e| match e {
            Event::PairSuccess(p) => Some(p.id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(device["jid"], paired.to_string());
    events.wait_for("connected", |e| matches!(e, Event::Connected(_)).then_some(())).await;
    assert_eq!(bot.client().pn().map(|j| j.user.to_string()), Some("15550003".to_owned()));
    bot.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_code_with_nobody_waiting_is_refused() {
    let sandbox = start_sandbox().await;
    sandbox.create_account("+15550003", "Carol").unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/accounts/+15550003/pair-code", sandbox.http_url());
    let nobody = http.post(&url).json(&json!({"code": "ABCD1234"})).send().await.unwrap();
    assert_eq!(nobody.status(), 404);
    let malformed = http.post(&url).json(&json!({"code": "nope"})).send().await.unwrap();
    assert_eq!(malformed.status(), 422);
    sandbox.shutdown().await;
}
