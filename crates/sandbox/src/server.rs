//! Starting and stopping the sandbox: one HTTP listener serving the WhatsApp WebSocket
//! (`/ws/chat`) and the admin API (`/sandbox/...`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wacore_binary::Jid;

use crate::admin;
use crate::conn::{self, ServerIdentity};
use crate::error::SandboxError;
use crate::network::{AccountInfo, DeviceInfo, Fault, Network};
use crate::phone_number::PhoneNumber;

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port (see [`SandboxHandle::local_addr`]).
    pub bind: SocketAddr,
}

/// State shared by every connection and admin request.
pub(crate) struct Shared {
    pub(crate) network: Network,
    pub(crate) noise: ServerIdentity,
    pub(crate) media: crate::media::MediaStore,
    pub(crate) contacts: crate::contacts::Contacts,
    /// Cancelled at shutdown; open connections close when it fires.
    pub(crate) shutdown: CancellationToken,
}

/// The WhatsApp network simulator.
pub struct Sandbox;

impl Sandbox {
    /// Binds `config.bind` and serves until [`SandboxHandle::shutdown`].
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        let listener =
            TcpListener::bind(config.bind).await.map_err(|source| SandboxError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { addr: config.bind, source })?;
        let shared = Arc::new(Shared {
            network: Network::default(),
            noise: ServerIdentity::generate(),
            media: crate::media::MediaStore::new(addr),
            contacts: crate::contacts::Contacts::new(addr),
            shutdown: CancellationToken::new(),
        });
        let router = Router::new()
            .route("/ws/chat", get(websocket))
            .nest("/sandbox", admin::routes())
            .merge(crate::media::routes())
            .with_state(shared.clone());
        let stop = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(error) = serve.await {
                tracing::error!(%error, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(SandboxHandle { addr, shared, task: Some(task) })
    }
}

async fn websocket(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| conn::serve(socket, shared))
}

/// A running sandbox. Tests and the admin routes drive it through these methods.
pub struct SandboxHandle {
    addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl SandboxHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL whatsapp-rust clients dial instead of `wss://web.whatsapp.com/ws/chat`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The base of the admin API (`{http_url}/sandbox/...`) and of the media host (`/mms/...`, `/v/...`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The picture an admin set on a group (`…@g.us`, or its number), a JPEG.
    pub fn group_picture(&self, group: &str) -> Option<Vec<u8>> {
        self.shared.network.group_picture(group.split('@').next().unwrap_or_default())
    }

    /// Creates an account for a phone number in E.164 form, e.g. `+15550001`.
    pub fn create_account(&self, phone: &str, name: &str) -> Result<AccountInfo, SandboxError> {
        self.shared.network.create_account(PhoneNumber::parse(phone)?, name.to_owned())
    }

    pub fn accounts(&self) -> Vec<AccountInfo> {
        self.shared.network.accounts()
    }

    pub fn account(&self, phone: &str) -> Result<AccountInfo, SandboxError> {
        self.shared.network.account(&PhoneNumber::parse(phone)?)
    }

    /// The account's phone scans a companion's QR code (as a client shows it in
    /// `Event::PairingQrCode`). Returns the new device once the companion confirmed.
    pub async fn scan_qr(&self, phone: &str, qr: &str) -> Result<DeviceInfo, SandboxError> {
        self.shared.network.scan_qr(&PhoneNumber::parse(phone)?, qr).await
    }

    /// The user types the pairing code a companion shows (`Event::PairingCode`) on the
    /// phone of `phone`. Returns the new device once the companion confirmed.
    pub async fn enter_pair_code(&self, phone: &str, code: &str) -> Result<DeviceInfo, SandboxError> {
        self.shared.network.enter_pair_code(&PhoneNumber::parse(phone)?, code).await
    }

    /// Breaks a companion device's connection the way WhatsApp does; see [`Fault`].
    /// `device` is its JID, e.g. `15550001:1@s.whatsapp.net`.
    pub async fn inject_fault(&self, device: &str, fault: Fault) -> Result<(), SandboxError> {
        self.shared.network.inject_fault(&parse_device(device)?, fault).await
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(mut self) {
        // Contacts first: their clients would otherwise keep reconnecting.
        self.shared.contacts.shutdown().await;
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        // A handle dropped without `shutdown` (a failing test) must not leave clients
        // connected to a sandbox nobody can reach any more.
        self.shared.shutdown.cancel();
    }
}

/// A companion device's phone-number JID, e.g. `15550001:1@s.whatsapp.net`.
pub(crate) fn parse_device(text: &str) -> Result<Jid, SandboxError> {
    let jid: Jid = text.parse().map_err(|_| SandboxError::InvalidDevice(text.to_owned()))?;
    if !jid.is_pn() || jid.device == 0 {
        return Err(SandboxError::InvalidDevice(text.to_owned()));
    }
    Ok(jid)
}
