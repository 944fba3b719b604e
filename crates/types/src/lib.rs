//! wagate's value types. Each is parsed once, at the edge (HTTP, CLI, config), into a
//! type that cannot hold a wrong value; inner code never re-validates strings.

mod chat;
mod ids;
mod names;
mod phone;
mod status;

pub use chat::{ChatId, ChatKind, Recipient};
pub use ids::{IdempotencyKey, MessageId, SessionId, TenantId, WaMessageId};
pub use names::SessionName;
pub use phone::{Country, PhoneNumber};
pub use status::{
    CampaignStatus, Direction, FailureCode, MessageStatus, OptInMode, OptInStatus, Origin, Priority, ReceiptKind,
    SessionStatus, TextMatch,
};

/// Why a value was refused; the text is meant for the API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}
