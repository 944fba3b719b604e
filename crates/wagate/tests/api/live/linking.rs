//! Linking a number: QR code or pairing code, and staying linked across restarts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::spawn_live;

#[tokio::test]
async fn a_scanned_qr_code_links_the_session_with_its_number_and_name() {
    let live = spawn_live().await;
    live.sandbox.create_account("+4915110000001", "Corner Shop").unwrap();
    live.app.create_session("shop").await;

    let code = live.qr("shop").await;
    let qr: Value = live.app.get("/api/v1/sessions/shop/qr").await.json().await.unwrap();
    assert!(qr["expires_at"].is_string(), "{qr}");
    let png = live.app.get("/api/v1/sessions/shop/qr.png").await;
    assert_eq!(png.status(), StatusCode::OK);
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG image");

    live.sandbox.scan_qr("+4915110000001", &code).await.expect("the phone scans it");
    let session = live.wait_for_session("shop", "connected").await;
    assert_eq!(session["phone"], "+4915110000001", "{session}");
    assert_eq!(session["push_name"], "Corner Shop", "{session}");
    let qr = live.app.get("/api/v1/sessions/shop/qr").await;
    assert_eq!(qr.status(), StatusCode::CONFLICT, "no QR code once linked");
}

#[tokio::test]
async fn a_pairing_code_links_the_session_without_a_scan() {
    let live = spawn_live().await;
    live.sandbox.create_account("+4915110000011", "Bakery").unwrap();
    live.app.create_session("bakery").await;
    live.wait_for_session("bakery", "qr_ready").await;

    let response = live.app.post("/api/v1/sessions/bakery/pair-code", json!({ "phone": "+49 151 10000011" })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let code: Value = response.json().await.unwrap();
    let code = code["code"].as_str().expect("a pairing code").to_owned();
    assert_eq!(code.len(), 8, "{code}");

    live.sandbox.enter_pair_code("+4915110000011", &code).await.expect("the phone takes the code");
    let session = live.wait_for_session("bakery", "connected").await;
    assert_eq!(session["phone"], "+4915110000011", "{session}");
}

#[tokio::test]
async fn a_pairing_code_for_a_number_whatsapp_does_not_know_is_refused_as_the_clients_problem() {
    let live = spawn_live().await;
    live.app.create_session("bakery").await;
    live.wait_for_session("bakery", "qr_ready").await;

    let response = live.app.post("/api/v1/sessions/bakery/pair-code", json!({ "phone": "+49 151 10000012" })).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "whatsapp_refused", "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("no pairing code for this number"), "{problem}");

    // The refusal leaves nothing behind: once the number exists, a code comes.
    live.sandbox.create_account("+4915110000012", "Bakery").unwrap();
    let response = live.app.post("/api/v1/sessions/bakery/pair-code", json!({ "phone": "+49 151 10000012" })).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_linked_session_reconnects_after_a_restart_without_a_qr_code() {
    let mut live = spawn_live().await;
    let (_, device) = live.linked("shop", "+4915110000021", "Shop").await;

    live.app.restart().await;
    let session = live.wait_for_session("shop", "connected").await;
    assert_eq!(session["phone"], "+4915110000021");
    let account = live.sandbox.account("+4915110000021").unwrap();
    assert_eq!(account.devices.len(), 2, "the same linked device, no new one: {account:?}");
    assert!(live.online("+4915110000021", &device));
}

#[tokio::test]
async fn logging_out_unlinks_the_device_and_deletes_its_credentials_and_a_restart_shows_a_new_qr_code() {
    let live = spawn_live().await;
    live.linked("shop", "+4915110000025", "Shop").await;
    assert!(live.engine_state_rows().await > 0, "the linked device's keys are stored");

    let response = live.app.post("/api/v1/sessions/shop/logout", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = live.wait_for_session("shop", "logged_out").await;
    assert_eq!(session["status"], "logged_out");
    assert_eq!(live.engine_state_rows().await, 0, "no credentials left");
    let account = live.sandbox.account("+4915110000025").unwrap();
    assert_eq!(account.devices.len(), 1, "the phone no longer lists the device: {account:?}");

    let response = live.app.post("/api/v1/sessions/shop/restart", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let code = live.qr("shop").await;
    live.sandbox.scan_qr("+4915110000025", &code).await.expect("linked again");
    live.wait_for_session("shop", "connected").await;
}

#[tokio::test]
async fn deleting_a_session_deletes_its_credentials() {
    let live = spawn_live().await;
    live.linked("shop", "+4915110000026", "Shop").await;

    let response = live.app.request(reqwest::Method::DELETE, "/api/v1/sessions/shop").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(live.engine_state_rows().await, 0);
}
