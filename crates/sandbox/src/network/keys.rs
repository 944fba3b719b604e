//! Signal key material the devices publish (`encrypt` IQs) and peers fetch.

use wacore_binary::Jid;

use super::{Network, PreKey, SignalKeys, SignedPreKey};

/// A device's prekey upload.
pub(crate) struct KeyUpload {
    pub(crate) registration_id: u32,
    pub(crate) identity: [u8; 32],
    pub(crate) prekeys: Vec<PreKey>,
    pub(crate) signed_prekey: SignedPreKey,
}

/// What a peer gets to start a Signal session with one device.
pub(crate) struct KeyBundle {
    pub(crate) registration_id: u32,
    pub(crate) identity: [u8; 32],
    pub(crate) signed_prekey: SignedPreKey,
    /// A one-time prekey, handed out once; none when the device ran out.
    pub(crate) prekey: Option<PreKey>,
    /// The companion's ADV identity, so peers can check the account vouches for it.
    pub(crate) device_identity: Option<Vec<u8>>,
}

impl Network {
    /// Stores an upload; false if the device does not exist.
    pub(crate) fn upload_prekeys(&self, device: &Jid, upload: KeyUpload) -> bool {
        let mut state = self.lock();
        let Some(keys) = state.account_of_mut(device).and_then(|a| a.signal_keys_mut(device.device)) else {
            return false;
        };
        keys.registration_id = upload.registration_id;
        keys.identity = upload.identity;
        keys.signed_prekey = upload.signed_prekey;
        for prekey in upload.prekeys {
            if !keys.one_time_prekeys.iter().any(|k| k.id == prekey.id) {
                keys.one_time_prekeys.push_back(prekey);
            }
        }
        true
    }

    pub(crate) fn rotate_signed_prekey(&self, device: &Jid, signed_prekey: SignedPreKey) -> bool {
        let mut state = self.lock();
        let Some(keys) = state.account_of_mut(device).and_then(|a| a.signal_keys_mut(device.device)) else {
            return false;
        };
        keys.signed_prekey = signed_prekey;
        true
    }

    pub(crate) fn published_keys(&self, device: &Jid) -> Option<SignalKeys> {
        self.lock().account_of(device).and_then(|a| a.signal_keys(device.device)).cloned()
    }

    /// A bundle for `device`, using up one of its one-time prekeys.
    pub(crate) fn take_bundle(&self, device: &Jid) -> Option<KeyBundle> {
        let mut state = self.lock();
        let account = state.account_of_mut(device)?;
        let device_identity = account.companions.get(&device.device).map(|c| c.signed_identity.clone());
        let keys = account.signal_keys_mut(device.device)?;
        Some(KeyBundle {
            registration_id: keys.registration_id,
            identity: keys.identity,
            signed_prekey: keys.signed_prekey.clone(),
            prekey: keys.one_time_prekeys.pop_front(),
            device_identity,
        })
    }
}
