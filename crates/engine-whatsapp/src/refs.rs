//! How one message names another, both ways: wagate's [`MessageRef`] and [`Context`]
//! against WhatsApp's `MessageKey` and `ContextInfo`.
//!
//! WhatsApp's keys are relative to whoever wrote the message that carries them:
//! `from_me` means "written by the author of this reaction (edit, vote…)", and in a
//! 1:1 chat the other side is whoever that author talks to. wagate's [`MessageRef`]
//! is relative to the session: `sender: None` is always this session's account.
//! [`Viewpoint`] holds what turning one into the other needs.

use wacore_binary::{Jid, JidExt as _};
use wagate_engine::{Context, MessageRef, Quote};
use wagate_types::{ChatId, WaMessageId};
use waproto::buffa::MessageField;
use waproto::whatsapp as wa;

/// This session's own account, by phone number and by LID (either may be unknown).
#[derive(Debug, Clone, Default)]
pub(crate) struct Me {
    pub(crate) pn: Option<Jid>,
    pub(crate) lid: Option<Jid>,
}

impl Me {
    pub(crate) fn of(client: &whatsapp_rust::Client) -> Self {
        Self { pn: client.pn().map(|j| j.to_non_ad()), lid: client.lid().map(|j| j.to_non_ad()) }
    }

    /// Whether `jid` is this account (any of its devices).
    pub(crate) fn is(&self, jid: &Jid) -> bool {
        [&self.pn, &self.lid].into_iter().flatten().any(|me| me.is_same_user_as(jid) && me.server == jid.server)
    }
}

/// Where a received message was read: in which chat, written by whom, by which account.
#[derive(Debug, Clone)]
pub(crate) struct Viewpoint {
    pub(crate) me: Me,
    /// The chat as WhatsApp addressed it (the peer of a 1:1 chat, or the group).
    pub(crate) chat_jid: Jid,
    /// The chat in wagate's terms.
    pub(crate) chat: ChatId,
    /// Who wrote the message, as WhatsApp addressed them.
    pub(crate) sender_jid: Jid,
    /// The same person in wagate's terms (by phone number when known).
    pub(crate) sender: ChatId,
}

impl Viewpoint {
    fn is_group(&self) -> bool {
        self.chat_jid.is_group()
    }

    /// wagate's name for a message's author: `None` for this account.
    fn author(&self, jid: &Jid) -> Option<ChatId> {
        if self.me.is(jid) {
            None
        } else if jid.is_same_user_as(&self.sender_jid) && jid.server == self.sender_jid.server {
            Some(self.sender.clone())
        } else {
            Some(ChatId::from_stored(jid.to_non_ad_string()))
        }
    }

    /// The author of a 1:1 message that the key says the carrying message's author did
    /// not write: whoever they talk to.
    fn other_side(&self) -> Option<ChatId> {
        if self.me.is(&self.sender_jid) { Some(self.chat.clone()) } else { None }
    }

    /// The message a key names; `None` when the key has no id or names no author.
    pub(crate) fn target(&self, key: &wa::MessageKey) -> Option<MessageRef> {
        let wa_id = key.id.as_deref().filter(|id| !id.is_empty())?;
        let sender = if key.from_me == Some(true) {
            self.author(&self.sender_jid)
        } else if self.is_group() {
            let participant: Jid = key.participant.as_deref()?.parse().ok()?;
            self.author(&participant)
        } else {
            self.other_side()
        };
        Some(MessageRef { chat: self.chat.clone(), wa_id: WaMessageId::from_stored(wa_id.to_owned()), sender })
    }

    /// Quote and mentions of a received message.
    pub(crate) fn context(&self, info: &MessageField<wa::ContextInfo>) -> Context {
        let Some(info) = info.as_option() else { return Context::default() };
        let reply_to = self.quote(info);
        let mentions = info
            .mentioned_jid
            .iter()
            .filter_map(|m| m.parse::<Jid>().ok())
            .map(|jid| self.author(&jid).unwrap_or_else(|| own_chat(&self.me, &jid)))
            .collect();
        Context { reply_to, mentions }
    }

    fn quote(&self, info: &wa::ContextInfo) -> Option<Quote> {
        let wa_id = info.stanza_id.as_deref().filter(|id| !id.is_empty())?;
        let participant: Jid = info.participant.as_deref()?.parse().ok()?;
        let text = info.quoted_message.as_option().and_then(quoted_text);
        let message = MessageRef {
            chat: self.chat.clone(),
            wa_id: WaMessageId::from_stored(wa_id.to_owned()),
            sender: self.author(&participant),
        };
        Some(Quote { message, text })
    }
}

/// A mention of this account, by phone number when known.
fn own_chat(me: &Me, jid: &Jid) -> ChatId {
    let jid = me.pn.as_ref().unwrap_or(jid);
    ChatId::from_stored(jid.to_non_ad_string())
}

/// The text or caption a quoted message shows.
fn quoted_text(message: &wa::Message) -> Option<String> {
    use wacore::proto_helpers::MessageExt as _;
    message.text_content().or_else(|| message.get_caption()).map(str::to_owned)
}

/// The key WhatsApp names `target` by, for a message this account writes.
pub(crate) fn key(target: &MessageRef) -> wa::MessageKey {
    let group = target.chat.as_str().ends_with("@g.us");
    wa::MessageKey {
        remote_jid: Some(target.chat.as_str().to_owned()),
        from_me: Some(target.sender.is_none()),
        id: Some(target.wa_id.as_str().to_owned()),
        participant: target.sender.as_ref().filter(|_| group).map(|s| s.as_str().to_owned()),
    }
}

/// The `ContextInfo` of a message this account writes; `me` names this account when
/// it quotes itself. `None` when there is nothing to say.
pub(crate) fn context_info(context: &Context, me: &Jid) -> Option<wa::ContextInfo> {
    if context.reply_to.is_none() && context.mentions.is_empty() {
        return None;
    }
    let mut info = wa::ContextInfo {
        mentioned_jid: context.mentions.iter().map(|m| m.as_str().to_owned()).collect(),
        ..Default::default()
    };
    if let Some(quote) = &context.reply_to {
        let author = quote.message.sender.as_ref().map_or_else(|| me.to_non_ad_string(), |s| s.as_str().to_owned());
        info.stanza_id = Some(quote.message.wa_id.as_str().to_owned());
        info.participant = Some(author);
        info.quoted_message = match &quote.text {
            Some(text) => MessageField::some(wa::Message { conversation: Some(text.clone()), ..Default::default() }),
            None => MessageField::none(),
        };
    }
    Some(info)
}

/// A `ContextInfo` as the message field that carries it.
pub(crate) fn field(info: Option<wa::ContextInfo>) -> MessageField<wa::ContextInfo> {
    info.map_or_else(MessageField::none, MessageField::some)
}
