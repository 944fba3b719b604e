//! How far a campaign got: the numbers the API shows, and the `campaign.progress`
//! events that tell them. The feeder tells a campaign's progress when it starts (or
//! resumes), at most every [`EVERY`] while it runs and something moved, and when it
//! completes; pausing and cancelling through the API tell it too. The counts are read
//! when an event is due, never per message, and an event is one write per campaign
//! and period at most.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use wagate_store::{CampaignCounts, CampaignRecord, NewEvent, Store};
use wagate_types::{CampaignStatus, MessageStatus};

use crate::events::CAMPAIGN_PROGRESS;
use crate::sessions::Sessions;

/// The least time between two progress events of a running campaign.
pub const EVERY: Duration = Duration::from_secs(10);

/// Where the recipients are. `total` is the sum of `pending`, `queued`, `sent`,
/// `delivered`, `read`, `failed`, `opted_out` and `cancelled`; duplicates in the list
/// given are not recipients.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Progress {
    pub total: u64,
    /// Not in a session's queue yet.
    pub pending: u64,
    /// In a queue (queued, scheduled or being sent).
    pub queued: u64,
    /// Acknowledged by WhatsApp, not delivered yet.
    pub sent: u64,
    pub delivered: u64,
    /// Read (or played).
    pub read: u64,
    pub failed: u64,
    pub opted_out: u64,
    pub cancelled: u64,
    /// Dropped from the list as given because they were listed before.
    pub duplicates: u64,
    /// Share of recipients whose message went out or ended, 0–100.
    pub percent: f64,
    /// Seconds the rest should take at the sessions' average pace; null when done.
    pub eta_seconds: Option<u64>,
}

impl Progress {
    pub fn of(record: &CampaignRecord, counts: &CampaignCounts, eta: Option<Duration>) -> Self {
        let mut p = Self {
            total: record.total,
            pending: counts.pending,
            queued: 0,
            sent: 0,
            delivered: 0,
            read: 0,
            failed: 0,
            opted_out: 0,
            cancelled: counts.cancelled,
            duplicates: record.duplicates,
            percent: 0.0,
            eta_seconds: eta.map(|d| d.as_secs()),
        };
        for (status, n) in &counts.messages {
            let slot = match status {
                MessageStatus::Queued | MessageStatus::Scheduled | MessageStatus::Sending => &mut p.queued,
                MessageStatus::Sent => &mut p.sent,
                MessageStatus::Delivered => &mut p.delivered,
                MessageStatus::Read | MessageStatus::Played => &mut p.read,
                MessageStatus::Failed => &mut p.failed,
                MessageStatus::OptedOut => &mut p.opted_out,
                MessageStatus::Cancelled | MessageStatus::Received => &mut p.cancelled,
            };
            *slot += n;
        }
        if record.total > 0 {
            let done = record.total.saturating_sub(p.pending + p.queued);
            p.percent = (done as f64 * 1000.0 / record.total as f64).round() / 10.0;
        }
        p
    }

    /// Whether any recipient is somewhere else than in `other` (the estimate aside).
    fn moved_from(&self, other: &Self) -> bool {
        Self { eta_seconds: None, ..self.clone() } != Self { eta_seconds: None, ..other.clone() }
    }
}

/// How long the rest of a running campaign should take at its sessions' average pause.
pub(crate) fn eta(record: &CampaignRecord, counts: &CampaignCounts, sessions: &Sessions) -> Option<Duration> {
    let waiting =
        |s: &MessageStatus| matches!(s, MessageStatus::Queued | MessageStatus::Scheduled | MessageStatus::Sending);
    let left = counts.pending + counts.messages.iter().filter(|(s, _)| waiting(s)).map(|(_, n)| n).sum::<u64>();
    (record.status == CampaignStatus::Running && left > 0).then(|| {
        let mut pause_ms = 0_u64;
        for id in &record.sessions {
            let settings = sessions.settings_of(*id).unwrap_or_default();
            pause_ms += settings.throttle_min_ms.midpoint(settings.throttle_max_ms.max(settings.throttle_min_ms));
        }
        let count = record.sessions.len().max(1) as u64;
        let average = pause_ms / count;
        Duration::from_millis(average.saturating_mul(left) / count)
    })
}

/// The `campaign.progress` event of a campaign as it is now.
pub fn event(record: &CampaignRecord, progress: &Progress, at: OffsetDateTime) -> NewEvent {
    NewEvent {
        kind: CAMPAIGN_PROGRESS.to_owned(),
        session: None,
        data: json!({
            "campaign_id": record.id,
            "name": record.name,
            "status": record.status,
            "progress": progress,
            "at": crate::content::rfc3339(at),
        }),
    }
}

/// Tells a running campaign's progress if it is due ([`Told::due`]) and moved.
pub(crate) async fn tell_if_due(
    store: &Store,
    sessions: &Sessions,
    told: &mut Told,
    campaign: &CampaignRecord,
) -> anyhow::Result<()> {
    let now = sessions.clock().now();
    if !told.due(&campaign.id, now) {
        return Ok(());
    }
    // The round read the campaign a while ago: one paused or cancelled since was told by
    // the API, and telling it running now would put that news behind.
    let current = store.campaign(&campaign.tenant, &campaign.id).await.context("read a campaign")?;
    let Some(campaign) = current.filter(|c| c.status == wagate_types::CampaignStatus::Running) else {
        return Ok(());
    };
    let campaign = &campaign;
    let progress = read(store, sessions, campaign).await?;
    if told.looked(&campaign.id, &progress, now) {
        record(store, sessions, campaign, &progress, now).await?;
    }
    Ok(())
}

/// Tells a campaign's progress now: it completed, or was paused or cancelled.
pub(crate) async fn tell(store: &Store, sessions: &Sessions, campaign: &CampaignRecord) -> anyhow::Result<()> {
    let progress = read(store, sessions, campaign).await?;
    record(store, sessions, campaign, &progress, sessions.clock().now()).await
}

async fn read(store: &Store, sessions: &Sessions, campaign: &CampaignRecord) -> anyhow::Result<Progress> {
    let counts = store.campaign_counts(&campaign.id).await.context("count a campaign")?;
    Ok(Progress::of(campaign, &counts, eta(campaign, &counts, sessions)))
}

async fn record(
    store: &Store,
    sessions: &Sessions,
    campaign: &CampaignRecord,
    progress: &Progress,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let event = event(campaign, progress, now);
    store.record_events(&campaign.tenant, &[event], now).await.context("record a campaign's progress")?;
    sessions.event_bus().written();
    Ok(())
}

/// What the feeder last told of each running campaign, in memory: after a restart a
/// running campaign is told again once, as if it started.
#[derive(Debug, Default)]
pub(crate) struct Told(HashMap<String, Last>);

#[derive(Debug)]
struct Last {
    /// When the counts were last read.
    looked_at: OffsetDateTime,
    progress: Progress,
}

impl Told {
    /// Whether to read a running campaign's counts now: never told since it (re)started,
    /// or [`EVERY`] since the last look.
    /// Whether the campaign was told since it (last) started running here.
    pub(crate) fn knows(&self, campaign: &str) -> bool {
        self.0.contains_key(campaign)
    }

    pub(crate) fn due(&self, campaign: &str, now: OffsetDateTime) -> bool {
        self.0.get(campaign).is_none_or(|last| now - last.looked_at >= EVERY)
    }

    /// Notes a look at the counts; `true` when they moved since the last event (or
    /// none was told yet), so this one is worth telling.
    pub(crate) fn looked(&mut self, campaign: &str, progress: &Progress, now: OffsetDateTime) -> bool {
        let moved = self.0.get(campaign).is_none_or(|last| progress.moved_from(&last.progress));
        let last =
            self.0.entry(campaign.to_owned()).or_insert_with(|| Last { looked_at: now, progress: progress.clone() });
        last.looked_at = now;
        if moved {
            last.progress = progress.clone();
        }
        moved
    }

    /// Forgets campaigns that do not run any more (or ended).
    pub(crate) fn keep_only(&mut self, running: &[&str]) {
        self.0.retain(|id, _| running.contains(&id.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(pending: u64, sent: u64) -> Progress {
        Progress {
            total: 10,
            pending,
            queued: 0,
            sent,
            delivered: 0,
            read: 0,
            failed: 0,
            opted_out: 0,
            cancelled: 0,
            duplicates: 0,
            percent: sent as f64 * 10.0,
            eta_seconds: Some(pending * 15),
        }
    }

    #[test]
    fn a_running_campaign_is_told_at_start_then_at_most_every_ten_seconds_when_it_moved() {
        let mut told = Told::default();
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let at = |s: i64| t0 + time::Duration::seconds(s);
        assert!(told.due("c1", at(0)), "a start is told");
        assert!(told.looked("c1", &progress(10, 0), at(0)));
        assert!(!told.due("c1", at(9)));
        assert!(told.due("c1", at(10)));
        assert!(!told.looked("c1", &progress(10, 0), at(10)), "nothing moved");
        assert!(!told.due("c1", at(15)), "a look without an event waits too");
        let mut later = progress(10, 0);
        later.eta_seconds = Some(1);
        assert!(!told.looked("c1", &later, at(20)), "a new estimate alone is not news");
        assert!(told.looked("c1", &progress(7, 3), at(30)));
        assert!(told.due("c2", at(30)), "per campaign");

        told.keep_only(&["c2"]);
        assert!(told.due("c1", at(31)), "a resumed campaign starts again");
    }
}
