//! Online status, typing and read receipts: signals WhatsApp relays only to whoever is
//! connected now, so a failure is reported but nothing is retried.

use wagate_engine::{EngineError, Typing};
use wagate_types::{ChatId, WaMessageId};
use whatsapp_rust::features::PresenceError;
use whatsapp_rust::{ChatStateType, Client, Jid, PresenceStatus};

use crate::failure::classify;

pub(crate) async fn set_presence(client: &Client, available: bool) -> Result<(), EngineError> {
    let status = if available { PresenceStatus::Available } else { PresenceStatus::Unavailable };
    client.presence().set(status).await.map_err(presence_error)
}

pub(crate) async fn subscribe(client: &Client, chat: &ChatId) -> Result<(), EngineError> {
    client.presence().subscribe(jid_of(chat)?).await.map_err(presence_error)
}

pub(crate) async fn typing(client: &Client, chat: &ChatId, state: Typing) -> Result<(), EngineError> {
    let state = match state {
        Typing::Composing => ChatStateType::Composing,
        Typing::Recording => ChatStateType::Recording,
        Typing::Paused => ChatStateType::Paused,
    };
    client.chatstate().send(&jid_of(chat)?, state).await.map_err(|e| classify(&e))
}

/// Read receipts go out per sender: in a group, one receipt names one participant.
pub(crate) async fn mark_read(
    client: &Client,
    chat: &ChatId,
    messages: &[(ChatId, WaMessageId)],
) -> Result<(), EngineError> {
    let group = chat.kind() == wagate_types::ChatKind::Group;
    let chat = jid_of(chat)?;
    let mut by_sender: Vec<(&ChatId, Vec<&str>)> = Vec::new();
    for (sender, wa_id) in messages {
        match by_sender.iter_mut().find(|(s, _)| *s == sender) {
            Some((_, ids)) => ids.push(wa_id.as_str()),
            None => by_sender.push((sender, vec![wa_id.as_str()])),
        }
    }
    for (sender, ids) in by_sender {
        let sender = if group { Some(jid_of(sender)?) } else { None };
        client.mark_as_read(&chat, sender.as_ref(), &ids).await.map_err(|e| classify(e.as_ref()))?;
    }
    Ok(())
}

fn jid_of(chat: &ChatId) -> Result<Jid, EngineError> {
    chat.as_str()
        .parse()
        .map_err(|e| EngineError::Refused { code: 400, text: format!("'{chat}' is not a WhatsApp address: {e}") })
}

fn presence_error(error: PresenceError) -> EngineError {
    match error {
        // WhatsApp shows presence only for an account with a name.
        PresenceError::PushNameEmpty => EngineError::Refused {
            code: 409,
            text: "the account has no name yet, and WhatsApp shows presence only with one".into(),
        },
        other => classify(&other),
    }
}
