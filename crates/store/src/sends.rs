//! When a session's messages went out, for its caps, and what waits to go out.

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::{Priority, SessionId};

use crate::message_rows::{COLUMNS, message_from_row};
use crate::time_ms::{from_ms, to_ms};
use crate::{MessageRecord, Result, Store};

impl Store {
    /// When the session's outbound messages sent since `since` were acknowledged,
    /// oldest first.
    pub async fn recent_sends(&self, session: SessionId, since: OffsetDateTime) -> Result<Vec<OffsetDateTime>> {
        let rows = sqlx::query(
            "SELECT sent_at FROM messages WHERE session_id = $1 AND direction = 'outbound' AND sent_at >= $2 \
             ORDER BY sent_at",
        )
        .bind(session.to_string())
        .bind(to_ms(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(from_ms(row.try_get("sent_at")?))).collect()
    }
}

impl Store {
    /// Like [`recent_sends`](Self::recent_sends), of one priority lane.
    pub async fn recent_sends_of(
        &self,
        session: SessionId,
        priority: Priority,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>> {
        let rows = sqlx::query(
            "SELECT sent_at FROM messages WHERE session_id = $1 AND direction = 'outbound' AND sent_at >= $2 \
             AND priority = $3 ORDER BY sent_at",
        )
        .bind(session.to_string())
        .bind(to_ms(since))
        .bind(i64::from(priority.rank()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(from_ms(row.try_get("sent_at")?))).collect()
    }

    /// When the session's first message went out, if any did.
    pub async fn first_send(&self, session: SessionId) -> Result<Option<OffsetDateTime>> {
        let first: Option<i64> =
            sqlx::query("SELECT MIN(sent_at) AS first FROM messages WHERE session_id = $1 AND direction = 'outbound'")
                .bind(session.to_string())
                .fetch_one(&self.pool)
                .await?
                .try_get("first")?;
        Ok(first.map(from_ms))
    }

    /// The messages waiting in the session's queue (queued, scheduled, sending), in the
    /// order the dispatcher takes due ones (priority, then oldest), at most `limit`; and
    /// how many wait in all.
    pub async fn waiting(&self, session: SessionId, limit: u32) -> Result<(u64, Vec<MessageRecord>)> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM messages{} WHERE session_id = $1 AND status IN ('queued', 'scheduled', 'sending')",
            self.backend.waiting_index()
        );
        let count: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.session_id = $1 \
             AND m.status IN ('queued', 'scheduled', 'sending') ORDER BY m.priority DESC, m.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let waiting = rows.iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
        Ok((u64::try_from(count).unwrap_or(0), waiting))
    }
}
