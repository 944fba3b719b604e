//! A scriptable engine for tests of wagate's own logic: sessions link when a test
//! "scans" them, sends are recorded, contacts write in, and faults come on demand. It
//! speaks no WhatsApp; end-to-end behaviour is tested against the sandbox instead.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use wagate_types::{ChatId, FailureCode, PhoneNumber, ReceiptKind, SessionId, WaMessageId};

use crate::{
    Content, Context, Engine, EngineError, EngineEvent, EventSink, Inbox, IncomingMessage, Media, NumberCheck,
    OutgoingMessage, Receipt, SendAck, SendError, Session, SessionSpec, Typing,
};

/// One message the fake handed to "WhatsApp".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeSend {
    pub session: String,
    pub wa_id: String,
    pub to: String,
    /// `text`, `image`, … as [`Content::kind`] names it.
    #[serde(default)]
    pub kind: String,
    /// The text, or the caption or edited text; empty for kinds without one.
    pub text: String,
    /// The whole message as the engine got it (not kept in a recording file).
    #[serde(skip)]
    pub message: Option<OutgoingMessage>,
    /// The id was delivered before: like WhatsApp, the fake acknowledges it again but
    /// the recipient does not get a second message.
    #[serde(default)]
    pub repeat: bool,
}

#[derive(Default)]
struct FakeSession {
    id: Option<SessionId>,
    linked_as: Option<PhoneNumber>,
    connected: bool,
    sink: Option<EventSink>,
    inbox: Option<Arc<dyn Inbox>>,
    failures_left: u32,
    fail_permanently: bool,
    qr_count: u32,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, FakeSession>,
    sent: Vec<FakeSend>,
    acknowledged: Vec<WaMessageId>,
    delivered: HashSet<String>,
    record: Option<File>,
    /// Bytes a test made downloadable, by media `source`.
    media: HashMap<String, Bytes>,
    /// Numbers the fake says have a WhatsApp account.
    on_whatsapp: HashSet<PhoneNumber>,
    /// Typing shown, in order: session, chat, state.
    typing: Vec<(String, ChatId, Typing)>,
    /// Read receipts sent: session, chat, message.
    read: Vec<(String, ChatId, WaMessageId)>,
    /// Numbers the sessions asked about.
    number_checks: usize,
    auto_link: bool,
    send_delay: Duration,
    /// How long starting a session takes before its first event.
    start_delay: Duration,
    /// Where acknowledgements read the time; the system's clock when unset.
    clock: Option<Arc<dyn Fn() -> OffsetDateTime + Send + Sync>>,
}

/// See the module docs. Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct FakeEngine {
    state: Arc<Mutex<State>>,
}

impl FakeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Acknowledges sends at the time `now` tells, as a test's clock would.
    pub fn with_clock(self, now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        self.lock().clock = Some(Arc::new(now));
        self
    }

    /// Every session starts linked (as if it had stored credentials) and connects at once.
    pub fn auto_linked(self) -> Self {
        self.lock().auto_link = true;
        self
    }

    /// Also appends every send to `path` as a JSON line, synced to disk before the
    /// send returns, so a test can count sends across crashes of the process.
    pub fn recording_to(self, path: &Path) -> std::io::Result<Self> {
        let earlier = Self::read_recording(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        {
            let mut state = self.lock();
            state.delivered.extend(earlier.into_iter().map(|s| s.wa_id));
            state.record = Some(file);
        }
        Ok(self)
    }

    /// Reads what [`FakeEngine::recording_to`] wrote.
    pub fn read_recording(path: &Path) -> std::io::Result<Vec<FakeSend>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // A crash can cut the last line short; it was never acknowledged.
        Ok(text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect())
    }

    /// Every send attempt that reached the fake server, in order.
    pub fn sent(&self) -> Vec<FakeSend> {
        self.lock().sent.clone()
    }

    /// Makes starting each session take this long (a slow connection to WhatsApp).
    pub fn set_start_delay(&self, delay: Duration) {
        self.lock().start_delay = delay;
    }

    /// Makes each send take this long (to have a send in flight).
    pub fn set_send_delay(&self, delay: Duration) {
        self.lock().send_delay = delay;
    }

    /// The phone scans the session's QR code: the session links and connects.
    pub async fn scan(&self, session: &str, phone: &PhoneNumber) {
        let sink = {
            let mut state = self.lock();
            let s = state.sessions.entry(session.to_owned()).or_default();
            s.linked_as = Some(phone.clone());
            s.connected = s.sink.is_some();
            s.sink.clone()
        };
        emit(sink, connected_event(phone)).await;
    }

    /// The connection drops; the engine says it will retry.
    pub async fn drop_connection(&self, session: &str) {
        let sink = self.with_session(session, |s| {
            s.connected = false;
            s.sink.clone()
        });
        emit(sink.flatten(), EngineEvent::Disconnected { reason: "connection lost".into(), retrying: true }).await;
    }

    /// The connection comes back.
    pub async fn restore_connection(&self, session: &str) {
        let found = self.with_session(session, |s| {
            s.connected = s.linked_as.is_some() && s.sink.is_some();
            s.linked_as.clone().zip(s.sink.clone())
        });
        if let Some((phone, sink)) = found.flatten() {
            emit(Some(sink), connected_event(&phone)).await;
        }
    }

    /// The phone removes this linked device.
    pub async fn unlink(&self, session: &str) {
        let sink = self.with_session(session, |s| {
            s.linked_as = None;
            s.connected = false;
            s.sink.clone()
        });
        emit(sink.flatten(), EngineEvent::LoggedOut { reason: "the phone removed this device".into() }).await;
    }

    /// The next `count` sends of the session fail with a temporary error.
    pub fn fail_sends(&self, session: &str, count: u32) {
        self.lock().sessions.entry(session.to_owned()).or_default().failures_left = count;
    }

    /// Every send of the session fails with a permanent error while `on`.
    pub fn fail_sends_permanently(&self, session: &str, on: bool) {
        self.lock().sessions.entry(session.to_owned()).or_default().fail_permanently = on;
    }

    /// The recipient's phone sends a receipt, committed through the session's inbox as
    /// a real engine does; nothing happens while the session does not run.
    pub async fn receipt(&self, session: &str, wa_id: &str, kind: ReceiptKind) {
        let Some(inbox) = self.with_session(session, |s| s.inbox.clone()).flatten() else { return };
        let receipt =
            Receipt { wa_ids: vec![WaMessageId::from_stored(wa_id.to_owned())], kind, at: OffsetDateTime::now_utc() };
        if let Err(e) = inbox.receipt(&receipt).await {
            tracing::debug!(error = %e, "the fake receipt was not committed");
        }
    }

    /// WhatsApp tells the session something else (a group change, say).
    pub async fn event(&self, session: &str, event: EngineEvent) {
        let sink = self.with_session(session, |s| s.sink.clone()).flatten();
        emit(sink, event).await;
    }

    /// A contact sends the session a text. Returns the message as delivered, so a test
    /// can [`redeliver`](Self::redeliver) it.
    pub async fn incoming_text(
        &self,
        session: &str,
        from: &PhoneNumber,
        text: &str,
    ) -> Result<IncomingMessage, EngineError> {
        let chat = ChatId::from_phone(from);
        let message = IncomingMessage {
            wa_id: WaMessageId::generate(),
            sender: chat.clone(),
            chat,
            push_name: Some(format!("Contact {}", from.digits())),
            at: OffsetDateTime::now_utc(),
            content: Content::Text { body: text.to_owned() },
            context: Context::default(),
        };
        self.incoming(session, std::slice::from_ref(&message)).await?;
        Ok(message)
    }

    /// Typing the sessions showed, in order: session, chat, state.
    pub fn typing_shown(&self) -> Vec<(String, ChatId, Typing)> {
        self.lock().typing.clone()
    }

    /// How many numbers the sessions asked WhatsApp about.
    pub fn number_checks(&self) -> usize {
        self.lock().number_checks
    }

    /// Read receipts the sessions sent, in order: session, chat, WhatsApp id.
    pub fn read_receipts(&self) -> Vec<(String, ChatId, WaMessageId)> {
        self.lock().read.clone()
    }

    /// From now on the fake says these numbers have a WhatsApp account.
    pub fn register_numbers(&self, phones: &[PhoneNumber]) {
        self.lock().on_whatsapp.extend(phones.iter().cloned());
    }

    /// Received media as the fake reports it: `source` names bytes that
    /// [`Session::download`] will return.
    pub fn media(&self, mimetype: &str, data: Bytes) -> Media {
        let key = format!("fake-{}", WaMessageId::generate());
        let mut media = Media::from_bytes(mimetype, data.clone());
        media.data = Bytes::new();
        media.source = Some(serde_json::json!({ "fake": key }));
        self.lock().media.insert(key, data);
        media
    }

    /// WhatsApp delivers the same message again, as it does when the previous delivery
    /// was never acknowledged (a crash between receiving and acknowledging).
    pub async fn redeliver(&self, session: &str, message: &IncomingMessage) -> Result<(), EngineError> {
        self.incoming(session, std::slice::from_ref(message)).await
    }

    /// WhatsApp delivers `messages` to the session in one go (as after being offline),
    /// the way a real engine takes them: commit through the session's inbox, then
    /// acknowledge, then report each as [`EngineEvent::Incoming`]. A failed commit
    /// acknowledges and reports nothing; WhatsApp would deliver again later.
    pub async fn incoming(&self, session: &str, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        let (inbox, sink) = self
            .with_session(session, |s| if s.connected { s.inbox.clone().zip(s.sink.clone()) } else { None })
            .flatten()
            .ok_or(EngineError::NotConnected)?;
        inbox.commit(messages).await?;
        self.lock().acknowledged.extend(messages.iter().map(|m| m.wa_id.clone()));
        for message in messages {
            emit(Some(sink.clone()), EngineEvent::Incoming(Box::new(message.clone()))).await;
        }
        Ok(())
    }

    /// The ids of received messages the fake acknowledged to WhatsApp, in order; a
    /// redelivered message appears once per acknowledgement.
    pub fn acknowledged(&self) -> Vec<WaMessageId> {
        self.lock().acknowledged.clone()
    }

    /// Whether the session runs and is connected, as the fake sees it.
    pub fn is_connected(&self, session: &str) -> bool {
        self.with_session(session, |s| s.connected).unwrap_or(false)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock already failed.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_session<T>(&self, session: &str, f: impl FnOnce(&mut FakeSession) -> T) -> Option<T> {
        self.lock().sessions.get_mut(session).map(f)
    }
}

fn connected_event(phone: &PhoneNumber) -> EngineEvent {
    EngineEvent::Connected { phone: phone.clone(), push_name: Some("Fake Phone".into()) }
}

async fn emit(sink: Option<EventSink>, event: EngineEvent) {
    if let Some(sink) = sink {
        // A closed channel means the session was stopped meanwhile.
        let _ = sink.send(event).await;
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn start(
        &self,
        spec: SessionSpec,
        events: EventSink,
        inbox: Arc<dyn Inbox>,
    ) -> Result<Arc<dyn Session>, EngineError> {
        let name = spec.name.as_str().to_owned();
        let delay = self.lock().start_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let first = {
            let mut state = self.lock();
            let auto_link = state.auto_link;
            let s = state.sessions.entry(name.clone()).or_default();
            s.id = Some(spec.id);
            s.sink = Some(events.clone());
            s.inbox = Some(inbox);
            if s.linked_as.is_none() && auto_link {
                s.linked_as = Some(PhoneNumber::from_stored("+15550000000".into()));
            }
            s.connected = s.linked_as.is_some();
            match &s.linked_as {
                Some(phone) => connected_event(phone),
                None => {
                    s.qr_count += 1;
                    EngineEvent::Qr {
                        code: format!("2@fake-{name}-{},noise,identity,adv", s.qr_count),
                        expires_at: OffsetDateTime::now_utc() + Duration::from_secs(60),
                    }
                }
            }
        };
        emit(Some(events), first).await;
        Ok(Arc::new(FakeSessionHandle { engine: self.clone(), name }))
    }

    async fn forget(&self, session: SessionId) -> Result<(), EngineError> {
        self.lock().sessions.retain(|_, s| s.id != Some(session));
        Ok(())
    }
}

struct FakeSessionHandle {
    engine: FakeEngine,
    name: String,
}

#[async_trait]
impl Session for FakeSessionHandle {
    async fn send(&self, message: &OutgoingMessage) -> Result<SendAck, SendError> {
        let delay = {
            let mut state = self.engine.lock();
            let s = state.sessions.entry(self.name.clone()).or_default();
            if !s.connected {
                return Err(SendError::NotConnected);
            }
            if s.fail_permanently {
                return Err(SendError::permanent(FailureCode::Refused, "the fake refuses this message"));
            }
            if s.failures_left > 0 {
                s.failures_left -= 1;
                return Err(SendError::temporary(FailureCode::Timeout, "the fake timed out"));
            }
            state.send_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let text = match &message.content {
            Content::Text { body } | Content::Edit { body, .. } => Some(body),
            Content::Image { caption, .. } | Content::Video { caption, .. } | Content::Document { caption, .. } => {
                caption.as_ref()
            }
            _ => None,
        };
        let mut state = self.engine.lock();
        let repeat = !state.delivered.insert(message.wa_id.to_string());
        let record = FakeSend {
            session: self.name.clone(),
            wa_id: message.wa_id.to_string(),
            to: message.to.to_string(),
            kind: message.content.kind().to_owned(),
            text: text.cloned().unwrap_or_default(),
            message: Some(message.clone()),
            repeat,
        };
        if let Some(file) = state.record.as_mut() {
            let line = serde_json::to_string(&record)
                .map_err(|e| SendError::temporary(FailureCode::Network, e.to_string()))?;
            writeln!(file, "{line}")
                .and_then(|()| file.sync_data())
                .map_err(|e| SendError::temporary(FailureCode::Network, format!("fake recording failed: {e}")))?;
        }
        state.sent.push(record);
        let at = state.clock.as_ref().map_or_else(OffsetDateTime::now_utc, |now| now());
        Ok(SendAck { at })
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        let mut state = self.engine.lock();
        if !state.sessions.get(&self.name).is_some_and(|s| s.connected) {
            return Err(EngineError::NotConnected);
        }
        state.number_checks += phones.len();
        Ok(phones
            .iter()
            .map(|phone| {
                let on_whatsapp = state.on_whatsapp.contains(phone);
                NumberCheck { phone: phone.clone(), on_whatsapp, chat: on_whatsapp.then(|| ChatId::from_phone(phone)) }
            })
            .collect())
    }

    async fn typing(&self, chat: &ChatId, state: Typing) -> Result<(), EngineError> {
        let mut engine = self.engine.lock();
        if !engine.sessions.get(&self.name).is_some_and(|s| s.connected) {
            return Err(EngineError::NotConnected);
        }
        engine.typing.push((self.name.clone(), chat.clone(), state));
        Ok(())
    }

    async fn mark_read(&self, chat: &ChatId, messages: &[(ChatId, WaMessageId)]) -> Result<(), EngineError> {
        let mut engine = self.engine.lock();
        if !engine.sessions.get(&self.name).is_some_and(|s| s.connected) {
            return Err(EngineError::NotConnected);
        }
        engine.read.extend(messages.iter().map(|(_, id)| (self.name.clone(), chat.clone(), id.clone())));
        Ok(())
    }

    async fn download(&self, media: &Media) -> Result<Bytes, EngineError> {
        let key = fake_media_key(media)?;
        let state = self.engine.lock();
        if !state.sessions.get(&self.name).is_some_and(|s| s.connected) {
            return Err(EngineError::NotConnected);
        }
        state.media.get(&key).cloned().ok_or_else(|| EngineError::Failed(format!("no media '{key}' to download")))
    }

    async fn pair_code(&self, _phone: &PhoneNumber) -> Result<String, EngineError> {
        Ok("FAKE1234".into())
    }

    async fn logout(&self) -> Result<(), EngineError> {
        self.engine.with_session(&self.name, |s| {
            s.linked_as = None;
            s.connected = false;
        });
        Ok(())
    }

    async fn stop(&self) {
        self.engine.with_session(&self.name, |s| {
            s.connected = false;
            s.sink = None;
            s.inbox = None;
        });
    }
}

/// The key [`FakeEngine::media`] put in a media `source`.
fn fake_media_key(media: &Media) -> Result<String, EngineError> {
    media
        .source
        .as_ref()
        .and_then(|source| source.get("fake"))
        .and_then(|key| key.as_str())
        .map(str::to_owned)
        .ok_or_else(|| EngineError::Failed("this media did not come from the fake engine".into()))
}

#[cfg(test)]
mod tests;
