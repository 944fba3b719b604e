//! A WhatsApp network in a box: a protocol-level simulator of WhatsApp's multi-device
//! servers that real whatsapp-rust clients connect to over a WebSocket.
//!
//! Start one with [`Sandbox::start`], create accounts, point clients at
//! [`SandboxHandle::ws_url`] (with [`SandboxHttpClient`] for HTTP), and pair them by
//! letting an account's simulated phone scan the QR code the client shows (or type
//! the pairing code it shows). Clients must be built with whatsapp-rust's
//! `danger-skip-cert-chain-verify`: the sandbox signs its own certificate chain.
//!
//! Layout:
//! - `server`: binding, the router, [`SandboxHandle`]; `admin`: the `/sandbox` JSON API.
//! - `conn`: one WebSocket connection: framing, the Noise responder, encrypted node
//!   IO, then `pairing`/`pair_code` (a new companion) or `session` (a known device).
//! - `iq`: answers to the client's IQs by namespace.
//! - `network`: the shared state: accounts, devices, keys, who is online, who waits
//!   to be paired, bans, per-device offline queues, message and receipt routing;
//!   `phone`: what the simulated primary phone signs and derives.
//! - `contacts`: simulated contacts, real clients inside the sandbox (`/sandbox/contacts`).
//! - `media`: the media servers: `w:m` media_conn, encrypted blob upload/download.

mod admin;
mod conn;
mod contacts;
mod error;
mod http_client;
mod iq;
mod media;
mod network;
mod phone;
mod phone_number;
mod server;
mod stanza;

pub use contacts::{
    AutoReceipts, ContactInfo, Content, Media, MediaKind, NewContact, Outgoing, QuotedMessage, ReceivedMessage, Reply,
};
pub use error::SandboxError;
pub use http_client::SandboxHttpClient;
pub use media::{DEFAULT_MAX_BLOB_BYTES, MediaBlobInfo, MediaError, StoredMedia, UploadRefusal, media_in};
pub use network::{AccountInfo, DeviceInfo, Fault};
pub use phone::link_code::LinkCodeError;
pub use phone::{CompanionQr, InvalidQr};
pub use phone_number::{InvalidPhoneNumber, PhoneNumber};
pub use server::{Sandbox, SandboxConfig, SandboxHandle};
