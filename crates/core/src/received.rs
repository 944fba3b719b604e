//! Received messages as stored, and how the ones that change an earlier message
//! (reactions, poll votes, edits, revokes) apply to it.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wagate_engine::{Content, IncomingMessage, Media, MessageRef};
use wagate_store::NewInbound;
use wagate_types::{ChatId, MessageId};

use crate::content::{rfc3339, set_text, set_time};

/// Where in a received media message's stored content the engine's description of the
/// file is kept (it holds the decryption key). Internal: whatever shows content to
/// clients (the API's message resource) leaves it out.
pub const MEDIA_SOURCE: &str = "engine_media_source";

/// The row a received message is stored as; its content as the API shows it, plus the
/// engine's description of a file under [`MEDIA_SOURCE`].
pub fn row_of(message: &IncomingMessage) -> NewInbound {
    let id = MessageId::new();
    let mut media_source = None;
    let mut target = None;
    let mut media_json = |media: &Media, extra: Value| {
        media_source = media.source.clone();
        let mut object = json!({
            "media_id": id.to_string(),
            "mimetype": media.mimetype,
            "size": media.size,
            "sha256": media.sha256,
            "width": media.width,
            "height": media.height,
            "seconds": media.seconds,
        });
        if let (Some(object), Value::Object(extra)) = (object.as_object_mut(), extra) {
            object.extend(extra);
        }
        object
    };
    let kind = message.content.kind();
    let mut content = match &message.content {
        Content::Text { body } => json!({ "text": body }),
        Content::Image { media, caption } | Content::Video { media, caption } => {
            json!({ kind: media_json(media, json!({ "caption": caption })) })
        }
        Content::Audio { media, ptt } => json!({ kind: media_json(media, json!({ "ptt": ptt })) }),
        Content::Document { media, filename, caption } => {
            json!({ kind: media_json(media, json!({ "filename": filename, "caption": caption })) })
        }
        Content::Sticker { media } => json!({ kind: media_json(media, json!({})) }),
        Content::Location { latitude, longitude, name, address } => json!({
            kind: { "latitude": latitude, "longitude": longitude, "name": name, "address": address }
        }),
        Content::Contact { name, vcard } => json!({ kind: { "name": name, "vcard": vcard } }),
        Content::Poll { question, options, selectable } => json!({
            kind: { "question": question, "options": options, "selectable": selectable, "votes": {} }
        }),
        Content::Reaction { target: t, emoji } => {
            target = Some(t.wa_id.clone());
            json!({ kind: { "wa_id": t.wa_id.as_str(), "sender": sender_of(t), "emoji": emoji } })
        }
        Content::PollVote { poll, option_hashes } => {
            target = Some(poll.wa_id.clone());
            json!({ kind: { "wa_id": poll.wa_id.as_str(), "sender": sender_of(poll), "option_hashes": option_hashes } })
        }
        Content::Edit { target: t, body } => {
            target = Some(t.wa_id.clone());
            json!({ kind: { "wa_id": t.wa_id.as_str(), "sender": sender_of(t), "text": body } })
        }
        Content::Revoke { target: t } => {
            target = Some(t.wa_id.clone());
            json!({ kind: { "wa_id": t.wa_id.as_str(), "sender": sender_of(t) } })
        }
    };
    if let (Some(object), Some(quote)) = (content.as_object_mut(), &message.context.reply_to) {
        let reply =
            json!({ "wa_id": quote.message.wa_id.as_str(), "sender": sender_of(&quote.message), "text": quote.text });
        object.insert("reply_to".into(), reply);
    }
    if let Some(object) = content.as_object_mut()
        && !message.context.mentions.is_empty()
    {
        object.insert("mentions".into(), message.context.mentions.iter().map(|m| Value::from(m.as_str())).collect());
    }
    if let (Some(object), Some(source)) = (content.as_object_mut(), media_source) {
        object.insert(MEDIA_SOURCE.into(), source);
    }
    NewInbound {
        id,
        chat: message.chat.clone(),
        sender: message.sender.clone(),
        push_name: message.push_name.clone(),
        wa_id: message.wa_id.clone(),
        kind: kind.to_owned(),
        content,
        sent_at: message.at,
        target,
    }
}

fn sender_of(message: &MessageRef) -> Option<&str> {
    message.sender.as_ref().map(ChatId::as_str)
}

/// How a contact is named in reactions and votes: E.164 for phone numbers, else the JID.
pub(crate) fn who(jid: &ChatId) -> String {
    jid.phone().map_or_else(|| jid.to_string(), |p| p.to_string())
}

/// Applies a received reaction, vote, edit or revoke (`update`) to the earlier message
/// it names, of `kind` and written by `author` (`None`: this session's own account).
/// Edits and revokes count only from the message's own author.
pub fn apply(update: &NewInbound, kind: &str, author: Option<&ChatId>, content: &mut Value) -> bool {
    let Some(change) = update.content.get(&update.kind) else { return false };
    let from = who(&update.sender);
    match update.kind.as_str() {
        "reaction" => {
            let emoji = change.get("emoji").and_then(Value::as_str).unwrap_or_default();
            set_reaction(content, &from, emoji, update.sent_at)
        }
        "poll_vote" if kind == "poll" => {
            let hashes: Vec<&str> = change
                .get("option_hashes")
                .and_then(Value::as_array)
                .map(|h| h.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let Some(poll) = content.get_mut("poll").and_then(Value::as_object_mut) else { return false };
            let chosen: Vec<Value> = poll
                .get("options")
                .and_then(Value::as_array)
                .map(|options| {
                    options
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|o| hashes.iter().any(|h| h.eq_ignore_ascii_case(&option_hash(o))))
                        .map(Value::from)
                        .collect()
                })
                .unwrap_or_default();
            let votes = poll.entry("votes").or_insert_with(|| json!({}));
            let Some(votes) = votes.as_object_mut() else { return false };
            if chosen.is_empty() {
                votes.remove(&from);
            } else {
                votes.insert(from, Value::Array(chosen));
            }
            true
        }
        "edit" if author == Some(&update.sender) => {
            let text = change.get("text").and_then(Value::as_str);
            let edited = set_text(kind, content, text);
            if edited {
                set_time(content, "edited_at", update.sent_at);
            }
            edited
        }
        "revoke" if author == Some(&update.sender) => {
            set_text(kind, content, None);
            set_time(content, "revoked_at", update.sent_at);
            true
        }
        _ => false,
    }
}

/// Puts `from`'s reaction on a message's content, replacing their earlier one; an empty
/// emoji takes it back.
pub fn set_reaction(content: &mut Value, from: &str, emoji: &str, at: time::OffsetDateTime) -> bool {
    let Some(object) = content.as_object_mut() else { return false };
    let reactions = object.entry("reactions").or_insert_with(|| json!([]));
    let Some(list) = reactions.as_array_mut() else { return false };
    list.retain(|r| r.get("from").and_then(Value::as_str) != Some(from));
    if !emoji.is_empty() {
        list.push(json!({ "from": from, "emoji": emoji, "at": rfc3339(at) }));
    }
    true
}

/// How WhatsApp names a poll option in a vote: hex SHA-256 of its text.
pub fn option_hash(option: &str) -> String {
    hex::encode(Sha256::digest(option.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use wagate_engine::Context;
    use wagate_types::WaMessageId;

    fn jid(user: &str) -> ChatId {
        ChatId::parse(&format!("{user}@s.whatsapp.net")).unwrap()
    }

    fn incoming(from: &str, content: Content) -> NewInbound {
        row_of(&IncomingMessage {
            wa_id: WaMessageId::generate(),
            chat: jid(from),
            sender: jid(from),
            push_name: None,
            at: OffsetDateTime::now_utc(),
            content,
            context: Context::default(),
        })
    }

    fn target(wa_id: &str) -> MessageRef {
        MessageRef { chat: jid("15550000001"), wa_id: WaMessageId::from_stored(wa_id.into()), sender: None }
    }

    #[test]
    fn votes_map_option_hashes_to_names_and_replace_earlier_votes() {
        let mut poll = json!({ "poll": { "question": "Lunch?", "options": ["Pizza", "Sushi"], "votes": {} } });
        let vote = |hashes: Vec<String>| {
            incoming("15550000001", Content::PollVote { poll: target("P1"), option_hashes: hashes })
        };
        assert!(apply(&vote(vec![option_hash("Sushi")]), "poll", None, &mut poll));
        assert_eq!(poll["poll"]["votes"], json!({ "+15550000001": ["Sushi"] }));
        assert!(apply(&vote(vec![]), "poll", None, &mut poll));
        assert_eq!(poll["poll"]["votes"], json!({}));
    }

    #[test]
    fn one_reaction_per_sender_and_an_empty_emoji_removes_it() {
        let mut text = json!({ "text": "Hi" });
        let react =
            |emoji: &str| incoming("15550000001", Content::Reaction { target: target("T1"), emoji: emoji.into() });
        apply(&react("👍"), "text", None, &mut text);
        apply(&react("❤️"), "text", None, &mut text);
        assert_eq!(text["reactions"].as_array().unwrap().len(), 1);
        assert_eq!(text["reactions"][0]["emoji"], "❤️");
        apply(&react(""), "text", None, &mut text);
        assert_eq!(text["reactions"], json!([]));
    }

    #[test]
    fn only_the_author_edits_or_revokes() {
        let mut text = json!({ "text": "Hi" });
        let edit = incoming("15550000001", Content::Edit { target: target("T1"), body: "Hello".into() });
        assert!(!apply(&edit, "text", Some(&jid("15550000002")), &mut text));
        assert!(!apply(&edit, "text", None, &mut text), "a contact cannot edit this account's message");
        assert!(apply(&edit, "text", Some(&jid("15550000001")), &mut text));
        assert_eq!(text["text"], "Hello");
        assert!(text["edited_at"].is_string());
        let revoke = incoming("15550000001", Content::Revoke { target: target("T1") });
        assert!(apply(&revoke, "text", Some(&jid("15550000001")), &mut text));
        assert_eq!(text["text"], Value::Null);
        assert!(text["revoked_at"].is_string());
    }
}
