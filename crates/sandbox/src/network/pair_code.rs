//! Linking by pairing code: the companion asks to link to a number and shows a code;
//! the user types it on that number's phone (here: the admin API).

use tokio::sync::oneshot;

use super::pairing::{LinkReply, await_link, grant_link};
use super::{DeviceInfo, LinkGrant, Network, public_bytes};
use crate::conn::{ConnCommand, ConnHandle};
use crate::error::SandboxError;
use crate::phone::link_code::{self, PrimaryHello};
use crate::phone_number::PhoneNumber;

/// A companion's `companion_hello`: it shows a code and waits for the phone. It stays
/// until the companion leaves: a mistyped code may be typed again.
#[derive(Clone)]
pub(crate) struct CodeRequest {
    pub(crate) handle: ConnHandle,
    /// The ref the server gave the companion; the phone's answer must carry it.
    pub(crate) pairing_ref: Vec<u8>,
    /// The companion's ephemeral public key, encrypted with the code.
    pub(crate) wrapped_ephemeral: Vec<u8>,
}

/// The phone's `primary_hello` on its way to the companion, with what the phone needs
/// to finish once the companion answers with its key bundle.
pub(crate) struct CodeOffer {
    pub(crate) phone: PhoneNumber,
    pub(crate) pairing_ref: Vec<u8>,
    pub(crate) hello: PrimaryHello,
    pub(crate) primary_identity: [u8; 32],
    pub(crate) reply: LinkReply,
}

impl Network {
    /// Registers a companion that asked to link to `phone` by code. A newer request
    /// for the same number replaces an older one, as a new code on the phone would.
    pub(crate) fn wait_for_code(&self, phone: PhoneNumber, request: CodeRequest) -> Result<(), SandboxError> {
        let mut state = self.lock();
        if !state.accounts.contains_key(&phone) {
            return Err(SandboxError::AccountNotFound(phone));
        }
        state.code_requests.insert(phone, request);
        Ok(())
    }

    /// The user types `code` on the phone of `phone`. Returns the new device once the
    /// companion has confirmed it; a code that does not match is refused.
    pub(crate) async fn enter_pair_code(&self, phone: &PhoneNumber, code: &str) -> Result<DeviceInfo, SandboxError> {
        let code = link_code::normalize_code(code)?;
        let (request, primary_identity) = {
            let state = self.lock();
            let account = state.accounts.get(phone).ok_or_else(|| SandboxError::AccountNotFound(phone.clone()))?;
            let primary_identity = public_bytes(&account.primary.identity);
            let request = state.code_requests.get(phone).cloned().ok_or(SandboxError::NoPairCodeWaiting)?;
            (request, primary_identity)
        };
        let wrapped = request.wrapped_ephemeral.clone();
        let hello = tokio::task::spawn_blocking(move || link_code::primary_hello(&wrapped, &code))
            .await
            .map_err(|e| SandboxError::Internal(e.into()))??;
        let (reply, confirmed) = oneshot::channel();
        let offer =
            CodeOffer { phone: phone.clone(), pairing_ref: request.pairing_ref, hello, primary_identity, reply };
        request
            .handle
            .tx
            .send(ConnCommand::PrimaryHello(Box::new(offer)))
            .await
            .map_err(|_| SandboxError::CompanionGone)?;
        await_link(confirmed).await
    }

    /// The companion's key bundle arrived: the phone checks it and grants the device.
    pub(crate) fn accept_code_link(
        &self,
        offer: &CodeOffer,
        wrapped_bundle: &[u8],
        companion_identity: &[u8; 32],
    ) -> Result<LinkGrant, SandboxError> {
        let mut state = self.lock();
        let account =
            state.accounts.get_mut(&offer.phone).ok_or_else(|| SandboxError::AccountNotFound(offer.phone.clone()))?;
        let adv_secret =
            link_code::open_key_bundle(&offer.hello, &account.primary.identity, wrapped_bundle, companion_identity)?;
        grant_link(account, companion_identity, &adv_secret)
    }
}
