//! A request body that gives up when the client stops sending it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

/// `Incoming`, failing once no byte came for `patience` while the handler waits for
/// more. Without it a client that sends a body slowly, or stops half-way, would hold
/// its connection (and the handler) for ever.
pub(super) struct Patient {
    inner: Incoming,
    patience: Duration,
    /// Armed while the handler waits for data; disarmed by every frame.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Patient {
    pub(super) fn new(inner: Incoming, patience: Duration) -> Self {
        Self { inner, patience, timer: None }
    }
}

/// The body's error once the client stalled.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no part of the request body for {0:?}")]
pub(super) struct Stalled(Duration);

impl Body for Patient {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let patience = this.patience;
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(patience)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Stalled(patience).into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
