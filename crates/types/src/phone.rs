use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A country for reading numbers written without their country code, e.g. `LB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(phonenumber::country::Id);

impl FromStr for Country {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        phonenumber::country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Self)
            .map_err(|_| ParseError::new(format!("'{s}' is not an ISO 3166 country code like LB or DE")))
    }
}

/// A valid phone number in E.164 form, e.g. `+9611234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Reads a number in any common written form: `+961 1 234 567`, `00961-1-234567`,
    /// `9611234567`, or `01 234 567` when `default_country` says which country that is.
    pub fn parse(input: &str, default_country: Option<Country>) -> Result<Self, ParseError> {
        let invalid = || ParseError::new(format!("'{input}' is not a valid phone number"));
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(invalid());
        }
        let international = if let Some(rest) = trimmed.strip_prefix("00") {
            Some(format!("+{rest}"))
        } else if trimmed.starts_with('+') {
            Some(trimmed.to_owned())
        } else {
            None
        };
        let attempt = |country: Option<Country>, text: &str| {
            phonenumber::parse(country.map(|c| c.0), text).ok().filter(|n| n.is_valid())
        };
        let number = match (international, default_country) {
            (Some(text), _) => attempt(None, &text),
            // A national number first; digits that only make sense with a country code
            // in front (how WhatsApp writes numbers) second.
            (None, Some(country)) => attempt(Some(country), trimmed).or_else(|| attempt(None, &format!("+{trimmed}"))),
            (None, None) => attempt(None, &format!("+{trimmed}")),
        }
        .ok_or_else(invalid)?;
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// Wraps a number read back from the database, already in E.164.
    pub fn from_stored(e164: String) -> Self {
        Self(e164)
    }

    /// `+9611234567`
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `9611234567`, the user part of a WhatsApp JID.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb() -> Option<Country> {
        Some("LB".parse().unwrap())
    }

    #[test]
    fn international_forms_normalise_to_e164() {
        for input in ["+961 1 234 567", "+961-1-234567", "00961 1 234 567", "9611234567", " +9611234567 "] {
            assert_eq!(PhoneNumber::parse(input, None).unwrap().as_str(), "+9611234567", "{input}");
        }
    }

    #[test]
    fn national_numbers_use_the_default_country() {
        assert_eq!(PhoneNumber::parse("01 234 567", lb()).unwrap().as_str(), "+9611234567");
        assert_eq!(PhoneNumber::parse("(030) 1234567", Some("de".parse().unwrap())).unwrap().as_str(), "+49301234567");
        // With a default country, full international digits still work.
        assert_eq!(PhoneNumber::parse("4915123456789", lb()).unwrap().as_str(), "+4915123456789");
    }

    #[test]
    fn nonsense_is_refused() {
        for input in ["", "hello", "+1", "123", "+999 123 456", "01 234 567", &"9".repeat(40)] {
            assert!(PhoneNumber::parse(input, None).is_err(), "{input}");
        }
    }

    #[test]
    fn country_codes_parse_case_insensitively() {
        assert!("lb".parse::<Country>().is_ok());
        assert!("XX".parse::<Country>().is_err());
    }

    #[test]
    fn digits_drop_the_plus() {
        assert_eq!(PhoneNumber::parse("+4915123456789", None).unwrap().digits(), "4915123456789");
    }
}
