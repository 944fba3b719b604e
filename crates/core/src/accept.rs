//! Durable accepts with group commits. Every accepted message is in the database
//! before its client hears 202; to make that fast, one writer task stores whatever
//! requests arrived while the previous commit ran, in one transaction.

use std::sync::Arc;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::error;
use wagate_store::{AcceptOutcome, NewMessage, Store};
use wagate_types::SessionId;

use crate::{Error, Result};

/// Most messages one commit carries.
const MAX_BATCH: usize = 512;
/// Requests waiting for the writer; more make callers wait (backpressure).
const QUEUE: usize = 16 * 1024;

type Reply = oneshot::Sender<Result<AcceptOutcome, Arc<anyhow::Error>>>;

pub struct Accepter {
    jobs: mpsc::Sender<(NewMessage, Reply)>,
    stop: CancellationToken,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Accepter {
    /// Starts the writer. `on_created` learns which sessions got new messages, after
    /// they are committed.
    pub fn spawn(store: Store, on_created: Arc<dyn Fn(SessionId) + Send + Sync>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let writer = tokio::spawn(write_loop(store, rx, stop.clone(), on_created));
        Self { jobs, stop, writer: std::sync::Mutex::new(Some(writer)) }
    }

    /// Stores the message durably (or finds the earlier one with the same idempotency key).
    pub async fn accept(&self, message: NewMessage) -> Result<AcceptOutcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((message, reply)).await.map_err(|_| Error::ShuttingDown)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(match wagate_store::fault_in((*e).as_ref()) {
                Some(fault) => Error::Storage(fault),
                None => Error::Internal(anyhow!("storing the message failed: {e:#}")),
            }),
            Err(_) => Err(Error::ShuttingDown),
        }
    }

    /// Stops taking messages, stores those already handed over, and waits for the writer.
    pub async fn close(&self) {
        self.stop.cancel();
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer
            && let Err(e) = writer.await
        {
            error!(error = %e, "message writer ended abnormally");
        }
    }
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<(NewMessage, Reply)>,
    stop: CancellationToken,
    on_created: Arc<dyn Fn(SessionId) + Send + Sync>,
) {
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            () = stop.cancelled() => {
                // No new requests; what is already queued is still stored below.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { return };
        commit(&store, gather(&mut rx, first, MAX_BATCH, |_| 1), on_created.as_ref()).await;
    }
}

/// A group commit's jobs: `first`, and those already waiting behind it while their
/// `weight`s (messages, say) add up to less than `max`.
pub(crate) fn gather<T>(rx: &mut mpsc::Receiver<T>, first: T, max: usize, weight: impl Fn(&T) -> usize) -> Vec<T> {
    let mut total = weight(&first);
    let mut jobs = vec![first];
    while total < max {
        match rx.try_recv() {
            Ok(job) => {
                total += weight(&job);
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    jobs
}

async fn commit(store: &Store, batch: Vec<(NewMessage, Reply)>, on_created: &(dyn Fn(SessionId) + Send + Sync)) {
    let (messages, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    match store.accept_messages(&messages).await {
        Ok(outcomes) => {
            let mut woken: Vec<SessionId> = Vec::new();
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                if let AcceptOutcome::Created(record) = &outcome
                    && !woken.contains(&record.session_id)
                {
                    woken.push(record.session_id);
                }
                // The client may have gone; the message is stored either way.
                let _ = reply.send(Ok(outcome));
            }
            for session in woken {
                on_created(session);
            }
        }
        Err(e) => {
            error!(error = %e, count = messages.len(), "could not store a batch of messages");
            let e = Arc::new(anyhow::Error::new(e));
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
