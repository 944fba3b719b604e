//! What a contact sends, as the session commits it; received media downloads.

use sha2::Digest as _;
use wagate_engine::{Content, Context, EngineError, MessageRef};
use wagate_sandbox::{Content as ContactContent, Outgoing};
use wagate_types::WaMessageId;

use crate::Linked;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_contact_sends_is_committed_and_its_media_downloads() {
    let linked = Linked::start("+4915130000001", "+4915130000002").await;
    let shop = "+4915130000001";
    let bob = linked.contact_chat();
    let theirs = |id: &str| MessageRef {
        chat: bob.clone(),
        wa_id: WaMessageId::from_stored(id.to_owned()),
        sender: Some(bob.clone()),
    };

    let hello = linked.sandbox.contact_send_text(&linked.contact, shop, "Is it in stock?").await.unwrap();
    let got = linked.inbox.wait_for("the text", |m| (m.wa_id.as_str() == hello).then(|| m.clone())).await;
    assert_eq!(got.content, Content::Text { body: "Is it in stock?".into() });
    assert_eq!((got.chat.clone(), got.sender.clone()), (bob.clone(), bob.clone()));

    let photo = b"\xff\xd8\xff\xe0 the broken part".to_vec();
    let image = linked
        .sandbox
        .contact_send_image(&linked.contact, shop, photo.clone(), Some("broken"), Some("image/jpeg"))
        .await
        .unwrap();
    let got = linked.inbox.wait_for("the image", |m| (m.wa_id.as_str() == image).then(|| m.content.clone())).await;
    let Content::Image { media, caption } = got else { panic!("an image, not {got:?}") };
    assert_eq!(caption.as_deref(), Some("broken"));
    assert_eq!(media.mimetype, "image/jpeg");
    assert_eq!(media.sha256, hex::encode(sha2::Sha256::digest(&photo)));
    assert_eq!(media.size, photo.len() as u64);
    assert!(media.data.is_empty(), "received media is fetched on demand");
    let downloaded = linked.session.download(&media).await.expect("the image downloads");
    assert_eq!(downloaded.as_ref(), photo.as_slice());
    let mut forged = media.clone();
    forged.source = Some(serde_json::json!({ "direct_path": "/somewhere" }));
    let refused = linked.session.download(&forged).await.expect_err("a source the engine did not write");
    assert!(matches!(&refused, EngineError::Failed(why) if why.contains("source")), "{refused:?}");

    // Ours, so the contact can react to, reply to and vote on it.
    let offer = linked.send(Content::Text { body: "In stock, 2 left".into() }, Context::default()).await;
    let poll = linked
        .send(
            Content::Poll { question: "Colour?".into(), options: vec!["Red".into(), "Blue".into()], selectable: 1 },
            Context::default(),
        )
        .await;
    linked.delivered(&poll, |_| true).await;
    let ours = |id: &WaMessageId| MessageRef { chat: bob.clone(), wa_id: id.clone(), sender: None };

    let reaction = linked.sandbox.contact_react(&linked.contact, shop, offer.as_str(), "👍").await.unwrap();
    let got =
        linked.inbox.wait_for("the reaction", |m| (m.wa_id.as_str() == reaction).then(|| m.content.clone())).await;
    assert_eq!(got, Content::Reaction { target: ours(&offer), emoji: "👍".into() });

    let vote = linked.sandbox.contact_vote(&linked.contact, poll.as_str(), &["Blue"]).await.unwrap();
    let got = linked.inbox.wait_for("the vote", |m| (m.wa_id.as_str() == vote).then(|| m.content.clone())).await;
    let blue = hex::encode(sha2::Sha256::digest(b"Blue"));
    assert_eq!(got, Content::PollVote { poll: ours(&poll), option_hashes: vec![blue] });

    let reply =
        Outgoing::new(ContactContent::Text("I'll take both".into())).replying_to(offer.as_str()).mentioning(&[shop]);
    let reply = linked.sandbox.contact_send(&linked.contact, shop, reply).await.unwrap();
    let got = linked.inbox.wait_for("the reply", |m| (m.wa_id.as_str() == reply).then(|| m.clone())).await;
    assert_eq!(got.content, Content::Text { body: "I'll take both".into() });
    let quote = got.context.reply_to.expect("the reply quotes our offer");
    assert_eq!(quote.message, ours(&offer));
    assert_eq!(got.context.mentions, vec![wagate_types::ChatId::from_stored("4915130000001@s.whatsapp.net".into())]);

    // The sandbox edits and deletes only what a contact sent through `contact_send`.
    let edit = linked.sandbox.contact_edit(&linked.contact, &reply, "I'll take the red one").await.unwrap();
    let got = linked.inbox.wait_for("the edit", |m| (m.wa_id.as_str() == edit).then(|| m.content.clone())).await;
    assert_eq!(got, Content::Edit { target: theirs(&reply), body: "I'll take the red one".into() });

    let revoke = linked.sandbox.contact_revoke(&linked.contact, &reply).await.unwrap();
    let got = linked.inbox.wait_for("the revoke", |m| (m.wa_id.as_str() == revoke).then(|| m.content.clone())).await;
    assert_eq!(got, Content::Revoke { target: theirs(&reply) });

    let session = linked.session.clone();
    linked.finish().await;
    assert_eq!(session.download(&media).await, Err(EngineError::NotConnected), "offline, nothing downloads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_on_a_poll_open_after_a_restart() {
    let mut linked = Linked::start("+4915140000001", "+4915140000002").await;
    let question = Content::Poll {
        question: "Which sizes?".into(),
        options: vec!["S".into(), "M".into(), "L".into()],
        selectable: 2,
    };
    let poll = linked.send(question, Context::default()).await;
    linked.delivered(&poll, |_| true).await;

    // The poll's secret lives in the store, not in the client that sent the poll.
    linked.restart().await;
    let vote = linked.sandbox.contact_vote(&linked.contact, poll.as_str(), &["S", "L"]).await.unwrap();
    let got = linked.inbox.wait_for("the vote", |m| (m.wa_id.as_str() == vote).then(|| m.content.clone())).await;
    let Content::PollVote { poll: voted, mut option_hashes } = got else { panic!("a vote, not {got:?}") };
    assert_eq!(voted, MessageRef { chat: linked.contact_chat(), wa_id: poll, sender: None });
    let mut expected = vec![hex::encode(sha2::Sha256::digest(b"S")), hex::encode(sha2::Sha256::digest(b"L"))];
    option_hashes.sort();
    expected.sort();
    assert_eq!(option_hashes, expected);
    linked.finish().await;
}

/// Every kind a phone sends, as whatsapp-rust builds it on the contact's side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_a_contact_sends_arrives_as_sent() {
    use wagate_sandbox::{Media, MediaKind};

    let linked = Linked::start("+4915150000001", "+4915150000002").await;
    let shop = "+4915150000001";
    let send = |content: ContactContent| linked.sandbox.contact_send(&linked.contact, shop, Outgoing::new(content));

    let clip = b"\x00\x00\x00\x18ftypmp42 a clip".to_vec();
    let mut video = Media::new(MediaKind::Video, clip.clone()).with_caption("unboxing");
    video.mimetype = Some("video/mp4".into());
    let got = linked.received(&send(ContactContent::Media(video)).await.unwrap()).await;
    let Content::Video { media, caption } = got else { panic!("a video, not {got:?}") };
    assert_eq!((caption.as_deref(), media.mimetype.as_str()), (Some("unboxing"), "video/mp4"));
    assert_eq!(linked.session.download(&media).await.expect("the video downloads").as_ref(), clip.as_slice());

    let mut note = Media::new(MediaKind::Audio, b"OggS a voice note".to_vec());
    note.ptt = true;
    let got = linked.received(&send(ContactContent::Media(note)).await.unwrap()).await;
    assert!(matches!(got, Content::Audio { ptt: true, .. }), "a voice note, not {got:?}");

    let pdf = b"%PDF-1.7 a receipt".to_vec();
    let mut document = Media::new(MediaKind::Document, pdf.clone()).with_caption("receipt");
    document.filename = Some("receipt.pdf".into());
    document.mimetype = Some("application/pdf".into());
    let got = linked.received(&send(ContactContent::Media(document)).await.unwrap()).await;
    let Content::Document { media, filename, caption } = got else { panic!("a document, not {got:?}") };
    assert_eq!((filename.as_str(), caption.as_deref()), ("receipt.pdf", Some("receipt")));
    assert_eq!(linked.session.download(&media).await.expect("the document downloads").as_ref(), pdf.as_slice());

    let sticker = crate::sending::webp_sticker().to_vec();
    let got = linked
        .received(&send(ContactContent::Media(Media::new(MediaKind::Sticker, sticker.clone()))).await.unwrap())
        .await;
    let Content::Sticker { media } = got else { panic!("a sticker, not {got:?}") };
    assert_eq!((media.mimetype.as_str(), media.width, media.height), ("image/webp", Some(512), Some(512)));
    assert_eq!(linked.session.download(&media).await.expect("the sticker downloads").as_ref(), sticker.as_slice());

    let place = ContactContent::Location {
        latitude: 48.1374,
        longitude: 11.5755,
        name: Some("Marienplatz".into()),
        address: Some("Munich".into()),
    };
    let got = linked.received(&send(place).await.unwrap()).await;
    let expected = Content::Location {
        latitude: 48.1374,
        longitude: 11.5755,
        name: Some("Marienplatz".into()),
        address: Some("Munich".into()),
    };
    assert_eq!(got, expected);

    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Carol\nEND:VCARD".to_owned();
    let card = ContactContent::Contact { display_name: "Carol".into(), vcard: vcard.clone() };
    assert_eq!(linked.received(&send(card).await.unwrap()).await, Content::Contact { name: "Carol".into(), vcard });

    let question = ContactContent::Poll {
        question: "Pickup or delivery?".into(),
        options: vec!["Pickup".into(), "Delivery".into()],
        selectable: 1,
    };
    let expected = Content::Poll {
        question: "Pickup or delivery?".into(),
        options: vec!["Pickup".into(), "Delivery".into()],
        selectable: 1,
    };
    assert_eq!(linked.received(&send(question).await.unwrap()).await, expected);

    linked.finish().await;
}
