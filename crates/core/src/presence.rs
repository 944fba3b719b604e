//! Who is online: what WhatsApp last reported for the contacts a session follows.
//! Presence is ephemeral on WhatsApp too (never queued, gone when a device goes
//! offline), so it lives in memory and a restart forgets it until the next report.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;
use wagate_engine::Typing;
use wagate_types::{ChatId, SessionName, TenantId};

use crate::sessions::engine_error;
use crate::{Error, Gateway, Result};

/// A contact's presence as WhatsApp last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub available: bool,
    /// When they were last online, if they share it.
    pub last_seen: Option<OffsetDateTime>,
    /// When WhatsApp reported this.
    pub reported_at: OffsetDateTime,
}

/// One session's view of its contacts' presence.
#[derive(Debug, Default)]
pub(crate) struct Presences(Mutex<HashMap<ChatId, Seen>>);

impl Presences {
    /// Keeps the report; `true` when it tells something new (online or offline, or a
    /// new last-seen time), not a repeat of what was known.
    pub(crate) fn record(&self, chat: ChatId, seen: Seen) -> bool {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let new = known.get(&chat).is_none_or(|old| (old.available, old.last_seen) != (seen.available, seen.last_seen));
        known.insert(chat, seen);
        new
    }

    fn get(&self, chat: &ChatId) -> Option<Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(chat).cloned()
    }
}

impl Gateway {
    /// Shows the session's number online or offline to its contacts.
    pub async fn set_presence(&self, tenant: &TenantId, session: &SessionName, available: bool) -> Result<()> {
        let live = self.sessions.connected(tenant, session).await?;
        live.set_presence(available).await.map_err(engine_error)
    }

    /// Asks WhatsApp to report when `chat` comes online or goes offline.
    pub async fn follow_presence(&self, tenant: &TenantId, session: &SessionName, chat: &ChatId) -> Result<()> {
        let live = self.sessions.connected(tenant, session).await?;
        live.subscribe_presence(chat).await.map_err(engine_error)
    }

    /// What WhatsApp last reported of `chat`'s presence to this session.
    pub async fn presence(&self, tenant: &TenantId, session: &SessionName, chat: &ChatId) -> Result<Seen> {
        let rt = self.sessions.running(tenant, session).await?;
        rt.presence
            .get(chat)
            .ok_or_else(|| Error::NotFound(format!("presence of {chat} (follow it first, and wait for a report)")))
    }

    /// Shows "typing…" (or "recording audio…") in a chat, or stops it.
    pub async fn typing(&self, tenant: &TenantId, session: &SessionName, chat: &ChatId, state: Typing) -> Result<()> {
        let live = self.sessions.connected(tenant, session).await?;
        live.typing(chat, state).await.map_err(engine_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_counts_as_new() {
        let presences = Presences::default();
        let eve = ChatId::from_stored("4915110000082@s.whatsapp.net".to_owned());
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(1_700_000_000 + s).unwrap();
        let seen = |available, last_seen, reported| Seen { available, last_seen, reported_at: at(reported) };
        assert!(presences.record(eve.clone(), seen(true, None, 0)), "the first report");
        assert!(!presences.record(eve.clone(), seen(true, None, 5)), "the same again, later");
        assert!(presences.record(eve.clone(), seen(false, Some(at(6)), 6)), "offline");
        assert!(!presences.record(eve.clone(), seen(false, Some(at(6)), 9)));
        assert!(presences.record(eve.clone(), seen(false, Some(at(8)), 9)), "a new last-seen time");
        let other = ChatId::from_stored("4915110000083@s.whatsapp.net".to_owned());
        assert!(presences.record(other, seen(false, Some(at(8)), 9)), "per contact");
        assert_eq!(presences.get(&eve).map(|s| s.reported_at), Some(at(9)), "the newest report is kept");
    }
}
