//! Faults on demand: what WhatsApp does to a device when the phone unlinks it, another
//! client takes its place, the server restarts the stream, the network drops or slows
//! down, or the number gets banned.

use serde::Deserialize;
use wacore_binary::Jid;

use super::{Network, now_secs};
use crate::conn::{ConnCommand, ConnHandle};
use crate::error::SandboxError;
use crate::stanza;

/// Ban code 101: "sent to too many people", the most common temporary ban.
pub(crate) const BAN_CODE: u16 = 101;
const DEFAULT_BAN_SECS: u64 = 3600;

/// A fault to inject into one device's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The phone unlinks the device: it is removed from the account; if connected it
    /// gets `<stream:error code="401"><conflict type="device_removed"/>` and its
    /// client reports `LoggedOut`. Its next login is refused with 401.
    Unlink,
    /// Another connection took over the device: `<conflict type="replaced"/>`, the
    /// client reports `StreamReplaced` and does not reconnect.
    Replaced,
    /// `<stream:error code="515"/>`: the client reconnects at once.
    Restart,
    /// The connection closes without a word: the client reports `Disconnected` and
    /// reconnects with backoff.
    Drop,
    /// The account is banned for `expire_secs` (default one hour): connected devices
    /// and every login until then get `<failure reason="402" code="101" expire>`,
    /// which the client reports as `TemporaryBan`.
    Ban {
        #[serde(default = "default_ban_secs")]
        expire_secs: u64,
    },
    /// A slow network: everything the server sends the device waits `ms` first
    /// (`0` takes it away). Lasts for this connection.
    Latency { ms: u64 },
    /// The next message for the device arrives garbled: its client cannot decrypt it
    /// and sends the author a retry receipt, and the author's client sends it again.
    Garble,
    /// The server's acks of the device's messages come `ms` late, after the
    /// recipients' delivery receipts (`0` takes it away). Lasts for this connection.
    LateAcks { ms: u64 },
    /// Receipts for the device wait in its queue instead of reaching it, until it logs
    /// in again (as when a device dies before the server could hand them over).
    HoldReceipts,
}

fn default_ban_secs() -> u64 {
    DEFAULT_BAN_SECS
}

impl Network {
    pub(crate) async fn inject_fault(&self, device: &Jid, fault: Fault) -> Result<(), SandboxError> {
        let targets = self.fault_targets(device, fault)?;
        for (handle, command) in targets {
            // A connection that closed meanwhile has nothing left to break.
            let _ = handle.tx.send(command).await;
        }
        tracing::info!(%device, ?fault, "fault injected");
        Ok(())
    }

    /// Applies the fault to the network and says which connections hear what.
    fn fault_targets(&self, device: &Jid, fault: Fault) -> Result<Vec<(ConnHandle, ConnCommand)>, SandboxError> {
        let mut state = self.lock();
        let exists = state.account_of(device).is_some_and(|a| a.companions.contains_key(&device.device));
        if !exists || !device.is_pn() {
            return Err(SandboxError::DeviceNotFound(device.clone()));
        }
        let online = state.online.get(device).cloned();
        let command = match fault {
            Fault::Unlink => {
                state.remove_companion(device)?;
                return Ok(online
                    .map(|h| (h, ConnCommand::SendAndClose(stanza::device_removed())))
                    .into_iter()
                    .collect());
            }
            Fault::Replaced => ConnCommand::SendAndClose(stanza::replaced()),
            Fault::Restart => ConnCommand::SendAndClose(stanza::stream_error(515)),
            Fault::Drop => ConnCommand::Drop,
            Fault::Latency { ms } => ConnCommand::SetLatency(std::time::Duration::from_millis(ms)),
            Fault::LateAcks { ms } => ConnCommand::SetAckDelay(std::time::Duration::from_millis(ms)),
            Fault::Garble => {
                // The device need not be online: the message may wait in its queue.
                state.garble_next.insert(device.clone());
                return Ok(Vec::new());
            }
            Fault::HoldReceipts => {
                state.hold_receipts.insert(device.clone());
                return Ok(Vec::new());
            }
            Fault::Ban { expire_secs } => {
                let phone = state.phone_of(device).ok_or_else(|| SandboxError::DeviceNotFound(device.clone()))?;
                state.bans.insert(phone.clone(), now_secs() + expire_secs);
                let ban = || ConnCommand::SendAndClose(stanza::temporary_ban(BAN_CODE, expire_secs));
                let targets = state
                    .online
                    .iter()
                    .filter(|(jid, _)| jid.user == phone.digits())
                    .map(|(_, handle)| (handle.clone(), ban()))
                    .collect();
                return Ok(targets);
            }
        };
        let online = online.ok_or_else(|| SandboxError::DeviceOffline(device.clone()))?;
        Ok(vec![(online, command)])
    }

    /// Seconds left of a ban on the account, if it is banned.
    pub(super) fn ban_left(&self, phone: &crate::phone_number::PhoneNumber) -> Option<u64> {
        let until = *self.lock().bans.get(phone)?;
        until.checked_sub(now_secs()).filter(|left| *left > 0)
    }
}
