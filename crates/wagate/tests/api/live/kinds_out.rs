//! Every kind of message out through the real engine: the sandbox contact's own client
//! decodes the same content (media byte for byte).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wagate_sandbox::ReceivedMessage;

use super::{LINK_TIMEOUT, Live, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000061";
const BOB: &str = "+4915110000062";
const BOB_JID: &str = "4915110000062@s.whatsapp.net";

/// A short MP4 header: enough for type sniffing, and WhatsApp never plays it here.
pub const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\x08free\0\0\0\x08mdat";
pub const OGG: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x19\x8c\x8d\x2a\x01\x13OpusHead\x01\x01";
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A real PNG of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encode PNG");
    out.into_inner()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[tokio::test]
async fn every_kind_goes_out_and_the_contact_decodes_the_same_content() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(BOB, "Bob", None).await;

    let photo = png(1600, 900);
    let image = send(&live, json!({ "image": { "data": b64(&photo), "caption": "The shop" } })).await;
    let got = received(&live, &image).await;
    assert_eq!((got.kind.as_str(), got.caption.as_deref()), ("image", Some("The shop")));
    assert_eq!(got.mimetype.as_deref(), Some("image/jpeg"), "re-encoded to JPEG");
    assert_eq!(got.media_sha256.as_deref(), image["image"]["sha256"].as_str(), "the stored bytes, decrypted");
    assert_eq!((got.width, got.height), (Some(1280), Some(720)), "longest side 1280");

    let video = send(&live, json!({ "video": { "data": b64(MP4), "caption": "A clip" } })).await;
    let got = received(&live, &video).await;
    assert_eq!((got.kind.as_str(), got.caption.as_deref()), ("video", Some("A clip")));
    assert_eq!(got.media_sha256.as_deref(), Some(sha256(MP4).as_str()));

    let voice = send(&live, json!({ "audio": { "data": b64(OGG), "ptt": true } })).await;
    let got = received(&live, &voice).await;
    assert_eq!((got.kind.as_str(), got.ptt), ("audio", Some(true)));
    assert_eq!(got.media_sha256.as_deref(), Some(sha256(OGG).as_str()));

    let document = json!({ "document": { "data": b64(PDF), "filename": "invoice-42.pdf", "caption": "Invoice" } });
    let document = send(&live, document).await;
    let got = received(&live, &document).await;
    assert_eq!(got.kind, "document");
    assert_eq!(got.filename.as_deref(), Some("invoice-42.pdf"));
    assert_eq!(got.mimetype.as_deref(), Some("application/pdf"));
    assert_eq!(got.media_sha256.as_deref(), Some(sha256(PDF).as_str()));

    let sticker = send(&live, json!({ "sticker": { "data": b64(&png(300, 200)) } })).await;
    let got = received(&live, &sticker).await;
    assert_eq!(got.kind, "sticker");
    assert_eq!((got.webp, got.webp_width, got.webp_height), (Some(true), Some(512), Some(512)), "{got:?}");

    let place =
        json!({ "location": { "latitude": 33.8938, "longitude": 35.5018, "name": "Shop", "address": "Beirut" } });
    let got = received(&live, &send(&live, place).await).await;
    assert_eq!(got.kind, "location");
    assert_eq!((got.latitude, got.longitude), (Some(33.8938), Some(35.5018)));
    assert_eq!((got.location_name.as_deref(), got.address.as_deref()), (Some("Shop"), Some("Beirut")));

    let card = send(&live, json!({ "contact": { "name": "Ann Lee", "phone": "+49 151 23456789" } })).await;
    let got = received(&live, &card).await;
    assert_eq!((got.kind.as_str(), got.contact_name.as_deref()), ("contact", Some("Ann Lee")));
    let vcard = got.vcard.expect("a vCard");
    assert!(vcard.starts_with("BEGIN:VCARD") && vcard.trim_end().ends_with("END:VCARD"), "{vcard}");
    assert!(vcard.contains("FN:Ann Lee") && vcard.contains("waid=4915123456789"), "{vcard}");

    let poll = json!({ "poll": { "question": "Lunch?", "options": ["Pizza", "Sushi", "Salad"], "selectable": 2 } });
    let got = received(&live, &send(&live, poll).await).await;
    assert_eq!((got.kind.as_str(), got.question.as_deref()), ("poll", Some("Lunch?")));
    assert_eq!(got.options, Some(vec!["Pizza".to_owned(), "Sushi".into(), "Salad".into()]));
    assert_eq!(got.selectable, Some(2));
}

#[tokio::test]
async fn replies_mentions_reactions_edits_and_revokes_reach_the_contact() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(BOB, "Bob", None).await;

    let first = send(&live, json!({ "text": "Your order is ready" })).await;
    let first_wa = first["wa_id"].as_str().unwrap();
    let reply = json!({ "text": "@4915110000062 pick it up today", "reply_to": first["id"], "mentions": [BOB] });
    let got = received(&live, &send(&live, reply).await).await;
    let quoted = got.reply_to.as_ref().expect("a quote");
    assert_eq!(quoted.id, first_wa);
    assert_eq!(quoted.text.as_deref(), Some("Your order is ready"));
    assert_eq!(got.mentions, [BOB_JID]);

    let reaction = send(&live, json!({ "reaction": { "message_id": first["id"], "emoji": "👍" } })).await;
    let got = received(&live, &reaction).await;
    assert_eq!(
        (got.kind.as_str(), got.emoji.as_deref(), got.target_id.as_deref()),
        ("reaction", Some("👍"), Some(first_wa))
    );

    let path = format!("/api/v1/messages/{}", first["id"].as_str().unwrap());
    let edit = live.app.request(Method::PATCH, &path).json(&json!({ "text": "Your order is ready at the front" }));
    let edit = edit.send().await.unwrap();
    assert_eq!(edit.status(), StatusCode::ACCEPTED);
    let edits = within(LINK_TIMEOUT, "Bob gets the edit", || async {
        let inbox = live.sandbox.contact_messages(BOB).unwrap();
        inbox.into_iter().find(|m| m.kind == "edit")
    })
    .await;
    assert_eq!(edits.target_id.as_deref(), Some(first_wa));
    assert_eq!(edits.text.as_deref(), Some("Your order is ready at the front"));
    let stored = live.app.message(first["id"].as_str().unwrap()).await;
    assert_eq!(stored["text"], "Your order is ready at the front");
    assert!(stored["edited_at"].is_string(), "{stored}");

    let revoke = live.app.post(&format!("{path}/revoke"), json!({})).await;
    assert_eq!(revoke.status(), StatusCode::ACCEPTED);
    let revoked = within(LINK_TIMEOUT, "Bob gets the revoke", || async {
        let inbox = live.sandbox.contact_messages(BOB).unwrap();
        inbox.into_iter().find(|m| m.kind == "revoke")
    })
    .await;
    assert_eq!(revoked.target_id.as_deref(), Some(first_wa));
    assert!(live.app.message(first["id"].as_str().unwrap()).await["revoked_at"].is_string());
}

/// Sends `content` to Bob and waits until the server acknowledged it.
async fn send(live: &Live, content: Value) -> Value {
    let mut body = json!({ "to": BOB });
    body.as_object_mut().unwrap().extend(content.as_object().unwrap().clone());
    let response = live.app.post("/api/v1/messages", body.clone()).await;
    let status = response.status();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    live.wait_for_message(accepted["id"].as_str().unwrap(), "delivered").await
}

/// What Bob's client decoded of `message`, media downloaded.
async fn received(live: &Live, message: &Value) -> ReceivedMessage {
    let wa_id = message["wa_id"].as_str().unwrap().to_owned();
    within(LINK_TIMEOUT, &format!("Bob decodes {wa_id}"), || async {
        let inbox = live.sandbox.contact_messages(BOB).unwrap();
        inbox
            .into_iter()
            .find(|m| m.id == wa_id && (m.media_sha256.is_some() || m.media_error.is_some() || m.mimetype.is_none()))
    })
    .await
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
