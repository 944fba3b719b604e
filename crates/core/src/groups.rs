//! Groups, managed live through a connected session: WhatsApp holds the truth, so
//! every answer is fresh from it.

use anyhow::Context as _;
use bytes::Bytes;
use time::OffsetDateTime;
pub use wagate_engine::{Group, GroupChange, Participant, ParticipantOutcome};
use wagate_types::{ChatId, PhoneNumber, SessionName, TenantId};

use crate::media::MediaSource;
use crate::media_send::field_error;
use crate::sessions::engine_error;
use crate::{Error, Gateway, Result};

impl Gateway {
    /// The longest subject WhatsApp takes.
    pub const MAX_GROUP_SUBJECT: usize = 100;
    /// The longest description WhatsApp takes.
    pub const MAX_GROUP_DESCRIPTION: usize = 2048;

    pub async fn groups(&self, tenant: &TenantId, session: &SessionName) -> Result<Vec<Group>> {
        let live = self.sessions.connected(tenant, session).await?;
        live.groups().await.map_err(engine_error)
    }

    pub async fn group(&self, tenant: &TenantId, session: &SessionName, group: &ChatId) -> Result<Group> {
        let live = self.sessions.connected(tenant, session).await?;
        live.group(group).await.map_err(engine_error)
    }

    #[tracing::instrument(skip_all, fields(session = %session))]
    pub async fn create_group(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        subject: &str,
        participants: &[ChatId],
    ) -> Result<Group> {
        let live = self.sessions.connected(tenant, session).await?;
        live.create_group(subject, participants).await.map_err(engine_error)
    }

    /// Applies `changes` in order and returns the group as it is afterwards. A change
    /// WhatsApp refuses stops the rest (those before it stay made).
    #[tracing::instrument(skip_all, fields(session = %session, group = %group))]
    pub async fn change_group(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
        changes: &[GroupChange],
    ) -> Result<Group> {
        let live = self.sessions.connected(tenant, session).await?;
        for change in changes {
            live.change_group(group, change).await.map_err(engine_error)?;
            self.record_own_change(tenant, session, group, change).await?;
        }
        live.group(group).await.map_err(engine_error)
    }

    /// Adds, removes, promotes or demotes people; says what became of each.
    #[tracing::instrument(skip_all, fields(session = %session, group = %group))]
    pub async fn change_participants(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
        change: &GroupChange,
    ) -> Result<Vec<ParticipantOutcome>> {
        if !matches!(
            change,
            GroupChange::Add(_) | GroupChange::Remove(_) | GroupChange::Promote(_) | GroupChange::Demote(_)
        ) {
            return Err(Error::invalid("action", "must be add, remove, promote or demote"));
        }
        let live = self.sessions.connected(tenant, session).await?;
        let outcomes = live.change_group(group, change).await.map_err(engine_error)?;
        let done: Vec<ChatId> = outcomes.iter().filter(|o| o.error.is_none()).map(|o| o.chat.clone()).collect();
        if !done.is_empty() {
            // The event names those it was done to, not those WhatsApp refused.
            let made = match change {
                GroupChange::Add(_) => GroupChange::Add(done),
                GroupChange::Remove(_) => GroupChange::Remove(done),
                GroupChange::Promote(_) => GroupChange::Promote(done),
                _ => GroupChange::Demote(done),
            };
            self.record_own_change(tenant, session, group, &made).await?;
        }
        Ok(outcomes)
    }

    /// The group's invite code; `reset` revokes the old one first.
    /// Sets the group's picture from a client's picture (made a square JPEG), or removes
    /// it (`None`). Needs the right to edit the group's info.
    #[tracing::instrument(skip_all, fields(session = %session, group = %group))]
    pub async fn set_group_picture(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
        picture: Option<MediaSource>,
    ) -> Result<()> {
        let live = self.sessions.connected(tenant, session).await?;
        let jpeg = match picture {
            Some(source) => self.media.profile_picture(source).await.map_err(|e| field_error("picture", e))?,
            None => Bytes::new(),
        };
        let change = GroupChange::Picture(jpeg);
        live.change_group(group, &change).await.map_err(engine_error)?;
        self.record_own_change(tenant, session, group, &change).await
    }

    /// Where the group's picture is: a short-lived WhatsApp address, `None` without one.
    pub async fn group_picture(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
    ) -> Result<Option<String>> {
        let live = self.sessions.connected(tenant, session).await?;
        live.profile_picture(group).await.map_err(engine_error)
    }

    /// Records a change the session made as the same event others' changes give (WhatsApp
    /// does not tell the author's own device), made `by` the session's own number.
    async fn record_own_change(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
        change: &GroupChange,
    ) -> Result<()> {
        let record = self.sessions.get(tenant, session).await?;
        let own = record.phone.map(|p| ChatId::from_phone(&PhoneNumber::from_stored(p)));
        let now = OffsetDateTime::now_utc();
        let event = crate::events::group_changed((record.id, record.name), group, own.as_ref(), change, now);
        self.store.record_events(tenant, &[event], now).await.context("record a group change")?;
        Ok(())
    }

    pub async fn group_invite(
        &self,
        tenant: &TenantId,
        session: &SessionName,
        group: &ChatId,
        reset: bool,
    ) -> Result<String> {
        let live = self.sessions.connected(tenant, session).await?;
        live.group_invite(group, reset).await.map_err(engine_error)
    }

    pub async fn join_group(&self, tenant: &TenantId, session: &SessionName, code: &str) -> Result<ChatId> {
        let live = self.sessions.connected(tenant, session).await?;
        live.join_group(code).await.map_err(engine_error)
    }

    pub async fn leave_group(&self, tenant: &TenantId, session: &SessionName, group: &ChatId) -> Result<()> {
        let live = self.sessions.connected(tenant, session).await?;
        live.leave_group(group).await.map_err(engine_error)
    }
}
