//! Message content in its three shapes: what a client asks to send ([`NewContent`]),
//! the JSON stored in a message row and shown by the API (`{"image": {...}}`,
//! `{"text": "Hi"}`, plus `reply_to`, `mentions`, `reactions`, `edited_at`,
//! `revoked_at`), and the engine's [`Content`] built from that JSON when sending.

use serde_json::{Value, json};
use wagate_engine::{Content, Context, MessageRef, Quote, StatusPost};
use wagate_types::{ChatId, MessageId, WaMessageId};

use crate::MessageRecord;

/// Longest text or caption WhatsApp takes.
pub const MAX_TEXT: usize = 65_536;
/// How many options a poll may have.
pub const POLL_OPTIONS: std::ops::RangeInclusive<usize> = 2..=12;

/// What a client asks to send, validated at the API's edge.
#[derive(Debug)]
pub enum NewContent {
    Text(String),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A contact card; `vcard` is complete (built from name and phone if need be).
    Contact {
        name: String,
        vcard: String,
    },
    Poll {
        question: String,
        options: Vec<String>,
        selectable: u32,
    },
    /// An emoji on a stored message of the same session; empty takes it back.
    Reaction {
        message_id: MessageId,
        emoji: String,
    },
    /// A file to send; taken in and stored when the message is accepted.
    Media(crate::media_send::NewMedia),
}

impl NewContent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Location { .. } => "location",
            Self::Contact { .. } => "contact",
            Self::Poll { .. } => "poll",
            Self::Reaction { .. } => "reaction",
            Self::Media(media) => media.kind.as_str(),
        }
    }
}

/// A vCard 3.0 for a contact card sent by name and phone number. WhatsApp's phones read
/// the `waid` parameter to offer "message" and "add" buttons.
pub fn vcard(name: &str, phone: &wagate_types::PhoneNumber) -> String {
    let escaped = name.replace('\\', "\\\\").replace(',', "\\,").replace(';', "\\;");
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;{escaped};;;\r\nFN:{escaped}\r\nTEL;type=CELL;waid={}:{}\r\nEND:VCARD\r\n",
        phone.digits(),
        phone.as_str()
    )
}

/// Whether `text` looks like a vCard: starts with `BEGIN:VCARD`, ends with `END:VCARD`,
/// and names a version.
pub fn looks_like_vcard(text: &str) -> bool {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    upper.starts_with("BEGIN:VCARD") && upper.ends_with("END:VCARD") && upper.contains("VERSION:")
}

/// The text a message shows: its text, or its caption.
pub fn shown_text(kind: &str, content: &Value) -> Option<String> {
    let text = match kind {
        "text" => content.get("text"),
        other => content.get(other).and_then(|o| o.get("caption")),
    };
    text.and_then(Value::as_str).map(str::to_owned)
}

/// `reply_to` as stored: which message is quoted and what it showed.
pub fn reply_json(target: &MessageRecord) -> Value {
    json!({
        "message_id": target.id.to_string(),
        "wa_id": target.wa_id.as_str(),
        "sender": target.sender.as_ref().map(ChatId::as_str),
        "text": shown_text(&target.kind, &target.content),
    })
}

/// Adds `reply_to` and `mentions` to stored content.
pub fn with_context(mut content: Value, reply_to: Option<Value>, mentions: &[ChatId]) -> Value {
    if let Some(object) = content.as_object_mut() {
        if let Some(reply) = reply_to {
            object.insert("reply_to".into(), reply);
        }
        if !mentions.is_empty() {
            object.insert("mentions".into(), mentions.iter().map(|m| Value::from(m.as_str())).collect());
        }
    }
    content
}

/// Notes in the stored content how long to show "typing…" before sending (0: not at all).
pub fn with_typing(mut content: Value, typing_ms: u32) -> Value {
    if let (Some(object), true) = (content.as_object_mut(), typing_ms > 0) {
        object.insert("typing_ms".into(), Value::from(typing_ms));
    }
    content
}

/// A status post's look and audience, stored beside its content as
/// `"status_post": {"background": "#AARRGGBB", "font": 1, "audience": [JIDs]}`.
pub fn with_status(mut content: Value, status: Option<&StatusPost>) -> Value {
    if let (Some(object), Some(status)) = (content.as_object_mut(), status) {
        let audience: Vec<&str> = status.audience.iter().map(ChatId::as_str).collect();
        let background = format!("#{:08X}", status.background_argb);
        object.insert(
            "status_post".into(),
            json!({ "background": background, "font": status.font, "audience": audience }),
        );
    }
    content
}

/// The status post a stored message is, if it is one.
pub fn status_of(content: &Value) -> Option<StatusPost> {
    let status = content.get("status_post")?;
    let background = status.get("background").and_then(Value::as_str)?.trim_start_matches('#');
    Some(StatusPost {
        audience: status
            .get("audience")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(Value::as_str)
            .map(|jid| ChatId::from_stored(jid.to_owned()))
            .collect(),
        background_argb: u32::from_str_radix(background, 16).ok()?,
        font: status.get("font").and_then(Value::as_i64).and_then(|f| i32::try_from(f).ok())?,
    })
}

/// How long a stored message asks to show "typing…" first.
pub fn typing_ms(content: &Value) -> u32 {
    content.get("typing_ms").and_then(Value::as_u64).map_or(0, |ms| ms.min(u64::from(u32::MAX)) as u32)
}

/// The stored content of a message to send that carries no file.
pub fn plain_json(content: &NewContent, reaction_target: Option<&MessageRecord>) -> Value {
    match content {
        NewContent::Text(text) => json!({ "text": text }),
        NewContent::Location { latitude, longitude, name, address } => json!({
            "location": { "latitude": latitude, "longitude": longitude, "name": name, "address": address }
        }),
        NewContent::Contact { name, vcard } => json!({ "contact": { "name": name, "vcard": vcard } }),
        NewContent::Poll { question, options, selectable } => json!({
            "poll": { "question": question, "options": options, "selectable": selectable, "votes": {} }
        }),
        NewContent::Reaction { emoji, .. } => {
            let mut reaction = reaction_target.map(target_json).unwrap_or_else(|| json!({}));
            reaction["emoji"] = Value::from(emoji.as_str());
            json!({ "reaction": reaction })
        }
        // Described by `media_send::ingest` once the file is stored.
        NewContent::Media(_) => json!({}),
    }
}

/// Which stored message a reaction, edit or revoke is about.
pub fn target_json(target: &MessageRecord) -> Value {
    json!({
        "message_id": target.id.to_string(),
        "wa_id": target.wa_id.as_str(),
        "sender": target.sender.as_ref().map(ChatId::as_str),
    })
}

fn str_of<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn opt_string(object: &Value, key: &str) -> Option<String> {
    str_of(object, key).map(str::to_owned)
}

/// The earlier message a stored reaction, edit or revoke names, in `chat`.
fn target_ref(object: &Value, chat: &ChatId) -> Result<MessageRef, String> {
    let wa_id = str_of(object, "wa_id").ok_or("the stored message names no target")?;
    Ok(MessageRef {
        chat: chat.clone(),
        wa_id: WaMessageId::from_stored(wa_id.to_owned()),
        sender: str_of(object, "sender").map(|s| ChatId::from_stored(s.to_owned())),
    })
}

/// The engine's content of a stored message without a file. Media kinds are built by
/// [`crate::media_send`], which has their bytes.
pub fn engine_content(kind: &str, content: &Value, chat: &ChatId) -> Result<Content, String> {
    let object = content.get(kind).unwrap_or(&Value::Null);
    let missing = |what: &str| format!("the stored {kind} message has no {what}");
    Ok(match kind {
        "text" => Content::Text { body: str_of(content, "text").ok_or_else(|| missing("text"))?.to_owned() },
        "location" => Content::Location {
            latitude: object.get("latitude").and_then(Value::as_f64).ok_or_else(|| missing("latitude"))?,
            longitude: object.get("longitude").and_then(Value::as_f64).ok_or_else(|| missing("longitude"))?,
            name: opt_string(object, "name"),
            address: opt_string(object, "address"),
        },
        "contact" => Content::Contact {
            name: opt_string(object, "name").ok_or_else(|| missing("name"))?,
            vcard: opt_string(object, "vcard").ok_or_else(|| missing("vcard"))?,
        },
        "poll" => Content::Poll {
            question: opt_string(object, "question").ok_or_else(|| missing("question"))?,
            options: object
                .get("options")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("options"))?
                .iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect(),
            selectable: object.get("selectable").and_then(Value::as_u64).unwrap_or(1) as u32,
        },
        "reaction" => Content::Reaction {
            target: target_ref(object, chat)?,
            emoji: opt_string(object, "emoji").unwrap_or_default(),
        },
        "edit" => Content::Edit {
            target: target_ref(object, chat)?,
            body: opt_string(object, "text").ok_or_else(|| missing("text"))?,
        },
        "revoke" => Content::Revoke { target: target_ref(object, chat)? },
        other => return Err(format!("wagate cannot send '{other}' messages")),
    })
}

/// The engine's context (quote, mentions) of a stored message.
pub fn engine_context(content: &Value, chat: &ChatId) -> Context {
    let reply_to = content.get("reply_to").and_then(|reply| {
        let wa_id = str_of(reply, "wa_id")?;
        Some(Quote {
            message: MessageRef {
                chat: chat.clone(),
                wa_id: WaMessageId::from_stored(wa_id.to_owned()),
                sender: str_of(reply, "sender").map(|s| ChatId::from_stored(s.to_owned())),
            },
            text: opt_string(reply, "text"),
        })
    });
    let mentions = content
        .get("mentions")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(|j| j.as_str()).map(|j| ChatId::from_stored(j.to_owned())).collect())
        .unwrap_or_default();
    Context { reply_to, mentions }
}

/// Replaces a message's text or caption (an edit). False for kinds without either.
pub fn set_text(kind: &str, content: &mut Value, text: Option<&str>) -> bool {
    let slot = match kind {
        "text" => content.as_object_mut(),
        "image" | "video" | "document" => content.get_mut(kind).and_then(Value::as_object_mut),
        _ => None,
    };
    let Some(slot) = slot else { return false };
    let key = if kind == "text" { "text" } else { "caption" };
    slot.insert(key.to_owned(), text.map_or(Value::Null, Value::from));
    true
}

/// Sets a top-level time field (`edited_at`, `revoked_at`).
pub fn set_time(content: &mut Value, key: &str, at: time::OffsetDateTime) {
    if let Some(object) = content.as_object_mut() {
        object.insert(key.to_owned(), Value::from(rfc3339(at)));
    }
}

pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_vcard_looks_like_one() {
        let phone = wagate_types::PhoneNumber::parse("+4915123456789", None).unwrap();
        let card = vcard("Ann; Lee", &phone);
        assert!(looks_like_vcard(&card), "{card}");
        assert!(card.contains("FN:Ann\\; Lee\r\n"), "{card}");
        assert!(card.contains("waid=4915123456789:+4915123456789"), "{card}");
        assert!(!looks_like_vcard("hello"));
    }

    #[test]
    fn edits_touch_text_or_caption_only() {
        let mut text = json!({ "text": "old" });
        assert!(set_text("text", &mut text, Some("new")));
        assert_eq!(text["text"], "new");
        let mut image = json!({ "image": { "media_id": "x", "caption": "old" } });
        assert!(set_text("image", &mut image, Some("new")));
        assert_eq!(image["image"]["caption"], "new");
        let mut poll = json!({ "poll": { "question": "q" } });
        assert!(!set_text("poll", &mut poll, Some("new")));
    }
}
