//! The people sessions talk with: who is on WhatsApp (asked live), and the contacts
//! wagate knows from their messages (listed, searched, exported).

use anyhow::Context as _;
use wagate_engine::NumberCheck;
use wagate_store::{ContactCursor, ContactFilter, ContactSummary};
use wagate_types::{ChatId, PhoneNumber, SessionName, TenantId};

use crate::sessions::engine_error;
use crate::{Error, Gateway, Result};

/// Filters for listing contacts, as a client gives them.
#[derive(Debug, Clone, Default)]
pub struct ContactListRequest {
    pub session: Option<SessionName>,
    pub search: Option<String>,
    pub after: Option<ContactCursor>,
    pub limit: u32,
}

impl Gateway {
    /// Most numbers one check may ask about: WhatsApp answers a batch in one query,
    /// and a bigger one looks like scraping.
    pub const MAX_CHECK: usize = 500;

    /// Asks WhatsApp, through a connected session, which numbers have an account.
    #[tracing::instrument(skip_all, fields(session = %session, count = phones.len()))]
    pub async fn check_numbers(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        phones: &[PhoneNumber],
    ) -> Result<Vec<NumberCheck>> {
        let live = self.sessions.connected(tenant, session).await?;
        let mut unique: Vec<PhoneNumber> = Vec::with_capacity(phones.len());
        for phone in phones {
            if !unique.contains(phone) {
                unique.push(phone.clone());
            }
        }
        let answers = live.check_numbers(&unique).await.map_err(engine_error)?;
        // Answered in the order asked, repeats included.
        phones
            .iter()
            .map(|phone| {
                answers
                    .iter()
                    .find(|a| &a.phone == phone)
                    .cloned()
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("WhatsApp did not answer for {phone}")))
            })
            .collect()
    }

    /// The address of a contact's or group's profile picture, if they show one.
    pub async fn profile_picture(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        chat: &ChatId,
    ) -> Result<Option<String>> {
        let live = self.sessions.connected(tenant, session).await?;
        live.profile_picture(chat).await.map_err(engine_error)
    }

    /// A page of contacts, newest conversation first.
    pub async fn contacts(&self, tenant: &TenantId, request: ContactListRequest) -> Result<Vec<ContactSummary>> {
        let session_id = match &request.session {
            Some(name) => Some(self.sessions.id_of(tenant, name).await?),
            None => None,
        };
        let filter = ContactFilter { session_id, search: request.search, after: request.after, limit: request.limit };
        Ok(self.store.contact_page(tenant, &filter).await.context("list contacts")?)
    }

    /// One contact of a session.
    pub async fn contact(&self, tenant: &TenantId, session: &SessionName, jid: &ChatId) -> Result<ContactSummary> {
        let session_id = self.sessions.id_of(tenant, session).await?;
        self.store
            .contact(tenant, session_id, jid)
            .await
            .context("load contact")?
            .ok_or_else(|| Error::NotFound(format!("contact {jid} of session {session}")))
    }
}
