//! Live event streams (WebSocket, SSE): each client gets a task that reads the event
//! log after the client's last id and hands the events over through a bounded channel.
//! The log is the source, so a client resuming from its last id misses nothing, and a
//! client that stops reading only fills its own channel: it never holds up the gateway
//! or other clients, and is dropped with a reason.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, error};
use wagate_store::{EventFilter, EventRecord};
use wagate_types::{SessionName, TenantId};

use crate::{Gateway, Result};

/// Events a client may be behind in its channel before it counts as not reading.
pub const BUFFER: usize = 1_000;

/// How long a full channel may stay full before the client is dropped.
pub const SLOW_AFTER: Duration = Duration::from_secs(5);

/// What a stream carries.
#[derive(Debug, Clone)]
pub enum StreamItem {
    Event(EventRecord),
    /// The stream ends: the client did not keep up (or the gateway stops).
    Dropped(String),
}

impl Gateway {
    /// Starts a stream of the tenant's events after `after` (filtered by `kinds` and
    /// `session`); the receiver ends when the client is dropped or the gateway stops.
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
        let tenant = tenant.clone();
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
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                        () = tx.closed() => return,
                    }
                    continue;
                }
                for event in events {
                    filter.after = event.id;
                    match tx.send_timeout(StreamItem::Event(event), SLOW_AFTER).await {
                        Ok(()) => {}
                        Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                            let reason =
                                format!("the client did not read {BUFFER} events for {} s", SLOW_AFTER.as_secs());
                            debug!(%reason, "dropping a stream client");
                            let _ = tx.try_send(StreamItem::Dropped(reason));
                            return;
                        }
                        Err(mpsc::error::SendTimeoutError::Closed(_)) => return,
                    }
                }
            }
        });
        Ok(rx)
    }
}
