use wagate_types::{ChatId, WaMessageId};

/// A message for the engine to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Chosen when the message was accepted; reused on every attempt so the
    /// recipient sees one message however often it is sent.
    pub wa_id: WaMessageId,
    pub to: ChatId,
    pub content: Content,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text { body: String },
}
