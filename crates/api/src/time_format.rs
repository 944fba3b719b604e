//! Times in API documents are RFC 3339 strings in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn opt_rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(rfc3339)
}
