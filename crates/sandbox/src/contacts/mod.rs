//! Simulated contacts: sandbox accounts whose only companion device is a real
//! whatsapp-rust client running inside the sandbox process, paired through the
//! account's own simulated phone. They give a client under test someone to talk to:
//! they decrypt what they get, send receipts and texts, go offline and come back.

mod admin;
mod calls;
mod client;
mod interactions;
mod media;
mod outgoing;
mod received;
mod send;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wacore::store::InMemoryBackend;
use wacore_binary::Jid;
use whatsapp_rust::bot::BotHandle;

pub(crate) use self::admin::routes;
use self::client::Behaviour;
pub use self::client::{AutoReceipts, Reply};
pub use self::outgoing::{Content, Media, MediaKind, Outgoing};
pub use self::received::{QuotedMessage, ReceivedMessage};
use crate::error::SandboxError;
use crate::phone_number::PhoneNumber;
use crate::server::{SandboxHandle, Shared};

/// Waiting for the unpaired client's first QR code.
const QR_TIMEOUT: Duration = Duration::from_secs(20);
/// Waiting for `Connected`. A fresh pairing costs the client a 10 s wait for
/// app-state keys that the simulated phone never sends.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(45);

/// What `POST /sandbox/contacts` takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    /// E.164, e.g. `+15550002`.
    pub phone: String,
    pub name: String,
    #[serde(default)]
    pub auto_receipts: AutoReceipts,
    /// Whether its client stays connected after pairing (default true).
    #[serde(default = "yes")]
    pub online: bool,
    #[serde(default)]
    pub replies: Vec<Reply>,
}

fn yes() -> bool {
    true
}

impl NewContact {
    /// Online, delivery receipts only, no scripted replies.
    pub fn new(phone: &str, name: &str) -> Self {
        Self {
            phone: phone.to_owned(),
            name: name.to_owned(),
            auto_receipts: AutoReceipts::default(),
            online: true,
            replies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactInfo {
    pub phone: PhoneNumber,
    pub name: String,
    /// Its client's device JID, e.g. `15550002:1@s.whatsapp.net`.
    pub device: String,
    pub online: bool,
    pub auto_receipts: AutoReceipts,
    pub replies: Vec<Reply>,
}

struct Contact {
    name: String,
    device: String,
    behaviour: Arc<Behaviour>,
    /// Its credentials and Signal state; they outlive its client across offline spells.
    backend: Arc<InMemoryBackend>,
    /// The running client; `None` while offline. A tokio mutex: toggles await the client.
    bot: tokio::sync::Mutex<Option<BotHandle>>,
}

/// Every simulated contact of one sandbox.
pub(crate) struct Contacts {
    ws_url: String,
    http_url: String,
    contacts: Mutex<BTreeMap<PhoneNumber, Arc<Contact>>>,
}

impl Contacts {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self { ws_url: format!("ws://{addr}/ws/chat"), http_url: format!("http://{addr}"), contacts: Mutex::default() }
    }

    fn get(&self, phone: &PhoneNumber) -> Result<Arc<Contact>, SandboxError> {
        let contacts = self.contacts.lock().unwrap_or_else(|p| p.into_inner());
        contacts.get(phone).cloned().ok_or_else(|| SandboxError::ContactNotFound(phone.clone()))
    }

    /// Stops every contact's client (at sandbox shutdown).
    pub(crate) async fn shutdown(&self) {
        let all: Vec<_> = self.contacts.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for contact in all {
            if let Some(bot) = contact.bot.lock().await.take() {
                bot.shutdown().await;
            }
        }
    }
}

impl Contact {
    async fn info(&self, phone: &PhoneNumber) -> ContactInfo {
        ContactInfo {
            phone: phone.clone(),
            name: self.name.clone(),
            device: self.device.clone(),
            online: self.bot.lock().await.is_some(),
            auto_receipts: self.behaviour.auto_receipts.clone(),
            replies: self.behaviour.replies.clone(),
        }
    }

    async fn client(&self, phone: &PhoneNumber) -> Result<Arc<whatsapp_rust::Client>, SandboxError> {
        let bot = self.bot.lock().await;
        bot.as_ref().map(BotHandle::client).ok_or_else(|| SandboxError::ContactOffline(phone.clone()))
    }
}

/// Creates the account, starts its client, lets the phone scan its QR code and waits
/// until the client is connected.
pub(crate) async fn create(shared: &Shared, new: NewContact) -> Result<ContactInfo, SandboxError> {
    let phone = PhoneNumber::parse(&new.phone)?;
    if new.auto_receipts.delivered_ms != 0 {
        // The client sends delivery receipts itself, at once; a delay is not ours to add.
        return Err(SandboxError::InvalidContact("auto_receipts.delivered_ms must be 0".into()));
    }
    shared.network.create_account(phone.clone(), new.name.clone())?;
    let behaviour = Arc::new(Behaviour {
        auto_receipts: new.auto_receipts,
        replies: new.replies,
        inbox: Mutex::default(),
        downloads: Default::default(),
        polls: Default::default(),
        created_polls: Default::default(),
        kept: Default::default(),
        receipts: Mutex::default(),
        qr: watch::Sender::new(None),
        connected: watch::Sender::new(false),
    });
    let backend = Arc::new(InMemoryBackend::new());
    let contacts = &shared.contacts;
    let bot = client::start(&behaviour, backend.clone(), &contacts.ws_url, &contacts.http_url).await?;
    let mut qr = behaviour.qr.subscribe();
    let paired = async {
        let code = tokio::time::timeout(QR_TIMEOUT, qr.wait_for(Option::is_some))
            .await
            .map_err(|_| SandboxError::PairingTimeout)?
            .map_err(|_| SandboxError::CompanionGone)?
            .clone()
            .unwrap_or_default();
        let device = shared.network.scan_qr(&phone, &code).await?;
        wait_connected(&behaviour).await?;
        Ok::<_, SandboxError>(device)
    };
    let device = match paired.await {
        Ok(device) => device,
        Err(error) => {
            bot.shutdown().await;
            return Err(error);
        }
    };
    let contact = Arc::new(Contact {
        name: new.name,
        device: device.jid,
        behaviour,
        backend,
        bot: tokio::sync::Mutex::new(Some(bot)),
    });
    contacts.contacts.lock().unwrap_or_else(|p| p.into_inner()).insert(phone.clone(), contact.clone());
    tracing::info!(%phone, device = %contact.device, "simulated contact ready");
    if !new.online {
        set_online(shared, &phone, false).await?;
    }
    Ok(contact.info(&phone).await)
}

async fn wait_connected(behaviour: &Behaviour) -> Result<(), SandboxError> {
    let mut connected = behaviour.connected.subscribe();
    tokio::time::timeout(CONNECT_TIMEOUT, connected.wait_for(|c| *c))
        .await
        .map_err(|_| SandboxError::ContactTimeout)?
        .map_err(|_| SandboxError::ContactTimeout)?;
    Ok(())
}

pub(crate) async fn list(shared: &Shared) -> Vec<ContactInfo> {
    let all: Vec<_> = shared.contacts.contacts.lock().unwrap_or_else(|p| p.into_inner()).clone().into_iter().collect();
    let mut infos = Vec::with_capacity(all.len());
    for (phone, contact) in all {
        infos.push(contact.info(&phone).await);
    }
    infos
}

/// Disconnects the contact's client, or reconnects it with its stored credentials.
/// Returns once the client is connected, or once the sandbox saw it leave.
pub(crate) async fn set_online(
    shared: &Shared,
    phone: &PhoneNumber,
    online: bool,
) -> Result<ContactInfo, SandboxError> {
    let contact = shared.contacts.get(phone)?;
    let mut bot = contact.bot.lock().await;
    match (online, bot.take()) {
        (false, Some(running)) => {
            running.shutdown().await;
            contact.behaviour.connected.send_replace(false);
            let device: Jid =
                contact.device.parse().map_err(|_| SandboxError::InvalidDevice(contact.device.clone()))?;
            // The sandbox notices the closed socket a moment later; wait, so that what
            // is sent to the contact from now on is queued for its next login.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while shared.network.is_online(&device) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        (true, None) => {
            contact.behaviour.connected.send_replace(false);
            let contacts = &shared.contacts;
            let started =
                client::start(&contact.behaviour, contact.backend.clone(), &contacts.ws_url, &contacts.http_url)
                    .await?;
            if let Err(error) = wait_connected(&contact.behaviour).await {
                started.shutdown().await;
                return Err(error);
            }
            *bot = Some(started);
        }
        (_, running) => *bot = running,
    }
    drop(bot);
    Ok(contact.info(phone).await)
}

/// The contact sends `text` to `to`; returns the WhatsApp message id.
pub(crate) async fn send_text(
    shared: &Shared,
    phone: &PhoneNumber,
    to: &str,
    text: &str,
) -> Result<String, SandboxError> {
    let client = shared.contacts.get(phone)?.client(phone).await?;
    let to = parse_chat(to)?;
    let sent = client.send_text(to, text).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))?;
    Ok(sent.message_id)
}

/// What the contact received so far, oldest first.
pub(crate) fn received(shared: &Shared, phone: &PhoneNumber) -> Result<Vec<ReceivedMessage>, SandboxError> {
    let contact = shared.contacts.get(phone)?;
    let inbox = contact.behaviour.inbox.lock().unwrap_or_else(|p| p.into_inner());
    Ok(inbox.clone())
}

/// The receipts the contact got for messages it sent: id and type, oldest first.
pub(crate) fn receipts(shared: &Shared, phone: &PhoneNumber) -> Result<Vec<(String, String)>, SandboxError> {
    let contact = shared.contacts.get(phone)?;
    Ok(contact.behaviour.receipts.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

/// The contact marks messages of `chat` read now.
pub(crate) async fn read(shared: &Shared, phone: &PhoneNumber, chat: &str, ids: &[String]) -> Result<(), SandboxError> {
    let client = shared.contacts.get(phone)?.client(phone).await?;
    let chat = parse_chat(chat)?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    client.mark_as_read(&chat, None, &ids).await.map_err(|e| SandboxError::ContactFailed(e.to_string()))
}

/// A chat named by phone number (`+15550001`) or JID (`15550001@s.whatsapp.net`).
fn parse_chat(chat: &str) -> Result<Jid, SandboxError> {
    if chat.starts_with('+') {
        return Ok(Jid::pn(PhoneNumber::parse(chat)?.digits()));
    }
    chat.parse::<Jid>().map(|j| j.to_non_ad()).map_err(|_| SandboxError::InvalidChat(chat.to_owned()))
}

/// The same operations for Rust callers (tests).
impl SandboxHandle {
    /// Creates a simulated contact and returns once its client is connected (or, with
    /// `online: false`, paired and disconnected again).
    pub async fn create_contact(&self, new: NewContact) -> Result<ContactInfo, SandboxError> {
        create(&self.shared, new).await
    }

    pub async fn contacts(&self) -> Vec<ContactInfo> {
        list(&self.shared).await
    }

    pub async fn set_contact_online(&self, phone: &str, online: bool) -> Result<ContactInfo, SandboxError> {
        set_online(&self.shared, &PhoneNumber::parse(phone)?, online).await
    }

    /// The contact sends a text to `to` (a number like `+15550001` or a JID).
    pub async fn contact_send_text(&self, phone: &str, to: &str, text: &str) -> Result<String, SandboxError> {
        send_text(&self.shared, &PhoneNumber::parse(phone)?, to, text).await
    }

    pub fn contact_messages(&self, phone: &str) -> Result<Vec<ReceivedMessage>, SandboxError> {
        received(&self.shared, &PhoneNumber::parse(phone)?)
    }

    /// How many stanzas wait in a device's queue for its acknowledgement.
    pub fn pending_stanzas(&self, device: &str) -> Result<usize, SandboxError> {
        Ok(self.shared.network.pending(&crate::server::parse_device(device)?))
    }

    /// The receipts a contact got for messages it sent: id and type (`delivered`,
    /// `read`, …), oldest first.
    pub fn contact_receipts(&self, phone: &str) -> Result<Vec<(String, String)>, SandboxError> {
        receipts(&self.shared, &PhoneNumber::parse(phone)?)
    }

    pub async fn contact_read(&self, phone: &str, chat: &str, ids: &[String]) -> Result<(), SandboxError> {
        read(&self.shared, &PhoneNumber::parse(phone)?, chat, ids).await
    }
}
