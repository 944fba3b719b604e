//! The event log's documents: what each event tells, shaped as clients get them.
//! Events are written in the transaction of the change they tell of (received messages
//! through [`ReceivedRules`]), so none is lost to a crash and none tells of a change
//! that did not happen.
//!
//! People appear as [`person`]: their phone number (E.164) when WhatsApp names them by
//! it, and always their JID.

use anyhow::Context as _;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wagate_engine::GroupChange;
use wagate_store::{
    EventFilter, EventRecord, InboundRules, Known, MessageRecord, Needs, NewEvent, NewInbound, Response,
    SessionSettings, Target,
};
use wagate_types::{ChatId, OptInStatus, SessionId, SessionName, TenantId};

use crate::message_view::Message;
use crate::{Gateway, Result, received};

/// Every event type wagate writes, for validating filters.
pub const KINDS: &[&str] = &[
    MESSAGE_RECEIVED,
    MESSAGE_REACTION,
    POLL_VOTE,
    MESSAGE_EDITED,
    MESSAGE_REVOKED,
    GROUP_UPDATED,
    GROUP_PARTICIPANTS,
    CONTACT_OPT_IN,
    WEBHOOK_DISABLED,
    MESSAGE_SENT,
    MESSAGE_STATUS,
    SESSION_STATUS,
    PRESENCE_UPDATED,
    CALL_INCOMING,
    CAMPAIGN_PROGRESS,
];

/// Event types that only live streams carry: never written to the log, so never in
/// `GET /events` or a webhook's deliveries.
pub const STREAM_ONLY: &[&str] = &[SESSION_QR];

pub const MESSAGE_RECEIVED: &str = "message.received";
pub const MESSAGE_REACTION: &str = "message.reaction";
pub const POLL_VOTE: &str = "poll.vote";
pub const MESSAGE_EDITED: &str = "message.edited";
pub const MESSAGE_REVOKED: &str = "message.revoked";
pub const GROUP_UPDATED: &str = "group.updated";
pub const GROUP_PARTICIPANTS: &str = "group.participants";
pub const CONTACT_OPT_IN: &str = "contact.opt_in";
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
pub const MESSAGE_SENT: &str = "message.sent";
pub const MESSAGE_STATUS: &str = "message.status";
pub const SESSION_STATUS: &str = "session.status";
pub const PRESENCE_UPDATED: &str = "presence.updated";
pub const CALL_INCOMING: &str = "call.incoming";
pub const CAMPAIGN_PROGRESS: &str = "campaign.progress";
/// A session's new QR code: a short-lived login secret, for live streams only.
pub const SESSION_QR: &str = "session.qr";

/// Whether `pattern` is a type of the log or a `prefix.*` of such types, or `*`.
pub fn is_known_filter(pattern: &str) -> bool {
    known_among(KINDS, pattern)
}

/// Whether `pattern` names what a live stream carries: a type of the log, a
/// stream-only type (`session.qr`), a `prefix.*` of those, or `*`.
pub fn is_stream_filter(pattern: &str) -> bool {
    is_known_filter(pattern) || known_among(STREAM_ONLY, pattern)
}

/// Whether a type filter (empty: every type) lets `kind` through.
pub fn filter_allows(filter: &[String], kind: &str) -> bool {
    filter.is_empty()
        || filter.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => pattern == kind,
        })
}

fn known_among(kinds: &[&str], pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => prefix.is_empty() || (prefix.ends_with('.') && kinds.iter().any(|k| k.starts_with(prefix))),
        None => kinds.contains(&pattern),
    }
}

/// A person as events show them.
pub fn person(jid: &ChatId) -> Value {
    json!({ "phone": jid.phone().map(|p| p.to_string()), "jid": jid.as_str() })
}

/// How received messages apply to the messages they target, and the events they give.
pub struct ReceivedRules;

impl InboundRules for ReceivedRules {
    fn apply(&self, update: &NewInbound, kind: &str, author: Option<&ChatId>, content: &mut Value) -> bool {
        received::apply(update, kind, author, content)
    }

    fn events(&self, stored: &MessageRecord, target: Option<&Target>) -> Vec<NewEvent> {
        received_events(stored, target)
    }

    fn needs(&self, settings: &SessionSettings, stored: &MessageRecord) -> Needs {
        Needs {
            opt_in_of: crate::opt_in::contact_to_read(settings, stored),
            auto_replies: crate::auto_reply::wants(settings, stored),
        }
    }

    /// The opt-in comes first: a message that changes it gets that answer only, and a
    /// contact who opted out gets no auto-reply.
    fn respond(&self, settings: &SessionSettings, stored: &MessageRecord, known: &Known) -> Response {
        let opt_in = crate::opt_in::respond(settings, stored, known.opt_in);
        if opt_in.opt_in.is_some() || known.opt_in == Some(OptInStatus::No) {
            return opt_in;
        }
        crate::auto_reply::respond(settings, stored, known.auto_replies)
    }
}

/// The event of an outbound message's new status: `message.sent` (with the message)
/// once WhatsApp took it, `message.status` when it was delivered, read, played, or
/// ended failed or opted out.
pub fn status_events(message: &MessageRecord) -> Vec<NewEvent> {
    use wagate_types::{Direction, MessageStatus};
    if message.direction != Direction::Outbound {
        return Vec::new();
    }
    let session = Some((message.session_id, message.session_name.clone()));
    let at = match message.status {
        MessageStatus::Sent => message.sent_at,
        MessageStatus::Delivered => message.delivered_at,
        MessageStatus::Read => message.read_at,
        MessageStatus::Played => message.played_at,
        MessageStatus::Failed | MessageStatus::OptedOut => message.failed_at,
        _ => return Vec::new(),
    };
    let at = at.map(crate::content::rfc3339);
    let (kind, data) = match message.status {
        MessageStatus::Sent => (MESSAGE_SENT, json!({ "message": view(message), "at": at })),
        status => (
            MESSAGE_STATUS,
            json!({
                "message_id": message.id.to_string(),
                "wa_id": message.wa_id.as_str(),
                "chat": message.chat.as_str(),
                "to": message.recipient,
                "status": status,
                "error": message.error,
                "error_code": message.error_code,
                "at": at,
            }),
        ),
    };
    vec![NewEvent { kind: kind.to_owned(), session, data }]
}

/// The event of a session's new connection status.
pub fn session_status(
    session: (SessionId, SessionName),
    status: wagate_types::SessionStatus,
    reason: Option<&str>,
    phone: Option<&str>,
    at: OffsetDateTime,
) -> NewEvent {
    NewEvent {
        kind: SESSION_STATUS.to_owned(),
        session: Some(session),
        data: json!({ "status": status, "reason": reason, "phone": phone, "at": crate::content::rfc3339(at) }),
    }
}

/// The event of a contact's presence as WhatsApp now reports it, told only when it
/// changed from what the session knew.
pub fn presence_updated(
    session: (SessionId, SessionName),
    contact: &ChatId,
    available: bool,
    last_seen: Option<OffsetDateTime>,
) -> NewEvent {
    NewEvent {
        kind: PRESENCE_UPDATED.to_owned(),
        session: Some(session),
        data: json!({
            "contact": person(contact),
            "available": available,
            "last_seen": last_seen.map(crate::content::rfc3339),
        }),
    }
}

/// The event of a call ringing the session's number.
pub fn call_incoming(
    session: (SessionId, SessionName),
    call_id: &str,
    from: &ChatId,
    video: bool,
    at: OffsetDateTime,
) -> NewEvent {
    NewEvent {
        kind: CALL_INCOMING.to_owned(),
        session: Some(session),
        data: json!({ "call_id": call_id, "from": person(from), "video": video, "at": crate::content::rfc3339(at) }),
    }
}

/// The events a message stored now gives: `message.received` for a message of its own;
/// for a reaction, vote, edit or revoke, the event of that change with the message it
/// changed as it is now (`null` when that message is not stored). An edit or revoke
/// that changed nothing (not by the author) tells nothing.
pub fn received_events(stored: &MessageRecord, target: Option<&Target>) -> Vec<NewEvent> {
    let session = Some((stored.session_id, stored.session_name.clone()));
    let change = stored.content.get(&stored.kind).cloned().unwrap_or(Value::Null);
    let from = stored.sender.as_ref().map_or(Value::Null, person);
    let about = |mut data: Value| {
        if let Some(object) = data.as_object_mut() {
            object.insert("chat".into(), Value::from(stored.chat.as_str()));
            object.insert("from".into(), from.clone());
            object.insert("wa_id".into(), change.get("wa_id").cloned().unwrap_or(Value::Null));
            object.insert("message".into(), target.map_or(Value::Null, |t| view(&t.message)));
            object.insert("at".into(), stored.sent_at.map(crate::content::rfc3339).into());
        }
        data
    };
    let (kind, data) = match stored.kind.as_str() {
        "reaction" => {
            let emoji = change.get("emoji").and_then(Value::as_str).unwrap_or_default();
            (MESSAGE_REACTION, about(json!({ "emoji": emoji, "removed": emoji.is_empty() })))
        }
        "poll_vote" => {
            let voter = stored.sender.as_ref().map(received::who);
            let options = target
                .and_then(|t| t.message.content.get("poll")?.get("votes")?.get(voter.as_deref()?).cloned())
                .unwrap_or_else(|| json!([]));
            let hashes = change.get("option_hashes").cloned().unwrap_or_else(|| json!([]));
            (POLL_VOTE, about(json!({ "options": options, "option_hashes": hashes })))
        }
        "edit" if target.is_none_or(|t| t.changed) => {
            (MESSAGE_EDITED, about(json!({ "text": change.get("text").cloned().unwrap_or(Value::Null) })))
        }
        "revoke" if target.is_none_or(|t| t.changed) => (MESSAGE_REVOKED, about(json!({}))),
        "edit" | "revoke" => return Vec::new(),
        _ => (MESSAGE_RECEIVED, json!({ "message": view(stored) })),
    };
    vec![NewEvent { kind: kind.to_owned(), session, data }]
}

fn view(message: &MessageRecord) -> Value {
    serde_json::to_value(Message::from(message.clone())).unwrap_or(Value::Null)
}

/// The event of a change to a group: `group.participants` (added, removed, promoted,
/// demoted) or `group.updated` (subject, description, settings, picture), with who made
/// it (`null` when WhatsApp did not say).
pub fn group_changed(
    session: (SessionId, SessionName),
    group: &ChatId,
    by: Option<&ChatId>,
    change: &GroupChange,
    at: OffsetDateTime,
) -> NewEvent {
    let people = |list: &[ChatId]| Value::Array(list.iter().map(person).collect());
    let (kind, mut data) = match change {
        GroupChange::Add(list) => (GROUP_PARTICIPANTS, json!({ "action": "add", "participants": people(list) })),
        GroupChange::Remove(list) => (GROUP_PARTICIPANTS, json!({ "action": "remove", "participants": people(list) })),
        GroupChange::Promote(list) => {
            (GROUP_PARTICIPANTS, json!({ "action": "promote", "participants": people(list) }))
        }
        GroupChange::Demote(list) => (GROUP_PARTICIPANTS, json!({ "action": "demote", "participants": people(list) })),
        GroupChange::Subject(subject) => (GROUP_UPDATED, json!({ "subject": subject })),
        GroupChange::Description(text) => (GROUP_UPDATED, json!({ "description": text })),
        GroupChange::Announce(on) => (GROUP_UPDATED, json!({ "announcement": on })),
        GroupChange::Locked(on) => (GROUP_UPDATED, json!({ "locked": on })),
        GroupChange::Picture(jpeg) => (GROUP_UPDATED, json!({ "picture": !jpeg.is_empty() })),
    };
    if let Some(object) = data.as_object_mut() {
        object.insert("group".into(), Value::from(group.as_str()));
        object.insert("by".into(), by.map_or(Value::Null, person));
        object.insert("at".into(), Value::from(crate::content::rfc3339(at)));
    }
    NewEvent { kind: kind.to_owned(), session: Some(session), data }
}

impl Gateway {
    /// The tenant's events after `filter.after`, oldest first; `session` narrows them to
    /// one session's.
    pub async fn events(
        &self,
        tenant: &TenantId,
        session: Option<&SessionName>,
        mut filter: EventFilter,
    ) -> Result<Vec<EventRecord>> {
        if let Some(name) = session {
            filter.session_id = Some(self.sessions.id_of(tenant, name).await?);
        }
        Ok(self.store.events(tenant, &filter).await.context("read events")?)
    }
}
