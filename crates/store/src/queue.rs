//! The dispatcher's side of outbound messages: claiming the next due one (past capped
//! lanes and spaced recipients), recording how an attempt ended, and receipts moving a
//! sent message forward, each with the events it gives in the same transaction.

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::{FailureCode, MessageId, MessageStatus, ReceiptKind, SessionId, WaMessageId};

use crate::message_rows::{COLUMNS, message_from_row};
use crate::time_ms::{opt_from_ms, to_ms};
use crate::{AttemptResult, Backend, ClaimRules, MessageRecord, Result, Store, StoreError};

/// The events a change of a message's status gives, from the message as it is now.
pub type Tell = dyn Fn(&MessageRecord) -> Vec<crate::NewEvent> + Sync;

impl Store {
    /// Takes the session's next due message (highest priority, then oldest) and marks
    /// it `sending` until `lease_until`. A message left `sending` by a crashed process
    /// is due again once its lease runs out.
    pub async fn claim_next(
        &self,
        session: SessionId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<MessageRecord>> {
        self.claim_next_where(session, now, lease_until, &ClaimRules::default()).await
    }

    /// Like [`claim_next`](Self::claim_next), passing over messages `rules` hold back.
    pub async fn claim_next_where(
        &self,
        session: SessionId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        rules: &ClaimRules,
    ) -> Result<Option<MessageRecord>> {
        let sql = claim_sql(self.backend, rules);
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(session.to_string()).bind(to_ms(now)).bind(to_ms(lease_until));
        if let Some(spacing) = rules.recipient_spacing {
            query = query.bind(to_ms(now - spacing));
        }
        // A write: on SQLite it takes its turn with the other writers (see `write`).
        let mut tx = self.write().await?;
        let claimed = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        match claimed {
            Some(row) => {
                let id: String = row.try_get("id")?;
                let sql =
                    format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&self.pool).await?;
                Ok(Some(message_from_row(&row)?))
            }
            None => Ok(None),
        }
    }

    /// When the first due message that waits only for its recipient's spacing may go:
    /// the oldest send since `now - spacing` to a recipient with a due message, plus the
    /// spacing. `None` when no due message waits for that.
    pub async fn spacing_ends_at(
        &self,
        session: SessionId,
        now: OffsetDateTime,
        spacing: std::time::Duration,
    ) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query(
            "SELECT MIN(p.sent_at) AS oldest FROM messages p WHERE p.session_id = $1 AND p.direction = 'outbound' \
             AND p.sent_at > $2 AND p.recipient IN (SELECT m.recipient FROM messages m WHERE m.session_id = $1 \
             AND m.status IN ('queued', 'scheduled') AND m.next_attempt_at <= $3)",
        )
        .bind(session.to_string())
        .bind(to_ms(now - spacing))
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(opt_from_ms(row.try_get("oldest")?).map(|oldest| oldest + spacing))
    }

    /// When the session's next waiting message becomes due, if any waits.
    pub async fn next_due_at(&self, session: SessionId) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(next_due_sql(self.backend)))
            .bind(session.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(opt_from_ms(row.try_get("due")?))
    }

    /// Before the sessions are started again at start-up, in one transaction: every
    /// session that is not logged out becomes `starting`, and the messages a previous
    /// run left `sending` go back to the queue. Returns how many messages and sessions.
    pub async fn restore_sessions(&self, now: OffsetDateTime) -> Result<(u64, u64)> {
        let mut tx = self.write().await?;
        let released = sqlx::query(
            "UPDATE messages SET status = 'queued', lease_until = NULL, next_attempt_at = $1, updated_at = $1 \
             WHERE status = 'sending' AND session_id IN (SELECT id FROM sessions WHERE status <> 'logged_out')",
        )
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let marked = sqlx::query(
            "UPDATE sessions SET status = 'starting', status_reason = NULL, updated_at = $1 \
             WHERE status <> 'logged_out'",
        )
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((released, marked))
    }

    /// Puts back messages a previous run of this session left `sending`. Called when
    /// the session starts, before its dispatcher claims anything: only one node runs a
    /// session, so nothing else can be sending them.
    pub async fn release_sending(&self, session: SessionId, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'queued', lease_until = NULL, next_attempt_at = $2, updated_at = $2 \
             WHERE session_id = $1 AND status = 'sending'",
        )
        .bind(session.to_string())
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records how a send attempt of a claimed message ended.
    pub async fn finish_attempt(&self, id: MessageId, result: &AttemptResult, now: OffsetDateTime) -> Result<()> {
        self.finish_attempt_telling(id, result, now, &|_| Vec::new()).await
    }

    /// Like [`finish_attempt`](Self::finish_attempt), and in the same transaction the
    /// events `tell` gives for the message as it is now, when it was sent or ended.
    pub async fn finish_attempt_telling(
        &self,
        message_id: MessageId,
        result: &AttemptResult,
        now: OffsetDateTime,
        tell: &Tell,
    ) -> Result<()> {
        let id = message_id.to_string();
        let query = match result {
            // A receipt may have overtaken the acknowledgement: then the message has
            // moved on, told `message.sent` itself, and stays as it is.
            AttemptResult::Sent { at } => sqlx::query(
                "UPDATE messages SET status = 'sent', sent_at = COALESCE(sent_at, $2), lease_until = NULL, \
                 error = NULL, error_code = NULL, updated_at = $3 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(*at))
            .bind(to_ms(now)),
            AttemptResult::Retry { at, error, code } => sqlx::query(
                "UPDATE messages SET status = 'queued', next_attempt_at = $2, error = $3, error_code = $5, \
                 lease_until = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(*at))
            .bind(error.clone())
            .bind(to_ms(now))
            .bind(code.as_str()),
            AttemptResult::NotAttempted => sqlx::query(
                "UPDATE messages SET status = 'queued', attempts = attempts - 1, lease_until = NULL, updated_at = $2 \
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(now)),
            AttemptResult::Failed { at, error, code } => sqlx::query(
                "UPDATE messages SET status = 'failed', failed_at = $2, error = $3, error_code = $5, \
                 lease_until = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(*at))
            .bind(error.clone())
            .bind(to_ms(now))
            .bind(code.as_str()),
            AttemptResult::OptedOut { at, error } => sqlx::query(
                "UPDATE messages SET status = 'opted_out', failed_at = $2, error = $3, error_code = NULL, \
                 lease_until = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(*at))
            .bind(error.clone())
            .bind(to_ms(now)),
            AttemptResult::Held { until, error } => sqlx::query(
                "UPDATE messages SET status = 'queued', attempts = attempts - 1, next_attempt_at = $2, error = $3, \
                 error_code = $5, lease_until = NULL, updated_at = $4 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(to_ms(*until))
            .bind(error.clone())
            .bind(to_ms(now))
            .bind(FailureCode::OptInPending.as_str()),
        };
        let mut tx = self.write().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected() > 0;
        let telling = matches!(
            result,
            AttemptResult::Sent { .. } | AttemptResult::Failed { .. } | AttemptResult::OptedOut { .. }
        );
        if changed && telling {
            let sql =
                format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(message_id.to_string()).fetch_one(&mut *tx).await?;
            let message = message_from_row(&row)?;
            let events = tell(&message);
            self.append_events(&mut tx, &message.tenant, &events, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies a delivered/read/played receipt to the session's outbound messages with
    /// these WhatsApp ids. Statuses only move forward and each time is kept once, so
    /// receipts may arrive in any order or twice. Returns the messages whose status changed.
    pub async fn apply_receipt(
        &self,
        session: SessionId,
        wa_ids: &[WaMessageId],
        kind: ReceiptKind,
        at: OffsetDateTime,
    ) -> Result<Vec<MessageId>> {
        self.apply_receipt_telling(session, wa_ids, kind, at, &|_| Vec::new()).await
    }

    /// Like [`apply_receipt`](Self::apply_receipt), and in the same transaction the
    /// events `tell` gives for each message whose status changed, as it is now. A
    /// receipt may overtake the server's acknowledgement, or come for a message put
    /// back in the queue after a crash: it moves the message on from any status before
    /// its own (`queued` and `sending` included, since it proves the message arrived),
    /// and when it is the first word that the message was sent, `message.sent` is told
    /// first, so every message tells `sent` before any later status, once each.
    pub async fn apply_receipt_telling(
        &self,
        session: SessionId,
        wa_ids: &[WaMessageId],
        kind: ReceiptKind,
        at: OffsetDateTime,
        tell: &Tell,
    ) -> Result<Vec<MessageId>> {
        // Statuses a receipt of this kind moves forward from. `failed` is included:
        // a receipt proves the message arrived after all.
        let (column, from, also_delivered) = match kind {
            ReceiptKind::Delivered => ("delivered_at", "'queued', 'scheduled', 'sending', 'sent', 'failed'", false),
            ReceiptKind::Read => ("read_at", "'queued', 'scheduled', 'sending', 'sent', 'delivered', 'failed'", true),
            ReceiptKind::Played => {
                ("played_at", "'queued', 'scheduled', 'sending', 'sent', 'delivered', 'read', 'failed'", true)
            }
        };
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        // A waiting message counts only once it was handed to WhatsApp (a crash put it
        // back in the queue): one never attempted cannot have arrived.
        let find = format!(
            "SELECT id, sent_at FROM messages WHERE session_id = $1 AND wa_id = $2 AND direction = 'outbound' \
             AND status IN ({from}) AND status <> $3 \
             AND (attempts > 0 OR status NOT IN ('queued', 'scheduled')){lock}"
        );
        let delivered = if also_delivered { ", delivered_at = COALESCE(delivered_at, $2)" } else { "" };
        let update = format!(
            "UPDATE messages SET {column} = COALESCE({column}, $2){delivered}, \
             sent_at = COALESCE(sent_at, $2), failed_at = NULL, error = NULL, error_code = NULL, \
             status = $3, lease_until = NULL, updated_at = $2 WHERE id = $1"
        );
        // The newest status of each changed message, and whether the receipt was the
        // first word that it was sent.
        let mut changed: Vec<(MessageId, bool)> = Vec::new();
        let mut tx = self.write().await?;
        for wa_id in wa_ids {
            let rows = sqlx::query(sqlx::AssertSqlSafe(find.as_str()))
                .bind(session.to_string())
                .bind(wa_id.as_str())
                .bind(kind.status().as_str())
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let id: String = row.try_get("id")?;
                let first_word = opt_from_ms(row.try_get("sent_at")?).is_none();
                sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                    .bind(&id)
                    .bind(to_ms(at))
                    .bind(kind.status().as_str())
                    .execute(&mut *tx)
                    .await?;
                let id = MessageId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                changed.push((id, first_word));
            }
        }
        let mut events = Vec::new();
        let mut tenant = None;
        for (id, first_word) in &changed {
            let sql =
                format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(&mut *tx).await?;
            let message = message_from_row(&row)?;
            if *first_word {
                events.extend(tell(&as_just_sent(&message)));
            }
            events.extend(tell(&message));
            tenant = Some(message.tenant);
        }
        if let Some(tenant) = tenant {
            self.append_events(&mut tx, &tenant, &events, at).await?;
        }
        tx.commit().await?;
        Ok(changed.into_iter().map(|(id, _)| id).collect())
    }
}

/// The message as it was when it was sent: what `message.sent` tells when a receipt is
/// the first word of it.
fn as_just_sent(message: &MessageRecord) -> MessageRecord {
    MessageRecord { status: MessageStatus::Sent, delivered_at: None, read_at: None, played_at: None, ..message.clone() }
}

/// The claim: the first due message the rules let go (binds: session, now, lease end,
/// and with recipient spacing the time it reaches back to), made `sending`. The queue's
/// status is named apart from the `OR` so the planner can use its partial index.
fn claim_sql(backend: Backend, rules: &ClaimRules) -> String {
    let pick = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let waiting = "(m.status IN ('queued', 'scheduled') AND m.next_attempt_at <= $2) \
                   OR (m.status = 'sending' AND m.lease_until <= $2)";
    let mut held = String::new();
    for priority in &rules.skip_priorities {
        held.push_str(&format!(" AND m.priority <> {}", priority.rank()));
    }
    if rules.recipient_spacing.is_some() {
        held.push_str(
            " AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.session_id = m.session_id \
             AND p.direction = 'outbound' AND p.sent_at > $4 AND p.recipient = m.recipient)",
        );
    }
    format!(
        "UPDATE messages SET status = 'sending', attempts = attempts + 1, lease_until = $3, updated_at = $2 \
         WHERE id = (SELECT m.id FROM messages m WHERE m.session_id = $1 \
                     AND m.status IN ('queued', 'scheduled', 'sending') AND ({waiting}){held} \
                     ORDER BY m.priority DESC, m.id LIMIT 1{pick}) \
           AND ({}) \
         RETURNING id",
        waiting.replace("m.", "")
    )
}

/// When the session's next waiting message is due (bind: session).
fn next_due_sql(backend: Backend) -> String {
    format!(
        "SELECT MIN(CASE WHEN status = 'sending' THEN lease_until ELSE next_attempt_at END) AS due \
         FROM messages{} WHERE session_id = $1 AND status IN ('queued', 'scheduled', 'sending')",
        backend.waiting_index()
    )
}

#[cfg(test)]
mod tests {
    use sqlx::Row;
    use wagate_types::Priority;

    use super::*;

    /// On SQLite the claim and the due-time read go through the queue's partial index,
    /// so their cost follows what waits, not every message the session ever had.
    #[tokio::test]
    async fn the_queue_reads_use_the_waiting_index() {
        let db = crate::testing::TestStore::sqlite().await;
        let spaced = ClaimRules {
            skip_priorities: vec![Priority::Low],
            recipient_spacing: Some(std::time::Duration::from_secs(60)),
        };
        let statements = [
            (claim_sql(Backend::Sqlite, &ClaimRules::default()), 3),
            (claim_sql(Backend::Sqlite, &spaced), 4),
            (next_due_sql(Backend::Sqlite), 1),
        ];
        for (sql, binds) in statements {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))).bind("s");
            for n in 1..binds {
                query = query.bind(i64::from(n));
            }
            let plan: Vec<String> =
                query.fetch_all(&db.store.pool).await.unwrap().iter().map(|r| r.get::<String, _>("detail")).collect();
            // The steps that find the session's messages (not the outbound sends the
            // spacing looks at, which have an index of their own).
            let by_session: Vec<&String> = plan.iter().filter(|step| step.ends_with("(session_id=?)")).collect();
            assert!(!by_session.is_empty(), "{sql}\n{plan:#?}");
            assert!(by_session.iter().all(|step| step.contains("messages_waiting")), "{sql}\n{plan:#?}");
        }
    }
}
