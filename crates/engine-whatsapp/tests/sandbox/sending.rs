//! Every kind wagate sends, as the contact's phone decodes it.

use bytes::Bytes;
use wagate_engine::{Content, Context, Media, MessageRef, Quote};

use crate::Linked;

/// A 512×512 WebP, as WhatsApp wants stickers.
pub fn webp_sticker() -> Bytes {
    let pixels = vec![200u8; 512 * 512 * 4];
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .encode(&pixels, 512, 512, image::ExtendedColorType::Rgba8)
        .expect("encode a WebP");
    Bytes::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_reaches_the_contact_as_sent() {
    let linked = Linked::start("+4915120000001", "+4915120000002").await;
    let me = "4915120000001@s.whatsapp.net";

    let text = linked.send(Content::Text { body: "Your order shipped".into() }, Context::default()).await;
    let got = linked.delivered(&text, |_| true).await;
    assert_eq!((got.kind.as_str(), got.text.as_deref()), ("text", Some("Your order shipped")));

    let reply = Context {
        reply_to: Some(Quote {
            message: MessageRef { chat: linked.contact_chat(), wa_id: text.clone(), sender: None },
            text: Some("Your order shipped".into()),
        }),
        mentions: vec![linked.contact_chat()],
    };
    let answer = linked.send(Content::Text { body: "@4915120000002 it arrives Monday".into() }, reply).await;
    let got = linked.delivered(&answer, |_| true).await;
    let quoted = got.reply_to.expect("the reply quotes");
    assert_eq!(quoted.id, text.as_str());
    assert_eq!(quoted.participant.as_deref(), Some(me), "we wrote the quoted message");
    assert_eq!(quoted.text.as_deref(), Some("Your order shipped"));
    assert_eq!(got.mentions, vec!["4915120000002@s.whatsapp.net".to_owned()]);

    let photo = Media::from_bytes("image/jpeg", Bytes::from_static(b"\xff\xd8\xff\xe0 a photo of the parcel"));
    let image =
        linked.send(Content::Image { media: photo.clone(), caption: Some("packed".into()) }, Context::default()).await;
    let got = linked.delivered(&image, |m| m.media_sha256.is_some() || m.media_error.is_some()).await;
    assert_eq!(got.kind, "image");
    assert_eq!(got.caption.as_deref(), Some("packed"));
    assert_eq!(got.mimetype.as_deref(), Some("image/jpeg"));
    assert_eq!(got.media_error, None);
    assert_eq!(got.media_sha256.as_deref(), Some(photo.sha256.as_str()), "the contact decrypted our bytes");

    let mut clip = Media::from_bytes("video/mp4", Bytes::from_static(b"\x00\x00\x00\x18ftypmp42 a clip"));
    clip.seconds = Some(4);
    let video = linked.send(Content::Video { media: clip.clone(), caption: None }, Context::default()).await;
    let got = linked.delivered(&video, |m| m.media_sha256.is_some() || m.media_error.is_some()).await;
    assert_eq!((got.kind.as_str(), got.media_sha256.as_deref()), ("video", Some(clip.sha256.as_str())));

    let note = Media::from_bytes("audio/ogg; codecs=opus", Bytes::from_static(b"OggS a voice note"));
    let audio = linked.send(Content::Audio { media: note.clone(), ptt: true }, Context::default()).await;
    let got = linked.delivered(&audio, |m| m.media_sha256.is_some() || m.media_error.is_some()).await;
    assert_eq!((got.kind.as_str(), got.ptt), ("audio", Some(true)));
    assert_eq!(got.media_sha256.as_deref(), Some(note.sha256.as_str()));

    let pdf = Media::from_bytes("application/pdf", Bytes::from_static(b"%PDF-1.7 an invoice"));
    let document =
        Content::Document { media: pdf.clone(), filename: "invoice.pdf".into(), caption: Some("invoice".into()) };
    let document = linked.send(document, Context::default()).await;
    let got = linked.delivered(&document, |m| m.media_sha256.is_some() || m.media_error.is_some()).await;
    assert_eq!(got.kind, "document");
    assert_eq!((got.filename.as_deref(), got.caption.as_deref()), (Some("invoice.pdf"), Some("invoice")));
    assert_eq!(got.media_sha256.as_deref(), Some(pdf.sha256.as_str()));

    let webp = Media::from_bytes("image/webp", webp_sticker());
    let sticker = linked.send(Content::Sticker { media: webp.clone() }, Context::default()).await;
    let got = linked.delivered(&sticker, |m| m.media_sha256.is_some() || m.media_error.is_some()).await;
    assert_eq!((got.kind.as_str(), got.mimetype.as_deref()), ("sticker", Some("image/webp")));
    assert_eq!(got.media_sha256.as_deref(), Some(webp.sha256.as_str()));
    assert_eq!((got.webp, got.webp_width, got.webp_height), (Some(true), Some(512), Some(512)));

    let place = Content::Location {
        latitude: 52.52,
        longitude: 13.405,
        name: Some("Pickup point".into()),
        address: Some("Alexanderplatz 1".into()),
    };
    let location = linked.send(place, Context::default()).await;
    let got = linked.delivered(&location, |_| true).await;
    assert_eq!(got.kind, "location");
    assert_eq!((got.latitude, got.longitude), (Some(52.52), Some(13.405)));
    assert_eq!(
        (got.location_name.as_deref(), got.address.as_deref()),
        (Some("Pickup point"), Some("Alexanderplatz 1"))
    );

    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Support\nTEL;type=CELL;waid=4915120000009:+4915120000009\nEND:VCARD";
    let card = linked.send(Content::Contact { name: "Support".into(), vcard: vcard.into() }, Context::default()).await;
    let got = linked.delivered(&card, |_| true).await;
    assert_eq!(got.kind, "contact");
    assert_eq!((got.contact_name.as_deref(), got.vcard.as_deref()), (Some("Support"), Some(vcard)));

    let question =
        Content::Poll { question: "Delivery day?".into(), options: vec!["Mon".into(), "Tue".into()], selectable: 1 };
    let poll = linked.send(question, Context::default()).await;
    let got = linked.delivered(&poll, |_| true).await;
    assert_eq!((got.kind.as_str(), got.question.as_deref()), ("poll", Some("Delivery day?")));
    assert_eq!((got.options, got.selectable), (Some(vec!["Mon".to_owned(), "Tue".to_owned()]), Some(1)));

    let own_text = MessageRef { chat: linked.contact_chat(), wa_id: text.clone(), sender: None };
    let reaction =
        linked.send(Content::Reaction { target: own_text.clone(), emoji: "📦".into() }, Context::default()).await;
    let got = linked.delivered(&reaction, |_| true).await;
    assert_eq!(got.kind, "reaction");
    assert_eq!((got.emoji.as_deref(), got.target_id.as_deref()), (Some("📦"), Some(text.as_str())));

    let edit = linked
        .send(Content::Edit { target: own_text.clone(), body: "Your order shipped today".into() }, Context::default())
        .await;
    let got = linked.delivered(&edit, |_| true).await;
    assert_eq!(got.kind, "edit");
    assert_eq!(
        (got.text.as_deref(), got.target_id.as_deref()),
        (Some("Your order shipped today"), Some(text.as_str()))
    );

    let revoke = linked.send(Content::Revoke { target: own_text }, Context::default()).await;
    let got = linked.delivered(&revoke, |_| true).await;
    assert_eq!((got.kind.as_str(), got.target_id.as_deref()), ("revoke", Some(text.as_str())));

    linked.finish().await;
}
