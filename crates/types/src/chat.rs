use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Country, ParseError, PhoneNumber};

/// What kind of chat a JID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// A person, by phone number (`…@s.whatsapp.net`).
    User,
    /// A person, by WhatsApp's hidden user id (`…@lid`).
    Lid,
    /// A group (`…@g.us`).
    Group,
    /// A broadcast list or status (`…@broadcast`).
    Broadcast,
    /// A channel (`…@newsletter`).
    Newsletter,
}

/// A WhatsApp chat address (JID) such as `9611234567@s.whatsapp.net` or
/// `120363025246125244@g.us`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChatId(String);

impl ChatId {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let input = input.trim();
        let invalid =
            || ParseError::new(format!("'{input}' is not a WhatsApp JID (user@s.whatsapp.net, id@g.us, id@lid)"));
        let (user, server) = input.split_once('@').ok_or_else(invalid)?;
        // `c.us` is the older spelling of a user's server that many clients still send.
        let server = if server == "c.us" { "s.whatsapp.net" } else { server };
        let kind = Self::kind_of(server).ok_or_else(invalid)?;
        // Device suffixes (`:12`) and agent parts (`_1`) address one device, not a chat.
        let user_ok = match kind {
            ChatKind::Group => user.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            ChatKind::Broadcast => !user.is_empty() && user.bytes().all(|b| b.is_ascii_alphanumeric()),
            _ => !user.is_empty() && user.len() <= 24 && user.bytes().all(|b| b.is_ascii_digit()),
        };
        if !user_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{user}@{server}")))
    }

    pub fn from_phone(phone: &PhoneNumber) -> Self {
        Self(format!("{}@s.whatsapp.net", phone.digits()))
    }

    /// Wraps a JID read back from the database or reported by the engine.
    pub fn from_stored(jid: String) -> Self {
        Self(jid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn user(&self) -> &str {
        self.0.split_once('@').map_or(&self.0, |(user, _)| user)
    }

    pub fn kind(&self) -> ChatKind {
        let server = self.0.split_once('@').map_or("", |(_, server)| server);
        Self::kind_of(server).unwrap_or(ChatKind::User)
    }

    /// The phone number of a user chat.
    pub fn phone(&self) -> Option<PhoneNumber> {
        (self.kind() == ChatKind::User).then(|| PhoneNumber::from_stored(format!("+{}", self.user())))
    }

    fn kind_of(server: &str) -> Option<ChatKind> {
        Some(match server {
            "s.whatsapp.net" => ChatKind::User,
            "lid" => ChatKind::Lid,
            "g.us" => ChatKind::Group,
            "broadcast" => ChatKind::Broadcast,
            "newsletter" => ChatKind::Newsletter,
            _ => return None,
        })
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a message goes to, as an API client wrote it: a phone number in any common
/// form, or a JID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub chat: ChatId,
    /// Set when the recipient is a person with a known phone number.
    pub phone: Option<PhoneNumber>,
}

impl Recipient {
    pub fn parse(input: &str, default_country: Option<Country>) -> Result<Self, ParseError> {
        if input.contains('@') {
            let chat = ChatId::parse(input)?;
            Ok(Self { phone: chat.phone(), chat })
        } else {
            let phone = PhoneNumber::parse(input, default_country)?;
            Ok(Self { chat: ChatId::from_phone(&phone), phone: Some(phone) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jids_of_every_kind_parse() {
        assert_eq!(ChatId::parse("9611234567@s.whatsapp.net").unwrap().kind(), ChatKind::User);
        assert_eq!(ChatId::parse("9611234567@c.us").unwrap().as_str(), "9611234567@s.whatsapp.net");
        assert_eq!(ChatId::parse("120363025246125244@g.us").unwrap().kind(), ChatKind::Group);
        assert_eq!(ChatId::parse("9611234567-1600000000@g.us").unwrap().kind(), ChatKind::Group);
        assert_eq!(ChatId::parse("123456789012345@lid").unwrap().kind(), ChatKind::Lid);
        assert_eq!(ChatId::parse("status@broadcast").unwrap().kind(), ChatKind::Broadcast);
    }

    #[test]
    fn malformed_jids_are_refused() {
        for bad in ["@s.whatsapp.net", "abc@s.whatsapp.net", "961@example.com", "961:3@s.whatsapp.net", "a@b@c", "@"] {
            assert!(ChatId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients_from_phones_and_jids() {
        let by_phone = Recipient::parse("+961 1 234 567", None).unwrap();
        assert_eq!(by_phone.chat.as_str(), "9611234567@s.whatsapp.net");
        assert_eq!(by_phone.phone.unwrap().as_str(), "+9611234567");
        let by_jid = Recipient::parse("9611234567@s.whatsapp.net", None).unwrap();
        assert_eq!(by_jid.phone.unwrap().as_str(), "+9611234567");
        let group = Recipient::parse("120363025246125244@g.us", None).unwrap();
        assert!(group.phone.is_none());
        assert!(Recipient::parse("not a number", None).is_err());
    }
}
