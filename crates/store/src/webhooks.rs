//! Webhook endpoints and their delivery state. Each endpoint works through the event
//! log after its cursor, in order: a delivery moves the cursor in the transaction that
//! logs the attempt, so a crash redelivers at most the event in flight (with the same
//! id), and a receiver that is down for a day gets everything once it is back.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{SessionId, TenantId};

use crate::Backend;
use crate::messages::INSERT_CHUNK;
use crate::statement::Statement;
use crate::time_ms::{from_ms, opt_from_ms, to_ms};
use crate::{EventFilter, EventRecord, NewEvent, Result, Store, StoreError};

/// An endpoint to create. Its `Debug` leaves out the secret and the header values.
#[derive(Clone)]
pub struct NewWebhook {
    pub id: String,
    pub tenant: TenantId,
    pub url: String,
    /// `None`: every session of the tenant.
    pub session_id: Option<SessionId>,
    /// Event type filters: `*`, `message.*`, `poll.vote`.
    pub events: Vec<String>,
    pub secret: String,
    pub headers: BTreeMap<String, String>,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A stored endpoint. Its `Debug` leaves out the secret and the header values.
#[derive(Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    pub tenant: TenantId,
    pub url: String,
    pub session_id: Option<SessionId>,
    pub events: Vec<String>,
    pub secret: String,
    pub headers: BTreeMap<String, String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// The last event delivered or given up on.
    pub cursor: u64,
    /// Failed attempts at the event after the cursor.
    pub head_attempts: u32,
    /// When the first of them was made.
    pub head_failing_since: Option<OffsetDateTime>,
    pub next_attempt_at: OffsetDateTime,
    /// When the current run of failures began (over every event it failed on).
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Changes to an endpoint's headers: a name with a value sets or replaces that
/// header, a name with `None` removes it, and headers not named are kept. Names
/// compare without regard to case, as HTTP's do.
pub type HeaderChanges = BTreeMap<String, Option<String>>;

/// `current` with `changes` applied (see [`HeaderChanges`]).
pub fn merge_headers(current: &BTreeMap<String, String>, changes: &HeaderChanges) -> BTreeMap<String, String> {
    let mut merged = current.clone();
    for (name, value) in changes {
        merged.retain(|kept, _| !kept.eq_ignore_ascii_case(name));
        if let Some(value) = value {
            merged.insert(name.clone(), value.clone());
        }
    }
    merged
}

/// A change to an endpoint; `None` (no header changes) keeps a field. Its `Debug`
/// leaves out header values.
#[derive(Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub session_id: Option<Option<SessionId>>,
    pub events: Option<Vec<String>>,
    pub headers: HeaderChanges,
    pub description: Option<Option<String>>,
    /// Enabling again also forgets the run of failures.
    pub enabled: Option<bool>,
}

/// Header names with their values hidden, for `Debug`.
struct HeaderNames<'a, V>(&'a BTreeMap<String, V>);

impl<V> std::fmt::Debug for HeaderNames<'_, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.keys().map(|name| (name, REDACTED))).finish()
    }
}

/// What `Debug` shows for a secret or a header value.
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("session_id", &self.session_id)
            .field("events", &self.events)
            .field("secret", &REDACTED)
            .field("headers", &HeaderNames(&self.headers))
            .field("description", &self.description)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("session_id", &self.session_id)
            .field("events", &self.events)
            .field("secret", &REDACTED)
            .field("headers", &HeaderNames(&self.headers))
            .field("description", &self.description)
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("cursor", &self.cursor)
            .field("head_attempts", &self.head_attempts)
            .field("head_failing_since", &self.head_failing_since)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("failing_since", &self.failing_since)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl std::fmt::Debug for WebhookChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChange")
            .field("url", &self.url)
            .field("session_id", &self.session_id)
            .field("events", &self.events)
            .field("headers", &HeaderNames(&self.headers))
            .field("description", &self.description)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// One delivery attempt, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptLog {
    pub event_id: u64,
    pub attempt: u32,
    /// `None` when no answer came.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub at: OffsetDateTime,
}

/// An attempt as the delivery log holds it: `id` orders the log (newest last) and
/// serves as its cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedAttempt {
    pub id: String,
    pub log: AttemptLog,
}

/// An event given up on.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub event_id: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub at: OffsetDateTime,
}

const COLUMNS: &str = "id, tenant_id, url, session_id, events, secret, headers, description, enabled, \
    disabled_reason, cursor, head_attempts, head_failing_since, next_attempt_at, failing_since, created_at, updated_at";

impl Store {
    /// Stores an endpoint; it gets the events that happen from now on.
    pub async fn create_webhook(&self, hook: &NewWebhook) -> Result<WebhookRecord> {
        let mut tx = self.write().await?;
        let last = sqlx::query("SELECT last_id FROM event_counters WHERE tenant_id = $1")
            .bind(hook.tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>("last_id"))
            .transpose()?
            .unwrap_or(0);
        let at = to_ms(hook.created_at);
        sqlx::query(
            "INSERT INTO webhooks (id, tenant_id, url, session_id, events, secret, headers, description, enabled, \
             cursor, head_attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, 0, $10, $10, $10)",
        )
        .bind(&hook.id)
        .bind(hook.tenant.as_str())
        .bind(&hook.url)
        .bind(hook.session_id.map(|s| s.to_string()))
        .bind(json_text(&hook.events)?)
        .bind(&hook.secret)
        .bind(json_text(&hook.headers)?)
        .bind(hook.description.clone())
        .bind(last)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.webhook(&hook.tenant, &hook.id).await?.ok_or_else(|| StoreError::NotFound(format!("webhook {}", hook.id)))
    }

    pub async fn webhook(&self, tenant: &TenantId, id: &str) -> Result<Option<WebhookRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// The tenant's endpoints, oldest first.
    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// Every tenant's enabled endpoints, for the deliverer.
    pub async fn enabled_webhooks(&self) -> Result<Vec<WebhookRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE enabled = 1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &WebhookChange,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookRecord>> {
        let mut tx = self.write().await?;
        // Header changes apply to the headers as they are now; the row stays locked
        // until the commit, so two changes to different headers both hold.
        let headers = if change.headers.is_empty() {
            None
        } else {
            let lock = match self.backend {
                Backend::Sqlite => "",
                Backend::Postgres => " FOR UPDATE",
            };
            let sql = format!("SELECT headers FROM webhooks WHERE tenant_id = $1 AND id = $2{lock}");
            let Some(row) =
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).bind(id).fetch_optional(&mut *tx).await?
            else {
                return Ok(None);
            };
            let stored: String = row.try_get("headers")?;
            let current: BTreeMap<String, String> =
                serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(format!("webhook headers: {e}")))?;
            Some(merge_headers(&current, &change.headers))
        };
        let mut q = Statement::new(self.backend, "UPDATE webhooks SET updated_at = ");
        q.push_bind(to_ms(now));
        if let Some(url) = &change.url {
            q.push(", url = ").push_bind(url.clone());
        }
        if let Some(session) = change.session_id {
            q.push(", session_id = ").push_bind(session.map(|s| s.to_string()));
        }
        if let Some(events) = &change.events {
            q.push(", events = ").push_bind(json_text(events)?);
        }
        if let Some(headers) = &headers {
            q.push(", headers = ").push_bind(json_text(headers)?);
        }
        if let Some(description) = &change.description {
            q.push(", description = ").push_bind(description.clone());
        }
        match change.enabled {
            Some(true) => {
                q.push(
                    ", enabled = 1, disabled_reason = NULL, failing_since = NULL, head_attempts = 0, \
                     head_failing_since = NULL, next_attempt_at = ",
                )
                .push_bind(to_ms(now));
            }
            Some(false) => {
                q.push(", enabled = 0, disabled_reason = 'disabled through the API'");
            }
            None => {}
        }
        q.push(" WHERE tenant_id = ").push_bind(tenant.as_str().to_owned());
        q.push(" AND id = ").push_bind(id.to_owned());
        if q.build()?.execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        self.webhook(tenant, id).await
    }

    pub async fn delete_webhook(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The events after the endpoint's cursor that it wants, oldest first.
    pub async fn webhook_events(&self, hook: &WebhookRecord, limit: u32) -> Result<Vec<EventRecord>> {
        let kinds = if hook.events.iter().any(|e| e == "*") { Vec::new() } else { hook.events.clone() };
        let filter = EventFilter { after: hook.cursor, session_id: hook.session_id, kinds, limit };
        self.events(&hook.tenant, &filter).await
    }

    /// Records delivered events in one transaction: their attempts, and the cursor past
    /// the last (never back). The delivery state changes only while the endpoint is as
    /// `hook` read it: a client's change (a replay, say) wins over deliveries made before.
    pub async fn webhook_delivered(&self, hook: &WebhookRecord, logs: &[AttemptLog]) -> Result<()> {
        let id = hook.id.as_str();
        let Some(last) = logs.iter().max_by_key(|log| log.event_id) else {
            return Ok(());
        };
        let mut tx = self.write().await?;
        self.log_attempts(&mut tx, id, logs).await?;
        for chunk in logs.chunks(INSERT_CHUNK) {
            let mut delete = Statement::new(self.backend, "DELETE FROM webhook_dead_letters WHERE webhook_id = ");
            delete.push_bind(id.to_owned()).push(" AND event_id IN (");
            for (n, log) in chunk.iter().enumerate() {
                delete.push(if n == 0 { "" } else { ", " }).push_bind(i64::try_from(log.event_id).unwrap_or(i64::MAX));
            }
            delete.push(")");
            delete.build()?.execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE webhooks SET cursor = CASE WHEN cursor < $2 THEN $2 ELSE cursor END, head_attempts = 0, \
             head_failing_since = NULL, failing_since = NULL, next_attempt_at = $3 WHERE id = $1 AND updated_at = $4",
        )
        .bind(id)
        .bind(i64::try_from(last.event_id).unwrap_or(i64::MAX))
        .bind(to_ms(last.at))
        .bind(to_ms(hook.updated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt at the event after the cursor; the next one is at
    /// `retry_at` (unless a client changed the endpoint since `hook` was read).
    pub async fn webhook_failed(&self, hook: &WebhookRecord, log: &AttemptLog, retry_at: OffsetDateTime) -> Result<()> {
        let id = hook.id.as_str();
        let mut tx = self.write().await?;
        self.log_attempt(&mut tx, id, log).await?;
        sqlx::query(
            "UPDATE webhooks SET head_attempts = head_attempts + 1, next_attempt_at = $2, \
             head_failing_since = COALESCE(head_failing_since, $3), failing_since = COALESCE(failing_since, $3) \
             WHERE id = $1 AND updated_at = $4",
        )
        .bind(id)
        .bind(to_ms(retry_at))
        .bind(to_ms(log.at))
        .bind(to_ms(hook.updated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives up on the event after the cursor after its last attempt (`log`): it goes
    /// to the dead letters and the cursor past it (unless a client changed the endpoint
    /// since `hook` was read).
    pub async fn webhook_dead_letter(&self, hook: &WebhookRecord, log: &AttemptLog) -> Result<()> {
        let id = hook.id.as_str();
        let mut tx = self.write().await?;
        self.log_attempt(&mut tx, id, log).await?;
        let event = i64::try_from(log.event_id).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO webhook_dead_letters (webhook_id, event_id, attempts, last_error, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (webhook_id, event_id) DO NOTHING",
        )
        .bind(id)
        .bind(event)
        .bind(i64::from(log.attempt))
        .bind(log.error.clone())
        .bind(to_ms(log.at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhooks SET cursor = CASE WHEN cursor < $2 THEN $2 ELSE cursor END, head_attempts = 0, \
             head_failing_since = NULL, failing_since = COALESCE(failing_since, $3), next_attempt_at = $3 \
             WHERE id = $1 AND updated_at = $4",
        )
        .bind(id)
        .bind(event)
        .bind(to_ms(log.at))
        .bind(to_ms(hook.updated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables an endpoint that kept failing, with the event that tells of it.
    pub async fn disable_webhook(
        &self,
        hook: &WebhookRecord,
        reason: &str,
        event: &NewEvent,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1")
            .bind(&hook.id)
            .bind(reason)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        self.append_events(&mut tx, &hook.tenant, std::slice::from_ref(event), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the cursor so delivery starts again at event `from` (its id and later).
    pub async fn replay_webhook(&self, tenant: &TenantId, id: &str, from: u64, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET cursor = $3, head_attempts = 0, head_failing_since = NULL, next_attempt_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id)
        .bind(i64::try_from(from.saturating_sub(1)).unwrap_or(i64::MAX))
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Logs an attempt outside the cursor's order (a redelivery on request).
    pub async fn webhook_attempted(&self, id: &str, log: &AttemptLog) -> Result<()> {
        let mut tx = self.write().await?;
        self.log_attempt(&mut tx, id, log).await?;
        if log.status_code.is_some_and(|c| (200..300).contains(&c)) {
            sqlx::query("DELETE FROM webhook_dead_letters WHERE webhook_id = $1 AND event_id = $2")
                .bind(id)
                .bind(i64::try_from(log.event_id).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The endpoint's attempts, newest first: up to `limit` of them, those logged
    /// before the attempt `before` when it is given (the last of the previous page).
    pub async fn webhook_attempts(&self, id: &str, before: Option<&str>, limit: u32) -> Result<Vec<LoggedAttempt>> {
        let mut q = Statement::new(
            self.backend,
            "SELECT id, event_id, attempt, status_code, latency_ms, error, at FROM webhook_attempts WHERE webhook_id = ",
        );
        q.push_bind(id.to_owned());
        if let Some(before) = before {
            q.push(" AND id < ").push_bind(before.to_owned());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let log = AttemptLog {
                    event_id: u64::try_from(row.try_get::<i64, _>("event_id")?).unwrap_or(0),
                    attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    status_code: row.try_get::<Option<i64>, _>("status_code")?.and_then(|c| u16::try_from(c).ok()),
                    latency_ms: u64::try_from(row.try_get::<i64, _>("latency_ms")?).unwrap_or(0),
                    error: row.try_get("error")?,
                    at: from_ms(row.try_get("at")?),
                };
                Ok(LoggedAttempt { id: row.try_get("id")?, log })
            })
            .collect()
    }

    /// The endpoint's dead letters, oldest event first: up to `limit` of them, for
    /// events after `after` (the last of the previous page; 0 for the first).
    pub async fn webhook_dead_letters(&self, id: &str, after: u64, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT event_id, attempts, last_error, at FROM webhook_dead_letters \
             WHERE webhook_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3",
        )
        .bind(id)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeadLetter {
                    event_id: u64::try_from(row.try_get::<i64, _>("event_id")?).unwrap_or(0),
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    last_error: row.try_get("last_error")?,
                    at: from_ms(row.try_get("at")?),
                })
            })
            .collect()
    }

    /// One event of the tenant by id.
    pub async fn event(&self, tenant: &TenantId, id: u64) -> Result<Option<EventRecord>> {
        let filter = EventFilter { after: id.saturating_sub(1), session_id: None, kinds: Vec::new(), limit: 1 };
        Ok(self.events(tenant, &filter).await?.into_iter().next().filter(|e| e.id == id))
    }

    async fn log_attempt(&self, tx: &mut crate::write::WriteTx, id: &str, log: &AttemptLog) -> Result<()> {
        self.log_attempts(tx, id, std::slice::from_ref(log)).await
    }

    async fn log_attempts(&self, tx: &mut crate::write::WriteTx, id: &str, logs: &[AttemptLog]) -> Result<()> {
        for chunk in logs.chunks(INSERT_CHUNK) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO webhook_attempts (id, webhook_id, event_id, attempt, status_code, latency_ms, error, at) ",
            );
            insert.push_values(chunk, |row, log| {
                row.push_bind(uuid::Uuid::now_v7().to_string())
                    .push_bind(id.to_owned())
                    .push_bind(i64::try_from(log.event_id).unwrap_or(i64::MAX))
                    .push_bind(i64::from(log.attempt))
                    .push_bind(log.status_code.map(i64::from))
                    .push_bind(i64::try_from(log.latency_ms).unwrap_or(i64::MAX))
                    .push_bind(log.error.clone())
                    .push_bind(to_ms(log.at));
            });
            insert.build()?.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn webhook_from_row(row: &AnyRow) -> Result<WebhookRecord> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("webhook {what}: {e}"));
    let events: String = row.try_get("events")?;
    let headers: String = row.try_get("headers")?;
    let session: Option<String> = row.try_get("session_id")?;
    Ok(WebhookRecord {
        id: row.try_get("id")?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        url: row.try_get("url")?,
        session_id: session.map(|s| s.parse().map(SessionId).map_err(|e| corrupt("session", &e))).transpose()?,
        events: serde_json::from_str(&events).map_err(|e| corrupt("events", &e))?,
        secret: row.try_get("secret")?,
        headers: serde_json::from_str(&headers).map_err(|e| corrupt("headers", &e))?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        disabled_reason: row.try_get("disabled_reason")?,
        cursor: u64::try_from(row.try_get::<i64, _>("cursor")?).unwrap_or(0),
        head_attempts: u32::try_from(row.try_get::<i64, _>("head_attempts")?).unwrap_or(0),
        head_failing_since: opt_from_ms(row.try_get("head_failing_since")?),
        next_attempt_at: from_ms(row.try_get("next_attempt_at")?),
        failing_since: opt_from_ms(row.try_get("failing_since")?),
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn debug_output_names_headers_but_shows_no_secret_or_header_value() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let hook = WebhookRecord {
            id: "w1".into(),
            tenant: TenantId::default_tenant(),
            url: "https://example.com/hook".into(),
            session_id: None,
            events: vec!["*".into()],
            secret: "whsec_topsecretvalue".into(),
            headers: headers(&[("Authorization", "Bearer s3cr3t-token")]),
            description: None,
            enabled: true,
            disabled_reason: None,
            cursor: 0,
            head_attempts: 0,
            head_failing_since: None,
            next_attempt_at: at,
            failing_since: None,
            created_at: at,
            updated_at: at,
        };
        let new = NewWebhook {
            id: hook.id.clone(),
            tenant: hook.tenant.clone(),
            url: hook.url.clone(),
            session_id: None,
            events: hook.events.clone(),
            secret: hook.secret.clone(),
            headers: hook.headers.clone(),
            description: None,
            created_at: at,
        };
        let change = WebhookChange {
            headers: [("Authorization".to_owned(), Some("Bearer s3cr3t-token".to_owned()))].into(),
            ..WebhookChange::default()
        };
        for shown in [format!("{hook:?}"), format!("{new:?}"), format!("{change:?}")] {
            assert!(shown.contains("Authorization"), "{shown}");
            assert!(!shown.contains("s3cr3t") && !shown.contains("topsecret"), "{shown}");
        }
    }

    #[test]
    fn header_changes_set_replace_and_remove_by_name_in_any_case() {
        let current = headers(&[("Authorization", "Bearer old"), ("X-Shop", "demo")]);
        let changes: HeaderChanges = [
            ("authorization".to_owned(), Some("Bearer new".to_owned())),
            ("x-shop".to_owned(), None),
            ("X-Region".to_owned(), Some("eu".to_owned())),
            ("X-Absent".to_owned(), None),
        ]
        .into();

        let merged = merge_headers(&current, &changes);

        assert_eq!(merged, headers(&[("authorization", "Bearer new"), ("X-Region", "eu")]));
        assert_eq!(merge_headers(&current, &HeaderChanges::new()), current, "nothing named, nothing changed");
    }
}
