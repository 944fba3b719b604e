//! Linking a companion to an account: the companion's connection waits with a QR code,
//! the account's phone scans it, the companion confirms with its device signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;
use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;

use super::account::{Account, Companion, SignalKeys, public_bytes};
use super::{DeviceInfo, Network, now_secs};
use crate::conn::{ConnCommand, ConnHandle, ConnId};
use crate::error::SandboxError;
use crate::phone::key_share::{Sharer, app_state_key_share};
use crate::phone::{CompanionQr, DeviceGrant, grant_device_identity};
use crate::phone_number::PhoneNumber;

/// How long the phone waits for the companion to finish its part. A real client
/// answers within a second (pair codes cost it a slow key derivation); this only
/// bounds a broken one.
pub(super) const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the companion's connection reports how linking ended.
pub(crate) type LinkReply = oneshot::Sender<Result<DeviceInfo, SandboxError>>;

/// A companion connection showing QR codes, registered under each of its refs.
#[derive(Clone)]
pub(crate) struct WaitingCompanion {
    pub(crate) handle: ConnHandle,
    pub(crate) noise_public: [u8; 32],
    pub(crate) identity_public: [u8; 32],
}

/// What the phone grants a companion: everything its `<pair-success>` carries.
pub(crate) struct LinkGrant {
    pub(crate) phone: PhoneNumber,
    pub(crate) device_jid: Jid,
    pub(crate) lid_jid: Jid,
    pub(crate) key_index: u32,
    pub(crate) business_name: String,
    /// `ADVSignedDeviceIdentityHMAC` bytes for `<device-identity>`.
    pub(crate) device_identity: Vec<u8>,
    pub(crate) account_public: [u8; 32],
    pub(crate) companion_identity: [u8; 32],
}

/// A grant on its way to the companion, and where to report whether it accepted.
pub(crate) struct PairOffer {
    pub(crate) grant: LinkGrant,
    pub(crate) reply: LinkReply,
}

impl Network {
    pub(crate) fn wait_for_scan(&self, refs: &[String], companion: WaitingCompanion) {
        let mut state = self.lock();
        for pairing_ref in refs {
            state.waiting.insert(pairing_ref.clone(), companion.clone());
        }
    }

    /// Forgets what a connection was waiting for (it closed or was paired).
    pub(crate) fn stop_waiting(&self, id: ConnId) {
        let mut state = self.lock();
        state.waiting.retain(|_, w| w.handle.id != id);
        state.code_requests.retain(|_, r| r.handle.id != id);
    }

    /// The phone of `phone` scans `qr`: offers the companion a device identity and
    /// waits until the companion confirms it, so the device exists when this returns.
    pub(crate) async fn scan_qr(&self, phone: &PhoneNumber, qr: &str) -> Result<DeviceInfo, SandboxError> {
        let qr = CompanionQr::parse(qr)?;
        let (grant, handle) = self.prepare_scan(phone, &qr)?;
        let (reply, confirmed) = oneshot::channel();
        let offer = ConnCommand::Offer(Box::new(PairOffer { grant, reply }));
        handle.tx.send(offer).await.map_err(|_| SandboxError::CompanionGone)?;
        await_link(confirmed).await
    }

    fn prepare_scan(&self, phone: &PhoneNumber, qr: &CompanionQr) -> Result<(LinkGrant, ConnHandle), SandboxError> {
        let mut state = self.lock();
        if !state.accounts.contains_key(phone) {
            return Err(SandboxError::AccountNotFound(phone.clone()));
        }
        let waiting = state.waiting.get(&qr.pairing_ref).cloned().ok_or(SandboxError::QrNotWaiting)?;
        if waiting.noise_public != qr.noise_public || waiting.identity_public != qr.identity_public {
            return Err(SandboxError::QrKeyMismatch);
        }
        // One scan per companion: its other refs die with this one.
        state.waiting.retain(|_, w| w.handle.id != waiting.handle.id);
        let account = state.accounts.get_mut(phone).ok_or_else(|| SandboxError::AccountNotFound(phone.clone()))?;
        let grant = grant_link(account, &qr.identity_public, &qr.adv_secret)?;
        Ok((grant, waiting.handle))
    }

    /// Adds the companion to the account once it has returned a valid device signature.
    pub(crate) fn complete_link(
        &self,
        grant: &LinkGrant,
        signed_identity: Vec<u8>,
        keys: SignalKeys,
        noise_public: [u8; 32],
        platform: String,
    ) -> Result<DeviceInfo, SandboxError> {
        let mut state = self.lock();
        let account =
            state.accounts.get_mut(&grant.phone).ok_or_else(|| SandboxError::AccountNotFound(grant.phone.clone()))?;
        let companion = Companion { key_index: grant.key_index, noise_public, keys, signed_identity, platform };
        account.companions.insert(grant.device_jid.device, companion.clone());
        account.devices_changed_at = now_secs();
        Ok(DeviceInfo {
            jid: grant.device_jid.to_string(),
            id: grant.device_jid.device,
            platform: companion.platform,
            online: false,
        })
    }

    /// The phone's first message to the companion it just linked: the account's
    /// app-state sync key, queued for the companion's first login. Without it a fresh
    /// client waits 10 s for the key before its first app-state sync.
    pub(crate) async fn share_app_state_key(&self, grant: &LinkGrant, companion: &SignalKeys) {
        let phone = {
            let state = self.lock();
            state
                .accounts
                .get(&grant.phone)
                .map(|a| (a.primary.identity.clone(), a.primary.keys.registration_id, a.adv_raw_id))
        };
        let Some((account_key, registration_id, raw_id)) = phone else { return };
        let sharer = Sharer { account_key: &account_key, registration_id, raw_id, key_index: grant.key_index };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let enc = match app_state_key_share(&sharer, companion, grant.device_jid.device, now_ms).await {
            Ok(enc) => enc,
            Err(error) => {
                tracing::warn!(%error, "the phone could not encrypt the app-state key share");
                return;
            }
        };
        let id = format!("3EB0{:018X}", rand::random::<u128>() >> 56);
        let message = NodeBuilder::new("message")
            .attr("from", grant.device_jid.to_non_ad())
            .attr("id", id)
            .attr("t", (now_ms / 1000).to_string())
            .attr("type", "text")
            .attr("category", "peer")
            .children([enc])
            .build();
        // The companion is between its pairing connection and its first login: the
        // message waits in its queue and arrives with the offline messages.
        let mut state = self.lock();
        let _ = state.enqueue(&grant.device_jid, message);
    }
}

/// The phone vouches for a new device of `account`: reserves its id and key index and
/// signs its identity, keyed by the secret it shares with the companion.
pub(super) fn grant_link(
    account: &mut Account,
    companion_identity: &[u8; 32],
    adv_secret: &[u8; 32],
) -> Result<LinkGrant, SandboxError> {
    let (device_id, key_index) = account.reserve_device();
    let device_identity = grant_device_identity(&DeviceGrant {
        account_key: &account.primary.identity,
        raw_id: account.adv_raw_id,
        key_index,
        companion_identity,
        adv_secret,
        timestamp: now_secs(),
    })?;
    Ok(LinkGrant {
        phone: account.phone.clone(),
        device_jid: account.pn_jid().with_device(device_id),
        lid_jid: account.lid_jid().with_device(device_id),
        key_index,
        business_name: account.name.clone(),
        device_identity,
        account_public: public_bytes(&account.primary.identity),
        companion_identity: *companion_identity,
    })
}

pub(super) async fn await_link(
    confirmed: oneshot::Receiver<Result<DeviceInfo, SandboxError>>,
) -> Result<DeviceInfo, SandboxError> {
    match tokio::time::timeout(CONFIRM_TIMEOUT, confirmed).await {
        Err(_) => Err(SandboxError::PairingTimeout),
        Ok(Err(_)) => Err(SandboxError::CompanionGone),
        Ok(Ok(result)) => result,
    }
}
