use async_trait::async_trait;

use crate::{EngineError, IncomingMessage, Receipt};

/// Where a session's received messages and receipts are committed before WhatsApp is
/// told they arrived.
#[async_trait]
pub trait Inbox: Send + Sync + 'static {
    /// Commits `messages` durably, all or nothing, in order, and returns once the
    /// commit is durable. A message already committed (same chat, sender and WhatsApp
    /// id) is skipped, so a redelivery after a crash is harmless.
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError>;

    /// Applies a receipt durably and returns once it is committed. Receipts may come
    /// twice or in any order; a receipt for a message that is not (or not yet) known
    /// changes nothing and is not an error.
    async fn receipt(&self, receipt: &Receipt) -> Result<(), EngineError>;
}
