//! Every kind of message a contact sends arrives through the real engine as the same
//! content; media downloads from the gateway byte for byte; reactions, votes, edits
//! and revokes land on the message they are about, and are told as events.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wagate_sandbox::{Content, Media, MediaKind, Outgoing};

use super::kinds_out::{MP4, OGG, PDF, png, sha256};
use super::{LINK_TIMEOUT, Live, spawn_live};
use crate::helpers::within;

const SHOP: &str = "+4915110000071";
const ANN: &str = "+4915110000072";

#[tokio::test]
async fn every_kind_a_contact_sends_arrives_with_the_same_content() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;

    let photo = png(64, 48);
    let media = [
        (Media::new(MediaKind::Image, photo.clone()).with_caption("My cat"), "image", Some("My cat")),
        (Media::new(MediaKind::Video, MP4.to_vec()).with_caption("Clip"), "video", Some("Clip")),
        (Media::new(MediaKind::Audio, OGG.to_vec()), "audio", None),
        (Media::new(MediaKind::Document, PDF.to_vec()), "document", None),
    ];
    for (file, kind, caption) in media {
        let bytes = file.data.clone();
        let id = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(Content::Media(file))).await.expect("Ann sends");
        let message = inbound(&live, &id).await;
        assert_eq!(message["kind"], kind, "{message}");
        assert_eq!(message[kind]["caption"].as_str(), caption, "{message}");
        assert_eq!(message[kind]["sha256"], sha256(&bytes), "{message}");
        let media_id = message[kind]["media_id"].as_str().expect("a media id").to_owned();
        let downloaded = within(LINK_TIMEOUT, "the media downloads", || async {
            let response = live.app.get(&format!("/api/v1/media/{media_id}")).await;
            (response.status() == StatusCode::OK).then_some(response)
        })
        .await;
        assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice(), "{kind} identical");
    }

    let place = Content::Location { latitude: 48.8584, longitude: 2.2945, name: Some("Tower".into()), address: None };
    let id = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(place)).await.unwrap();
    let message = inbound(&live, &id).await;
    assert_eq!(message["location"]["latitude"], 48.8584, "{message}");
    assert_eq!(message["location"]["name"], "Tower", "{message}");

    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nTEL;type=CELL;waid=4915110000099:+4915110000099\r\nEND:VCARD";
    let card = Content::Contact { display_name: "Bob".into(), vcard: vcard.into() };
    let id = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(card)).await.unwrap();
    let message = inbound(&live, &id).await;
    assert_eq!(message["contact"]["name"], "Bob", "{message}");
    assert_eq!(message["contact"]["vcard"], vcard, "{message}");

    let poll = Content::Poll { question: "Tea?".into(), options: vec!["Yes".into(), "No".into()], selectable: 1 };
    let id = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(poll)).await.unwrap();
    let message = inbound(&live, &id).await;
    assert_eq!(message["poll"]["question"], "Tea?", "{message}");
    assert_eq!(message["poll"]["options"], json!(["Yes", "No"]), "{message}");

    let text = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(Content::Text("Hi shop".into()))).await.unwrap();
    let quoting = Outgoing::new(Content::Text("@4915110000071 see above".into()))
        .replying_to(&text)
        .mentioning(&["4915110000071@s.whatsapp.net"]);
    let id = live.sandbox.contact_send(ANN, SHOP, quoting).await.unwrap();
    let message = inbound(&live, &id).await;
    assert_eq!(message["reply_to"]["wa_id"], text.as_str(), "{message}");
    assert_eq!(message["reply_to"]["text"], "Hi shop", "{message}");
    assert_eq!(message["mentions"], json!(["4915110000071@s.whatsapp.net"]), "{message}");
}

#[tokio::test]
async fn reactions_votes_edits_and_revokes_land_on_their_message() {
    let live = spawn_live().await;
    live.linked("default", SHOP, "Shop").await;
    live.contact(ANN, "Ann", None).await;

    // On what the shop sent: a reaction, and a vote on its poll.
    let text = live.send_text("default", ANN, "Your table is booked").await;
    let text = live.wait_for_message(text["id"].as_str().unwrap(), "delivered").await;
    let poll = json!({ "to": ANN, "poll": { "question": "Starter?", "options": ["Soup", "Salad"], "selectable": 1 } });
    let poll: Value = live.app.post("/api/v1/messages", poll).await.json().await.unwrap();
    let poll = live.wait_for_message(poll["id"].as_str().unwrap(), "delivered").await;
    live.sandbox.contact_react(ANN, SHOP, text["wa_id"].as_str().unwrap(), "🎉").await.expect("Ann reacts");
    live.sandbox.contact_vote(ANN, poll["wa_id"].as_str().unwrap(), &["Salad"]).await.expect("Ann votes");

    let reacted = updated(&live, text["id"].as_str().unwrap(), |m| Some(!m["reactions"].as_array()?.is_empty())).await;
    assert_eq!(reacted["reactions"][0]["emoji"], "🎉", "{reacted}");
    assert_eq!(reacted["reactions"][0]["from"], ANN, "{reacted}");
    let voted =
        updated(&live, poll["id"].as_str().unwrap(), |m| Some(!m["poll"]["votes"].as_object()?.is_empty())).await;
    assert_eq!(voted["poll"]["votes"][ANN], json!(["Salad"]), "{voted}");

    // Ann edits, then deletes, what she wrote.
    let said = live.sandbox.contact_send(ANN, SHOP, Outgoing::new(Content::Text("See you at 8".into()))).await;
    let said = said.unwrap();
    let stored = inbound(&live, &said).await;
    live.sandbox.contact_edit(ANN, &said, "See you at 9").await.expect("Ann edits");
    let edited = updated(&live, stored["id"].as_str().unwrap(), |m| m["edited_at"].is_string().then_some(true)).await;
    assert_eq!(edited["text"], "See you at 9", "{edited}");
    live.sandbox.contact_revoke(ANN, &said).await.expect("Ann deletes it");
    let revoked = updated(&live, stored["id"].as_str().unwrap(), |m| m["revoked_at"].is_string().then_some(true)).await;
    assert_eq!(revoked["text"], Value::Null, "a deleted message keeps no text: {revoked}");

    // Each of them is an event too, in the order it happened.
    let page: Value = live.app.get("/api/v1/events?types=message.*,poll.vote").await.json().await.unwrap();
    let events = page["data"].as_array().unwrap();
    let of = |kind: &str| events.iter().filter(|e| e["type"] == kind).map(|e| &e["data"]).collect::<Vec<_>>();
    let reaction = of("message.reaction");
    assert_eq!(reaction.len(), 1, "{page:#}");
    assert_eq!((reaction[0]["emoji"].as_str(), reaction[0]["from"]["phone"].as_str()), (Some("🎉"), Some(ANN)));
    assert_eq!(reaction[0]["message"]["id"], text["id"]);
    let vote = of("poll.vote");
    assert_eq!((vote.len(), &vote[0]["options"]), (1, &json!(["Salad"])), "{page:#}");
    assert_eq!(vote[0]["message"]["id"], poll["id"]);
    let received = of("message.received");
    assert!(received.iter().any(|e| e["message"]["wa_id"] == said.as_str()), "{page:#}");
    let edited = of("message.edited");
    assert_eq!((edited.len(), edited[0]["text"].as_str()), (1, Some("See you at 9")), "{page:#}");
    let revoked = of("message.revoked");
    assert_eq!((revoked.len(), &revoked[0]["message"]["id"]), (1, &stored["id"]), "{page:#}");
    let order: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let at = |kind| order.iter().position(|k| *k == kind).unwrap();
    assert!(at("message.received") < at("message.edited") && at("message.edited") < at("message.revoked"), "{order:?}");
}

/// The received message WhatsApp knows as `wa_id`, once stored.
async fn inbound(live: &Live, wa_id: &str) -> Value {
    within(LINK_TIMEOUT, &format!("message {wa_id} is received"), || async {
        let list: Value = live.app.get("/api/v1/messages?direction=inbound&limit=200").await.json().await.unwrap();
        list["data"].as_array()?.iter().find(|m| m["wa_id"] == wa_id).cloned()
    })
    .await
}

/// The stored message `id` once `done` says the update landed.
async fn updated(live: &Live, id: &str, done: impl Fn(&Value) -> Option<bool>) -> Value {
    within(LINK_TIMEOUT, &format!("message {id} is updated"), || async {
        let message = live.app.message(id).await;
        done(&message).unwrap_or(false).then_some(message)
    })
    .await
}
