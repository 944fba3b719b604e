//! Directory lookups for `usync`: who a number or LID is, and which devices it has.

use buffa::Message as _;
use wacore_binary::Jid;
use waproto::whatsapp as wa;

use super::Network;
use super::account::Account;
use crate::phone_number::PhoneNumber;

/// Domain separator of the account signature over a key-index list. whatsapp-rust does
/// not verify this signature when it reads a device list; it is there for fidelity.
const KEY_INDEX_LIST_PREFIX: [u8; 2] = [6, 2];

/// One user as `usync` reports it.
pub(crate) struct UserDevices {
    pub(crate) pn: Jid,
    pub(crate) lid: Jid,
    /// Device ids with their key index; the phone (device 0) has none.
    pub(crate) devices: Vec<(u16, Option<u32>)>,
    /// `ADVSignedKeyIndexList` bytes: which key indexes are valid. Clients drop a
    /// companion that is listed without a valid key index, and skip a user that has
    /// companions but no list.
    pub(crate) key_index_list: Vec<u8>,
    pub(crate) key_index_ts: u64,
}

impl Network {
    /// The user a JID names, in either phone-number or LID form.
    pub(crate) fn user(&self, jid: &Jid) -> Option<UserDevices> {
        self.lock().account_of(jid).map(user_devices)
    }

    /// The user with a phone number as written in a `<contact>` query (`+15550001`).
    pub(crate) fn user_by_phone(&self, number: &str) -> Option<UserDevices> {
        let digits = number.trim().trim_start_matches('+');
        let phone = PhoneNumber::from_digits(digits).ok()?;
        self.lock().accounts.get(&phone).map(user_devices)
    }
}

fn user_devices(account: &Account) -> UserDevices {
    let mut devices = vec![(0, None)];
    devices.extend(account.companions.iter().map(|(id, c)| (*id, Some(c.key_index))));
    let valid_indexes = account.companions.values().map(|c| c.key_index).collect();
    let details = wa::ADVKeyIndexList {
        raw_id: Some(account.adv_raw_id),
        timestamp: Some(account.devices_changed_at),
        current_index: Some(account.current_key_index()),
        valid_indexes,
        account_type: Some(wa::ADVEncryptionType::E2EE),
    }
    .encode_to_vec();
    let message = [&KEY_INDEX_LIST_PREFIX[..], &details].concat();
    let signature = account.primary.identity.private_key.calculate_signature(&message, &mut rand::rng()).ok();
    let key_index_list = wa::ADVSignedKeyIndexList {
        details: Some(details),
        account_signature: signature.map(|s| s.to_vec()),
        account_signature_key: Some(account.primary.identity.public_key.public_key_bytes().to_vec()),
    }
    .encode_to_vec();
    UserDevices {
        pn: account.pn_jid(),
        lid: account.lid_jid(),
        devices,
        key_index_list,
        key_index_ts: account.devices_changed_at,
    }
}
