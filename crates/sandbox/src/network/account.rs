//! What the sandbox knows about one WhatsApp account: its number, LID, the simulated
//! phone (device 0, which holds the account's identity key) and its linked companions.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use wacore_binary::Jid;
use wacore_libsignal::protocol::KeyPair;

use crate::phone_number::PhoneNumber;

/// The keys a device publishes so that others can start Signal sessions with it.
#[derive(Debug, Clone)]
pub(crate) struct SignalKeys {
    pub(crate) registration_id: u32,
    pub(crate) identity: [u8; 32],
    pub(crate) signed_prekey: SignedPreKey,
    /// One-time prekeys not handed out yet, oldest first.
    pub(crate) one_time_prekeys: VecDeque<PreKey>,
}

#[derive(Debug, Clone)]
pub(crate) struct PreKey {
    pub(crate) id: u32,
    pub(crate) public: [u8; 32],
}

#[derive(Debug, Clone)]
pub(crate) struct SignedPreKey {
    pub(crate) id: u32,
    pub(crate) public: [u8; 32],
    pub(crate) signature: Vec<u8>,
}

/// A linked (companion) device: WhatsApp Web, or a whatsapp-rust client.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    pub(crate) key_index: u32,
    /// The Noise static key the device proved at pairing; its logins must use it.
    pub(crate) noise_public: [u8; 32],
    pub(crate) keys: SignalKeys,
    /// Its `ADVSignedDeviceIdentity` with both signatures, as peers will fetch it.
    pub(crate) signed_identity: Vec<u8>,
    pub(crate) platform: String,
}

/// The simulated primary phone. It never connects; the sandbox acts for it.
pub(crate) struct Primary {
    /// The account's identity key: it signs every companion's ADV identity.
    pub(crate) identity: KeyPair,
    pub(crate) keys: SignalKeys,
}

pub(crate) struct Account {
    pub(crate) phone: PhoneNumber,
    pub(crate) name: String,
    /// The user part of the account's `@lid` JID.
    pub(crate) lid: String,
    /// The account's ADV id, in every device identity and key-index list it signs.
    pub(crate) adv_raw_id: u32,
    pub(crate) primary: Primary,
    pub(crate) companions: BTreeMap<u16, Companion>,
    next_device_id: u16,
    next_key_index: u32,
    /// When the device list last changed: the `ts` of its key-index list.
    pub(crate) devices_changed_at: u64,
}

impl Account {
    pub(crate) fn new(phone: PhoneNumber, name: String, lid: String, now: u64) -> Self {
        let mut rng = rand::rng();
        let identity = KeyPair::generate(&mut rng);
        let keys = primary_keys(&identity);
        Self {
            phone,
            name,
            lid,
            adv_raw_id: rand::random(),
            primary: Primary { identity, keys },
            companions: BTreeMap::new(),
            next_device_id: 1,
            next_key_index: 1,
            devices_changed_at: now,
        }
    }

    pub(crate) fn pn_jid(&self) -> Jid {
        Jid::pn(self.phone.digits())
    }

    pub(crate) fn lid_jid(&self) -> Jid {
        Jid::lid(self.lid.as_str())
    }

    /// Reserves a device id and key index for a device the phone is about to link.
    /// Neither is ever reused, even if the linking then fails, as on WhatsApp.
    pub(crate) fn reserve_device(&mut self) -> (u16, u32) {
        let reserved = (self.next_device_id, self.next_key_index);
        self.next_device_id = self.next_device_id.wrapping_add(1).max(1);
        self.next_key_index += 1;
        reserved
    }

    /// The newest key index handed out: the key-index list's `currentIndex`.
    pub(crate) fn current_key_index(&self) -> u32 {
        self.next_key_index - 1
    }

    pub(crate) fn signal_keys(&self, device: u16) -> Option<&SignalKeys> {
        match device {
            0 => Some(&self.primary.keys),
            id => self.companions.get(&id).map(|c| &c.keys),
        }
    }

    pub(crate) fn signal_keys_mut(&mut self, device: u16) -> Option<&mut SignalKeys> {
        match device {
            0 => Some(&mut self.primary.keys),
            id => self.companions.get_mut(&id).map(|c| &mut c.keys),
        }
    }
}

/// The phone's own Signal keys, so that peers can encrypt to device 0 like on WhatsApp.
fn primary_keys(identity: &KeyPair) -> SignalKeys {
    let mut rng = rand::rng();
    let signed = KeyPair::generate(&mut rng);
    // Signed over the 33-byte serialized key (0x05 type prefix), as libsignal verifies it.
    let signature = identity
        .private_key
        .calculate_signature(&signed.public_key.serialize(), &mut rng)
        .map(|s| s.to_vec())
        .unwrap_or_default();
    SignalKeys {
        registration_id: rand::random::<u32>() & 0x3fff,
        identity: public_bytes(identity),
        signed_prekey: SignedPreKey { id: 1, public: public_bytes(&signed), signature },
        one_time_prekeys: VecDeque::new(),
    }
}

pub(crate) fn public_bytes(key: &KeyPair) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(key.public_key.public_key_bytes());
    out
}

/// An account as the admin API and tests see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountInfo {
    pub phone: PhoneNumber,
    pub name: String,
    /// The account's LID JID, e.g. `100000000000001@lid`.
    pub lid: String,
    pub devices: Vec<DeviceInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's JID, e.g. `15550001:1@s.whatsapp.net`; device 0 is the phone.
    pub jid: String,
    pub id: u16,
    pub platform: String,
    /// Whether a client is connected as this device right now.
    pub online: bool,
}
