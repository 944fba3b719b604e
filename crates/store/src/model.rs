//! The rows the store reads and writes, in wagate's types.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use wagate_types::{
    ChatId, Direction, FailureCode, IdempotencyKey, MessageId, MessageStatus, Priority, SessionId, SessionName,
    SessionStatus, TenantId, WaMessageId,
};

/// A session's settings, stored as one JSON document so new ones need no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// Shortest pause between two sends, in milliseconds.
    pub throttle_min_ms: u64,
    /// Longest pause between two sends, in milliseconds.
    pub throttle_max_ms: u64,
    /// How this session's pictures are prepared; `None`: the gateway's `[media]` settings.
    pub images: Option<ImageSettings>,
    /// Ask WhatsApp whether a number has an account before the first send to it, and
    /// fail sends to numbers that have none (`not_on_whatsapp`) instead of sending them.
    pub check_numbers: bool,
    /// At most this many sends in any minute, hour and day; `None`: no cap.
    pub cap_per_minute: Option<u32>,
    pub cap_per_hour: Option<u32>,
    pub cap_per_day: Option<u32>,
    /// Hours in which nothing is sent; messages wait for their end.
    pub quiet_hours: Option<QuietHours>,
    /// A new number's daily caps, growing: the first entry holds on the day of its
    /// first send, the next on the day after, …; none after the last.
    pub warmup: Vec<u32>,
}

/// A daily stretch without sends, in a time zone: `22:00`–`08:00` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    pub start: String,
    pub end: String,
    /// An IANA time zone, e.g. `Asia/Beirut`.
    pub time_zone: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        // A cold number sending like a person: one message every 8–22 seconds.
        Self {
            throttle_min_ms: 8_000,
            throttle_max_ms: 22_000,
            images: None,
            check_numbers: false,
            cap_per_minute: None,
            cap_per_hour: None,
            cap_per_day: None,
            quiet_hours: None,
            warmup: Vec::new(),
        }
    }
}

/// How pictures sent as `image` are prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSettings {
    /// The longest side of a re-encoded picture, in pixels.
    pub max_side: u32,
    /// JPEG quality (1–100) of a re-encoded picture.
    pub jpeg_quality: u8,
    /// `false`: pictures go as given.
    pub reencode: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub tenant: TenantId,
    pub name: SessionName,
    pub status: SessionStatus,
    pub status_reason: Option<String>,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub last_seen_at: Option<OffsetDateTime>,
    pub settings: SessionSettings,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A session's connection state as the engine last reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    pub status: SessionStatus,
    pub reason: Option<String>,
    /// Kept as they were when `None`.
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub last_seen_at: Option<OffsetDateTime>,
}

/// An outbound message to accept, fully validated.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub tenant: TenantId,
    pub session_id: SessionId,
    pub session_name: SessionName,
    pub chat: ChatId,
    /// The recipient as shown to clients: E.164 for people, the JID otherwise.
    pub recipient: String,
    pub kind: String,
    /// The content object as the API shows it, e.g. `{"text":"Hi"}`.
    pub content: serde_json::Value,
    pub wa_id: WaMessageId,
    pub priority: Priority,
    pub send_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub idempotency: Option<Idempotency>,
}

/// An `Idempotency-Key` and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    pub request_hash: String,
}

/// What became of one message of an accepted batch.
#[derive(Debug, Clone)]
pub enum AcceptOutcome {
    /// Stored now.
    Created(MessageRecord),
    /// The same key and request were accepted before: this is that message.
    Replayed(MessageRecord),
    /// The key was used before with a different request.
    KeyReused,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub tenant: TenantId,
    pub session_id: SessionId,
    pub session_name: SessionName,
    pub direction: Direction,
    pub chat: ChatId,
    /// Outbound: the recipient as shown to clients (E.164 for people, else the JID).
    /// Inbound: the receiving session's own number when it was known, else empty.
    pub recipient: String,
    /// Inbound only: who wrote the message (in a group, the participant).
    pub sender: Option<ChatId>,
    /// Inbound only: the name the sender set on their phone.
    pub push_name: Option<String>,
    pub kind: String,
    pub content: serde_json::Value,
    pub wa_id: WaMessageId,
    pub status: MessageStatus,
    pub priority: Priority,
    pub send_at: Option<OffsetDateTime>,
    pub next_attempt_at: OffsetDateTime,
    pub attempts: u32,
    pub error: Option<String>,
    /// Why the send failed (or its last attempt did), as a code.
    pub error_code: Option<FailureCode>,
    pub created_at: OffsetDateTime,
    pub queued_at: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub read_at: Option<OffsetDateTime>,
    pub played_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
}

/// Which messages to list; all filters are optional. Newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub session_id: Option<SessionId>,
    pub status: Option<MessageStatus>,
    pub direction: Option<Direction>,
    pub chat: Option<ChatId>,
    pub since: Option<OffsetDateTime>,
    /// Only messages older than this one (the cursor).
    pub before: Option<MessageId>,
    pub limit: u32,
}

/// How one send attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// The WhatsApp server acknowledged the message.
    Sent { at: OffsetDateTime },
    /// Try again later; counts against the retry limit.
    Retry { at: OffsetDateTime, error: String, code: FailureCode },
    /// The session was not connected: back in the queue, no attempt counted.
    NotAttempted,
    /// Give up.
    Failed { at: OffsetDateTime, error: String, code: FailureCode },
}

/// What a status change by a client found.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "short-lived return value; boxing buys nothing")]
pub enum Transition {
    Done(MessageRecord),
    /// The message exists but is in a status that does not allow the change.
    WrongStatus(MessageStatus),
    /// The message was received, not sent: there is nothing to cancel or send again.
    Inbound,
    NotFound,
}

/// A message a session received, to commit. Its session is given beside the batch.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub id: MessageId,
    /// Where it was posted: the sender's own chat, or a group.
    pub chat: ChatId,
    /// Who wrote it. With `chat` and `wa_id` it identifies the message, so a
    /// redelivered copy is recognised.
    pub sender: ChatId,
    pub push_name: Option<String>,
    pub wa_id: WaMessageId,
    pub kind: String,
    /// The content object as the API shows it, e.g. `{"text":"Hi"}`.
    pub content: serde_json::Value,
    /// When the sender sent it, by WhatsApp's clock; stored as the message's `sent_at`.
    pub sent_at: OffsetDateTime,
    /// A reaction, vote, edit or revoke: the WhatsApp id of the earlier message in the
    /// same chat it changes. The commit applies it to that message, if stored.
    pub target: Option<WaMessageId>,
}

/// Applies a received message to the earlier one it targets: gets the received
/// message, the target's kind, its author (`None`: the session's own account, i.e. an
/// outbound message) and its content to change in place; returns whether it changed it.
pub type ApplyFn = dyn Fn(&NewInbound, &str, Option<&ChatId>, &mut serde_json::Value) -> bool + Send + Sync;

/// What a commit of received messages does beyond storing them: apply reactions,
/// votes, edits and revokes to the messages they target, and tell the events each
/// newly stored message gives. Called inside the commit's transaction.
pub trait InboundRules: Send + Sync {
    /// As [`ApplyFn`].
    fn apply(&self, update: &NewInbound, kind: &str, author: Option<&ChatId>, content: &mut serde_json::Value) -> bool;

    /// The events of a message stored now; `target`: the stored message it targets.
    fn events(&self, stored: &MessageRecord, target: Option<&Target>) -> Vec<crate::NewEvent>;
}

/// The earlier message a received update targets, as it is after the update.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub message: MessageRecord,
    /// Whether the update changed it (an edit by someone else than the author does not).
    pub changed: bool,
}

/// Someone who wrote to a session.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRecord {
    pub tenant: TenantId,
    pub session_id: SessionId,
    pub jid: ChatId,
    /// E.164, when the JID is a phone number's.
    pub phone: Option<String>,
    /// The newest push name they were seen with.
    pub push_name: Option<String>,
    /// When wagate first and last stored a message from them.
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// WhatsApp's time of their newest message.
    pub last_message_at: OffsetDateTime,
    /// Messages stored from them (redeliveries not counted).
    pub messages_received: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    /// The first characters of the key, shown in lists so people can tell keys apart.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}
