//! Consent: each contact's opt-in per session with its audit trail, and the tenant's
//! suppression list.
//!
//! A contact is named as outbound messages name their recipient: E.164 for phone
//! numbers, else the JID. A change of opt-in moves the contact's waiting messages in
//! the same transaction: `yes` makes them due now, `no` ends them as `opted_out`.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{MessageId, OptInStatus, SessionId, TenantId};

use crate::statement::Statement;
use crate::time_ms::{from_ms, to_ms};
use crate::{OptInChange, OptInChangeRecord, OptInRecord, Result, Store, StoreError, SuppressionRecord};

/// What a change of opt-in did to the contact's waiting messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptInMoved {
    /// Made due now (`yes`).
    pub released: u64,
    /// Ended as `opted_out` (`no`).
    pub opted_out: u64,
}

impl Store {
    /// The contact's opt-in with the session, if any was ever recorded.
    pub async fn opt_in(&self, session: SessionId, contact: &str) -> Result<Option<OptInRecord>> {
        let row = sqlx::query("SELECT contact, status, changed_at FROM opt_ins WHERE session_id = $1 AND contact = $2")
            .bind(session.to_string())
            .bind(contact)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(opt_in_from_row).transpose()
    }

    /// The session's opt-ins, by contact, after `after`; `status` narrows them.
    pub async fn opt_ins(
        &self,
        session: SessionId,
        status: Option<OptInStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OptInRecord>> {
        let mut q = Statement::new(self.backend, "SELECT contact, status, changed_at FROM opt_ins WHERE session_id = ");
        q.push_bind(session.to_string());
        if let Some(status) = status {
            q.push(" AND status = ").push_bind(status.as_str().to_owned());
        }
        if let Some(after) = after {
            q.push(" AND contact > ").push_bind(after.to_owned());
        }
        q.push(" ORDER BY contact LIMIT ").push_bind(i64::from(limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(opt_in_from_row).collect()
    }

    /// Every change of the contact's opt-in with the session, oldest first.
    pub async fn opt_in_history(&self, session: SessionId, contact: &str) -> Result<Vec<OptInChangeRecord>> {
        let rows = sqlx::query(
            "SELECT status, how, actor, note, at FROM opt_in_changes WHERE session_id = $1 AND contact = $2 ORDER BY id",
        )
        .bind(session.to_string())
        .bind(contact)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OptInChangeRecord {
                    status: parse_status(row)?,
                    how: row.try_get("how")?,
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    at: from_ms(row.try_get("at")?),
                })
            })
            .collect()
    }

    /// Sets contacts' opt-ins (an API client's changes), all in one transaction with
    /// their audit entries, their events and what they do to the contacts' waiting
    /// messages.
    pub async fn set_opt_ins(
        &self,
        tenant: &TenantId,
        session: SessionId,
        changes: &[OptInChange],
        now: OffsetDateTime,
    ) -> Result<OptInMoved> {
        let mut tx = self.write().await?;
        let exists = sqlx::query("SELECT id FROM sessions WHERE id = $1 AND tenant_id = $2")
            .bind(session.to_string())
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("session {session}")));
        }
        let mut moved = OptInMoved::default();
        for change in changes {
            let one = self.change_opt_in(&mut tx, tenant, session, change, now).await?;
            moved.released += one.released;
            moved.opted_out += one.opted_out;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// The opt-in of `contact` as `tx` sees it.
    pub(crate) async fn opt_in_in(
        &self,
        tx: &mut crate::write::WriteTx,
        session: SessionId,
        contact: &str,
    ) -> Result<Option<OptInStatus>> {
        let row = sqlx::query("SELECT status FROM opt_ins WHERE session_id = $1 AND contact = $2")
            .bind(session.to_string())
            .bind(contact)
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(parse_status).transpose()
    }

    /// Records `change` in `tx`: the opt-in, its audit entry, its event, and the
    /// contact's waiting messages released (`yes`) or ended (`no`).
    pub(crate) async fn change_opt_in(
        &self,
        tx: &mut crate::write::WriteTx,
        tenant: &TenantId,
        session: SessionId,
        change: &OptInChange,
        now: OffsetDateTime,
    ) -> Result<OptInMoved> {
        let at = to_ms(now);
        sqlx::query(
            "INSERT INTO opt_ins (session_id, contact, status, changed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_id, contact) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at",
        )
        .bind(session.to_string())
        .bind(&change.contact)
        .bind(change.status.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO opt_in_changes (id, session_id, contact, status, how, actor, note, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(MessageId::new().to_string())
        .bind(session.to_string())
        .bind(&change.contact)
        .bind(change.status.as_str())
        .bind(&change.how)
        .bind(change.actor.clone())
        .bind(change.note.clone())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        self.append_events(tx, tenant, std::slice::from_ref(&change.event), now).await?;

        // Answers queued by wagate itself (the prompt, confirmations, auto-replies) are
        // not the contact's to hold or end.
        let waiting = "session_id = $1 AND recipient = $2 AND direction = 'outbound' \
                       AND (origin IS NULL OR origin = 'campaign')";
        let mut moved = OptInMoved::default();
        match change.status {
            OptInStatus::Yes => {
                let sql = format!(
                    "UPDATE messages SET next_attempt_at = $3, error = NULL, updated_at = $3 \
                     WHERE {waiting} AND status = 'queued' AND next_attempt_at > $3"
                );
                moved.released = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(session.to_string())
                    .bind(&change.contact)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            }
            OptInStatus::No => {
                let sql = format!(
                    "UPDATE messages SET status = 'opted_out', failed_at = $3, error = $4, error_code = NULL, \
                     updated_at = $3 WHERE {waiting} AND status IN ('queued', 'scheduled')"
                );
                moved.opted_out = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(session.to_string())
                    .bind(&change.contact)
                    .bind(at)
                    .bind(format!("{} opted out", change.contact))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            }
            OptInStatus::Pending => {}
        }
        Ok(moved)
    }

    /// Whether `phone` is on the tenant's suppression list.
    pub async fn suppression(&self, tenant: &TenantId, phone: &str) -> Result<Option<SuppressionRecord>> {
        let row = sqlx::query(
            "SELECT phone, reason, actor, created_at FROM suppressions WHERE tenant_id = $1 AND phone = $2",
        )
        .bind(tenant.as_str())
        .bind(phone)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(suppression_from_row).transpose()
    }

    /// The tenant's suppression list, by number, after `after`.
    pub async fn suppressions(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SuppressionRecord>> {
        let mut q = Statement::new(
            self.backend,
            "SELECT phone, reason, actor, created_at FROM suppressions WHERE tenant_id = ",
        );
        q.push_bind(tenant.as_str().to_owned());
        if let Some(after) = after {
            q.push(" AND phone > ").push_bind(after.to_owned());
        }
        q.push(" ORDER BY phone LIMIT ").push_bind(i64::from(limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(suppression_from_row).collect()
    }

    /// Puts a number on the suppression list (keeping the first entry if it is there)
    /// and ends every waiting message of the tenant to it as `opted_out`, in one
    /// transaction. Returns the entry as stored and how many messages it ended.
    pub async fn suppress(&self, tenant: &TenantId, entry: &SuppressionRecord) -> Result<(SuppressionRecord, u64)> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO suppressions (tenant_id, phone, reason, actor, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, phone) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(&entry.phone)
        .bind(entry.reason.clone())
        .bind(entry.actor.clone())
        .bind(to_ms(entry.created_at))
        .execute(&mut *tx)
        .await?;
        let ended = sqlx::query(
            "UPDATE messages SET status = 'opted_out', failed_at = $3, error = $4, error_code = NULL, updated_at = $3 \
             WHERE tenant_id = $1 AND recipient = $2 AND direction = 'outbound' AND status IN ('queued', 'scheduled')",
        )
        .bind(tenant.as_str())
        .bind(&entry.phone)
        .bind(to_ms(entry.created_at))
        .bind(format!("{} is on the suppression list", entry.phone))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT phone, reason, actor, created_at FROM suppressions WHERE tenant_id = $1 AND phone = $2",
        )
        .bind(tenant.as_str())
        .bind(&entry.phone)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((suppression_from_row(&row)?, ended))
    }

    /// Takes a number off the suppression list; whether it was on it.
    pub async fn unsuppress(&self, tenant: &TenantId, phone: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE tenant_id = $1 AND phone = $2")
            .bind(tenant.as_str())
            .bind(phone)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn parse_status(row: &AnyRow) -> Result<OptInStatus> {
    let status: String = row.try_get("status")?;
    OptInStatus::parse(&status).map_err(|e| StoreError::Corrupt(format!("opt-in status: {e}")))
}

fn opt_in_from_row(row: &AnyRow) -> Result<OptInRecord> {
    Ok(OptInRecord {
        contact: row.try_get("contact")?,
        status: parse_status(row)?,
        changed_at: from_ms(row.try_get("changed_at")?),
    })
}

fn suppression_from_row(row: &AnyRow) -> Result<SuppressionRecord> {
    Ok(SuppressionRecord {
        phone: row.try_get("phone")?,
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}
