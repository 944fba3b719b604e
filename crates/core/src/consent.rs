//! The API's side of consent: opt-ins set for imported lists (with who set them, kept
//! in the audit trail), each contact's opt-in and its history, and the tenant's
//! suppression list.

use anyhow::Context as _;
use time::OffsetDateTime;
use wagate_store::{OptInChange, OptInChangeRecord, OptInMoved, OptInRecord, SuppressionRecord};
use wagate_types::{ChatId, OptInStatus, PhoneNumber, SessionName, TenantId};

use crate::opt_in::{OptInEvent, contact_of};
use crate::{Error, Gateway, Result};

/// Most contacts one request may set.
pub const MAX_SET: usize = 5_000;

/// One contact's opt-in and every change of it, oldest first.
#[derive(Debug, Clone)]
pub struct OptInHistory {
    pub opt_in: OptInRecord,
    pub changes: Vec<OptInChangeRecord>,
}

impl Gateway {
    /// Sets the opt-in of `people` (already checked to be people) with the session, as
    /// the API key `actor` asked, with an optional note; all or none. Messages waiting
    /// for them are released (`yes`) or end as `opted_out` (`no`).
    pub async fn set_opt_ins(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        people: &[ChatId],
        status: OptInStatus,
        note: Option<&str>,
        actor: &str,
    ) -> Result<OptInMoved> {
        let id = self.sessions.id_of(tenant, session).await?;
        let now = OffsetDateTime::now_utc();
        let mut changes = Vec::with_capacity(people.len());
        for chat in people {
            let contact = contact_of(chat).ok_or_else(|| not_a_person(chat))?;
            let event = OptInEvent {
                session: (id, session.clone()),
                contact: &contact,
                chat: Some(chat),
                status,
                how: "api",
                actor: Some(actor),
                note,
                at: now,
            }
            .event();
            changes.push(OptInChange {
                contact,
                status,
                how: "api".to_owned(),
                actor: Some(actor.to_owned()),
                note: note.map(str::to_owned),
                event,
            });
        }
        let moved = self.store.set_opt_ins(tenant, id, &changes, now).await.context("set opt-ins")?;
        self.sessions.event_bus().written();
        if moved.released > 0 {
            self.sessions.wake(id);
        }
        Ok(moved)
    }

    /// A contact's opt-in with the session and its audit trail.
    pub async fn opt_in(&self, tenant: &TenantId, session: &SessionName, person: &ChatId) -> Result<OptInHistory> {
        let id = self.sessions.id_of(tenant, session).await?;
        let contact = contact_of(person).ok_or_else(|| not_a_person(person))?;
        let opt_in = self
            .store
            .opt_in(id, &contact)
            .await
            .context("read an opt-in")?
            .ok_or_else(|| Error::NotFound(format!("an opt-in of {contact} with session {session}")))?;
        let changes = self.store.opt_in_history(id, &contact).await.context("read an opt-in's history")?;
        Ok(OptInHistory { opt_in, changes })
    }

    /// The session's opt-ins by contact, after the contact `after`.
    pub async fn opt_ins(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        status: Option<OptInStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OptInRecord>> {
        let id = self.sessions.id_of(tenant, session).await?;
        Ok(self.store.opt_ins(id, status, after, limit).await.context("list opt-ins")?)
    }

    /// Puts a number on the tenant's suppression list: no session sends to it again,
    /// and what waits for it ends as `opted_out`. Returns the entry (the first one if
    /// the number was already on the list) and how many messages it ended.
    pub async fn suppress(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<(SuppressionRecord, u64)> {
        let entry = SuppressionRecord {
            phone: phone.as_str().to_owned(),
            reason: reason.map(str::to_owned),
            actor: Some(actor.to_owned()),
            created_at: OffsetDateTime::now_utc(),
        };
        Ok(self.store.suppress(tenant, &entry).await.context("suppress a number")?)
    }

    /// Takes a number off the suppression list.
    pub async fn unsuppress(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<()> {
        match self.store.unsuppress(tenant, phone.as_str()).await.context("unsuppress a number")? {
            true => Ok(()),
            false => Err(Error::NotFound(format!("{phone} on the suppression list"))),
        }
    }

    /// The tenant's suppression list by number, after `after`.
    pub async fn suppressions(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SuppressionRecord>> {
        Ok(self.store.suppressions(tenant, after, limit).await.context("list suppressions")?)
    }

    /// Whether `phone` is on the tenant's suppression list.
    pub async fn suppression(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<SuppressionRecord> {
        self.store
            .suppression(tenant, phone.as_str())
            .await
            .context("read a suppression")?
            .ok_or_else(|| Error::NotFound(format!("{phone} on the suppression list")))
    }
}

fn not_a_person(chat: &ChatId) -> Error {
    Error::Invalid { field: "contact".into(), message: format!("{chat} is not a person") }
}
