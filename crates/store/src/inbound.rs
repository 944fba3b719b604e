//! Messages sessions received, and the contacts who wrote them.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{ChatId, Direction, MessageId, MessageStatus, Priority, SessionId, SessionName, TenantId};

use crate::message_rows::{COLUMNS, message_from_row};
use crate::messages::INSERT_CHUNK;
use crate::statement::Statement;
use crate::time_ms::{from_ms, to_ms};
use crate::{
    ApplyFn, AutoReplies, Backend, ContactRecord, InboundRules, Known, MessageRecord, NewInbound, Result,
    SessionSettings, Store, StoreError, Target,
};

/// Messages one session received, for [`Store::commit_received_together`].
pub struct ReceivedBatch<'a> {
    pub tenant: &'a TenantId,
    pub session: SessionId,
    pub messages: &'a [NewInbound],
    pub now: OffsetDateTime,
}

/// What one commit learnt about one sender.
struct ContactUpdate<'a> {
    jid: &'a ChatId,
    push_name: Option<&'a str>,
    last_message_at: OffsetDateTime,
    messages: i64,
}

impl Store {
    /// Stores messages that `session` received, all in one transaction, and brings the
    /// contacts who wrote them up to date in the same one. A message already stored
    /// (same chat, sender and WhatsApp id, as when WhatsApp delivers again after a lost
    /// acknowledgement) is skipped, and so is a copy earlier in the same batch. Returns,
    /// for each message, whether it was stored now.
    ///
    /// Inbound rows are `received` and never waiting, so the dispatcher never claims
    /// them and receipts (which match outbound rows only) never change them. Their
    /// `recipient` is the session's own number as stored now, empty when not known yet.
    pub async fn commit_inbound(
        &self,
        tenant: &TenantId,
        session: SessionId,
        messages: &[NewInbound],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>> {
        self.commit_inbound_applying(tenant, session, messages, now, &|_, _, _, _| false).await
    }

    /// Like [`commit_inbound`](Self::commit_inbound), and in the same transaction each
    /// newly stored message with a `target` (a reaction, vote, edit, revoke) is applied
    /// to the message it names: the session's message in the same chat with that
    /// WhatsApp id, sent or received. `apply` changes that message's content; a target
    /// not stored (older than wagate, or deleted) is left alone.
    pub async fn commit_inbound_applying(
        &self,
        tenant: &TenantId,
        session: SessionId,
        messages: &[NewInbound],
        now: OffsetDateTime,
        apply: &ApplyFn,
    ) -> Result<Vec<bool>> {
        self.commit_received(tenant, session, messages, now, &ApplyOnly(apply)).await
    }

    /// Like [`commit_inbound_applying`](Self::commit_inbound_applying), with `rules`
    /// applying updates to their targets and telling, in the same transaction, the
    /// events each newly stored message gives.
    pub async fn commit_received(
        &self,
        tenant: &TenantId,
        session: SessionId,
        messages: &[NewInbound],
        now: OffsetDateTime,
        rules: &dyn InboundRules,
    ) -> Result<Vec<bool>> {
        let mut tx = self.write().await?;
        let stored = self.received_in(&mut tx, tenant, session, messages, now, rules).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Commits what several sessions received (whatever arrived while the previous
    /// commit ran) in one transaction, as [`commit_received`](Self::commit_received)
    /// would each. Each batch has a savepoint of its own: one that fails (its session
    /// was deleted, say) leaves nothing behind and fails alone. Returns each batch's
    /// outcome; the error is the transaction's when it could not commit at all.
    pub async fn commit_received_together(
        &self,
        batches: &[ReceivedBatch<'_>],
        rules: &dyn InboundRules,
    ) -> Result<Vec<Result<Vec<bool>>>> {
        let mut tx = self.write().await?;
        let mut outcomes = Vec::with_capacity(batches.len());
        for batch in batches {
            sqlx::query("SAVEPOINT received").execute(&mut *tx).await?;
            let outcome =
                self.received_in(&mut tx, batch.tenant, batch.session, batch.messages, batch.now, rules).await;
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT received").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE SAVEPOINT received").execute(&mut *tx).await?;
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn received_in(
        &self,
        tx: &mut crate::write::WriteTx,
        tenant: &TenantId,
        session: SessionId,
        messages: &[NewInbound],
        now: OffsetDateTime,
        rules: &dyn InboundRules,
    ) -> Result<Vec<bool>> {
        // Postgres: the same lock order as deleting a session (its row first), and the
        // session cannot go away under this commit.
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR KEY SHARE",
        };
        let sql = format!("SELECT phone, name, settings FROM sessions WHERE id = $1 AND tenant_id = $2{lock}");
        let session_row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session.to_string())
            .bind(tenant.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("session {session}")))?;
        let own_phone: Option<String> = session_row.try_get("phone")?;
        let recipient = own_phone.unwrap_or_default();
        let name: String = session_row.try_get("name")?;
        let session_name =
            SessionName::parse(&name).map_err(|e| StoreError::Corrupt(format!("session name {name}: {e}")))?;
        let settings: String = session_row.try_get("settings")?;
        let settings: SessionSettings = serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(format!("settings of session {session}: {e}")))?;

        let mut seen = HashSet::new();
        let fresh: Vec<&NewInbound> = messages.iter().filter(|m| seen.insert((&m.chat, &m.sender, &m.wa_id))).collect();
        let mut inserted = HashSet::new();
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let mut insert = Statement::new(
                self.backend,
                "INSERT INTO messages (id, tenant_id, session_id, direction, chat, recipient, sender, sender_name, \
                 kind, content, wa_id, status, priority, next_attempt_at, attempts, created_at, sent_at, updated_at) ",
            );
            insert.push_values(chunk, |row, msg| {
                row.push_bind(msg.id.to_string())
                    .push_bind(tenant.as_str().to_owned())
                    .push_bind(session.to_string())
                    .push_bind(Direction::Inbound.as_str())
                    .push_bind(msg.chat.as_str().to_owned())
                    .push_bind(recipient.clone())
                    .push_bind(msg.sender.as_str().to_owned())
                    .push_bind(msg.push_name.clone())
                    .push_bind(msg.kind.clone())
                    .push_bind(msg.content.to_string())
                    .push_bind(msg.wa_id.as_str().to_owned())
                    .push_bind(MessageStatus::Received.as_str())
                    .push_bind(i64::from(Priority::Normal.rank()))
                    .push_bind(to_ms(now))
                    .push_bind(0_i64)
                    .push_bind(to_ms(now))
                    .push_bind(to_ms(msg.sent_at))
                    .push_bind(to_ms(now));
            });
            // The predicate names the partial unique index `messages_inbound`.
            insert.push(
                " ON CONFLICT (session_id, chat, sender, wa_id) WHERE direction = 'inbound' DO NOTHING RETURNING id",
            );
            for row in insert.build()?.fetch_all(&mut **tx).await? {
                inserted.insert(row.try_get::<String, _>("id")?);
            }
        }

        let mut events = Vec::new();
        let mut stored_now = Vec::new();
        for msg in fresh.iter().filter(|m| inserted.contains(&m.id.to_string())) {
            let target = match msg.target {
                Some(_) => self.apply_to_target(tx, session, msg, now, rules).await?,
                None => None,
            };
            let stored = inbound_record(tenant, session, &session_name, &recipient, msg, now);
            events.extend(rules.events(&stored, target.as_ref()));
            stored_now.push(stored);
        }
        self.append_events(tx, tenant, &events, now).await?;

        // In order, so a second message of the same batch sees what the first changed.
        for stored in &stored_now {
            let needs = rules.needs(&settings, stored);
            let known = Known {
                opt_in: match &needs.opt_in_of {
                    Some(contact) => self.opt_in_in(tx, session, contact).await?,
                    None => None,
                },
                auto_replies: match needs.auto_replies {
                    true => Some(self.auto_replies_in(tx, session, &stored.chat, stored.created_at).await?),
                    false => None,
                },
            };
            let response = rules.respond(&settings, stored, &known);
            if let Some(change) = &response.opt_in {
                self.change_opt_in(tx, tenant, session, change, now).await?;
            }
            self.insert_outbound(tx, response.replies.iter()).await?;
        }

        // One update per sender, in the order they first appear; the newest push name wins.
        let mut contacts: Vec<ContactUpdate> = Vec::new();
        let mut position: HashMap<&ChatId, usize> = HashMap::new();
        for msg in fresh.iter().filter(|m| inserted.contains(&m.id.to_string())) {
            let i = *position.entry(&msg.sender).or_insert_with(|| {
                contacts.push(ContactUpdate {
                    jid: &msg.sender,
                    push_name: None,
                    last_message_at: msg.sent_at,
                    messages: 0,
                });
                contacts.len() - 1
            });
            let contact = &mut contacts[i];
            contact.messages += 1;
            contact.last_message_at = contact.last_message_at.max(msg.sent_at);
            if let Some(name) = msg.push_name.as_deref() {
                contact.push_name = Some(name);
            }
        }
        for chunk in contacts.chunks(INSERT_CHUNK) {
            let mut upsert = Statement::new(
                self.backend,
                "INSERT INTO contacts (tenant_id, session_id, jid, phone, push_name, first_seen_at, last_seen_at, \
                 last_message_at, messages_received) ",
            );
            upsert.push_values(chunk, |row, contact| {
                row.push_bind(tenant.as_str().to_owned())
                    .push_bind(session.to_string())
                    .push_bind(contact.jid.as_str().to_owned())
                    .push_bind(contact.jid.phone().map(|p| p.as_str().to_owned()))
                    .push_bind(contact.push_name.map(str::to_owned))
                    .push_bind(to_ms(now))
                    .push_bind(to_ms(now))
                    .push_bind(to_ms(contact.last_message_at))
                    .push_bind(contact.messages);
            });
            // A push name from messages older than the newest one stored is stale.
            upsert.push(
                " ON CONFLICT (session_id, jid) DO UPDATE SET \
                 phone = COALESCE(excluded.phone, contacts.phone), \
                 push_name = CASE WHEN excluded.push_name IS NOT NULL AND (contacts.push_name IS NULL \
                     OR excluded.last_message_at >= contacts.last_message_at) \
                     THEN excluded.push_name ELSE contacts.push_name END, \
                 last_seen_at = excluded.last_seen_at, \
                 last_message_at = CASE WHEN excluded.last_message_at > contacts.last_message_at \
                     THEN excluded.last_message_at ELSE contacts.last_message_at END, \
                 messages_received = contacts.messages_received + excluded.messages_received",
            );
            upsert.build()?.execute(&mut **tx).await?;
        }

        let mut stored_now = HashSet::new();
        Ok(messages.iter().map(|m| inserted.contains(&m.id.to_string()) && stored_now.insert(m.id)).collect())
    }

    /// The session's auto-replies to `chat` as `tx` sees them, the last hour counted
    /// back from `now`.
    async fn auto_replies_in(
        &self,
        tx: &mut crate::write::WriteTx,
        session: SessionId,
        chat: &ChatId,
        now: OffsetDateTime,
    ) -> Result<AutoReplies> {
        let row = sqlx::query(
            "SELECT MAX(created_at) AS last_at, MAX(sent_at) AS last_sent_at, \
             COALESCE(SUM(CASE WHEN created_at > $3 THEN 1 ELSE 0 END), 0) AS last_hour \
             FROM messages WHERE session_id = $1 AND chat = $2 AND origin = 'auto_reply'",
        )
        .bind(session.to_string())
        .bind(chat.as_str())
        .bind(to_ms(now - time::Duration::hours(1)))
        .fetch_one(&mut **tx)
        .await?;
        let last_hour: i64 = row.try_get("last_hour")?;
        Ok(AutoReplies {
            last_at: crate::time_ms::opt_from_ms(row.try_get("last_at")?),
            last_sent_at: crate::time_ms::opt_from_ms(row.try_get("last_sent_at")?),
            last_hour: u32::try_from(last_hour).unwrap_or(u32::MAX),
        })
    }

    /// Applies `msg` to the message it targets, if stored; returns that message as it
    /// is now, and whether `msg` changed it.
    async fn apply_to_target(
        &self,
        tx: &mut crate::write::WriteTx,
        session: SessionId,
        msg: &NewInbound,
        now: OffsetDateTime,
        rules: &dyn InboundRules,
    ) -> Result<Option<Target>> {
        let Some(target) = &msg.target else { return Ok(None) };
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!(
            "SELECT id, kind, content, sender FROM messages WHERE session_id = $1 AND chat = $2 AND wa_id = $3 AND id <> $4 \
             ORDER BY id LIMIT 1{lock}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session.to_string())
            .bind(msg.chat.as_str())
            .bind(target.as_str())
            .bind(msg.id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let content: String = row.try_get("content")?;
        let mut content: serde_json::Value =
            serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("content of message {id}: {e}")))?;
        let author = row.try_get::<Option<String>, _>("sender")?.map(ChatId::from_stored);
        let changed = rules.apply(msg, &kind, author.as_ref(), &mut content);
        if changed {
            sqlx::query("UPDATE messages SET content = $2, updated_at = $3 WHERE id = $1")
                .bind(&id)
                .bind(content.to_string())
                .bind(to_ms(now))
                .execute(&mut **tx)
                .await?;
        }
        let sql = format!("SELECT {COLUMNS} FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&id).fetch_one(&mut **tx).await?;
        Ok(Some(Target { message: message_from_row(&row)?, changed }))
    }

    /// The id wagate stored a received message under, found by what identifies it on
    /// WhatsApp: chat, sender and WhatsApp id.
    pub async fn inbound_id(
        &self,
        session: SessionId,
        chat: &ChatId,
        sender: &ChatId,
        wa_id: &wagate_types::WaMessageId,
    ) -> Result<Option<MessageId>> {
        let row = sqlx::query(
            "SELECT id FROM messages WHERE session_id = $1 AND chat = $2 AND sender = $3 AND wa_id = $4 \
             AND direction = 'inbound'",
        )
        .bind(session.to_string())
        .bind(chat.as_str())
        .bind(sender.as_str())
        .bind(wa_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id")?;
        MessageId::parse(&id).map(Some).map_err(|e| StoreError::Corrupt(format!("message id {id}: {e}")))
    }

    /// Who wrote to the session, most recent first.
    pub async fn contacts(&self, tenant: &TenantId, session: SessionId) -> Result<Vec<ContactRecord>> {
        let rows = sqlx::query(
            "SELECT tenant_id, session_id, jid, phone, push_name, first_seen_at, last_seen_at, last_message_at, \
             messages_received FROM contacts WHERE tenant_id = $1 AND session_id = $2 \
             ORDER BY last_message_at DESC, jid",
        )
        .bind(tenant.as_str())
        .bind(session.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_from_row).collect()
    }
}

/// Rules that apply updates and tell no events.
struct ApplyOnly<'a>(&'a ApplyFn);

impl InboundRules for ApplyOnly<'_> {
    fn apply(&self, update: &NewInbound, kind: &str, author: Option<&ChatId>, content: &mut serde_json::Value) -> bool {
        (self.0)(update, kind, author, content)
    }

    fn events(&self, _stored: &MessageRecord, _target: Option<&Target>) -> Vec<crate::NewEvent> {
        Vec::new()
    }
}

/// A received message as stored by the commit that inserted it.
fn inbound_record(
    tenant: &TenantId,
    session: SessionId,
    session_name: &SessionName,
    recipient: &str,
    msg: &NewInbound,
    now: OffsetDateTime,
) -> MessageRecord {
    let now = crate::message_rows::truncate_ms(now);
    MessageRecord {
        id: msg.id,
        tenant: tenant.clone(),
        session_id: session,
        session_name: session_name.clone(),
        direction: Direction::Inbound,
        chat: msg.chat.clone(),
        recipient: recipient.to_owned(),
        sender: Some(msg.sender.clone()),
        push_name: msg.push_name.clone(),
        kind: msg.kind.clone(),
        content: msg.content.clone(),
        wa_id: msg.wa_id.clone(),
        origin: None,
        status: MessageStatus::Received,
        priority: Priority::Normal,
        send_at: None,
        next_attempt_at: now,
        attempts: 0,
        error: None,
        error_code: None,
        created_at: now,
        queued_at: None,
        sent_at: Some(crate::message_rows::truncate_ms(msg.sent_at)),
        delivered_at: None,
        read_at: None,
        played_at: None,
        failed_at: None,
        cancelled_at: None,
    }
}

fn contact_from_row(row: &AnyRow) -> Result<ContactRecord> {
    let session_id: String = row.try_get("session_id")?;
    let count: i64 = row.try_get("messages_received")?;
    Ok(ContactRecord {
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        session_id: SessionId(session_id.parse().map_err(|e| StoreError::Corrupt(format!("contact session: {e}")))?),
        jid: ChatId::from_stored(row.try_get("jid")?),
        phone: row.try_get("phone")?,
        push_name: row.try_get("push_name")?,
        first_seen_at: from_ms(row.try_get("first_seen_at")?),
        last_seen_at: from_ms(row.try_get("last_seen_at")?),
        last_message_at: from_ms(row.try_get("last_message_at")?),
        messages_received: u64::try_from(count).unwrap_or(0),
    })
}
