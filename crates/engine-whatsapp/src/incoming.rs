//! A received WhatsApp message as wagate's [`Content`] and [`Context`].
//!
//! Parsing is pure; the one kind that needs more is a poll vote, which is encrypted
//! with its poll's secret: it comes out as [`Parsed::Vote`] for [`crate::votes`] to
//! open.

use bytes::Bytes;
use wacore::proto_helpers::MessageExt as _;
use wacore_binary::Jid;
use wagate_engine::{Content, Context, Media, MessageRef};
use waproto::buffa::MessageField;
use waproto::whatsapp as wa;

use crate::media::{Kind, MediaSource};
use crate::refs::Viewpoint;

/// What a received message holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Message(Content, Context),
    /// A vote still encrypted with the poll's secret.
    Vote(Vote),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vote {
    pub(crate) poll: MessageRef,
    /// Who created the poll, as WhatsApp addressed them (the voter's key names them).
    pub(crate) creator: Option<Jid>,
    pub(crate) payload: Vec<u8>,
    pub(crate) iv: Vec<u8>,
}

/// The message in wagate's terms; `None` for what wagate does not keep (protocol
/// messages without content, kinds wagate has no name for).
pub(crate) fn parse(message: &wa::Message, view: &Viewpoint) -> Option<Parsed> {
    let message = message.get_base_message();
    let ready =
        |content: Content, info: &MessageField<wa::ContextInfo>| Some(Parsed::Message(content, view.context(info)));
    if let Some(protocol) = message.protocol_message.as_option() {
        return parse_protocol(protocol, view).map(|content| Parsed::Message(content, Context::default()));
    }
    if let Some(reaction) = message.reaction_message.as_option() {
        let target = view.target(reaction.key.as_option()?)?;
        let emoji = reaction.text.clone().unwrap_or_default();
        return Some(Parsed::Message(Content::Reaction { target, emoji }, Context::default()));
    }
    if let Some(update) = message.poll_update_message.as_option() {
        let key = update.poll_creation_message_key.as_option()?;
        let vote = update.vote.as_option()?;
        return Some(Parsed::Vote(Vote {
            poll: view.target(key)?,
            creator: creator(key, view),
            payload: vote.enc_payload.clone()?,
            iv: vote.enc_iv.clone()?,
        }));
    }
    if let Some(poll) = poll_creation(message) {
        let content = Content::Poll {
            question: poll.name.clone().unwrap_or_default(),
            options: poll.options.iter().filter_map(|o| o.option_name.clone()).collect(),
            selectable: poll.selectable_options_count.unwrap_or(0),
        };
        return ready(content, &poll.context_info);
    }
    if let Some(image) = message.image_message.as_option() {
        let source = MediaSource::new(
            Kind::Image,
            image.direct_path.as_deref(),
            image.media_key.as_deref(),
            image.file_sha256.as_deref(),
            image.file_enc_sha256.as_deref(),
            image.file_length,
        );
        let media = Received {
            mimetype: image.mimetype.as_deref(),
            thumbnail: image.jpeg_thumbnail.as_deref(),
            ..Received::default()
        };
        let media = media.with_size(image.width, image.height, None).into_media(
            image.file_sha256.as_deref(),
            image.file_length,
            source,
        );
        return ready(Content::Image { media, caption: image.caption.clone() }, &image.context_info);
    }
    if let Some(video) = message.video_message.as_option() {
        let source = MediaSource::new(
            Kind::Video,
            video.direct_path.as_deref(),
            video.media_key.as_deref(),
            video.file_sha256.as_deref(),
            video.file_enc_sha256.as_deref(),
            video.file_length,
        );
        let media = Received {
            mimetype: video.mimetype.as_deref(),
            thumbnail: video.jpeg_thumbnail.as_deref(),
            ..Received::default()
        };
        let media = media.with_size(video.width, video.height, video.seconds).into_media(
            video.file_sha256.as_deref(),
            video.file_length,
            source,
        );
        return ready(Content::Video { media, caption: video.caption.clone() }, &video.context_info);
    }
    if let Some(audio) = message.audio_message.as_option() {
        let source = MediaSource::new(
            Kind::Audio,
            audio.direct_path.as_deref(),
            audio.media_key.as_deref(),
            audio.file_sha256.as_deref(),
            audio.file_enc_sha256.as_deref(),
            audio.file_length,
        );
        let media = Received { mimetype: audio.mimetype.as_deref(), ..Received::default() };
        let media = media.with_size(None, None, audio.seconds).into_media(
            audio.file_sha256.as_deref(),
            audio.file_length,
            source,
        );
        return ready(Content::Audio { media, ptt: audio.ptt.unwrap_or(false) }, &audio.context_info);
    }
    if let Some(document) = message.document_message.as_option() {
        let source = MediaSource::new(
            Kind::Document,
            document.direct_path.as_deref(),
            document.media_key.as_deref(),
            document.file_sha256.as_deref(),
            document.file_enc_sha256.as_deref(),
            document.file_length,
        );
        let media = Received {
            mimetype: document.mimetype.as_deref(),
            thumbnail: document.jpeg_thumbnail.as_deref(),
            ..Received::default()
        };
        let media = media.into_media(document.file_sha256.as_deref(), document.file_length, source);
        let filename = document.file_name.clone().or_else(|| document.title.clone()).unwrap_or_default();
        let content = Content::Document { media, filename, caption: document.caption.clone() };
        return ready(content, &document.context_info);
    }
    if let Some(sticker) = message.sticker_message.as_option() {
        let source = MediaSource::new(
            Kind::Sticker,
            sticker.direct_path.as_deref(),
            sticker.media_key.as_deref(),
            sticker.file_sha256.as_deref(),
            sticker.file_enc_sha256.as_deref(),
            sticker.file_length,
        );
        let media = Received { mimetype: sticker.mimetype.as_deref(), ..Received::default() };
        let media = media.with_size(sticker.width, sticker.height, None).into_media(
            sticker.file_sha256.as_deref(),
            sticker.file_length,
            source,
        );
        return ready(Content::Sticker { media }, &sticker.context_info);
    }
    if let Some(location) = message.location_message.as_option() {
        let content = Content::Location {
            latitude: location.degrees_latitude.unwrap_or_default(),
            longitude: location.degrees_longitude.unwrap_or_default(),
            name: location.name.clone(),
            address: location.address.clone(),
        };
        return ready(content, &location.context_info);
    }
    if let Some(contact) = message.contact_message.as_option() {
        let content = Content::Contact {
            name: contact.display_name.clone().unwrap_or_default(),
            vcard: contact.vcard.clone().unwrap_or_default(),
        };
        return ready(content, &contact.context_info);
    }
    if let Some(text) = message.extended_text_message.as_option() {
        return ready(Content::Text { body: text.text.clone().unwrap_or_default() }, &text.context_info);
    }
    let body = message.conversation.clone()?;
    Some(Parsed::Message(Content::Text { body }, Context::default()))
}

/// Edits and deletions; other protocol messages (key shares, history sync…) are the
/// client's business.
fn parse_protocol(protocol: &wa::message::ProtocolMessage, view: &Viewpoint) -> Option<Content> {
    use wa::message::protocol_message::Type;
    let target = view.target(protocol.key.as_option()?)?;
    match protocol.r#type? {
        Type::REVOKE => Some(Content::Revoke { target }),
        Type::MESSAGE_EDIT => {
            let edited = protocol.edited_message.as_option()?;
            let body = edited.text_content().or_else(|| edited.get_caption())?.to_owned();
            Some(Content::Edit { target, body })
        }
        _ => None,
    }
}

/// A poll creation of any version.
fn poll_creation(message: &wa::Message) -> Option<&wa::message::PollCreationMessage> {
    let wrapped =
        message.poll_creation_message_v4.as_option().and_then(|w| w.message.as_option()).and_then(|m| poll_creation(m));
    [
        &message.poll_creation_message,
        &message.poll_creation_message_v2,
        &message.poll_creation_message_v3,
        &message.poll_creation_message_v5,
        &message.poll_creation_message_v6,
    ]
    .into_iter()
    .find_map(|field| field.as_option())
    .or(wrapped)
}

/// The poll's creator as the vote's key names them.
fn creator(key: &wa::MessageKey, view: &Viewpoint) -> Option<Jid> {
    if key.from_me == Some(true) {
        return Some(view.sender_jid.clone());
    }
    match key.participant.as_deref() {
        Some(participant) => participant.parse().ok(),
        None if !view.me.is(&view.sender_jid) => view.me.pn.clone(),
        None => Some(view.chat_jid.clone()),
    }
}

/// The parts of a received file's description that differ between kinds.
#[derive(Default)]
struct Received<'a> {
    mimetype: Option<&'a str>,
    thumbnail: Option<&'a [u8]>,
    width: Option<u32>,
    height: Option<u32>,
    seconds: Option<u32>,
}

impl Received<'_> {
    fn with_size(self, width: Option<u32>, height: Option<u32>, seconds: Option<u32>) -> Self {
        Self { width, height, seconds, ..self }
    }

    fn into_media(self, file_sha256: Option<&[u8]>, file_length: Option<u64>, source: Option<MediaSource>) -> Media {
        Media {
            mimetype: self.mimetype.unwrap_or("application/octet-stream").to_owned(),
            data: Bytes::new(),
            sha256: file_sha256.map(hex::encode).unwrap_or_default(),
            size: file_length.unwrap_or_default(),
            thumbnail: self.thumbnail.filter(|t| !t.is_empty()).map(Bytes::copy_from_slice),
            width: self.width,
            height: self.height,
            seconds: self.seconds,
            source: source.map(|s| s.to_json()),
        }
    }
}
