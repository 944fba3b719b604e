//! What a simulated contact does besides texts and media: it reacts to messages, votes
//! in polls it received (with the poll's message secret, as any client must), reads
//! the votes on polls it created, and posts text statuses.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use wacore::proto_helpers::MessageExt as _;
use wacore_binary::Jid;
use wacore_binary::jid::JidExt as _;
use waproto::whatsapp as wa;
use waproto::whatsapp::message::extended_text_message::FontType;
use whatsapp_rust::features::PollVoteCiphertext;
use whatsapp_rust::{Client, StatusSendOptions};

use super::ReceivedMessage;
use super::received::poll_in;
use crate::error::SandboxError;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

/// The background of a status the contact posts, unless told otherwise (dark green).
const DEFAULT_STATUS_BACKGROUND: u32 = 0xFF1E_6E4F;

/// A poll the contact received, with what it needs to vote in it.
pub(super) struct ReceivedPoll {
    /// The poll's `messageSecret`: the vote's encryption key derives from it.
    secret: Vec<u8>,
    /// Who created it and in which chat, as the vote's key names them.
    creator: Jid,
    chat: Jid,
    options: Vec<String>,
    /// How many options a vote may pick (0: any number).
    selectable: u32,
}

/// Polls the contact received, by message id.
#[derive(Default)]
pub(super) struct Polls(Mutex<HashMap<String, ReceivedPoll>>);

impl Polls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ReceivedPoll>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps the secret of a poll the contact received, for voting in it later.
pub(super) fn keep_poll(received: &ReceivedMessage, message: &wa::Message, polls: &Polls) {
    let Some(poll) = poll_in(message.get_base_message()) else { return };
    let options: Vec<String> = poll.options.iter().filter_map(|o| o.option_name.clone()).collect();
    let secret = message.message_context_info.as_option().and_then(|c| c.message_secret.clone());
    let (Some(secret), Ok(creator), Ok(chat)) = (secret, received.from.parse(), received.chat.parse()) else {
        tracing::warn!(id = %received.id, "a poll without its message secret; the contact cannot vote in it");
        return;
    };
    let selectable = poll.selectable_options_count.unwrap_or(0);
    polls.lock().insert(received.id.clone(), ReceivedPoll { secret, creator, chat, options, selectable });
}

/// A poll the contact created: the secret its votes are encrypted with, and its
/// options, whose hashes a decrypted vote carries.
struct CreatedPoll {
    secret: Vec<u8>,
    options: Vec<String>,
}

/// Polls the contact created, by message id.
#[derive(Default)]
pub(super) struct CreatedPolls(Mutex<HashMap<String, CreatedPoll>>);

/// Remembers poll `message` the contact sent as `id`, to read the votes on it.
pub(super) fn created_poll(polls: &CreatedPolls, id: &str, secret: Vec<u8>, message: &wa::Message) {
    let Some(poll) = poll_in(message) else { return };
    let options = poll.options.iter().filter_map(|o| o.option_name.clone()).collect();
    polls.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned(), CreatedPoll { secret, options });
}

/// The options a vote on one of the contact's own polls picked, decrypted with the
/// poll's secret; `None` for a vote on someone else's poll or one that fails to open.
pub(super) async fn read_vote(
    client: &Client,
    polls: &CreatedPolls,
    message: &wa::Message,
    voter: &Jid,
) -> Option<Vec<String>> {
    let update = message.get_base_message().poll_update_message.as_option()?;
    let poll_id = update.poll_creation_message_key.as_option()?.id.clone()?;
    let vote = update.vote.as_option()?;
    let (payload, iv) = (vote.enc_payload.as_deref()?, vote.enc_iv.as_deref()?);
    let (secret, options) = {
        let polls = polls.0.lock().unwrap_or_else(|p| p.into_inner());
        let poll = polls.get(&poll_id)?;
        (poll.secret.clone(), poll.options.clone())
    };
    let creator = client.pn()?.to_non_ad();
    let ciphertext = PollVoteCiphertext { enc_payload: payload, enc_iv: iv };
    match client.polls().decrypt_vote(ciphertext, &secret, &poll_id, &creator, voter).await {
        Ok(hashes) => Some(
            options
                .into_iter()
                .filter(|o| hashes.iter().any(|h| h[..] == wacore::poll::compute_option_hash(o)))
                .collect(),
        ),
        Err(error) => {
            tracing::warn!(%error, %poll_id, "contact could not decrypt a vote on its poll");
            None
        }
    }
}

/// The contact reacts with `emoji` (empty: takes its reaction back) to message `id` of
/// `chat`. A message it received is attributed to its sender; any other id is taken
/// for one of the contact's own messages. Returns the reaction's message id.
pub(super) async fn react(
    shared: &Shared,
    phone: &PhoneNumber,
    chat: &str,
    id: &str,
    emoji: &str,
) -> Result<String, SandboxError> {
    if id.trim().is_empty() {
        return Err(SandboxError::InvalidMessage("`id` names no message".to_owned()));
    }
    if emoji.chars().count() > 16 {
        return Err(SandboxError::InvalidMessage("`emoji` must be one emoji, or empty to remove".to_owned()));
    }
    let contact = shared.contacts.get(phone)?;
    let client = contact.client(phone).await?;
    let chat = super::parse_chat(chat)?;
    let author = {
        let inbox = contact.behaviour.inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox.iter().find(|m| m.id == id).map(|m| m.from.clone())
    };
    let shared_chat = chat.is_group() || chat.is_status_broadcast();
    let key = wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(author.is_none()),
        id: Some(id.to_owned()),
        // In a group (or on a status) the key names who wrote the message.
        participant: if shared_chat {
            Some(author.unwrap_or_else(|| Jid::pn(phone.digits()).to_string()))
        } else {
            None
        },
    };
    let sent = client.send_reaction(chat, key, emoji).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(sent.message_id)
}

/// The contact votes for `options` (by name; none: withdraws its vote) in poll `poll_id`
/// it received. Returns the vote's message id.
pub(super) async fn vote(
    shared: &Shared,
    phone: &PhoneNumber,
    poll_id: &str,
    options: &[String],
) -> Result<String, SandboxError> {
    let contact = shared.contacts.get(phone)?;
    let (secret, creator, chat) = {
        let polls = contact.behaviour.polls.lock();
        let poll = polls
            .get(poll_id)
            .ok_or_else(|| SandboxError::InvalidMessage(format!("the contact received no poll {poll_id}")))?;
        check_vote(poll, options)?;
        (poll.secret.clone(), poll.creator.clone(), poll.chat.clone())
    };
    let client = contact.client(phone).await?;
    let sent = client
        .polls()
        .vote(chat, poll_id, &creator, &secret, options)
        .await
        .map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(sent.message_id)
}

fn check_vote(poll: &ReceivedPoll, options: &[String]) -> Result<(), SandboxError> {
    let invalid = |why: String| Err(SandboxError::InvalidMessage(why));
    if let Some(unknown) = options.iter().find(|o| !poll.options.contains(o)) {
        return invalid(format!("the poll has no option {unknown:?}; it has {:?}", poll.options));
    }
    if options.iter().collect::<HashSet<_>>().len() != options.len() {
        return invalid("an option is named twice".to_owned());
    }
    if poll.selectable > 0 && options.len() > poll.selectable as usize {
        return invalid(format!("the poll allows {} option(s) per vote", poll.selectable));
    }
    Ok(())
}

/// The contact posts a text status that only `to` (numbers or user JIDs) see. Returns
/// the status's message id.
pub(super) async fn post_status(
    shared: &Shared,
    phone: &PhoneNumber,
    text: &str,
    to: &[String],
    background_argb: Option<u32>,
) -> Result<String, SandboxError> {
    if text.is_empty() {
        return Err(SandboxError::InvalidMessage("`text` is empty".to_owned()));
    }
    if to.is_empty() {
        return Err(SandboxError::InvalidMessage("`to` names nobody to show the status to".to_owned()));
    }
    let recipients = to
        .iter()
        .map(|chat| {
            let jid = super::parse_chat(chat)?;
            if jid.is_pn() || jid.is_lid() { Ok(jid) } else { Err(SandboxError::InvalidChat(chat.clone())) }
        })
        .collect::<Result<Vec<Jid>, _>>()?;
    let client = shared.contacts.get(phone)?.client(phone).await?;
    // Statuses are addressed by LID: the contact looks its recipients up first, as the
    // app knows its address book, which also tells who is not on WhatsApp.
    let found = client
        .contacts()
        .is_on_whatsapp(&recipients)
        .await
        .map_err(|e| SandboxError::ContactFailed(format!("looking up the recipients failed: {e}")))?;
    let missing: Vec<String> = recipients
        .iter()
        .filter(|r| !found.iter().any(|f| f.is_registered && f.jid.user == r.user))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(SandboxError::InvalidMessage(format!("not on WhatsApp: {}", missing.join(", "))));
    }
    let background = background_argb.unwrap_or(DEFAULT_STATUS_BACKGROUND);
    let sent = client
        .status()
        .send_text(text, background, FontType::SYSTEM, &recipients, StatusSendOptions::default())
        .await
        .map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(sent.message_id)
}

impl SandboxHandle {
    /// The contact reacts to message `id` of `chat` (a number or a JID) with `emoji`;
    /// an empty emoji removes its reaction. Returns the reaction's message id.
    pub async fn contact_react(&self, phone: &str, chat: &str, id: &str, emoji: &str) -> Result<String, SandboxError> {
        react(&self.shared, &PhoneNumber::parse(phone)?, chat, id, emoji).await
    }

    /// The contact votes for `options` (by name) in poll `poll_id` it received.
    pub async fn contact_vote(&self, phone: &str, poll_id: &str, options: &[&str]) -> Result<String, SandboxError> {
        let options: Vec<String> = options.iter().map(|o| (*o).to_owned()).collect();
        vote(&self.shared, &PhoneNumber::parse(phone)?, poll_id, &options).await
    }

    /// The contact posts a text status that `to` (numbers or user JIDs) see.
    pub async fn contact_post_status(&self, phone: &str, text: &str, to: &[&str]) -> Result<String, SandboxError> {
        let to: Vec<String> = to.iter().map(|t| (*t).to_owned()).collect();
        post_status(&self.shared, &PhoneNumber::parse(phone)?, text, &to, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(message: &wa::Message) -> ReceivedMessage {
        let mut entry = ReceivedMessage {
            id: "P1".into(),
            from: "15550001@s.whatsapp.net".into(),
            chat: "15550001@s.whatsapp.net".into(),
            ..ReceivedMessage::default()
        };
        super::super::received::decode(&mut entry, message);
        entry
    }

    #[test]
    fn a_received_poll_is_kept_for_voting_within_its_options() {
        let polls = Polls::default();
        let option = |name: &str| wa::message::poll_creation_message::Option {
            option_name: Some(name.into()),
            ..Default::default()
        };
        let poll = wa::Message {
            poll_creation_message_v3: buffa::MessageField::some(wa::message::PollCreationMessage {
                name: Some("Colour?".into()),
                options: vec![option("Red"), option("Green")],
                selectable_options_count: Some(1),
                ..Default::default()
            }),
            message_context_info: buffa::MessageField::some(wa::MessageContextInfo {
                message_secret: Some(vec![7; 32]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let entry = received(&poll);
        assert_eq!((entry.kind.as_str(), entry.selectable), ("poll", Some(1)));
        keep_poll(&entry, &poll, &polls);
        {
            // The guard goes before keep_poll locks again below.
            let guard = polls.lock();
            let kept = guard.get("P1").expect("the poll is kept for voting");
            assert_eq!(kept.secret, vec![7; 32]);
            let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
            assert!(check_vote(kept, &names(&["Green"])).is_ok());
            assert!(check_vote(kept, &[]).is_ok(), "an empty vote withdraws it");
            assert!(check_vote(kept, &names(&["Blue"])).is_err());
            assert!(check_vote(kept, &names(&["Red", "Green"])).is_err(), "one option only");
        }

        let text = wa::Message { conversation: Some("hi".into()), ..Default::default() };
        keep_poll(&received(&text), &text, &polls);
        assert_eq!(polls.lock().len(), 1, "only polls are kept");
    }
}
