//! Received messages go to the database before WhatsApp hears they arrived: the engine
//! commits them through a session's [`SessionInbox`] and acknowledges only after that.
//! A reaction, vote, edit or revoke is stored as a message of its own and, in the same
//! transaction, applied to the message it is about; the events of both are written in
//! that transaction too.
//!
//! Sessions commit through one [`ReceivedWriter`]: whatever arrived while its previous
//! commit ran goes in one transaction, so a busy gateway pays one disk write for many
//! messages rather than one each.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, error};
use wagate_engine::{EngineError, Inbox, IncomingMessage, Receipt};
use wagate_store::{NewInbound, ReceivedBatch, Store};
use wagate_types::{SessionId, SessionName, TenantId};

use crate::accept::gather;
use crate::events::{ReceivedRules, status_events};
use crate::received::row_of;
use crate::webhooks::EventBus;

/// Most messages one commit carries.
const MAX_BATCH: usize = 512;

/// Commits waiting for the writer; more make sessions wait (backpressure).
const QUEUE: usize = 1024;

/// What one session hands the writer.
struct Job {
    tenant: TenantId,
    session: SessionId,
    rows: Vec<NewInbound>,
    now: OffsetDateTime,
    reply: oneshot::Sender<Result<Vec<bool>, String>>,
}

/// The group-commit writer of received messages; its task ends when the last handle
/// is dropped.
#[derive(Clone)]
pub struct ReceivedWriter {
    jobs: mpsc::Sender<Job>,
}

impl ReceivedWriter {
    pub fn spawn(store: Store) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        Self { jobs }
    }

    /// Stores `rows` for `session`; for each, whether it was stored now (false: a copy
    /// of a message already stored).
    async fn commit(
        &self,
        tenant: &TenantId,
        session: SessionId,
        rows: Vec<NewInbound>,
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, String> {
        let (reply, answer) = oneshot::channel();
        let job = Job { tenant: tenant.clone(), session, rows, now, reply };
        self.jobs.send(job).await.map_err(|_| "the gateway is stopping".to_owned())?;
        answer.await.unwrap_or_else(|_| Err("the gateway is stopping".to_owned()))
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let jobs = gather(&mut rx, first, MAX_BATCH, |job| job.rows.len());
        let outcomes = {
            let batches: Vec<ReceivedBatch> = jobs
                .iter()
                .map(|j| ReceivedBatch { tenant: &j.tenant, session: j.session, messages: &j.rows, now: j.now })
                .collect();
            store.commit_received_together(&batches, &ReceivedRules).await
        };
        match outcomes {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome.map_err(|e| e.to_string()));
                }
            }
            Err(e) => {
                let e = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One session's [`Inbox`]: commits what the session receives to the store.
pub struct SessionInbox {
    writer: ReceivedWriter,
    store: Store,
    tenant: TenantId,
    session: SessionId,
    name: SessionName,
    /// The session's dispatcher, woken when a commit may have queued replies.
    wake: Arc<Notify>,
    /// Told that events were written.
    bus: EventBus,
}

impl SessionInbox {
    pub fn new(
        writer: ReceivedWriter,
        store: Store,
        tenant: TenantId,
        session: SessionId,
        name: SessionName,
        wake: Arc<Notify>,
        bus: EventBus,
    ) -> Self {
        Self { writer, store, tenant, session, name, wake, bus }
    }
}

#[async_trait]
impl Inbox for SessionInbox {
    #[tracing::instrument(skip_all, fields(session = %self.name, count = messages.len()))]
    async fn commit(&self, messages: &[IncomingMessage]) -> Result<(), EngineError> {
        let rows: Vec<NewInbound> = messages.iter().map(row_of).collect();
        let now = OffsetDateTime::now_utc();
        match self.writer.commit(&self.tenant, self.session, rows, now).await {
            Ok(stored) => {
                let new = stored.iter().filter(|&&s| s).count();
                debug!(new, repeated = stored.len() - new, "received messages committed");
                if new > 0 {
                    self.wake.notify_one();
                    self.bus.written();
                }
                Ok(())
            }
            Err(e) => {
                // The engine does not acknowledge them, so WhatsApp delivers them again.
                error!(error = %e, "could not commit received messages");
                Err(EngineError::Failed(format!("could not store received messages: {e}")))
            }
        }
    }

    #[tracing::instrument(skip_all, fields(session = %self.name, kind = ?receipt.kind))]
    async fn receipt(&self, receipt: &Receipt) -> Result<(), EngineError> {
        let changed = self
            .store
            .apply_receipt_telling(self.session, &receipt.wa_ids, receipt.kind, receipt.at, &status_events)
            .await
            .map_err(|e| {
                error!(error = %e, "could not commit a receipt");
                EngineError::Failed(format!("could not store a receipt: {e}"))
            })?;
        if !changed.is_empty() {
            self.bus.written();
        }
        Ok(())
    }
}
