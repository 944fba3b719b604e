//! Editing and deleting (revoking) messages wagate sent. Each queues a message of its
//! own (`edit`, `revoke`) that goes out through the session's queue like any other,
//! and changes the stored original at once, so clients see the new state right away;
//! the dispatcher applies it again before sending, which makes the change survive a
//! crash right after the update was accepted.

use anyhow::Context;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wagate_store::{MessageRecord, NewMessage, Store};
use wagate_types::{Direction, MessageId, MessageStatus, Priority, TenantId, WaMessageId};

use crate::content::{MAX_TEXT, set_text, set_time, target_json};
use crate::messages::Accepted;
use crate::{Error, Gateway, Result};

/// Kinds whose text an edit can replace: the text itself, or a caption.
const EDITABLE: [&str; 4] = ["text", "image", "video", "document"];

impl Gateway {
    /// Queues an edit of a sent message's text (or caption) and stores the new text on
    /// the original with `edited_at`. Returns the queued `edit` message.
    pub async fn edit_message(&self, tenant: &TenantId, id: MessageId, text: String) -> Result<Accepted> {
        if text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(Error::invalid("text", format!("must be at most {MAX_TEXT} characters")));
        }
        let target = self.changeable(tenant, id, "edited").await?;
        if !EDITABLE.contains(&target.kind.as_str()) {
            return Err(Error::NotEditable(format!("a {} message has no text to edit", target.kind)));
        }
        let mut change = target_json(&target);
        change["text"] = json!(text);
        let accepted = self.accept(update_message(tenant, &target, "edit", json!({ "edit": change }))).await?;
        apply_to_original(&self.store, &accepted.message).await.context("store the edited text")?;
        Ok(accepted)
    }

    /// Queues a revoke ("delete for everyone") of a sent message and marks the original
    /// `revoked_at`, clearing its text. Returns the queued `revoke` message.
    pub async fn revoke_message(&self, tenant: &TenantId, id: MessageId) -> Result<Accepted> {
        let target = self.changeable(tenant, id, "revoked").await?;
        let content = json!({ "revoke": target_json(&target) });
        let accepted = self.accept(update_message(tenant, &target, "revoke", content)).await?;
        apply_to_original(&self.store, &accepted.message).await.context("mark the message revoked")?;
        Ok(accepted)
    }

    /// The message, if it is one wagate sent that is still there to change.
    async fn changeable(&self, tenant: &TenantId, id: MessageId, done: &str) -> Result<MessageRecord> {
        let target = self.message(tenant, id).await?;
        if target.direction == Direction::Inbound {
            return Err(Error::NotEditable(format!("message {id} was received; only sent messages can be {done}")));
        }
        if matches!(target.kind.as_str(), "edit" | "revoke" | "reaction") {
            return Err(Error::NotEditable(format!("a {} message cannot be {done}", target.kind)));
        }
        let sent = [MessageStatus::Sent, MessageStatus::Delivered, MessageStatus::Read, MessageStatus::Played];
        if !sent.contains(&target.status) {
            return Err(Error::NotEditable(format!(
                "message {id} is {}; only a sent message can be {done}",
                target.status
            )));
        }
        if target.content.get("revoked_at").is_some_and(|v| !v.is_null()) {
            return Err(Error::NotEditable(format!("message {id} was revoked")));
        }
        Ok(target)
    }
}

/// Applies a queued `edit` or `revoke` to the original it names, as of the update's
/// acceptance time, unless that or a later change is there already. It runs when the
/// update is accepted (so clients see it at once) and again when it is sent, so a crash
/// between accepting the update and changing the original still ends with the
/// original changed, and an older edit sent late never undoes a newer one.
pub(crate) async fn apply_to_original(store: &Store, update: &MessageRecord) -> anyhow::Result<()> {
    let Some(change) = update.content.get(&update.kind) else { return Ok(()) };
    let Some(original) = change.get("message_id").and_then(Value::as_str).and_then(|id| MessageId::parse(id).ok())
    else {
        return Ok(());
    };
    let at = update.created_at;
    let after = |content: &Value, key: &str| {
        content
            .get(key)
            .and_then(Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .is_some_and(|done| done >= at)
    };
    let now = OffsetDateTime::now_utc();
    match update.kind.as_str() {
        "edit" => {
            let text = change.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
            store
                .update_content(&update.tenant, original, now, |kind, content| {
                    if after(content, "edited_at") || content.get("revoked_at").is_some_and(|v| !v.is_null()) {
                        return false;
                    }
                    let edited = set_text(kind, content, Some(&text));
                    set_time(content, "edited_at", at);
                    edited
                })
                .await?;
        }
        "revoke" => {
            store
                .update_content(&update.tenant, original, now, |kind, content| {
                    if content.get("revoked_at").is_some_and(|v| !v.is_null()) {
                        return false;
                    }
                    set_text(kind, content, None);
                    set_time(content, "revoked_at", at);
                    true
                })
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// An `edit` or `revoke` message to the original's chat. High priority: a correction
/// should not wait behind a queue of other messages.
fn update_message(tenant: &TenantId, target: &MessageRecord, kind: &str, content: serde_json::Value) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        tenant: tenant.clone(),
        session_id: target.session_id,
        session_name: target.session_name.clone(),
        chat: target.chat.clone(),
        recipient: target.recipient.clone(),
        kind: kind.to_owned(),
        content,
        wa_id: WaMessageId::generate(),
        priority: Priority::High,
        send_at: None,
        created_at: OffsetDateTime::now_utc(),
        idempotency: None,
        origin: None,
    }
}
