//! Message rows: the columns read, and how a row becomes a [`MessageRecord`].

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use wagate_types::{
    ChatId, Direction, FailureCode, MessageId, MessageStatus, Origin, Priority, SessionId, SessionName, SessionStatus,
    TenantId, WaMessageId,
};

use crate::time_ms::{from_ms, opt_from_ms, to_ms};
use crate::{MessageRecord, NewMessage, Result, StoreError};

/// Every message column, qualified for the join with `sessions` that supplies the name.
pub(crate) const COLUMNS: &str = "m.id, m.tenant_id, m.session_id, s.name AS session_name, \
    s.status AS session_status, s.status_reason AS session_reason, m.direction, m.chat, \
    m.recipient, m.sender, m.sender_name, m.kind, m.content, m.wa_id, m.origin, m.status, m.priority, m.send_at, m.next_attempt_at, m.attempts, m.error, m.error_code, \
    m.created_at, m.queued_at, m.sent_at, m.delivered_at, m.read_at, m.played_at, m.failed_at, m.cancelled_at";

pub(crate) fn initial_status(msg: &NewMessage) -> MessageStatus {
    match msg.send_at {
        Some(at) if at > msg.created_at => MessageStatus::Scheduled,
        _ => MessageStatus::Queued,
    }
}

/// The record a just-inserted message reads back as, without reading it back.
pub(crate) fn record_of_new(msg: &NewMessage) -> MessageRecord {
    MessageRecord {
        id: msg.id,
        tenant: msg.tenant.clone(),
        session_id: msg.session_id,
        session_name: msg.session_name.clone(),
        direction: Direction::Outbound,
        chat: msg.chat.clone(),
        recipient: msg.recipient.clone(),
        sender: None,
        push_name: None,
        kind: msg.kind.clone(),
        content: msg.content.clone(),
        wa_id: msg.wa_id.clone(),
        origin: msg.origin,
        status: initial_status(msg),
        priority: msg.priority,
        send_at: msg.send_at.map(truncate_ms),
        next_attempt_at: truncate_ms(msg.send_at.unwrap_or(msg.created_at)),
        attempts: 0,
        error: None,
        error_code: None,
        created_at: truncate_ms(msg.created_at),
        queued_at: Some(truncate_ms(msg.created_at)),
        sent_at: None,
        delivered_at: None,
        read_at: None,
        played_at: None,
        failed_at: None,
        cancelled_at: None,
    }
}

/// A time as the database will give it back.
pub(crate) fn truncate_ms(t: OffsetDateTime) -> OffsetDateTime {
    from_ms(to_ms(t))
}

/// Why a message waits while its session is not connected: the code and the words,
/// from the session's stored status and reason. `None` for a connected session.
pub(crate) fn waiting_reason(session_status: &str, reason: Option<&str>) -> Option<(FailureCode, String)> {
    let status = SessionStatus::parse(session_status).ok()?;
    let code = match status {
        SessionStatus::Connected => return None,
        SessionStatus::LoggedOut => FailureCode::LoggedOut,
        SessionStatus::Banned => FailureCode::Banned,
        _ => FailureCode::NotConnected,
    };
    let words = match reason {
        Some(reason) => format!("waiting: the session is {status}: {reason}"),
        None => format!("waiting: the session is {status}"),
    };
    Some((code, words))
}

/// A waiting message says why it waits while its session is not connected, whatever
/// its last attempt said. The reason is not stored: it is the session's, and goes
/// when the session connects again.
pub(crate) fn say_why_it_waits(record: &mut MessageRecord, session_status: &str, reason: Option<&str>) {
    if record.status.is_waiting()
        && let Some((code, words)) = waiting_reason(session_status, reason)
    {
        record.error_code = Some(code);
        record.error = Some(words);
    }
}

pub(crate) fn message_from_row(row: &AnyRow) -> Result<MessageRecord> {
    fn parse<T>(what: &str, r: Result<T, wagate_types::ParseError>) -> Result<T> {
        r.map_err(|e| StoreError::Corrupt(format!("message {what}: {e}")))
    }
    let id: String = row.try_get("id")?;
    let session_id: String = row.try_get("session_id")?;
    let session_name: String = row.try_get("session_name")?;
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    let content: String = row.try_get("content")?;
    let priority: i64 = row.try_get("priority")?;
    let attempts: i64 = row.try_get("attempts")?;
    let mut record = MessageRecord {
        id: parse("id", MessageId::parse(&id))?,
        tenant: TenantId::from_stored(row.try_get("tenant_id")?),
        session_id: SessionId(session_id.parse().map_err(|e| StoreError::Corrupt(format!("message session: {e}")))?),
        session_name: parse("session name", SessionName::parse(&session_name))?,
        direction: parse("direction", Direction::parse(&direction))?,
        chat: ChatId::from_stored(row.try_get("chat")?),
        recipient: row.try_get("recipient")?,
        sender: row.try_get::<Option<String>, _>("sender")?.map(ChatId::from_stored),
        push_name: row.try_get("sender_name")?,
        kind: row.try_get("kind")?,
        content: serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("message content: {e}")))?,
        wa_id: WaMessageId::from_stored(row.try_get("wa_id")?),
        origin: row.try_get::<Option<String>, _>("origin")?.map(|o| parse("origin", Origin::parse(&o))).transpose()?,
        status: parse("status", MessageStatus::parse(&status))?,
        priority: Priority::from_rank(priority.clamp(0, 2) as i16),
        send_at: opt_from_ms(row.try_get("send_at")?),
        next_attempt_at: from_ms(row.try_get("next_attempt_at")?),
        attempts: u32::try_from(attempts.max(0)).unwrap_or(u32::MAX),
        error: row.try_get("error")?,
        error_code: row
            .try_get::<Option<String>, _>("error_code")?
            .map(|c| parse("error code", FailureCode::parse(&c)))
            .transpose()?,
        created_at: from_ms(row.try_get("created_at")?),
        queued_at: opt_from_ms(row.try_get("queued_at")?),
        sent_at: opt_from_ms(row.try_get("sent_at")?),
        delivered_at: opt_from_ms(row.try_get("delivered_at")?),
        read_at: opt_from_ms(row.try_get("read_at")?),
        played_at: opt_from_ms(row.try_get("played_at")?),
        failed_at: opt_from_ms(row.try_get("failed_at")?),
        cancelled_at: opt_from_ms(row.try_get("cancelled_at")?),
    };
    let session_status: String = row.try_get("session_status")?;
    say_why_it_waits(&mut record, &session_status, row.try_get::<Option<String>, _>("session_reason")?.as_deref());
    Ok(record)
}
