//! What a simulated contact makes of a message it received: one flat, serializable
//! record per message with the fields of every kind a gateway sends, so a test (or the
//! admin API) checks content without knowing WhatsApp's protobufs.

use serde::Serialize;
use wacore::proto_helpers::MessageExt as _;
use waproto::whatsapp as wa;
use waproto::whatsapp::message::protocol_message::Type as ProtocolType;

/// A message a contact received, decrypted. Fields a kind does not have are `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReceivedMessage {
    /// The WhatsApp message id, as the sender's `SendResult` reports it.
    pub id: String,
    /// The sender's user JID, e.g. `15550001@s.whatsapp.net`.
    pub from: String,
    /// The chat it belongs to (the sender, for a 1:1 message).
    pub chat: String,
    /// `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`, `contact`,
    /// `poll`, `poll_vote`, `reaction`, `edit`, `revoke` or `other`.
    pub kind: String,
    /// The text of a text message (plain or extended), or the new text of an edit.
    pub text: Option<String>,
    /// The caption of an image, video or document.
    pub caption: Option<String>,
    /// The MIME type of its media.
    pub mimetype: Option<String>,
    /// Whether an audio is a voice note (push to talk).
    pub ptt: Option<bool>,
    /// The file name of a document.
    pub filename: Option<String>,
    /// The width and height the message states for an image, video or sticker.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Hex SHA-256 of the media the contact downloaded and decrypted; `None` until
    /// the download finished (or for messages without media).
    pub media_sha256: Option<String>,
    /// Length of the decrypted media.
    pub media_len: Option<u64>,
    /// Why downloading the media failed, if it did.
    pub media_error: Option<String>,
    /// For a sticker, once downloaded: whether its bytes decode as a WebP image, and
    /// the decoded image's size (which may differ from what the message states).
    pub webp: Option<bool>,
    pub webp_width: Option<u32>,
    pub webp_height: Option<u32>,
    /// A location's coordinates, name and address.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_name: Option<String>,
    pub address: Option<String>,
    /// A shared contact's display name and vCard.
    pub contact_name: Option<String>,
    pub vcard: Option<String>,
    /// The question of a poll, its options by name and how many a vote may pick (0: any).
    pub question: Option<String>,
    pub options: Option<Vec<String>>,
    pub selectable: Option<u32>,
    /// The options a poll vote picked, by name: only for polls this contact created
    /// (a vote is encrypted for the poll's creator alone).
    pub votes: Option<Vec<String>>,
    /// The emoji of a reaction; empty when the sender took its reaction back.
    pub emoji: Option<String>,
    /// The message a reaction, poll vote, edit or revoke is about.
    pub target_id: Option<String>,
    /// The message this one quotes (a reply).
    pub reply_to: Option<QuotedMessage>,
    /// The user JIDs it mentions.
    pub mentions: Vec<String>,
    /// A text status's background colour (0xAARRGGBB) and font number.
    pub background_argb: Option<u32>,
    pub font: Option<i32>,
    /// When the sender sent it, unix seconds.
    pub timestamp: i64,
}

/// The message a reply quotes, as its `ContextInfo` names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuotedMessage {
    /// The quoted message's id (`stanzaId`).
    pub id: String,
    /// Who wrote the quoted message.
    pub participant: Option<String>,
    /// The quoted message's text or caption, if it has one.
    pub text: Option<String>,
}

/// Fills `received` (whose id, sender, chat and time are set) from `message`.
pub(super) fn decode(received: &mut ReceivedMessage, message: &wa::Message) {
    let base = message.get_base_message();
    received.text = base.text_content().map(str::to_owned);
    received.kind = kind_and_fields(received, base).to_owned();
    if let Some(extended) = base.extended_text_message.as_option() {
        received.background_argb = extended.background_argb;
        received.font = extended.font.map(|f| waproto::buffa::Enumeration::to_i32(&f));
    }
    if let Some(context) = context_info(base) {
        received.mentions = context.mentioned_jid.clone();
        received.reply_to = context.stanza_id.clone().map(|id| QuotedMessage {
            id,
            participant: context.participant.clone(),
            text: context
                .quoted_message
                .as_option()
                .and_then(|q| q.text_content().or(q.get_caption()))
                .map(str::to_owned),
        });
    }
}

/// The kind of `message`, with the fields of that kind copied into `r`.
fn kind_and_fields(r: &mut ReceivedMessage, m: &wa::Message) -> &'static str {
    if let Some(image) = m.image_message.as_option() {
        (r.caption, r.mimetype, r.width, r.height) =
            (image.caption.clone(), image.mimetype.clone(), image.width, image.height);
        "image"
    } else if let Some(video) = m.video_message.as_option() {
        (r.caption, r.mimetype, r.width, r.height) =
            (video.caption.clone(), video.mimetype.clone(), video.width, video.height);
        "video"
    } else if let Some(audio) = m.audio_message.as_option() {
        (r.mimetype, r.ptt) = (audio.mimetype.clone(), Some(audio.ptt.unwrap_or(false)));
        "audio"
    } else if let Some(document) = m.document_message.as_option() {
        (r.caption, r.mimetype, r.filename) =
            (document.caption.clone(), document.mimetype.clone(), document.file_name.clone());
        "document"
    } else if let Some(sticker) = m.sticker_message.as_option() {
        (r.mimetype, r.width, r.height) = (sticker.mimetype.clone(), sticker.width, sticker.height);
        "sticker"
    } else if let Some(location) = m.location_message.as_option() {
        (r.latitude, r.longitude) = (location.degrees_latitude, location.degrees_longitude);
        (r.location_name, r.address) = (location.name.clone(), location.address.clone());
        "location"
    } else if let Some(contact) = m.contact_message.as_option() {
        (r.contact_name, r.vcard) = (contact.display_name.clone(), contact.vcard.clone());
        "contact"
    } else if let Some(poll) = poll_in(m) {
        r.question = Some(poll.name.clone().unwrap_or_default());
        r.options = Some(poll.options.iter().filter_map(|o| o.option_name.clone()).collect());
        r.selectable = Some(poll.selectable_options_count.unwrap_or(0));
        "poll"
    } else if let Some(update) = m.poll_update_message.as_option() {
        r.target_id = update.poll_creation_message_key.as_option().and_then(|k| k.id.clone());
        "poll_vote"
    } else if let Some(reaction) = m.reaction_message.as_option() {
        r.emoji = Some(reaction.text.clone().unwrap_or_default());
        r.target_id = reaction.key.as_option().and_then(|k| k.id.clone());
        "reaction"
    } else if let Some(protocol) = m.protocol_message.as_option() {
        r.target_id = protocol.key.as_option().and_then(|k| k.id.clone());
        match protocol.r#type {
            Some(ProtocolType::MessageEdit) => {
                r.text = protocol.edited_message.as_option().and_then(|e| e.text_content()).map(str::to_owned);
                "edit"
            }
            Some(ProtocolType::Revoke) => "revoke",
            _ => {
                r.target_id = None;
                "other"
            }
        }
    } else if r.text.is_some() {
        "text"
    } else {
        "other"
    }
}

pub(super) fn poll_in(message: &wa::Message) -> Option<&wa::message::PollCreationMessage> {
    message
        .poll_creation_message
        .as_option()
        .or_else(|| message.poll_creation_message_v2.as_option())
        .or_else(|| message.poll_creation_message_v3.as_option())
}

/// The `ContextInfo` (quote and mentions) of the kinds a gateway sends.
fn context_info(m: &wa::Message) -> Option<&wa::ContextInfo> {
    let found = [
        m.extended_text_message.as_option().and_then(|x| x.context_info.as_option()),
        m.image_message.as_option().and_then(|x| x.context_info.as_option()),
        m.video_message.as_option().and_then(|x| x.context_info.as_option()),
        m.audio_message.as_option().and_then(|x| x.context_info.as_option()),
        m.document_message.as_option().and_then(|x| x.context_info.as_option()),
        m.sticker_message.as_option().and_then(|x| x.context_info.as_option()),
        m.location_message.as_option().and_then(|x| x.context_info.as_option()),
        m.contact_message.as_option().and_then(|x| x.context_info.as_option()),
        poll_in(m).and_then(|x| x.context_info.as_option()),
    ];
    found.into_iter().flatten().next()
}
