//! What waits in a session's queue, and when each message is expected to go: the
//! dispatcher's order, an average pause between sends, and the session's caps and
//! quiet hours (see [`crate::pacing`]), played forward from now.

use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;
use wagate_store::{MessageRecord, SessionSettings};
use wagate_types::{SessionName, TenantId};

use crate::pacing::{LOOK_BACK, Pacing};
use crate::{Gateway, Result};

/// How many waiting messages the queue view lists.
pub const LISTED: u32 = 100;

/// A session's queue.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Messages waiting in all.
    pub depth: u64,
    /// Sends in the last minute, hour and day, for the caps.
    pub sent_last_minute: u64,
    pub sent_last_hour: u64,
    pub sent_last_day: u64,
    pub settings: SessionSettings,
    /// The first [`LISTED`] waiting messages in send order, each with its estimate.
    pub waiting: Vec<(MessageRecord, OffsetDateTime)>,
}

impl Gateway {
    pub async fn queue(&self, tenant: &TenantId, session: &SessionName) -> Result<Queue> {
        let record = self.sessions.get(tenant, session).await?;
        let now = OffsetDateTime::now_utc();
        let sent = self.store.recent_sends(record.id, now - LOOK_BACK).await.context("read recent sends")?;
        let (depth, waiting) = self.store.waiting(record.id, LISTED).await.context("read the queue")?;
        let count = |window: time::Duration| sent.iter().filter(|s| **s > now - window).count() as u64;
        let first_send = self.store.first_send(record.id).await.context("read the first send")?;
        let estimates = estimate(&record.settings, first_send, now, &sent, &waiting);
        let mut waiting = waiting;
        for message in &mut waiting {
            self.sessions.explain(message);
        }
        Ok(Queue {
            depth,
            sent_last_minute: count(time::Duration::minutes(1)),
            sent_last_hour: count(time::Duration::hours(1)),
            sent_last_day: count(time::Duration::days(1)),
            settings: record.settings,
            waiting: waiting.into_iter().zip(estimates).collect(),
        })
    }
}

/// When each of `waiting` is expected to go, after the sends `sent`, playing the
/// dispatcher forward: at each step the highest-priority, oldest message that is due,
/// an average pause after the one before, and no earlier than the caps and quiet hours
/// allow. Returned in the order of `waiting`.
pub fn estimate(
    settings: &SessionSettings,
    first_send: Option<OffsetDateTime>,
    now: OffsetDateTime,
    sent: &[OffsetDateTime],
    waiting: &[MessageRecord],
) -> Vec<OffsetDateTime> {
    let pacing = Pacing::of(settings, first_send);
    let (min, max) = (settings.throttle_min_ms, settings.throttle_max_ms.max(settings.throttle_min_ms));
    let pause = Duration::from_millis(min.midpoint(max));
    let mut sent: Vec<OffsetDateTime> = sent.to_vec();
    let mut at = sent.last().map_or(now, |last| (*last + pause).max(now));
    let mut left: Vec<usize> = (0..waiting.len()).collect();
    let mut out = vec![now; waiting.len()];
    while !left.is_empty() {
        // The dispatcher's pick at `at`; if nothing is due yet, the first to fall due.
        let due = |i: &usize| waiting[*i].next_attempt_at <= at;
        let pick = left
            .iter()
            .copied()
            .filter(|i| due(i))
            .min_by_key(|i| (std::cmp::Reverse(waiting[*i].priority.rank()), waiting[*i].id))
            .unwrap_or_else(|| {
                let first = left.iter().copied().min_by_key(|i| waiting[*i].next_attempt_at).unwrap_or(left[0]);
                at = waiting[first].next_attempt_at;
                first
            });
        let when = pacing.earliest(at, &sent);
        out[pick] = when;
        sent.push(when);
        left.retain(|i| *i != pick);
        at = when + pause;
    }
    out
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use wagate_store::MessageRecord;
    use wagate_types::{
        ChatId, Direction, MessageId, MessageStatus, Priority, SessionId, SessionName, TenantId, WaMessageId,
    };

    use super::*;

    fn waiting(priority: Priority, due: OffsetDateTime) -> MessageRecord {
        MessageRecord {
            id: MessageId::new(),
            tenant: TenantId::default_tenant(),
            session_id: SessionId(uuid::Uuid::nil()),
            session_name: SessionName::parse("default").unwrap(),
            direction: Direction::Outbound,
            chat: ChatId::from_stored("15550001@s.whatsapp.net".into()),
            recipient: "+15550001".into(),
            sender: None,
            push_name: None,
            kind: "text".into(),
            content: serde_json::json!({ "text": "Hi" }),
            wa_id: WaMessageId::generate(),
            status: MessageStatus::Queued,
            priority,
            send_at: None,
            next_attempt_at: due,
            attempts: 0,
            error: None,
            error_code: None,
            origin: None,
            created_at: due,
            queued_at: Some(due),
            sent_at: None,
            delivered_at: None,
            read_at: None,
            played_at: None,
            failed_at: None,
            cancelled_at: None,
        }
    }

    #[test]
    fn estimates_follow_priority_pauses_due_times_and_caps() {
        let now = datetime!(2030-01-01 12:00:00 UTC);
        let settings = SessionSettings {
            throttle_min_ms: 10_000,
            throttle_max_ms: 20_000,
            cap_per_minute: Some(2),
            ..SessionSettings::default()
        };
        let normal = waiting(Priority::Normal, now);
        let high = waiting(Priority::High, now);
        let later = waiting(Priority::High, now + time::Duration::hours(1));
        let third = waiting(Priority::Normal, now);
        let at = estimate(&settings, None, now, &[], &[normal, high, later, third]);
        assert_eq!(at[1], now, "high priority first");
        assert_eq!(at[0], now + time::Duration::seconds(15), "then after the average pause");
        assert_eq!(at[3], now + time::Duration::seconds(60), "the third in a minute waits for the cap");
        assert_eq!(at[2], now + time::Duration::hours(1), "a scheduled one at its time");
    }
}
