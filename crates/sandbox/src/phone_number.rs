use std::fmt;

use serde::{Deserialize, Serialize};

/// A sandbox account's number in E.164 form (`+15550001`).
///
/// Only the syntax is checked, not whether a real country plan allows the number:
/// the sandbox wants short fake numbers such as `+15550001` that a real numbering
/// plan would reject. WhatsApp uses the digits without `+` as the JID user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an E.164 phone number: '+' then 7 to 15 digits, the first not 0")]
pub struct InvalidPhoneNumber(pub String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, InvalidPhoneNumber> {
        let invalid = || InvalidPhoneNumber(input.to_owned());
        let digits = input.strip_prefix('+').ok_or_else(invalid)?;
        let well_formed =
            (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if !well_formed {
            return Err(invalid());
        }
        Ok(Self(input.to_owned()))
    }

    /// Reads the JID user form (digits only), as found in a login payload or a JID.
    pub fn from_digits(digits: &str) -> Result<Self, InvalidPhoneNumber> {
        Self::parse(&format!("+{digits}"))
    }

    /// The digits without `+`: the user part of the account's `@s.whatsapp.net` JID.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidPhoneNumber;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_short_sandbox_numbers_and_real_ones() {
        assert_eq!(PhoneNumber::parse("+15550001").unwrap().digits(), "15550001");
        assert_eq!(PhoneNumber::parse("+9611234567").unwrap().as_str(), "+9611234567");
        assert_eq!(PhoneNumber::from_digits("15550001").unwrap().as_str(), "+15550001");
    }

    #[test]
    fn rejects_what_is_not_e164() {
        for bad in ["15550001", "+", "+123456", "+0155500011", "+1555 0001", "+1234567890123456", "+1555a001"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
