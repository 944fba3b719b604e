//! A simulated contact sends every kind of message a person does: texts, media,
//! locations, contact cards and polls, quoting and mentioning as the app does, and
//! it edits and deletes its own messages. It keeps what it received and sent so that
//! a reply quotes the real message and an edit names the right chat.

use std::collections::HashMap;
use std::sync::Mutex;

use wacore::proto_helpers::MessageExt as _;
use wacore_binary::Jid;
use wacore_binary::jid::JidExt as _;
use waproto::whatsapp as wa;
use waproto::whatsapp::message::protocol_message::Type as ProtocolType;

use super::outgoing::{Content, Outgoing};
use crate::error::SandboxError;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

/// A message the contact received or sent.
#[derive(Clone)]
pub(super) struct KeptMessage {
    /// Its author's user JID.
    pub(super) author: Jid,
    pub(super) chat: Jid,
    pub(super) from_me: bool,
    pub(super) message: wa::Message,
}

/// Messages the contact received or sent, by id: what a reply quotes, an edit or a
/// revoke targets.
#[derive(Default)]
pub(super) struct Kept(Mutex<HashMap<String, KeptMessage>>);

impl Kept {
    pub(super) fn insert(&self, id: String, kept: KeptMessage) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id, kept);
    }

    fn get(&self, id: &str) -> Option<KeptMessage> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    fn remove(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// The contact sends `outgoing` to `to` (a number or a JID); returns the message id.
pub(super) async fn send(
    shared: &Shared,
    phone: &PhoneNumber,
    to: &str,
    outgoing: Outgoing,
) -> Result<String, SandboxError> {
    outgoing.check()?;
    let contact = shared.contacts.get(phone)?;
    let to = super::parse_chat(to)?;
    let context = context_info(&contact.behaviour.kept, &to, &outgoing)?;
    let client = contact.client(phone).await?;
    let mut message = match outgoing.content {
        Content::Text(text) => wa::Message { conversation: Some(text), ..Default::default() },
        Content::Media(media) => super::media::upload(&client, media).await?,
        Content::Location { latitude, longitude, name, address } => {
            location_message(latitude, longitude, name, address)
        }
        Content::Contact { display_name, vcard } => wa::Message {
            contact_message: buffa::MessageField::some(wa::message::ContactMessage {
                display_name: Some(display_name),
                vcard: Some(vcard),
                ..Default::default()
            }),
            ..Default::default()
        },
        Content::Poll { question, options, selectable } => poll_message(question, options, selectable),
    };
    if let Some(context) = context {
        message.set_context_info(context);
    }
    let sent = client
        .send_message(to.clone(), message.clone())
        .await
        .map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    let id = sent.message_id;
    if let Some(secret) = message.message_context_info.as_option().and_then(|c| c.message_secret.clone()) {
        super::interactions::created_poll(&contact.behaviour.created_polls, &id, secret, &message);
    }
    let own = KeptMessage { author: Jid::pn(phone.digits()), chat: to, from_me: true, message };
    contact.behaviour.kept.insert(id.clone(), own);
    Ok(id)
}

fn location_message(latitude: f64, longitude: f64, name: Option<String>, address: Option<String>) -> wa::Message {
    wa::Message {
        location_message: buffa::MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(latitude),
            degrees_longitude: Some(longitude),
            name,
            address,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A poll as WhatsApp Web builds one: version 3 for a single choice, version 1 for
/// several, with a fresh 32-byte message secret from which voters derive the key
/// that encrypts their votes for the contact.
fn poll_message(question: String, options: Vec<String>, selectable: u32) -> wa::Message {
    let options = options
        .into_iter()
        .map(|name| wa::message::poll_creation_message::Option { option_name: Some(name), option_hash: None })
        .collect();
    let poll = buffa::MessageField::some(wa::message::PollCreationMessage {
        name: Some(question),
        options,
        selectable_options_count: Some(selectable),
        poll_content_type: Some(wa::message::PollContentType::TEXT),
        ..Default::default()
    });
    let secret = buffa::MessageField::some(wa::MessageContextInfo {
        message_secret: Some(rand::random::<[u8; 32]>().to_vec()),
        ..Default::default()
    });
    if selectable == 1 {
        wa::Message { poll_creation_message_v3: poll, message_context_info: secret, ..Default::default() }
    } else {
        wa::Message { poll_creation_message: poll, message_context_info: secret, ..Default::default() }
    }
}

/// The quote and mentions of `outgoing`, as the app builds them: the quoted message's
/// id, author and content (without its own quote chain).
fn context_info(kept: &Kept, to: &Jid, outgoing: &Outgoing) -> Result<Option<wa::ContextInfo>, SandboxError> {
    let mentions = outgoing
        .mentions
        .iter()
        .map(|user| {
            let jid = super::parse_chat(user)?;
            if jid.is_pn() || jid.is_lid() { Ok(jid.to_string()) } else { Err(SandboxError::InvalidChat(user.clone())) }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut context = match &outgoing.reply_to {
        Some(id) => {
            let quoted = kept.get(id).ok_or_else(|| {
                SandboxError::InvalidMessage(format!("the contact neither received nor sent a message {id}"))
            })?;
            wacore::proto_helpers::build_quote_context_with_info(
                id.as_str(),
                &quoted.author,
                &quoted.chat,
                to,
                &quoted.message,
            )
        }
        None if mentions.is_empty() => return Ok(None),
        None => wa::ContextInfo::default(),
    };
    context.mentioned_jid = mentions;
    Ok(Some(context))
}

/// One of the contact's own messages, by id, for editing or revoking.
fn own_message(shared: &Shared, phone: &PhoneNumber, id: &str) -> Result<KeptMessage, SandboxError> {
    let contact = shared.contacts.get(phone)?;
    match contact.behaviour.kept.get(id) {
        Some(kept) if kept.from_me => Ok(kept),
        Some(_) => Err(SandboxError::InvalidMessage(format!("message {id} is not the contact's own"))),
        None => Err(SandboxError::InvalidMessage(format!("the contact sent no message {id}"))),
    }
}

/// The key naming the contact's own message `id` in `chat`: in a group it names the
/// author too (the sandbox's groups address members by phone number).
fn own_key(phone: &PhoneNumber, chat: &Jid, id: &str) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(true),
        id: Some(id.to_owned()),
        participant: chat.is_group().then(|| Jid::pn(phone.digits()).to_string()),
    }
}

/// The contact replaces the text of its own text message `id`. Returns the id of the
/// edit (a protocol message of its own; recipients apply it to `id`).
pub(super) async fn edit(shared: &Shared, phone: &PhoneNumber, id: &str, text: &str) -> Result<String, SandboxError> {
    if text.trim().is_empty() {
        return Err(SandboxError::InvalidMessage("`text` is empty".to_owned()));
    }
    let mut kept = own_message(shared, phone, id)?;
    let base = kept.message.get_base_message();
    if base.conversation.is_none() && !base.extended_text_message.is_set() {
        return Err(SandboxError::InvalidMessage(format!("message {id} is not a text; only texts can be edited")));
    }
    let new_text = wa::Message { conversation: Some(text.to_owned()), ..Default::default() };
    let edit = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: buffa::MessageField::some(own_key(phone, &kept.chat, id)),
            r#type: Some(ProtocolType::MessageEdit),
            edited_message: buffa::MessageField::some(new_text.clone()),
            timestamp_ms: Some(wacore::time::now_millis()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let contact = shared.contacts.get(phone)?;
    let client = contact.client(phone).await?;
    // The send path recognises the edit and marks the stanza as one (`edit="1"`).
    let sent =
        client.send_message(kept.chat.clone(), edit).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    // A later reply quotes the text as it reads now.
    kept.message = new_text;
    contact.behaviour.kept.insert(id.to_owned(), kept);
    Ok(sent.message_id)
}

/// The contact deletes its own message `id` for everyone. Returns the id of the
/// revoke (a protocol message of its own).
pub(super) async fn revoke(shared: &Shared, phone: &PhoneNumber, id: &str) -> Result<String, SandboxError> {
    let kept = own_message(shared, phone, id)?;
    let revoke = wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            // A sender's revoke names no participant, even in a group.
            key: buffa::MessageField::some(wa::MessageKey { participant: None, ..own_key(phone, &kept.chat, id) }),
            r#type: Some(ProtocolType::Revoke),
            ..Default::default()
        }),
        ..Default::default()
    };
    let contact = shared.contacts.get(phone)?;
    let client = contact.client(phone).await?;
    let sent = client.send_message(kept.chat, revoke).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    contact.behaviour.kept.remove(id);
    Ok(sent.message_id)
}

impl SandboxHandle {
    /// The contact sends `outgoing` (any kind, optionally quoting and mentioning) to
    /// `to`, a number like `+15550001` or a JID (a group's too). Returns the message id.
    pub async fn contact_send(&self, phone: &str, to: &str, outgoing: Outgoing) -> Result<String, SandboxError> {
        send(&self.shared, &PhoneNumber::parse(phone)?, to, outgoing).await
    }

    /// The contact edits the text of its own text message `id`; returns the edit's id.
    pub async fn contact_edit(&self, phone: &str, id: &str, text: &str) -> Result<String, SandboxError> {
        edit(&self.shared, &PhoneNumber::parse(phone)?, id, text).await
    }

    /// The contact deletes its own message `id` for everyone; returns the revoke's id.
    pub async fn contact_revoke(&self, phone: &str, id: &str) -> Result<String, SandboxError> {
        revoke(&self.shared, &PhoneNumber::parse(phone)?, id).await
    }
}
