//! Opt-in: with a session's opt-in `required`, a contact's first message makes them
//! `pending` and brings the prompt; `1`/YES/نعم says yes, `2`/NO/لا says no, each with a
//! confirmation; STOP and START work at any time. Only contacts who said yes are sent
//! to: messages to a pending contact wait for the answer, the rest end as `opted_out`.
//! Numbers on the tenant's suppression list are never sent to, whatever the mode.
//!
//! The decision on a received message is pure ([`respond`]) and runs inside the
//! transaction that stores the message, so the change of opt-in, its audit entry, its
//! event and the reply are durable together with the message.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tracing::error;
use wagate_store::{AttemptResult, MessageRecord, NewEvent, NewMessage, OptInChange, Response, SessionSettings, Store};
use wagate_types::{
    ChatId, ChatKind, MessageId, OptInMode, OptInStatus, Origin, Priority, SessionId, SessionName, WaMessageId,
};

use crate::events::{CONTACT_OPT_IN, person};
use crate::sessions::Runtime;

/// Sent to a new contact's first message unless the session has its own.
pub const DEFAULT_PROMPT: &str = "Hello! May we send you messages on WhatsApp?\n\
Reply 1 or YES to agree, 2 or NO to decline.\n\n\
مرحباً! هل توافق على أن نرسل لك رسائل عبر واتساب؟\n\
أرسل 1 أو نعم للموافقة، 2 أو لا للرفض.";

/// Sent when a contact agrees (or sends START).
pub const DEFAULT_ON_YES: &str = "Thank you, you are subscribed. Send STOP at any time to unsubscribe.\n\n\
شكراً لك، تم اشتراكك. أرسل STOP في أي وقت لإلغاء الاشتراك.";

/// Sent when a contact declines (or sends STOP).
pub const DEFAULT_ON_NO: &str = "You will not get messages from us. Send START if you change your mind.\n\n\
لن تصلك رسائل منا. أرسل START إذا غيّرت رأيك.";

/// How long a message to a pending contact waits before it is looked at again; an
/// answer releases it at once.
const HOLD: Duration = Duration::from_secs(24 * 3600);

/// A word a contact answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Yes,
    No,
    Stop,
    Start,
}

/// The keyword a whole message is, if any: case, surrounding spaces and punctuation,
/// Arabic diacritics and hamza forms, and Arabic-Indic digits do not matter.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = crate::fold::fold(text);
    Some(match word.as_str() {
        "1" | "yes" | "y" | "نعم" | "موافق" => Keyword::Yes,
        "2" | "no" | "n" | "لا" => Keyword::No,
        "stop" | "unsubscribe" | "توقف" | "الغاء" => Keyword::Stop,
        "start" | "subscribe" | "ابدا" => Keyword::Start,
        _ => return None,
    })
}

/// How opt-ins name a chat's person: E.164 for a phone number, the JID for a hidden
/// user id; `None` for groups, broadcasts and channels.
pub fn contact_of(chat: &ChatId) -> Option<String> {
    match chat.kind() {
        ChatKind::User => chat.phone().map(|p| p.as_str().to_owned()),
        ChatKind::Lid => Some(chat.as_str().to_owned()),
        ChatKind::Group | ChatKind::Broadcast | ChatKind::Newsletter => None,
    }
}

/// Kinds a contact writes, as opposed to changes of earlier messages.
fn is_conversation(kind: &str) -> bool {
    !matches!(kind, "reaction" | "poll_vote" | "edit" | "revoke")
}

/// The contact whose opt-in [`respond`] needs for a received message, if the session
/// asks for opt-ins and the message is one a person wrote in their own chat.
pub fn contact_to_read(settings: &SessionSettings, stored: &MessageRecord) -> Option<String> {
    if settings.opt_in.mode != OptInMode::Required || !is_conversation(&stored.kind) {
        return None;
    }
    contact_of(&stored.chat)
}

/// The opt-in a contact's message leads to from `current`, and how (for the audit
/// trail); `None`: it changes nothing.
pub fn step(current: Option<OptInStatus>, word: Option<Keyword>) -> Option<(OptInStatus, &'static str)> {
    use OptInStatus::{No, Pending, Yes};
    match (current, word) {
        (Some(No), Some(Keyword::Start)) => Some((Yes, "keyword")),
        (Some(No), _) => None,
        (_, Some(Keyword::Stop)) => Some((No, "keyword")),
        (None | Some(Pending), Some(Keyword::Start)) => Some((Yes, "keyword")),
        (None | Some(Pending), Some(Keyword::Yes)) => Some((Yes, "reply")),
        (None | Some(Pending), Some(Keyword::No)) => Some((No, "reply")),
        (None, None) => Some((Pending, "first_message")),
        (Some(Pending) | Some(Yes), _) => None,
    }
}

/// What a received message does to its sender's opt-in (`current`, read for the
/// contact [`contact_to_read`] named), and the reply that tells them.
pub fn respond(settings: &SessionSettings, stored: &MessageRecord, current: Option<OptInStatus>) -> Response {
    let Some(contact) = contact_to_read(settings, stored) else { return Response::default() };
    let text = stored.content.get("text").and_then(|t| t.as_str());
    let word = text.and_then(keyword);
    let Some((status, how)) = step(current, word) else { return Response::default() };
    let texts = &settings.opt_in;
    let reply = match status {
        OptInStatus::Pending => texts.prompt.as_deref().unwrap_or(DEFAULT_PROMPT),
        OptInStatus::Yes => texts.on_yes.as_deref().unwrap_or(DEFAULT_ON_YES),
        OptInStatus::No => texts.on_no.as_deref().unwrap_or(DEFAULT_ON_NO),
    };
    let now = stored.created_at;
    let note = text.map(|t| t.chars().take(200).collect());
    let event = OptInEvent {
        session: (stored.session_id, stored.session_name.clone()),
        contact: &contact,
        chat: Some(&stored.chat),
        status,
        how,
        actor: None,
        note: note.as_deref(),
        at: now,
    }
    .event();
    let change = OptInChange { contact: contact.clone(), status, how: how.to_owned(), actor: None, note, event };
    let reply = answer(stored, contact, reply, Origin::OptIn);
    Response { opt_in: Some(change), replies: vec![reply] }
}

/// A text answering a received message in its chat, queued ahead of other messages
/// (`recipient` as outbound messages name it).
pub(crate) fn answer(stored: &MessageRecord, recipient: String, text: &str, origin: Origin) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        tenant: stored.tenant.clone(),
        session_id: stored.session_id,
        session_name: stored.session_name.clone(),
        chat: stored.chat.clone(),
        recipient,
        kind: "text".to_owned(),
        content: json!({ "text": text }),
        wa_id: WaMessageId::generate(),
        priority: Priority::High,
        send_at: None,
        created_at: stored.created_at,
        idempotency: None,
        origin: Some(origin),
    }
}

/// The `contact.opt_in` event of a change: who (`chat`, when known), the new status,
/// how it came about, the API key that made it (`None`: the contact) and the note.
pub struct OptInEvent<'a> {
    pub session: (SessionId, SessionName),
    pub contact: &'a str,
    pub chat: Option<&'a ChatId>,
    pub status: OptInStatus,
    pub how: &'a str,
    pub actor: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: OffsetDateTime,
}

impl OptInEvent<'_> {
    pub fn event(self) -> NewEvent {
        let who = match self.chat {
            Some(chat) => person(chat),
            None => json!({ "phone": self.contact.starts_with('+').then_some(self.contact), "jid": null }),
        };
        NewEvent {
            kind: CONTACT_OPT_IN.to_owned(),
            session: Some(self.session),
            data: json!({
                "contact": who,
                "status": self.status,
                "how": self.how,
                "by": self.actor,
                "note": self.note,
                "at": crate::content::rfc3339(self.at),
            }),
        }
    }
}

/// Whether a claimed message may go: `None` if so, else how its attempt ends without
/// sending: `opted_out` for a suppressed number, a contact who said no or (opt-in
/// required) never said yes; held while a contact has not answered the prompt.
/// Answers wagate queued itself (the prompt, confirmations, auto-replies) skip the
/// opt-in check; campaigns do not.
pub(crate) async fn check(rt: &Runtime, store: &Store, message: &MessageRecord) -> Option<AttemptResult> {
    let contact = contact_of(&message.chat)?;
    let now = OffsetDateTime::now_utc();
    let trouble = |e: wagate_store::StoreError| {
        error!(session = %rt.name, error = %e, "could not read the recipient's opt-in; holding the message");
        Some(AttemptResult::Held { until: now + Duration::from_secs(60), error: "could not read the opt-in".into() })
    };
    match store.suppression(&rt.tenant, &contact).await {
        Ok(Some(_)) => {
            let error = format!("{contact} is on the suppression list");
            return Some(AttemptResult::OptedOut { at: now, error });
        }
        Ok(None) => {}
        Err(e) => return trouble(e),
    }
    let own = matches!(message.origin, Some(Origin::OptIn | Origin::AutoReply));
    if own || rt.settings().opt_in.mode != OptInMode::Required {
        return None;
    }
    let status = match store.opt_in(rt.id, &contact).await {
        Ok(found) => found.map(|o| o.status),
        Err(e) => return trouble(e),
    };
    match status {
        Some(OptInStatus::Yes) => None,
        Some(OptInStatus::Pending) => Some(AttemptResult::Held {
            until: now + HOLD,
            error: format!("waiting for {contact} to answer the opt-in prompt"),
        }),
        Some(OptInStatus::No) => Some(AttemptResult::OptedOut { at: now, error: format!("{contact} opted out") }),
        None => Some(AttemptResult::OptedOut {
            at: now,
            error: format!(
                "{contact} has not opted in: they write to this number and answer the prompt, or an opt-in is set through the API"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_english_and_arabic_with_their_variants() {
        for (text, word) in [
            ("1", Keyword::Yes),
            (" YES! ", Keyword::Yes),
            ("Yes.", Keyword::Yes),
            ("نعم", Keyword::Yes),
            ("نَعَمْ", Keyword::Yes),
            ("١", Keyword::Yes),
            ("2", Keyword::No),
            ("no", Keyword::No),
            ("لا", Keyword::No),
            ("٢", Keyword::No),
            ("STOP", Keyword::Stop),
            ("Unsubscribe", Keyword::Stop),
            ("إلغاء", Keyword::Stop),
            ("start", Keyword::Start),
            ("ابدأ", Keyword::Start),
        ] {
            assert_eq!(keyword(text), Some(word), "{text:?}");
        }
        for text in ["", "yes please", "12", "no thanks, but", "stopp", "hello"] {
            assert_eq!(keyword(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_seed_flow_and_stop_start_at_any_time() {
        use OptInStatus::{No, Pending, Yes};
        assert_eq!(step(None, None), Some((Pending, "first_message")));
        assert_eq!(step(Some(Pending), None), None, "no second prompt");
        assert_eq!(step(Some(Pending), Some(Keyword::Yes)), Some((Yes, "reply")));
        assert_eq!(step(Some(Pending), Some(Keyword::No)), Some((No, "reply")));
        assert_eq!(step(Some(Yes), Some(Keyword::No)), None, "a no in a conversation is not an opt-out");
        assert_eq!(step(Some(Yes), Some(Keyword::Stop)), Some((No, "keyword")));
        assert_eq!(step(Some(No), Some(Keyword::Yes)), None, "opted out until START");
        assert_eq!(step(Some(No), Some(Keyword::Stop)), None);
        assert_eq!(step(Some(No), Some(Keyword::Start)), Some((Yes, "keyword")));
        assert_eq!(step(None, Some(Keyword::Stop)), Some((No, "keyword")));
        assert_eq!(step(Some(Yes), Some(Keyword::Start)), None);
    }

    #[test]
    fn only_people_have_opt_ins() {
        let person = ChatId::parse("4915110000112@s.whatsapp.net").unwrap();
        assert_eq!(contact_of(&person).as_deref(), Some("+4915110000112"));
        let hidden = ChatId::parse("123456789@lid").unwrap();
        assert_eq!(contact_of(&hidden).as_deref(), Some("123456789@lid"));
        assert_eq!(contact_of(&ChatId::parse("120363025246125244@g.us").unwrap()), None);
        assert_eq!(contact_of(&ChatId::parse("status@broadcast").unwrap()), None);
    }
}
