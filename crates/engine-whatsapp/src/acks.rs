//! Sends waiting for the server's acknowledgement. whatsapp-rust returns from a send
//! once the stanza is written; the server's `<ack>` (or nack) arrives as an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tokio::sync::oneshot;

/// What the server said about a sent message: when it took it, or the nack code.
pub(crate) type AckOutcome = Result<Option<OffsetDateTime>, String>;

#[derive(Default)]
pub(crate) struct Acks {
    waiting: Mutex<HashMap<String, oneshot::Sender<AckOutcome>>>,
}

impl Acks {
    /// Starts waiting for the ack of message `id`; the wait ends when the returned
    /// [`AckWait`] is dropped.
    pub(crate) fn expect(self: &Arc<Self>, id: &str) -> AckWait {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.to_owned(), tx);
        AckWait { acks: self.clone(), id: id.to_owned(), rx: Some(rx) }
    }

    /// Hands the server's answer to the send waiting for it, if any.
    pub(crate) fn resolve(&self, id: &str, outcome: AckOutcome) {
        if let Some(tx) = self.lock().remove(id) {
            let _ = tx.send(outcome);
        }
    }

    /// The connection is gone: no ack will come for anything still waiting.
    pub(crate) fn abandon_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<AckOutcome>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) struct AckWait {
    acks: Arc<Acks>,
    id: String,
    rx: Option<oneshot::Receiver<AckOutcome>>,
}

impl AckWait {
    /// The server's answer; `None` if the connection went away first.
    pub(crate) async fn outcome(&mut self) -> Option<AckOutcome> {
        self.rx.as_mut()?.await.ok()
    }
}

impl Drop for AckWait {
    fn drop(&mut self) {
        self.acks.lock().remove(&self.id);
    }
}
