//! The shared state of the simulated WhatsApp network: accounts and their devices,
//! which devices are online (and how to reach their connection), companions waiting
//! to be paired, and what waits for each device (`queue`, filled by `route` and
//! `presence`). One mutex guards it; it is never held across an await.

mod account;
mod calls;
mod faults;
mod groups;
mod keys;
mod pair_code;
mod pairing;
mod presence;
mod queue;
mod route;
mod seen;
mod status;
mod users;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use wacore_binary::Jid;

use self::account::Account;
pub use self::account::{AccountInfo, DeviceInfo};
pub(crate) use self::account::{PreKey, SignalKeys, SignedPreKey, public_bytes};
pub use self::faults::Fault;
pub(crate) use self::groups::{Group, Role, invite_code};
pub(crate) use self::keys::{KeyBundle, KeyUpload};
pub(crate) use self::pair_code::{CodeOffer, CodeRequest};
pub(crate) use self::pairing::{LinkGrant, PairOffer, WaitingCompanion};
pub(crate) use self::users::UserDevices;
use crate::conn::{ConnHandle, ConnId};
use crate::error::SandboxError;
use crate::phone_number::PhoneNumber;
use crate::stanza;

/// LIDs are opaque numbers; the sandbox counts them up from here.
const FIRST_LID: u64 = 100_000_000_000_001;

#[derive(Default)]
pub(crate) struct Network {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    accounts: BTreeMap<PhoneNumber, Account>,
    /// LID user → account.
    lids: HashMap<String, PhoneNumber>,
    issued_lids: u64,
    /// Connected devices by device JID (phone-number form, e.g. `15550001:1@s.whatsapp.net`).
    online: HashMap<Jid, ConnHandle>,
    /// Companions showing a QR code, by each pairing ref they were given.
    waiting: HashMap<String, WaitingCompanion>,
    /// Companions showing a pairing code, by the number they asked to link to.
    code_requests: HashMap<PhoneNumber, CodeRequest>,
    /// Banned accounts and when their ban ends (unix seconds).
    bans: HashMap<PhoneNumber, u64>,
    issued_connections: u64,
    /// Unacknowledged stanzas per device JID (phone-number form), oldest first.
    queues: HashMap<Jid, VecDeque<queue::Queued>>,
    /// Devices past their offline drain, and on which connection: only those get
    /// stanzas live; the others find them in their queue at the next drain.
    live: HashMap<Jid, ConnId>,
    /// Users (phone-number digits) whose last presence was `available`.
    available: HashSet<String>,
    /// Who asked for whose presence: user digits → subscribed device JIDs.
    subscribers: HashMap<String, HashSet<Jid>>,
    /// Groups by the user part of their JID.
    groups: BTreeMap<String, Group>,
    issued_groups: u64,
    /// Devices whose next message arrives garbled (the `garble` fault).
    garble_next: HashSet<Jid>,
    /// Devices whose receipts wait in their queue until they log in again (the
    /// `hold_receipts` fault).
    hold_receipts: HashSet<Jid>,
    /// 1:1 message ids already routed, so a resend is not delivered twice.
    seen: seen::SeenMessages,
}

/// A device that may log in, as the login payload proved it.
#[derive(Debug, Clone)]
pub(crate) struct LoginGrant {
    /// `user:device@s.whatsapp.net`
    pub(crate) device_jid: Jid,
    /// `lid:device@lid`
    pub(crate) lid_jid: Jid,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginRefusal {
    #[error("the account is banned for {seconds_left} more seconds")]
    Banned { seconds_left: u64 },
    #[error("no account {0}")]
    NoAccount(u64),
    #[error("no device {1} on account {0}")]
    NoDevice(u64, u32),
    #[error("device {0} logged in with another noise key than it paired with")]
    WrongNoiseKey(Jid),
}

impl LoginRefusal {
    /// The `<failure>` that tells the client why.
    pub(crate) fn failure(&self) -> wacore_binary::Node {
        match self {
            LoginRefusal::Banned { seconds_left } => stanza::temporary_ban(faults::BAN_CODE, *seconds_left),
            // 401: the client treats the device as logged out and stops reconnecting.
            _ => stanza::failure(401),
        }
    }
}

impl Network {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_connection_id(&self) -> ConnId {
        let mut state = self.lock();
        state.issued_connections += 1;
        ConnId(state.issued_connections)
    }

    pub(crate) fn create_account(&self, phone: PhoneNumber, name: String) -> Result<AccountInfo, SandboxError> {
        let mut state = self.lock();
        if state.accounts.contains_key(&phone) {
            return Err(SandboxError::AccountExists(phone));
        }
        let lid = (FIRST_LID + state.issued_lids).to_string();
        state.issued_lids += 1;
        state.lids.insert(lid.clone(), phone.clone());
        let account = Account::new(phone.clone(), name, lid, now_secs());
        let info = state.info(&account);
        state.accounts.insert(phone, account);
        Ok(info)
    }

    pub(crate) fn accounts(&self) -> Vec<AccountInfo> {
        let state = self.lock();
        state.accounts.values().map(|a| state.info(a)).collect()
    }

    pub(crate) fn account(&self, phone: &PhoneNumber) -> Result<AccountInfo, SandboxError> {
        let state = self.lock();
        let account = state.accounts.get(phone).ok_or_else(|| SandboxError::AccountNotFound(phone.clone()))?;
        Ok(state.info(account))
    }

    /// Checks a login payload's identity: an existing companion device, with the
    /// Noise key it paired with. The phone (device 0) is simulated and never logs in.
    pub(crate) fn login(
        &self,
        username: u64,
        device: u32,
        noise_public: &[u8; 32],
    ) -> Result<LoginGrant, LoginRefusal> {
        let phone = PhoneNumber::from_digits(&username.to_string()).map_err(|_| LoginRefusal::NoAccount(username))?;
        if let Some(seconds_left) = self.ban_left(&phone) {
            return Err(LoginRefusal::Banned { seconds_left });
        }
        let state = self.lock();
        let account = state.accounts.get(&phone).ok_or(LoginRefusal::NoAccount(username))?;
        let companion = u16::try_from(device)
            .ok()
            .and_then(|id| account.companions.get(&id).map(|c| (id, c)))
            .filter(|(id, _)| *id != 0);
        let Some((id, companion)) = companion else {
            return Err(LoginRefusal::NoDevice(username, device));
        };
        let device_jid = account.pn_jid().with_device(id);
        if &companion.noise_public != noise_public {
            return Err(LoginRefusal::WrongNoiseKey(device_jid));
        }
        Ok(LoginGrant { device_jid, lid_jid: account.lid_jid().with_device(id) })
    }

    /// Marks a device online. Returns the connection it replaces, which the caller
    /// tells that it was replaced, as WhatsApp does when a device connects twice.
    pub(crate) fn attach(&self, device: &Jid, handle: ConnHandle) -> Option<ConnHandle> {
        self.lock().online.insert(device.clone(), handle)
    }

    /// Marks a device offline, unless a newer connection has taken its place.
    pub(crate) fn detach(&self, device: &Jid, id: ConnId) {
        let mut state = self.lock();
        if state.online.get(device).is_some_and(|h| h.id == id) {
            state.online.remove(device);
        }
        if state.live.get(device) == Some(&id) {
            state.live.remove(device);
        }
    }

    pub(crate) fn is_online(&self, device: &Jid) -> bool {
        self.lock().online.contains_key(device)
    }

    /// Forgets a companion device (it logged out or the phone unlinked it).
    pub(crate) fn unlink(&self, device: &Jid) -> Result<(), SandboxError> {
        self.lock().remove_companion(device)
    }
}

impl State {
    fn info(&self, account: &Account) -> AccountInfo {
        let device = |id: u16, platform: &str| {
            let jid = account.pn_jid().with_device(id);
            let online = self.online.contains_key(&jid);
            DeviceInfo { jid: jid.to_string(), id, platform: platform.to_owned(), online }
        };
        let mut devices = vec![device(0, "android")];
        devices.extend(account.companions.iter().map(|(id, c)| device(*id, &c.platform)));
        AccountInfo {
            phone: account.phone.clone(),
            name: account.name.clone(),
            lid: account.lid_jid().to_string(),
            devices,
        }
    }

    fn remove_companion(&mut self, device: &Jid) -> Result<(), SandboxError> {
        let not_found = || SandboxError::DeviceNotFound(device.clone());
        let account = self.account_of_mut(device).ok_or_else(not_found)?;
        account.companions.remove(&device.device).ok_or_else(not_found)?;
        account.devices_changed_at = now_secs();
        // Device ids are never reused, so nobody will ever collect what waited for it.
        self.queues.remove(device);
        Ok(())
    }

    /// The account a JID (phone-number or LID form, any device) belongs to.
    fn account_of(&self, jid: &Jid) -> Option<&Account> {
        let phone = self.phone_of(jid)?;
        self.accounts.get(&phone)
    }

    fn account_of_mut(&mut self, jid: &Jid) -> Option<&mut Account> {
        let phone = self.phone_of(jid)?;
        self.accounts.get_mut(&phone)
    }

    fn phone_of(&self, jid: &Jid) -> Option<PhoneNumber> {
        if jid.is_lid() {
            self.lids.get(jid.user.as_str()).cloned()
        } else if jid.is_pn() {
            PhoneNumber::from_digits(&jid.user).ok()
        } else {
            None
        }
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
