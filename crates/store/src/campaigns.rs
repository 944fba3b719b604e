//! Campaigns and their recipients. A campaign is stored whole, recipients included, in
//! one transaction; [`feed_campaign`](Store::feed_campaign) then moves recipients into
//! a session's queue a few at a time, each message created in the transaction that
//! marks its recipient `queued`, so after a crash every recipient has exactly one
//! message or none yet.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{CampaignStatus, ChatId, MessageId, MessageStatus, Priority, SessionId, TenantId};

use crate::statement::Statement;
use crate::time_ms::{from_ms, opt_from_ms, to_ms};
use crate::{Backend, NewMessage, Result, Store, StoreError};

/// A campaign to store.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    /// The message template: kind and content as the API shows a message.
    pub kind: String,
    pub content: serde_json::Value,
    pub sessions: Vec<SessionId>,
    pub priority: Priority,
    pub start_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// Without duplicates, in the order given.
    pub recipients: Vec<NewRecipient>,
    /// How many duplicates were dropped from the list given.
    pub duplicates: u64,
}

#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// E.164 for phone numbers, else the JID.
    pub recipient: String,
    pub chat: ChatId,
    pub variables: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    pub status: CampaignStatus,
    pub kind: String,
    pub content: serde_json::Value,
    pub sessions: Vec<SessionId>,
    pub priority: Priority,
    pub start_at: OffsetDateTime,
    pub total: u64,
    pub duplicates: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

/// A recipient not in a queue yet.
#[derive(Debug, Clone)]
pub struct PendingRecipient {
    pub position: i64,
    pub recipient: String,
    pub chat: ChatId,
    pub variables: serde_json::Value,
}

/// A recipient and what became of their message.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientRecord {
    pub position: i64,
    pub recipient: String,
    pub variables: serde_json::Value,
    /// `pending`, `queued` or `cancelled`.
    pub state: String,
    pub message_id: Option<MessageId>,
    /// The message's status, once it exists.
    pub status: Option<MessageStatus>,
    pub error: Option<String>,
    pub error_code: Option<String>,
}

/// How many recipients are where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    /// Not in a queue yet.
    pub pending: u64,
    /// Cancelled before their message existed.
    pub cancelled: u64,
    /// Recipients whose message exists, by the message's status.
    pub messages: Vec<(MessageStatus, u64)>,
}

const CAMPAIGN_COLUMNS: &str = "id, tenant_id, name, status, kind, content, sessions, priority, start_at, total, \
    duplicates, created_at, updated_at, completed_at";

impl Store {
    /// Stores a campaign with all its recipients, in one transaction.
    pub async fn create_campaign(&self, campaign: &NewCampaign) -> Result<CampaignRecord> {
        let mut tx = self.write().await?;
        let at = to_ms(campaign.created_at);
        let sessions: Vec<String> = campaign.sessions.iter().map(ToString::to_string).collect();
        sqlx::query(
            "INSERT INTO campaigns (id, tenant_id, name, status, kind, content, sessions, priority, start_at, total, \
             duplicates, created_at, updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&campaign.id)
        .bind(campaign.tenant.as_str())
        .bind(&campaign.name)
        .bind(&campaign.kind)
        .bind(campaign.content.to_string())
        .bind(serde_json::Value::from(sessions).to_string())
        .bind(i64::from(campaign.priority.rank()))
        .bind(to_ms(campaign.start_at))
        .bind(campaign.recipients.len() as i64)
        .bind(i64::try_from(campaign.duplicates).unwrap_or(i64::MAX))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let numbered: Vec<(usize, &NewRecipient)> = campaign.recipients.iter().enumerate().collect();
        for chunk in numbered.chunks(crate::messages::INSERT_CHUNK) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO campaign_recipients (campaign_id, position, recipient, chat, variables, status) ",
            );
            insert.push_values(chunk, |row, (position, r)| {
                row.push_bind(campaign.id.clone())
                    .push_bind(*position as i64)
                    .push_bind(r.recipient.clone())
                    .push_bind(r.chat.as_str().to_owned())
                    .push_bind(r.variables.to_string())
                    .push_bind("pending");
            });
            insert.build()?.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.campaign(&campaign.tenant, &campaign.id).await?.ok_or_else(|| StoreError::NotFound(campaign.id.clone()))
    }

    pub async fn campaign(&self, tenant: &TenantId, id: &str) -> Result<Option<CampaignRecord>> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE tenant_id = $1 AND id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(campaign_from_row).transpose()
    }

    /// The tenant's campaigns, newest first, before the id `before`.
    pub async fn campaigns(&self, tenant: &TenantId, before: Option<&str>, limit: u32) -> Result<Vec<CampaignRecord>> {
        let mut q =
            Statement::new(self.backend, format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE tenant_id = "));
        q.push_bind(tenant.as_str().to_owned());
        if let Some(before) = before {
            q.push(" AND id < ").push_bind(before.to_owned());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// Every tenant's campaigns that are running and due to start by `now`.
    pub async fn runnable_campaigns(&self, now: OffsetDateTime) -> Result<Vec<CampaignRecord>> {
        let sql =
            format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE status = 'running' AND start_at <= $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now)).fetch_all(&self.pool).await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// When the next running campaign is due to start, if one waits.
    pub async fn next_campaign_start(&self) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query("SELECT MIN(start_at) AS at FROM campaigns WHERE status = 'running'")
            .fetch_one(&self.pool)
            .await?;
        Ok(opt_from_ms(row.try_get("at")?))
    }

    /// How many campaign messages (of any campaign) wait in the session's queue.
    pub async fn campaign_backlog(&self, session: SessionId) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM messages{} WHERE session_id = $1 \
             AND status IN ('queued', 'scheduled', 'sending') AND origin = 'campaign'",
            self.backend.waiting_index()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(session.to_string()).fetch_one(&self.pool).await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Whether the campaign is done: no recipient pending and no message of it waiting.
    pub async fn campaign_done(&self, campaign: &str) -> Result<bool> {
        let pending =
            sqlx::query("SELECT COUNT(*) AS n FROM campaign_recipients WHERE campaign_id = $1 AND status = 'pending'")
                .bind(campaign)
                .fetch_one(&self.pool)
                .await?;
        if pending.try_get::<i64, _>("n")? > 0 {
            return Ok(false);
        }
        let waiting = sqlx::query(
            "SELECT COUNT(*) AS n FROM campaign_recipients r JOIN messages m ON m.id = r.message_id \
             WHERE r.campaign_id = $1 AND r.status = 'queued' AND m.status IN ('queued', 'scheduled', 'sending')",
        )
        .bind(campaign)
        .fetch_one(&self.pool)
        .await?;
        Ok(waiting.try_get::<i64, _>("n")? == 0)
    }

    /// Moves up to `limit` of the campaign's pending recipients, in list order, into
    /// `session`'s queue: each one's message (made by `message`) is created in the same
    /// transaction that marks it `queued`. Only while the campaign is running. Returns
    /// how many moved.
    pub async fn feed_campaign(
        &self,
        campaign: &str,
        session: SessionId,
        limit: u32,
        message: &(dyn Fn(&PendingRecipient) -> NewMessage + Sync),
    ) -> Result<u64> {
        let mut tx = self.write().await?;
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!("SELECT status FROM campaigns WHERE id = $1{lock}");
        let status = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(campaign).fetch_optional(&mut *tx).await?;
        if status.map(|r| r.try_get::<String, _>("status")).transpose()?.as_deref() != Some("running") {
            return Ok(0);
        }
        let rows = sqlx::query(
            "SELECT position, recipient, chat, variables FROM campaign_recipients \
             WHERE campaign_id = $1 AND status = 'pending' ORDER BY position LIMIT $2",
        )
        .bind(campaign)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let variables: String = row.try_get("variables")?;
            pending.push(PendingRecipient {
                position: row.try_get("position")?,
                recipient: row.try_get("recipient")?,
                chat: ChatId::from_stored(row.try_get("chat")?),
                variables: serde_json::from_str(&variables)
                    .map_err(|e| StoreError::Corrupt(format!("campaign recipient variables: {e}")))?,
            });
        }
        let messages: Vec<NewMessage> = pending.iter().map(message).collect();
        self.insert_outbound(&mut tx, messages.iter()).await?;
        for (recipient, message) in pending.iter().zip(&messages) {
            sqlx::query(
                "UPDATE campaign_recipients SET status = 'queued', session_id = $3, message_id = $4 \
                 WHERE campaign_id = $1 AND position = $2",
            )
            .bind(campaign)
            .bind(recipient.position)
            .bind(session.to_string())
            .bind(message.id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(pending.len() as u64)
    }

    /// How many recipients are where.
    pub async fn campaign_counts(&self, campaign: &str) -> Result<CampaignCounts> {
        let rows = sqlx::query(
            "SELECT r.status AS state, m.status AS status, COUNT(*) AS n FROM campaign_recipients r \
             LEFT JOIN messages m ON m.id = r.message_id WHERE r.campaign_id = $1 GROUP BY r.status, m.status",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = CampaignCounts::default();
        for row in rows {
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            let state: String = row.try_get("state")?;
            match (state.as_str(), row.try_get::<Option<String>, _>("status")?) {
                ("pending", _) => counts.pending += n,
                ("cancelled", _) => counts.cancelled += n,
                (_, Some(status)) => {
                    let status = MessageStatus::parse(&status).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    counts.messages.push((status, n));
                }
                // The message went with its session.
                (_, None) => counts.cancelled += n,
            }
        }
        Ok(counts)
    }

    /// The campaign's recipients in list order after `after`, with their messages.
    pub async fn campaign_recipients(
        &self,
        campaign: &str,
        status: Option<MessageStatus>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RecipientRecord>> {
        let mut q = Statement::new(
            self.backend,
            "SELECT r.position, r.recipient, r.variables, r.status AS state, r.message_id, m.status, m.error, \
             m.error_code FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id WHERE r.campaign_id = ",
        );
        q.push_bind(campaign.to_owned());
        if let Some(status) = status {
            q.push(" AND m.status = ").push_bind(status.as_str().to_owned());
        }
        if let Some(after) = after {
            q.push(" AND r.position > ").push_bind(after);
        }
        q.push(" ORDER BY r.position LIMIT ").push_bind(i64::from(limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(recipient_from_row).collect()
    }

    /// Sets a campaign's status. Pausing or cancelling also takes back the messages
    /// still waiting in a queue (not being sent): pausing puts their recipients back on
    /// the list, cancelling ends them `cancelled` with every recipient not yet queued.
    /// Completing applies to a running campaign only, so a pause or cancel that came
    /// while the feeder looked stays. Returns the campaign as it is now; `None` if the
    /// tenant has no such campaign (or, when completing, it no longer runs).
    pub async fn set_campaign_status(
        &self,
        tenant: &TenantId,
        id: &str,
        status: CampaignStatus,
        now: OffsetDateTime,
    ) -> Result<Option<CampaignRecord>> {
        let mut tx = self.write().await?;
        let at = to_ms(now);
        let done = sqlx::query(
            "UPDATE campaigns SET status = $3, updated_at = $4, \
             completed_at = CASE WHEN $3 = 'completed' THEN $4 ELSE completed_at END \
             WHERE tenant_id = $1 AND id = $2 AND (status = 'running' OR $3 <> 'completed')",
        )
        .bind(tenant.as_str())
        .bind(id)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if matches!(status, CampaignStatus::Paused | CampaignStatus::Cancelled) {
            let waiting = "SELECT r.message_id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id \
                           WHERE r.campaign_id = $1 AND m.status IN ('queued', 'scheduled')";
            let back = match status {
                CampaignStatus::Paused => "status = 'pending', session_id = NULL, message_id = NULL",
                _ => "status = 'cancelled'",
            };
            let sql =
                format!("UPDATE campaign_recipients SET {back} WHERE campaign_id = $1 AND message_id IN ({waiting})");
            if status == CampaignStatus::Paused {
                // The messages go: their recipients get new ones when the campaign resumes.
                let ids: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(waiting))
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("message_id"))
                    .collect::<Result<_, _>>()?;
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(&mut *tx).await?;
                for chunk in ids.chunks(crate::messages::INSERT_CHUNK) {
                    let mut delete = Statement::new(self.backend, "DELETE FROM messages WHERE id IN (");
                    for (n, message) in chunk.iter().enumerate() {
                        delete.push(if n == 0 { "" } else { ", " }).push_bind(message.clone());
                    }
                    delete.push(")");
                    delete.build()?.execute(&mut *tx).await?;
                }
            } else {
                let cancel = format!(
                    "UPDATE messages SET status = 'cancelled', cancelled_at = $2, updated_at = $2 \
                     WHERE id IN ({waiting})"
                );
                sqlx::query(sqlx::AssertSqlSafe(cancel)).bind(id).bind(at).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE campaign_recipients SET status = 'cancelled' WHERE campaign_id = $1 AND status = 'pending'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        campaign_from_row(&row).map(Some)
    }
}

fn campaign_from_row(row: &AnyRow) -> Result<CampaignRecord> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("campaign {what}: {e}"));
    let status: String = row.try_get("status")?;
    let content: String = row.try_get("content")?;
    let sessions: String = row.try_get("sessions")?;
    let sessions: Vec<String> = serde_json::from_str(&sessions).map_err(|e| corrupt("sessions", &e))?;
    let priority: i64 = row.try_get("priority")?;
    Ok(CampaignRecord {
        id: row.try_get("id")?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        status: CampaignStatus::parse(&status).map_err(|e| corrupt("status", &e))?,
        kind: row.try_get("kind")?,
        content: serde_json::from_str(&content).map_err(|e| corrupt("content", &e))?,
        sessions: sessions
            .iter()
            .map(|s| s.parse().map(SessionId).map_err(|e| corrupt("session", &e)))
            .collect::<Result<_>>()?,
        priority: Priority::from_rank(priority.clamp(0, 2) as i16),
        start_at: from_ms(row.try_get("start_at")?),
        total: u64::try_from(row.try_get::<i64, _>("total")?).unwrap_or(0),
        duplicates: u64::try_from(row.try_get::<i64, _>("duplicates")?).unwrap_or(0),
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        completed_at: opt_from_ms(row.try_get("completed_at")?),
    })
}

fn recipient_from_row(row: &AnyRow) -> Result<RecipientRecord> {
    let variables: String = row.try_get("variables")?;
    let message_id: Option<String> = row.try_get("message_id")?;
    let status: Option<String> = row.try_get("status")?;
    Ok(RecipientRecord {
        position: row.try_get("position")?,
        recipient: row.try_get("recipient")?,
        variables: serde_json::from_str(&variables).map_err(|e| StoreError::Corrupt(format!("variables: {e}")))?,
        state: row.try_get("state")?,
        message_id: message_id
            .as_deref()
            .map(MessageId::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        status: status
            .as_deref()
            .map(MessageStatus::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        error: row.try_get("error")?,
        error_code: row.try_get("error_code")?,
    })
}
