//! wagate's services: what happens between the HTTP API and the database and engine.
//!
//! - [`Gateway`] wires the parts together and is what the API holds.
//! - [`accept`]: durable accepts with group commits.
//! - [`sessions`]: running sessions, their events and state.
//! - [`dispatch`]: the per-session send loop (throttle, retries).
//! - [`inbox`]: where sessions commit the messages they receive.
//! - [`auth`]: API keys.

pub mod accept;
pub mod auth;
pub mod dispatch;
mod error;
mod gateway;
pub mod inbox;
pub mod messages;
pub mod sessions;

pub use error::Error;
pub use gateway::{Gateway, GatewayConfig};
pub use wagate_store::{MessageRecord, SessionRecord, SessionSettings, Store};

pub type Result<T, E = Error> = std::result::Result<T, E>;
