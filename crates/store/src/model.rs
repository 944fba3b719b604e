//! The rows the store reads and writes, in wagate's types.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use wagate_types::{
    ChatId, Direction, FailureCode, IdempotencyKey, MessageId, MessageStatus, OptInMode, OptInStatus, Origin, Priority,
    SessionId, SessionName, SessionStatus, TenantId, TextMatch, WaMessageId,
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
    /// Whether contacts are asked before anything is sent to them.
    pub opt_in: OptInSettings,
    /// Answers to received messages, by rule.
    pub auto_reply: AutoReplySettings,
    /// At least this many seconds between two sends to the same recipient.
    pub recipient_spacing_seconds: Option<u32>,
    /// Caps of each priority lane, on top of the session's.
    pub lanes: Lanes,
    /// Show "typing…" before each text for as long as a person would take to type it
    /// (unless the message asks for its own `typing_ms`).
    pub simulate_typing: bool,
}

/// Caps per priority lane: transactional messages (`high`) before bulk (`low`), each
/// held to its own caps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lanes {
    pub high: LaneCaps,
    pub normal: LaneCaps,
    pub low: LaneCaps,
}

impl Lanes {
    pub fn of(&self, priority: Priority) -> &LaneCaps {
        match priority {
            Priority::High => &self.high,
            Priority::Normal => &self.normal,
            Priority::Low => &self.low,
        }
    }
}

/// At most this many sends of a lane in any minute, hour and day; `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LaneCaps {
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
}

impl LaneCaps {
    pub fn is_free(&self) -> bool {
        self.per_minute.is_none() && self.per_hour.is_none() && self.per_day.is_none()
    }
}

/// A session's auto-replies: the first matching rule (highest priority first, then in
/// order) answers; without a match, the default reply, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AutoReplySettings {
    pub rules: Vec<AutoReplyRule>,
    pub default_reply: Option<String>,
    /// Answer one contact at most once in this many seconds.
    pub cooldown_seconds: u64,
    /// Answer only within these hours (`None`: always); the window may span midnight.
    pub active_hours: Option<QuietHours>,
    /// Answer in groups too.
    pub groups: bool,
}

/// One auto-reply rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoReplyRule {
    #[serde(rename = "match")]
    pub matching: TextMatch,
    pub pattern: String,
    pub reply: String,
    #[serde(default)]
    pub priority: i32,
}

/// A session's opt-in: the mode, and the texts it answers with (`None`: the default,
/// in English and Arabic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptInSettings {
    pub mode: OptInMode,
    /// Sent to a new contact's first message.
    pub prompt: Option<String>,
    /// Sent when a contact agrees (or sends START).
    pub on_yes: Option<String>,
    /// Sent when a contact declines (or sends STOP).
    pub on_no: Option<String>,
}

impl Default for OptInSettings {
    fn default() -> Self {
        Self { mode: OptInMode::Off, prompt: None, on_yes: None, on_no: None }
    }
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
            opt_in: OptInSettings::default(),
            auto_reply: AutoReplySettings::default(),
            recipient_spacing_seconds: None,
            lanes: Lanes::default(),
            simulate_typing: false,
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
    /// `None`: an API client's message.
    pub origin: Option<Origin>,
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
    /// Outbound: who queued it when no API client did.
    pub origin: Option<Origin>,
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

/// Which due messages a claim passes over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// Priorities whose lane is at its cap.
    pub skip_priorities: Vec<Priority>,
    /// Messages to a recipient sent to less than this long ago wait.
    pub recipient_spacing: Option<std::time::Duration>,
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
    /// Not sent, and never will be: the recipient opted out (or never opted in).
    OptedOut { at: OffsetDateTime, error: String },
    /// Not sent yet, waiting for something else than the queue (the recipient's answer
    /// to the opt-in prompt); back in the queue until `until`, no attempt counted.
    Held { until: OffsetDateTime, error: String },
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

    /// What [`respond`](Self::respond) needs read for a message stored now.
    fn needs(&self, _settings: &SessionSettings, _stored: &MessageRecord) -> Needs {
        Needs::default()
    }

    /// What a message stored now makes the session do in the same transaction, given
    /// the session's settings and what [`needs`](Self::needs) asked for, read in that
    /// transaction: change the sender's opt-in, queue replies.
    fn respond(&self, _settings: &SessionSettings, _stored: &MessageRecord, _known: &Known) -> Response {
        Response::default()
    }
}

/// What to read for [`InboundRules::respond`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The opt-in of this contact (as opt-ins name them).
    pub opt_in_of: Option<String>,
    /// The session's auto-replies to the message's chat.
    pub auto_replies: bool,
}

/// What was read for [`InboundRules::respond`]; `None` where it was not asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub opt_in: Option<OptInStatus>,
    pub auto_replies: Option<AutoReplies>,
}

/// The session's auto-replies to one chat so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutoReplies {
    /// When the newest was queued, and when it went out (if it did).
    pub last_at: Option<OffsetDateTime>,
    pub last_sent_at: Option<OffsetDateTime>,
    /// How many were queued in the hour before the message.
    pub last_hour: u32,
}

/// What a received message makes a session do; see [`InboundRules::respond`].
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub opt_in: Option<OptInChange>,
    /// Outbound messages to queue.
    pub replies: Vec<NewMessage>,
}

/// A change of a contact's opt-in, with the event that tells of it.
#[derive(Debug, Clone)]
pub struct OptInChange {
    /// E.164 for phone numbers, else the JID.
    pub contact: String,
    pub status: OptInStatus,
    /// `reply`, `keyword`, `first_message` or `api`.
    pub how: String,
    /// The API key that made the change; `None`: the contact.
    pub actor: Option<String>,
    /// What the contact wrote, or an API client's note.
    pub note: Option<String>,
    pub event: crate::NewEvent,
}

/// A contact's opt-in as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct OptInRecord {
    pub contact: String,
    pub status: OptInStatus,
    pub changed_at: OffsetDateTime,
}

/// One entry of a contact's opt-in audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct OptInChangeRecord {
    pub status: OptInStatus,
    pub how: String,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub at: OffsetDateTime,
}

/// A number nothing is sent to, by any session of the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressionRecord {
    /// E.164.
    pub phone: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub created_at: OffsetDateTime,
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
