//! Live events: `GET /api/v1/events/stream` (Server-Sent Events) and
//! `GET /api/v1/events/ws` (WebSocket). Both start after `since` (or the SSE
//! `Last-Event-ID`), or from now; both resume without a gap; both send heartbeats; a
//! client that stops reading is dropped with a reason while the others go on.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Extension, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::debug;
use utoipa::IntoParams;
use wagate_core::Gateway;
use wagate_core::events::SESSION_QR;
use wagate_core::streams::{SLOW_AFTER, StreamItem};
use wagate_core::webhooks::payload;
use wagate_types::TenantId;

use super::events::{Carrier, event_types};
use super::params::session_name;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Query;

/// How often an idle stream says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Start after this event id (the last one you handled); from now when left out.
    since: Option<u64>,
    /// Only this session's events.
    session: Option<String>,
    /// Comma-separated types; `message.*` for every `message.` type; all when left out.
    /// Streams also carry `session.qr` (a session's new QR code, without an id), which
    /// is never stored.
    types: Option<String>,
}

async fn open(
    gw: &Gateway,
    tenant: &TenantId,
    params: StreamParams,
    last_id: Option<u64>,
) -> ApiResult<mpsc::Receiver<StreamItem>> {
    let kinds = event_types(params.types.as_deref(), Carrier::Stream)?;
    let session = params.session.as_deref().map(|s| session_name(Some(s))).transpose()?;
    let after = match last_id.or(params.since) {
        Some(id) => id,
        None => gw.store.last_event_id(tenant).await.map_err(|e| ApiError::from(wagate_core::Error::from(e)))?,
    };
    Ok(gw.event_stream(tenant, session.as_ref(), kinds, after).await?)
}

/// Events as Server-Sent Events: each with its id (resume with `Last-Event-ID`), its
/// type as the SSE event name and the event JSON as data; a comment every 15 s.
/// `session.qr` comes without an id (it is not in the log), so it never moves
/// `Last-Event-ID`.
#[utoipa::path(get, operation_id = "stream_events", path = "/api/v1/events/stream", tag = "events", params(StreamParams),
    responses((status = 200, description = "An event stream (text/event-stream)"), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn sse(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let last_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid_field("Last-Event-ID", "must be an event id"))?,
        ),
        None => None,
    };
    let rx = open(&gw, &caller.tenant, params, last_id).await?;
    let stream = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let event = match rx.recv().await? {
            StreamItem::Event(event) => {
                SseEvent::default().id(event.id.to_string()).event(event.kind.clone()).data(payload(&event).to_string())
            }
            // No `id:` line: the client's Last-Event-ID stays that of the last logged event.
            StreamItem::Qr(qr) => SseEvent::default().event(SESSION_QR).data(qr.payload().to_string()),
            StreamItem::Dropped(reason) => return Some((Ok(SseEvent::default().event("dropped").data(reason)), None)),
        };
        Some((Ok(event), Some(rx)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// Events over a WebSocket: each a text message with the event JSON (`"id": null` for
/// `session.qr`); pings every 15 s.
/// A client that does not take a message within 5 s is dropped (close code 1008 and
/// the reason, when the connection still carries it).
#[utoipa::path(get, operation_id = "stream_events_ws", path = "/api/v1/events/ws", tag = "events", params(StreamParams),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn ws(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<StreamParams>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let rx = open(&gw, &caller.tenant, params, None).await?;
    Ok(upgrade.on_upgrade(move |socket| serve_ws(socket, rx)).into_response())
}

async fn serve_ws(mut socket: WebSocket, mut rx: mpsc::Receiver<StreamItem>) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        let message = tokio::select! {
            item = rx.recv() => match item {
                Some(StreamItem::Event(event)) => Message::Text(payload(&event).to_string().into()),
                Some(StreamItem::Qr(qr)) => Message::Text(qr.payload().to_string().into()),
                Some(StreamItem::Dropped(reason)) => return close(socket, &reason).await,
                None => return close(socket, "the stream ended").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            _ = heartbeat.tick() => Message::Ping(Vec::new().into()),
        };
        match tokio::time::timeout(SLOW_AFTER, socket.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                debug!("dropping a WebSocket client that does not read");
                return;
            }
        }
    }
}

async fn close(mut socket: WebSocket, reason: &str) {
    let frame = CloseFrame { code: 1008, reason: reason.chars().take(120).collect::<String>().into() };
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(Some(frame)))).await;
}
