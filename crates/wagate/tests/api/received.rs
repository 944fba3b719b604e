//! Every kind of message received through the FakeEngine's inbox; reactions, votes,
//! edits and revokes applied to the message they are about; edits and revokes of sent
//! messages through the API; received media served.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use wagate_engine::{Content, Context, IncomingMessage, MessageRef, Quote};
use wagate_store::NewMessage;
use wagate_types::{ChatId, MessageId, Priority, SessionName, TenantId, WaMessageId};

use crate::helpers::{TestApp, assert_problem, eventually, phone};
use crate::kinds::{TO, app, send};

const SUSHI: &str = "670bd9ced0c6bc3fab9bcce97185cdb5a6c6008f0bb7a33c5e432b7faa0e27ed";

fn contact() -> ChatId {
    ChatId::from_phone(&phone("+9611234567"))
}

fn from_contact(content: Content) -> IncomingMessage {
    IncomingMessage {
        wa_id: WaMessageId::generate(),
        chat: contact(),
        sender: contact(),
        push_name: Some("Ann".into()),
        at: OffsetDateTime::now_utc(),
        content,
        context: Context::default(),
    }
}

/// The received message stored for `wa_id`.
async fn received(app: &TestApp, wa_id: &WaMessageId) -> Value {
    let page: Value = app.get("/api/v1/messages?direction=inbound&limit=200").await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().find(|m| m["wa_id"] == wa_id.as_str()).cloned().expect("stored")
}

fn to_us(wa_id: &str) -> MessageRef {
    MessageRef { chat: contact(), wa_id: WaMessageId::from_stored(wa_id.into()), sender: None }
}

#[tokio::test]
async fn every_kind_is_stored_and_reactions_votes_edits_revokes_apply_to_their_target() {
    let app = app().await;
    let to_contact = |body: Value| {
        let mut body = body;
        body["to"] = json!("+9611234567");
        body
    };
    let poll = json!({ "poll": { "question": "Lunch?", "options": ["Pizza", "Sushi"] } });
    let poll: Value = app.post("/api/v1/messages", to_contact(poll)).await.json().await.unwrap();
    let poll = app.wait_for_message(poll["id"].as_str().unwrap(), "sent").await;
    let text = from_contact(Content::Text { body: "Hi there".into() });
    let mut quoted = from_contact(Content::Text { body: "About lunch".into() });
    quoted.context = Context {
        reply_to: Some(Quote { message: to_us(poll["wa_id"].as_str().unwrap()), text: Some("Lunch?".into()) }),
        mentions: vec![ChatId::from_phone(&phone(TO))],
    };
    let photo = app.engine.media("image/jpeg", b"jpeg bytes".to_vec().into());
    let image = from_contact(Content::Image { media: photo, caption: Some("look".into()) });
    let location = from_contact(Content::Location { latitude: 1.5, longitude: 2.5, name: None, address: None });
    let card = from_contact(Content::Contact { name: "Bob".into(), vcard: "BEGIN:VCARD\nEND:VCARD".into() });
    let their_poll =
        from_contact(Content::Poll { question: "Q".into(), options: vec!["a".into(), "b".into()], selectable: 2 });
    let clip = app.engine.media("video/mp4", b"mp4".to_vec().into());
    let clip = from_contact(Content::Video { media: clip, caption: None });
    let voice = app.engine.media("audio/ogg; codecs=opus", b"ogg".to_vec().into());
    let voice = from_contact(Content::Audio { media: voice, ptt: true });
    let sticker = from_contact(Content::Sticker { media: app.engine.media("image/webp", b"webp".to_vec().into()) });
    let batch = [text.clone(), quoted.clone(), image.clone(), location.clone(), card.clone(), their_poll.clone()];
    let batch: Vec<_> = batch.into_iter().chain([clip.clone(), voice.clone(), sticker.clone()]).collect();
    app.engine.incoming("default", &batch).await.unwrap();

    assert_eq!(received(&app, &text.wa_id).await["text"], "Hi there");
    let shown = received(&app, &quoted.wa_id).await;
    assert_eq!(shown["reply_to"], json!({ "wa_id": poll["wa_id"], "text": "Lunch?" }));
    assert_eq!(shown["mentions"], json!(["4915123456789@s.whatsapp.net"]));
    let shown = received(&app, &image.wa_id).await;
    assert_eq!((shown["kind"].as_str(), shown["image"]["caption"].as_str()), (Some("image"), Some("look")));
    assert_eq!(shown["image"]["media_id"], shown["id"], "received media is named by its message");
    assert!(shown["image"].get("source").is_none() && !shown.to_string().contains("fake-"), "no engine keys: {shown}");
    assert_eq!(received(&app, &location.wa_id).await["location"]["latitude"], 1.5);
    assert_eq!(received(&app, &card.wa_id).await["contact"]["name"], "Bob");
    assert_eq!(received(&app, &their_poll.wa_id).await["poll"]["selectable"], 2);
    assert_eq!(received(&app, &clip.wa_id).await["video"]["mimetype"], "video/mp4");
    assert_eq!(received(&app, &voice.wa_id).await["audio"]["ptt"], true);
    assert_eq!(received(&app, &sticker.wa_id).await["sticker"]["size"], 4);

    // Reactions: one per sender, the latest wins, an empty one takes it back.
    let text_wa = text.wa_id.as_str().to_owned();
    let theirs = MessageRef { chat: contact(), wa_id: text.wa_id.clone(), sender: Some(contact()) };
    for emoji in ["👍", "❤️"] {
        let react = from_contact(Content::Reaction { target: theirs.clone(), emoji: emoji.into() });
        app.engine.incoming("default", &[react]).await.unwrap();
    }
    let shown = received(&app, &text.wa_id).await;
    assert_eq!(shown["reactions"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(
        (shown["reactions"][0]["from"].as_str(), shown["reactions"][0]["emoji"].as_str()),
        (Some("+9611234567"), Some("❤️"))
    );
    let reaction =
        from_contact(Content::Reaction { target: to_us(poll["wa_id"].as_str().unwrap()), emoji: "🍕".into() });
    let vote = from_contact(Content::PollVote {
        poll: to_us(poll["wa_id"].as_str().unwrap()),
        option_hashes: vec![SUSHI.into()],
    });
    app.engine.incoming("default", &[reaction.clone(), vote.clone()]).await.unwrap();
    let shown = app.message(poll["id"].as_str().unwrap()).await;
    assert_eq!(shown["poll"]["votes"], json!({ "+9611234567": ["Sushi"] }));
    assert_eq!(shown["reactions"][0]["emoji"], "🍕");
    assert_eq!(received(&app, &reaction.wa_id).await["kind"], "reaction", "stored as a message of its own too");
    assert_eq!(received(&app, &vote.wa_id).await["poll_vote"]["option_hashes"], json!([SUSHI]));

    // Edits and revokes count from the author only.
    let edit = from_contact(Content::Edit { target: theirs.clone(), body: "Hi again".into() });
    app.engine.incoming("default", &[edit]).await.unwrap();
    let shown = received(&app, &text.wa_id).await;
    assert_eq!(shown["text"], "Hi again");
    assert!(shown["edited_at"].is_string());
    let forged = from_contact(Content::Revoke { target: to_us(poll["wa_id"].as_str().unwrap()) });
    app.engine.incoming("default", &[forged]).await.unwrap();
    assert!(app.message(poll["id"].as_str().unwrap()).await.get("revoked_at").is_none(), "not theirs to revoke");
    app.engine.incoming("default", &[from_contact(Content::Revoke { target: theirs })]).await.unwrap();
    let shown = received(&app, &text.wa_id).await;
    assert!(shown["revoked_at"].is_string() && shown["text"].is_null(), "{shown}");
    assert_eq!(shown["wa_id"], text_wa);
}

#[tokio::test]
async fn received_media_is_downloaded_and_served() {
    let app = app().await;
    let file = app.engine.media("application/pdf", b"%PDF-1.4 received".to_vec().into());
    let doc = from_contact(Content::Document { media: file, filename: "menu.pdf".into(), caption: None });
    app.engine.incoming("default", std::slice::from_ref(&doc)).await.unwrap();
    let media_id = received(&app, &doc.wa_id).await["document"]["media_id"].as_str().unwrap().to_owned();
    let response = eventually("the file is there", || async {
        let response = app.get(&format!("/api/v1/media/{media_id}")).await;
        (response.status() == StatusCode::OK).then_some(response)
    })
    .await;
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["content-length"], "17");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("menu.pdf"));
    assert_eq!(&response.bytes().await.unwrap()[..], b"%PDF-1.4 received");

    for unknown in ["01890000-0000-7000-8000-000000000000", "nonsense", "..%2Fetc"] {
        assert_problem(app.get(&format!("/api/v1/media/{unknown}")).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let anonymous = app.anonymous(Method::GET, &format!("/api/v1/media/{media_id}")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn media_not_downloaded_yet_needs_a_connected_session() {
    let app = app().await;
    // Media the fake cannot deliver, so the background download leaves it missing.
    let mut file = app.engine.media("image/jpeg", b"jpeg".to_vec().into());
    file.source = Some(json!({ "fake": "not-downloadable" }));
    let photo = from_contact(Content::Image { media: file, caption: None });
    app.engine.incoming("default", std::slice::from_ref(&photo)).await.unwrap();
    let id = received(&app, &photo.wa_id).await["id"].as_str().unwrap().to_owned();
    app.engine.drop_connection("default").await;
    app.wait_for_session("default", "reconnecting").await;
    let problem =
        assert_problem(app.get(&format!("/api/v1/media/{id}")).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            .await;
    assert!(problem["detail"].as_str().unwrap().contains("connected"), "{problem}");
    // A text message has no media to serve.
    app.engine.restore_connection("default").await;
    app.wait_for_session("default", "connected").await;
    let text = app.engine.incoming_text("default", &phone("+9611234567"), "hi").await.unwrap();
    let text_id = received(&app, &text.wa_id).await["id"].as_str().unwrap().to_owned();
    assert_problem(app.get(&format!("/api/v1/media/{text_id}")).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn sent_messages_can_be_edited_and_revoked_once_sent() {
    let app = app().await;
    let (original, _) = send(&app, json!({ "text": "Ships Monday" })).await;
    let id = original["id"].as_str().unwrap();
    let patch = app.request(Method::PATCH, &format!("/api/v1/messages/{id}")).json(&json!({ "text": "Ships Tuesday" }));
    let response = patch.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let edit: Value = response.json().await.unwrap();
    assert_eq!((edit["kind"].as_str(), edit["edit"]["message_id"].as_str()), (Some("edit"), Some(id)));
    let shown = app.message(id).await;
    assert_eq!(shown["text"], "Ships Tuesday");
    assert!(shown["edited_at"].is_string());
    app.wait_for_message(edit["id"].as_str().unwrap(), "sent").await;
    let wire = app.engine.sent().into_iter().find(|s| s.wa_id == edit["wa_id"]).and_then(|s| s.message).unwrap();
    let Content::Edit { target, body } = wire.content else { panic!("an edit") };
    assert_eq!((target.wa_id.as_str(), body.as_str()), (original["wa_id"].as_str().unwrap(), "Ships Tuesday"));

    let revoke: Value = app.post(&format!("/api/v1/messages/{id}/revoke"), json!({})).await.json().await.unwrap();
    assert_eq!(revoke["kind"], "revoke");
    let shown = app.message(id).await;
    assert!(shown["revoked_at"].is_string() && shown["text"].is_null(), "{shown}");
    app.wait_for_message(revoke["id"].as_str().unwrap(), "sent").await;
    let wire = app.engine.sent().into_iter().find(|s| s.wa_id == revoke["wa_id"]).and_then(|s| s.message).unwrap();
    assert!(matches!(wire.content, Content::Revoke { target } if target.wa_id.as_str() == original["wa_id"]));

    // A caption is edited like a text; a poll has nothing to edit.
    let (photo, _) = send(&app, json!({ "image": { "data": crate::kinds::PNG, "caption": "old" } })).await;
    let photo_id = photo["id"].as_str().unwrap();
    let caption = app.request(Method::PATCH, &format!("/api/v1/messages/{photo_id}")).json(&json!({ "text": "new" }));
    assert_eq!(caption.send().await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(app.message(photo_id).await["image"]["caption"], "new");
    let (poll, _) = send(&app, json!({ "poll": { "question": "Q?", "options": ["a", "b"] } })).await;
    let poll_id = poll["id"].as_str().unwrap();
    let no_text = app.request(Method::PATCH, &format!("/api/v1/messages/{poll_id}")).json(&json!({ "text": "x" }));
    assert_problem(no_text.send().await.unwrap(), StatusCode::CONFLICT, "not_editable").await;

    // Revoked, received, or not sent yet: 409.
    let again = app.post(&format!("/api/v1/messages/{id}/revoke"), json!({})).await;
    assert_problem(again, StatusCode::CONFLICT, "not_editable").await;
    let inbound = app.engine.incoming_text("default", &phone("+9611234567"), "hello").await.unwrap();
    let inbound_id = received(&app, &inbound.wa_id).await["id"].as_str().unwrap().to_owned();
    let edit_inbound =
        app.request(Method::PATCH, &format!("/api/v1/messages/{inbound_id}")).json(&json!({ "text": "x" }));
    assert_problem(edit_inbound.send().await.unwrap(), StatusCode::CONFLICT, "not_editable").await;
    app.engine.drop_connection("default").await;
    let queued = app.send_text("default", TO, "later").await;
    let queued_id = queued["id"].as_str().unwrap();
    let revoke_queued = app.post(&format!("/api/v1/messages/{queued_id}/revoke"), json!({})).await;
    assert_problem(revoke_queued, StatusCode::CONFLICT, "not_editable").await;
    let empty = app.request(Method::PATCH, &format!("/api/v1/messages/{queued_id}")).json(&json!({ "text": " " }));
    assert_problem(empty.send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

/// An edit of `original` queued as a message of its own, as the API stores it.
fn queued_edit(session: &wagate_store::SessionRecord, original: &Value, text: &str, at: OffsetDateTime) -> NewMessage {
    let field = |key: &str| original[key].as_str().unwrap().to_owned();
    NewMessage {
        id: MessageId::new(),
        tenant: session.tenant.clone(),
        session_id: session.id,
        session_name: session.name.clone(),
        chat: ChatId::parse(&field("chat")).unwrap(),
        recipient: field("to"),
        kind: "edit".into(),
        content: json!({ "edit": { "message_id": field("id"), "wa_id": field("wa_id"), "sender": null, "text": text } }),
        wa_id: WaMessageId::generate(),
        priority: Priority::High,
        send_at: None,
        created_at: at,
        idempotency: None,
        origin: None,
    }
}

#[tokio::test]
async fn an_edit_accepted_just_before_a_crash_still_changes_the_original_and_never_undoes_a_newer_one() {
    let app = app().await;
    let (original, _) = send(&app, json!({ "text": "Ships Monday" })).await;
    let id = original["id"].as_str().unwrap();
    let default = SessionName::parse("default").unwrap();
    let session = app.gateway.store.session(&TenantId::default_tenant(), &default).await.unwrap().unwrap();
    let queue = |edit: NewMessage| async {
        let edit_id = edit.id.to_string();
        app.gateway.store.accept_messages(&[edit]).await.unwrap();
        app.gateway.sessions.wake(session.id);
        app.wait_for_message(&edit_id, "sent").await;
    };

    // Stored, then the process died before the original was changed: the queue sends
    // the edit and the original follows.
    let early = OffsetDateTime::now_utc();
    queue(queued_edit(&session, &original, "Ships Tuesday", early)).await;
    assert_eq!(app.message(id).await["text"], "Ships Tuesday");

    // A newer edit through the API, then an older one sent late: the newer text stays.
    let patch = app.request(Method::PATCH, &format!("/api/v1/messages/{id}")).json(&json!({ "text": "Ships Friday" }));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::ACCEPTED);
    queue(queued_edit(&session, &original, "Ships Wednesday", early + time::Duration::milliseconds(1))).await;
    assert_eq!(app.message(id).await["text"], "Ships Friday");
}
