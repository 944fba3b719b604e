//! Who is on WhatsApp, who is online, and the groups a session is in: what a session
//! asks or tells WhatsApp live, as opposed to messages it queues.

use bytes::Bytes;
use time::OffsetDateTime;
use wagate_types::{ChatId, PhoneNumber};

/// Whether a phone number has a WhatsApp account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCheck {
    pub phone: PhoneNumber,
    pub on_whatsapp: bool,
    /// The account's address when it has one (`…@s.whatsapp.net`).
    pub chat: Option<ChatId>,
}

/// A group as WhatsApp describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub chat: ChatId,
    pub subject: String,
    pub description: Option<String>,
    /// Who created it, when WhatsApp says.
    pub owner: Option<ChatId>,
    pub created_at: Option<OffsetDateTime>,
    /// Only admins may send.
    pub announce: bool,
    /// Only admins may change the subject, description and picture.
    pub locked: bool,
    pub participants: Vec<Participant>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// By phone number when WhatsApp tells it, else the `…@lid` address.
    pub chat: ChatId,
    pub admin: bool,
    /// The group's creator (an admin no one can demote).
    pub super_admin: bool,
}

/// One change to a group; each needs the session to be an admin of a locked group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Subject(String),
    /// `None` removes the description.
    Description(Option<String>),
    Announce(bool),
    Locked(bool),
    Add(Vec<ChatId>),
    Remove(Vec<ChatId>),
    Promote(Vec<ChatId>),
    Demote(Vec<ChatId>),
    /// A JPEG to show as the group's picture.
    Picture(Bytes),
}

/// What became of one participant in an add, remove, promote or demote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantOutcome {
    pub chat: ChatId,
    /// WhatsApp's error code when it refused this one (403: their privacy settings
    /// forbid it, 409: already a member, 404: not on WhatsApp…).
    pub error: Option<String>,
}

/// What a chat shows while the account prepares a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// "typing…"
    Composing,
    /// "recording audio…"
    Recording,
    /// Stopped.
    Paused,
}
