//! Parameters several routes parse the same way.

use serde::Deserialize;
use wagate_core::Gateway;
use wagate_types::{ChatId, ChatKind, Recipient, SessionName};

use crate::error::{ApiError, ApiResult};

/// The session a request names; `default` when it names none.
pub fn session_name(name: Option<&str>) -> ApiResult<SessionName> {
    SessionName::parse(name.unwrap_or("default")).map_err(|e| ApiError::invalid_field("session", e.to_string()))
}

/// A person's address from a phone number (any common form) or a JID; `field` names
/// it in the error.
pub fn person(gw: &Gateway, field: &str, input: &str) -> ApiResult<ChatId> {
    parse_person(gw, input).map_err(|why| ApiError::invalid_field(field, why))
}

/// [`person`], with the reason a bad one is refused.
pub fn parse_person(gw: &Gateway, input: &str) -> Result<ChatId, String> {
    match Recipient::parse(input, gw.config.default_country) {
        Ok(r) if matches!(r.chat.kind(), ChatKind::User | ChatKind::Lid) => Ok(r.chat),
        Ok(_) => Err(format!("'{input}' is not a person")),
        Err(e) => Err(e.to_string()),
    }
}

/// A field that may be `null` (set to nothing) or left out (kept): use with
/// `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
