use std::collections::HashMap;

use sqlx::Row;
use time::OffsetDateTime;
use wagate_types::{Direction, MessageId, Origin, SessionId, TenantId};

use crate::message_rows::{COLUMNS, initial_status, message_from_row, record_of_new, say_why_it_waits};
use crate::statement::Statement;
use crate::time_ms::to_ms;
use crate::{AcceptOutcome, Backend, MessageFilter, MessageRecord, NewMessage, Result, Store, StoreError, Transition};

/// Most rows one multi-row INSERT carries; keeps well under SQLite's variable limit.
pub(crate) const INSERT_CHUNK: usize = 256;

impl Store {
    /// Stores a batch of outbound messages in one transaction (a group commit): either
    /// every message of the batch is durable or none is. Idempotency keys are checked
    /// in order, so a key repeated inside the batch replays the first message.
    pub async fn accept_messages(&self, batch: &[NewMessage]) -> Result<Vec<AcceptOutcome>> {
        let mut tx = self.write().await?;
        let mut outcomes: Vec<Option<AcceptOutcome>> = vec![None; batch.len()];
        // Keys claimed earlier in this batch: key → (request hash, index in batch).
        let mut claimed: HashMap<(&str, &str), (&str, usize)> = HashMap::new();
        let mut to_insert = Vec::with_capacity(batch.len());

        for (i, msg) in batch.iter().enumerate() {
            let Some(idem) = &msg.idempotency else {
                to_insert.push(i);
                continue;
            };
            let slot = (msg.tenant.as_str(), idem.key.as_str());
            if let Some(&(hash, first)) = claimed.get(&slot) {
                outcomes[i] = Some(if hash == idem.request_hash {
                    AcceptOutcome::Replayed(record_of_new(&batch[first]))
                } else {
                    AcceptOutcome::KeyReused
                });
                continue;
            }
            let earlier =
                sqlx::query("SELECT request_hash, message_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
                    .bind(msg.tenant.as_str())
                    .bind(idem.key.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            match earlier {
                Some(row) => {
                    let hash: String = row.try_get("request_hash")?;
                    let id: String = row.try_get("message_id")?;
                    outcomes[i] = Some(if hash == idem.request_hash {
                        let sql = format!(
                            "SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = $1"
                        );
                        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?;
                        AcceptOutcome::Replayed(message_from_row(&row)?)
                    } else {
                        AcceptOutcome::KeyReused
                    });
                }
                None => {
                    claimed.insert(slot, (idem.request_hash.as_str(), i));
                    to_insert.push(i);
                }
            }
        }

        self.insert_outbound(&mut tx, to_insert.iter().map(|&i| &batch[i])).await?;

        let keyed: Vec<&NewMessage> =
            to_insert.iter().map(|&i| &batch[i]).filter(|m| m.idempotency.is_some()).collect();
        for chunk in keyed.chunks(INSERT_CHUNK) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO idempotency_keys (tenant_id, key, request_hash, message_id, created_at) ",
            );
            insert.push_values(chunk, |row, msg| {
                let idem = msg.idempotency.as_ref().expect("filtered on idempotency");
                row.push_bind(msg.tenant.as_str().to_owned())
                    .push_bind(idem.key.as_str().to_owned())
                    .push_bind(idem.request_hash.clone())
                    .push_bind(msg.id.to_string())
                    .push_bind(to_ms(msg.created_at));
            });
            insert.build()?.execute(&mut *tx).await?;
        }
        let mut sessions: HashMap<SessionId, (String, Option<String>)> = HashMap::new();
        for &i in &to_insert {
            let id = batch[i].session_id;
            if let std::collections::hash_map::Entry::Vacant(slot) = sessions.entry(id) {
                let row = sqlx::query("SELECT status, status_reason FROM sessions WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                slot.insert((row.try_get("status")?, row.try_get("status_reason")?));
            }
        }
        tx.commit().await?;

        for i in to_insert {
            let mut record = record_of_new(&batch[i]);
            if let Some((status, reason)) = sessions.get(&batch[i].session_id) {
                say_why_it_waits(&mut record, status, reason.as_deref());
            }
            outcomes[i] = Some(AcceptOutcome::Created(record));
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every message has an outcome")).collect())
    }

    /// Inserts outbound messages, waiting to be sent, in `tx`.
    pub(crate) async fn insert_outbound<'a>(
        &self,
        tx: &mut crate::write::WriteTx,
        messages: impl Iterator<Item = &'a NewMessage>,
    ) -> Result<()> {
        let messages: Vec<&NewMessage> = messages.collect();
        for chunk in messages.chunks(INSERT_CHUNK) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO messages (id, tenant_id, session_id, direction, chat, recipient, kind, content, wa_id, \
                 origin, status, priority, send_at, next_attempt_at, attempts, created_at, queued_at, updated_at) ",
            );
            insert.push_values(chunk, |row, msg| {
                let created = to_ms(msg.created_at);
                row.push_bind(msg.id.to_string())
                    .push_bind(msg.tenant.as_str().to_owned())
                    .push_bind(msg.session_id.to_string())
                    .push_bind(Direction::Outbound.as_str())
                    .push_bind(msg.chat.as_str().to_owned())
                    .push_bind(msg.recipient.clone())
                    .push_bind(msg.kind.clone())
                    .push_bind(msg.content.to_string())
                    .push_bind(msg.wa_id.as_str().to_owned())
                    .push_bind(msg.origin.map(Origin::as_str))
                    .push_bind(initial_status(msg).as_str())
                    .push_bind(i64::from(msg.priority.rank()))
                    .push_bind(msg.send_at.map(to_ms))
                    .push_bind(msg.send_at.map_or(created, to_ms))
                    .push_bind(0_i64)
                    .push_bind(created)
                    .push_bind(created)
                    .push_bind(created);
            });
            insert.build()?.execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn message(&self, tenant: &TenantId, id: MessageId) -> Result<Option<MessageRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.tenant_id = $1 AND m.id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    /// A tenant's messages matching `filter`, newest first.
    pub async fn messages(&self, tenant: &TenantId, filter: &MessageFilter) -> Result<Vec<MessageRecord>> {
        let mut q = Statement::new(
            self.backend,
            format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.tenant_id = "),
        );
        q.push_bind(tenant.as_str().to_owned());
        if let Some(session) = filter.session_id {
            q.push(" AND m.session_id = ").push_bind(session.to_string());
        }
        if let Some(status) = filter.status {
            q.push(" AND m.status = ").push_bind(status.as_str());
        }
        if let Some(direction) = filter.direction {
            q.push(" AND m.direction = ").push_bind(direction.as_str());
        }
        if let Some(chat) = &filter.chat {
            q.push(" AND m.chat = ").push_bind(chat.as_str().to_owned());
        }
        if let Some(since) = filter.since {
            q.push(" AND m.created_at >= ").push_bind(to_ms(since));
        }
        if let Some(before) = filter.before {
            q.push(" AND m.id < ").push_bind(before.to_string());
        }
        q.push(" ORDER BY m.id DESC LIMIT ").push_bind(i64::from(filter.limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Cancels a message that still waits to be sent.
    pub async fn cancel_message(&self, tenant: &TenantId, id: MessageId, now: OffsetDateTime) -> Result<Transition> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'cancelled', cancelled_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND direction = 'outbound' AND status IN ('queued', 'scheduled')",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        self.transition_result(tenant, id, done.rows_affected()).await
    }

    /// Puts a failed or cancelled message back in the queue, with the same WhatsApp id.
    pub async fn resend_message(&self, tenant: &TenantId, id: MessageId, now: OffsetDateTime) -> Result<Transition> {
        let done = sqlx::query(
            "UPDATE messages SET status = 'queued', attempts = 0, error = NULL, error_code = NULL, failed_at = NULL, cancelled_at = NULL, \
             send_at = NULL, next_attempt_at = $3, queued_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND direction = 'outbound' AND status IN ('failed', 'cancelled')",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        self.transition_result(tenant, id, done.rows_affected()).await
    }

    /// The message an `Idempotency-Key` was first used for, with that request's hash.
    /// A look before doing costly work (taking in a file); the accept itself decides.
    pub async fn idempotent_message(&self, tenant: &TenantId, key: &str) -> Result<Option<(String, MessageRecord)>> {
        let sql = format!(
            "SELECT k.request_hash, {COLUMNS} FROM idempotency_keys k JOIN messages m ON m.id = k.message_id \
             JOIN sessions s ON s.id = m.session_id WHERE k.tenant_id = $1 AND k.key = $2"
        );
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).bind(key).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((r.try_get("request_hash")?, message_from_row(&r)?))).transpose()
    }

    /// Changes a message's content in one transaction, so concurrent changes (an edit
    /// here, a reaction arriving there) never overwrite each other. `change` gets the
    /// kind and content and says whether it changed anything. Returns the message as
    /// it is afterwards, `None` if there is no such message.
    pub async fn update_content(
        &self,
        tenant: &TenantId,
        id: MessageId,
        now: OffsetDateTime,
        change: impl FnOnce(&str, &mut serde_json::Value) -> bool + Send,
    ) -> Result<Option<MessageRecord>> {
        let mut tx = self.write().await?;
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!("SELECT kind, content FROM messages WHERE tenant_id = $1 AND id = $2{lock}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        let content: String = row.try_get("content")?;
        let mut content: serde_json::Value =
            serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("content of message {id}: {e}")))?;
        if change(&kind, &mut content) {
            sqlx::query("UPDATE messages SET content = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(content.to_string())
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.message(tenant, id).await
    }

    async fn transition_result(&self, tenant: &TenantId, id: MessageId, changed: u64) -> Result<Transition> {
        Ok(match self.message(tenant, id).await? {
            None => Transition::NotFound,
            Some(record) if changed > 0 => Transition::Done(record),
            Some(record) if record.direction == Direction::Inbound => Transition::Inbound,
            Some(record) => Transition::WrongStatus(record.status),
        })
    }
}
