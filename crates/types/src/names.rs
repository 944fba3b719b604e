use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A session's name, unique within a tenant and used in URLs: 1–64 characters of
/// lowercase letters, digits, `-` and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

impl SessionName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let first_ok = input.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if input.is_empty() || input.len() > Self::MAX_LEN || !first_ok || !input.chars().all(valid_char) {
            return Err(ParseError::new(
                "a session name is 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SessionName> for String {
    fn from(value: SessionName) -> Self {
        value.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in ["default", "support-1", "a", "shop_eu", &"x".repeat(64)] {
            assert!(SessionName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_cannot_go_in_a_url() {
        for bad in ["", "Support", "-lead", "_lead", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(SessionName::parse(bad).is_err(), "{bad}");
        }
    }
}
