//! The number check before a first send, through the real engine: a number without a
//! WhatsApp account fails as `not_on_whatsapp`, a contact's message is delivered.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::spawn_live;

const SHOP: &str = "+4915110000111";
const ANN: &str = "+4915110000112";
const NOBODY: &str = "+4915110000119";

#[tokio::test]
async fn with_number_checks_a_number_without_whatsapp_fails_and_a_contact_gets_the_message() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;
    let on = live
        .app
        .request(Method::PATCH, "/api/v1/sessions/default")
        .json(&json!({ "settings": { "check_numbers": true } }));
    assert_eq!(on.send().await.unwrap().status(), StatusCode::OK);

    let nowhere = live.send_text("default", NOBODY, "Anyone?").await;
    let failed = live.wait_for_message(nowhere["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["error_code"], "not_on_whatsapp", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("has no WhatsApp account"), "{failed}");

    let hello = live.send_text("default", ANN, "Your order is ready").await;
    let delivered: Value = live.wait_for_message(hello["id"].as_str().unwrap(), "delivered").await;
    let got = live.sandbox.contact_messages(ANN).unwrap();
    assert!(got.iter().any(|m| m.id == delivered["wa_id"]), "{got:?}");
}
