//! The seam between wagate and WhatsApp. An [`Engine`] runs sessions (linked devices);
//! a [`Session`] sends and reports what happens as [`EngineEvent`]s. wagate's own
//! types cross this seam; an engine's protocol types never do.
//!
//! Received messages and receipts take a path of their own: the engine commits them
//! through the session's [`Inbox`] and only then acknowledges them to WhatsApp, so a
//! crash at any moment makes WhatsApp deliver again rather than lose them.
//!
//! Engines: [`UnavailableEngine`] (a build without WhatsApp: sessions say so, messages
//! wait) and [`FakeEngine`] (a scriptable double for tests of wagate's own logic).

mod directory;
mod event;
mod fake;
mod inbox;
mod message;
mod unavailable;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
use wagate_types::{ChatId, FailureCode, PhoneNumber, SessionId, SessionName, TenantId, WaMessageId};

pub use directory::{Group, GroupChange, NumberCheck, Participant, ParticipantOutcome, Typing};
pub use event::{EngineEvent, IncomingMessage, Receipt};
pub use fake::{FakeEngine, FakeSend};
pub use inbox::Inbox;
pub use message::{Content, Context, Media, MessageRef, OutgoingMessage, Quote, StatusPost};
pub use unavailable::UnavailableEngine;

/// Where a session's events go. Bounded: an engine that outruns wagate waits.
pub type EventSink = mpsc::Sender<EngineEvent>;

/// Which session to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    pub id: SessionId,
    pub tenant: TenantId,
    pub name: SessionName,
}

/// Runs WhatsApp sessions.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Starts a session: connects with stored credentials, or begins pairing (QR
    /// codes, as events) when there are none. Returns once the session runs; its
    /// progress arrives on `events`. Every message the session receives is committed
    /// through `inbox` before WhatsApp is acknowledged, and only then reported on
    /// `events` as [`EngineEvent::Incoming`].
    async fn start(
        &self,
        spec: SessionSpec,
        events: EventSink,
        inbox: Arc<dyn Inbox>,
    ) -> Result<Arc<dyn Session>, EngineError>;

    /// Deletes a session's stored credentials (the session is stopped first).
    async fn forget(&self, session: SessionId) -> Result<(), EngineError>;
}

/// One running session.
#[async_trait]
pub trait Session: Send + Sync {
    /// Sends a message and returns when the WhatsApp server acknowledged it.
    async fn send(&self, message: &OutgoingMessage) -> Result<SendAck, SendError>;

    /// Downloads and decrypts received media (one the session reported, with its
    /// `source`), checking it against the hash WhatsApp gave.
    async fn download(&self, media: &Media) -> Result<bytes::Bytes, EngineError>;

    /// Asks for an 8-character code to link `phone` without scanning a QR code.
    async fn pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError>;

    /// Asks WhatsApp which of `phones` have an account. Needs a connection.
    async fn check_numbers(&self, _phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        Err(EngineError::Unavailable("this engine cannot look numbers up".into()))
    }

    /// The address of the profile picture a person or group shows this account, if any.
    async fn profile_picture(&self, _chat: &ChatId) -> Result<Option<String>, EngineError> {
        Err(EngineError::Unavailable("this engine cannot fetch profile pictures".into()))
    }

    /// Shows the account online (`true`) or offline to its contacts.
    async fn set_presence(&self, _available: bool) -> Result<(), EngineError> {
        Err(EngineError::Unavailable("this engine cannot set presence".into()))
    }

    /// Asks WhatsApp to report when `chat` comes online or goes offline
    /// ([`EngineEvent::Presence`]).
    async fn subscribe_presence(&self, _chat: &ChatId) -> Result<(), EngineError> {
        Err(EngineError::Unavailable("this engine cannot follow presence".into()))
    }

    /// Shows "typing…" or "recording audio…" in a chat, or stops showing it.
    async fn typing(&self, _chat: &ChatId, _state: Typing) -> Result<(), EngineError> {
        Err(EngineError::Unavailable("this engine cannot show typing".into()))
    }

    /// Sends read receipts (blue ticks) for received messages of `chat`, each named by
    /// its sender (in a group, the participant) and WhatsApp id.
    async fn mark_read(&self, _chat: &ChatId, _messages: &[(ChatId, WaMessageId)]) -> Result<(), EngineError> {
        Err(EngineError::Unavailable("this engine cannot send read receipts".into()))
    }

    /// The groups the account is in.
    async fn groups(&self) -> Result<Vec<Group>, EngineError> {
        Err(EngineError::Unavailable("this engine cannot list groups".into()))
    }

    /// One group the account is in, fresh from WhatsApp.
    async fn group(&self, _chat: &ChatId) -> Result<Group, EngineError> {
        Err(EngineError::Unavailable("this engine cannot look groups up".into()))
    }

    /// Creates a group with the account as its admin.
    async fn create_group(&self, _subject: &str, _participants: &[ChatId]) -> Result<Group, EngineError> {
        Err(EngineError::Unavailable("this engine cannot create groups".into()))
    }

    /// Applies one change; for participant changes, says what became of each.
    async fn change_group(
        &self,
        _chat: &ChatId,
        _change: &GroupChange,
    ) -> Result<Vec<ParticipantOutcome>, EngineError> {
        Err(EngineError::Unavailable("this engine cannot change groups".into()))
    }

    /// The group's invite code; `reset` revokes the old one first.
    async fn group_invite(&self, _chat: &ChatId, _reset: bool) -> Result<String, EngineError> {
        Err(EngineError::Unavailable("this engine cannot share group invites".into()))
    }

    /// Joins a group by invite code; returns the group.
    async fn join_group(&self, _code: &str) -> Result<ChatId, EngineError> {
        Err(EngineError::Unavailable("this engine cannot join groups".into()))
    }

    async fn leave_group(&self, _chat: &ChatId) -> Result<(), EngineError> {
        Err(EngineError::Unavailable("this engine cannot leave groups".into()))
    }

    /// Unlinks the device from the phone and deletes the credentials.
    async fn logout(&self) -> Result<(), EngineError>;

    /// Disconnects, keeping the credentials. The session emits no events afterwards.
    async fn stop(&self);
}

/// The server's acknowledgement of a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAck {
    pub at: time::OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No connection right now; the message was not handed to WhatsApp.
    #[error("the session is not connected")]
    NotConnected,
    /// Might work later (timeout, server error).
    #[error("{text}")]
    Temporary { code: FailureCode, text: String },
    /// Will not work however often it is tried (no such recipient, message refused).
    #[error("{text}")]
    Permanent { code: FailureCode, text: String },
}

impl SendError {
    pub fn temporary(code: FailureCode, text: impl Into<String>) -> Self {
        Self::Temporary { code, text: text.into() }
    }

    pub fn permanent(code: FailureCode, text: impl Into<String>) -> Self {
        Self::Permanent { code, text: text.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// This build or configuration cannot do that.
    #[error("{0}")]
    Unavailable(String),
    /// The operation needs a live connection and the session has none.
    #[error("the session is not connected")]
    NotConnected,
    /// WhatsApp answered with an error: `code` is its own (403 not allowed, 404 no such
    /// group, 406/409 a participant cannot be added…).
    #[error("WhatsApp refused it ({code}): {text}")]
    Refused { code: u16, text: String },
    #[error("{0}")]
    Failed(String),
}
