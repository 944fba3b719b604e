//! The real whatsapp-rust client behind a simulated contact, and what it does on its
//! own: record what it receives, read it after a while, answer scripted replies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use wacore::store::InMemoryBackend;
use wacore_binary::Jid;
use whatsapp_rust::Client;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::Event;

use super::ReceivedMessage;
use super::send::KeptMessage;
use crate::error::SandboxError;
use crate::http_client::SandboxHttpClient;

/// What a contact does by itself when a message arrives. Its client always sends the
/// delivery receipt at once (that is the client's own behaviour).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoReceipts {
    /// Must be 0: the client sends delivery receipts itself as soon as it has
    /// decrypted a message (anything else is refused with 422).
    #[serde(default)]
    pub delivered_ms: u64,
    /// Marks each message read this many milliseconds after it arrived; `null`: never.
    #[serde(default)]
    pub read_ms: Option<u64>,
}

/// A scripted answer: a received text containing `when_text_contains` gets `reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub when_text_contains: String,
    pub reply: String,
}

/// State the client's event handler shares with the contact.
pub(super) struct Behaviour {
    pub(super) auto_receipts: AutoReceipts,
    pub(super) replies: Vec<Reply>,
    pub(super) inbox: Mutex<Vec<ReceivedMessage>>,
    /// The decrypted media of received messages.
    pub(super) downloads: super::media::Downloads,
    /// Received polls, with the secrets to vote in them.
    pub(super) polls: super::interactions::Polls,
    /// Polls the contact created, with the secrets to read the votes on them.
    pub(super) created_polls: super::interactions::CreatedPolls,
    /// What it received and sent, for quoting, editing and revoking.
    pub(super) kept: super::send::Kept,
    /// Receipts the contact got for what it sent: message id and type
    /// (`delivery`, `read`, `played`…), in arrival order.
    pub(super) receipts: Mutex<Vec<(String, String)>>,
    /// The QR code the unpaired client shows, for the phone to scan.
    pub(super) qr: watch::Sender<Option<String>>,
    /// Whether the client reports itself connected.
    pub(super) connected: watch::Sender<bool>,
}

impl Behaviour {
    async fn on_event(self: Arc<Self>, event: Arc<Event>, client: Arc<Client>) {
        match &*event {
            Event::PairingQrCode(qr) => {
                self.qr.send_replace(Some(qr.code.clone()));
            }
            Event::Connected(_) => {
                // A freshly paired client announces itself only once app-state sync
                // gives it a push name, which the simulated phone never sends. A
                // contact is a person with the app open: available, and its delivery
                // receipts are plain rather than `inactive`.
                if let Err(error) = client.presence().set_available().await {
                    tracing::warn!(?error, "contact could not announce itself available");
                }
                self.connected.send_replace(true);
            }
            Event::Disconnected(_) | Event::LoggedOut(_) | Event::StreamReplaced(_) => {
                self.connected.send_replace(false);
            }
            Event::Receipt(receipt) => {
                let kind = format!("{:?}", receipt.r#type).to_lowercase();
                let mut receipts = self.receipts.lock().unwrap_or_else(|p| p.into_inner());
                receipts.extend(receipt.message_ids.iter().map(|id| (id.to_string(), kind.clone())));
            }
            Event::Messages(batch) => {
                for inbound in batch.iter().filter(|m| !m.info.source.is_from_me) {
                    let source = &inbound.info.source;
                    let sender = source.sender.to_non_ad();
                    let mut received = ReceivedMessage {
                        id: inbound.info.id.to_string(),
                        from: sender.to_string(),
                        chat: source.chat.to_string(),
                        timestamp: inbound.info.timestamp.timestamp(),
                        ..ReceivedMessage::default()
                    };
                    super::received::decode(&mut received, &inbound.message);
                    if received.kind == "poll_vote" {
                        received.votes =
                            super::interactions::read_vote(&client, &self.created_polls, &inbound.message, &sender)
                                .await;
                    }
                    super::interactions::keep_poll(&received, &inbound.message, &self.polls);
                    let kept = KeptMessage {
                        author: sender,
                        chat: source.chat.to_non_ad(),
                        from_me: false,
                        message: (*inbound.message).clone(),
                    };
                    self.kept.insert(received.id.clone(), kept);
                    self.react(&client, &received, &source.chat);
                    let id = received.id.clone();
                    self.inbox.lock().unwrap_or_else(|p| p.into_inner()).push(received);
                    super::media::download_later(&self, &client, id, &inbound.message);
                }
            }
            _ => {}
        }
    }

    /// Auto read and scripted replies run in their own tasks: the handler must not
    /// hold up the client's event dispatch.
    fn react(&self, client: &Arc<Client>, received: &ReceivedMessage, chat: &Jid) {
        if let Some(read_ms) = self.auto_receipts.read_ms {
            let (client, chat, id) = (client.clone(), chat.clone(), received.id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(read_ms)).await;
                if let Err(error) = client.mark_as_read(&chat, None, &[id.as_str()]).await {
                    tracing::warn!(%error, "contact could not mark a message read");
                }
            });
        }
        let text = received.text.as_deref().unwrap_or_default();
        for reply in self.replies.iter().filter(|r| text.contains(&r.when_text_contains)) {
            let (client, chat, answer) = (client.clone(), chat.to_non_ad(), reply.reply.clone());
            tokio::spawn(async move {
                // Like a person: "typing…" first, then the answer.
                if let Err(error) = client.chatstate().send_composing(&chat).await {
                    tracing::warn!(?error, "contact could not show itself typing");
                }
                if let Err(error) = client.send_text(chat, answer).await {
                    tracing::warn!(%error, "contact could not send its scripted reply");
                }
            });
        }
    }
}

/// Starts the contact's client on `backend` against the sandbox itself.
pub(super) async fn start(
    behaviour: &Arc<Behaviour>,
    backend: Arc<InMemoryBackend>,
    ws_url: &str,
    http_url: &str,
) -> Result<BotHandle, SandboxError> {
    let handler = behaviour.clone();
    let bot = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(ws_url))
        .with_http_client(SandboxHttpClient::new(http_url))
        // A fixed version: the client would otherwise fetch it from web.whatsapp.com.
        .with_version((2, 3000, 0))
        .on_event(move |event, client| handler.clone().on_event(event, client))
        .build()
        .await
        .map_err(|e| SandboxError::Internal(anyhow::anyhow!("contact client does not build: {e}")))?;
    Ok(bot.spawn())
}
