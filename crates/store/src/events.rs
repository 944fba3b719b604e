//! The event log: one ordered list of what happened per tenant, appended in the same
//! transaction as the change it tells of.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{SessionId, SessionName, TenantId};

use crate::statement::Statement;
use crate::time_ms::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

/// An event to append. Its id is given when it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `message.received`, `group.participants`, …
    pub kind: String,
    /// The session it happened to, if any, and its name at the time.
    pub session: Option<(SessionId, SessionName)>,
    /// The event's document as clients get it; never secrets.
    pub data: serde_json::Value,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// 1, 2, 3… per tenant, in the order the events happened.
    pub id: u64,
    pub tenant: TenantId,
    pub session_id: Option<SessionId>,
    pub session: Option<String>,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// Which events to read: those after `after`, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events with a higher id (0: from the start).
    pub after: u64,
    pub session_id: Option<SessionId>,
    /// Event types to include; `message.*` stands for every `message.` type. Empty: all.
    pub kinds: Vec<String>,
    pub limit: u32,
}

impl Store {
    /// Appends events on their own, in one transaction.
    pub async fn record_events(&self, tenant: &TenantId, events: &[NewEvent], now: OffsetDateTime) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        self.append_events(&mut tx, tenant, events, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends events inside the caller's transaction. The tenant's counter row stays
    /// locked until that transaction ends, so ids become visible in order.
    pub(crate) async fn append_events(
        &self,
        tx: &mut crate::write::WriteTx,
        tenant: &TenantId,
        events: &[NewEvent],
        now: OffsetDateTime,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let last: i64 = sqlx::query(
            "INSERT INTO event_counters (tenant_id, last_id) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET last_id = event_counters.last_id + excluded.last_id \
             RETURNING last_id",
        )
        .bind(tenant.as_str())
        .bind(count)
        .fetch_one(&mut **tx)
        .await?
        .try_get("last_id")?;
        let first = last - count + 1;
        for (chunk_start, chunk) in (first..).step_by(INSERT_EVENTS).zip(events.chunks(INSERT_EVENTS)) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO events (tenant_id, id, session_id, session, type, data, created_at) ",
            );
            insert.push_values(chunk.iter().zip(chunk_start..), |row, (event, id)| {
                row.push_bind(tenant.as_str().to_owned())
                    .push_bind(id)
                    .push_bind(event.session.as_ref().map(|(id, _)| id.to_string()))
                    .push_bind(event.session.as_ref().map(|(_, name)| name.to_string()))
                    .push_bind(event.kind.clone())
                    .push_bind(event.data.to_string())
                    .push_bind(to_ms(now));
            });
            insert.build()?.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// A tenant's events matching `filter`, oldest first.
    pub async fn events(&self, tenant: &TenantId, filter: &EventFilter) -> Result<Vec<EventRecord>> {
        let mut q = Statement::new(
            self.backend,
            "SELECT tenant_id, id, session_id, session, type, data, created_at FROM events WHERE tenant_id = ",
        );
        q.push_bind(tenant.as_str().to_owned());
        q.push(" AND id > ").push_bind(i64::try_from(filter.after).unwrap_or(i64::MAX));
        if let Some(session) = filter.session_id {
            q.push(" AND session_id = ").push_bind(session.to_string());
        }
        if !filter.kinds.is_empty() {
            q.push(" AND (");
            for (n, kind) in filter.kinds.iter().enumerate() {
                if n > 0 {
                    q.push(" OR ");
                }
                match kind.strip_suffix('*') {
                    Some(prefix) => {
                        q.push("type LIKE ").push_bind(format!("{}%", escape_like(prefix))).push(" ESCAPE '\\'")
                    }
                    None => q.push("type = ").push_bind(kind.clone()),
                };
            }
            q.push(")");
        }
        q.push(" ORDER BY id LIMIT ").push_bind(i64::from(filter.limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The id of the tenant's newest event, 0 when there is none.
    pub async fn last_event_id(&self, tenant: &TenantId) -> Result<u64> {
        let row = sqlx::query("SELECT last_id FROM event_counters WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let last: i64 = row.map(|r| r.try_get("last_id")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(last).unwrap_or(0))
    }
}

/// Events per multi-row INSERT: 7 values each keeps well under SQLite's variable limit.
const INSERT_EVENTS: usize = crate::messages::INSERT_CHUNK;

/// `prefix` matched literally by LIKE.
fn escape_like(prefix: &str) -> String {
    prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn event_from_row(row: &AnyRow) -> Result<EventRecord> {
    let id: i64 = row.try_get("id")?;
    let session_id = row
        .try_get::<Option<String>, _>("session_id")?
        .map(|s| s.parse().map(SessionId).map_err(|e| StoreError::Corrupt(format!("event {id} session: {e}"))))
        .transpose()?;
    let data: String = row.try_get("data")?;
    Ok(EventRecord {
        id: u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("event id {id}")))?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        session_id,
        session: row.try_get("session")?,
        kind: row.try_get("type")?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(format!("event {id} data: {e}")))?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}
