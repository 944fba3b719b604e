//! Running sessions. Each session that runs on this node has a [`Runtime`]: the
//! engine's handle, a task that persists the engine's events in order, and the
//! dispatcher. The database holds each session's state; the runtime holds only what
//! is ephemeral (the current QR code).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use wagate_engine::{Engine, EngineError, Session, SessionSpec};
use wagate_store::{MessageRecord, SessionRecord, SessionSettings, SessionState, Store};
use wagate_types::{FailureCode, PhoneNumber, SessionId, SessionName, SessionStatus, TenantId};

use crate::dispatch::{self, DispatchConfig};
use crate::inbox::{ReceivedWriter, SessionInbox};
use crate::media::MediaStore;
use crate::streams::QrBus;
use crate::webhooks::EventBus;
use crate::{Error, Result};

/// Events an engine may queue before it waits for wagate to keep up.
const EVENT_QUEUE: usize = 256;

/// A QR code to show, until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Qr {
    pub code: String,
    pub expires_at: OffsetDateTime,
}

/// A session's connection as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub status: SessionStatus,
    pub qr: Option<Qr>,
}

pub struct Runtime {
    pub id: SessionId,
    pub tenant: TenantId,
    pub name: SessionName,
    pub(crate) live: watch::Sender<Live>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) handle: Arc<dyn Session>,
    pub(crate) cancel: CancellationToken,
    /// Where received media is downloaded to.
    pub(crate) media: MediaSlot,
    /// What WhatsApp last said of the contacts this session follows.
    pub(crate) presence: crate::presence::Presences,
    /// The campaign feeder, told when a campaign message left the queue.
    pub(crate) campaign_wake: Arc<Notify>,
    /// Told whenever this session writes events.
    pub(crate) bus: EventBus,
    /// Where its QR codes go to the live streams.
    pub(crate) qr_bus: QrBus,
    settings: Mutex<SessionSettings>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Why the dispatcher waits although messages are due, while it does.
    hold: Mutex<Option<(FailureCode, OffsetDateTime)>>,
}

impl Runtime {
    pub(crate) fn settings(&self) -> SessionSettings {
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// What holds the dispatcher back now (quiet hours or caps), and until when.
    pub(crate) fn set_hold(&self, hold: Option<(FailureCode, OffsetDateTime)>) {
        *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = hold;
    }

    fn hold(&self) -> Option<(FailureCode, OffsetDateTime)> {
        *self.hold.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The media store, shared by the sessions once the gateway attached it.
pub(crate) type MediaSlot = Arc<std::sync::OnceLock<MediaStore>>;

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Arc<dyn Engine>,
    dispatch: DispatchConfig,
    running: Mutex<HashMap<SessionId, Arc<Runtime>>>,
    /// Where media files are; set once by the gateway right after it made the sessions.
    media: MediaSlot,
    /// Session ids by tenant and name, so sends find their session without a query.
    ids: Mutex<HashMap<(TenantId, SessionName), SessionId>>,
    /// Wakes the campaign feeder.
    campaign_wake: Arc<Notify>,
    /// Tells the webhook deliverer that events were written.
    bus: EventBus,
    /// Carries QR codes to the live streams.
    qr_bus: QrBus,
    /// Commits what the sessions receive.
    received: ReceivedWriter,
    /// Sessions whose engine session was started (or is being started) and not stopped
    /// since: a restore does not start one twice.
    launched: Mutex<std::collections::HashSet<SessionId>>,
    /// The restore of the sessions at start-up, while it runs.
    restoring: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

/// How many sessions a restore starts at once.
const RESTORE_AT_ONCE: usize = 32;

impl Sessions {
    pub fn new(store: Store, engine: Arc<dyn Engine>, dispatch: DispatchConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                received: ReceivedWriter::spawn(store.clone()),
                store,
                engine,
                dispatch,
                running: Mutex::new(HashMap::new()),
                media: MediaSlot::default(),
                ids: Mutex::new(HashMap::new()),
                campaign_wake: Arc::new(Notify::new()),
                bus: EventBus::default(),
                qr_bus: QrBus::default(),
                launched: Mutex::new(std::collections::HashSet::new()),
                restoring: Mutex::new(None),
            }),
        }
    }

    /// Gives the sessions the media store: dispatchers read files to send from it, and
    /// received media is downloaded into it. Only the first call counts.
    pub fn attach_media(&self, media: MediaStore) {
        let _ = self.inner.media.set(media);
    }

    /// The media store, once attached.
    pub fn media(&self) -> Option<&MediaStore> {
        self.inner.media.get()
    }

    /// Starts every session that is not logged out (those wait for a restart and a new
    /// QR code), in the background, so the API answers at once. Every such session is
    /// marked `starting` and its interrupted sends put back in the queue first, in one
    /// transaction; then their engine sessions start, [`RESTORE_AT_ONCE`] at a time.
    pub async fn restore(&self) -> Result<()> {
        let store = &self.inner.store;
        let sessions = store.all_sessions().await.context("list sessions to start")?;
        for record in &sessions {
            self.remember(record);
        }
        let (released, marked) =
            store.restore_sessions(OffsetDateTime::now_utc()).await.context("mark sessions starting")?;
        if released > 0 {
            info!(released, "messages from interrupted sends are queued again");
        }
        let records: Vec<SessionRecord> =
            sessions.into_iter().filter(|r| r.status != SessionStatus::LoggedOut).collect();
        debug!(sessions = records.len(), marked, "restoring sessions");
        let stop = CancellationToken::new();
        let this = self.clone();
        let cancelled = stop.clone();
        let task = tokio::spawn(async move {
            let begun = std::time::Instant::now();
            let count = records.len();
            let gate = Arc::new(tokio::sync::Semaphore::new(RESTORE_AT_ONCE));
            let mut starts = tokio::task::JoinSet::new();
            for record in records {
                let Ok(permit) = gate.clone().acquire_owned().await else { break };
                if cancelled.is_cancelled() {
                    break;
                }
                let this = this.clone();
                starts.spawn(async move {
                    if let Err(e) = this.launch(&record).await {
                        error!(session = %record.name, error = format!("{e:#}"), "the session could not start");
                    }
                    drop(permit);
                });
            }
            while starts.join_next().await.is_some() {}
            info!(sessions = count, elapsed_ms = begun.elapsed().as_millis() as u64, "sessions started");
        });
        *self.inner.restoring.lock().unwrap_or_else(|p| p.into_inner()) = Some((stop, task));
        Ok(())
    }

    /// Waits until the restore begun at start-up has started every session.
    pub async fn restored(&self) {
        let task = self.inner.restoring.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, task)) = task {
            let _ = task.await;
            drop(stop);
        }
    }

    pub async fn create(
        &self,
        tenant: &TenantId,
        name: &SessionName,
        settings: &SessionSettings,
    ) -> Result<SessionRecord> {
        let record = self.inner.store.create_session(tenant, name, settings, OffsetDateTime::now_utc()).await?;
        self.remember(&record);
        self.start(&record).await?;
        self.settled(record.id).await;
        self.get(tenant, name).await
    }

    /// Waits briefly for a just-started session to report its first state (a QR code,
    /// connected, or why it cannot run), so the answer to a create or restart shows it.
    async fn settled(&self, id: SessionId) {
        let Some(rt) = self.runtime(id) else { return };
        let mut live = rt.live.subscribe();
        let first_state = live.wait_for(|l| l.status != SessionStatus::Starting);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), first_state).await;
    }

    pub async fn get(&self, tenant: &TenantId, name: &SessionName) -> Result<SessionRecord> {
        let record = self.inner.store.session(tenant, name).await.context("load session")?;
        record.ok_or_else(|| Error::NotFound(format!("session '{name}'")))
    }

    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionRecord>> {
        Ok(self.inner.store.sessions(tenant).await.context("list sessions")?)
    }

    /// The id of a tenant's session, from memory when this node knows it.
    pub async fn id_of(&self, tenant: &TenantId, name: &SessionName) -> Result<SessionId> {
        let key = (tenant.clone(), name.clone());
        if let Some(id) = self.lock_ids().get(&key) {
            return Ok(*id);
        }
        let record = self.get(tenant, name).await?;
        self.remember(&record);
        Ok(record.id)
    }

    pub async fn update_settings(
        &self,
        tenant: &TenantId,
        name: &SessionName,
        settings: SessionSettings,
    ) -> Result<SessionRecord> {
        let record = self.get(tenant, name).await?;
        let updated = self
            .inner
            .store
            .update_session_settings(record.id, &settings, OffsetDateTime::now_utc())
            .await
            .context("save session settings")?
            .ok_or_else(|| Error::NotFound(format!("session '{name}'")))?;
        if let Some(rt) = self.runtime(record.id) {
            *rt.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
            // A dispatcher waiting on the old caps or quiet hours looks again.
            rt.wake.notify_one();
        }
        Ok(updated)
    }

    /// Stops the session, deletes its credentials, then the session and its messages.
    pub async fn delete(&self, tenant: &TenantId, name: &SessionName) -> Result<()> {
        let record = self.get(tenant, name).await?;
        self.stop(record.id).await;
        self.inner.engine.forget(record.id).await.map_err(engine_error)?;
        self.inner.store.delete_session(record.id).await.context("delete session")?;
        self.lock_ids().remove(&(tenant.clone(), name.clone()));
        Ok(())
    }

    /// Stops and starts the session again: it reconnects, or shows a new QR code.
    pub async fn restart(&self, tenant: &TenantId, name: &SessionName) -> Result<SessionRecord> {
        let record = self.get(tenant, name).await?;
        self.stop(record.id).await;
        self.start(&record).await?;
        self.settled(record.id).await;
        self.get(tenant, name).await
    }

    /// Unlinks the device from the phone and deletes the credentials. The session stays,
    /// `logged_out`, until a restart shows a new QR code.
    pub async fn logout(&self, tenant: &TenantId, name: &SessionName) -> Result<SessionRecord> {
        let record = self.get(tenant, name).await?;
        if let Some(rt) = self.runtime(record.id) {
            rt.handle.logout().await.map_err(engine_error)?;
        }
        self.stop(record.id).await;
        self.inner.engine.forget(record.id).await.map_err(engine_error)?;
        let state = SessionState {
            status: SessionStatus::LoggedOut,
            reason: Some("logged out through the API".into()),
            phone: None,
            push_name: None,
            last_seen_at: None,
        };
        self.inner
            .store
            .set_session_state(record.id, &state, OffsetDateTime::now_utc())
            .await
            .context("save session state")?;
        self.get(tenant, name).await
    }

    /// The QR code to scan now.
    pub async fn qr(&self, tenant: &TenantId, name: &SessionName) -> Result<Qr> {
        let record = self.get(tenant, name).await?;
        let live = self.runtime(record.id).map(|rt| rt.live.borrow().clone());
        match live {
            Some(Live { qr: Some(qr), status: SessionStatus::QrReady })
                if qr.expires_at > OffsetDateTime::now_utc() =>
            {
                Ok(qr)
            }
            Some(Live { status: SessionStatus::Connected, .. }) => {
                Err(Error::Conflict("the session is already linked and connected".into()))
            }
            _ if record.status == SessionStatus::LoggedOut => Err(Error::Conflict(
                "the session is logged out: POST /api/v1/sessions/{name}/restart for a new QR code"
                    .replace("{name}", name.as_str()),
            )),
            _ => Err(Error::Unavailable(format!("no QR code right now: the session is {}", record.status))),
        }
    }

    /// Asks for a code to type on the phone instead of scanning the QR code.
    pub async fn pair_code(&self, tenant: &TenantId, name: &SessionName, phone: &PhoneNumber) -> Result<String> {
        let record = self.get(tenant, name).await?;
        if record.status == SessionStatus::Connected {
            return Err(Error::Conflict("the session is already linked and connected".into()));
        }
        let rt = self
            .runtime(record.id)
            .ok_or_else(|| Error::Unavailable(format!("the session is {}: restart it first", record.status)))?;
        rt.handle.pair_code(phone).await.map_err(engine_error)
    }

    /// The runtime of a session that runs (connected or not); 503 when it does not.
    pub(crate) async fn running(&self, tenant: &TenantId, name: &SessionName) -> Result<Arc<Runtime>> {
        let record = self.get(tenant, name).await?;
        self.runtime(record.id)
            .ok_or_else(|| Error::Unavailable(format!("the session is {}: restart it first", record.status)))
    }

    /// The running engine session of a connected session, for questions asked live
    /// (numbers, groups); 503 when it is not connected.
    pub(crate) async fn connected(&self, tenant: &TenantId, name: &SessionName) -> Result<Arc<dyn Session>> {
        let record = self.get(tenant, name).await?;
        match self.runtime(record.id) {
            Some(rt) if record.status == SessionStatus::Connected => Ok(rt.handle.clone()),
            _ => Err(Error::Unavailable(format!("the session is {}: it must be connected for this", record.status))),
        }
    }

    /// A waiting message without a reason of its own says what holds its session's
    /// dispatcher back, if anything does (quiet hours, caps). Why a message waits for a
    /// session that is not connected comes with the stored record.
    pub fn explain(&self, message: &mut MessageRecord) {
        if !message.status.is_waiting() || message.error_code.is_some() {
            return;
        }
        let Some((code, until)) = self.runtime(message.session_id).and_then(|rt| rt.hold()) else { return };
        let what = match code {
            FailureCode::QuietHours => "the session's quiet hours",
            _ => "the session's caps",
        };
        message.error_code = Some(code);
        message.error = Some(format!("waiting: {what} hold sends until {}", crate::content::rfc3339(until)));
    }

    /// Tells a session's dispatcher that new messages wait.
    pub fn wake(&self, id: SessionId) {
        if let Some(rt) = self.runtime(id) {
            rt.wake.notify_one();
        }
    }

    /// Stops every session: sends in flight finish, events already reported are saved.
    /// A restore still running starts no more sessions.
    pub async fn shutdown(&self) {
        let restoring = self.inner.restoring.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, task)) = restoring {
            stop.cancel();
            let _ = task.await;
        }
        let ids: Vec<SessionId> =
            self.inner.running.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    async fn start(&self, record: &SessionRecord) -> Result<()> {
        let store = &self.inner.store;
        let now = OffsetDateTime::now_utc();
        let released = store.release_sending(record.id, now).await.context("release unfinished sends")?;
        if released > 0 {
            info!(session = %record.name, released, "messages from an interrupted send are queued again");
        }
        store.set_session_state(record.id, &starting(), now).await.context("save session state")?;
        self.launch(record).await
    }

    /// Starts the session's engine session and its tasks, once: a session already
    /// launched and not stopped since is left as it is.
    async fn launch(&self, record: &SessionRecord) -> Result<()> {
        if !self.inner.launched.lock().unwrap_or_else(|p| p.into_inner()).insert(record.id) {
            return Ok(());
        }
        let store = &self.inner.store;
        let now = OffsetDateTime::now_utc();

        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let spec = SessionSpec { id: record.id, tenant: record.tenant.clone(), name: record.name.clone() };
        // Received messages may queue replies (opt-in prompts, auto-replies): the inbox
        // wakes the dispatcher.
        let wake = Arc::new(Notify::new());
        let inbox = Arc::new(SessionInbox::new(
            self.inner.received.clone(),
            store.clone(),
            record.tenant.clone(),
            record.id,
            record.name.clone(),
            wake.clone(),
            self.inner.bus.clone(),
        ));
        let handle = match self.inner.engine.start(spec, events_tx, inbox).await {
            Ok(handle) => handle,
            Err(e) => {
                warn!(session = %record.name, error = %e, "the session could not start");
                let stopped =
                    SessionState { status: SessionStatus::Stopped, reason: Some(e.to_string()), ..starting() };
                store.set_session_state(record.id, &stopped, now).await.context("save session state")?;
                return Ok(());
            }
        };
        let rt = Arc::new(Runtime {
            id: record.id,
            tenant: record.tenant.clone(),
            name: record.name.clone(),
            live: watch::Sender::new(Live { status: SessionStatus::Starting, qr: None }),
            wake,
            handle,
            cancel: CancellationToken::new(),
            media: self.inner.media.clone(),
            presence: crate::presence::Presences::default(),
            campaign_wake: self.inner.campaign_wake.clone(),
            bus: self.inner.bus.clone(),
            qr_bus: self.inner.qr_bus.clone(),
            settings: Mutex::new(record.settings.clone()),
            tasks: Mutex::new(Vec::new()),
            hold: Mutex::new(None),
        });
        let events = tokio::spawn(crate::session_events::run_events(rt.clone(), store.clone(), events_rx));
        let dispatcher = tokio::spawn(dispatch::run(
            rt.clone(),
            store.clone(),
            self.inner.media.clone(),
            self.inner.dispatch.clone(),
        ));
        rt.tasks.lock().unwrap_or_else(|p| p.into_inner()).extend([dispatcher, events]);
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner()).insert(record.id, rt);
        Ok(())
    }

    async fn stop(&self, id: SessionId) {
        self.inner.launched.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        let Some(rt) = self.inner.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) else { return };
        rt.cancel.cancel();
        let tasks = std::mem::take(&mut *rt.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            if let Err(e) = task.await {
                error!(session = %rt.name, error = %e, "a session task ended abnormally");
            }
        }
        rt.handle.stop().await;
        debug!(session = %rt.name, "stopped");
    }

    /// The settings of a session running here.
    pub(crate) fn settings_of(&self, id: SessionId) -> Option<SessionSettings> {
        self.runtime(id).map(|rt| rt.settings())
    }

    /// Told whenever events are written.
    pub fn event_bus(&self) -> EventBus {
        self.inner.bus.clone()
    }

    /// The clock the dispatchers (and the campaign feeder's progress) go by.
    pub(crate) fn clock(&self) -> crate::clock::Clock {
        self.inner.dispatch.clock.clone()
    }

    /// Where sessions show their QR codes to the live streams.
    pub(crate) fn qr_bus(&self) -> QrBus {
        self.inner.qr_bus.clone()
    }

    /// The campaign feeder's wake-up, shared with every dispatcher.
    pub(crate) fn campaign_wake(&self) -> Arc<Notify> {
        self.inner.campaign_wake.clone()
    }

    pub(crate) fn runtime(&self, id: SessionId) -> Option<Arc<Runtime>> {
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    fn remember(&self, record: &SessionRecord) {
        self.lock_ids().insert((record.tenant.clone(), record.name.clone()), record.id);
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, SessionName), SessionId>> {
        self.inner.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session's state while its engine session starts.
fn starting() -> SessionState {
    SessionState { status: SessionStatus::Starting, reason: None, phone: None, push_name: None, last_seen_at: None }
}

pub(crate) fn engine_error(e: EngineError) -> Error {
    match e {
        EngineError::Unavailable(why) => Error::Unavailable(why),
        EngineError::NotConnected => Error::Unavailable("the session is not connected".into()),
        EngineError::Refused { code, text } => Error::Refused { code, message: text },
        EngineError::Failed(why) => Error::Internal(anyhow::anyhow!(why)),
    }
}
