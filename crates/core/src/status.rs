//! Status (stories): posted like a message to `status@broadcast`, so it is stored
//! before the answer, queued, throttled and tracked like every other send.

use anyhow::Context as _;
pub use wagate_engine::StatusPost;
use wagate_types::{ChatKind, TenantId};

use crate::messages::{Accepted, SendRequest};
use crate::{Error, Gateway, Result};

impl Gateway {
    /// Longest text a status takes.
    pub const MAX_STATUS_TEXT: usize = 700;

    /// Accepts a status post. Without an audience, everyone who wrote to the session
    /// sees it (WhatsApp sends a status to a list of people, never to "everyone").
    pub async fn post_status(&self, tenant: &TenantId, mut request: SendRequest) -> Result<Accepted> {
        let Some(status) = request.status.as_mut() else {
            return Err(Error::invalid("status", "a status post needs its look and audience"));
        };
        if status.audience.is_empty() {
            let session = self.sessions.id_of(tenant, &request.session).await?;
            let contacts = self.store.contacts(tenant, session).await.context("list who may see the status")?;
            status.audience = contacts
                .into_iter()
                .map(|c| c.jid)
                .filter(|jid| matches!(jid.kind(), ChatKind::User | ChatKind::Lid))
                .collect();
            if status.audience.is_empty() {
                return Err(Error::invalid(
                    "audience",
                    "no one has written to this session yet: name who may see the status",
                ));
            }
        }
        self.send_message(tenant, request).await
    }
}
