//! wagate's services: what happens between the HTTP API and the database and engine.
//!
//! - [`Gateway`] wires the parts together and is what the API holds.
//! - [`accept`]: durable accepts with group commits.
//! - [`sessions`]: running sessions, their events and state.
//! - [`dispatch`]: the per-session send loop (throttle, retries).
//! - [`inbox`]: where sessions commit the messages they receive.
//! - [`contacts`]: who is on WhatsApp, and the people sessions talk with.
//! - [`chats`]: a session's conversations, and marking them read.
//! - [`status`]: status (story) posts, sent like messages.
//! - [`groups`]: groups, managed live through a session.
//! - [`events`]: the event log, written with the changes it tells of.
//! - [`opt_in`]: contacts' consent, asked and kept; the suppression list.
//! - [`auto_reply`]: answers to received messages, by rule.
//! - [`campaigns`]: one message to many, fed into the sessions' queues.
//! - [`campaign_progress`]: how far a campaign got, and the events that tell it.
//! - [`webhooks`]: deliveries of the event log, signed, retried, dead-lettered.
//! - [`streams`]: live streams of the event log (and of QR codes, never logged).
//! - [`auth`]: API keys.
//! - [`media`]: media files taken in from clients and received by sessions.

pub mod accept;
pub mod auth;
pub mod auto_reply;
pub mod campaign_progress;
pub mod campaigns;
pub mod chats;
pub mod clock;
pub mod consent;
pub mod contacts;
pub mod content;
pub mod dispatch;
mod error;
pub mod events;
pub mod fold;
mod gateway;
pub mod groups;
pub mod inbox;
pub mod media;
pub mod media_files;
pub mod media_send;
pub mod message_view;
pub mod messages;
pub mod number_gate;
pub mod opt_in;
pub mod pacing;
pub mod presence;
pub mod queue;
pub mod received;
mod session_events;
pub mod sessions;
pub mod status;
pub mod streams;
mod updates;
pub mod webhooks;

pub use error::Error;
pub use gateway::{Gateway, GatewayConfig};
pub use wagate_store::{MessageRecord, SessionRecord, SessionSettings, StorageFault, Store};

pub type Result<T, E = Error> = std::result::Result<T, E>;
