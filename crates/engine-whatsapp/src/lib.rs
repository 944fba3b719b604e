//! wagate's WhatsApp engine over whatsapp-rust. The only crate (with the sandbox) that
//! sees whatsapp-rust and wacore types.
//!
//! [`StoredCredentials`] is whatsapp-rust's storage ([`wacore::store::traits::Backend`])
//! kept in wagate's own database, beside everything else, through the store's generic
//! per-session engine state. So a linked device's keys survive restarts and live in
//! SQLite or Postgres like the rest; `wacore::store::InMemoryBackend` is the reference
//! for what each method means.
//!
//! Where each piece of state lives is in [`keys`]; one file per storage trait implements
//! it (`signal`, `appstate`, `protocol` with `tc_tokens` and `buffers`, `msg_secret`,
//! `device`).
//!
//! [`WhatsAppEngine`] runs each session as a whatsapp-rust client on those credentials:
//! `session` supervises the client, `events` translates what it reports, `policy`
//! decides when to reconnect, `acks` matches sends with the server's acknowledgements.
//!
//! Messages: `outgoing` builds what wagate sends, `incoming` reads what it receives,
//! `refs` turns WhatsApp's message keys and quotes into wagate's and back, `media`
//! uploads and downloads files, `votes` keeps polls' secrets and opens votes.

mod acks;
mod appstate;
mod buffers;
mod codec;
mod device;
mod directory;
mod engine;
mod events;
mod failure;
mod incoming;
pub mod keys;
mod media;
mod msg_secret;
mod outgoing;
mod policy;
mod presence;
mod protocol;
mod receipts;
mod refs;
mod session;
mod signal;
mod tc_tokens;
mod votes;

#[cfg(feature = "sandbox")]
pub use engine::SANDBOX_VERSION;
pub use engine::{Endpoint, EngineConfig, WhatsAppEngine};
pub use policy::ReplacedPolicy;

use wagate_store::{EngineState, Store};
use wagate_types::{SessionId, TenantId};

/// whatsapp-rust's storage for one wagate session, kept in wagate's store.
///
/// Every write that belongs together (a batch of the trait, a record and its index) is
/// one transaction; read-modify-write methods (tc tokens, message secrets, LID
/// mappings, prekey upload marks) run in a transaction that every other writer of the
/// session waits for. A failed write is returned as an error, never only logged.
#[derive(Clone, Debug)]
pub struct StoredCredentials {
    state: EngineState,
}

impl StoredCredentials {
    pub fn new(store: &Store, tenant: &TenantId, session: SessionId) -> Self {
        Self { state: store.engine_state(tenant, session) }
    }

    /// Forgets everything this session's WhatsApp link stored (after a logout or an
    /// unlink), so the next start pairs afresh. Returns how many entries went.
    pub async fn forget(&self) -> Result<u64, wagate_store::StoreError> {
        self.state.clear().await
    }
}
