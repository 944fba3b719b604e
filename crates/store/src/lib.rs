//! wagate's database. One [`Store`] over SQLite (the embedded default) or Postgres
//! (for teams and several nodes), picked once from the URL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver; the few statements that
//! must differ (queue claims, transaction start) branch on [`Backend`]. Migrations are
//! embedded, forward only, one folder per backend. Times are stored as milliseconds
//! since the Unix epoch.

mod campaigns;
mod chats;
mod contacts;
mod db;
mod engine_state;
mod events;
mod fault;
mod inbound;
mod keys;
mod media;
mod message_rows;
mod messages;
mod model;
mod number_checks;
mod opt_ins;
mod queue;
mod sends;
mod sessions;
mod statement;
#[cfg(feature = "testing")]
pub mod testing;
mod time_ms;
mod webhooks;
mod write;

pub use campaigns::{CampaignCounts, CampaignRecord, NewCampaign, NewRecipient, PendingRecipient, RecipientRecord};
pub use chats::{ChatFilter, ChatSummary, Unread};
pub use contacts::{ContactCursor, ContactFilter, ContactSummary};
pub use db::{Backend, Store, redact};
pub use engine_state::{EngineState, EngineStateTx, EngineWrite};
pub use events::{EventFilter, EventRecord, NewEvent};
pub use fault::{StorageFault, fault_in, fault_of};
pub use inbound::ReceivedBatch;
pub use media::MediaRecord;
pub use model::*;
pub use number_checks::NumberCheckRecord;
pub use opt_ins::OptInMoved;
pub use queue::Tell;
pub use webhooks::{
    AttemptLog, DeadLetter, HeaderChanges, LoggedAttempt, NewWebhook, WebhookChange, WebhookRecord, merge_headers,
};

/// What can go wrong talking to the database, in terms callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same unique name already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// A row the operation needs does not exist.
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Other writers held the database for this long.
    #[error("the database stayed busy with other writes for {} s", .0.as_secs())]
    Busy(std::time::Duration),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
