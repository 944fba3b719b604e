//! The deliverer: a task per enabled endpoint works through the events after the
//! endpoint's cursor, in order, one at a time, over a kept-alive connection. Deliveries
//! that succeed are recorded together (their attempts and the cursor past them, in one
//! transaction) within [`RECORD_WITHIN`], and always before a failure after them, so a
//! crash can only make it deliver again what it delivered last, under the same
//! `webhook-id`. A graceful stop records everything delivered.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngExt;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use wagate_store::{AttemptLog, EventRecord, NewEvent, Store, WebhookRecord};

use super::link::{self, Poster};
use super::retry::{AfterFailure, DEAD_LETTER_AFTER, DISABLE_AFTER, after_failure};
use super::{EventBus, WebhookConfig, delivery_id, payload, signatures};
use crate::clock::Clock;
use crate::events::WEBHOOK_DISABLED;
use crate::media::AllowList;

/// How an idle endpoint task looks for events when no wake-up came.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// Events read from the log at a time, and the most deliveries recorded together.
const PAGE: u32 = 200;

/// The longest a delivery waits to be recorded. A crash in that time makes the events
/// go again, under the same `webhook-id`; recording every delivery on its own would
/// cost a disk write each.
const RECORD_WITHIN: Duration = Duration::from_millis(250);

/// The deliverer: a task per enabled endpoint, kept in step with the stored ones.
pub struct Webhooks {
    store: Store,
    allow: Arc<AllowList>,
    tls: TlsConnector,
    timeout: Duration,
    clock: Clock,
    bus: EventBus,
    change: Arc<Notify>,
    cancel: CancellationToken,
    tasks: Mutex<Option<JoinHandle<()>>>,
}

impl Webhooks {
    pub fn spawn(store: Store, config: WebhookConfig, clock: Clock, bus: EventBus) -> anyhow::Result<Arc<Self>> {
        let this = Arc::new(Self {
            store,
            allow: Arc::new(config.allow),
            tls: crate::media::fetch::tls_connector()?,
            timeout: config.timeout,
            clock,
            bus,
            change: Arc::new(Notify::new()),
            cancel: CancellationToken::new(),
            tasks: Mutex::new(None),
        });
        let supervisor = tokio::spawn(supervise(this.clone()));
        *this.tasks.lock().unwrap_or_else(|p| p.into_inner()) = Some(supervisor);
        Ok(this)
    }

    /// Endpoints were created, changed or deleted.
    pub fn changed(&self) {
        self.change.notify_one();
    }

    pub async fn stop(&self) {
        self.cancel.cancel();
        let task = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Refuses a URL whose host does not resolve, or resolves to an address the
    /// allow-list does not open; answers why.
    pub(super) async fn check_address(&self, url: &str) -> Result<(), String> {
        link::check_address(url, &self.allow, self.timeout).await.map_err(|e| e.to_string())
    }

    /// A poster with no connection open yet.
    pub(super) fn poster(&self) -> Poster {
        Poster::new(self.allow.clone(), self.tls.clone(), self.timeout)
    }

    /// One attempt to deliver `event` to `hook` (`attempt` 0 for a redelivery on
    /// request); never fails, the log says how it went.
    pub(super) async fn deliver(
        &self,
        poster: &mut Poster,
        hook: &WebhookRecord,
        event: &EventRecord,
        attempt: u32,
    ) -> AttemptLog {
        let body = Bytes::from(payload(event).to_string());
        let id = delivery_id(event.id);
        let now = self.clock.now();
        let timestamp = now.unix_timestamp();
        let (standard, legacy) = signatures(&hook.secret, &id, timestamp, &body);
        let mut headers: Vec<(String, String)> = hook.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        headers.extend([
            ("content-type".to_owned(), "application/json".to_owned()),
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), standard),
            ("x-webhook-signature".to_owned(), legacy),
        ]);
        let started = Instant::now();
        let answer = poster.post(&hook.url, &headers, body).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status_code, error) = match answer {
            Ok(code) if (200..300).contains(&code) => (Some(code), None),
            Ok(code) => (Some(code), Some(format!("the receiver answered {code}"))),
            Err(e) => (None, Some(e.to_string())),
        };
        AttemptLog { event_id: event.id, attempt, status_code, latency_ms, error, at: now }
    }
}

/// Keeps one task per enabled endpoint. A task whose endpoint a client changed is told
/// to stop, records what it delivered and ends before the new one starts.
async fn supervise(webhooks: Arc<Webhooks>) {
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        match webhooks.store.enabled_webhooks().await {
            Ok(hooks) => {
                let stale: Vec<String> = running
                    .iter()
                    .filter(|(id, run)| {
                        run.task.is_finished() || !hooks.iter().any(|h| &h.id == *id && h.updated_at == run.updated)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in stale {
                    if let Some(run) = running.remove(&id) {
                        run.stop(webhooks.timeout).await;
                    }
                }
                for hook in hooks {
                    if let Entry::Vacant(slot) = running.entry(hook.id.clone()) {
                        let stop = webhooks.cancel.child_token();
                        let updated = hook.updated_at;
                        let task = tokio::spawn(run_endpoint(webhooks.clone(), hook, stop.clone()));
                        slot.insert(Running { updated, stop, task });
                    }
                }
            }
            Err(e) => error!(error = %e, "could not read the webhooks"),
        }
        tokio::select! {
            () = webhooks.change.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
            () = webhooks.cancel.cancelled() => break,
        }
    }
    for (_, run) in running {
        run.stop(webhooks.timeout).await;
    }
}

/// An endpoint's task.
struct Running {
    updated: OffsetDateTime,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Tells the task to stop and waits for it: at most a delivery in flight and a
    /// commit, then it is aborted.
    async fn stop(self, timeout: Duration) {
        self.stop.cancel();
        let mut task = self.task;
        if tokio::time::timeout(timeout + Duration::from_secs(2), &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Deliveries made but not recorded yet.
#[derive(Default)]
struct Delivered {
    logs: Vec<AttemptLog>,
    /// When they must be recorded at the latest.
    due: Option<Instant>,
}

impl Delivered {
    fn push(&mut self, log: AttemptLog) {
        self.due.get_or_insert_with(|| Instant::now() + RECORD_WITHIN);
        self.logs.push(log);
    }

    fn is_due(&self) -> bool {
        self.logs.len() >= PAGE as usize || self.due.is_some_and(|due| Instant::now() >= due)
    }

    /// Records them; on failure they stay for the next try.
    async fn record(&mut self, store: &Store, hook: &WebhookRecord) -> bool {
        if self.logs.is_empty() {
            return true;
        }
        match store.webhook_delivered(hook, &self.logs).await {
            Ok(()) => {
                self.logs.clear();
                self.due = None;
                true
            }
            Err(e) => {
                error!(webhook = %hook.id, error = %e, "could not record deliveries");
                false
            }
        }
    }
}

/// Delivers the events after the endpoint's cursor, in order, until told to stop (the
/// endpoint was changed, and the supervisor starts a task on the changed record, or the
/// gateway stops).
async fn run_endpoint(webhooks: Arc<Webhooks>, mut hook: WebhookRecord, stop: CancellationToken) {
    let mut written = webhooks.bus.subscribe();
    let mut poster = webhooks.poster();
    let mut delivered = Delivered::default();
    while !stop.is_cancelled() {
        let now = webhooks.clock.now();
        if hook.next_attempt_at > now {
            tokio::select! {
                () = webhooks.clock.sleep_until(hook.next_attempt_at) => {}
                () = stop.cancelled() => break,
            }
        }
        written.mark_unchanged();
        let events = match webhooks.store.webhook_events(&hook, PAGE).await {
            Ok(events) => events,
            Err(e) => {
                error!(webhook = %hook.id, error = %e, "could not read events to deliver");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if events.is_empty() {
            // Deliveries not recorded yet are, once no new event comes in time.
            let wait = delivered.due.map_or(IDLE_POLL, |due| due.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = written.changed() => {}
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => break,
            }
            if delivered.is_due() {
                delivered.record(&webhooks.store, &hook).await;
            }
            continue;
        }
        let mut failed = None;
        for event in &events {
            if stop.is_cancelled() {
                break;
            }
            let log = webhooks.deliver(&mut poster, &hook, event, hook.head_attempts + 1).await;
            if log.error.is_some() {
                failed = Some(log);
                break;
            }
            hook.cursor = event.id;
            hook.head_attempts = 0;
            hook.failing_since = None;
            delivered.push(log);
        }
        // The successes are recorded before the failure after them.
        if (failed.is_some() || delivered.is_due()) && !delivered.record(&webhooks.store, &hook).await {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Some(log) = failed
            && !failed_once(&webhooks, &mut hook, log).await
        {
            return;
        }
    }
    delivered.record(&webhooks.store, &hook).await;
}

/// Records a failed attempt at the event after the cursor and what follows it (see
/// [`after_failure`]); false when the endpoint was disabled for it. Every failure is
/// logged with its reason: the endpoint, the event, the status or error, never the
/// URL, the secret or a header.
async fn failed_once(webhooks: &Webhooks, hook: &mut WebhookRecord, log: AttemptLog) -> bool {
    let next = after_failure(hook, log.at, rand::rng().random_range(0.0..=1.0));
    let reason = log.error.as_deref().unwrap_or("no reason");
    let retry_in = match next {
        AfterFailure::Retry(at) => Duration::try_from(at - log.at).unwrap_or(Duration::ZERO).as_secs_f32(),
        AfterFailure::DeadLetter | AfterFailure::Disable => 0.0,
    };
    warn!(
        webhook = %hook.id, event = log.event_id, attempt = log.attempt, status = ?log.status_code, %reason,
        retry_in_s = retry_in, "a webhook delivery failed"
    );
    let result = match next {
        AfterFailure::Disable => {
            disable(webhooks, hook, &log).await;
            return false;
        }
        AfterFailure::Retry(retry_at) => {
            hook.head_attempts += 1;
            hook.head_failing_since.get_or_insert(log.at);
            hook.next_attempt_at = retry_at;
            webhooks.store.webhook_failed(hook, &log, retry_at).await
        }
        AfterFailure::DeadLetter => {
            warn!(
                webhook = %hook.id, event = log.event_id, attempts = log.attempt,
                "giving up on an event after {} hours of failures; it is in the dead letters",
                DEAD_LETTER_AFTER.as_secs() / 3600
            );
            hook.cursor = log.event_id;
            hook.head_attempts = 0;
            hook.head_failing_since = None;
            hook.next_attempt_at = log.at;
            webhooks.store.webhook_dead_letter(hook, &log).await
        }
    };
    hook.failing_since.get_or_insert(log.at);
    if let Err(e) = result {
        error!(webhook = %hook.id, error = %e, "could not record a failed delivery");
    }
    true
}

async fn disable(webhooks: &Webhooks, hook: &WebhookRecord, log: &AttemptLog) {
    let reason = format!(
        "no delivery succeeded for {} days; last error: {}",
        DISABLE_AFTER.as_secs() / 86_400,
        log.error.as_deref().unwrap_or("none")
    );
    warn!(webhook = %hook.id, %reason, "disabling a webhook");
    let event = NewEvent {
        kind: WEBHOOK_DISABLED.to_owned(),
        session: None,
        data: json!({ "webhook": hook.id, "url": hook.url, "reason": reason }),
    };
    if let Err(e) = webhooks.store.webhook_failed(hook, log, log.at).await {
        error!(webhook = %hook.id, error = %e, "could not record a failed delivery");
    }
    if let Err(e) = webhooks.store.disable_webhook(hook, &reason, &event, log.at).await {
        error!(webhook = %hook.id, error = %e, "could not disable a webhook");
    }
    webhooks.bus.written();
}
