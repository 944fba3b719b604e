//! When a session's messages went out, for its caps.

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::SessionId;

use crate::time_ms::{from_ms, to_ms};
use crate::{Result, Store};

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
