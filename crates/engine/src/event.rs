use time::OffsetDateTime;
use wagate_types::{ChatId, PhoneNumber, ReceiptKind, WaMessageId};

use crate::{Content, Context, GroupChange};

/// What a running session reports, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A QR code to scan with the phone; replaces the previous one.
    Qr { code: String, expires_at: OffsetDateTime },
    /// Linked and online as this account.
    Connected { phone: PhoneNumber, push_name: Option<String> },
    /// The connection dropped; `retrying` says whether the engine reconnects by itself.
    Disconnected { reason: String, retrying: bool },
    /// The phone unlinked this device, or credentials were refused: a new QR scan is
    /// needed. The engine does not reconnect.
    LoggedOut { reason: String },
    /// The session cannot run (no engine in this build, refused by WhatsApp…) and
    /// waits for a restart.
    Stopped { reason: String },
    /// WhatsApp banned the number for a while; the engine reconnects at `until`.
    Banned { until: OffsetDateTime, reason: String },
    /// A contact the session follows came online or went offline.
    Presence { chat: ChatId, available: bool, last_seen: Option<OffsetDateTime> },
    /// A message arrived. Emitted only after the message was committed through the
    /// session's [`Inbox`](crate::Inbox), so it needs no storing: it is for fan-out
    /// (webhooks, live events). A redelivery may emit it again for the same message.
    Incoming(Box<IncomingMessage>),
    /// A contact calls the session's number (an offer that rings now, not one replayed
    /// after being offline). wagate does not answer calls; it only tells.
    IncomingCall { call_id: String, from: ChatId, video: bool, at: OffsetDateTime },
    /// Someone changed a group the session is in (its own changes are not reported back).
    GroupChanged { group: ChatId, by: Option<ChatId>, change: GroupChange, at: OffsetDateTime },
}

/// The recipient's phone reported these messages delivered, read or played. Committed
/// through the session's [`Inbox`](crate::Inbox) before WhatsApp hears it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub wa_ids: Vec<WaMessageId>,
    pub kind: ReceiptKind,
    /// When the recipient's phone sent it, by WhatsApp's clock.
    pub at: OffsetDateTime,
}

/// A message received by a session.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    /// The id the sender's device gave the message; unique per chat and sender.
    pub wa_id: WaMessageId,
    /// Where it was posted: the sender's own chat, or a group.
    pub chat: ChatId,
    /// Who wrote it (in a group, the participant).
    pub sender: ChatId,
    /// The name the sender set on their own phone, if WhatsApp passed it along.
    pub push_name: Option<String>,
    /// When the sender sent it, by WhatsApp's clock.
    pub at: OffsetDateTime,
    pub content: Content,
    /// What it quotes and whom it mentions.
    pub context: Context,
}
