//! wagate's [`Content`] and [`Context`] as the WhatsApp message that carries them.
//!
//! Building is pure: the file of a media message is uploaded first
//! ([`crate::media::upload`]) and a poll's secret chosen first
//! ([`crate::votes::poll_secret`]), so the same content always builds the same message
//! and the mapping is tested without a connection.

use wacore_binary::Jid;
use wagate_engine::{Content, Context, Media, StatusPost};
use waproto::buffa::MessageField;
use waproto::whatsapp as wa;
use waproto::whatsapp::message::extended_text_message::FontType;

use crate::media::Uploaded;
use crate::refs::{context_info, field, key};

/// What a message needs besides its content.
pub(crate) struct Extras<'a> {
    /// This account, named when it quotes itself or edits its own group message.
    pub(crate) me: &'a Jid,
    /// Where the file of a media message went.
    pub(crate) uploaded: Option<&'a Uploaded>,
    /// A poll's secret, which voters encrypt their votes with.
    pub(crate) poll_secret: Option<[u8; 32]>,
    /// When the message was written (reactions and edits carry it), unix ms.
    pub(crate) now_ms: i64,
}

/// A built message as a status (story), with the devices' owners who may see it: a
/// text becomes an extended text with the status's background and font; an image or
/// video goes as built; nothing else can be a status.
pub(crate) fn status(message: wa::Message, post: &StatusPost) -> Result<(wa::Message, Vec<Jid>), String> {
    let message = if let Some(text) = message.conversation.clone() {
        let font = <FontType as waproto::buffa::Enumeration>::from_i32(post.font)
            .ok_or_else(|| format!("{} is not a WhatsApp status font", post.font))?;
        wa::Message {
            extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                text: Some(text),
                background_argb: Some(post.background_argb),
                font: Some(font),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if message.image_message.as_option().is_some() || message.video_message.as_option().is_some() {
        message
    } else {
        return Err("a status is a text, an image or a video".into());
    };
    if post.audience.is_empty() {
        return Err("a status needs someone to see it".into());
    }
    let audience = post
        .audience
        .iter()
        .map(|chat| chat.as_str().parse().map_err(|e| format!("'{chat}' is not a WhatsApp address: {e}")))
        .collect::<Result<Vec<Jid>, String>>()?;
    Ok((message, audience))
}

/// Most options a WhatsApp poll can have.
pub(crate) const MAX_POLL_OPTIONS: usize = 12;

/// The WhatsApp message for `content`; an error says why it cannot be sent at all.
pub(crate) fn build(content: &Content, context: &Context, extras: &Extras<'_>) -> Result<wa::Message, String> {
    let info = context_info(context, extras.me);
    let addon = |kind: &str| -> Result<(), String> {
        match info {
            Some(_) => Err(format!("a {kind} cannot quote or mention")),
            None => Ok(()),
        }
    };
    let message = match content {
        Content::Text { body } => match info {
            None => wa::Message { conversation: Some(body.clone()), ..Default::default() },
            Some(info) => wa::Message {
                extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(body.clone()),
                    context_info: MessageField::some(info),
                    ..Default::default()
                }),
                ..Default::default()
            },
        },
        Content::Image { media, caption } => {
            let file = uploaded(extras)?;
            wa::Message {
                image_message: MessageField::some(wa::message::ImageMessage {
                    url: Some(file.url.clone()),
                    mimetype: Some(media.mimetype.clone()),
                    caption: caption.clone(),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_length: Some(file.file_length),
                    height: media.height,
                    width: media.width,
                    media_key: Some(file.media_key.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key_timestamp: Some(file.media_key_timestamp),
                    jpeg_thumbnail: thumbnail(media),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Video { media, caption } => {
            let file = uploaded(extras)?;
            wa::Message {
                video_message: MessageField::some(wa::message::VideoMessage {
                    url: Some(file.url.clone()),
                    mimetype: Some(media.mimetype.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_length: Some(file.file_length),
                    seconds: media.seconds,
                    media_key: Some(file.media_key.clone()),
                    caption: caption.clone(),
                    height: media.height,
                    width: media.width,
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key_timestamp: Some(file.media_key_timestamp),
                    jpeg_thumbnail: thumbnail(media),
                    streaming_sidecar: file.streaming_sidecar.clone(),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Audio { media, ptt } => {
            let file = uploaded(extras)?;
            wa::Message {
                audio_message: MessageField::some(wa::message::AudioMessage {
                    url: Some(file.url.clone()),
                    mimetype: Some(media.mimetype.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_length: Some(file.file_length),
                    seconds: media.seconds,
                    ptt: Some(*ptt),
                    media_key: Some(file.media_key.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key_timestamp: Some(file.media_key_timestamp),
                    streaming_sidecar: file.streaming_sidecar.clone(),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Document { media, filename, caption } => {
            let file = uploaded(extras)?;
            wa::Message {
                document_message: MessageField::some(wa::message::DocumentMessage {
                    url: Some(file.url.clone()),
                    mimetype: Some(media.mimetype.clone()),
                    title: Some(filename.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key: Some(file.media_key.clone()),
                    file_name: Some(filename.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key_timestamp: Some(file.media_key_timestamp),
                    jpeg_thumbnail: thumbnail(media),
                    caption: caption.clone(),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Sticker { media } => {
            let file = uploaded(extras)?;
            wa::Message {
                sticker_message: MessageField::some(wa::message::StickerMessage {
                    url: Some(file.url.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    media_key: Some(file.media_key.clone()),
                    // WhatsApp shows only WebP stickers, 512×512.
                    mimetype: Some("image/webp".into()),
                    height: Some(media.height.unwrap_or(512)),
                    width: Some(media.width.unwrap_or(512)),
                    direct_path: Some(file.direct_path.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: Some(file.media_key_timestamp),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Location { latitude, longitude, name, address } => {
            if !(-90.0..=90.0).contains(latitude) || !(-180.0..=180.0).contains(longitude) {
                return Err(format!("({latitude}, {longitude}) is not a place on Earth"));
            }
            wa::Message {
                location_message: MessageField::some(wa::message::LocationMessage {
                    degrees_latitude: Some(*latitude),
                    degrees_longitude: Some(*longitude),
                    name: name.clone(),
                    address: address.clone(),
                    context_info: field(info),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::Contact { name, vcard } => wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some(name.clone()),
                vcard: Some(vcard.clone()),
                context_info: field(info),
                ..Default::default()
            }),
            ..Default::default()
        },
        Content::Poll { question, options, selectable } => poll(question, options, *selectable, info, extras)?,
        Content::Reaction { target, emoji } => {
            addon("reaction")?;
            wa::Message {
                reaction_message: MessageField::some(wa::message::ReactionMessage {
                    key: MessageField::some(key(target)),
                    text: Some(emoji.clone()),
                    sender_timestamp_ms: Some(extras.now_ms),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        Content::PollVote { .. } => return Err("wagate does not vote in polls".into()),
        Content::Edit { target, body } => {
            addon("edit")?;
            if target.sender.is_some() {
                return Err("only this account's own messages can be edited".into());
            }
            let mut key = key(target);
            // WhatsApp names the editor of a group message; in a 1:1 chat `from_me` says it.
            if target.chat.as_str().ends_with("@g.us") {
                key.participant = Some(extras.me.to_string());
            }
            protocol(key, wa::message::protocol_message::Type::MESSAGE_EDIT, Some(body), extras.now_ms)
        }
        Content::Revoke { target } => {
            addon("revoke")?;
            if target.sender.is_some() && !target.chat.as_str().ends_with("@g.us") {
                return Err("only this account's own messages can be deleted in a 1:1 chat".into());
            }
            // Someone else's message in a group: deleted as the group's admin.
            protocol(key(target), wa::message::protocol_message::Type::REVOKE, None, extras.now_ms)
        }
    };
    Ok(message)
}

fn uploaded<'a>(extras: &Extras<'a>) -> Result<&'a Uploaded, String> {
    extras.uploaded.ok_or_else(|| "the media was not uploaded".to_owned())
}

fn thumbnail(media: &Media) -> Option<Vec<u8>> {
    media.thumbnail.as_ref().map(|t| t.to_vec())
}

/// A poll as WhatsApp Web sends one: v3 for a single choice, v1 otherwise, with the
/// secret votes are encrypted with in the message's context.
fn poll(
    question: &str,
    options: &[String],
    selectable: u32,
    info: Option<wa::ContextInfo>,
    extras: &Extras<'_>,
) -> Result<wa::Message, String> {
    check_poll(question, options, selectable)?;
    let secret = extras.poll_secret.ok_or("the poll has no secret")?;
    let creation = wa::message::PollCreationMessage {
        name: Some(question.to_owned()),
        options: options
            .iter()
            .map(|name| wa::message::poll_creation_message::Option {
                option_name: Some(name.clone()),
                option_hash: None,
            })
            .collect(),
        selectable_options_count: Some(selectable),
        context_info: field(info),
        poll_content_type: Some(wa::message::PollContentType::TEXT),
        ..Default::default()
    };
    let mut message = if selectable == 1 {
        wa::Message { poll_creation_message_v3: MessageField::some(creation), ..Default::default() }
    } else {
        wa::Message { poll_creation_message: MessageField::some(creation), ..Default::default() }
    };
    message.message_context_info =
        MessageField::some(wa::MessageContextInfo { message_secret: Some(secret.to_vec()), ..Default::default() });
    Ok(message)
}

/// What WhatsApp takes for a poll; checked before anything (the poll's secret) is stored.
pub(crate) fn check_poll(question: &str, options: &[String], selectable: u32) -> Result<(), String> {
    if question.trim().is_empty() {
        return Err("a poll needs a question".into());
    }
    if !(2..=MAX_POLL_OPTIONS).contains(&options.len()) {
        return Err(format!("a poll needs 2 to {MAX_POLL_OPTIONS} options, not {}", options.len()));
    }
    for (i, option) in options.iter().enumerate() {
        if option.trim().is_empty() {
            return Err("a poll option cannot be empty".into());
        }
        if options[..i].contains(option) {
            return Err(format!("the poll option '{option}' appears twice"));
        }
    }
    if selectable as usize > options.len() {
        return Err(format!("a voter cannot pick {selectable} of {} options", options.len()));
    }
    Ok(())
}

fn protocol(
    key: wa::MessageKey,
    kind: wa::message::protocol_message::Type,
    body: Option<&str>,
    now_ms: i64,
) -> wa::Message {
    let edited = body.map(|b| wa::Message { conversation: Some(b.to_owned()), ..Default::default() });
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(key),
            r#type: Some(kind),
            edited_message: edited.map_or_else(MessageField::none, MessageField::some),
            timestamp_ms: body.map(|_| now_ms),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
