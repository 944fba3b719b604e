//! The HTTP server: hyper's HTTP/1 under limits that hold when clients are slow or
//! hostile.
//!
//! - A connection is accepted only when one of `max_connections` slots is free; beyond
//!   that it waits, unaccepted, in the kernel's backlog, costing wagate nothing.
//! - A request's head must be in within `header_read_timeout` of the server starting to
//!   wait for it: from the connection's start, or from the end of the previous answer on
//!   a kept-alive connection, so an idle connection is closed after that long too
//!   (hyper's own timer).
//! - A request body or an answer that makes no progress for `idle_timeout` ends the
//!   connection ([`body`], [`conn`]).
//! - A request head is read into at most [`MAX_HEAD`] bytes.
//! - The refusals hyper gives by itself before any route runs (a malformed head, a URL or
//!   head too long) leave as problem+json like every other refusal ([`conn`]).

mod body;
mod conn;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;
use tracing::{debug, warn};

use self::body::Patient;
use self::conn::Guarded;

/// How much the server lets clients take; `[http]` in the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 2048,
        }
    }
}

/// The largest request head (request line and headers) read. URLs longer than hyper's
/// own limit (65,534 bytes) are refused with 414 before this is reached; a larger head
/// is refused with 431.
pub const MAX_HEAD: usize = 128 * 1024;

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets
/// each connection finish its request in flight, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).max_buf_size(MAX_HEAD);
    // Connections watch `stop`; each holds a `closed` receiver until it ends.
    let (stop, _) = watch::channel(());
    let (closed_tx, closed) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let idle = limits.idle_timeout;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            app.clone().oneshot(request.map(|body| Patient::new(body, idle)))
        });
        let connection = builder.serve_connection(TokioIo::new(Guarded::new(stream, idle)), service).with_upgrades();
        let mut stopping = stop.subscribe();
        let closed = closed.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let mut stop_asked = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            debug!(error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stopping.changed(), if !stop_asked => {
                        stop_asked = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(slot);
            drop(closed);
        });
    }
    drop(listener);
    // Dropping the sender wakes every connection's `changed()` with an error.
    drop(stop);
    drop(closed);
    closed_tx.closed().await;
    Ok(())
}

/// Errors of `accept` that concern one connection go by; running out of file
/// descriptors or memory waits a little instead of spinning.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
