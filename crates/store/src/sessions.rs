use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{SessionId, SessionName, SessionStatus, TenantId};

use crate::time_ms::{from_ms, opt_from_ms, to_ms};
use crate::{Backend, Result, SessionRecord, SessionSettings, SessionState, Store, StoreError};

const COLUMNS: &str =
    "id, tenant_id, name, status, status_reason, phone, push_name, last_seen_at, settings, created_at, updated_at";

impl Store {
    pub async fn create_session(
        &self,
        tenant: &TenantId,
        name: &SessionName,
        settings: &SessionSettings,
        now: OffsetDateTime,
    ) -> Result<SessionRecord> {
        let id = SessionId::new();
        let settings_json = serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, tenant_id, name, status, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, name) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(tenant.as_str())
        .bind(name.as_str())
        .bind(SessionStatus::Starting.as_str())
        .bind(settings_json)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("session '{name}'")));
        }
        self.session_by_id(id).await?.ok_or_else(|| StoreError::Corrupt("session vanished after insert".into()))
    }

    pub async fn session(&self, tenant: &TenantId, name: &SessionName) -> Result<Option<SessionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND name = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    pub async fn session_by_id(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// The sessions of one tenant, by name.
    pub async fn sessions(&self, tenant: &TenantId) -> Result<Vec<SessionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Every session of every tenant, for starting them when the server starts.
    pub async fn all_sessions(&self) -> Result<Vec<SessionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions ORDER BY tenant_id, name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(session_from_row).collect()
    }

    pub async fn update_session_settings(
        &self,
        id: SessionId,
        settings: &SessionSettings,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>> {
        let settings_json = serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE sessions SET settings = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(settings_json)
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?;
        self.session_by_id(id).await
    }

    /// Records what the engine reports about a session's connection.
    pub async fn set_session_state(&self, id: SessionId, state: &SessionState, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET status = $2, status_reason = $3, phone = COALESCE($4, phone), \
             push_name = COALESCE($5, push_name), last_seen_at = COALESCE($6, last_seen_at), updated_at = $7 \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(state.status.as_str())
        .bind(state.reason.as_deref())
        .bind(state.phone.as_deref())
        .bind(state.push_name.as_deref())
        .bind(state.last_seen_at.map(to_ms))
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a session with its messages and engine state. Returns whether it existed.
    pub async fn delete_session(&self, id: SessionId) -> Result<bool> {
        let mut tx = self.write().await?;
        if self.backend == Backend::Postgres {
            // Engine-state writers lock the session row before their rows; taking it
            // first here too keeps the lock order the same, so the two cannot deadlock.
            sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        }
        // Explicit rather than relying on cascades, which SQLite only honours with
        // foreign keys switched on.
        sqlx::query("DELETE FROM engine_state WHERE session_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE message_id IN (SELECT id FROM messages WHERE session_id = $1)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM messages WHERE session_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM contacts WHERE session_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }
}

fn session_from_row(row: &AnyRow) -> Result<SessionRecord> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("session {what}: {e}"));
    let id: String = row.try_get("id")?;
    let name: String = row.try_get("name")?;
    let status: String = row.try_get("status")?;
    let settings: String = row.try_get("settings")?;
    Ok(SessionRecord {
        id: SessionId(id.parse().map_err(|e| corrupt("id", &e))?),
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        name: SessionName::parse(&name).map_err(|e| corrupt("name", &e))?,
        status: SessionStatus::parse(&status).map_err(|e| corrupt("status", &e))?,
        status_reason: row.try_get("status_reason")?,
        phone: row.try_get("phone")?,
        push_name: row.try_get("push_name")?,
        last_seen_at: opt_from_ms(row.try_get("last_seen_at")?),
        settings: serde_json::from_str(&settings).map_err(|e| corrupt("settings", &e))?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}
