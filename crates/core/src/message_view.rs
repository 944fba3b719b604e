//! A message as clients see it: in API answers and in events. Only the documented
//! fields of the stored content are shown, never what wagate keeps for itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use wagate_store::MessageRecord;
use wagate_types::{Direction, FailureCode, MessageStatus, Origin, Priority};

use crate::content::rfc3339;

fn opt_rfc3339(t: Option<time::OffsetDateTime>) -> Option<String> {
    t.map(rfc3339)
}

/// A message and where it is in its life: one sent through wagate (`outbound`) or one
/// a session received (`inbound`, status `received`).
#[derive(Serialize, ToSchema)]
pub struct Message {
    id: String,
    /// The session that sends (or received) it.
    session: String,
    direction: Direction,
    /// The chat's WhatsApp JID: the other person's, or the group's.
    #[schema(example = "9611234567@s.whatsapp.net")]
    chat: String,
    /// Outbound: the recipient, E.164 for people, the JID for groups and others.
    /// Inbound: the receiving session's own number (E.164), empty if the session did
    /// not know its number yet.
    #[schema(example = "+9611234567")]
    to: String,
    /// Inbound only: who wrote it (in a group, the participant): E.164 when WhatsApp
    /// names the sender by phone number, else the JID (e.g. `…@lid`). Null for outbound.
    #[schema(example = "+4915123456789")]
    from: Option<String>,
    /// Inbound only: the name the sender set on their own phone, if WhatsApp passed it on.
    #[schema(example = "Ann")]
    push_name: Option<String>,
    /// What the message carries: `text`, `image`, `video`, `audio`, `document`,
    /// `sticker`, `location`, `contact`, `poll`, `reaction`; received ones also
    /// `poll_vote`, and `edit`/`revoke` (sent or received) change an earlier message.
    /// The content is in the field named after the kind.
    kind: String,
    /// The text of a `text` message (null once revoked).
    text: Option<String>,
    #[serde(flatten)]
    content: MessageContent,
    status: MessageStatus,
    priority: Priority,
    /// The id WhatsApp knows the message by.
    wa_id: String,
    /// Outbound: who queued it when no API client did: `opt_in` (the prompt and its
    /// confirmations) or `auto_reply`.
    origin: Option<Origin>,
    /// Send attempts so far.
    attempts: u32,
    /// Why the last attempt failed.
    error: Option<String>,
    /// The same as a code: `not_on_whatsapp`, `refused`, `rate_limited`, `timeout`,
    /// `network`, `media_error` or `invalid`; on a message still waiting, `logged_out`
    /// or `banned` say why its session does not send.
    error_code: Option<FailureCode>,
    send_at: Option<String>,
    /// When wagate stored it: accepted (outbound) or received (inbound).
    created_at: String,
    queued_at: Option<String>,
    /// Outbound: when the WhatsApp server acknowledged it. Inbound: when the sender
    /// sent it, by WhatsApp's clock.
    sent_at: Option<String>,
    delivered_at: Option<String>,
    read_at: Option<String>,
    played_at: Option<String>,
    failed_at: Option<String>,
    cancelled_at: Option<String>,
}

/// The content of a message, in the field named after its kind, and what happened to
/// it since. Files are described, never included: fetch them from `/api/v1/media/{media_id}`.
#[derive(Serialize, ToSchema, Default)]
pub struct MessageContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<MediaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<MediaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio: Option<MediaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<MediaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sticker: Option<MediaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LocationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<ContactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<PollView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reaction: Option<ReactionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_vote: Option<PollVoteView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edit: Option<EditView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoke: Option<TargetView>,
    /// A status (story) post's look and audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_post: Option<StatusView>,
    /// The quoted message.
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<ReplyView>,
    /// JIDs of the people named with `@`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mentions: Option<Vec<String>>,
    /// Emoji reactions, one per person.
    #[serde(skip_serializing_if = "Option::is_none")]
    reactions: Option<Vec<ReactionEntry>>,
    /// When the text or caption was last edited.
    #[serde(skip_serializing_if = "Option::is_none")]
    edited_at: Option<String>,
    /// When the message was deleted for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

/// A file a message carries (`image`, `video`, `audio`, `document`, `sticker`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MediaView {
    /// Fetch the file from `/api/v1/media/{media_id}`. For received media it is the
    /// message's id.
    media_id: String,
    #[schema(example = "image/jpeg")]
    mimetype: String,
    size: u64,
    /// Hex SHA-256 of the file.
    sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    /// Duration of audio and video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seconds: Option<u32>,
    /// Documents: the file name the recipient sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
    /// Audio: a voice note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ptt: Option<bool>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LocationView {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ContactView {
    name: String,
    /// The contact card, vCard 3.0.
    vcard: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PollView {
    question: String,
    options: Vec<String>,
    /// How many options a voter may pick.
    selectable: u32,
    /// Each voter (E.164, or JID) and the options they chose now.
    #[serde(default)]
    votes: std::collections::BTreeMap<String, Vec<String>>,
}

/// An emoji on an earlier message, empty when taken back.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReactionView {
    /// The message reacted to, when wagate sent the reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    /// The WhatsApp id of the message reacted to.
    wa_id: String,
    emoji: String,
}

/// A received vote on a poll; the poll's `votes` show it by option name.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PollVoteView {
    /// The WhatsApp id of the poll.
    wa_id: String,
    /// Hex SHA-256 of each chosen option's text; none: the vote was taken back.
    option_hashes: Vec<String>,
}

/// New text for an earlier message.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct EditView {
    /// The edited message, when wagate sent the edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    wa_id: String,
    text: String,
}

/// An earlier message this one is about (a revoke deletes it for everyone).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TargetView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    wa_id: String,
}

/// A status post: how a text status looks, and who may see it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// `#AARRGGBB`.
    #[schema(example = "#FF1E6E4F")]
    background: String,
    font: i32,
    /// The JIDs of the people who may see it.
    audience: Vec<String>,
}

/// A quoted message.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReplyView {
    /// The quoted message's id, when wagate sent the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    wa_id: String,
    /// The quoted text or caption, as shown above the reply.
    #[serde(default)]
    text: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReactionEntry {
    /// Who reacted: E.164, a JID, or (this session's own reaction) its number.
    from: String,
    emoji: String,
    at: String,
}

/// The stored field `key`, if it reads as `T`. One field at a time, so a field stored
/// in an unexpected shape hides only itself.
fn field<T: serde::de::DeserializeOwned>(stored: &Value, key: &str) -> Option<T> {
    stored.get(key).filter(|v| !v.is_null()).and_then(|v| T::deserialize(v).ok())
}

impl MessageContent {
    /// The stored content as shown: only the documented fields, whatever else is stored
    /// (such as the engine's description of a received file, which holds its key).
    fn of(stored: &Value) -> Self {
        Self {
            image: field(stored, "image"),
            video: field(stored, "video"),
            audio: field(stored, "audio"),
            document: field(stored, "document"),
            sticker: field(stored, "sticker"),
            location: field(stored, "location"),
            contact: field(stored, "contact"),
            poll: field(stored, "poll"),
            reaction: field(stored, "reaction"),
            poll_vote: field(stored, "poll_vote"),
            edit: field(stored, "edit"),
            revoke: field(stored, "revoke"),
            status_post: field(stored, "status_post"),
            reply_to: field(stored, "reply_to"),
            mentions: field(stored, "mentions"),
            reactions: field(stored, "reactions"),
            edited_at: field(stored, "edited_at"),
            revoked_at: field(stored, "revoked_at"),
        }
    }
}

impl From<MessageRecord> for Message {
    fn from(r: MessageRecord) -> Self {
        let text = r.content.get("text").and_then(|t| t.as_str()).map(str::to_owned);
        let content = MessageContent::of(&r.content);
        Self {
            id: r.id.to_string(),
            session: r.session_name.to_string(),
            direction: r.direction,
            chat: r.chat.to_string(),
            to: r.recipient,
            from: r.sender.map(|jid| jid.phone().map_or_else(|| jid.to_string(), |phone| phone.to_string())),
            push_name: r.push_name,
            kind: r.kind,
            text,
            content,
            status: r.status,
            priority: r.priority,
            wa_id: r.wa_id.to_string(),
            origin: r.origin,
            attempts: r.attempts,
            error: r.error,
            error_code: r.error_code,
            send_at: opt_rfc3339(r.send_at),
            created_at: rfc3339(r.created_at),
            queued_at: opt_rfc3339(r.queued_at),
            sent_at: opt_rfc3339(r.sent_at),
            delivered_at: opt_rfc3339(r.delivered_at),
            read_at: opt_rfc3339(r.read_at),
            played_at: opt_rfc3339(r.played_at),
            failed_at: opt_rfc3339(r.failed_at),
            cancelled_at: opt_rfc3339(r.cancelled_at),
        }
    }
}
