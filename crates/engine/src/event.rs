use time::OffsetDateTime;
use wagate_types::{ChatId, PhoneNumber, ReceiptKind, WaMessageId};

use crate::Content;

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
    /// The session cannot run (no engine in this build, a temporary ban…).
    Stopped { reason: String },
    /// The recipient's phone reported these messages delivered, read or played.
    Receipt { wa_ids: Vec<WaMessageId>, kind: ReceiptKind, at: OffsetDateTime },
    /// A message arrived.
    Incoming(IncomingMessage),
}

/// A message received by a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub wa_id: WaMessageId,
    pub chat: ChatId,
    pub sender: ChatId,
    pub push_name: Option<String>,
    pub at: OffsetDateTime,
    pub content: Content,
}
