//! The people sessions talk with: everyone who wrote to a session (kept up to date as
//! their messages are stored), listed and searched with the messages exchanged.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{ChatId, SessionId, SessionName, TenantId};

use crate::statement::Statement;
use crate::time_ms::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

/// Which contacts to list, newest conversation first.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub session_id: Option<SessionId>,
    /// Part of the name, number or address, any case.
    pub search: Option<String>,
    /// Continue after this contact (a previous page's last).
    pub after: Option<ContactCursor>,
    pub limit: u32,
}

/// Where a page of contacts ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCursor {
    pub last_message_at: OffsetDateTime,
    pub session_id: SessionId,
    pub jid: ChatId,
}

/// A contact with the conversation so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSummary {
    pub session_id: SessionId,
    pub session_name: SessionName,
    pub jid: ChatId,
    /// E.164, when the JID is a phone number's.
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub first_seen_at: OffsetDateTime,
    /// WhatsApp's time of their newest message.
    pub last_message_at: OffsetDateTime,
    pub messages_received: u64,
    /// Messages the session sent them (any status).
    pub messages_sent: u64,
}

impl ContactSummary {
    pub fn cursor(&self) -> ContactCursor {
        ContactCursor { last_message_at: self.last_message_at, session_id: self.session_id, jid: self.jid.clone() }
    }
}

const COLUMNS: &str = "c.session_id, s.name AS session_name, c.jid, c.phone, c.push_name, c.first_seen_at, \
     c.last_message_at, c.messages_received, \
     (SELECT COUNT(*) FROM messages m WHERE m.session_id = c.session_id AND m.chat = c.jid \
      AND m.direction = 'outbound') AS messages_sent";

impl Store {
    /// A page of contacts, newest conversation first.
    pub async fn contact_page(&self, tenant: &TenantId, filter: &ContactFilter) -> Result<Vec<ContactSummary>> {
        let mut q = Statement::new(
            self.backend,
            format!("SELECT {COLUMNS} FROM contacts c JOIN sessions s ON s.id = c.session_id WHERE c.tenant_id = "),
        );
        q.push_bind(tenant.as_str().to_owned());
        if let Some(session) = filter.session_id {
            q.push(" AND c.session_id = ").push_bind(session.to_string());
        }
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            q.push(" AND (LOWER(COALESCE(c.push_name, '')) LIKE ").push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR COALESCE(c.phone, '') LIKE ").push_bind(pattern.clone());
            q.push(" ESCAPE '\\' OR c.jid LIKE ").push_bind(pattern);
            q.push(" ESCAPE '\\')");
        }
        if let Some(after) = &filter.after {
            // Rows strictly after the cursor in (last_message_at DESC, session_id, jid) order.
            let at = to_ms(after.last_message_at);
            q.push(" AND (c.last_message_at < ").push_bind(at);
            q.push(" OR (c.last_message_at = ").push_bind(at);
            q.push(" AND (c.session_id > ").push_bind(after.session_id.to_string());
            q.push(" OR (c.session_id = ").push_bind(after.session_id.to_string());
            q.push(" AND c.jid > ").push_bind(after.jid.as_str().to_owned());
            q.push("))))");
        }
        q.push(" ORDER BY c.last_message_at DESC, c.session_id, c.jid LIMIT ").push_bind(i64::from(filter.limit));
        let rows = q.build()?.fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// One contact of a session, by JID.
    pub async fn contact(&self, tenant: &TenantId, session: SessionId, jid: &ChatId) -> Result<Option<ContactSummary>> {
        let mut q = Statement::new(
            self.backend,
            format!("SELECT {COLUMNS} FROM contacts c JOIN sessions s ON s.id = c.session_id WHERE c.tenant_id = "),
        );
        q.push_bind(tenant.as_str().to_owned());
        q.push(" AND c.session_id = ").push_bind(session.to_string());
        q.push(" AND c.jid = ").push_bind(jid.as_str().to_owned());
        let row = q.build()?.fetch_optional(&self.pool).await?;
        row.as_ref().map(summary_from_row).transpose()
    }
}

/// `%` and `_` in a search are literal.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn summary_from_row(row: &AnyRow) -> Result<ContactSummary> {
    let session_id: String = row.try_get("session_id")?;
    let count = |column: &str| -> Result<u64> { Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0)) };
    Ok(ContactSummary {
        session_id: SessionId(session_id.parse().map_err(|e| StoreError::Corrupt(format!("contact session: {e}")))?),
        session_name: SessionName::parse(&row.try_get::<String, _>("session_name")?)
            .map_err(|e| StoreError::Corrupt(format!("contact session name: {e}")))?,
        jid: ChatId::from_stored(row.try_get("jid")?),
        phone: row.try_get("phone")?,
        push_name: row.try_get("push_name")?,
        first_seen_at: from_ms(row.try_get("first_seen_at")?),
        last_message_at: from_ms(row.try_get("last_message_at")?),
        messages_received: count("messages_received")?,
        messages_sent: count("messages_sent")?,
    })
}
