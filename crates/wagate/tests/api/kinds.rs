//! Every kind of message through `POST /messages`: accepted, stored as shown, and
//! handed to the engine with the right content; and every way to get it wrong.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wagate_engine::{Content, OutgoingMessage};

use crate::helpers::{TestApp, assert_problem, eventually, spawn_app, spawn_app_with};

/// An 8×8 red PNG.
pub const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu7N9hAAAAAElFTkSuQmCC";
/// The start of an OGG/Opus file.
pub const OGG: &str = "T2dnUwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE9wdXNIZWFkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
/// The start of an MP4 file.
pub const MP4: &str = "AAAAGGZ0eXBpc29tAAAAAAAAAAAAAAAA";
/// `%PDF-1.4\n% wagate test\n`.
pub const PDF: &str = "JVBERi0xLjQKJSB3YWdhdGUgdGVzdAo=";
pub const TO: &str = "+4915123456789";

/// A server with a connected session `default`.
pub async fn app() -> TestApp {
    let app = spawn_app().await;
    app.connected_session("default").await;
    app
}

/// Sends `body` (plus `to`), expects 202, waits until it is sent; returns the stored
/// message and what the engine got.
pub async fn send(app: &TestApp, mut body: Value) -> (Value, OutgoingMessage) {
    body["to"] = json!(TO);
    let response = app.post("/api/v1/messages", body.clone()).await;
    let status = response.status();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body} → {accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let sent = app.wait_for_message(&id, "sent").await;
    let wa_id = sent["wa_id"].as_str().unwrap().to_owned();
    let wire = eventually("the engine got it", || async {
        app.engine.sent().into_iter().find(|s| s.wa_id == wa_id).and_then(|s| s.message)
    })
    .await;
    (sent, wire)
}

#[tokio::test]
async fn location_contact_and_poll_go_out_as_they_are_shown() {
    let app = app().await;
    let body = json!({ "location": { "latitude": 33.89, "longitude": 35.5, "name": "Office", "address": "Beirut" } });
    let (shown, wire) = send(&app, body).await;
    assert_eq!(shown["kind"], "location");
    assert_eq!(
        shown["location"],
        json!({ "latitude": 33.89, "longitude": 35.5, "name": "Office", "address": "Beirut" })
    );
    let location = Content::Location {
        latitude: 33.89,
        longitude: 35.5,
        name: Some("Office".into()),
        address: Some("Beirut".into()),
    };
    assert_eq!(wire.content, location);

    let (shown, wire) = send(&app, json!({ "contact": { "name": "Ann Lee", "phone": "+961 1 234 567" } })).await;
    let Content::Contact { name, vcard } = &wire.content else { panic!("{:?}", wire.content) };
    assert_eq!(name, "Ann Lee");
    assert!(
        vcard.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n") && vcard.contains("waid=9611234567:+9611234567"),
        "{vcard}"
    );
    assert_eq!(shown["contact"]["vcard"].as_str(), Some(vcard.as_str()));

    let card = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL:+15550000001\nEND:VCARD";
    let (_, wire) = send(&app, json!({ "contact": { "vcard": card } })).await;
    assert_eq!(wire.content, Content::Contact { name: "Bob".into(), vcard: card.into() });

    let (shown, wire) = send(&app, json!({ "poll": { "question": "Lunch?", "options": ["Pizza", "Sushi"] } })).await;
    assert_eq!(
        shown["poll"],
        json!({ "question": "Lunch?", "options": ["Pizza", "Sushi"], "selectable": 1, "votes": {} })
    );
    let poll =
        Content::Poll { question: "Lunch?".into(), options: vec!["Pizza".into(), "Sushi".into()], selectable: 1 };
    assert_eq!(wire.content, poll);
}

#[tokio::test]
async fn a_reply_quotes_and_mentions_and_a_reaction_names_its_target() {
    let app = app().await;
    let (first, first_wire) = send(&app, json!({ "text": "Order #42 shipped" })).await;
    let body = json!({ "text": "@4915123456789 see above", "reply_to": first["id"], "mentions": [TO] });
    let (reply, wire) = send(&app, body).await;
    assert_eq!(
        reply["reply_to"],
        json!({ "message_id": first["id"], "wa_id": first["wa_id"], "text": "Order #42 shipped" })
    );
    assert_eq!(reply["mentions"], json!(["4915123456789@s.whatsapp.net"]));
    let quote = wire.context.reply_to.expect("a quote");
    assert_eq!((quote.message.wa_id, quote.text.as_deref()), (first_wire.wa_id.clone(), Some("Order #42 shipped")));
    assert_eq!(quote.message.sender, None, "our own message");
    assert_eq!(wire.context.mentions.iter().map(|m| m.as_str()).collect::<Vec<_>>(), ["4915123456789@s.whatsapp.net"]);

    let (reaction, wire) = send(&app, json!({ "reaction": { "message_id": first["id"], "emoji": "👍" } })).await;
    assert_eq!(reaction["reaction"]["message_id"], first["id"]);
    let Content::Reaction { target, emoji } = wire.content else { panic!("{:?}", wire.content) };
    assert_eq!((target.wa_id, emoji.as_str()), (first_wire.wa_id, "👍"));
    let reacted = app.message(first["id"].as_str().unwrap()).await;
    assert_eq!(reacted["reactions"].as_array().map(|r| r.len()), Some(1), "{reacted}");
    assert_eq!(
        (reacted["reactions"][0]["from"].as_str(), reacted["reactions"][0]["emoji"].as_str()),
        (Some(TO), Some("👍"))
    );
    send(&app, json!({ "reaction": { "message_id": first["id"], "emoji": "" } })).await;
    assert_eq!(app.message(first["id"].as_str().unwrap()).await["reactions"], json!([]), "taken back");
}

#[tokio::test]
async fn media_is_stored_described_and_sent_with_its_bytes() {
    let app = app().await;
    let (shown, wire) = send(&app, json!({ "image": { "data": PNG, "caption": "red" } })).await;
    let image = &shown["image"];
    assert_eq!((image["mimetype"].as_str(), image["caption"].as_str()), (Some("image/jpeg"), Some("red")));
    assert_eq!((image["width"].as_u64(), image["height"].as_u64()), (Some(8), Some(8)));
    assert!(image.get("data").is_none() && image["sha256"].as_str().is_some_and(|h| h.len() == 64), "{image}");
    let Content::Image { media, caption } = &wire.content else { panic!("{:?}", wire.content) };
    assert_eq!((media.mimetype.as_str(), caption.as_deref()), ("image/jpeg", Some("red")));
    assert_eq!(
        (media.size, media.sha256.as_str()),
        (image["size"].as_u64().unwrap(), image["sha256"].as_str().unwrap())
    );
    // The bytes sent are the bytes served.
    let served = app.get(&format!("/api/v1/media/{}", image["media_id"].as_str().unwrap())).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.bytes().await.unwrap(), media.data);

    let (shown, wire) = send(&app, json!({ "audio": { "data": OGG, "ptt": true } })).await;
    assert_eq!(shown["audio"]["ptt"], true);
    assert!(matches!(&wire.content, Content::Audio { ptt: true, media } if media.mimetype.starts_with("audio/ogg")));

    let body = json!({ "document": { "data": PDF, "filename": "invoice.pdf", "caption": "Your invoice" } });
    let (shown, wire) = send(&app, body).await;
    assert_eq!(shown["document"]["filename"], "invoice.pdf");
    let Content::Document { media, filename, caption } = &wire.content else { panic!("{:?}", wire.content) };
    assert_eq!((filename.as_str(), caption.as_deref()), ("invoice.pdf", Some("Your invoice")));
    assert_eq!(&media.data[..], b"%PDF-1.4\n% wagate test\n");
    let served = app.get(&format!("/api/v1/media/{}", shown["document"]["media_id"].as_str().unwrap())).await;
    let disposition = served.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename="), "{disposition}");
}

#[tokio::test]
async fn videos_and_stickers_go_out_as_their_kind() {
    let app = app().await;
    let (shown, wire) = send(&app, json!({ "video": { "data": MP4, "caption": "clip" } })).await;
    assert_eq!(
        (shown["video"]["mimetype"].as_str(), shown["video"]["caption"].as_str()),
        (Some("video/mp4"), Some("clip"))
    );
    assert!(
        matches!(&wire.content, Content::Video { media, caption } if media.mimetype == "video/mp4" && caption.as_deref() == Some("clip"))
    );

    let (shown, wire) = send(&app, json!({ "sticker": { "data": PNG } })).await;
    let Content::Sticker { media } = &wire.content else { panic!("{:?}", wire.content) };
    assert_eq!(shown["sticker"]["mimetype"].as_str(), Some(media.mimetype.as_str()));
    assert_eq!(media.size, shown["sticker"]["size"].as_u64().unwrap());
}

/// A multipart body by hand: `fields`, then the file.
pub fn multipart(fields: &[(&str, &str)], file: &[u8], filename: &str) -> (String, Vec<u8>) {
    let boundary = "wagate-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .bytes(),
    );
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_uploaded_file_is_sent_and_its_key_covers_the_bytes() {
    let app = app().await;
    let post = |file: &'static [u8], key: &'static str| {
        let (content_type, body) =
            multipart(&[("to", TO), ("kind", "document"), ("caption", "Notes")], file, "notes.pdf");
        app.request(reqwest::Method::POST, "/api/v1/messages")
            .header("content-type", content_type)
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let response = post(b"%PDF-1.4\n% one\n", "upload-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let first: Value = response.json().await.unwrap();
    assert_eq!(
        (first["document"]["filename"].as_str(), first["document"]["caption"].as_str()),
        (Some("notes.pdf"), Some("Notes"))
    );
    let again = post(b"%PDF-1.4\n% one\n", "upload-1").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let other = post(b"%PDF-1.4\n% two\n", "upload-1").await.unwrap();
    assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;

    let sent = app.wait_for_message(first["id"].as_str().unwrap(), "sent").await;
    let wire = app.engine.sent().into_iter().find(|s| s.wa_id == sent["wa_id"]).and_then(|s| s.message).unwrap();
    let Content::Document { media, .. } = wire.content else { panic!("a document") };
    assert_eq!(&media.data[..], b"%PDF-1.4\n% one\n");
}

#[tokio::test]
async fn idempotency_keys_cover_the_content_of_every_kind() {
    let app = app().await;
    let poll = json!({ "to": TO, "poll": { "question": "Q?", "options": ["a", "b"] } });
    let keyed = |body: Value| {
        app.request(reqwest::Method::POST, "/api/v1/messages").header("idempotency-key", "k-1").json(&body).send()
    };
    let first: Value = keyed(poll.clone()).await.unwrap().json().await.unwrap();
    let again: Value = keyed(poll).await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let changed = keyed(json!({ "to": TO, "poll": { "question": "Q?", "options": ["a", "c"] } })).await.unwrap();
    assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
}

#[tokio::test]
async fn bad_content_is_refused_field_by_field_and_stores_nothing() {
    let app = app().await;
    let (other_chat, _) = send(&app, json!({ "text": "x" })).await;
    let elsewhere = json!({ "to": "+9611234567", "text": "y" });
    let elsewhere: Value = app.post("/api/v1/messages", elsewhere).await.json().await.unwrap();
    app.wait_for_message(elsewhere["id"].as_str().unwrap(), "sent").await;
    let before = app.snapshot().await;
    let unknown = "01890000-0000-7000-8000-000000000000";
    let cases = [
        (json!({}), "text"),
        (json!({ "text": "a", "poll": { "question": "q", "options": ["a", "b"] } }), "poll"),
        (json!({ "location": { "latitude": 91.0, "longitude": 0.0 } }), "location.latitude"),
        (json!({ "location": { "latitude": 0.0, "longitude": -180.5 } }), "location.longitude"),
        (json!({ "poll": { "question": "q", "options": ["only"] } }), "poll.options"),
        (json!({ "poll": { "question": "q", "options": ["a", "a"] } }), "poll.options"),
        (json!({ "poll": { "question": "q", "options": ["a", " "] } }), "poll.options"),
        (json!({ "poll": { "question": "q", "options": ["a", "b"], "selectable": 3 } }), "poll.selectable"),
        (
            json!({ "poll": { "question": "q", "options": (0..13).map(|i| i.to_string()).collect::<Vec<_>>() } }),
            "poll.options",
        ),
        (json!({ "contact": { "name": "Ann" } }), "contact"),
        (json!({ "contact": { "vcard": "hello" } }), "contact.vcard"),
        (json!({ "image": { "caption": "no file" } }), "image"),
        (json!({ "image": { "url": "https://example.com/a.jpg", "data": PNG } }), "image"),
        (json!({ "image": { "data": PDF } }), "image"),
        (json!({ "image": { "data": "not base64!" } }), "image"),
        (json!({ "audio": { "data": PDF } }), "audio"),
        (json!({ "video": { "url": "http://127.0.0.1:9/v.mp4" } }), "video"),
        (json!({ "text": "a", "reply_to": unknown }), "reply_to"),
        (json!({ "text": "a", "reply_to": "nonsense" }), "reply_to"),
        (json!({ "text": "a", "reply_to": elsewhere["id"] }), "reply_to"),
        (json!({ "reaction": { "message_id": unknown, "emoji": "👍" } }), "reaction.message_id"),
        (json!({ "reaction": { "message_id": elsewhere["id"], "emoji": "👍" } }), "reaction.message_id"),
        (json!({ "text": "a", "mentions": ["not a phone"] }), "mentions[0]"),
    ];
    for (mut body, field) in cases {
        body["to"] = json!(TO);
        let problem = assert_problem(
            app.post("/api/v1/messages", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&field), "{body}: expected an error on {field}, got {problem}");
    }
    assert_eq!(app.snapshot().await, before, "nothing stored");
    assert!(other_chat["id"].is_string());
}

#[tokio::test]
async fn a_file_over_the_limit_is_413_and_stores_nothing() {
    let app = spawn_app_with(|config| config.media.max_bytes = 64).await;
    app.create_session("default").await;
    let before = app.snapshot().await;
    let body = json!({ "to": TO, "image": { "data": PNG } });
    assert_problem(app.post("/api/v1/messages", body).await, StatusCode::PAYLOAD_TOO_LARGE, "media_too_large").await;
    let (content_type, form) = multipart(&[("to", TO), ("kind", "document")], &[b'x'; 100], "big.bin");
    let upload = app.request(reqwest::Method::POST, "/api/v1/messages").header("content-type", content_type).body(form);
    assert_problem(upload.send().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "media_too_large").await;
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_bad_upload_form_is_refused_and_stores_nothing() {
    let app = app().await;
    let before = app.snapshot().await;
    let post = |content_type: String, body: Vec<u8>| {
        app.request(reqwest::Method::POST, "/api/v1/messages").header("content-type", content_type).body(body).send()
    };
    // Form fields beside the file, and the field the problem names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&[("to", TO)], "kind"),
        (&[("to", TO), ("kind", "spreadsheet")], "kind"),
        (&[("to", TO), ("kind", "image")], "image"),
        (&[("to", TO), ("kind", "document"), ("colour", "red")], "colour"),
        (&[("to", TO), ("kind", "audio"), ("ptt", "maybe")], "ptt"),
    ];
    for (fields, field) in cases {
        let (content_type, body) = multipart(fields, b"%PDF-1.4\n", "f.pdf");
        let problem =
            assert_problem(post(content_type, body).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
                .await;
        assert_eq!(problem["errors"][0]["field"], field, "{fields:?} → {problem}");
    }
    let no_file = "--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+4915123456789\r\n--b--\r\n";
    let problem = assert_problem(
        post("multipart/form-data; boundary=b".into(), no_file.into()).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "file");
    assert_eq!(app.snapshot().await, before);
}

/// A PNG of `width`×`height`, base64.
fn big_png(width: u32, height: u32) -> String {
    use base64::Engine as _;
    let picture = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

#[tokio::test]
async fn each_session_prepares_pictures_its_own_way() {
    let app = app().await;
    let (gateway_default, _) = send(&app, json!({ "image": { "data": big_png(1600, 900) } })).await;
    assert_eq!(
        (gateway_default["image"]["width"].as_u64(), gateway_default["image"]["height"].as_u64()),
        (Some(1280), Some(720))
    );

    let patch =
        |settings: Value| app.request(Method::PATCH, "/api/v1/sessions/default").json(&json!({ "settings": settings }));
    let small = json!({ "images": { "max_side": 640, "jpeg_quality": 60, "reencode": true } });
    let changed: Value = patch(small).send().await.unwrap().json().await.unwrap();
    assert_eq!(changed["settings"]["images"]["max_side"], 640);
    assert!(changed["settings"]["throttle"].is_object(), "the throttle is kept: {changed}");
    let (shown, _) = send(&app, json!({ "image": { "data": big_png(1600, 900) } })).await;
    assert_eq!(
        (shown["image"]["width"].as_u64(), shown["image"]["mimetype"].as_str()),
        (Some(640), Some("image/jpeg"))
    );

    let as_given = json!({ "images": { "max_side": 1280, "jpeg_quality": 78, "reencode": false } });
    assert_eq!(patch(as_given).send().await.unwrap().status(), StatusCode::OK);
    let (shown, wire) = send(&app, json!({ "image": { "data": big_png(1600, 900) } })).await;
    assert_eq!(
        (shown["image"]["width"].as_u64(), shown["image"]["mimetype"].as_str()),
        (Some(1600), Some("image/png"))
    );
    assert!(wire.content.media().is_some_and(|m| m.data.starts_with(b"\x89PNG")), "sent as given");

    // Bad settings change nothing; `null` goes back to the gateway's settings.
    let before = app.snapshot().await;
    for bad in [
        json!({ "images": { "max_side": 10, "jpeg_quality": 78, "reencode": true } }),
        json!({ "images": { "max_side": 800, "jpeg_quality": 0, "reencode": true } }),
        json!({ "images": { "max_side": 800 } }),
    ] {
        assert_eq!(patch(bad.clone()).send().await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.snapshot().await, before);
    let reset: Value = patch(json!({ "images": null })).send().await.unwrap().json().await.unwrap();
    assert_eq!(reset["settings"]["images"], Value::Null);
    let (shown, _) = send(&app, json!({ "image": { "data": big_png(1600, 900) } })).await;
    assert_eq!(shown["image"]["width"].as_u64(), Some(1280));
}
