//! Answers to "does this number have a WhatsApp account?", kept per session.

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::{ChatId, PhoneNumber, SessionId};

use crate::time_ms::{from_ms, to_ms};
use crate::{Result, Store};

/// What WhatsApp answered about a number, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCheckRecord {
    pub on_whatsapp: bool,
    /// The account's JID, when there is one.
    pub jid: Option<ChatId>,
    pub checked_at: OffsetDateTime,
}

impl Store {
    /// The session's last answer about `phone`, if it asked.
    pub async fn number_check(&self, session: SessionId, phone: &PhoneNumber) -> Result<Option<NumberCheckRecord>> {
        let row =
            sqlx::query("SELECT on_whatsapp, jid, checked_at FROM number_checks WHERE session_id = $1 AND phone = $2")
                .bind(session.to_string())
                .bind(phone.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(NumberCheckRecord {
            on_whatsapp: row.try_get::<i64, _>("on_whatsapp")? != 0,
            jid: row.try_get::<Option<String>, _>("jid")?.map(ChatId::from_stored),
            checked_at: from_ms(row.try_get("checked_at")?),
        }))
    }

    /// Keeps an answer about `phone`, replacing the session's earlier one.
    pub async fn record_number_check(
        &self,
        session: SessionId,
        phone: &PhoneNumber,
        check: &NumberCheckRecord,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO number_checks (session_id, phone, on_whatsapp, jid, checked_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id, phone) DO UPDATE SET on_whatsapp = excluded.on_whatsapp, jid = excluded.jid, \
             checked_at = excluded.checked_at",
        )
        .bind(session.to_string())
        .bind(phone.as_str())
        .bind(i64::from(check.on_whatsapp))
        .bind(check.jid.as_ref().map(|j| j.as_str().to_owned()))
        .bind(to_ms(check.checked_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
