//! Live event streams (WebSocket, SSE): each client gets a task that reads the event
//! log after the client's last id and hands the events over through a bounded channel.
//! The log is the source, so a client resuming from its last id misses nothing, and a
//! client that stops reading only fills its own channel: it never holds up the gateway
//! or other clients, and is dropped with a reason.
//!
//! Beside the log, streams carry what must not be stored: a session's new QR code
//! (`session.qr`), a short-lived login secret. It reaches the streams that are open
//! when it is shown, through [`QrBus`], and has no id.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, error};
use wagate_store::{EventFilter, EventRecord};
use wagate_types::{SessionId, SessionName, TenantId};

use crate::events::{SESSION_QR, filter_allows};
use crate::{Gateway, Result};

/// Events a client may be behind in its channel before it counts as not reading.
pub const BUFFER: usize = 1_000;

/// How long a full channel may stay full before the client is dropped.
pub const SLOW_AFTER: Duration = Duration::from_secs(5);

/// QR codes a stream may fall behind on; older ones are skipped (a newer code replaces them).
const QR_BACKLOG: usize = 64;

/// What a stream carries.
#[derive(Debug, Clone)]
pub enum StreamItem {
    Event(EventRecord),
    /// A session's new QR code; not in the log, so without an id.
    Qr(Arc<QrShown>),
    /// The stream ends: the client did not keep up (or the gateway stops).
    Dropped(String),
}

/// A QR code a session shows, told to the open streams of its tenant.
#[derive(Debug)]
pub struct QrShown {
    pub tenant: TenantId,
    pub session_id: SessionId,
    pub session: SessionName,
    pub code: String,
    pub expires_at: OffsetDateTime,
    pub at: OffsetDateTime,
}

impl QrShown {
    /// The stream's document: the shape of a logged event, with `"id": null`.
    pub fn payload(&self) -> Value {
        json!({
            "id": null,
            "type": SESSION_QR,
            "session": self.session.as_str(),
            "created_at": crate::content::rfc3339(self.at),
            "data": { "qr": self.code, "expires_at": crate::content::rfc3339(self.expires_at) },
        })
    }
}

/// Carries QR codes from the sessions' event tasks to the open streams, in memory only.
#[derive(Clone)]
pub struct QrBus(broadcast::Sender<Arc<QrShown>>);

impl Default for QrBus {
    fn default() -> Self {
        Self(broadcast::Sender::new(QR_BACKLOG))
    }
}

impl QrBus {
    /// Tells the open streams; nobody listening is fine.
    pub fn shown(&self, qr: QrShown) {
        let _ = self.0.send(Arc::new(qr));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<QrShown>> {
        self.0.subscribe()
    }
}

impl Gateway {
    /// Starts a stream of the tenant's events after `after` (filtered by `kinds` and
    /// `session`), with the QR codes its sessions show from now on when `kinds` lets
    /// `session.qr` through; the receiver ends when the client is dropped or the
    /// gateway stops.
    pub async fn event_stream(
        &self,
        tenant: &TenantId,
        session: Option<&SessionName>,
        kinds: Vec<String>,
        after: u64,
    ) -> Result<mpsc::Receiver<StreamItem>> {
        let session_id = match session {
            Some(name) => Some(self.sessions.id_of(tenant, name).await?),
            None => None,
        };
        let (tx, rx) = mpsc::channel(BUFFER);
        let store = self.store.clone();
        let mut written = self.sessions.event_bus().subscribe();
        let mut qrs = self.sessions.qr_bus().subscribe();
        let tenant = tenant.clone();
        let wants_qr = filter_allows(&kinds, SESSION_QR);
        let qr_tenant = tenant.clone();
        let visible = move |qr: &QrShown| {
            wants_qr
                && qr.tenant == qr_tenant
                && session_id.is_none_or(|id| id == qr.session_id)
                && qr.expires_at > OffsetDateTime::now_utc()
        };
        tokio::spawn(async move {
            let mut filter = EventFilter { after, session_id, kinds, limit: 200 };
            loop {
                written.mark_unchanged();
                let events = match store.events(&tenant, &filter).await {
                    Ok(events) => events,
                    Err(e) => {
                        error!(error = %e, "could not read events for a stream");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if events.is_empty() {
                    tokio::select! {
                        changed = written.changed() => if changed.is_err() { return },
                        qr = qrs.recv() => match qr {
                            Ok(qr) if visible(&qr) => if !hand_over(&tx, StreamItem::Qr(qr)).await { return },
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                        () = tx.closed() => return,
                    }
                    continue;
                }
                for event in events {
                    filter.after = event.id;
                    if !hand_over(&tx, StreamItem::Event(event)).await {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// Gives the client one item; `false` when the stream is over (the client left, or did
/// not read for [`SLOW_AFTER`] and is dropped).
async fn hand_over(tx: &mpsc::Sender<StreamItem>, item: StreamItem) -> bool {
    match tx.send_timeout(item, SLOW_AFTER).await {
        Ok(()) => true,
        Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
            let reason = format!("the client did not read {BUFFER} events for {} s", SLOW_AFTER.as_secs());
            debug!(%reason, "dropping a stream client");
            let _ = tx.try_send(StreamItem::Dropped(reason));
            false
        }
        Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
    }
}
