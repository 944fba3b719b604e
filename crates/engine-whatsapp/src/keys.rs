//! Where whatsapp-rust's state lives in the store's engine state: one kind per map of
//! the storage traits, keys made of the trait's own arguments.
//!
//! | kind | key | value |
//! |---|---|---|
//! | `wa.device` | `self` | `Device` as JSON |
//! | `wa.identity` | Signal address | the 32-byte identity key |
//! | `wa.session` | Signal address | session record |
//! | `wa.prekey` | id, 10 digits | 1 byte uploaded flag (0/1), then the record |
//! | `wa.signed_prekey` | id, 10 digits | record |
//! | `wa.sender_key` | sender key name | record |
//! | `wa.sync_key` | key id in hex | `AppStateSyncKey` as JSON |
//! | `wa.sync_key_latest` | `latest` | the key id last stored |
//! | `wa.appstate_version` | collection | `HashState` as JSON |
//! | `wa.mutation_mac` | collection ‖ index MAC in hex | value MAC |
//! | `wa.sender_key_device` | group ‖ device | 1 byte: has the key |
//! | `wa.lid` | LID user | `LidPnMappingEntry` as JSON |
//! | `wa.pn` | phone user | the LID it maps to (reverse index of `wa.lid`) |
//! | `wa.base_key` | address ‖ message id | base key |
//! | `wa.device_list` | user | `DeviceListRecord` as JSON |
//! | `wa.group_metadata` | group | the caller's blob |
//! | `wa.tc_token` | JID | `TcTokenEntry` as JSON |
//! | `wa.sent_message` | chat ‖ message id | payload; stamp: stored at (unix s) |
//! | `wa.pending_inbound` | chat ‖ sender ‖ id | message; stamp: stored at (unix s) |
//! | `wa.msg_secret` | chat ‖ sender ‖ message id | secret, expires_at, message_ts (i64 BE); stamp: expires_at unless 0 |
//!
//! `‖` joins parts with `|`, each part with `%` and `|` escaped (`%25`, `%7C`), so
//! different tuples never make the same key, and a key starts with `a|` exactly when
//! its first part is `a`. Single-part keys are stored as given. Numbers have fixed
//! width so keys sort like the numbers.

pub const DEVICE: &str = "wa.device";
pub const IDENTITY: &str = "wa.identity";
pub const SESSION: &str = "wa.session";
pub const PREKEY: &str = "wa.prekey";
pub const SIGNED_PREKEY: &str = "wa.signed_prekey";
pub const SENDER_KEY: &str = "wa.sender_key";
pub const SYNC_KEY: &str = "wa.sync_key";
pub const SYNC_KEY_LATEST: &str = "wa.sync_key_latest";
pub const APPSTATE_VERSION: &str = "wa.appstate_version";
pub const MUTATION_MAC: &str = "wa.mutation_mac";
pub const SENDER_KEY_DEVICE: &str = "wa.sender_key_device";
pub const LID: &str = "wa.lid";
pub const PN: &str = "wa.pn";
pub const BASE_KEY: &str = "wa.base_key";
pub const DEVICE_LIST: &str = "wa.device_list";
pub const GROUP_METADATA: &str = "wa.group_metadata";
pub const TC_TOKEN: &str = "wa.tc_token";
pub const SENT_MESSAGE: &str = "wa.sent_message";
pub const PENDING_INBOUND: &str = "wa.pending_inbound";
pub const MSG_SECRET: &str = "wa.msg_secret";

/// The key of the one device a session has.
pub const DEVICE_KEY: &str = "self";
/// The key of the latest app-state sync key id.
pub const LATEST_KEY: &str = "latest";

const SEPARATOR: char = '|';

/// The key of a tuple of parts.
pub fn join(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            key.push(SEPARATOR);
        }
        for c in part.chars() {
            match c {
                '%' => key.push_str("%25"),
                SEPARATOR => key.push_str("%7C"),
                c => key.push(c),
            }
        }
    }
    key
}

/// The prefix of every key whose first parts are `parts`.
pub fn prefix(parts: &[&str]) -> String {
    let mut prefix = join(parts);
    prefix.push(SEPARATOR);
    prefix
}

/// The parts of a key made by [`join`].
pub fn split(key: &str) -> Vec<String> {
    key.split(SEPARATOR).map(|part| part.replace("%7C", "|").replace("%25", "%")).collect()
}

/// A numeric id as a key: fixed width, so keys sort like the ids.
pub fn id(id: u32) -> String {
    format!("{id:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_keys_are_unambiguous_and_split_back() {
        let tricky: &[&[&str]] = &[&["a|b", "c"], &["a", "b|c"], &["a%7Cb", "c"], &["", ""], &["100%", "|", "%|%"]];
        let keys: Vec<String> = tricky.iter().map(|parts| join(parts)).collect();
        for (parts, key) in tricky.iter().zip(&keys) {
            assert_eq!(split(key), *parts, "{key}");
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn a_prefix_matches_exactly_the_keys_of_its_first_part() {
        let group = prefix(&["120363@g.us"]);
        assert!(join(&["120363@g.us", "1555:1@s.whatsapp.net"]).starts_with(&group));
        assert!(!join(&["120363@g.us|x", "d"]).starts_with(&group));
        assert!(!join(&["120363@g.usx", "d"]).starts_with(&group));
    }

    #[test]
    fn ids_sort_like_numbers() {
        assert_eq!(id(7), "0000000007");
        assert!(id(99) < id(100));
        assert!(id(u32::MAX - 1) < id(u32::MAX));
    }
}
