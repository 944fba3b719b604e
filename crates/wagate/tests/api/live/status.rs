//! Status (stories) posted through the real engine: the audience's phones decode the
//! same text, look and media; people outside the audience get nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wagate_sandbox::ReceivedMessage;

use super::kinds_out::{MP4, b64, png, sha256};
use super::{LINK_TIMEOUT, Live, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000101";
const ANN: &str = "+4915110000102";
const BOB: &str = "+4915110000103";

#[tokio::test]
async fn text_image_and_video_statuses_reach_their_audience_only() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;
    live.contact(BOB, "Bob", None).await;

    let text =
        post(&live, json!({ "text": "Open until 9 pm", "background": "#123456", "font": 2, "audience": [ANN] })).await;
    assert_eq!(
        text["status_post"],
        json!({ "background": "#FF123456", "font": 2, "audience": ["4915110000102@s.whatsapp.net"] })
    );
    let got = seen_by(&live, ANN, &text).await;
    assert_eq!((got.chat.as_str(), got.kind.as_str()), ("status@broadcast", "text"));
    assert_eq!(got.text.as_deref(), Some("Open until 9 pm"));
    assert_eq!((got.background_argb, got.font), (Some(0xFF12_3456), Some(2)));

    let photo = png(800, 600);
    let image =
        post(&live, json!({ "image": { "data": b64(&photo), "caption": "New menu" }, "audience": [ANN] })).await;
    let got = seen_by(&live, ANN, &image).await;
    assert_eq!((got.kind.as_str(), got.caption.as_deref()), ("image", Some("New menu")));
    assert_eq!(got.media_sha256.as_deref(), image["image"]["sha256"].as_str(), "the stored picture, decrypted");

    let video = post(&live, json!({ "video": { "data": b64(MP4), "caption": "A clip" }, "audience": [ANN] })).await;
    let got = seen_by(&live, ANN, &video).await;
    assert_eq!((got.kind.as_str(), got.caption.as_deref()), ("video", Some("A clip")));
    assert_eq!(got.media_sha256.as_deref(), Some(sha256(MP4).as_str()));

    let bob_got = live.sandbox.contact_messages(BOB).unwrap();
    assert!(bob_got.is_empty(), "Bob is not in the audience: {bob_got:?}");
}

#[tokio::test]
async fn without_an_audience_a_status_goes_to_everyone_who_wrote() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;
    live.contact(BOB, "Bob", None).await;
    let refused = live.app.post("/api/v1/status", json!({ "text": "Nobody to see this" })).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "no one wrote yet");

    live.sandbox.contact_send_text(ANN, SHOP, "Hi").await.expect("Ann writes");
    within(LINK_TIMEOUT, "Ann is a contact", || async {
        let page: Value = live.app.get("/api/v1/contacts").await.json().await.unwrap();
        (page["data"].as_array()?.len() == 1).then_some(())
    })
    .await;
    let status = post(&live, json!({ "text": "Thanks for writing" })).await;
    assert_eq!(status["status_post"]["audience"], json!(["4915110000102@s.whatsapp.net"]));
    assert_eq!(seen_by(&live, ANN, &status).await.text.as_deref(), Some("Thanks for writing"));
    assert!(live.sandbox.contact_messages(BOB).unwrap().is_empty());
}

/// Posts a status; expects 202 and waits until a phone of the audience has it.
async fn post(live: &Live, body: Value) -> Value {
    let response = live.app.post("/api/v1/status", body.clone()).await;
    let status = response.status();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body} → {accepted}");
    assert_eq!(accepted["chat"], "status@broadcast");
    live.wait_for_message(accepted["id"].as_str().unwrap(), "delivered").await
}

/// What `phone`'s client decoded of the status, media downloaded.
async fn seen_by(live: &Live, phone: &str, status: &Value) -> ReceivedMessage {
    let wa_id = status["wa_id"].as_str().unwrap().to_owned();
    within(LINK_TIMEOUT, &format!("{phone} sees status {wa_id}"), || async {
        let inbox = live.sandbox.contact_messages(phone).unwrap();
        inbox
            .into_iter()
            .find(|m| m.id == wa_id && (m.media_sha256.is_some() || m.media_error.is_some() || m.mimetype.is_none()))
    })
    .await
}
