use wacore_binary::Jid;

use crate::phone::InvalidQr;
use crate::phone::link_code::LinkCodeError;
use crate::phone_number::{InvalidPhoneNumber, PhoneNumber};

/// What can go wrong when driving the sandbox through its Rust API or admin routes.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    InvalidPhoneNumber(#[from] InvalidPhoneNumber),
    #[error("account {0} already exists")]
    AccountExists(PhoneNumber),
    #[error("no account {0}")]
    AccountNotFound(PhoneNumber),
    #[error(transparent)]
    InvalidQr(#[from] InvalidQr),
    #[error("no companion is showing this QR code: it expired, was already scanned, or was never issued")]
    QrNotWaiting,
    #[error("the QR code's keys are not those of the companion that holds its ref")]
    QrKeyMismatch,
    #[error("the companion disconnected before pairing finished")]
    CompanionGone,
    #[error("the companion rejected the pairing: {0}")]
    PairingRejected(String),
    #[error("the companion did not confirm the pairing in time")]
    PairingTimeout,
    #[error("no companion is waiting for a pairing code for this number")]
    NoPairCodeWaiting,
    #[error(transparent)]
    LinkCode(#[from] LinkCodeError),
    #[error("'{0}' is not a companion device JID like 15550001:1@s.whatsapp.net")]
    InvalidDevice(String),
    #[error("no device {0}")]
    DeviceNotFound(Jid),
    #[error("device {0} is not connected")]
    DeviceOffline(Jid),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("no simulated contact {0}")]
    ContactNotFound(PhoneNumber),
    #[error("simulated contact {0} is offline")]
    ContactOffline(PhoneNumber),
    #[error("the simulated contact's client did not connect in time")]
    ContactTimeout,
    #[error("the simulated contact's client failed: {0}")]
    ContactFailed(String),
    #[error("invalid contact: {0}")]
    InvalidContact(String),
    #[error("'{0}' is neither a phone number like +15550001 nor a JID")]
    InvalidChat(String),
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    #[error("no media for message {id}: {reason}")]
    NoMedia { id: String, reason: String },
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}
