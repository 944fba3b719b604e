//! One session: a whatsapp-rust client, and the supervisor that starts it again when
//! WhatsApp closed it for a reason wagate handles itself (see [`crate::policy`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wacore::pair_code::PairCodeError;
use wacore_binary::Jid;
use wagate_engine::{
    Content, EngineError, EngineEvent, EventSink, Group, GroupChange, Inbox, Media, NumberCheck, OutgoingMessage,
    ParticipantOutcome, SendAck, SendError, Session, SessionSpec, Typing,
};
use wagate_types::{ChatId, FailureCode, PhoneNumber, WaMessageId};
use waproto::whatsapp as wa;
use whatsapp_rust::Client;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::{PairCodeOptions, PairError};
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::{SendOptions, StatusSendOptions};

use crate::StoredCredentials;
use crate::acks::Acks;
use crate::engine::{Endpoint, EngineConfig};
use crate::events::{Forwarder, InboxHook};
use crate::media::{self, UploadError};
use crate::outgoing::{self, Extras};
use crate::policy::ReplacedBackoff;
use crate::votes;
use crate::{directory, failure, presence};

/// Why a client stopped for good, as its events said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Unlinked from the phone or refused as logged out: the credentials are void.
    LoggedOut(String),
    /// Another connection with the same credentials took over.
    Replaced,
    /// WhatsApp banned the number until then.
    Banned { until: OffsetDateTime, code: String },
    /// Nobody scanned any of the QR codes.
    QrExhausted,
    /// WhatsApp refused the connection for another reason.
    Failed(String),
}

/// What the session's client, its event handler and its supervisor share.
pub(crate) struct Shared {
    spec: SessionSpec,
    credentials: StoredCredentials,
    config: Arc<EngineConfig>,
    pub(crate) inbox: Arc<dyn Inbox>,
    pub(crate) acks: Arc<Acks>,
    /// Events in the order they happened, for the pump to hand on.
    events: mpsc::UnboundedSender<EngineEvent>,
    client: Mutex<Option<Arc<Client>>>,
    ending: Mutex<Option<Ending>>,
    /// Whether the current client reached WhatsApp (connected or got a QR code).
    reached: AtomicBool,
    stop: CancellationToken,
}

impl Shared {
    pub(crate) fn emit(&self, event: EngineEvent) {
        // The pump is gone only once the session stopped; nobody listens then.
        let _ = self.events.send(event);
    }

    pub(crate) fn credentials(&self) -> &StoredCredentials {
        &self.credentials
    }

    pub(crate) fn client(&self) -> Option<Arc<Client>> {
        self.client.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn ended(&self, ending: Ending) {
        let mut slot = self.ending.lock().unwrap_or_else(|p| p.into_inner());
        // The first reason wins: a ban's failure is followed by the disconnect it caused.
        slot.get_or_insert(ending);
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    pub(crate) fn reached(&self) {
        self.reached.store(true, Ordering::Relaxed);
    }

    fn set_client(&self, client: Option<Arc<Client>>) {
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = client;
    }

    fn take_ending(&self) -> Option<Ending> {
        self.ending.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

pub(crate) struct WhatsAppSession {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl WhatsAppSession {
    pub(crate) fn start(
        spec: SessionSpec,
        credentials: StoredCredentials,
        config: Arc<EngineConfig>,
        sink: EventSink,
        inbox: Arc<dyn Inbox>,
    ) -> Arc<Self> {
        let (events, queued) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            spec,
            credentials,
            config,
            inbox,
            acks: Arc::default(),
            events,
            client: Mutex::new(None),
            ending: Mutex::new(None),
            reached: AtomicBool::new(false),
            stop: CancellationToken::new(),
        });
        let pump = tokio::spawn(pump(queued, sink));
        let supervisor = tokio::spawn(supervise(shared.clone()));
        Arc::new(Self { shared, tasks: Mutex::new(vec![supervisor, pump]) })
    }

    fn connected_client(&self) -> Option<Arc<Client>> {
        self.shared.client().filter(|c| c.is_connected() && c.is_logged_in())
    }

    /// The client, for questions asked live; `NotConnected` without a connection.
    fn live(&self) -> Result<Arc<Client>, EngineError> {
        self.connected_client().ok_or(EngineError::NotConnected)
    }

    /// The WhatsApp message for `message`: its file uploaded, a poll's secret stored.
    async fn prepare(&self, client: &Client, to: &Jid, message: &OutgoingMessage) -> Result<wa::Message, SendError> {
        let me = client.pn().map(|j| j.to_non_ad()).ok_or(SendError::NotConnected)?;
        let uploaded = media::upload(client, &message.content).await.map_err(|e| match e {
            UploadError::Refused(why) => SendError::permanent(FailureCode::MediaError, why),
            UploadError::Temporary(why) => SendError::temporary(FailureCode::MediaError, why),
        })?;
        let poll_secret = match &message.content {
            Content::Poll { question, options, selectable } => {
                outgoing::check_poll(question, options, *selectable).map_err(invalid)?;
                let secret = votes::poll_secret(&self.shared.credentials, to, &me, message.wa_id.as_str());
                Some(secret.await.map_err(|e| SendError::temporary(FailureCode::Network, e))?)
            }
            _ => None,
        };
        let extras = Extras { me: &me, uploaded: uploaded.as_ref(), poll_secret, now_ms: wacore::time::now_millis() };
        outgoing::build(&message.content, &message.context, &extras).map_err(invalid)
    }
}

#[async_trait]
impl Session for WhatsAppSession {
    #[tracing::instrument(skip_all, fields(session = %self.shared.spec.name, wa_id = %message.wa_id))]
    async fn send(&self, message: &OutgoingMessage) -> Result<SendAck, SendError> {
        let client = self.connected_client().ok_or(SendError::NotConnected)?;
        let to: Jid = message
            .to
            .as_str()
            .parse()
            .map_err(|e| invalid(format!("'{}' is not a WhatsApp address: {e}", message.to)))?;
        let body = self.prepare(&client, &to, message).await?;
        let mut ack = self.shared.acks.expect(message.wa_id.as_str());
        match &message.status {
            Some(status) => {
                let (body, audience) = outgoing::status(body, status).map_err(invalid)?;
                let audience = directory::status_audience(&client, audience)
                    .await
                    .map_err(|e| SendError::temporary(FailureCode::Network, e))?;
                if audience.is_empty() {
                    return Err(SendError::permanent(
                        FailureCode::NotOnWhatsapp,
                        "no one in the status's audience is on WhatsApp",
                    ));
                }
                let options = StatusSendOptions { message_id: Some(message.wa_id.to_string()), ..Default::default() };
                client.status().send_raw(body, &audience, options).await.map_err(send_error)?;
            }
            None => {
                let options = SendOptions::default().with_message_id(message.wa_id.as_str());
                client.send_message_with_options(to, body, options).await.map_err(send_error)?;
            }
        }
        let timeout = self.shared.config.ack_timeout;
        match tokio::time::timeout(timeout, ack.outcome()).await {
            Ok(Some(Ok(at))) => Ok(SendAck { at: at.unwrap_or_else(OffsetDateTime::now_utc) }),
            Ok(Some(Err(code))) => Err(nack_error(&code)),
            Ok(None) => Err(SendError::temporary(
                FailureCode::Network,
                "the connection closed before WhatsApp acknowledged the message",
            )),
            Err(_) => Err(SendError::temporary(
                FailureCode::Timeout,
                format!("WhatsApp did not acknowledge the message within {timeout:?}"),
            )),
        }
    }

    #[tracing::instrument(skip_all, fields(session = %self.shared.spec.name))]
    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        directory::check_numbers(&*self.live()?, phones).await
    }

    async fn profile_picture(&self, chat: &ChatId) -> Result<Option<String>, EngineError> {
        directory::profile_picture(&*self.live()?, chat).await
    }

    async fn set_presence(&self, available: bool) -> Result<(), EngineError> {
        presence::set_presence(&*self.live()?, available).await
    }

    async fn subscribe_presence(&self, chat: &ChatId) -> Result<(), EngineError> {
        presence::subscribe(&*self.live()?, chat).await
    }

    async fn typing(&self, chat: &ChatId, state: Typing) -> Result<(), EngineError> {
        presence::typing(&*self.live()?, chat, state).await
    }

    async fn mark_read(&self, chat: &ChatId, messages: &[(ChatId, WaMessageId)]) -> Result<(), EngineError> {
        presence::mark_read(&*self.live()?, chat, messages).await
    }

    async fn groups(&self) -> Result<Vec<Group>, EngineError> {
        directory::groups(&*self.live()?).await
    }

    async fn group(&self, chat: &ChatId) -> Result<Group, EngineError> {
        directory::group(&*self.live()?, chat).await
    }

    async fn create_group(&self, subject: &str, participants: &[ChatId]) -> Result<Group, EngineError> {
        directory::create_group(&*self.live()?, subject, participants).await
    }

    async fn change_group(&self, chat: &ChatId, change: &GroupChange) -> Result<Vec<ParticipantOutcome>, EngineError> {
        directory::change_group(&*self.live()?, chat, change).await
    }

    async fn group_invite(&self, chat: &ChatId, reset: bool) -> Result<String, EngineError> {
        directory::group_invite(&*self.live()?, chat, reset).await
    }

    async fn join_group(&self, code: &str) -> Result<ChatId, EngineError> {
        directory::join_group(&*self.live()?, code).await
    }

    async fn leave_group(&self, chat: &ChatId) -> Result<(), EngineError> {
        directory::leave_group(&*self.live()?, chat).await
    }

    async fn download(&self, media: &Media) -> Result<Bytes, EngineError> {
        let client = self.connected_client().ok_or(EngineError::NotConnected)?;
        let bytes = media::download(&client, media).await.map_err(EngineError::Failed)?;
        Ok(Bytes::from(bytes))
    }

    async fn pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError> {
        let client = self.shared.client().filter(|c| c.is_connected()).ok_or(EngineError::NotConnected)?;
        // A new request replaces the code shown before, as the phone app does.
        client.cancel_pair_code().await;
        let options = PairCodeOptions { phone_number: phone.digits().to_owned(), ..PairCodeOptions::default() };
        client.pair_with_code(options).await.map_err(pair_code_error)
    }

    async fn logout(&self) -> Result<(), EngineError> {
        if let Some(client) = self.shared.client() {
            client.logout().await;
        }
        self.shared.credentials.forget().await.map_err(|e| EngineError::Failed(e.to_string()))?;
        Ok(())
    }

    async fn stop(&self) {
        self.shared.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let mut tasks = tasks.into_iter();
        if let Some(supervisor) = tasks.next() {
            let _ = supervisor.await;
        }
        // Nothing is reported after a stop.
        for task in tasks {
            task.abort();
        }
    }
}

/// Why there is no pairing code. WhatsApp answers `bad-request` both for a number it
/// does not know and for codes asked for too often, so the words say both.
fn pair_code_error(error: PairError) -> EngineError {
    let refused = |code: u16, text: String| EngineError::Refused { code, text };
    match error {
        PairError::PairCode(
            e @ (PairCodeError::PhoneNumberRequired
            | PairCodeError::PhoneNumberTooShort
            | PairCodeError::PhoneNumberNotInternational),
        ) => refused(400, e.to_string()),
        PairError::PairCode(e @ (PairCodeError::CodeAlreadyOutstanding { .. } | PairCodeError::Cancelled)) => {
            refused(409, format!("{e}; ask again"))
        }
        other => match failure::classify(&other) {
            EngineError::Refused { code, text } if text == "bad-request" => refused(
                code,
                "bad-request: no pairing code for this number (it has no WhatsApp account, or codes were asked for too often)".into(),
            ),
            classified => classified,
        },
    }
}

/// Hands the session's events on to wagate in order, waiting when wagate is behind.
async fn pump(mut queued: mpsc::UnboundedReceiver<EngineEvent>, sink: EventSink) {
    while let Some(event) = queued.recv().await {
        if sink.send(event).await.is_err() {
            return;
        }
    }
}

/// Runs the client; when it stopped for good, decides whether to start it again.
#[tracing::instrument(skip_all, fields(session = %shared.spec.name))]
async fn supervise(shared: Arc<Shared>) {
    let mut replaced = ReplacedBackoff::new(shared.config.replaced);
    loop {
        let mut bot = match build(&shared).await {
            Ok(bot) => bot,
            Err(reason) => {
                warn!(%reason, "the WhatsApp client could not start");
                shared.emit(EngineEvent::Stopped { reason });
                return;
            }
        };
        shared.reached.store(false, Ordering::Relaxed);
        shared.set_client(Some(bot.client()));
        let silence = tokio::time::sleep(shared.config.unreachable_after);
        tokio::pin!(silence);
        let mut silence_over = false;
        let stopped = loop {
            tokio::select! {
                () = &mut bot => break false,
                () = shared.stop.cancelled() => break true,
                () = &mut silence, if !silence_over => {
                    silence_over = true;
                    if !shared.reached.load(Ordering::Relaxed) {
                        let after = shared.config.unreachable_after.as_secs_f32();
                        let reason = format!("WhatsApp cannot be reached (nothing after {after:.0}s); still trying");
                        warn!(%reason, "unreachable");
                        shared.emit(EngineEvent::Disconnected { reason, retrying: true });
                    }
                }
            }
        };
        if stopped {
            bot.shutdown().await;
            shared.set_client(None);
            return;
        }
        shared.set_client(None);
        shared.acks.abandon_all();
        if shared.stopping() {
            return;
        }
        let wait = match shared.take_ending() {
            Some(Ending::LoggedOut(reason)) => {
                info!(%reason, "logged out");
                if let Err(e) = shared.credentials.forget().await {
                    warn!(error = %e, "could not delete the void credentials");
                }
                shared.emit(EngineEvent::LoggedOut { reason });
                return;
            }
            Some(Ending::Replaced) => {
                let wait = replaced.next_delay(tokio::time::Instant::now());
                let reason = format!(
                    "another connection with this session's credentials took over; reconnecting in {}s",
                    wait.as_secs_f32().ceil()
                );
                warn!(%reason, "replaced");
                shared.emit(EngineEvent::Disconnected { reason, retrying: true });
                wait
            }
            Some(Ending::Banned { until, code }) => {
                warn!(%until, %code, "temporarily banned");
                shared.emit(EngineEvent::Banned { until, reason: format!("temporarily banned by WhatsApp ({code})") });
                (until - OffsetDateTime::now_utc()).try_into().unwrap_or_default()
            }
            Some(Ending::QrExhausted) => {
                let reason = "no phone scanned the QR codes in time: restart the session for new ones".to_owned();
                shared.emit(EngineEvent::Stopped { reason });
                return;
            }
            Some(Ending::Failed(reason)) => {
                shared.emit(EngineEvent::Stopped { reason });
                return;
            }
            None => {
                shared.emit(EngineEvent::Stopped { reason: "the WhatsApp client stopped".into() });
                return;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.stop.cancelled() => return,
        }
    }
}

/// A client for the session on its stored credentials (none: it shows QR codes).
async fn build(shared: &Arc<Shared>) -> Result<BotHandle, String> {
    let builder = Bot::builder().with_backend(shared.credentials.clone());
    let builder = match &shared.config.endpoint {
        Endpoint::WhatsApp => builder.with_transport_factory(TokioWebSocketTransportFactory::new()),
        #[cfg(feature = "sandbox")]
        Endpoint::Sandbox { url } => {
            let ws = format!("{}/ws/chat", url.replacen("http", "ws", 1));
            builder
                .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(&ws))
                .with_http_client(wagate_sandbox::SandboxHttpClient::new(url))
        }
    };
    let builder = match shared.config.version {
        Some(version) => builder.with_version(version),
        None => builder,
    };
    let weak = Arc::downgrade(shared);
    let bot = builder
        .with_event_handler(Forwarder { shared: weak.clone() })
        .with_inbound_durability_hook(InboxHook { shared: weak })
        .build()
        .await
        .map_err(|e| format!("the WhatsApp client does not start: {e}"))?;
    Ok(bot.spawn())
}

fn send_error(error: whatsapp_rust::SendError) -> SendError {
    match error {
        whatsapp_rust::SendError::NotLoggedIn => SendError::NotConnected,
        whatsapp_rust::SendError::InvalidRequest(why) => invalid(why),
        other => SendError::temporary(FailureCode::Network, other.to_string()),
    }
}

/// A server nack: codes that mean "never" fail the message, the rest are retried.
fn nack_error(code: &str) -> SendError {
    match code {
        "404" => SendError::permanent(FailureCode::NotOnWhatsapp, "WhatsApp knows no such recipient (404)"),
        "400" | "403" | "406" | "479" => {
            SendError::permanent(FailureCode::Refused, format!("WhatsApp refused the message ({code})"))
        }
        "429" => SendError::temporary(FailureCode::RateLimited, format!("WhatsApp asked to slow down ({code})")),
        _ => SendError::temporary(FailureCode::Network, format!("WhatsApp did not take the message ({code})")),
    }
}

/// A message that cannot be built as stored.
fn invalid(why: impl Into<String>) -> SendError {
    SendError::permanent(FailureCode::Invalid, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(error: SendError) -> (bool, FailureCode) {
        match error {
            SendError::Permanent { code, .. } => (true, code),
            SendError::Temporary { code, .. } => (false, code),
            SendError::NotConnected => panic!("a nack is an answer"),
        }
    }

    #[test]
    fn server_nacks_are_classified_and_only_the_hopeless_are_permanent() {
        assert_eq!(code(nack_error("404")), (true, FailureCode::NotOnWhatsapp));
        for refused in ["400", "403", "406", "479"] {
            assert_eq!(code(nack_error(refused)), (true, FailureCode::Refused), "{refused}");
        }
        assert_eq!(code(nack_error("429")), (false, FailureCode::RateLimited));
        assert_eq!(code(nack_error("500")), (false, FailureCode::Network));
    }
}
