//! Every kind wagate sends, built as a WhatsApp message and read back by the inbound
//! parser: what comes out must be what went in (a received file has no bytes, only a
//! source to download it from).

use bytes::Bytes;
use sha2::Digest as _;
use wacore_binary::Jid;
use wagate_engine::{Content, Context, Media, MessageRef, Quote};
use wagate_types::{ChatId, WaMessageId};
use waproto::whatsapp as wa;

use super::{Extras, build};
use crate::incoming::{Parsed, parse};
use crate::media::{MediaSource, Uploaded};
use crate::refs::{Me, Viewpoint};

const ME: &str = "15550001@s.whatsapp.net";
const PEER: &str = "15550002@s.whatsapp.net";
const OTHER: &str = "15550003@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";
const SECRET: [u8; 32] = [7; 32];

fn jid(s: &str) -> Jid {
    s.parse().expect("a JID")
}

fn chat(s: &str) -> ChatId {
    ChatId::from_stored(s.to_owned())
}

fn me() -> Me {
    Me { pn: Some(jid(ME)), lid: None }
}

fn target(chat_id: &str, id: &str, sender: Option<&str>) -> MessageRef {
    MessageRef { chat: chat(chat_id), wa_id: WaMessageId::from_stored(id.to_owned()), sender: sender.map(chat) }
}

/// How `sender` reads a message in `chat_jid`, as this account.
fn viewpoint(chat_jid: &str, sender: &str) -> Viewpoint {
    Viewpoint { me: me(), chat_jid: jid(chat_jid), chat: chat(chat_jid), sender_jid: jid(sender), sender: chat(sender) }
}

fn upload_of(media: &Media) -> Uploaded {
    Uploaded {
        url: "https://mmg.example/file".into(),
        direct_path: "/v/t62/file".into(),
        media_key: vec![1; 32],
        file_sha256: sha2::Sha256::digest(&media.data).to_vec(),
        file_enc_sha256: vec![2; 32],
        file_length: media.data.len() as u64,
        media_key_timestamp: 1_700_000_000,
        streaming_sidecar: None,
    }
}

fn built(content: &Content, context: &Context) -> wa::Message {
    let me = jid(ME);
    let uploaded = content.media().map(upload_of);
    let extras = Extras { me: &me, uploaded: uploaded.as_ref(), poll_secret: Some(SECRET), now_ms: 1_700_000_000_000 };
    build(content, context, &extras).expect("the content builds")
}

/// Sent by this account into `chat_jid`, and read back as its own message.
fn round_trip(chat_jid: &str, content: &Content, context: &Context) -> (Content, Context) {
    let message = built(content, context);
    match parse(&message, &viewpoint(chat_jid, ME)) {
        Some(Parsed::Message(content, context)) => (content, context),
        other => panic!("{} did not read back as a message: {other:?}", content.kind()),
    }
}

/// What a received file looks like: no bytes, a source; `source` checked, then dropped.
fn as_received(content: &Content) -> Content {
    let mut content = content.clone();
    let media = match &mut content {
        Content::Image { media, .. }
        | Content::Video { media, .. }
        | Content::Audio { media, .. }
        | Content::Document { media, .. }
        | Content::Sticker { media } => media,
        _ => return content,
    };
    media.data = Bytes::new();
    content
}

fn without_source(mut content: Content) -> Content {
    if let Content::Image { media, .. }
    | Content::Video { media, .. }
    | Content::Audio { media, .. }
    | Content::Document { media, .. }
    | Content::Sticker { media } = &mut content
    {
        let source: MediaSource =
            serde_json::from_value(media.source.take().expect("received media has a source")).expect("our source");
        assert_eq!(source.file_sha256, media.sha256, "the source names the file's hash");
        assert_eq!(source.file_length, media.size);
        assert_eq!(source.direct_path, "/v/t62/file");
    }
    content
}

fn assert_round_trip(chat_jid: &str, content: Content, context: Context) {
    let (back, back_context) = round_trip(chat_jid, &content, &context);
    assert_eq!(without_source(back), as_received(&content), "{} content", content.kind());
    assert_eq!(back_context, context, "{} context", content.kind());
}

fn media(mimetype: &str, data: &'static [u8]) -> Media {
    Media::from_bytes(mimetype, Bytes::from_static(data))
}

const WEBP: &[u8] = b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd";

#[test]
fn text_round_trips_plain_and_with_a_quote_and_mentions() {
    assert_round_trip(PEER, Content::Text { body: "hello".into() }, Context::default());
    let own_quote = Context {
        reply_to: Some(Quote { message: target(PEER, "3EB0OWN", None), text: Some("earlier".into()) }),
        mentions: vec![chat(PEER), chat(OTHER)],
    };
    assert_round_trip(PEER, Content::Text { body: "replying to myself".into() }, own_quote);
    let their_quote = Context {
        reply_to: Some(Quote { message: target(GROUP, "3EB0THEIRS", Some(OTHER)), text: None }),
        mentions: vec![],
    };
    assert_round_trip(GROUP, Content::Text { body: "replying to them".into() }, their_quote);
}

#[test]
fn text_with_context_goes_as_extended_text() {
    let context = Context { reply_to: None, mentions: vec![chat(PEER)] };
    let message = built(&Content::Text { body: "hi @15550002".into() }, &context);
    assert!(message.conversation.is_none());
    let extended = message.extended_text_message.as_option().expect("extended text");
    assert_eq!(extended.context_info.as_option().unwrap().mentioned_jid, vec![PEER.to_owned()]);
}

#[test]
fn media_kinds_round_trip() {
    let mut image = media("image/png", b"\x89PNG not really");
    image.thumbnail = Some(Bytes::from_static(b"\xff\xd8 tiny jpeg"));
    image.width = Some(640);
    image.height = Some(480);
    let quote = Context {
        reply_to: Some(Quote { message: target(PEER, "3EB0Q", Some(PEER)), text: Some("send a photo".into()) }),
        mentions: vec![],
    };
    assert_round_trip(PEER, Content::Image { media: image, caption: Some("look".into()) }, quote);

    let mut video = media("video/mp4", b"not an mp4");
    video.seconds = Some(12);
    video.width = Some(1280);
    video.height = Some(720);
    assert_round_trip(PEER, Content::Video { media: video, caption: None }, Context::default());

    let mut voice = media("audio/ogg; codecs=opus", b"OggS voice");
    voice.seconds = Some(3);
    assert_round_trip(PEER, Content::Audio { media: voice, ptt: true }, Context::default());
    assert_round_trip(PEER, Content::Audio { media: media("audio/mpeg", b"ID3 song"), ptt: false }, Context::default());

    let document = media("application/pdf", b"%PDF-1.7");
    let content =
        Content::Document { media: document, filename: "invoice.pdf".into(), caption: Some("your invoice".into()) };
    assert_round_trip(GROUP, content, Context::default());

    let mut sticker = media("image/webp", WEBP);
    sticker.width = Some(512);
    sticker.height = Some(512);
    assert_round_trip(PEER, Content::Sticker { media: sticker }, Context::default());
}

#[test]
fn a_document_carries_its_file_name_and_title() {
    let content = Content::Document { media: media("text/plain", b"hi"), filename: "a.txt".into(), caption: None };
    let message = built(&content, &Context::default());
    let document = message.document_message.as_option().expect("a document");
    assert_eq!(document.file_name.as_deref(), Some("a.txt"));
    assert_eq!(document.title.as_deref(), Some("a.txt"));
    assert_eq!(document.media_key.as_deref(), Some(&[1u8; 32][..]));
}

#[test]
fn a_sticker_is_webp_of_512_pixels() {
    let message = built(&Content::Sticker { media: media("image/webp", WEBP) }, &Context::default());
    let sticker = message.sticker_message.as_option().expect("a sticker");
    assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
    assert_eq!((sticker.width, sticker.height), (Some(512), Some(512)));
}

#[test]
fn location_and_contact_round_trip() {
    let location = Content::Location {
        latitude: 33.8938,
        longitude: 35.5018,
        name: Some("Beirut".into()),
        address: Some("Hamra St".into()),
    };
    assert_round_trip(PEER, location, Context::default());
    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nTEL;type=CELL;waid=15550003:+15550003\nEND:VCARD".to_owned();
    assert_round_trip(GROUP, Content::Contact { name: "Ada".into(), vcard }, Context::default());
}

#[test]
fn polls_round_trip_with_their_secret() {
    let single = Content::Poll { question: "Lunch?".into(), options: vec!["Yes".into(), "No".into()], selectable: 1 };
    assert_round_trip(PEER, single.clone(), Context::default());
    let message = built(&single, &Context::default());
    assert!(message.poll_creation_message_v3.is_set(), "single choice goes as v3");
    let secret = message.message_context_info.as_option().and_then(|i| i.message_secret.clone());
    assert_eq!(secret.as_deref(), Some(&SECRET[..]));

    let multi = Content::Poll {
        question: "Toppings".into(),
        options: vec!["Olives".into(), "Thyme".into(), "Cheese".into()],
        selectable: 2,
    };
    assert_round_trip(GROUP, multi.clone(), Context::default());
    assert!(built(&multi, &Context::default()).poll_creation_message.is_set(), "multiple choice goes as v1");
}

#[test]
fn reactions_round_trip_on_own_and_others_messages() {
    assert_round_trip(
        PEER,
        Content::Reaction { target: target(PEER, "3EB0A", None), emoji: "👍".into() },
        Context::default(),
    );
    assert_round_trip(
        PEER,
        Content::Reaction { target: target(PEER, "3EB0B", Some(PEER)), emoji: "❤️".into() },
        Context::default(),
    );
    let in_group = Content::Reaction { target: target(GROUP, "3EB0C", Some(OTHER)), emoji: String::new() };
    assert_round_trip(GROUP, in_group, Context::default());
}

#[test]
fn edits_and_revokes_round_trip() {
    assert_round_trip(
        PEER,
        Content::Edit { target: target(PEER, "3EB0E", None), body: "fixed".into() },
        Context::default(),
    );
    assert_round_trip(
        GROUP,
        Content::Edit { target: target(GROUP, "3EB0F", None), body: "fixed".into() },
        Context::default(),
    );
    assert_round_trip(PEER, Content::Revoke { target: target(PEER, "3EB0G", None) }, Context::default());
    // A group admin deletes someone else's message.
    assert_round_trip(GROUP, Content::Revoke { target: target(GROUP, "3EB0H", Some(OTHER)) }, Context::default());
}

#[test]
fn what_cannot_be_sent_is_refused() {
    let me = jid(ME);
    let extras = Extras { me: &me, uploaded: None, poll_secret: Some(SECRET), now_ms: 0 };
    let refused = |content: Content| build(&content, &Context::default(), &extras).expect_err(content.kind());
    let poll = |options: &[&str], selectable| Content::Poll {
        question: "Q".into(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        selectable,
    };
    assert!(refused(poll(&["only"], 1)).contains("2 to 12 options"));
    assert!(refused(poll(&["a", "a"], 1)).contains("twice"));
    assert!(refused(poll(&["a", "b"], 3)).contains("cannot pick 3"));
    assert!(
        refused(Content::Edit { target: target(PEER, "X", Some(PEER)), body: "no".into() }).contains("own messages")
    );
    assert!(refused(Content::Revoke { target: target(PEER, "X", Some(PEER)) }).contains("own messages"));
    assert!(
        refused(Content::PollVote { poll: target(PEER, "X", None), option_hashes: vec![] }).contains("does not vote")
    );
    assert!(
        refused(Content::Location { latitude: 91.0, longitude: 0.0, name: None, address: None })
            .contains("not a place")
    );
    let quoted = Context { reply_to: None, mentions: vec![chat(PEER)] };
    let reaction = Content::Reaction { target: target(PEER, "X", None), emoji: "👍".into() };
    assert!(build(&reaction, &quoted, &extras).unwrap_err().contains("cannot quote"));
}

/// What a contact sends us, read as this account: keys are relative to the contact.
#[test]
fn keys_from_a_contact_name_our_messages_as_our_own() {
    let from_peer = viewpoint(PEER, PEER);
    let reaction = wa::Message {
        reaction_message: waproto::buffa::MessageField::some(wa::message::ReactionMessage {
            key: waproto::buffa::MessageField::some(wa::MessageKey {
                remote_jid: Some(ME.into()),
                from_me: Some(false),
                id: Some("3EB0MINE".into()),
                participant: None,
            }),
            text: Some("🎉".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let expected = Content::Reaction { target: target(PEER, "3EB0MINE", None), emoji: "🎉".into() };
    assert_eq!(parse(&reaction, &from_peer), Some(Parsed::Message(expected, Context::default())));

    let vote = wa::Message {
        poll_update_message: waproto::buffa::MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: waproto::buffa::MessageField::some(wa::MessageKey {
                remote_jid: Some(ME.into()),
                from_me: Some(false),
                id: Some("3EB0POLL".into()),
                participant: None,
            }),
            vote: waproto::buffa::MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(vec![9; 20]),
                enc_iv: Some(vec![8; 12]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let Some(Parsed::Vote(vote)) = parse(&vote, &from_peer) else { panic!("a vote") };
    assert_eq!(vote.poll, target(PEER, "3EB0POLL", None));
    assert_eq!(vote.creator, Some(jid(ME)), "we created the poll the contact voted on");
    assert_eq!((vote.payload, vote.iv), (vec![9; 20], vec![8; 12]));
}

#[test]
fn a_status_is_a_text_with_its_look_or_a_picture_or_video_for_its_audience() {
    let post = |font| wagate_engine::StatusPost { audience: vec![chat(PEER)], background_argb: 0xFF12_3456, font };
    let text = built(&Content::Text { body: "Open today".into() }, &Context::default());
    let (status, audience) = super::status(text, &post(2)).expect("a text status");
    let extended = status.extended_text_message.as_option().expect("an extended text");
    assert_eq!(extended.text.as_deref(), Some("Open today"));
    assert_eq!(extended.background_argb, Some(0xFF12_3456));
    assert_eq!(extended.font.map(|f| waproto::buffa::Enumeration::to_i32(&f)), Some(2));
    assert_eq!(audience, [jid(PEER)]);

    let image = Content::Image { media: Media::from_bytes("image/jpeg", Bytes::from_static(b"jpeg")), caption: None };
    let (status, _) = super::status(built(&image, &Context::default()), &post(0)).expect("a picture status");
    assert!(status.image_message.as_option().is_some());

    let text = || built(&Content::Text { body: "Hi".into() }, &Context::default());
    assert!(super::status(text(), &post(3)).is_err(), "3 is not a WhatsApp font");
    let nobody = wagate_engine::StatusPost { audience: vec![], ..post(0) };
    assert!(super::status(text(), &nobody).is_err(), "a status needs someone to see it");
    let location = Content::Location { latitude: 1.0, longitude: 2.0, name: None, address: None };
    assert!(super::status(built(&location, &Context::default()), &post(0)).is_err(), "a location is no status");
}
