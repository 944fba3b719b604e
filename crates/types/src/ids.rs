use std::fmt;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

/// A message's public id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub Uuid);

impl MessageId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        Uuid::try_parse(input).map(Self).map_err(|_| ParseError::new("a message id is a UUID"))
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A session's internal id; stable across renames and nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The customer a row belongs to. Single-tenant installs use [`TenantId::default_tenant`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub const DEFAULT: &'static str = "default";

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// Wraps an id read back from the database.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id WhatsApp knows a message by. Chosen by wagate when the message is accepted
/// and stored with it, so a resend after a crash carries the same id and the
/// recipient sees one message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WaMessageId(String);

impl WaMessageId {
    /// The shape WhatsApp Web clients use: `3EB0` and 20 uppercase hex digits. The
    /// first 12 digits are the time in milliseconds and the last 8 random, so new ids
    /// land next to each other in the database's index instead of all over it.
    pub fn generate() -> Self {
        let mut bytes: [u8; 10] = rand::rng().random();
        let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        bytes[..6].copy_from_slice(&(ms as u64).to_be_bytes()[2..]);
        let mut id = String::with_capacity(24);
        id.push_str("3EB0");
        for b in bytes {
            id.push_str(&format!("{b:02X}"));
        }
        Self(id)
    }

    /// Wraps an id that came from WhatsApp or the database.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WaMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `Idempotency-Key` header: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() || input.len() > 255 || !input.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::new("Idempotency-Key must be 1-255 visible ASCII characters"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wa_ids_look_like_whatsapp_web_ids_and_differ() {
        let a = WaMessageId::generate();
        let b = WaMessageId::generate();
        assert_eq!(a.as_str().len(), 24);
        assert!(a.as_str().starts_with("3EB0"));
        assert!(a.as_str().chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn message_ids_sort_by_creation() {
        let ids: Vec<_> = (0..100).map(|_| MessageId::new().to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("order-42/retry").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }
}
